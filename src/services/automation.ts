import { createHash } from 'node:crypto';
import { appCoverage, usageAt } from '../analysis/features.js';
import { assessPeers } from '../analysis/peer-groups.js';
import { riskScore, ruleSignals } from '../analysis/risk.js';
import { crossValidate, type ShadowDecision } from '../analysis/shadow.js';
import { findSodConflicts } from '../analysis/sod.js';
import { type AnalysisThresholds, defaultThresholds } from '../analysis/thresholds.js';
import type { Config } from '../config.js';
import type { Entitlement, Signal, User } from '../domain/index.js';
import type { RecordEvent } from '../policy/audit.js';
import {
  type AutomationMode,
  type AutomationPolicy,
  automaticDecision,
  type ClassBacktest,
  classify,
  effectiveMode,
  type ItemFacts,
  type PolicyClass,
} from '../policy/automation.js';
import { AnalysisReader } from '../store/analysis-reads.js';
import { BIRTHRIGHT_KIND, type PeerIndex } from '../store/peers.js';
import type { ItemRow, Store } from '../store/store.js';
import { activityCoverage, trainingRows } from './analyze.js';

/** How the backtest scores past decisions: the shadow report's own cross-validation. */
export const BACKTEST_SCORING = { folds: 5, seed: 1 } as const;
const STATE_KEY = 'automation:state';

/** One class as evaluated: its configured and effective modes, and the figures behind them. */
export interface ClassState {
  name: string;
  configured_mode: AutomationMode;
  effective_mode: AutomationMode;
  reason: string;
  allow_revoke: boolean;
  bar: { min_precision: number; min_decisions: number };
  backtest: ClassBacktest | null;
}

/** The outcome of the bar check: what every class may do under the model fitted now. */
export interface AutomationState {
  /** Digest of the past decisions the backtest scored (changes when they change). */
  fit_id: string;
  /** Digest of the policy's classes. */
  policy_digest: string;
  evaluated_at: string;
  /** Past decisions scored. */
  past_decisions: number;
  scoring: string;
  classes: ClassState[];
}

type PeerFacts = Pick<ItemFacts, 'birthright' | 'peer_share'>;

/** Birthright and peer share, judged as the analysis judges a birthright (department and title, or department). */
function peerFacts(
  peers: PeerIndex,
  user: User,
  entitlementId: string,
  holds: boolean,
  t: AnalysisThresholds,
): PeerFacts {
  const stats = peers.statsFor(
    [
      [BIRTHRIGHT_KIND, user.department && user.title ? `${user.department}\u001f${user.title}` : null],
      ['department', user.department],
    ],
    entitlementId,
    user.status === 'active',
    holds,
  );
  const birthright = stats.some(
    (s) => s.peers >= t.birthrightMinPeers && s.holders >= t.birthrightPrevalence * s.peers,
  );
  const first = stats.find((s) => s.peers > 0);
  return { birthright, peer_share: first ? first.holders / first.peers : null };
}

function digest(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** The facts of every item of a campaign as they stand (stored signals and recommendation, usage now). */
export function campaignFacts(
  store: Store,
  campaignId: string,
  config: Pick<Config, 'dormantDays' | 'asOf'>,
  peers: PeerIndex = store.peerIndex(),
): Array<{ item: ItemRow; facts: ItemFacts }> {
  const t = { ...defaultThresholds, dormantDays: config.dormantDays };
  const asOf = config.asOf ? new Date(config.asOf) : new Date();
  const coverage = activityCoverage(store);
  const out: Array<{ item: ItemRow; facts: ItemFacts }> = [];
  let after: Array<string | number> | undefined;
  let userId = '';
  let held = new Map<string, { granted_at: string | null; source: string }>();
  let lastUse = new Map<string, string | null>();
  for (;;) {
    const page = store.campaignItemsPage({
      campaign_id: campaignId,
      status: 'all',
      sort: 'user',
      limit: 500,
      after,
    });
    for (const item of page.items) {
      if (item.user.id !== userId) {
        userId = item.user.id;
        held = new Map(store.heldEntitlements(userId).map((h) => [h.id, h]));
        lastUse = store.lastUseByApp(userId);
      }
      const ent = item.entitlement;
      const holding = held.get(ent.id);
      const last = ent.app === null ? null : (lastUse.get(ent.app) ?? null);
      const usage =
        ent.app === null
          ? 'none'
          : usageAt(
              last === null ? null : Date.parse(last),
              asOf.getTime(),
              holding?.granted_at ? Date.parse(holding.granted_at) : null,
              appCoverage(coverage, ent.app),
              t.dormantDays,
            );
      out.push({
        item,
        facts: {
          recommendation: item.recommendation?.decision ?? null,
          confidence: item.recommendation?.confidence ?? null,
          signals: item.signals.map((s) => s.code),
          usage,
          ...peerFacts(peers, item.user, ent.id, holding !== undefined, t),
          source: holding?.source ?? null,
          ...entityFacts(item.user, ent),
          risk_score: item.risk_score,
        },
      });
    }
    if (!page.hasMore || page.last === null) break;
    after = page.last;
  }
  return out;
}

function entityFacts(user: User, ent: Entitlement) {
  return {
    user_status: user.status,
    employee_type: user.employee_type,
    privileged: ent.privileged,
    sensitivity: ent.sensitivity,
    entitlement_type: ent.type,
    platform: ent.platform,
    app: ent.app,
  };
}

/** The past human decisions as the model sees them, and their digest. */
export interface PastDecisions {
  peers: PeerIndex;
  rows: ReturnType<typeof trainingRows>;
  fit_id: string;
}

export function pastDecisions(store: Store, config: Pick<Config, 'dormantDays' | 'asOf'>): PastDecisions {
  const asOf = config.asOf ? new Date(config.asOf) : new Date();
  const peers = store.peerIndex();
  const rows = trainingRows(store, peers, asOf, config.dormantDays);
  return { peers, rows, fit_id: digest(rows.map((r) => [r.label, r.features])) };
}

/** Signals of a past decision that have no history to be worked out from. */
const PAST_UNKNOWN_SIGNALS = ['redundant', 'use_after_end', 'self_review'];

/**
 * Backtests every class on the past human decisions, with the shadow report's K-fold scoring:
 * each decision's recommendation is the out-of-fold one (a decision never predicts itself).
 * A past decision's facts are as of its date where the store keeps history (usage, HR moves,
 * the account's end), and as they stand now otherwise (peer counts, SoD, the user's status);
 * a fact that cannot be known for it satisfies the predicates about it, so no past decision
 * (a revoked grant that is gone) is dropped from its class.
 */
export function backtestPolicy(
  store: Store,
  classes: readonly PolicyClass[],
  config: Pick<Config, 'dormantDays' | 'asOf'>,
  past: PastDecisions = pastDecisions(store, config),
): { fit_id: string; past_decisions: number; backtests: Array<ClassBacktest | null> } {
  const t = { ...defaultThresholds, dormantDays: config.dormantDays };
  const asOf = config.asOf ? new Date(config.asOf) : new Date();
  const { peers, rows, fit_id } = past;
  const reader = new AnalysisReader(store);
  const decisions = reader.decisions();
  const revokes = rows.filter((r) => r.label === 1).length;
  if (rows.length < BACKTEST_SCORING.folds * 2 || revokes === 0 || revokes === rows.length)
    return { fit_id, past_decisions: rows.length, backtests: classes.map(() => null) };
  if (
    decisions.length !== rows.length ||
    decisions.some((d, i) => rows[i]!.key !== `${d.user_id}\u0000${d.entitlement_id}`)
  )
    throw new Error('backtest: past decisions and training rows are out of step');

  const outOfFold: ShadowDecision[] = new Array(rows.length);
  crossValidate(
    rows.map((r, i) => ({ features: r.features, label: r.label, i })),
    {
      ...BACKTEST_SCORING,
      thresholds: t,
      decide: (row, p) => {
        const d: ShadowDecision =
          p >= t.learnedRevokeThreshold
            ? { decision: 'revoke', confidence: p }
            : p >= t.learnedEscalateThreshold
              ? { decision: 'escalate', confidence: 1 - p }
              : { decision: 'approve', confidence: 1 - p };
        outOfFold[row.i] = d;
        return d;
      },
    },
  );

  const ents = reader.entitlements();
  const rules = store.sodRules();
  const users = new Map<string, User | undefined>();
  const heldOf = new Map<string, Map<string, { granted_at: string | null; source: string }>>();
  const hrOf = new Map<string, ReturnType<Store['hrChanges']>>();
  const backtests: ClassBacktest[] = classes.map(() => ({
    class_decisions: 0,
    decisions: 0,
    agreed: 0,
    precision: null,
    approvals: 0,
    revokes: 0,
  }));
  decisions.forEach((d, i) => {
    const ent = ents.get(d.entitlement_id);
    if (!users.has(d.user_id)) users.set(d.user_id, store.getUser(d.user_id));
    const user = users.get(d.user_id);
    if (!ent || !user) return;
    let held = heldOf.get(user.id);
    if (!held) {
      held = new Map(store.heldEntitlements(user.id).map((h) => [h.id, h]));
      heldOf.set(user.id, held);
    }
    const at = d.decided_at ? new Date(d.decided_at) : asOf;
    let hr = hrOf.get(user.id);
    if (!hr) {
      hr = store.hrChanges(user.id);
      hrOf.set(user.id, hr);
    }
    const holding = held.get(ent.id);
    const usage = (rows[i]!.features.usage as ItemFacts['usage'] | null) ?? 'none';
    const conflicts =
      rules.length === 0
        ? []
        : findSodConflicts(user.id, rules, new Set([...held.keys(), ent.id])).filter((c) =>
            c.entitlement_ids.includes(ent.id),
          );
    const signals: Signal[] = ruleSignals(
      {
        user,
        entitlement: ent,
        grantedAt: holding?.granted_at ?? null,
        lastUsed: null,
        activityStart: null,
        hrChanges: hr.filter((h) => Date.parse(h.at) <= at.getTime()),
        sodConflicts: conflicts,
        asOf: at,
      },
      t,
    );
    if (usage === 'dormant') signals.push({ code: 'dormant', detail: '' });
    if (usage === 'never') signals.push({ code: 'never_used', detail: '' });
    const peerStats = peers.statsFor(
      [
        ['department', user.department],
        ['title', user.title],
        ['manager', user.manager_id],
        ['location', user.location],
      ],
      ent.id,
      user.status === 'active',
      holding !== undefined,
    );
    if (assessPeers(peerStats, t).outlier) signals.push({ code: 'peer_outlier', detail: '' });
    const engine = outOfFold[i]!;
    const facts: ItemFacts = {
      recommendation: engine.decision,
      confidence: engine.confidence,
      signals: signals.map((s) => s.code),
      unknown_signals: PAST_UNKNOWN_SIGNALS,
      usage,
      ...peerFacts(peers, user, ent.id, holding !== undefined, t),
      source: holding?.source ?? null,
      ...entityFacts(user, ent),
      risk_score: riskScore(signals, ent.sensitivity, ent.privileged).score,
    };
    const k = classify(classes, facts);
    if (k < 0) return;
    const b = backtests[k]!;
    b.class_decisions++;
    const auto = automaticDecision(classes[k]!, facts);
    if (!('decision' in auto)) return;
    b.decisions++;
    if (auto.decision === 'approve') b.approvals++;
    else b.revokes++;
    if (auto.decision === d.decision) b.agreed++;
  });
  for (const b of backtests) b.precision = b.decisions === 0 ? null : b.agreed / b.decisions;
  return { fit_id, past_decisions: rows.length, backtests };
}

/** The last evaluation recorded in the store, if any. */
export function storedState(store: Store): AutomationState | null {
  const raw = store.getMeta(STATE_KEY);
  return raw ? (JSON.parse(raw) as AutomationState) : null;
}

/**
 * The bar check (at start-up, on every refit, before every run): backtests the classes unless
 * neither the past decisions nor the policy changed since the last check, works out each
 * class's effective mode, and records every change of a class configured `auto` in the audit
 * log: `policy:demote` (below its bar: it acts as `suggest`) or `policy:promote`, with the figures.
 */
export function evaluateAutomation(
  store: Store,
  policy: AutomationPolicy,
  config: Pick<Config, 'dormantDays' | 'asOf'>,
  recordEvent: RecordEvent | null,
  now: Date = new Date(),
  options: { force?: boolean } = {},
): AutomationState {
  const policy_digest = digest(policy.classes);
  const previous = storedState(store);
  const past = pastDecisions(store, config);
  if (
    !options.force &&
    previous &&
    previous.fit_id === past.fit_id &&
    previous.policy_digest === policy_digest
  )
    return previous;
  const bt = backtestPolicy(store, policy.classes, config, past);
  const state: AutomationState = {
    fit_id: bt.fit_id,
    policy_digest,
    evaluated_at: now.toISOString(),
    past_decisions: bt.past_decisions,
    scoring: `shadow mode, ${BACKTEST_SCORING.folds}-fold cross-validation, seed ${BACKTEST_SCORING.seed}`,
    classes: policy.classes.map((c, i) => {
      const b = bt.backtests[i] ?? null;
      const eff = effectiveMode(c, b);
      return {
        name: c.name,
        configured_mode: c.mode,
        effective_mode: eff.mode,
        reason: eff.reason,
        allow_revoke: c.allow_revoke,
        bar: { min_precision: c.min_precision, min_decisions: c.min_decisions },
        backtest: b,
      };
    }),
  };
  store.transaction(() => {
    for (const c of state.classes) {
      if (c.configured_mode !== 'auto') continue;
      const before = previous?.classes.find((p) => p.name === c.name);
      const was = before?.configured_mode === 'auto' ? before.effective_mode : null;
      if (was === c.effective_mode) continue;
      recordEvent?.({
        tool: c.effective_mode === 'auto' ? 'policy:promote' : 'policy:demote',
        kind: 'policy',
        arguments: { class: c.name },
        outcome: 'ok',
        details: {
          class: c.name,
          from: was,
          to: c.effective_mode,
          reason: c.reason,
          bar: c.bar,
          backtest: c.backtest,
          fit_id: state.fit_id,
          past_decisions: state.past_decisions,
          scoring: state.scoring,
        },
      });
    }
    store.setMeta(STATE_KEY, JSON.stringify(state));
  });
  return state;
}
