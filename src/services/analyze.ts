import { decisionFeatures, entitlementDepartment } from '../analysis/features.js';
import { type EncodedTerm, type Factor, fitModel, type Model, ModelScorer } from '../analysis/model.js';
import { assessPeers, type PeerAssessment } from '../analysis/peer-groups.js';
import { recommend } from '../analysis/recommend.js';
import { findRedundant } from '../analysis/redundancy.js';
import { riskScore, ruleSignals } from '../analysis/risk.js';
import { findSodConflicts } from '../analysis/sod.js';
import { type AnalysisThresholds, defaultThresholds } from '../analysis/thresholds.js';
import type { Entitlement, Evidence, Signal } from '../domain/index.js';
import { AnalysisReader } from '../store/analysis-reads.js';
import { PeerIndex } from '../store/peers.js';
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

/** Past decisions as training rows for the learned model, with the same features items get. */
export function trainingRows(
  store: Store,
  peers: PeerIndex,
  asOf: Date,
  dormantDays: number,
  /** Keep at most this many, the most recent first (a bounded fit on very long histories). */
  limit?: number,
): Array<{ features: Record<string, string | null>; label: 0 | 1; key: string }> {
  const reader = new AnalysisReader(store);
  const decisions = reader.decisions(limit);
  const ents = reader.entitlements();
  const rows: Array<{ features: Record<string, string | null>; label: 0 | 1; key: string }> = new Array(
    decisions.length,
  );
  // The last successful use of the app up to the decision, for a whole chunk of decisions
  // ([user, app, at] triples) per query, in the triples' order.
  const lastUsesBefore = store.stmt(
    `SELECT (SELECT max(at) FROM activity_events
       WHERE user_id = json_extract(j.value, '$[0]') AND app = json_extract(j.value, '$[1]')
         AND outcome = 'success' AND at <= json_extract(j.value, '$[2]'))
     FROM json_each(?) j ORDER BY j.key`,
  );
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
    for (const userId of chunk) {
      if (!users.has(userId)) continue;
      for (const i of byUser.get(userId)!) {
        const r = decisions[i]!;
        const app = ents.get(r.entitlement_id)?.app;
        if (app !== null && app !== undefined) asked.push([r.user_id, app, r.decided_at ?? nowIso]);
      }
    }
    const lastUses =
      asked.length === 0 ? [] : (lastUsesBefore.pluck().all(JSON.stringify(asked)) as Array<string | null>);
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
        let idle: number | null | undefined;
        if (ent.app !== null) {
          const last = lastUses[next++] ?? null;
          idle = last === null ? null : Math.floor((Date.parse(at) - Date.parse(last)) / DAY);
        }
        rows[i] = {
          label: r.decision === 'revoke' ? 1 : 0,
          key: `${r.user_id}\u0000${r.entitlement_id}`,
          features: decisionFeatures(
            user,
            ent,
            entitlementDepartment(ent, peers.homeDepartment.get(ent.id)?.department ?? null),
            r.reviewer_id ?? null,
            idle,
            dormantDays,
          ),
        };
      }
    }
  }
  return rows.filter((r) => r !== undefined);
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

  const peers = new PeerIndex(store.db);
  const training = trainingRows(
    store,
    peers,
    options.asOf,
    options.dormantDays,
    options.maxTrainingRows ?? 100_000,
  );
  const revokes = training.filter((r) => r.label === 1).length;
  let model: Model | null = null;
  if (training.length >= (options.minTrainingRows ?? 200) && revokes >= 10 && revokes < training.length) {
    model = fitModel(training, { seed: 7 });
  }

  const scorer = model ? new ModelScorer(model) : null;
  const reader = new AnalysisReader(store);
  const ents = reader.entitlements();
  const asOfIso = options.asOf.toISOString();
  const asOfMs = options.asOf.getTime();
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
          const heldById = new Map<string, { ent: Entitlement; grantedAt: string | null }>();
          for (const a of heldOf.get(userId) ?? []) {
            const ent = ents.get(a.entitlement_id);
            if (ent) heldById.set(ent.id, { ent, grantedAt: a.granted_at });
          }
          const lastUse = new Map((lastUseOf.get(userId) ?? []).map((r) => [r.app, r.last_used]));
          const hr = hrOf.get(userId) ?? [];
          const conflicts = rules.length > 0 ? findSodConflicts(userId, rules, heldById.keys()) : [];
          const redundant = findRedundant(
            [...heldById.values()].map((h) => ({
              entitlement_id: h.ent.id,
              app: h.ent.app,
              privileged: h.ent.privileged,
              sensitivity: h.ent.sensitivity,
            })),
          );
          const peerValues: Array<[string, string | null]> = peers.kinds.map((k) => {
            if (k.kind === 'department') return [k.kind, user.department];
            if (k.kind === 'title') return [k.kind, user.title];
            if (k.kind === 'manager') return [k.kind, user.manager_id];
            if (k.kind === 'location') return [k.kind, user.location];
            return [k.kind, user.attributes[k.kind.slice(5)] ?? null];
          });
          const cohorts = peers.cohortsOf(peerValues);
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
            const signals: Signal[] = ruleSignals(
              {
                user,
                entitlement: ent,
                grantedAt,
                lastUsed,
                hrChanges: hr,
                sodConflicts:
                  conflicts.length === 0
                    ? conflicts
                    : conflicts.filter((c) => c.entitlement_ids.includes(ent.id)),
                asOf: options.asOf,
              },
              t,
            );
            const stats = peers.statsOfCohorts(cohorts, ent.id, active, holding !== undefined);
            const peer: PeerAssessment | null = stats.length > 0 ? assessPeers(stats, t) : null;
            if (peer?.outlier) signals.push({ code: 'peer_outlier', detail: `${peer.detail}.` });
            const red = redundant.get(ent.id);
            if (red) signals.push({ code: 'redundant', detail: red.detail });

            const evidence: Evidence[] = [];
            if (ent.app !== null) {
              evidence.push({ kind: 'last_use', value: lastUsed, source: 'activity', at: lastUsed });
            }
            if (grantedAt)
              evidence.push({ kind: 'granted_at', value: grantedAt, source: 'assignments', at: grantedAt });
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
              const f = decisionFeatures(
                user,
                ent,
                home,
                row.reviewer_id,
                ent.app === null ? undefined : idleDays,
                t.dormantDays,
              );
              userTerms ??= scorer.fixedTerms(f, isUserFeature);
              const scored = scorer.score(f, userTerms);
              learned = scored.probability;
              // The factors only reach the rationale when history matters for the decision.
              if (learned >= t.learnedEscalateThreshold) factors = scored.topFactors(2);
              evidence.push({
                kind: 'learned_revoke_probability',
                value: Math.round(learned * 1000) / 1000,
                source: 'decisions',
                at: null,
              });
            }
            const movedAway = hr.some(
              (h) =>
                h.field.toLowerCase() === 'department' && home !== null && h.from === home && h.to !== home,
            );
            const rec = recommend(
              {
                signals,
                entitlement: ent,
                user,
                lastUseDays: idleDays,
                peer,
                learnedRevokeProbability: learned,
                hrMoveAwayFromEntitlementDept: movedAway,
                learnedFactors: factors,
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
