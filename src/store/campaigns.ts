import type { Statement } from 'better-sqlite3';
import type { Db } from './db.js';

/** Which current assignments a campaign of Attest's own covers: every given filter must hold. */
export interface AssignmentScope {
  platform?: string;
  app?: string;
  department?: string;
  entitlement_ids?: readonly string[];
  user_ids?: readonly string[];
  /** Only people whose department or title changed at or after this time (ISO). */
  changed_since?: string;
}

/** One assignment in a campaign's scope, with the engine's latest scoring of the same pair. */
export interface ScopedAssignmentRow {
  user_id: string;
  entitlement_id: string;
  platform: string;
  manager_id: string | null;
  owner_id: string | null;
  app: string | null;
  /** Risk of the most recently analysed review item of the same person and entitlement, or null. */
  risk: number | null;
  /** Its signals (JSON array text), or null. */
  signals: string | null;
}

/** A campaign of Attest's own to insert, with its items. */
export interface LocalCampaign {
  id: string;
  platform: string;
  name: string;
  created_at: string;
  due_at: string | null;
  attributes: Record<string, unknown>;
  platform_campaign_id: string | null;
  items: ReadonlyArray<{
    id: string;
    user_id: string;
    entitlement_id: string;
    reviewer_id: string | null;
    platform: string;
  }>;
}

/** Campaigns Attest builds itself: which assignments a scope covers, and writing the campaign. */
export class CampaignsRepo {
  /** One statement per combination of filters (at most 2^6). */
  private readonly scoped = new Map<string, Statement<unknown[]>>();

  constructor(private readonly db: Db) {}

  /** The current assignments a scope covers, by user id then entitlement id. */
  scopedAssignments(scope: AssignmentScope): ScopedAssignmentRow[] {
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (scope.platform) {
      where.push('e.platform = @platform');
      params.platform = scope.platform;
    }
    if (scope.app) {
      where.push('e.app = @app');
      params.app = scope.app;
    }
    if (scope.department) {
      where.push('u.department = @department');
      params.department = scope.department;
    }
    if (scope.entitlement_ids) {
      where.push('a.entitlement_id IN (SELECT value FROM json_each(@ents))');
      params.ents = JSON.stringify(scope.entitlement_ids);
    }
    if (scope.user_ids) {
      where.push('a.user_id IN (SELECT value FROM json_each(@users))');
      params.users = JSON.stringify(scope.user_ids);
    }
    if (scope.changed_since) {
      where.push(
        "a.user_id IN (SELECT user_id FROM hr_changes WHERE field IN ('department','title') AND at >= @since)",
      );
      params.since = scope.changed_since;
    }
    const sql = `SELECT a.user_id, a.entitlement_id, e.platform, u.manager_id, e.owner_id, e.app,
         (SELECT i.risk_score FROM review_items i WHERE i.user_id = a.user_id AND i.entitlement_id = a.entitlement_id
            AND i.analyzed_at IS NOT NULL ORDER BY i.analyzed_at DESC LIMIT 1) AS risk,
         (SELECT i.signals FROM review_items i WHERE i.user_id = a.user_id AND i.entitlement_id = a.entitlement_id
            AND i.analyzed_at IS NOT NULL ORDER BY i.analyzed_at DESC LIMIT 1) AS signals
       FROM assignments a JOIN users u ON u.id = a.user_id JOIN entitlements e ON e.id = a.entitlement_id
       ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY a.user_id, a.entitlement_id`;
    let s = this.scoped.get(sql);
    if (!s) {
      s = this.db.prepare<unknown[]>(sql);
      this.scoped.set(sql, s);
    }
    return s.all(params) as ScopedAssignmentRow[];
  }

  /**
   * Inserts an active campaign and its items (each item's external id is `attest:<item id>`).
   * Runs in the caller's transaction.
   */
  insertLocal(c: LocalCampaign): void {
    this.db
      .prepare(
        `INSERT INTO campaigns (id, platform, external_id, name, status, created_at, due_at, attributes, updated_at, platform_campaign_id)
         VALUES (?, ?, ?, ?, 'active', ?, ?, ?, ?, ?)`,
      )
      .run(
        c.id,
        c.platform,
        c.id,
        c.name,
        c.created_at,
        c.due_at,
        JSON.stringify(c.attributes),
        c.created_at,
        c.platform_campaign_id,
      );
    const ins = this.db.prepare(
      `INSERT INTO review_items (id, campaign_id, user_id, entitlement_id, reviewer_id, platform, external_id, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const i of c.items) {
      ins.run(
        i.id,
        c.id,
        i.user_id,
        i.entitlement_id,
        i.reviewer_id,
        i.platform,
        `attest:${i.id}`,
        c.created_at,
      );
    }
  }
}
