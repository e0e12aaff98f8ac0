import {
  type AuditEntry,
  ChainVerifier,
  entryHash,
  GENESIS,
  rowToEntry,
  type StoredAuditEntry,
  storedForm,
  type VerifyResult,
} from '../audit.js';
import { inTransaction, type PgClient, type PgPool } from './db.js';

/** The advisory lock every replica takes to append: one chain, no fork, no gap. */
const AUDIT_LOCK = 0x41756469; // "Audi"

/**
 * The audit log on PostgreSQL: the same entries, hashes and chain as on SQLite. Appends from
 * every replica are serialised by a transaction-scoped advisory lock, under which the tail is
 * read and the next entry inserted; the lock is released when the transaction ends, so an
 * entry appended inside a caller's transaction holds it until that commits or rolls back
 * (a rolled-back entry leaves no gap). UPDATE, DELETE and TRUNCATE are refused by triggers.
 */
export class PgAuditLog {
  constructor(private readonly pool: PgPool) {}

  /** Appends an entry (inside `client`'s open transaction when given); returns its sequence number. */
  async append(entry: AuditEntry, client?: PgClient): Promise<number> {
    if (client) return this.appendOn(client, entry);
    return inTransaction(this.pool, (c) => this.appendOn(c, entry));
  }

  private async appendOn(c: PgClient, entry: AuditEntry): Promise<number> {
    const e = storedForm(entry);
    await c.query('SELECT pg_advisory_xact_lock($1)', [AUDIT_LOCK]);
    const tail = (await c.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0] as
      | { seq: string; hash: string }
      | undefined;
    const prev = tail ? { seq: Number(tail.seq), hash: tail.hash } : { seq: 0, hash: GENESIS };
    const seq = prev.seq + 1;
    const hash = entryHash(seq, prev.hash, e);
    await c.query(
      `INSERT INTO audit_log (seq, at, principal, client_name, client_version, session_id, transport, tool, kind, arguments,
         outcome, error, duration_ms, details, prev_hash, hash)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [
        seq,
        e.at,
        e.principal,
        e.client_name,
        e.client_version,
        e.session_id,
        e.transport,
        e.tool,
        e.kind,
        JSON.stringify(e.arguments),
        e.outcome,
        e.error,
        e.duration_ms,
        e.details === null ? null : JSON.stringify(e.details),
        prev.hash,
        hash,
      ],
    );
    return seq;
  }

  async head(): Promise<{ seq: number; hash: string } | null> {
    const r = (await this.pool.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0];
    return r ? { seq: Number(r.seq), hash: String(r.hash) } : null;
  }

  async count(): Promise<number> {
    return Number((await this.pool.query('SELECT count(*) AS n FROM audit_log')).rows[0].n);
  }

  async entry(seq: number): Promise<StoredAuditEntry | null> {
    const r = (await this.pool.query('SELECT * FROM audit_log WHERE seq = $1', [seq])).rows[0];
    return r ? rowToEntry(pgRow(r)) : null;
  }

  /**
   * Checks the whole chain in stored (seq) order, reading it in pages by keyset so a log of
   * millions of entries is never held at once.
   */
  async verify(pageSize = 5000): Promise<VerifyResult> {
    const v = new ChainVerifier();
    let after = -1;
    for (;;) {
      const rows = (
        await this.pool.query('SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT $2', [
          after,
          pageSize,
        ])
      ).rows;
      for (const r of rows) v.push(pgRow(r));
      if (rows.length < pageSize) break;
      after = Number(rows[rows.length - 1].seq);
    }
    return v.result();
  }
}

/** A row as SQLite would return it: BIGINT seq and DOUBLE duration as numbers. */
function pgRow(r: Record<string, unknown>): Record<string, unknown> {
  return { ...r, seq: Number(r.seq), duration_ms: Number(r.duration_ms) };
}
