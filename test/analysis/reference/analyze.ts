/** The analysis pass as it was before the merged scans (one query per user and item), kept as the reference the fast pass must match exactly. */
import { decisionFeatures, entitlementDepartment } from '../../../src/analysis/features.js';
import { explainTopFactors, fitModel, type Model, predict } from '../../../src/analysis/model.js';
import { assessPeers, type PeerAssessment } from '../../../src/analysis/peer-groups.js';
import { recommend } from '../../../src/analysis/recommend.js';
import { findRedundant } from '../../../src/analysis/redundancy.js';
import { riskScore, ruleSignals } from '../../../src/analysis/risk.js';
import { findSodConflicts } from '../../../src/analysis/sod.js';
import { type AnalysisThresholds, defaultThresholds } from '../../../src/analysis/thresholds.js';
import type { Evidence, Signal } from '../../../src/domain/index.js';
import type { Store } from '../../../src/store/store.js';
import { PeerIndex } from './peers.js';

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

/** Past decisions as training rows for the learned model, with the same features items get. */
export function trainingRows(
  store: Store,
  peers: PeerIndex,
  asOf: Date,
  dormantDays: number,
  /** Keep at most this many, the most recent first (a bounded fit on very long histories). */
  limit?: number,
): Array<{ features: Record<string, string | null>; label: 0 | 1; key: string }> {
  const rows: Array<{ features: Record<string, string | null>; label: 0 | 1; key: string }> = [];
  const it = store.db
    .prepare(
      `SELECT d.decision, d.user_id, d.entitlement_id, d.campaign_id, d.reviewer_id, d.decided_at, u.department, u.title,
         u.manager_id, u.location, u.employee_type, u.status, u.attributes, e.app, e.sensitivity, e.privileged, e.type,
         e.attributes AS e_attributes
       FROM past_decisions d JOIN users u ON u.id = d.user_id JOIN entitlements e ON e.id = d.entitlement_id
       ${limit === undefined ? 'ORDER BY d.id' : 'ORDER BY d.decided_at DESC, d.id DESC LIMIT ?'}`,
    )
    .iterate(...(limit === undefined ? [] : [limit])) as Iterable<Record<string, unknown>>;
  const lastUseBefore = store.stmt(
    `SELECT max(at) AS at FROM activity_events WHERE user_id = ? AND app = ? AND outcome = 'success' AND at <= ?`,
  );
  const nowIso = asOf.toISOString();
  for (const r of it) {
    const entId = String(r.entitlement_id);
    const at = (r.decided_at as string | null) ?? nowIso;
    let idle: number | null | undefined;
    if (r.app !== null) {
      const last = (lastUseBefore.get(r.user_id, r.app, at) as { at: string | null }).at;
      idle = last === null ? null : Math.floor((Date.parse(at) - Date.parse(last)) / DAY);
    }
    const entAttrs = JSON.parse(String(r.e_attributes ?? '{}')) as Record<string, string>;
    rows.push({
      label: r.decision === 'revoke' ? 1 : 0,
      key: `${r.user_id}\u0000${entId}`,
      features: decisionFeatures(
        {
          department: (r.department as string | null) ?? null,
          title: (r.title as string | null) ?? null,
          manager_id: (r.manager_id as string | null) ?? null,
          location: (r.location as string | null) ?? null,
          employee_type: r.employee_type as 'employee',
          status: r.status as 'active',
          attributes: JSON.parse(String(r.attributes ?? '{}')) as Record<string, string>,
        },
        {
          id: entId,
          app: (r.app as string | null) ?? null,
          sensitivity: r.sensitivity as 'medium',
          privileged: r.privileged === 1,
          type: r.type as 'group',
          attributes: entAttrs,
        },
        entitlementDepartment({ attributes: entAttrs }, peers.homeDepartment.get(entId)?.department ?? null),
        (r.reviewer_id as string | null) ?? null,
        idle,
        dormantDays,
      ),
    });
  }
  return rows;
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

  const update = store.stmt(
    `UPDATE review_items SET risk_score = ?, risk_level = ?, signals = ?, recommendation = ?, analyzed_at = ? WHERE id = ?`,
  );
  const itemsOfUser = store.stmt(
    'SELECT id, entitlement_id, reviewer_id FROM review_items WHERE campaign_id = ? AND user_id = ? ORDER BY id',
  );

  for (const campaignId of campaignIds) {
    const userIds = store.campaignUserIds(campaignId);
    const total = userIds.length;
    let pending: unknown[][] = [];
    const flush = () => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      store.db.transaction(() => {
        for (const row of batch) update.run(...row);
      })();
    };
    let done = 0;
    for (const userId of userIds) {
      done++;
      users++;
      const user = store.getUser(userId);
      if (!user) continue;
      const held = store.heldEntitlements(userId);
      const heldById = new Map(held.map((h) => [h.id, h]));
      const lastUse = store.lastUseByApp(userId);
      const hr = store.hrChanges(userId);
      const conflicts = rules.length > 0 ? findSodConflicts(userId, rules, heldById.keys()) : [];
      const redundant = findRedundant(held.map((h) => ({ ...h, entitlement_id: h.id })));
      const peerValues: Array<[string, string | null]> = peers.kinds.map((k) => {
        if (k.kind === 'department') return [k.kind, user.department];
        if (k.kind === 'title') return [k.kind, user.title];
        if (k.kind === 'manager') return [k.kind, user.manager_id];
        if (k.kind === 'location') return [k.kind, user.location];
        return [k.kind, user.attributes[k.kind.slice(5)] ?? null];
      });
      for (const row of itemsOfUser.all(campaignId, userId) as Array<{
        id: string;
        entitlement_id: string;
        reviewer_id: string | null;
      }>) {
        const holding = heldById.get(row.entitlement_id);
        const ent = holding ?? store.getEntitlement(row.entitlement_id);
        if (!ent) continue;
        const grantedAt = holding?.granted_at ?? null;
        const lastUsed = ent.app === null ? null : (lastUse.get(ent.app) ?? null);
        const signals: Signal[] = ruleSignals(
          {
            user,
            entitlement: ent,
            grantedAt,
            lastUsed,
            hrChanges: hr,
            sodConflicts: conflicts.filter((c) => c.entitlement_ids.includes(ent.id)),
            asOf: options.asOf,
          },
          t,
        );
        const stats = peers.statsFor(peerValues, ent.id, user.status === 'active', holding !== undefined);
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
            at: options.asOf.toISOString(),
          });
        }
        for (const h of hr) {
          evidence.push({
            kind: `hr_change:${h.field}`,
            value: `${h.from ?? ''} -> ${h.to ?? ''}`,
            source: 'hr_changes',
            at: h.at,
          });
        }
        const home = entitlementDepartment(ent, peers.homeDepartment.get(ent.id)?.department ?? null);
        const idleDays =
          lastUsed === null ? null : Math.floor((options.asOf.getTime() - Date.parse(lastUsed)) / DAY);
        let learned: number | null = null;
        let factors: ReturnType<typeof explainTopFactors> | undefined;
        if (model) {
          const f = decisionFeatures(
            user,
            ent,
            home,
            row.reviewer_id,
            ent.app === null ? undefined : idleDays,
            t.dormantDays,
          );
          learned = predict(model, f);
          // The factors only reach the rationale when history matters for the decision.
          if (learned >= t.learnedEscalateThreshold) factors = explainTopFactors(model, f, 2);
          evidence.push({
            kind: 'learned_revoke_probability',
            value: Math.round(learned * 1000) / 1000,
            source: 'decisions',
            at: null,
          });
        }
        const movedAway = hr.some(
          (h) => h.field.toLowerCase() === 'department' && home !== null && h.from === home && h.to !== home,
        );
        const rec = recommend(
          {
            signals,
            entitlement: ent,
            user,
            lastUseDays:
              lastUsed === null ? null : Math.floor((options.asOf.getTime() - Date.parse(lastUsed)) / DAY),
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
        pending.push([
          risk.score,
          risk.level,
          JSON.stringify(signals),
          JSON.stringify({
            decision: rec.decision,
            confidence: Math.round(rec.confidence * 1000) / 1000,
            rationale: rec.rationale,
            evidence: rec.evidence,
          }),
          now,
          row.id,
        ]);
        items++;
        if (pending.length >= 2000) flush();
      }
      if (done % 1000 === 0) options.onProgress?.(done, total);
    }
    flush();
  }
  return {
    items,
    users,
    bySignal,
    byRecommendation,
    model: model ? { trained_on: training.length, revokes } : null,
  };
}
