import { createHash } from 'node:crypto';
import { canonicalJson } from './audit.js';
import type { Db } from './db.js';
import { newId } from './decisions.js';

export type ChangeKind = 'create_campaign' | 'create_role';

export interface ChangeRow {
  id: string;
  kind: ChangeKind;
  platform: string;
  /** What to do, as validated when it was proposed (JSON). */
  spec: Record<string, unknown>;
  /** One line for the human who confirms, written by Attest. */
  summary: string;
  proposed_by: string;
  proposed_at: string;
  status: 'draft' | 'applied' | 'rejected' | 'failed';
  result: Record<string, unknown> | null;
  platform_ref: string | null;
}

export interface ChangeWork {
  outbox_id: number;
  change: ChangeRow;
  confirmation_id: string;
  confirmed_by: string;
  channel: string;
  assurance: string | null;
  attempts: number;
}

function rowToChange(r: Record<string, unknown>): ChangeRow {
  return {
    id: String(r.id),
    kind: r.kind as ChangeKind,
    platform: String(r.platform),
    spec: JSON.parse(String(r.spec)) as Record<string, unknown>,
    summary: String(r.summary),
    proposed_by: String(r.proposed_by),
    proposed_at: String(r.proposed_at),
    status: r.status as ChangeRow['status'],
    result: r.result == null ? null : (JSON.parse(String(r.result)) as Record<string, unknown>),
    platform_ref: (r.platform_ref as string | null) ?? null,
  };
}

/**
 * Confirmed writes that are not decisions (a campaign, a role): drafts, their confirmations
 * (the same confirmations table, subject `changes`) and their own outbox, applied once.
 */
export class ChangesRepo {
  constructor(private readonly db: Db) {}

  create(
    c: Pick<ChangeRow, 'kind' | 'platform' | 'spec' | 'summary' | 'proposed_by' | 'proposed_at'>,
  ): ChangeRow {
    const id = newId('ch');
    this.db
      .prepare(
        `INSERT INTO changes (id, kind, platform, spec, summary, proposed_by, proposed_at, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'draft')`,
      )
      .run(id, c.kind, c.platform, JSON.stringify(c.spec), c.summary, c.proposed_by, c.proposed_at);
    return this.get(id)!;
  }

  get(id: string): ChangeRow | null {
    const r = this.db.prepare('SELECT * FROM changes WHERE id = ?').get(id) as
      | Record<string, unknown>
      | undefined;
    return r ? rowToChange(r) : null;
  }

  /** The hash a confirmation of changes is bound to: their exact content, independent of order. */
  batchHash(ids: string[]): string {
    const rows = [...ids]
      .sort()
      .map((id) => this.get(id))
      .map((c) =>
        c ? { id: c.id, kind: c.kind, platform: c.platform, spec: c.spec, summary: c.summary } : null,
      );
    return createHash('sha256').update(canonicalJson(rows)).digest('hex');
  }

  createPending(
    principal: string,
    batchHash: string,
    ids: string[],
    now: Date,
    ttlMs: number,
    required: 'host-attested' | 'human-verified',
  ): string {
    const id = newId('cf');
    this.db
      .prepare(
        `INSERT INTO confirmations (id, principal, batch_hash, proposal_ids, status, created_at, expires_at, required_assurance, subject)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, 'changes')`,
      )
      .run(
        id,
        principal,
        batchHash,
        JSON.stringify([...ids].sort()),
        now.toISOString(),
        new Date(now.getTime() + ttlMs).toISOString(),
        required,
      );
    return id;
  }

  /**
   * A confirmed set of changes becomes outbox rows in the transaction that marks the
   * confirmation used (a new one when `pendingId` is null) and appends its audit entry.
   */
  confirmIntoOutbox(args: {
    pendingId: string | null;
    principal: string;
    batchHash: string;
    ids: string[];
    confirmedBy: string;
    channel: string;
    assurance: 'host-attested' | 'human-verified';
    now: Date;
    inTransaction?: (confirmationId: string) => void;
  }): { id: string } | { already: true } {
    return this.db
      .transaction((): { id: string } | { already: true } => {
        const queued = this.db
          .prepare(
            'SELECT count(*) AS n FROM change_outbox WHERE change_id IN (SELECT value FROM json_each(?))',
          )
          .get(JSON.stringify(args.ids)) as { n: number };
        if (queued.n === args.ids.length) return { already: true };
        const at = args.now.toISOString();
        let id = args.pendingId;
        if (id === null) {
          id = newId('cf');
          this.db
            .prepare(
              `INSERT INTO confirmations (id, principal, batch_hash, proposal_ids, status, channel, created_at, expires_at, answered_by, answered_at, used_at, assurance, required_assurance, subject)
               VALUES (?, ?, ?, ?, 'used', ?, ?, ?, ?, ?, ?, ?, ?, 'changes')`,
            )
            .run(
              id,
              args.principal,
              args.batchHash,
              JSON.stringify([...args.ids].sort()),
              args.channel,
              at,
              at,
              args.confirmedBy,
              at,
              at,
              args.assurance,
              args.assurance,
            );
        } else {
          const changed = this.db
            .prepare(
              `UPDATE confirmations SET status = 'used', used_at = ?, answered_by = ?, answered_at = ?, channel = ?, assurance = ?
               WHERE id = ? AND status = 'pending' AND subject = 'changes'`,
            )
            .run(at, args.confirmedBy, at, args.channel, args.assurance, id).changes;
          if (changed !== 1) throw new Error(`confirmation ${id} is no longer open`);
        }
        const ins = this.db.prepare(
          `INSERT INTO change_outbox (change_id, confirmation_id, status, created_at)
           SELECT id, ?, 'pending', ? FROM changes WHERE id = ? AND status = 'draft' ON CONFLICT (change_id) DO NOTHING`,
        );
        for (const c of args.ids)
          if (ins.run(id, at, c).changes !== 1) throw new Error(`change ${c} is no longer a draft`);
        args.inTransaction?.(id);
        return { id };
      })
      .immediate();
  }

  /** The changes of a confirmation refused by a human. */
  reject(ids: string[]): void {
    const upd = this.db.prepare("UPDATE changes SET status = 'rejected' WHERE id = ? AND status = 'draft'");
    for (const id of ids) upd.run(id);
  }

  /** Claims pending change rows for `worker` (as the decisions outbox does). */
  claim(worker: string, now: Date, leaseUntil: Date, limit = 20, skip: readonly number[] = []): ChangeWork[] {
    return this.db
      .transaction(() => {
        const ids = this.db
          .prepare(
            `UPDATE change_outbox SET claimed_by = ?, lease_until = ?
             WHERE id IN (SELECT id FROM change_outbox WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= ?)
               AND id NOT IN (SELECT value FROM json_each(?)) ORDER BY id LIMIT ?)
             RETURNING id`,
          )
          .pluck()
          .all(worker, leaseUntil.toISOString(), now.toISOString(), JSON.stringify(skip), limit) as number[];
        return ids.map((oid) => {
          const r = this.db
            .prepare(
              `SELECT o.id AS outbox_id, o.change_id, o.confirmation_id, o.attempts, c.answered_by, c.channel, c.assurance
               FROM change_outbox o JOIN confirmations c ON c.id = o.confirmation_id WHERE o.id = ?`,
            )
            .get(oid) as {
            outbox_id: number;
            change_id: string;
            confirmation_id: string;
            attempts: number;
            answered_by: string;
            channel: string;
            assurance: string | null;
          };
          return {
            outbox_id: r.outbox_id,
            change: this.get(r.change_id)!,
            confirmation_id: r.confirmation_id,
            confirmed_by: r.answered_by,
            channel: r.channel,
            assurance: r.assurance,
            attempts: r.attempts,
          };
        });
      })
      .immediate();
  }

  /** Marks a change applied with what was done, in one transaction with `effects` (the local part). */
  complete(
    work: ChangeWork,
    effects: () => Record<string, unknown>,
    platformRef: string | null,
    now: Date,
    inTransaction?: () => void,
  ): Record<string, unknown> | null {
    return this.db
      .transaction((): Record<string, unknown> | null => {
        const done = this.db
          .prepare(
            "UPDATE change_outbox SET status = 'done', done_at = ?, attempts = attempts + 1, lease_until = NULL WHERE id = ? AND status = 'pending'",
          )
          .run(now.toISOString(), work.outbox_id).changes;
        if (done !== 1) return null;
        const result = effects();
        this.db
          .prepare("UPDATE changes SET status = 'applied', result = ?, platform_ref = ? WHERE id = ?")
          .run(JSON.stringify(result), platformRef, work.change.id);
        inTransaction?.();
        return result;
      })
      .immediate();
  }

  fail(work: ChangeWork, error: string, retryable: boolean, inTransaction?: () => void): void {
    this.db
      .transaction(() => {
        this.db
          .prepare(
            `UPDATE change_outbox SET attempts = attempts + 1, last_error = ?, lease_until = NULL,
               status = CASE WHEN ? THEN 'pending' ELSE 'failed' END WHERE id = ? AND status = 'pending'`,
          )
          .run(error, retryable ? 1 : 0, work.outbox_id);
        if (!retryable)
          this.db
            .prepare("UPDATE changes SET status = 'failed', result = ? WHERE id = ?")
            .run(JSON.stringify({ error }), work.change.id);
        inTransaction?.();
      })
      .immediate();
  }

  /** Frees the rows a worker that no longer runs was holding (a process killed mid-change). */
  releaseDead(alive: (worker: string) => boolean): void {
    const held = this.db
      .prepare(
        "SELECT id, claimed_by FROM change_outbox WHERE status = 'pending' AND lease_until IS NOT NULL",
      )
      .all() as Array<{ id: number; claimed_by: string | null }>;
    const free = this.db.prepare(
      'UPDATE change_outbox SET lease_until = NULL WHERE id = ? AND claimed_by = ?',
    );
    for (const h of held) if (h.claimed_by && !alive(h.claimed_by)) free.run(h.id, h.claimed_by);
  }

  releaseClaims(worker: string): void {
    this.db
      .prepare("UPDATE change_outbox SET lease_until = NULL WHERE claimed_by = ? AND status = 'pending'")
      .run(worker);
  }

  /** Where a change stands: its outbox row's status and error, if it was confirmed. */
  state(id: string): { outbox: 'pending' | 'done' | 'failed' | null; error: string | null } {
    const r = this.db.prepare('SELECT status, last_error FROM change_outbox WHERE change_id = ?').get(id) as
      | { status: 'pending' | 'done' | 'failed'; last_error: string | null }
      | undefined;
    return { outbox: r?.status ?? null, error: r?.last_error ?? null };
  }
}
