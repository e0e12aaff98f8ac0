import { createHash } from 'node:crypto';
import {
  type ActivityCoverage,
  appCoverage,
  decisionFeatures,
  entitlementDepartment,
  usageAt,
} from '../analysis/features.js';
import { type EncodedTerm, type Factor, fitModel, type Model, ModelScorer } from '../analysis/model.js';
import { assessPeers, isStrongKind, type PeerAssessment, REPORTS_KIND } from '../analysis/peer-groups.js';
import { recommend } from '../analysis/recommend.js';
import { findRedundant, IncludesGraph } from '../analysis/redundancy.js';
import { riskScore, ruleSignals } from '../analysis/risk.js';
import { findSodConflicts } from '../analysis/sod.js';
import { type AnalysisThresholds, defaultThresholds } from '../analysis/thresholds.js';
import type { Entitlement, Evidence, Signal } from '../domain/index.js';
import { AnalysisReader } from '../store/analysis-reads.js';
import { BIRTHRIGHT_KIND, type PeerIndex } from '../store/peers.js';
import type { Store } from '../store/store.js';

export interface AnalyzeOptions {
  asOf: Date;
  dormantDays: number;
  /** Only these campaigns; default every active campaign. */
  campaignIds?: string[];
  thresholds?: Partial<AnalysisThresholds>;
  /** Minimum past decisions (and revokes among them) before a learned model is used. */
  minTrainingRows?: number;
  /** The model is fitted on at most this many past decisions, most recent first (default 100,000). */
  maxTrainingRows?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface AnalyzeResult {
  items: number;
  users: number;
  bySignal: Record<string, number>;
  byRecommendation: Record<string, number>;
  model: { trained_on: number; revokes: number } | null;
}

const DAY = 86_400_000;
/** Users read (and results written) per range query and write transaction. */
const USER_CHUNK = 1000;

/** Item features that come from the user alone ({@link decisionFeatures}): the same on each of a user's items. */
function isUserFeature(feature: string): boolean {
  return (
    feature === 'department' ||
    feature === 'title' ||
    feature === 'manager' ||
    feature === 'location' ||
    feature === 'employee_type' ||
    feature.startsWith('attr:')
  );
}

/** Rows of a user-ordered range read, grouped by user id. */
function groupBy<R extends { user_id: string }>(rows: R[]): Map<string, R[]> {
  const out = new Map<string, R[]>();
  for (const r of rows) {
    const list = out.get(r.user_id);
    if (list) list.push(r);
    else out.set(r.user_id, [r]);
  }
  return out;
}

/** One past decision as the model learns from it. */
export interface DecisionTrainingRow {
  features: Record<string, string | null>;
  label: 0 | 1;
  /** How much the row counts: more for a decision that overrode the engine's recommendation. */
  weight: number;
  /** `user\u0000entitlement`. */
  key: string;
  campaign_id: string | null;
}

/** Recent fits by a digest of their training rows: a pass over unchanged decisions refits nothing. */
const fits = new Map<string, Model>();
const FIT_CACHE_SIZE = 4;

/** The model for these rows: fitted, or reused when the same rows were fitted before. */
function fitCached(rows: readonly DecisionTrainingRow[]): Model {
  const h = createHash('sha256');
  for (const r of rows) {
    h.update(`${r.label}|${r.weight}`);
    for (const k of Object.keys(r.features).sort()) h.update(`\u0001${k}\u0002${r.features[k] ?? '\u0003'}`);
    h.update('\u0004');
  }
  const key = h.digest('hex');
  const known = fits.get(key);
  if (known) {
    fits.delete(key);
    fits.set(key, known);
    return known;
  }
  const model = fitModel(rows, { seed: 7 });
  fits.set(key, model);
  if (fits.size > FIT_CACHE_SIZE) fits.delete(fits.keys().next().value!);
  return model;
}

/** What the activity log covers, read once. */
export function activityCoverage(store: Store): ActivityCoverage {
  const reader = new AnalysisReader(store);
  const at = reader.activityStart();
  return {
    startMs: at === null ? null : Date.parse(at),
    apps: at === null ? undefined : reader.loggedApps(),
  };
}

/** Past decisions as training rows for the learned model, with the same features items get. */
export function trainingRows(
  store: Store,
  peers: PeerIndex,
  asOf: Date,
  dormantDays: number,
  /** Keep at most this many, the most recent first (a bounded fit on very long histories). */
  limit?: number,
  overrideWeight: number = defaultThresholds.overrideWeight,
): DecisionTrainingRow[] {
  const reader = new AnalysisReader(store);
  const decisions = reader.decisions(limit);
  const ents = reader.entitlements();
  const coverage = activityCoverage(store);
  const rows: DecisionTrainingRow[] = new Array(decisions.length);
  const nowIso = asOf.toISOString();
  // Decisions grouped by user (users in order of first appearance), so each user is read and
  // parsed once; the rows keep the decisions' order.
  const byUser = new Map<string, number[]>();
  decisions.forEach((d, i) => {
    const list = byUser.get(d.user_id);
    if (list) list.push(i);
    else byUser.set(d.user_id, [i]);
  });
  const userIds = [...byUser.keys()];
  for (let c = 0; c < userIds.length; c += USER_CHUNK) {
    const chunk = userIds.slice(c, c + USER_CHUNK);
    const users = new Map(reader.usersByIds(chunk).map((u) => [u.id, u]));
    const asked: Array<[string, string, string]> = [];
    const pairs: Array<[string, string]> = [];
    for (const userId of chunk) {
      if (!users.has(userId)) continue;
      for (const i of byUser.get(userId)!) {
        const r = decisions[i]!;
        const app = ents.get(r.entitlement_id)?.app;
        if (app !== null && app !== undefined) {
          asked.push([r.user_id, app, r.decided_at ?? nowIso]);
          pairs.push([r.user_id, r.entitlement_id]);
        }
      }
    }
    // The last successful use of the app up to each decision, for the whole chunk in one query.
    const lastUses = reader.lastUsesBefore(asked);
    const grants = coverage.startMs === null ? new Map<string, string | null>() : reader.grantDates(pairs);
    let next = 0;
    for (const userId of chunk) {
      const user = users.get(userId);
      for (const i of byUser.get(userId)!) {
        const r = decisions[i]!;
        const ent = ents.get(r.entitlement_id);
        // The decisions query joins users and entitlements, so both exist unless they were
        // deleted in between; such a decision is left out.
        if (!user || !ent) continue;
        const at = r.decided_at ?? nowIso;
        const key = `${r.user_id}\u0000${r.entitlement_id}`;
        let usage: ReturnType<typeof usageAt> | null = null;
        if (ent.app !== null) {
          const last = lastUses[next++] ?? null;
          const atMs = Date.parse(at);
          const granted = grants.get(key) ?? null;
          const grantMs = granted === null ? null : Date.parse(granted);
          usage = usageAt(
            last === null ? null : Date.parse(last),
            atMs,
            grantMs !== null && grantMs <= atMs ? grantMs : null,
            appCoverage(coverage, ent.app),
            dormantDays,
          );
        }
        const label: 0 | 1 = r.decision === 'revoke' ? 1 : 0;
        const engine = r.engine_decision;
        const overridden = (engine === 'approve' || engine === 'revoke') && engine !== r.decision;
        rows[i] = {
          label,
          weight: overridden ? overrideWeight : 1,
          key,
          campaign_id: r.campaign_id,
          features: decisionFeatures(
            user,
            ent,
            entitlementDepartment(ent, peers.homeDepartment.get(ent.id)?.department ?? null),
            r.reviewer_id ?? null,
            usage,
          ),
        };
      }
    }
  }
  return rows.filter((r) => r !== undefined);
}

/** The reviewer is the user, or sits below the user in the user's management line. */
function selfReviewOf(
  managers: ReadonlyMap<string, string | null>,
  chains: Map<string, ReadonlySet<string>>,
  reviewer: string | null,
  user: string,
): 'self' | 'chain' | null {
  if (reviewer === null) return null;
  if (reviewer === user) return 'self';
  let chain = chains.get(reviewer);
  if (!chain) {
    const above = new Set<string>();
    let at = managers.get(reviewer) ?? null;
    while (at !== null && !above.has(at) && above.size < 64) {
      above.add(at);
      at = managers.get(at) ?? null;
    }
    chain = above;
    chains.set(reviewer, chain);
  }
  return chain.has(user) ? 'chain' : null;
}

/**
 * Scores and recommends every item of the chosen campaigns in one streaming pass,
 * user by user: rule signals, peer statistics, redundancy, and the model learned from
 * past decisions. Memory holds aggregate peer counts and one user's context at a time.
 */
export function analyzeCampaigns(store: Store, options: AnalyzeOptions): AnalyzeResult {
  const t: AnalysisThresholds = {
    ...defaultThresholds,
    ...options.thresholds,
    dormantDays: options.dormantDays,
  };
  const campaignIds = options.campaignIds ?? store.listCampaigns('active').map((c) => c.id);
  const rules = store.sodRules();
  const bySignal: Record<string, number> = {};
  const byRecommendation: Record<string, number> = {};
  let items = 0;
  let users = 0;
  const now = new Date().toISOString();
  if (campaignIds.length === 0) return { items, users, bySignal, byRecommendation, model: null };

  const peers = store.peerIndex();
  const training = trainingRows(
    store,
    peers,
    options.asOf,
    options.dormantDays,
    options.maxTrainingRows ?? 100_000,
    t.overrideWeight,
  );
  const revokes = training.filter((r) => r.label === 1).length;
  let model: Model | null = null;
  if (training.length >= (options.minTrainingRows ?? 200) && revokes >= 10 && revokes < training.length) {
    model = fitCached(training);
  }

  const scorer = model ? new ModelScorer(model) : null;
  const reader = new AnalysisReader(store);
  const ents = reader.entitlements();
  const graph = new IncludesGraph(
    reader.includes(),
    new Map([...ents.values()].map((e) => [e.id, { type: e.type, app: e.app }])),
  );
  const coverage = activityCoverage(store);
  const activityStart = coverage.startMs === null ? null : new Date(coverage.startMs).toISOString();
  let managers: Map<string, string | null> | null = null;
  const chains = new Map<string, ReadonlySet<string>>();
  const asOfIso = options.asOf.toISOString();
  const asOfMs = options.asOf.getTime();
  const nameOf = (id: string) => ({ id, name: ents.get(id)?.name ?? id });
  for (const campaignId of campaignIds) {
    const userIds = store.campaignUserIds(campaignId);
    const total = userIds.length;
    let done = 0;
    // Users in id order, USER_CHUNK at a time: one range query per table for the whole chunk,
    // then one write transaction for the chunk's results (in item id order).
    for (let c = 0; c < userIds.length; c += USER_CHUNK) {
      const chunk = userIds.slice(c, c + USER_CHUNK);
      const lo = chunk[0]!;
      const hi = chunk[chunk.length - 1]!;
      const usersById = new Map(reader.users(lo, hi).map((u) => [u.id, u]));
      const heldOf = groupBy(reader.assignments(lo, hi));
      const lastUseOf = groupBy(reader.lastUse(lo, hi));
      const hrOf = groupBy(reader.hrChanges(lo, hi));
      const itemsOf = groupBy(reader.campaignItems(campaignId, lo, hi));
      const pending: Parameters<AnalysisReader['writeResults']>[0][number][] = [];
      for (const userId of chunk) {
        done++;
        users++;
        const user = usersById.get(userId);
        if (user) {
          const held = heldOf.get(userId) ?? [];
          const heldById = new Map<
            string,
            { ent: Entitlement; grantedAt: string | null; source: string; via: string | null }
          >();
          for (const a of held) {
            const ent = ents.get(a.entitlement_id);
            if (ent) heldById.set(ent.id, { ent, grantedAt: a.granted_at, source: a.source, via: a.via });
          }
          const lastUse = new Map((lastUseOf.get(userId) ?? []).map((r) => [r.app, r.last_used]));
          const hr = hrOf.get(userId) ?? [];
          const conflicts = rules.length > 0 ? findSodConflicts(userId, rules, heldById.keys()) : [];
          const redundant = findRedundant(held, graph);
          const peerValues: Array<[string, string | null]> = peers.kinds.map((k) => {
            if (k.kind === 'department') return [k.kind, user.department];
            if (k.kind === 'title') return [k.kind, user.title];
            if (k.kind === 'manager') return [k.kind, user.manager_id];
            if (k.kind === 'location') return [k.kind, user.location];
            if (k.kind === BIRTHRIGHT_KIND)
              return [k.kind, user.department && user.title ? `${user.department}\u001f${user.title}` : null];
            return [k.kind, user.attributes[k.kind.slice(5)] ?? null];
          });
          const cohorts = peers.cohortsOf(peerValues);
          const reports = peers.reportsOf(userId, REPORTS_KIND);
          if (reports) cohorts.push(reports);
          const active = user.status === 'active';
          // Model terms of the user's own features, shared by the user's items.
          let userTerms: Array<EncodedTerm | undefined> | undefined;
          // The user's HR changes as evidence: the same pieces on each of the user's items.
          const hrEvidence: Evidence[] = hr.map((h) => ({
            kind: `hr_change:${h.field}`,
            value: `${h.from ?? ''} -> ${h.to ?? ''}`,
            source: 'hr_changes',
            at: h.at,
          }));
          for (const row of itemsOf.get(userId) ?? []) {
            const holding = heldById.get(row.entitlement_id);
            const ent = holding?.ent ?? ents.get(row.entitlement_id);
            if (!ent) continue;
            const grantedAt = holding?.grantedAt ?? null;
            const lastUsed = ent.app === null ? null : (lastUse.get(ent.app) ?? null);
            // An app the log has no event of at all is not covered by it: nothing about its use is known.
            const appLogged = ent.app === null || coverage.apps === undefined || coverage.apps.has(ent.app);
            let selfReview: 'self' | 'chain' | null = null;
            if (row.reviewer_id !== null) {
              if (row.reviewer_id === userId) selfReview = 'self';
              else {
                managers ??= reader.managers();
                selfReview = selfReviewOf(managers, chains, row.reviewer_id, userId);
              }
            }
            const signals: Signal[] = ruleSignals(
              {
                user,
                entitlement: ent,
                grantedAt,
                lastUsed,
                activityStart: appLogged ? activityStart : null,
                selfReview,
                hrChanges: hr,
                sodConflicts:
                  conflicts.length === 0
                    ? conflicts
                    : conflicts.filter((c) => c.entitlement_ids.includes(ent.id)),
                asOf: options.asOf,
              },
              t,
            );
            const allStats = peers.statsOfCohorts(cohorts, ent.id, active, holding !== undefined);
            const bound = peers.departmentBound.has(ent.id);
            let birthright: { holders: number; peers: number; cohort: string } | null = null;
            const stats: typeof allStats = [];
            for (const st of allStats) {
              const cohortKind = st.kind === BIRTHRIGHT_KIND || st.kind === 'department';
              if (
                cohortKind &&
                st.peers >= t.birthrightMinPeers &&
                st.holders >= t.birthrightPrevalence * st.peers &&
                (birthright === null || st.peers > birthright.peers)
              ) {
                birthright = {
                  holders: st.holders,
                  peers: st.peers,
                  cohort:
                    st.kind === 'department'
                      ? `in department ${st.value}`
                      : `in department ${user.department} with title ${user.title}`,
                };
              }
              if (st.kind === BIRTHRIGHT_KIND) continue;
              // Access that goes with departments: mixed cohorts (location, attributes) say nothing.
              if (bound && !isStrongKind(st.kind) && st.kind !== REPORTS_KIND) continue;
              stats.push(st);
            }
            const peer: PeerAssessment | null = stats.length > 0 ? assessPeers(stats, t) : null;
            if (peer?.outlier) signals.push({ code: 'peer_outlier', detail: `${peer.detail}.` });
            const red = redundant.get(ent.id);
            const keeper = red ? { ...nameOf(red.kept), kind: red.kind } : null;
            if (keeper) {
              signals.push({
                code: 'redundant',
                detail:
                  keeper.kind === 'included'
                    ? `Also granted by ${keeper.name} (${keeper.id}), which the user holds: the direct assignment adds nothing.`
                    : `Everything it grants is also granted by ${keeper.name} (${keeper.id}), which the user holds.`,
              });
            }

            const evidence: Evidence[] = [];
            if (ent.app !== null) {
              evidence.push({ kind: 'last_use', value: lastUsed, source: 'activity', at: lastUsed });
              evidence.push({
                kind: 'activity_log_start',
                value: activityStart,
                source: 'activity',
                at: activityStart,
              });
            }
            if (grantedAt)
              evidence.push({ kind: 'granted_at', value: grantedAt, source: 'assignments', at: grantedAt });
            if (holding && holding.source !== 'direct') {
              evidence.push({
                kind: 'inherited_via',
                value: holding.via ?? holding.source,
                source: 'assignments',
                at: null,
              });
            }
            if (keeper) {
              evidence.push({ kind: 'also_granted_by', value: keeper.id, source: 'includes', at: null });
            }
            if (peer?.strongest) {
              evidence.push({
                kind: 'peer_prevalence',
                value: `${peer.strongest.holders}/${peer.strongest.peers} ${peer.strongest.kind}=${peer.strongest.value}`,
                source: 'peers',
                at: asOfIso,
              });
            }
            for (const e of hrEvidence) evidence.push(e);
            const home = entitlementDepartment(ent, peers.homeDepartment.get(ent.id)?.department ?? null);
            const idleDays = lastUsed === null ? null : Math.floor((asOfMs - Date.parse(lastUsed)) / DAY);
            let learned: number | null = null;
            let factors: Factor[] | undefined;
            if (scorer) {
              const usage =
                ent.app === null
                  ? null
                  : usageAt(
                      lastUsed === null ? null : Date.parse(lastUsed),
                      asOfMs,
                      grantedAt === null ? null : Date.parse(grantedAt),
                      appCoverage(coverage, ent.app),
                      t.dormantDays,
                    );
              const f = decisionFeatures(user, ent, home, row.reviewer_id, usage);
              userTerms ??= scorer.fixedTerms(f, isUserFeature);
              const scored = scorer.score(f, userTerms);
              learned = scored.probability;
              // The factors only reach the rationale when history matters for the decision.
              factors = scored.topFactors(4);
              evidence.push({
                kind: 'learned_revoke_probability',
                value: Math.round(learned * 1000) / 1000,
                source: 'decisions',
                at: null,
              });
            }
            // Moved out of the entitlement's home department (true), into it (false), or neither.
            const deptMoves = home === null ? [] : hr.filter((h) => h.field.toLowerCase() === 'department');
            const movedAway = deptMoves.some((h) => h.from === home && h.to !== home)
              ? true
              : deptMoves.some((h) => h.to === home && h.from !== home)
                ? false
                : undefined;
            const rec = recommend(
              {
                signals,
                entitlement: ent,
                user,
                lastUseDays: idleDays,
                peer,
                learnedRevokeProbability: learned,
                learnedBaseRate: model?.prior,
                hrMoveAwayFromEntitlementDept: movedAway,
                learnedFactors: factors,
                assignment: holding
                  ? { source: holding.source, via: holding.via === null ? null : nameOf(holding.via) }
                  : null,
                redundantWith: keeper,
                birthright,
                evidence,
              },
              t,
            );
            const risk = riskScore(signals, ent.sensitivity, ent.privileged);
            for (const s of signals) bySignal[s.code] = (bySignal[s.code] ?? 0) + 1;
            byRecommendation[rec.decision] = (byRecommendation[rec.decision] ?? 0) + 1;
            pending.push({
              item: row,
              risk_score: risk.score,
              risk_level: risk.level,
              signals: JSON.stringify(signals),
              recommendation: JSON.stringify({
                decision: rec.decision,
                confidence: Math.round(rec.confidence * 1000) / 1000,
                rationale: rec.rationale,
                evidence: rec.evidence,
              }),
            });
            items++;
          }
        }
        if (done % 1000 === 0) options.onProgress?.(done, total);
      }
      // Item id order keeps the writes close together in the table and its primary key.
      pending.sort((a, b) => a.item.rowid - b.item.rowid);
      reader.writeResults(pending, now);
    }
  }
  return {
    items,
    users,
    bySignal,
    byRecommendation,
    model: model ? { trained_on: training.length, revokes } : null,
  };
}
