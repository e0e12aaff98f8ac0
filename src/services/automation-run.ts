import type { Config } from '../config.js';
import type { Auditor, RecordEvent } from '../policy/audit.js';
import { type AutomationPolicy, automaticDecision, classify } from '../policy/automation.js';
import { quoteField } from '../policy/human-text.js';
import type { Store } from '../store/store.js';
import { type AutomationState, type ClassState, campaignFacts, evaluateAutomation } from './automation.js';
import { type ConnectorFor, runOutbox } from './outbox.js';

/** A refusal to automate: the message says what did not happen. */
export class AutomationRefused extends Error {
  override name = 'AutomationRefused';
}

/** One item a class would decide, as a human reads it (identity data quoted). */
export interface PlanSample {
  item_id: string;
  decision: 'approve' | 'revoke';
  user: string;
  entitlement: string;
  app: string | null;
  risk_score: number;
}

/** What one class would do to a campaign now. */
export interface ClassPlan extends ClassState {
  /** Items of the campaign the class takes (first match), open or not. */
  items: number;
  /** Open items (pending, nothing proposed) it would decide automatically. */
  would_approve: number;
  would_revoke: number;
  /** Open items of the class it would not decide, by reason. */
  left_to_humans: Record<string, number>;
  /** Items it already decided automatically. */
  already_automatic: number;
  samples: PlanSample[];
}

export interface AutomationPlan {
  campaign_id: string;
  fit_id: string;
  evaluated_at: string;
  scoring: string;
  past_decisions: number;
  items: number;
  /** Items no class takes: today's behaviour (suggest). */
  unclassified: number;
  classes: ClassPlan[];
}

type Work = Map<
  number,
  Array<{ item_id: string; decision: 'approve' | 'revoke'; rationale: string; confidence: number | null }>
>;

function planOf(
  store: Store,
  policy: AutomationPolicy,
  state: AutomationState,
  campaignId: string,
  config: Config,
): { plan: AutomationPlan; work: Work } {
  if (!store.getCampaign(campaignId)) {
    throw new AutomationRefused(
      `no campaign "${campaignId}". Nothing was decided. List campaigns with attest campaign list or list_campaigns.`,
    );
  }
  const facts = campaignFacts(store, campaignId, config);
  const automatic = new Set(store.automation.forCampaign(campaignId).map((a) => a.item_id));
  const classes: ClassPlan[] = policy.classes.map((c, i) => ({
    ...(state.classes[i] ?? {
      name: c.name,
      configured_mode: c.mode,
      effective_mode: 'suggest',
      reason: 'not evaluated',
      allow_revoke: c.allow_revoke,
      bar: { min_precision: c.min_precision, min_decisions: c.min_decisions },
      backtest: null,
    }),
    items: 0,
    would_approve: 0,
    would_revoke: 0,
    left_to_humans: {},
    already_automatic: 0,
    samples: [],
  }));
  const work: Work = new Map();
  let unclassified = 0;
  for (const { item, facts: f } of facts) {
    const k = classify(policy.classes, f);
    if (k < 0) {
      unclassified++;
      continue;
    }
    const cp = classes[k]!;
    cp.items++;
    if (automatic.has(item.item_id)) {
      cp.already_automatic++;
      continue;
    }
    if (item.status !== 'pending' || item.decision !== null) continue;
    const d = automaticDecision(policy.classes[k]!, f);
    if (!('decision' in d)) {
      cp.left_to_humans[d.skip] = (cp.left_to_humans[d.skip] ?? 0) + 1;
      continue;
    }
    if (d.decision === 'approve') cp.would_approve++;
    else cp.would_revoke++;
    if (cp.samples.length < 5)
      cp.samples.push({
        item_id: item.item_id,
        decision: d.decision,
        user: quoteField(item.user.name ?? item.user.email ?? item.user.id, 80),
        entitlement: quoteField(item.entitlement.name, 80),
        app: item.entitlement.app === null ? null : quoteField(item.entitlement.app, 80),
        risk_score: item.risk_score,
      });
    if (cp.effective_mode === 'auto') {
      const list = work.get(k) ?? [];
      const b = cp.backtest!;
      list.push({
        item_id: item.item_id,
        decision: d.decision,
        confidence: f.confidence,
        rationale:
          `Decided by policy class ${cp.name}: its backtest on past human decisions has precision ${b.precision?.toFixed(4)} on ${b.decisions} decisions (bar ${cp.bar.min_precision} on ${cp.bar.min_decisions}, fit ${state.fit_id}). Engine: ${item.recommendation?.rationale ?? d.decision}`.slice(
            0,
            2000,
          ),
      });
      work.set(k, list);
    }
  }
  return {
    plan: {
      campaign_id: campaignId,
      fit_id: state.fit_id,
      evaluated_at: state.evaluated_at,
      scoring: state.scoring,
      past_decisions: state.past_decisions,
      items: facts.length,
      unclassified,
      classes,
    },
    work,
  };
}

/** The dry run: the bar check, then what each class would do to the campaign. Changes nothing but the check's record. */
export function automationPlan(
  store: Store,
  config: Config,
  campaignId: string,
  recordEvent: RecordEvent | null,
  now: Date = new Date(),
): AutomationPlan {
  const policy = config.automation;
  if (!policy)
    throw new AutomationRefused(
      'no automation policy is configured (automation, policyFile or a policy.json next to the config file). Nothing was evaluated.',
    );
  const state = evaluateAutomation(store, policy, config, recordEvent, now);
  return planOf(store, policy, state, campaignId, config).plan;
}

/** Audit entries of the policy itself (`policy`) or of one class (`policy:<class>`), written by no client. */
export function eventsOf(auditor: Auditor, principal = 'policy'): RecordEvent {
  return auditor.events({ principal, client: null, session_id: null, transport: 'policy' });
}

export interface AutomationRun {
  plan: AutomationPlan;
  queued: Array<{ class: string; confirmation_id: string; proposals: number }>;
  skipped: number;
  outbox: { applied: number; failed: number; retry: number };
}

/**
 * Applies every class in effective `auto` to a campaign: each class's open items in one batch
 * of proposals by `policy:<class>`, confirmed on the `policy` channel with the backtest figures,
 * queued in one transaction with its `policy:auto` audit entry, then applied by the outbox
 * like every confirmed decision (exactly once). Refused in read-only mode.
 */
export async function runAutomation(
  store: Store,
  config: Config,
  campaignId: string,
  deps: { auditor: Auditor; connectorFor: ConnectorFor; now?: () => Date },
): Promise<AutomationRun> {
  if (config.readOnly)
    throw new AutomationRefused(
      'read-only mode: automation writes decisions, so nothing was decided or applied.',
    );
  const policy = config.automation;
  if (!policy) throw new AutomationRefused('no automation policy is configured. Nothing was decided.');
  const now = deps.now ?? (() => new Date());
  const state = evaluateAutomation(store, policy, config, eventsOf(deps.auditor, 'policy'), now());
  const campaign = store.getCampaign(campaignId);
  if (campaign && campaign.status !== 'active')
    throw new AutomationRefused(`campaign ${campaignId} is closed. Nothing was decided.`);
  const { plan, work } = planOf(store, policy, state, campaignId, config);
  const repo = store.automation;
  const queued: AutomationRun['queued'] = [];
  let skipped = 0;
  for (const [k, items] of work) {
    const c = plan.classes[k]!;
    const b = c.backtest!;
    const principal = `policy:${c.name}`;
    const figures = {
      class: c.name,
      precision: b.precision!,
      decisions: b.decisions,
      min_precision: c.bar.min_precision,
      min_decisions: c.bar.min_decisions,
      fit_id: state.fit_id,
      class_decisions: b.class_decisions,
      agreed: b.agreed,
      past_decisions: state.past_decisions,
      scoring: state.scoring,
      evaluated_at: state.evaluated_at,
    };
    const record = eventsOf(deps.auditor, principal);
    const r = repo.queue({
      principal,
      campaignId,
      items,
      figures,
      now: now(),
      inTransaction: (cid, proposals) =>
        record({
          tool: 'policy:auto',
          kind: 'write',
          arguments: {
            campaign_id: campaignId,
            class: c.name,
            proposal_ids: proposals.map((p) => p.proposal_id),
          },
          outcome: 'ok',
          details: {
            confirmation: {
              id: cid,
              channel: 'policy',
              assurance: 'policy',
              confirmed_by: principal,
              at: now().toISOString(),
            },
            figures,
            items: proposals,
            decisions: {
              approve: items.filter((i) => i.decision === 'approve').length,
              revoke: items.filter((i) => i.decision === 'revoke').length,
            },
          },
        }),
    });
    skipped += r.skipped.length;
    if (r.confirmation_id)
      queued.push({ class: c.name, confirmation_id: r.confirmation_id, proposals: r.queued.length });
  }
  const outbox = await runOutbox(store, deps.connectorFor, {
    auditor: deps.auditor,
    leaseMs: config.outboxLeaseSeconds * 1000,
    escalationReviewer: config.escalationReviewer ?? null,
  });
  return { plan, queued, skipped, outbox };
}

/** The plan as text for a terminal: per class the modes, the figures and what it would do. */
export function formatPlan(plan: AutomationPlan, dryRun: boolean): string {
  const pct = (v: number | null | undefined) =>
    v === null || v === undefined ? 'n/a' : `${(v * 100).toFixed(2)}%`;
  const lines = [
    `Automation plan for campaign ${plan.campaign_id}${dryRun ? ' (dry run: nothing is decided)' : ''}`,
    `Backtest: ${plan.scoring} over ${plan.past_decisions} past decisions, fit ${plan.fit_id}, evaluated ${plan.evaluated_at}`,
    `${plan.items} items; ${plan.unclassified} match no class (suggest: the agent proposes, a human confirms)`,
    '',
  ];
  for (const c of plan.classes) {
    const b = c.backtest;
    lines.push(
      `Class ${c.name}: configured ${c.configured_mode}, effective ${c.effective_mode}${c.allow_revoke ? ' (revokes allowed)' : ''}`,
    );
    lines.push(`  ${c.reason}`);
    if (b)
      lines.push(
        `  backtest: ${b.class_decisions} past decisions in the class; ${b.decisions} it would have taken (${b.approvals} approve, ${b.revokes} revoke), precision ${pct(b.precision)}`,
      );
    const verb = c.effective_mode === 'auto' ? 'would decide' : 'would decide if auto';
    lines.push(
      `  this campaign: ${c.items} items in the class; ${verb}: ${c.would_approve} approve, ${c.would_revoke} revoke; already automatic: ${c.already_automatic}`,
    );
    const left = Object.entries(c.left_to_humans);
    if (left.length > 0) lines.push(`  left to humans: ${left.map(([k, v]) => `${v} (${k})`).join('; ')}`);
    for (const s of c.samples)
      lines.push(
        `    ${s.decision.toUpperCase()} risk ${s.risk_score} item ${s.item_id}: ${s.user} / ${s.entitlement}${s.app ? ` in ${s.app}` : ''}`,
      );
    lines.push('');
  }
  lines.push('Quoted fields are directory data, shown escaped.');
  return lines.join('\n');
}
