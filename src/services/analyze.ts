import { type RuleThresholds, riskScore, ruleSignals } from '../analysis/risk.js';
import { findSodConflicts } from '../analysis/sod.js';
import type { Signal } from '../domain/index.js';
import type { Store } from '../store/store.js';

export interface AnalyzeOptions extends RuleThresholds {
  asOf: Date;
  /** Only these campaigns; default every active campaign. */
  campaignIds?: string[];
  onProgress?: (done: number, total: number) => void;
}

export interface AnalyzeResult {
  items: number;
  users: number;
  bySignal: Record<string, number>;
}

/**
 * Scores every item of the chosen campaigns in one streaming pass, user by user,
 * and writes risk score, level and signals back to the store. Memory holds one
 * user's context at a time.
 */
export function analyzeCampaigns(store: Store, options: AnalyzeOptions): AnalyzeResult {
  const campaignIds =
    options.campaignIds ?? store.listCampaigns('active').map((c) => c.id);
  const rules = store.sodRules();
  const bySignal: Record<string, number> = {};
  let items = 0;
  let users = 0;
  const now = new Date().toISOString();
  const update = store.stmt(
    `UPDATE review_items SET risk_score = ?, risk_level = ?, signals = ?, analyzed_at = ?
     WHERE id = ? AND (risk_score IS NOT ? OR risk_level IS NOT ? OR signals IS NOT ?)`,
  );
  const itemsOfUser = store.stmt(
    'SELECT id, entitlement_id FROM review_items WHERE campaign_id = ? AND user_id = ? ORDER BY id',
  );
  const grant = store.stmt('SELECT granted_at FROM assignments WHERE user_id = ? AND entitlement_id = ?');

  for (const campaignId of campaignIds) {
    const userIds = store.campaignUserIds(campaignId);
    const total = userIds.length;
    let pending: Array<[number, string, string, string, string]> = [];
    const flush = () => {
      if (pending.length === 0) return;
      const batch = pending;
      pending = [];
      store.db.transaction(() => {
        for (const [score, level, signals, id] of batch) update.run(score, level, signals, now, id, score, level, signals);
      })();
    };
    for (const userId of userIds) {
      users++;
      const user = store.getUser(userId);
      if (!user) continue;
      const held = store.heldEntitlements(userId);
      const heldIds = new Set(held.map((h) => h.id));
      const lastUse = store.lastUseByApp(userId);
      const hr = store.hrChanges(userId);
      const conflicts = rules.length > 0 ? findSodConflicts(userId, rules, heldIds) : [];
      const rows = itemsOfUser.all(campaignId, userId) as Array<{ id: string; entitlement_id: string }>;
      for (const row of rows) {
        const ent = held.find((h) => h.id === row.entitlement_id) ?? store.getEntitlement(row.entitlement_id);
        if (!ent) continue;
        const grantedAt =
          'granted_at' in ent
            ? (ent.granted_at as string | null)
            : ((grant.get(userId, row.entitlement_id) as { granted_at: string | null } | undefined)?.granted_at ?? null);
        const signals: Signal[] = ruleSignals(
          {
            user,
            entitlement: ent,
            grantedAt,
            lastUsed: ent.app === null ? null : (lastUse.get(ent.app) ?? null),
            hrChanges: hr,
            sodConflicts: conflicts.filter((c) => c.entitlement_ids.includes(ent.id)),
            asOf: options.asOf,
          },
          options,
        );
        const risk = riskScore(signals, ent.sensitivity, ent.privileged);
        for (const s of signals) bySignal[s.code] = (bySignal[s.code] ?? 0) + 1;
        pending.push([risk.score, risk.level, JSON.stringify(signals), row.id, '']);
        items++;
        if (pending.length >= 2000) flush();
      }
      if (users % 1000 === 0) options.onProgress?.(users, total);
    }
    flush();
  }
  return { items, users, bySignal };
}
