import { createHash } from 'node:crypto';
import type { Db } from './db.js';

/** One audit entry as appended. */
export interface AuditEntry {
  at: string;
  principal: string;
  client_name: string | null;
  client_version: string | null;
  session_id: string | null;
  transport: string | null;
  tool: string;
  kind: string;
  arguments: unknown;
  outcome: 'ok' | 'error' | 'refused';
  error: string | null;
  duration_ms: number;
  details: Record<string, unknown> | null;
}

export interface StoredAuditEntry extends AuditEntry {
  seq: number;
  prev_hash: string;
  hash: string;
}

const GENESIS = '0'.repeat(64);

/**
 * The chain's tail per connection, with the database's data_version when it was read.
 * Shared by every AuditLog on the connection (one per MCP session), so none holds a stale tail.
 */
const tails = new WeakMap<Db, { seq: number; hash: string; version: number }>();

/** Canonical JSON: object keys sorted, so the hash does not depend on insertion order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value as Record<string, unknown>)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
}

/** The hashed fields, in the sorted key order canonicalJson gives them. */
const HASHED_FIELDS = [
  'arguments',
  'at',
  'client_name',
  'client_version',
  'details',
  'duration_ms',
  'error',
  'kind',
  'outcome',
  'principal',
  'seq',
  'session_id',
  'tool',
  'transport',
] as const;
const FIELD_KEYS = HASHED_FIELDS.map((k) => `${JSON.stringify(k)}:`);

/**
 * The entry's hash: sha256 over the previous hash, a newline and the canonical JSON of the
 * entry with its seq. The body is built field by field in canonical key order (the same
 * bytes canonicalJson would give for the whole object, without sorting on every call).
 */
function entryHash(seq: number, prevHash: string, e: AuditEntry): string {
  let body = '{';
  for (let i = 0; i < HASHED_FIELDS.length; i++) {
    const k = HASHED_FIELDS[i]!;
    // A missing field is stored as NULL, so it is hashed as null too (verify reads it back so).
    const v = k === 'seq' ? seq : (e[k] ?? null);
    if (body.length > 1) body += ',';
    body += FIELD_KEYS[i]! + (v !== null && typeof v === 'object' ? canonicalJson(v) : JSON.stringify(v));
  }
  body += '}';
  return createHash('sha256').update(`${prevHash}\n${body}`).digest('hex');
}

function rowToEntry(r: Record<string, unknown>): StoredAuditEntry {
  return {
    seq: Number(r.seq),
    at: String(r.at),
    principal: String(r.principal),
    client_name: (r.client_name as string | null) ?? null,
    client_version: (r.client_version as string | null) ?? null,
    session_id: (r.session_id as string | null) ?? null,
    transport: (r.transport as string | null) ?? null,
    tool: String(r.tool),
    kind: String(r.kind),
    arguments: JSON.parse(String(r.arguments)),
    outcome: r.outcome as AuditEntry['outcome'],
    error: (r.error as string | null) ?? null,
    duration_ms: Number(r.duration_ms),
    details: r.details == null ? null : JSON.parse(String(r.details)),
    prev_hash: String(r.prev_hash),
    hash: String(r.hash),
  };
}

/**
 * The append-only audit log. Each entry carries the hash of the previous one, so
 * changing, deleting or reordering any row breaks the chain from there on; SQLite
 * triggers refuse UPDATE and DELETE on the table.
 */
export class AuditLog {
  private readonly last;
  private readonly insert;
  private readonly dataVersion;

  constructor(private readonly db: Db) {
    this.last = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.insert = db.prepare(
      `INSERT INTO audit_log (seq, at, principal, client_name, client_version, session_id, transport, tool, kind, arguments,
        outcome, error, duration_ms, details, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.dataVersion = db.prepare('PRAGMA data_version').pluck();
  }

  /**
   * Appends an entry; returns its sequence number. The entry is committed (or part of the
   * caller's open transaction) when this returns.
   *
   * No explicit lock is taken: seq is the table's primary key, so when another connection
   * appended since this one read the tail, the insert fails on the key, the tail is read
   * again and the entry is chained after it. The chain can't fork.
   */
  append(e: AuditEntry): number {
    for (let attempt = 0; ; attempt++) {
      // The cached tail is trusted only if no other connection (e.g. the CLI) has written
      // since it was read: data_version changes exactly then.
      const version = this.dataVersion.get() as number;
      let tail = tails.get(this.db);
      if (tail === undefined || tail.version !== version) {
        const last = this.last.get() as { seq: number; hash: string } | undefined;
        tail = { seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS, version };
      }
      const seq = tail.seq + 1;
      const hash = entryHash(seq, tail.hash, e);
      try {
        this.insert.run(
          seq,
          e.at,
          e.principal,
          e.client_name,
          e.client_version,
          e.session_id,
          e.transport,
          e.tool,
          e.kind,
          JSON.stringify(e.arguments ?? null),
          e.outcome,
          e.error,
          e.duration_ms,
          e.details === null ? null : JSON.stringify(e.details),
          tail.hash,
          hash,
        );
      } catch (err) {
        tails.delete(this.db);
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY' && attempt < 100) continue;
        throw err;
      }
      // Inside a caller's transaction the entry may still be rolled back: don't trust it as the tail.
      if (this.db.inTransaction) tails.delete(this.db);
      else tails.set(this.db, { seq, hash, version });
      return seq;
    }
  }

  /** Checks the whole chain; names the first entry that does not verify. */
  verify(): { ok: true; entries: number } | { ok: false; entries: number; seq: number; reason: string } {
    let prev = GENESIS;
    let expectedSeq = 1;
    let n = 0;
    for (const r of this.db.prepare('SELECT * FROM audit_log ORDER BY rowid').iterate() as Iterable<
      Record<string, unknown>
    >) {
      n++;
      let e: StoredAuditEntry;
      try {
        e = rowToEntry(r);
      } catch {
        return { ok: false, entries: n, seq: Number(r.seq), reason: 'entry is not readable (corrupt JSON)' };
      }
      if (e.seq !== expectedSeq) {
        return {
          ok: false,
          entries: n,
          seq: e.seq,
          reason: `expected entry ${expectedSeq} here, found ${e.seq} (an entry was deleted or reordered)`,
        };
      }
      if (e.prev_hash !== prev) {
        return { ok: false, entries: n, seq: e.seq, reason: 'prev_hash does not match the previous entry' };
      }
      if (entryHash(e.seq, prev, e) !== e.hash) {
        return {
          ok: false,
          entries: n,
          seq: e.seq,
          reason: 'content does not match its hash (the entry was changed)',
        };
      }
      prev = e.hash;
      expectedSeq++;
    }
    return { ok: true, entries: n };
  }

  *entries(since?: string): Generator<StoredAuditEntry> {
    const rows = this.db
      .prepare('SELECT * FROM audit_log WHERE (? IS NULL OR at >= ?) ORDER BY seq')
      .iterate(since ?? null, since ?? null) as Iterable<Record<string, unknown>>;
    for (const r of rows) yield rowToEntry(r);
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  }
}
