import * as crypto from 'node:crypto';
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

/** The prev_hash of the first entry. */
export const GENESIS = '0'.repeat(64);

/**
 * The chain's tail per connection, as this connection last appended it (committed). Shared by
 * every AuditLog on the connection (one per MCP session). It may be stale when another
 * connection appended since: append then fails on the primary key and reads the tail again.
 */
const tails = new WeakMap<Db, { seq: number; hash: string }>();

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
export function entryHash(seq: number, prevHash: string, e: AuditEntry): string {
  const args = canonicalJson(e.arguments ?? null);
  const details = e.details === null || e.details === undefined ? 'null' : canonicalJson(e.details);
  return hashOfBody(prevHash, bodyOf(seq, e, args, details));
}

/**
 * The hashed body with the canonical JSON of the arguments and details given as text, as
 * appended: the bytes are the ones stored, so they are serialised once.
 */
function bodyOf(seq: number, e: AuditEntry, argsText: string, detailsText: string): string {
  let body = '{';
  for (let i = 0; i < HASHED_FIELDS.length; i++) {
    const k = HASHED_FIELDS[i]!;
    let text: string;
    if (k === 'arguments') text = argsText;
    else if (k === 'details') text = detailsText;
    else if (k === 'seq') text = String(seq);
    else {
      // A missing field is stored as NULL, so it is hashed as null too (verify reads it back so).
      const v = e[k] ?? null;
      text = v !== null && typeof v === 'object' ? canonicalJson(v) : JSON.stringify(v);
    }
    if (i > 0) body += ',';
    body += FIELD_KEYS[i]! + text;
  }
  return `${body}}`;
}

/** One-shot SHA-256 (crypto.hash, Node 20.12+; a Hash object before that). */
const sha256Hex: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex')
    : (text) => crypto.createHash('sha256').update(text).digest('hex');

function hashOfBody(prevHash: string, body: string): string {
  return sha256Hex(`${prevHash}\n${body}`);
}

export function rowToEntry(r: Record<string, unknown>): StoredAuditEntry {
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

/** A string as SQLite will store it: a lone UTF-16 surrogate becomes U+FFFD, as in any UTF-8 text. */
function wellFormed(s: string): string {
  // ES2024 string methods (Node 20 has them; the ES2023 lib here does not declare them).
  const w = s as unknown as { isWellFormed(): boolean; toWellFormed(): string };
  return w.isWellFormed() ? s : w.toWellFormed();
}

/** A JSON value with every string (and key) well formed, own `__proto__` keys kept. */
function wellFormedJson(v: unknown): unknown {
  if (typeof v === 'string') return wellFormed(v);
  if (Array.isArray(v)) return v.map(wellFormedJson);
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) {
      Object.defineProperty(out, wellFormed(k), {
        value: wellFormedJson(x),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return out;
  }
  return v;
}

/**
 * The entry exactly as it will be read back from the store: strings well formed (SQLite
 * would otherwise replace a lone surrogate after the hash was taken, and the entry would
 * never verify again), and arguments and details as their JSON text parses (a Date, a
 * NaN or an undefined inside them is hashed as what is stored, not as what was passed).
 */
export function storedForm(e: AuditEntry): AuditEntry {
  return storedWithText(e).entry;
}

/**
 * JSON.stringify escapes a lone surrogate as `\udxxx`, which JSON.parse turns back into one:
 * only then does the parsed value need wellFormedJson.
 */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;

/**
 * The canonical JSON of a value that is plain JSON already (well-formed strings and keys,
 * finite numbers, no toJSON, no undefined in an array, no function or symbol): then the text
 * parses back to an equal value, whose canonicalJson is this text again. Anything else
 * gives null, and the caller takes the stringify-and-parse path.
 */
function plainCanonical(v: unknown, depth = 0): string | null {
  if (v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return (v as unknown as { isWellFormed(): boolean }).isWellFormed() ? JSON.stringify(v) : null;
    case 'number':
      return Number.isFinite(v) ? JSON.stringify(v) : null;
    case 'boolean':
      return v ? 'true' : 'false';
    case 'object':
      break;
    default:
      return null;
  }
  if (depth > 64) return null;
  if (Array.isArray(v)) {
    let out = '[';
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (x === undefined) return null;
      const t = plainCanonical(x, depth + 1);
      if (t === null) return null;
      out += i > 0 ? `,${t}` : t;
    }
    return `${out}]`;
  }
  const o = v as Record<string, unknown>;
  if (typeof o.toJSON === 'function') return null;
  const keys = Object.keys(o).sort();
  let out = '{';
  let first = true;
  for (const k of keys) {
    const x = o[k];
    if (x === undefined) continue;
    if (!(k as unknown as { isWellFormed(): boolean }).isWellFormed()) return null;
    const t = plainCanonical(x, depth + 1);
    if (t === null) return null;
    out += `${first ? '' : ','}${JSON.stringify(k)}:${t}`;
    first = false;
  }
  return `${out}}`;
}

/**
 * storedForm, with the JSON text of the arguments and details as they are stored: their
 * canonical JSON, which is also the text hashed.
 */
function storedWithText(e: AuditEntry): { entry: AuditEntry; args: string; details: string | null } {
  const texts: string[] = [];
  const json = (v: unknown) => {
    const plain = plainCanonical(v ?? null);
    if (plain !== null) {
      texts.push(plain);
      return v ?? null;
    }
    let text = JSON.stringify(v ?? null);
    let value = JSON.parse(text);
    if (SURROGATE_ESCAPE.test(text)) value = wellFormedJson(value);
    text = canonicalJson(value);
    texts.push(text);
    return value;
  };
  const opt = (v: string | null | undefined) => (v === null || v === undefined ? null : wellFormed(v));
  const entry: AuditEntry = {
    at: wellFormed(e.at),
    principal: wellFormed(e.principal),
    client_name: opt(e.client_name),
    client_version: opt(e.client_version),
    session_id: opt(e.session_id),
    transport: opt(e.transport),
    tool: wellFormed(e.tool),
    kind: wellFormed(e.kind),
    arguments: json(e.arguments),
    outcome: e.outcome,
    error: opt(e.error),
    duration_ms: Number.isFinite(e.duration_ms) ? e.duration_ms : 0,
    details:
      e.details === null || e.details === undefined ? null : (json(e.details) as Record<string, unknown>),
  };
  return { entry, args: texts[0]!, details: entry.details === null ? null : texts[1]! };
}

/** One entry that does not verify. */
export interface BrokenEntry {
  seq: number;
  reason: string;
}

export type VerifyResult =
  | { ok: true; entries: number; head: { seq: number; hash: string } | null }
  | {
      ok: false;
      entries: number;
      head: { seq: number; hash: string } | null;
      /** The first broken entry (as `broken[0]`). */
      seq: number;
      reason: string;
      /** Every entry that does not verify, in log order. */
      broken: BrokenEntry[];
    };

/**
 * Checks a chain row by row in stored order and reports every entry that does not verify:
 * one whose content does not match its hash, one whose prev_hash is not the hash stored
 * before it, and gaps or reorderings in the sequence. An entry after a broken one is still
 * checked on its own, so a second change further on is reported too. Both stores feed it.
 */
export class ChainVerifier {
  private readonly broken: BrokenEntry[] = [];
  private prevHash = GENESIS;
  private prevSeq = 0;
  private n = 0;
  private head: { seq: number; hash: string } | null = null;

  push(r: Record<string, unknown>): void {
    const broken = this.broken;
    this.n++;
    const seq = Number(r.seq);
    const storedHash = String(r.hash);
    this.head = { seq, hash: storedHash };
    const prevSeq = this.prevSeq;
    let e: StoredAuditEntry | null = null;
    try {
      e = rowToEntry(r);
    } catch {
      broken.push({ seq, reason: 'entry is not readable (corrupt JSON)' });
    }
    if (e) {
      if (seq !== prevSeq + 1) {
        broken.push({
          seq,
          reason:
            seq === prevSeq + 2
              ? `entry ${prevSeq + 1} is missing before entry ${seq} (deleted)`
              : seq > prevSeq + 2
                ? `entries ${prevSeq + 1}-${seq - 1} are missing before entry ${seq} (deleted)`
                : `entry ${seq} comes after entry ${prevSeq} (entries were reordered or inserted)`,
        });
      } else if (e.prev_hash !== this.prevHash) {
        broken.push({ seq, reason: 'prev_hash does not match the hash of the entry before it' });
      }
      if (entryHash(e.seq, e.prev_hash, e) !== e.hash) {
        broken.push({ seq, reason: 'content does not match its hash (the entry was changed)' });
      }
    }
    this.prevHash = storedHash;
    this.prevSeq = seq;
  }

  result(): VerifyResult {
    const { broken, n, head } = this;
    if (broken.length === 0) return { ok: true, entries: n, head };
    return { ok: false, entries: n, head, seq: broken[0]!.seq, reason: broken[0]!.reason, broken };
  }
}

/**
 * The append-only audit log. Each entry carries the hash of the previous one, so
 * changing, deleting or reordering any row breaks the chain from there on; SQLite
 * triggers refuse UPDATE and DELETE on the table.
 */
export class AuditLog {
  private readonly last;
  private readonly insert;

  constructor(private readonly db: Db) {
    this.last = db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1');
    this.insert = db.prepare(
      `INSERT INTO audit_log (seq, at, principal, client_name, client_version, session_id, transport, tool, kind, arguments,
        outcome, error, duration_ms, details, prev_hash, hash)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
  }

  /**
   * Appends an entry; returns its sequence number. The entry is committed (or part of the
   * caller's open transaction) when this returns.
   *
   * No explicit lock is taken, and no query is made before the insert: the tail this
   * connection last appended is cached, and seq is the table's primary key. When another
   * connection (another process, the CLI) appended since, the insert fails on the key, the
   * tail is read again and the entry is chained after it. The chain can't fork.
   */
  append(entry: AuditEntry): number {
    const { entry: e, args: argsText, details: detailsText } = storedWithText(entry);
    const body = (seq: number) => bodyOf(seq, e, argsText, detailsText ?? 'null');
    for (let attempt = 0; ; attempt++) {
      let tail = tails.get(this.db);
      if (tail === undefined) {
        const last = this.last.get() as { seq: number; hash: string } | undefined;
        tail = { seq: last?.seq ?? 0, hash: last?.hash ?? GENESIS };
      }
      const seq = tail.seq + 1;
      const hash = hashOfBody(tail.hash, body(seq));
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
          argsText,
          e.outcome,
          e.error,
          e.duration_ms,
          detailsText,
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
      else tails.set(this.db, { seq, hash });
      return seq;
    }
  }

  /** True while the connection is inside a transaction (an entry appended now may still roll back). */
  inTransaction(): boolean {
    return this.db.inTransaction;
  }

  /** The last entry's sequence number and hash (null for an empty log). */
  head(): { seq: number; hash: string } | null {
    return (this.last.get() as { seq: number; hash: string } | undefined) ?? null;
  }

  /** The stored hash of entry `seq`, if it exists. */
  hashAt(seq: number): string | null {
    const r = this.db.prepare('SELECT hash FROM audit_log WHERE seq = ?').get(seq) as
      | { hash: string }
      | undefined;
    return r?.hash ?? null;
  }

  /**
   * Checks the whole chain and reports every entry that does not verify: one whose content
   * does not match its hash, one whose prev_hash is not the hash stored before it, and
   * gaps or reorderings in the sequence. An entry after a broken one is still checked on
   * its own, so a second change further on is reported too.
   */
  verify(): VerifyResult {
    const v = new ChainVerifier();
    for (const r of this.db.prepare('SELECT * FROM audit_log ORDER BY rowid').iterate() as Iterable<
      Record<string, unknown>
    >)
      v.push(r);
    return v.result();
  }

  *entries(since?: string): Generator<StoredAuditEntry> {
    const rows = this.db
      .prepare('SELECT * FROM audit_log WHERE (? IS NULL OR at >= ?) ORDER BY seq')
      .iterate(since ?? null, since ?? null) as Iterable<Record<string, unknown>>;
    for (const r of rows) yield rowToEntry(r);
  }

  /** Entries matching the filters, newest first, `limit` of them before `beforeSeq` (a page). */
  search(f: {
    from?: string;
    to?: string;
    principal?: string;
    tool?: string;
    outcome?: string;
    beforeSeq?: number;
    limit: number;
  }): StoredAuditEntry[] {
    const rows = this.db
      .prepare(
        `SELECT * FROM audit_log WHERE (@from IS NULL OR at >= @from) AND (@to IS NULL OR at <= @to)
           AND (@principal IS NULL OR principal = @principal) AND (@tool IS NULL OR tool = @tool)
           AND (@outcome IS NULL OR outcome = @outcome) AND (@before IS NULL OR seq < @before)
         ORDER BY seq DESC LIMIT @limit`,
      )
      .all({
        from: f.from ?? null,
        to: f.to ?? null,
        principal: f.principal ?? null,
        tool: f.tool ?? null,
        outcome: f.outcome ?? null,
        before: f.beforeSeq ?? null,
        limit: f.limit,
      }) as Array<Record<string, unknown>>;
    return rows.map(rowToEntry);
  }

  /** One entry by its sequence number. */
  entry(seq: number): StoredAuditEntry | null {
    const r = this.db.prepare('SELECT * FROM audit_log WHERE seq = ?').get(seq) as
      | Record<string, unknown>
      | undefined;
    return r ? rowToEntry(r) : null;
  }

  count(): number {
    return (this.db.prepare('SELECT count(*) AS n FROM audit_log').get() as { n: number }).n;
  }
}
