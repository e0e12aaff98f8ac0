import type { OutboxWork } from '../decisions.js';
import { inTransaction, type PgClient, type PgPool } from './db.js';

/** What applying one outbox row did (as for the SQLite store's completeWork). */
export interface WorkResult {
  platform_ref: string | null;
  remediation: { status: 'done' | 'pending' | 'failed' | 'manual'; detail: string | null } | null;
  /** For an escalation: the second-level reviewer the item goes to (null keeps its reviewer). */
  escalateTo?: string | null;
}

const WORK_COLUMNS = `o.id AS outbox_id, o.proposal_id, o.item_id, o.confirmation_id, o.decision, o.attempts,
  p.rationale, p.proposed_by, p.engine_decision, c.principal AS submitted_by,
  c.answered_by AS confirmed_by, c.channel,
  coalesce(c.assurance, CASE WHEN c.channel = 'policy' THEN 'policy' END) AS assurance, c.answered_at AS confirmed_at,
  i.platform, i.external_id AS item_external_id, i.campaign_id, cp.external_id AS campaign_external_id,
  cp.attributes AS campaign_attributes, i.reviewer_id, e.owner_id AS entitlement_owner_id, e.app AS entitlement_app,
  i.user_id, u.external_id AS user_external_id, i.entitlement_id, e.external_id AS entitlement_external_id,
  e.type AS entitlement_type, e.attributes AS entitlement_attributes`;

/**
 * The decision outbox on PostgreSQL, shared by every replica. A worker claims rows with
 * `FOR UPDATE SKIP LOCKED` and a lease: two replicas never claim one row at once, a replica
 * that dies leaves a lease that runs out, and another replica then takes the row over.
 * Recording a result is conditional on the row still being pending, so a row is recorded
 * done once however many workers reach it; the platform write itself is made idempotent by
 * the connector (it reads the review's state first), as on SQLite.
 */
export class PgOutbox {
  constructor(private readonly pool: PgPool) {}

  async claimWork(
    worker: string,
    now: Date,
    leaseUntil: Date,
    limit = 100,
    exclude: number[] = [],
  ): Promise<OutboxWork[]> {
    return inTransaction(this.pool, async (c) => {
      const ids = (
        await c.query(
          `UPDATE outbox SET claimed_by = $1, lease_until = $2
           WHERE id IN (SELECT id FROM outbox
                         WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= $3)
                           AND NOT (id = ANY ($4::bigint[]))
                         ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
           RETURNING id`,
          [worker, leaseUntil.toISOString(), now.toISOString(), exclude, limit],
        )
      ).rows.map((r) => Number(r.id));
      if (ids.length === 0) return [];
      const rows = (
        await c.query(
          `SELECT ${WORK_COLUMNS}
           FROM outbox o
           JOIN proposals p ON p.id = o.proposal_id
           JOIN confirmations c ON c.id = o.confirmation_id
           JOIN review_items i ON i.id = o.item_id
           JOIN campaigns cp ON cp.id = i.campaign_id
           JOIN users u ON u.id = i.user_id
           JOIN entitlements e ON e.id = i.entitlement_id
           WHERE o.id = ANY ($1::bigint[]) ORDER BY o.id`,
          [ids],
        )
      ).rows;
      return rows.map(
        (r) => ({ ...r, outbox_id: Number(r.outbox_id), attempts: Number(r.attempts) }) as OutboxWork,
      );
    });
  }

  /** Gives up every claim `worker` still holds (its run ended, normally or not). */
  async releaseClaims(worker: string): Promise<void> {
    await this.pool.query(
      "UPDATE outbox SET lease_until = NULL WHERE claimed_by = $1 AND status = 'pending' AND lease_until IS NOT NULL",
      [worker],
    );
  }

  async pendingCount(): Promise<number> {
    return Number(
      (await this.pool.query("SELECT count(*) AS n FROM outbox WHERE status = 'pending'")).rows[0].n,
    );
  }

  /** A failure: retryable keeps the row pending (its lease given up), otherwise it is failed. */
  async failWork(
    outboxId: number,
    error: string,
    retryable: boolean,
    inTx?: (c: PgClient) => Promise<void>,
  ): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(
        `UPDATE outbox SET attempts = attempts + 1, last_error = $1, lease_until = NULL,
           status = CASE WHEN $2 THEN 'pending' ELSE 'failed' END WHERE id = $3 AND status = 'pending'`,
        [error, retryable, outboxId],
      );
      await inTx?.(c);
    });
  }

  /**
   * Records the effects of one applied row in one transaction, as the SQLite store does: the
   * decision in force, the item's status, the proposal, the training row, the remediation (and
   * the assignment a done removal took away); for an escalation, the second-level review.
   * Returns false when the row was already done (never recorded twice).
   */
  async completeWork(
    w: OutboxWork,
    result: WorkResult,
    now: Date,
    inTx?: (c: PgClient) => Promise<void>,
  ): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const at = now.toISOString();
      const done = await c.query(
        `UPDATE outbox SET status = 'done', done_at = $1, platform_ref = $2, attempts = attempts + 1, lease_until = NULL
         WHERE id = $3 AND status = 'pending'`,
        [at, result.platform_ref, w.outbox_id],
      );
      if (done.rowCount !== 1) return false;
      if (w.decision === 'escalate') {
        await c.query(
          `INSERT INTO escalations (item_id, proposal_id, from_reviewer, to_reviewer, note, escalated_by, escalated_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [
            w.item_id,
            w.proposal_id,
            w.reviewer_id,
            result.escalateTo ?? w.reviewer_id,
            w.rationale,
            w.confirmed_by,
            at,
          ],
        );
        await c.query(
          "UPDATE review_items SET status = 'pending', reviewer_id = coalesce($1, reviewer_id) WHERE id = $2",
          [result.escalateTo ?? null, w.item_id],
        );
        await c.query("UPDATE proposals SET status = 'applied' WHERE id = $1", [w.proposal_id]);
        await inTx?.(c);
        return true;
      }
      await c.query('UPDATE escalations SET resolved_at = $1 WHERE item_id = $2 AND resolved_at IS NULL', [
        at,
        w.item_id,
      ]);
      await c.query(
        `INSERT INTO item_decisions (item_id, proposal_id, decision, decided_by, decided_at, confirmation_id, channel, confirmed_by,
           confirmed_at, platform_ref, proposed_by, submitted_by, assurance)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)
         ON CONFLICT (item_id) DO UPDATE SET proposal_id = excluded.proposal_id, decision = excluded.decision,
           decided_by = excluded.decided_by, decided_at = excluded.decided_at, confirmation_id = excluded.confirmation_id,
           channel = excluded.channel, confirmed_by = excluded.confirmed_by, confirmed_at = excluded.confirmed_at,
           platform_ref = excluded.platform_ref, proposed_by = excluded.proposed_by,
           submitted_by = excluded.submitted_by, assurance = excluded.assurance`,
        [
          w.item_id,
          w.proposal_id,
          w.decision,
          w.confirmed_by,
          at,
          w.confirmation_id,
          w.channel,
          w.confirmed_by,
          w.confirmed_at,
          result.platform_ref,
          w.proposed_by,
          w.submitted_by,
          w.assurance,
        ],
      );
      await c.query("UPDATE review_items SET status = 'decided' WHERE id = $1", [w.item_id]);
      await c.query("UPDATE proposals SET status = 'applied' WHERE id = $1", [w.proposal_id]);
      await c.query(
        `INSERT INTO past_decisions (user_id, entitlement_id, decision, decided_at, reviewer_id, campaign_id, source, platform)
         VALUES ($1, $2, $3, $4, $5, $6, 'tool', $7) ON CONFLICT DO NOTHING`,
        [w.user_id, w.entitlement_id, w.decision, at, w.confirmed_by, w.campaign_id, w.platform],
      );
      if (w.decision === 'revoke' && result.remediation) {
        await c.query(
          `INSERT INTO remediations (item_id, user_id, entitlement_id, platform, status, detail, requested_at, completed_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (item_id) DO NOTHING`,
          [
            w.item_id,
            w.user_id,
            w.entitlement_id,
            w.platform,
            result.remediation.status,
            result.remediation.detail,
            at,
            result.remediation.status === 'done' ? at : null,
          ],
        );
        if (result.remediation.status === 'done') {
          await c.query('DELETE FROM assignments WHERE user_id = $1 AND entitlement_id = $2', [
            w.user_id,
            w.entitlement_id,
          ]);
        }
      }
      await inTx?.(c);
      return true;
    });
  }
}
