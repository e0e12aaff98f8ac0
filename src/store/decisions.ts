import { createHash, randomBytes } from 'node:crypto';
import type { DecisionValue, EntitlementType, Platform } from '../domain/index.js';
import { canonicalJson } from './audit.js';
import type { Db } from './db.js';

export interface ProposalRow {
  id: string;
  item_id: string;
  decision: DecisionValue;
  rationale: string;
  confidence: number | null;
  engine_decision: DecisionValue | null;
  proposed_by: string;
  proposed_at: string;
  status: 'draft' | 'superseded' | 'applied' | 'rejected';
}

export interface ConfirmationRow {
  id: string;
  principal: string;
  batch_hash: string;
  proposal_ids: string[];
  status: 'pending' | 'confirmed' | 'rejected' | 'used' | 'expired';
  channel: string | null;
  /** What the answering channel proves (host-attested or human-verified). */
  assurance: 'host-attested' | 'human-verified' | null;
  /** What the batch needed when the confirmation was asked for. */
  required_assurance: 'host-attested' | 'human-verified' | null;
  /** `decisions` (proposal ids) or `changes` (change ids, e.g. a campaign to create). */
  subject?: 'decisions' | 'changes';
  created_at: string;
  expires_at: string;
  answered_by: string | null;
  answered_at: string | null;
  used_at: string | null;
}

/** A draft as a caller proposes it (the store gives it its id and status). */
export type NewProposal = Omit<ProposalRow, 'id' | 'status'>;

/** An outbox row of a proposal as submit_decision reports it. */
export interface OutboxStatusRow {
  proposal_id: string;
  item_id: string;
  status: string;
  platform_ref: string | null;
  last_error: string | null;
  remediation_status: string | null;
  remediation_detail: string | null;
}

/** What the outbox worker needs to apply one confirmed proposal. */
export interface OutboxWork {
  outbox_id: number;
  proposal_id: string;
  item_id: string;
  confirmation_id: string;
  decision: DecisionValue;
  attempts: number;
  rationale: string;
  proposed_by: string;
  engine_decision: DecisionValue | null;
  /** The principal that submitted the batch (the agent's). */
  submitted_by: string;
  /** The human who confirmed it. */
  confirmed_by: string;
  channel: string;
  /** `policy` for a decision a policy class took (channel `policy`). */
  assurance: 'host-attested' | 'human-verified' | 'policy' | null;
  confirmed_at: string;
  platform: Platform;
  item_external_id: string;
  campaign_id: string;
  campaign_external_id: string;
  user_id: string;
  user_external_id: string;
  entitlement_id: string;
  entitlement_external_id: string;
  entitlement_type: EntitlementType;
  entitlement_attributes: string;
  /** The campaign's attributes (JSON): `origin: attest` for a campaign Attest created itself. */
  campaign_attributes: string;
  reviewer_id: string | null;
  entitlement_owner_id: string | null;
  entitlement_app: string | null;
}

export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(9).toString('base64url')}`;
}

/** Proposals, confirmations and the outbox: the write side of a review. */
export class DecisionsRepo {
  constructor(private readonly db: Db) {}

  proposal(id: string): ProposalRow | undefined {
    return this.db.prepare('SELECT * FROM proposals WHERE id = ?').get(id) as ProposalRow | undefined;
  }

  /** The ids of an item's current drafts (the ones a new proposal supersedes). */
  draftIdsOf(itemId: string): string[] {
    return this.db
      .prepare("SELECT id FROM proposals WHERE item_id = ? AND status = 'draft'")
      .pluck()
      .all(itemId) as string[];
  }

  /** Records a draft; an earlier draft for the same item is superseded. The item becomes `proposed`. */
  propose(p: Omit<ProposalRow, 'id' | 'status'>): ProposalRow {
    const id = newId('p');
    this.db
      .transaction(() => {
        this.db
          .prepare("UPDATE proposals SET status = 'superseded' WHERE item_id = ? AND status = 'draft'")
          .run(p.item_id);
        this.db
          .prepare(
            `INSERT INTO proposals (id, item_id, decision, rationale, confidence, engine_decision, proposed_by, proposed_at, status)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'draft')`,
          )
          .run(
            id,
            p.item_id,
            p.decision,
            p.rationale,
            p.confidence,
            p.engine_decision,
            p.proposed_by,
            p.proposed_at,
          );
        this.db
          .prepare("UPDATE review_items SET status = 'proposed' WHERE id = ? AND status = 'pending'")
          .run(p.item_id);
      })
      .immediate();
    return { ...p, id, status: 'draft' };
  }

  /**
   * The hash a confirmation is bound to: the exact set of proposals and their content
   * (item, user, entitlement, decision, rationale), independent of order.
   */
  batchHash(proposalIds: string[]): string {
    const rows = this.db
      .prepare(
        `SELECT p.id, p.item_id, p.decision, p.rationale, i.user_id, i.entitlement_id
         FROM proposals p JOIN review_items i ON i.id = p.item_id WHERE p.id IN (SELECT value FROM json_each(?))
         ORDER BY p.id`,
      )
      .all(JSON.stringify(proposalIds));
    return createHash('sha256').update(canonicalJson(rows)).digest('hex');
  }

  confirmation(id: string): ConfirmationRow | undefined {
    const r = this.db.prepare('SELECT * FROM confirmations WHERE id = ?').get(id) as
      | (Omit<ConfirmationRow, 'proposal_ids'> & { proposal_ids: string })
      | undefined;
    return r ? { ...r, proposal_ids: JSON.parse(r.proposal_ids) as string[] } : undefined;
  }

  /**
   * Moves items to another reviewer, in one transaction with the caller's audit entry (through
   * `inTransaction`), keeping each move as history. Returns the items moved with their old reviewer.
   */
  reassign(
    itemIds: string[],
    to: string,
    note: string,
    by: string,
    now: Date,
  ): Array<{ item_id: string; from_reviewer: string | null }> {
    const at = now.toISOString();
    const moved: Array<{ item_id: string; from_reviewer: string | null }> = [];
    const get = this.db.prepare('SELECT reviewer_id FROM review_items WHERE id = ?');
    const ins = this.db.prepare(
      'INSERT INTO reassignments (item_id, from_reviewer, to_reviewer, note, by, at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    const upd = this.db.prepare('UPDATE review_items SET reviewer_id = ? WHERE id = ?');
    for (const id of itemIds) {
      const r = get.get(id) as { reviewer_id: string | null } | undefined;
      if (!r || r.reviewer_id === to) continue;
      ins.run(id, r.reviewer_id, to, note, by, at);
      upd.run(to, id);
      moved.push({ item_id: id, from_reviewer: r.reviewer_id });
    }
    return moved;
  }

  /** This principal's confirmations still waiting for a human, newest first. */
  pendingFor(principal: string, now: Date): ConfirmationRow[] {
    return (
      this.db
        .prepare(
          "SELECT id FROM confirmations WHERE principal = ? AND status = 'pending' AND expires_at > ? ORDER BY created_at DESC, rowid DESC LIMIT 200",
        )
        .all(principal, now.toISOString()) as Array<{ id: string }>
    ).map((r) => this.confirmation(r.id)!);
  }

  /** The newest confirmation of this principal for this exact batch. */
  confirmationFor(principal: string, batchHash: string): ConfirmationRow | undefined {
    const r = this.db
      .prepare(
        'SELECT id FROM confirmations WHERE principal = ? AND batch_hash = ? ORDER BY created_at DESC, rowid DESC LIMIT 1',
      )
      .get(principal, batchHash) as { id: string } | undefined;
    return r ? this.confirmation(r.id) : undefined;
  }

  createPending(
    principal: string,
    batchHash: string,
    proposalIds: string[],
    now: Date,
    ttlMs: number,
    required: 'host-attested' | 'human-verified' = 'human-verified',
  ): ConfirmationRow {
    const id = newId('cf');
    const row: ConfirmationRow = {
      id,
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
    this.db
      .prepare(
        `INSERT INTO confirmations (id, principal, batch_hash, proposal_ids, status, created_at, expires_at, required_assurance)
         VALUES (?, ?, ?, ?, 'pending', ?, ?, ?)`,
      )
      .run(
        id,
        principal,
        batchHash,
        JSON.stringify(row.proposal_ids),
        row.created_at,
        row.expires_at,
        required,
      );
    return row;
  }

  markExpired(id: string): void {
    this.db
      .prepare(
        "UPDATE confirmations SET status = 'expired' WHERE id = ? AND status IN ('pending','confirmed')",
      )
      .run(id);
  }

  /** A human said no: the confirmation and its draft proposals are rejected. */
  reject(
    id: string,
    by: string,
    channel: string,
    now: Date,
    assurance: 'host-attested' | 'human-verified' | null = null,
    inTransaction?: () => void,
  ): boolean {
    return this.db
      .transaction(() => {
        const c = this.confirmation(id);
        if (c?.status !== 'pending') return false;
        this.db
          .prepare(
            "UPDATE confirmations SET status = 'rejected', answered_by = ?, answered_at = ?, channel = ?, assurance = ? WHERE id = ?",
          )
          .run(by, now.toISOString(), channel, assurance, id);
        inTransaction?.();
        const upd = this.db.prepare(
          "UPDATE proposals SET status = 'rejected' WHERE id = ? AND status = 'draft'",
        );
        for (const p of c.proposal_ids) upd.run(p);
        this.resetItemStatus(c.proposal_ids);
        return true;
      })
      .immediate();
  }

  /** Records a human's refusal given through elicitation (no pending row existed). */
  recordRefusal(
    principal: string,
    batchHash: string,
    proposalIds: string[],
    by: string,
    channel: string,
    now: Date,
  ): string {
    const id = newId('cf');
    this.db
      .prepare(
        `INSERT INTO confirmations (id, principal, batch_hash, proposal_ids, status, channel, created_at, expires_at, answered_by, answered_at)
         VALUES (?, ?, ?, ?, 'rejected', ?, ?, ?, ?, ?)`,
      )
      .run(
        id,
        principal,
        batchHash,
        JSON.stringify([...proposalIds].sort()),
        channel,
        now.toISOString(),
        now.toISOString(),
        by,
        now.toISOString(),
      );
    return id;
  }

  private resetItemStatus(proposalIds: string[]): void {
    this.db
      .prepare(
        `UPDATE review_items SET status = 'pending'
         WHERE status = 'proposed' AND id IN (SELECT item_id FROM proposals WHERE id IN (SELECT value FROM json_each(?)))
           AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.item_id = review_items.id AND p.status = 'draft')`,
      )
      .run(JSON.stringify(proposalIds));
  }

  /**
   * Turns a confirmed batch into outbox rows, in the same transaction that marks the
   * confirmation used and (through `inTransaction`) appends the audit entry that records
   * the confirmation: if that entry cannot be written, nothing is queued. `pendingId`
   * names an existing pending/confirmed row (CLI path); otherwise a new confirmation row
   * is written (elicitation path). Returns the confirmation id, or `already` when every
   * proposal of the batch is already queued (a concurrent confirmation won).
   */
  confirmIntoOutbox(args: {
    pendingId: string | null;
    principal: string;
    batchHash: string;
    proposalIds: string[];
    confirmedBy: string;
    channel: string;
    /** `policy`: no human; a policy class decided (kept as the `policy` channel, the column predates it). */
    assurance: 'host-attested' | 'human-verified' | 'policy';
    now: Date;
    inTransaction?: (confirmationId: string) => void;
  }): { id: string } | { already: true } {
    const assurance = args.assurance === 'policy' ? null : args.assurance;
    return this.db
      .transaction((): { id: string } | { already: true } => {
        const queued = this.db
          .prepare('SELECT count(*) AS n FROM outbox WHERE proposal_id IN (SELECT value FROM json_each(?))')
          .get(JSON.stringify(args.proposalIds)) as { n: number };
        if (queued.n === args.proposalIds.length) return { already: true };
        const at = args.now.toISOString();
        let id = args.pendingId;
        if (id === null) {
          id = newId('cf');
          this.db
            .prepare(
              `INSERT INTO confirmations (id, principal, batch_hash, proposal_ids, status, channel, created_at, expires_at, answered_by, answered_at, used_at, assurance, required_assurance)
               VALUES (?, ?, ?, ?, 'used', ?, ?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              id,
              args.principal,
              args.batchHash,
              JSON.stringify([...args.proposalIds].sort()),
              args.channel,
              at,
              at,
              args.confirmedBy,
              at,
              at,
              assurance,
              assurance,
            );
        } else {
          const changed = this.db
            .prepare(
              `UPDATE confirmations SET status = 'used', used_at = ?, answered_by = coalesce(answered_by, ?),
                 answered_at = coalesce(answered_at, ?), channel = coalesce(channel, ?), assurance = coalesce(assurance, ?)
               WHERE id = ? AND status IN ('pending','confirmed')`,
            )
            .run(at, args.confirmedBy, at, args.channel, assurance, id).changes;
          if (changed !== 1) throw new Error(`confirmation ${id} is no longer open`);
        }
        const ins = this.db.prepare(
          `INSERT INTO outbox (proposal_id, item_id, confirmation_id, decision, status, created_at)
           SELECT p.id, p.item_id, ?, p.decision, 'pending', ? FROM proposals p WHERE p.id = ? AND p.status = 'draft'
           ON CONFLICT (proposal_id) DO NOTHING`,
        );
        for (const p of args.proposalIds) {
          if (ins.run(id, at, p).changes !== 1) throw new Error(`proposal ${p} is no longer a draft`);
        }
        args.inTransaction?.(id);
        return { id };
      })
      .immediate();
  }

  /**
   * Claims up to `limit` pending outbox rows for `worker` until `leaseUntil`: rows another
   * worker holds under a live lease are left alone, so two workers (a server draining
   * while a human runs `attest confirm`) never both call the platform for one row. A lease
   * that ran out (its worker died) is taken over.
   */
  claimWork(
    worker: string,
    now: Date,
    leaseUntil: Date,
    limit = 100,
    exclude: number[] = [],
    isAlive: (worker: string) => boolean = () => true,
  ): OutboxWork[] {
    return this.db
      .transaction(() => {
        // A lease held by a worker known to be gone (killed on this machine) need not run out first.
        const holders = this.db
          .prepare(
            "SELECT DISTINCT claimed_by FROM outbox WHERE status = 'pending' AND lease_until > ? AND claimed_by IS NOT NULL",
          )
          .pluck()
          .all(now.toISOString()) as string[];
        for (const h of holders) {
          if (h !== worker && !isAlive(h))
            this.db
              .prepare("UPDATE outbox SET lease_until = NULL WHERE claimed_by = ? AND status = 'pending'")
              .run(h);
        }
        const ids = this.db
          .prepare(
            `UPDATE outbox SET claimed_by = ?, lease_until = ?
             WHERE id IN (SELECT id FROM outbox WHERE status = 'pending' AND (lease_until IS NULL OR lease_until <= ?)
                            AND id NOT IN (SELECT value FROM json_each(?))
                          ORDER BY id LIMIT ?)
             RETURNING id`,
          )
          .pluck()
          .all(
            worker,
            leaseUntil.toISOString(),
            now.toISOString(),
            JSON.stringify(exclude),
            limit,
          ) as number[];
        if (ids.length === 0) return [];
        return this.db
          .prepare(
            `SELECT o.id AS outbox_id, o.proposal_id, o.item_id, o.confirmation_id, o.decision, o.attempts,
               p.rationale, p.proposed_by, p.engine_decision, c.principal AS submitted_by,
               c.answered_by AS confirmed_by, c.channel,
               coalesce(c.assurance, CASE WHEN c.channel = 'policy' THEN 'policy' END) AS assurance, c.answered_at AS confirmed_at,
               i.platform, i.external_id AS item_external_id, i.campaign_id, cp.external_id AS campaign_external_id,
               cp.attributes AS campaign_attributes, i.reviewer_id, e.owner_id AS entitlement_owner_id, e.app AS entitlement_app,
               i.user_id, u.external_id AS user_external_id, i.entitlement_id, e.external_id AS entitlement_external_id,
               e.type AS entitlement_type, e.attributes AS entitlement_attributes
             FROM outbox o
             JOIN proposals p ON p.id = o.proposal_id
             JOIN confirmations c ON c.id = o.confirmation_id
             JOIN review_items i ON i.id = o.item_id
             JOIN campaigns cp ON cp.id = i.campaign_id
             JOIN users u ON u.id = i.user_id
             JOIN entitlements e ON e.id = i.entitlement_id
             WHERE o.id IN (SELECT value FROM json_each(?)) ORDER BY o.id`,
          )
          .all(JSON.stringify(ids)) as OutboxWork[];
      })
      .immediate();
  }

  /** Gives up every claim `worker` still holds (its run ended, normally or not). */
  releaseClaims(worker: string): void {
    this.db
      .prepare(
        "UPDATE outbox SET lease_until = NULL WHERE claimed_by = ? AND status = 'pending' AND lease_until IS NOT NULL",
      )
      .run(worker);
  }

  /** Pending outbox rows (claimed or not), for reports. */
  pendingCount(): number {
    return (
      this.db.prepare("SELECT count(*) AS n FROM outbox WHERE status = 'pending'").get() as { n: number }
    ).n;
  }

  /**
   * Records the effects of one applied outbox row in one transaction: the decision,
   * the item status, the proposal, the training row and (for revoke) the remediation.
   * Returns false when the row was already done (never applied twice).
   */
  completeWork(
    w: OutboxWork,
    result: {
      platform_ref: string | null;
      remediation: { status: 'done' | 'pending' | 'failed' | 'manual'; detail: string | null } | null;
      /** For an escalation: the second-level reviewer the item goes to (null keeps its reviewer). */
      escalateTo?: string | null;
    },
    now: Date,
    inTransaction?: () => void,
  ): boolean {
    return this.db
      .transaction(() => {
        const at = now.toISOString();
        const done = this.db
          .prepare(
            "UPDATE outbox SET status = 'done', done_at = ?, platform_ref = ?, attempts = attempts + 1, lease_until = NULL WHERE id = ? AND status = 'pending'",
          )
          .run(at, result.platform_ref, w.outbox_id).changes;
        if (done !== 1) return false;
        if (w.decision === 'escalate') {
          // Escalate is not an end state: the item goes to the second-level reviewer with the
          // first reviewer's note and stays open until that person decides.
          this.db
            .prepare(
              `INSERT INTO escalations (item_id, proposal_id, from_reviewer, to_reviewer, note, escalated_by, escalated_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)`,
            )
            .run(
              w.item_id,
              w.proposal_id,
              w.reviewer_id,
              result.escalateTo ?? w.reviewer_id,
              w.rationale,
              w.confirmed_by,
              at,
            );
          this.db
            .prepare(
              "UPDATE review_items SET status = 'pending', reviewer_id = coalesce(?, reviewer_id) WHERE id = ?",
            )
            .run(result.escalateTo ?? null, w.item_id);
          this.db.prepare("UPDATE proposals SET status = 'applied' WHERE id = ?").run(w.proposal_id);
          inTransaction?.();
          return true;
        }
        // A decision ends an open escalation of the item.
        this.db
          .prepare('UPDATE escalations SET resolved_at = ? WHERE item_id = ? AND resolved_at IS NULL')
          .run(at, w.item_id);
        // The decision is the confirming human's; who proposed and who submitted it are kept beside.
        this.db
          .prepare(
            `INSERT INTO item_decisions (item_id, proposal_id, decision, decided_by, decided_at, confirmation_id, channel, confirmed_by,
               confirmed_at, platform_ref, proposed_by, submitted_by, assurance)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (item_id) DO UPDATE SET proposal_id = excluded.proposal_id, decision = excluded.decision,
               decided_by = excluded.decided_by, decided_at = excluded.decided_at, confirmation_id = excluded.confirmation_id,
               channel = excluded.channel, confirmed_by = excluded.confirmed_by, confirmed_at = excluded.confirmed_at,
               platform_ref = excluded.platform_ref, proposed_by = excluded.proposed_by,
               submitted_by = excluded.submitted_by, assurance = excluded.assurance`,
          )
          .run(
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
          );
        this.db.prepare("UPDATE review_items SET status = 'decided' WHERE id = ?").run(w.item_id);
        this.db.prepare("UPDATE proposals SET status = 'applied' WHERE id = ?").run(w.proposal_id);
        this.db
          .prepare(
            `INSERT OR IGNORE INTO past_decisions (user_id, entitlement_id, decision, decided_at, reviewer_id, campaign_id, source, platform)
             VALUES (?, ?, ?, ?, ?, ?, 'tool', ?)`,
          )
          .run(w.user_id, w.entitlement_id, w.decision, at, w.confirmed_by, w.campaign_id, w.platform);
        if (w.decision === 'revoke' && result.remediation) {
          this.db
            .prepare(
              `INSERT INTO remediations (item_id, user_id, entitlement_id, platform, status, detail, requested_at, completed_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (item_id) DO NOTHING`,
            )
            .run(
              w.item_id,
              w.user_id,
              w.entitlement_id,
              w.platform,
              result.remediation.status,
              result.remediation.detail,
              at,
              result.remediation.status === 'done' ? at : null,
            );
          if (result.remediation.status === 'done') {
            this.db
              .prepare('DELETE FROM assignments WHERE user_id = ? AND entitlement_id = ?')
              .run(w.user_id, w.entitlement_id);
          }
        }
        inTransaction?.();
        return true;
      })
      .immediate();
  }

  /** A failure that will not succeed on retry: recorded on the outbox row; the item keeps its proposal. */
  failWork(outboxId: number, error: string, retryable: boolean, inTransaction?: () => void): void {
    this.db
      .transaction(() => {
        this.db
          .prepare(
            `UPDATE outbox SET attempts = attempts + 1, last_error = ?, lease_until = NULL,
               status = CASE WHEN ? THEN 'pending' ELSE 'failed' END WHERE id = ? AND status = 'pending'`,
          )
          .run(error, retryable ? 1 : 0, outboxId);
        inTransaction?.();
      })
      .immediate();
  }

  outboxFor(proposalIds: string[]): OutboxStatusRow[] {
    return this.db
      .prepare(
        `SELECT o.proposal_id, o.item_id, o.status, o.platform_ref, o.last_error,
           r.status AS remediation_status, r.detail AS remediation_detail
         FROM outbox o LEFT JOIN remediations r ON r.item_id = o.item_id
         WHERE o.proposal_id IN (SELECT value FROM json_each(?)) ORDER BY o.id`,
      )
      .all(JSON.stringify(proposalIds)) as OutboxStatusRow[];
  }

  remediations(): Array<Record<string, unknown>> {
    return this.db
      .prepare(
        `SELECT r.item_id, r.user_id, u.email AS user_email, r.entitlement_id, e.name AS entitlement_name, e.app, r.platform,
           r.status, r.detail, r.requested_at, r.completed_at, d.confirmed_by, d.confirmation_id
         FROM remediations r JOIN users u ON u.id = r.user_id JOIN entitlements e ON e.id = r.entitlement_id
         LEFT JOIN item_decisions d ON d.item_id = r.item_id ORDER BY r.id`,
      )
      .all() as Array<Record<string, unknown>>;
  }
}
