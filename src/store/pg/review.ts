import { createHash } from 'node:crypto';
import type { Campaign, CampaignStatus, CampaignSummary, Platform } from '../../domain/index.js';
import { type AuditEntry, canonicalJson } from '../audit.js';
import {
  type ConfirmationRow,
  type NewProposal,
  newId,
  type OutboxStatusRow,
  type ProposalRow,
} from '../decisions.js';
import {
  ENT_COLS,
  type ItemQuery,
  type ItemRow,
  parseJson,
  rowToCampaignSummary,
  rowToItem,
  USER_COLS,
} from '../store.js';
import { PgAuditLog } from './audit.js';
import { inTransaction, type PgClient, type PgPool } from './db.js';

type Row = Record<string, unknown>;

/**
 * One item with its user, entitlement, latest proposal, decision and open escalation: the
 * SQLite store's select in PostgreSQL's dialect, giving the same columns.
 */
const ITEM_SELECT = `
  SELECT i.id AS item_id, i.campaign_id, i.status, i.reviewer_id, i.risk_score, i.risk_level,
         i.signals, i.recommendation, i.user_id, i.entitlement_id,
         ${USER_COLS.map((c) => `u.${c} AS u_${c}`).join(', ')},
         ${ENT_COLS.map((c) => `e.${c} AS e_${c}`).join(', ')},
         p.id AS p_id, p.decision AS p_decision, p.rationale AS p_rationale, p.proposed_by AS p_by, p.proposed_at AS p_at,
         d.decision AS d_decision, d.decided_by AS d_by, d.decided_at AS d_at, d.confirmation_id AS d_cid,
         d.channel AS d_channel, d.confirmed_by AS d_cby, d.confirmed_at AS d_cat,
         d.proposed_by AS d_pby, d.submitted_by AS d_sby, d.assurance AS d_assurance,
         (SELECT json_build_object('from_reviewer', x.from_reviewer, 'to_reviewer', x.to_reviewer, 'note', x.note,
                  'escalated_by', x.escalated_by, 'escalated_at', x.escalated_at)::text
            FROM escalations x WHERE x.item_id = i.id AND x.resolved_at IS NULL ORDER BY x.id DESC LIMIT 1) AS esc
  FROM review_items i
  JOIN users u ON u.id = i.user_id
  JOIN entitlements e ON e.id = i.entitlement_id
  LEFT JOIN LATERAL (SELECT p2.* FROM proposals p2 WHERE p2.item_id = i.id AND p2.status IN ('draft','applied')
                     ORDER BY p2.proposed_at COLLATE "C" DESC, p2.id COLLATE "C" DESC LIMIT 1) p ON true
  LEFT JOIN item_decisions d ON d.item_id = i.id`;

const ESCALATED =
  "i.status <> 'decided' AND i.id IN (SELECT item_id FROM escalations WHERE resolved_at IS NULL)";

/** node-postgres returns BIGINT and numeric columns as strings; the item row wants numbers. */
function itemOf(r: Row): ItemRow {
  return rowToItem({ ...r, risk_score: Number(r.risk_score) });
}

function confirmationOf(r: Row): ConfirmationRow {
  return {
    ...(r as unknown as ConfirmationRow),
    proposal_ids: JSON.parse(String(r.proposal_ids)) as string[],
  };
}

function proposalOf(r: Row): ProposalRow {
  return {
    ...(r as unknown as ProposalRow),
    confidence: r.confidence === null ? null : Number(r.confidence),
  };
}

/** Parameters numbered in order ($1, $2, …) as a query is built. */
class Params {
  readonly values: unknown[] = [];
  add(v: unknown): string {
    this.values.push(v);
    return `$${this.values.length}`;
  }
}

/**
 * The review path on PostgreSQL: campaigns and their items (keyset pages in the SQLite
 * store's order: ids compared byte by byte), proposals, confirmations and queueing a
 * confirmed batch into the outbox. Writes that carry an audit entry append it in their own
 * transaction (the audit lock is taken last, so it is held only for the commit).
 */
export class PgReview {
  private readonly audit: PgAuditLog;
  constructor(private readonly pool: PgPool) {
    this.audit = new PgAuditLog(pool);
  }

  async listCampaigns(status?: CampaignStatus, reviewerIds?: string[]): Promise<CampaignSummary[]> {
    if (reviewerIds !== undefined) {
      const rows = (
        await this.pool.query(
          `SELECT c.id, c.name, c.platform, c.status, c.created_at, c.due_at, c.platform_campaign_id, count(*) AS total,
             count(*) FILTER (WHERE i.status = 'pending') AS pending, count(*) FILTER (WHERE i.status = 'proposed') AS proposed,
             count(*) FILTER (WHERE i.status = 'decided') AS decided
           FROM review_items i JOIN campaigns c ON c.id = i.campaign_id
           WHERE i.reviewer_id = ANY ($1::text[]) AND ($2::text IS NULL OR c.status = $2)
           GROUP BY c.id ORDER BY c.created_at COLLATE "C" DESC, c.id COLLATE "C"`,
          [reviewerIds, status ?? null],
        )
      ).rows;
      return rows.map(rowToCampaignSummary);
    }
    const rows = (
      await this.pool.query(
        `SELECT c.id, c.name, c.platform, c.status, c.created_at, c.due_at, c.platform_campaign_id,
           (SELECT coalesce(sum(n), 0) FROM review_item_counts k WHERE k.campaign_id = c.id) AS total,
           (SELECT coalesce(sum(n), 0) FROM review_item_counts k WHERE k.campaign_id = c.id AND k.status = 'pending') AS pending,
           (SELECT coalesce(sum(n), 0) FROM review_item_counts k WHERE k.campaign_id = c.id AND k.status = 'proposed') AS proposed,
           (SELECT coalesce(sum(n), 0) FROM review_item_counts k WHERE k.campaign_id = c.id AND k.status = 'decided') AS decided
         FROM campaigns c WHERE ($1::text IS NULL OR c.status = $1) ORDER BY c.created_at COLLATE "C" DESC, c.id COLLATE "C"`,
        [status ?? null],
      )
    ).rows;
    return rows.map(rowToCampaignSummary);
  }

  async campaign(id: string): Promise<Campaign | undefined> {
    const r = (await this.pool.query('SELECT * FROM campaigns WHERE id = $1', [id])).rows[0] as
      | Row
      | undefined;
    return r
      ? {
          id: String(r.id),
          platform: r.platform as Platform,
          external_id: String(r.external_id),
          name: String(r.name),
          status: r.status as CampaignStatus,
          created_at: String(r.created_at),
          due_at: r.due_at === null ? null : String(r.due_at),
        }
      : undefined;
  }

  private filters(q: Omit<ItemQuery, 'sort' | 'limit' | 'after'>, p: Params): string[] {
    const where = [`i.campaign_id = ${p.add(q.campaign_id)}`];
    if (q.status === 'escalated') where.push(ESCALATED);
    else if (q.status !== 'all') where.push(`i.status = ${p.add(q.status)}`);
    if (q.reviewer_ids !== undefined) {
      where.push(
        q.reviewer_ids.length === 1
          ? `i.reviewer_id = ${p.add(q.reviewer_ids[0])}`
          : `i.reviewer_id = ANY (${p.add(q.reviewer_ids)}::text[])`,
      );
    }
    if (q.min_risk !== undefined && q.min_risk > 0) where.push(`i.risk_score >= ${p.add(q.min_risk)}`);
    return where;
  }

  /**
   * One keyset page, as the SQLite store's campaignItemsPage: risk order is (risk_score DESC,
   * id), user order (user_id, id), ids compared byte by byte; the cursor key is the last
   * row's (risk_score, id) or (user_id, id).
   */
  async itemsPage(
    q: ItemQuery,
  ): Promise<{ items: ItemRow[]; last: Array<string | number> | null; hasMore: boolean }> {
    const p = new Params();
    const base = this.filters(q, p).join(' AND ');
    const limit = p.add(q.limit + 1);
    const cols = 'SELECT i.id, i.risk_score, i.user_id FROM review_items i WHERE';
    let sql: string;
    if (q.sort === 'risk') {
      const order = 'ORDER BY i.risk_score DESC, i.id COLLATE "C"';
      if (q.after) {
        // Two index range seeks (the rest of the cursor's score, then the lower scores), not an
        // OR that would walk the index from the top of the queue to the cursor.
        const k0 = p.add(Number(q.after[0]));
        const k1 = p.add(String(q.after[1]));
        sql = `SELECT * FROM (
            (${cols} ${base} AND i.risk_score = ${k0} AND i.id COLLATE "C" > ${k1} ORDER BY i.id COLLATE "C" LIMIT ${limit})
            UNION ALL
            (${cols} ${base} AND i.risk_score < ${k0} ${order} LIMIT ${limit})
          ) i ${order} LIMIT ${limit}`;
      } else sql = `${cols} ${base} ${order} LIMIT ${limit}`;
    } else {
      const after = q.after
        ? ` AND (i.user_id COLLATE "C", i.id COLLATE "C") > (${p.add(String(q.after[0]))}, ${p.add(String(q.after[1]))})`
        : '';
      sql = `${cols} ${base}${after} ORDER BY i.user_id COLLATE "C", i.id COLLATE "C" LIMIT ${limit}`;
    }
    const keys = (await this.pool.query(sql, p.values)).rows as Array<{
      id: string;
      risk_score: number;
      user_id: string;
    }>;
    const hasMore = keys.length > q.limit;
    const page = keys.slice(0, q.limit);
    const byId = await this.items(page.map((k) => k.id));
    const items = page.map((k) => byId.get(k.id)!);
    const lastRow = page[page.length - 1];
    const last = lastRow
      ? q.sort === 'risk'
        ? [Number(lastRow.risk_score), lastRow.id]
        : [lastRow.user_id, lastRow.id]
      : null;
    return { items, last, hasMore };
  }

  async countItems(q: Omit<ItemQuery, 'sort' | 'limit' | 'after'>): Promise<number> {
    if (
      q.reviewer_ids === undefined &&
      (q.min_risk === undefined || q.min_risk <= 0) &&
      q.status !== 'escalated'
    ) {
      // Kept by triggers: one row per campaign and status.
      const r = await this.pool.query(
        `SELECT coalesce(sum(n), 0) AS n FROM review_item_counts WHERE campaign_id = $1 AND ($2 = 'all' OR status = $2)`,
        [q.campaign_id, q.status],
      );
      return Number(r.rows[0].n);
    }
    const p = new Params();
    const where = this.filters(q, p);
    return Number(
      (
        await this.pool.query(
          `SELECT count(*) AS n FROM review_items i WHERE ${where.join(' AND ')}`,
          p.values,
        )
      ).rows[0].n,
    );
  }

  async item(id: string): Promise<ItemRow | undefined> {
    return (await this.items([id])).get(id);
  }

  /** Items by id, in one query; ids not in the store are left out. */
  async items(ids: string[]): Promise<Map<string, ItemRow>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.pool.query(`${ITEM_SELECT} WHERE i.id = ANY ($1::text[])`, [ids])).rows as Row[];
    return new Map(rows.map((r) => [String(r.item_id), itemOf(r)]));
  }

  async appOwner(app: string): Promise<string | null> {
    const r = (
      await this.pool.query(
        `SELECT owner_id FROM entitlements WHERE app = $1 AND owner_id IS NOT NULL ORDER BY type = 'app' DESC, id COLLATE "C" LIMIT 1`,
        [app],
      )
    ).rows[0];
    return r ? String(r.owner_id) : null;
  }

  async itemCoordinates(itemId: string): Promise<Record<string, string>> {
    const r = (await this.pool.query('SELECT platform_coordinates FROM review_items WHERE id = $1', [itemId]))
      .rows[0];
    return parseJson(r?.platform_coordinates, {});
  }

  async proposal(id: string): Promise<ProposalRow | undefined> {
    return (await this.proposals([id])).get(id);
  }

  async proposals(ids: string[]): Promise<Map<string, ProposalRow>> {
    if (ids.length === 0) return new Map();
    const rows = (await this.pool.query('SELECT * FROM proposals WHERE id = ANY ($1::text[])', [ids])).rows;
    return new Map(rows.map((r) => [String(r.id), proposalOf(r)]));
  }

  async draftIdsOf(itemId: string): Promise<string[]> {
    return (
      await this.pool.query("SELECT id FROM proposals WHERE item_id = $1 AND status = 'draft'", [itemId])
    ).rows.map((r) => String(r.id));
  }

  /**
   * Records a draft (an earlier draft of the item is superseded; the item becomes proposed)
   * and the audit entry `audit` builds for it, in one transaction. The item's row is locked
   * first, so two replicas proposing for one item at once leave one draft.
   */
  async propose(
    p: NewProposal,
    audit: (row: ProposalRow) => AuditEntry,
  ): Promise<{ proposal: ProposalRow; seq: number }> {
    const row: ProposalRow = { ...p, id: newId('p'), status: 'draft' };
    return inTransaction(this.pool, async (c) => {
      await c.query('SELECT 1 FROM review_items WHERE id = $1 FOR UPDATE', [p.item_id]);
      await c.query("UPDATE proposals SET status = 'superseded' WHERE item_id = $1 AND status = 'draft'", [
        p.item_id,
      ]);
      await c.query(
        `INSERT INTO proposals (id, item_id, decision, rationale, confidence, engine_decision, proposed_by, proposed_at, status)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'draft')`,
        [
          row.id,
          p.item_id,
          p.decision,
          p.rationale,
          p.confidence,
          p.engine_decision,
          p.proposed_by,
          p.proposed_at,
        ],
      );
      await c.query("UPDATE review_items SET status = 'proposed' WHERE id = $1 AND status = 'pending'", [
        p.item_id,
      ]);
      const seq = await this.audit.append(audit(row), c);
      return { proposal: row, seq };
    });
  }

  /** The same hash as the SQLite store's batchHash: the proposals' content in id order (bytes). */
  async batchHash(ids: string[], c: PgClient | PgPool = this.pool): Promise<string> {
    const rows = (
      await c.query(
        `SELECT p.id, p.item_id, p.decision, p.rationale, i.user_id, i.entitlement_id
         FROM proposals p JOIN review_items i ON i.id = p.item_id WHERE p.id = ANY ($1::text[])
         ORDER BY p.id COLLATE "C"`,
        [ids],
      )
    ).rows;
    return createHash('sha256').update(canonicalJson(rows)).digest('hex');
  }

  async confirmation(id: string, c: PgClient | PgPool = this.pool): Promise<ConfirmationRow | undefined> {
    const r = (await c.query('SELECT * FROM confirmations WHERE id = $1', [id])).rows[0];
    return r ? confirmationOf(r) : undefined;
  }

  /** The newest confirmation of this principal for this batch (ties broken by id: PostgreSQL has no rowid). */
  async confirmationFor(principal: string, batchHash: string): Promise<ConfirmationRow | undefined> {
    const r = (
      await this.pool.query(
        'SELECT * FROM confirmations WHERE principal = $1 AND batch_hash = $2 ORDER BY created_at COLLATE "C" DESC, id COLLATE "C" DESC LIMIT 1',
        [principal, batchHash],
      )
    ).rows[0];
    return r ? confirmationOf(r) : undefined;
  }

  async createPending(
    principal: string,
    batchHash: string,
    proposalIds: string[],
    now: Date,
    ttlMs: number,
    required: 'host-attested' | 'human-verified' = 'human-verified',
  ): Promise<ConfirmationRow> {
    const row: ConfirmationRow = {
      id: newId('cf'),
      principal,
      batch_hash: batchHash,
      proposal_ids: [...proposalIds].sort(),
      status: 'pending',
      channel: null,
      assurance: null,
      required_assurance: required,
      created_at: now.toISOString(),
      expires_at: new Date(now.getTime() + ttlMs).toISOString(),
      answered_by: null,
      answered_at: null,
      used_at: null,
    };
    await this.pool.query(
      `INSERT INTO confirmations (id, principal, batch_hash, proposal_ids, status, created_at, expires_at, required_assurance)
       VALUES ($1, $2, $3, $4, 'pending', $5, $6, $7)`,
      [
        row.id,
        principal,
        batchHash,
        JSON.stringify(row.proposal_ids),
        row.created_at,
        row.expires_at,
        required,
      ],
    );
    return row;
  }

  async markExpired(id: string): Promise<void> {
    await this.pool.query(
      "UPDATE confirmations SET status = 'expired' WHERE id = $1 AND status IN ('pending','confirmed')",
      [id],
    );
  }

  async recordRefusal(
    principal: string,
    batchHash: string,
    proposalIds: string[],
    by: string,
    channel: string,
    now: Date,
  ): Promise<string> {
    const id = newId('cf');
    const at = now.toISOString();
    await this.pool.query(
      `INSERT INTO confirmations (id, principal, batch_hash, proposal_ids, status, channel, created_at, expires_at, answered_by, answered_at)
       VALUES ($1, $2, $3, $4, 'rejected', $5, $6, $6, $7, $6)`,
      [id, principal, batchHash, JSON.stringify([...proposalIds].sort()), channel, at, by],
    );
    return id;
  }

  /** A human said no: the confirmation and its drafts are rejected, with `audit`'s entry, in one transaction. */
  async reject(
    id: string,
    by: string,
    channel: string,
    now: Date,
    assurance: 'host-attested' | 'human-verified' | null,
    audit?: () => AuditEntry,
  ): Promise<{ done: boolean; seq: number | null }> {
    return inTransaction(this.pool, async (c) => {
      const answered = await c.query(
        `UPDATE confirmations SET status = 'rejected', answered_by = $1, answered_at = $2, channel = $3, assurance = $4
         WHERE id = $5 AND status = 'pending' RETURNING proposal_ids`,
        [by, now.toISOString(), channel, assurance, id],
      );
      if (answered.rowCount !== 1) return { done: false, seq: null };
      const ids = JSON.parse(String(answered.rows[0].proposal_ids)) as string[];
      await c.query(
        "UPDATE proposals SET status = 'rejected' WHERE id = ANY ($1::text[]) AND status = 'draft'",
        [ids],
      );
      await c.query(
        `UPDATE review_items SET status = 'pending'
         WHERE status = 'proposed' AND id IN (SELECT item_id FROM proposals WHERE id = ANY ($1::text[]))
           AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.item_id = review_items.id AND p.status = 'draft')`,
        [ids],
      );
      const seq = audit ? await this.audit.append(audit(), c) : null;
      return { done: true, seq };
    });
  }

  /**
   * Queues a confirmed batch, as the SQLite store's confirmIntoOutbox: the confirmation marked
   * used (or written, for an elicitation), one outbox row per draft, and `audit`'s entry, in one
   * transaction; a proposal that is no longer a draft fails it whole. Two replicas confirming
   * one batch at once: the proposals' rows are locked in id order, so one queues it and the
   * other finds it `already` queued.
   */
  async confirmIntoOutbox(args: {
    pendingId: string | null;
    principal: string;
    batchHash: string;
    proposalIds: string[];
    confirmedBy: string;
    channel: string;
    assurance: 'host-attested' | 'human-verified' | 'policy';
    now: Date;
    audit?: (confirmationId: string) => AuditEntry;
  }): Promise<{ id: string; seq: number | null } | { already: true }> {
    const assurance = args.assurance === 'policy' ? null : args.assurance;
    return inTransaction(this.pool, async (c) => {
      await c.query(
        'SELECT 1 FROM proposals WHERE id = ANY ($1::text[]) ORDER BY id COLLATE "C" FOR UPDATE',
        [args.proposalIds],
      );
      const queued = await c.query('SELECT count(*) AS n FROM outbox WHERE proposal_id = ANY ($1::text[])', [
        args.proposalIds,
      ]);
      if (Number(queued.rows[0].n) === args.proposalIds.length) return { already: true as const };
      const at = args.now.toISOString();
      let id = args.pendingId;
      if (id === null) {
        id = newId('cf');
        await c.query(
          `INSERT INTO confirmations (id, principal, batch_hash, proposal_ids, status, channel, created_at, expires_at, answered_by,
             answered_at, used_at, assurance, required_assurance)
           VALUES ($1, $2, $3, $4, 'used', $5, $6, $6, $7, $6, $6, $8, $8)`,
          [
            id,
            args.principal,
            args.batchHash,
            JSON.stringify([...args.proposalIds].sort()),
            args.channel,
            at,
            args.confirmedBy,
            assurance,
          ],
        );
      } else {
        const changed = await c.query(
          `UPDATE confirmations SET status = 'used', used_at = $1, answered_by = coalesce(answered_by, $2),
             answered_at = coalesce(answered_at, $1), channel = coalesce(channel, $3), assurance = coalesce(assurance, $4)
           WHERE id = $5 AND status IN ('pending','confirmed')`,
          [at, args.confirmedBy, args.channel, assurance, id],
        );
        if (changed.rowCount !== 1) throw new Error(`confirmation ${id} is no longer open`);
      }
      const inserted = await c.query(
        `INSERT INTO outbox (proposal_id, item_id, confirmation_id, decision, status, created_at)
         SELECT p.id, p.item_id, $1, p.decision, 'pending', $2 FROM proposals p
         WHERE p.id = ANY ($3::text[]) AND p.status = 'draft' ORDER BY p.id COLLATE "C"
         ON CONFLICT (proposal_id) DO NOTHING RETURNING proposal_id`,
        [id, at, args.proposalIds],
      );
      if (inserted.rowCount !== args.proposalIds.length) {
        const got = new Set(inserted.rows.map((r) => String(r.proposal_id)));
        const missing = args.proposalIds.find((p) => !got.has(p));
        throw new Error(`proposal ${missing} is no longer a draft`);
      }
      const seq = args.audit ? await this.audit.append(args.audit(id), c) : null;
      return { id, seq };
    });
  }

  async outboxFor(proposalIds: string[]): Promise<OutboxStatusRow[]> {
    return (
      await this.pool.query(
        `SELECT o.proposal_id, o.item_id, o.status, o.platform_ref, o.last_error,
           r.status AS remediation_status, r.detail AS remediation_detail
         FROM outbox o LEFT JOIN remediations r ON r.item_id = o.item_id
         WHERE o.proposal_id = ANY ($1::text[]) ORDER BY o.id`,
        [proposalIds],
      )
    ).rows as OutboxStatusRow[];
  }
}
