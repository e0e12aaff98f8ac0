import type { Entitlement, HrChange, User } from '../domain/index.js';
import { rowToEntitlement, rowToHrChange, rowToUser, type Store } from './store.js';

/** One review item as the analysis pass needs it. */
export interface AnalysisItemRow {
  /** The row's rowid, for a write that needs no primary-key search (check `id` with it). */
  rowid: number;
  id: string;
  user_id: string;
  entitlement_id: string;
  reviewer_id: string | null;
  /** The stored score and level (an update that keeps them leaves the risk indexes alone). */
  risk_score: number;
  risk_level: string;
}

/** One assignment (a user holding an entitlement), without the entitlement's details. */
export interface AnalysisAssignmentRow {
  user_id: string;
  entitlement_id: string;
  granted_at: string | null;
  /** `direct`, or `group` / `rule` for an inherited assignment. */
  source: 'direct' | 'group' | 'rule';
  /** For an inherited assignment: the entitlement it comes through, when known. */
  via: string | null;
}

/** Last successful use of one app by one user (from the activity rollup). */
export interface AnalysisLastUseRow {
  user_id: string;
  app: string;
  last_used: string | null;
}

/** A past decision as a training row needs it, before the user and entitlement are looked up. */
export interface DecisionRow {
  decision: string;
  user_id: string;
  entitlement_id: string;
  reviewer_id: string | null;
  decided_at: string | null;
  campaign_id: string | null;
  /**
   * For a decision recorded through the tools: what the engine had recommended when it was
   * proposed (null for imported decisions, or when unknown).
   */
  engine_decision: string | null;
}

/**
 * Past decisions a human made: a policy class's automatic decisions (reviewer `policy:<class>`)
 * are neither training data nor backtest data, or the model would learn from its own output.
 */
const HUMAN_DECISION = "(d.reviewer_id IS NULL OR d.reviewer_id NOT LIKE 'policy:%')";

/**
 * Range reads for the analysis pass: each one returns every row of one table whose user id is
 * in `[lo, hi]` (inclusive, SQLite's binary order), ordered by user id, so a pass over users
 * in id order can step through all of them side by side with one query per table and range
 * instead of several queries per user.
 */
export class AnalysisReader {
  constructor(private readonly store: Store) {}

  /** Every entitlement by id, attributes parsed once. */
  entitlements(): Map<string, Entitlement> {
    const out = new Map<string, Entitlement>();
    for (const r of this.store.stmt('SELECT * FROM entitlements ORDER BY id').all() as Array<
      Record<string, unknown>
    >) {
      const e = rowToEntitlement(r);
      out.set(e.id, e);
    }
    return out;
  }

  /** What each entitlement grants to its holders (entitlement id -> included ids), as stored. */
  includes(): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const [from, to] of this.store
      .stmt(
        'SELECT entitlement_id, included_id FROM entitlement_includes ORDER BY entitlement_id, included_id',
      )
      .raw()
      .all() as Array<[string, string]>) {
      const list = out.get(from);
      if (list) list.push(to);
      else out.set(from, [to]);
    }
    return out;
  }

  /** Every user's manager id (null for none), for manager-chain checks. */
  managers(): Map<string, string | null> {
    return new Map(
      this.store.stmt('SELECT id, manager_id FROM users').raw().all() as Array<[string, string | null]>,
    );
  }

  /**
   * The time of the first event in the activity log (successful or failed), or null when the log
   * is empty: one scan of the per user x app rollup.
   */
  activityStart(): string | null {
    const r = this.store
      .stmt(
        `SELECT min(min(coalesce(first_used, last_failed), coalesce(last_failed, first_used))) AS at
         FROM activity_rollup`,
      )
      .get() as { at: string | null };
    return r.at;
  }

  /** The apps the activity log has any event of (successful or failed). */
  loggedApps(): Set<string> {
    return new Set(this.store.stmt('SELECT DISTINCT app FROM activity_rollup').pluck().all() as string[]);
  }

  /** Users with ids in `[lo, hi]`, in id order. */
  users(lo: string, hi: string): User[] {
    return (
      this.store.stmt('SELECT * FROM users WHERE id >= ? AND id <= ? ORDER BY id').all(lo, hi) as Array<
        Record<string, unknown>
      >
    ).map((r) => rowToUser(r));
  }

  /** Users by id (any order), for the given ids only. */
  usersByIds(ids: readonly string[]): User[] {
    return (
      this.store
        .stmt('SELECT * FROM users WHERE id IN (SELECT value FROM json_each(?))')
        .all(JSON.stringify(ids)) as Array<Record<string, unknown>>
    ).map((r) => rowToUser(r));
  }

  /** Assignments of users in `[lo, hi]`, by user id then entitlement id. */
  assignments(lo: string, hi: string): AnalysisAssignmentRow[] {
    return this.store
      .stmt(
        `SELECT user_id, entitlement_id, granted_at, source, via FROM assignments WHERE user_id >= ? AND user_id <= ?
         ORDER BY user_id, entitlement_id`,
      )
      .all(lo, hi) as AnalysisAssignmentRow[];
  }

  /** The activity rollup's last use per (user, app) for users in `[lo, hi]`, by user id. */
  lastUse(lo: string, hi: string): AnalysisLastUseRow[] {
    return this.store
      .stmt(
        `SELECT user_id, app, last_used FROM activity_rollup WHERE user_id >= ? AND user_id <= ?
         ORDER BY user_id, app`,
      )
      .all(lo, hi) as AnalysisLastUseRow[];
  }

  /** HR changes of users in `[lo, hi]`, by user id, then time and id (as {@link Store.hrChanges}). */
  hrChanges(lo: string, hi: string): HrChange[] {
    return (
      this.store
        .stmt(
          `SELECT user_id, field, from_value, to_value, at FROM hr_changes WHERE user_id >= ? AND user_id <= ?
           ORDER BY user_id, at, id`,
        )
        .all(lo, hi) as Array<Record<string, unknown>>
    ).map(rowToHrChange);
  }

  /** Grant dates of the given (user, entitlement) pairs that are still assigned, keyed `user\u0000entitlement`. */
  grantDates(pairs: ReadonlyArray<readonly [string, string]>): Map<string, string | null> {
    const out = new Map<string, string | null>();
    if (pairs.length === 0) return out;
    const rows = this.store
      .stmt(
        `SELECT a.user_id, a.entitlement_id, a.granted_at FROM json_each(?) j
         JOIN assignments a ON a.user_id = json_extract(j.value, '$[0]') AND a.entitlement_id = json_extract(j.value, '$[1]')`,
      )
      .raw()
      .all(JSON.stringify(pairs)) as Array<[string, string, string | null]>;
    for (const [u, e, g] of rows) out.set(`${u}\u0000${e}`, g);
    return out;
  }

  /**
   * The last successful use of an app up to a time, for each `[user, app, at]` triple (ISO
   * `at`), in the triples' order: null where there is none. One query for the whole list.
   */
  lastUsesBefore(asked: ReadonlyArray<readonly [string, string, string]>): Array<string | null> {
    if (asked.length === 0) return [];
    return this.store
      .stmt(
        `SELECT (SELECT max(at) FROM activity_events
           WHERE user_id = json_extract(j.value, '$[0]') AND app = json_extract(j.value, '$[1]')
             AND outcome = 'success' AND at <= json_extract(j.value, '$[2]'))
         FROM json_each(?) j ORDER BY j.key`,
      )
      .pluck()
      .all(JSON.stringify(asked)) as Array<string | null>;
  }

  /** A campaign's items of users in `[lo, hi]`, by user id then item id. */
  campaignItems(campaignId: string, lo: string, hi: string): AnalysisItemRow[] {
    return this.store
      .stmt(
        `SELECT rowid, id, user_id, entitlement_id, reviewer_id, risk_score, risk_level FROM review_items
         WHERE campaign_id = ? AND user_id >= ? AND user_id <= ? ORDER BY user_id, id`,
      )
      .all(campaignId, lo, hi) as AnalysisItemRow[];
  }

  /**
   * Writes analysis results. When an item's score and level are what the row already holds, only
   * the signals, recommendation and time are written, so the three risk indexes are not touched
   * (a re-analysis mostly keeps scores). Rows are found by rowid, checked against the item id.
   */
  writeResults(
    results: ReadonlyArray<{
      item: Pick<AnalysisItemRow, 'rowid' | 'id' | 'risk_score' | 'risk_level'>;
      risk_score: number;
      risk_level: string;
      signals: string;
      recommendation: string;
    }>,
    analyzedAt: string,
  ): void {
    const full = this.store.stmt(
      `UPDATE review_items SET risk_score = ?, risk_level = ?, signals = ?, recommendation = ?, analyzed_at = ?
       WHERE id = ?`,
    );
    const fullByRowid = this.store.stmt(
      `UPDATE review_items SET risk_score = ?, risk_level = ?, signals = ?, recommendation = ?, analyzed_at = ?
       WHERE rowid = ? AND id = ?`,
    );
    const same = this.store.stmt(
      `UPDATE review_items SET signals = ?, recommendation = ?, analyzed_at = ?
       WHERE rowid = ? AND id = ? AND risk_score = ? AND risk_level = ?`,
    );
    this.store.db.transaction(() => {
      for (const r of results) {
        const { item } = r;
        const done =
          r.risk_score === item.risk_score && r.risk_level === item.risk_level
            ? same.run(
                r.signals,
                r.recommendation,
                analyzedAt,
                item.rowid,
                item.id,
                r.risk_score,
                r.risk_level,
              )
            : fullByRowid.run(
                r.risk_score,
                r.risk_level,
                r.signals,
                r.recommendation,
                analyzedAt,
                item.rowid,
                item.id,
              );
        // The row moved or changed since it was read: fall back to the plain update by id.
        if (done.changes === 0)
          full.run(r.risk_score, r.risk_level, r.signals, r.recommendation, analyzedAt, item.id);
      }
    })();
  }

  /**
   * Past decisions whose user and entitlement exist: all of them in id order, or the `limit`
   * most recent (decided_at, then id, descending).
   */
  decisions(limit?: number): DecisionRow[] {
    if (limit === undefined || !Number.isSafeInteger(limit) || limit < 0) {
      return this.store
        .stmt(
          `SELECT d.decision, d.user_id, d.entitlement_id, d.reviewer_id, d.decided_at, d.campaign_id,
           CASE WHEN d.source = 'tool' THEN (SELECT p.engine_decision FROM review_items i
             JOIN proposals p ON p.item_id = i.id AND p.status = 'applied'
             WHERE i.campaign_id = d.campaign_id AND i.user_id = d.user_id AND i.entitlement_id = d.entitlement_id
             ORDER BY p.proposed_at DESC, p.id DESC LIMIT 1) END AS engine_decision
           FROM past_decisions d JOIN users u ON u.id = d.user_id JOIN entitlements e ON e.id = d.entitlement_id
           WHERE ${HUMAN_DECISION}
           ${limit === undefined ? 'ORDER BY d.id' : 'ORDER BY d.decided_at DESC, d.id DESC LIMIT ?'}`,
        )
        .all(...(limit === undefined ? [] : [limit])) as DecisionRow[];
    }
    // The most recent `limit` of the decisions (a top-N sort of the table alone), then the ones
    // whose user or entitlement is gone are dropped and, if that left too few, the next ones
    // fetched: the same rows as joining before sorting, without a join per decision.
    const recent = this.store.stmt(
      `SELECT d.decision, d.user_id, d.entitlement_id, d.reviewer_id, d.decided_at, d.campaign_id,
           CASE WHEN d.source = 'tool' THEN (SELECT p.engine_decision FROM review_items i
             JOIN proposals p ON p.item_id = i.id AND p.status = 'applied'
             WHERE i.campaign_id = d.campaign_id AND i.user_id = d.user_id AND i.entitlement_id = d.entitlement_id
             ORDER BY p.proposed_at DESC, p.id DESC LIMIT 1) END AS engine_decision
       FROM past_decisions d WHERE ${HUMAN_DECISION} ORDER BY d.decided_at DESC, d.id DESC LIMIT ?`,
    );
    const existing = (table: 'users' | 'entitlements', ids: Set<string>): Set<string> =>
      new Set(
        this.store
          .stmt(`SELECT id FROM ${table} WHERE id IN (SELECT value FROM json_each(?))`)
          .pluck()
          .all(JSON.stringify([...ids])) as string[],
      );
    let fetch = limit;
    for (;;) {
      const rows = recent.all(fetch) as DecisionRow[];
      const users = existing('users', new Set(rows.map((r) => r.user_id)));
      const ents = existing('entitlements', new Set(rows.map((r) => r.entitlement_id)));
      const kept = rows.filter((r) => users.has(r.user_id) && ents.has(r.entitlement_id));
      if (kept.length >= limit || rows.length < fetch) return kept.slice(0, limit);
      fetch = fetch * 2 + 1000;
    }
  }
}
