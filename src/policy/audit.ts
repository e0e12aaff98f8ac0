import { createHash } from 'node:crypto';
import { type AuditEntry, type AuditLog, canonicalJson } from '../store/audit.js';
import type { SharedAudit } from '../store/backend.js';
import type { CheckpointWriter } from './checkpoints.js';
import { redact, redactText } from './redact.js';

/** What one audited event is, before redaction and capping. */
export interface AuditFacts {
  at: string;
  principal: string;
  client: { name: string; version: string } | null;
  session_id: string | null;
  transport: string;
  /** The tool (or `resource:…`, `prompt:…`, `protocol:…`, `policy:…`, `outbox:…`, `cli:…`). */
  tool: string;
  kind: string;
  /** The arguments as received: redacted and capped here. */
  arguments: unknown;
  outcome: AuditEntry['outcome'];
  error: string | null;
  duration_ms: number;
  details: Record<string, unknown> | null;
}

/** An audit entry a service appends now, with the caller's principal, client and session filled in. */
export type RecordEvent = (event: {
  tool: string;
  kind: string;
  arguments: Record<string, unknown>;
  outcome: AuditEntry['outcome'];
  error?: string | null;
  details?: Record<string, unknown> | null;
}) => number;

/** The same event as an entry built but not appended: a repository appends it inside its own transaction. */
export type EventEntry = (event: Parameters<RecordEvent>[0]) => AuditEntry;

/** Bounds on what one entry keeps of what a caller sent. */
export const AUDIT_LIMITS = {
  /** Characters kept of one string argument. */
  string: 2048,
  /** Items kept of one array. */
  array: 200,
  /** Keys kept of one object. */
  keys: 100,
  /** Nesting kept. */
  depth: 12,
  /** Characters kept of the tool name, client name and version, session id. */
  name: 200,
  /** Characters kept of an error message. */
  error: 4000,
  /** Characters kept of one call's arguments in all (strings, keys and other values). */
  total: 16_384,
} as const;

/**
 * A bounded copy of a JSON value: long strings, arrays and objects are cut with a marker
 * saying how much was left out, and once `total` characters are kept, everything after
 * (per string, item or key) is. Own `__proto__` keys are kept as data.
 */
export function capValue(
  value: unknown,
  depth = 0,
  total: number = Number.POSITIVE_INFINITY,
): { value: unknown; cut: boolean } {
  let cut = false;
  let left = total;
  const walk = (v: unknown, d: number): unknown => {
    if (typeof v === 'string') {
      const keep = Math.max(0, Math.min(AUDIT_LIMITS.string, left));
      if (v.length <= keep) {
        left -= v.length;
        return v;
      }
      cut = true;
      left -= keep;
      return `${v.slice(0, keep)}…[+${v.length - keep} chars]`;
    }
    if (v === null || typeof v !== 'object') {
      left -= String(v).length;
      return v;
    }
    if (d >= AUDIT_LIMITS.depth) {
      cut = true;
      return '[nested too deep]';
    }
    if (Array.isArray(v)) {
      const out: unknown[] = [];
      for (const x of v) {
        if (out.length >= AUDIT_LIMITS.array || left <= 0) break;
        out.push(walk(x, d + 1));
      }
      if (v.length > out.length) {
        cut = true;
        out.push(`…[+${v.length - out.length} items]`);
      }
      return out;
    }
    const out: Record<string, unknown> = {};
    const entries = Object.entries(v);
    let kept = 0;
    for (const [k, x] of entries.slice(0, AUDIT_LIMITS.keys)) {
      if (left <= 0) break;
      kept++;
      left -= Math.min(k.length, AUDIT_LIMITS.name);
      const key = k.length > AUDIT_LIMITS.name ? `${k.slice(0, AUDIT_LIMITS.name)}…` : k;
      if (key !== k) cut = true;
      Object.defineProperty(out, key, {
        value: walk(x, d + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    if (entries.length > kept) {
      cut = true;
      out['…'] = `[+${entries.length - kept} keys]`;
    }
    return out;
  };
  const capped = walk(value, depth);
  return { value: capped, cut };
}

function capName(s: string | null | undefined): string | null {
  if (s === null || s === undefined) return null;
  return s.length > AUDIT_LIMITS.name ? `${s.slice(0, AUDIT_LIMITS.name)}…` : s;
}

/** The digest of a JSON value as its canonical JSON (RFC 8785 ordering), for a capped copy. */
export function digestOf(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex');
}

/**
 * The one way an audit entry is built: every secret the process knows and every
 * secret-looking value redacted (in the tool name, arguments, error and details alike),
 * arguments capped with the digest and size of the full (redacted) arguments when cut,
 * names bounded. Appends, then writes a signed checkpoint when one is due.
 */
export class Auditor {
  private readonly sync: AuditLog | null;
  private readonly shared: SharedAudit | null;

  /**
   * `sink` is the SQLite store's audit log (appends commit before `record` returns), or the
   * shared audit of either backend (PostgreSQL: appends are asynchronous; use `recordAsync`).
   */
  constructor(
    sink: AuditLog | SharedAudit,
    private readonly secrets: () => readonly string[] = () => [],
    private readonly checkpoints: CheckpointWriter | null = null,
  ) {
    const isSync = 'inTransaction' in sink;
    this.sync = isSync ? (sink as AuditLog) : null;
    this.shared = isSync ? null : (sink as SharedAudit);
  }

  /** The SQLite store's audit log (checkpoints, the console); there is none on PostgreSQL. */
  get log(): AuditLog {
    if (!this.sync) throw new Error('the audit log is asynchronous on this store: use recordAsync');
    return this.sync;
  }

  /** Builds the stored form of an entry (redacted, capped) without appending it. */
  entry(f: AuditFacts): AuditEntry {
    const known = this.secrets();
    const args = redact(f.arguments ?? {}, known);
    const capped = capValue(args, 0, AUDIT_LIMITS.total);
    let details =
      f.details && Object.keys(f.details).length > 0
        ? (redact(f.details, known) as Record<string, unknown>)
        : null;
    const cappedDetails = details ? capValue(details) : null;
    if (cappedDetails) details = cappedDetails.value as Record<string, unknown>;
    if (capped.cut) {
      const text = JSON.stringify(args) ?? 'null';
      details = {
        ...(details ?? {}),
        arguments_cut: { sha256: digestOf(args), bytes: Buffer.byteLength(text, 'utf8') },
      };
    }
    const error =
      f.error === null
        ? null
        : (() => {
            const e = redactText(f.error, known);
            return e.length > AUDIT_LIMITS.error
              ? `${e.slice(0, AUDIT_LIMITS.error)}…[+${e.length - AUDIT_LIMITS.error} chars]`
              : e;
          })();
    return {
      at: f.at,
      principal: capName(redactText(f.principal, known)) ?? '',
      client_name: capName(f.client?.name === undefined ? null : redactText(f.client.name, known)),
      client_version: capName(f.client?.version === undefined ? null : redactText(f.client.version, known)),
      session_id: capName(f.session_id),
      transport: capName(f.transport),
      tool: capName(redactText(f.tool, known)) ?? '',
      kind: f.kind,
      arguments: capped.value,
      outcome: f.outcome,
      error,
      duration_ms: f.duration_ms,
      details,
    };
  }

  /**
   * Appends one entry; returns its sequence number. Inside a caller's transaction the entry
   * commits (or rolls back) with the caller's effects; a checkpoint is then written only by
   * the caller's `afterCommit`.
   */
  record(f: AuditFacts): number {
    const log = this.log;
    const seq = log.append(this.entry(f));
    if (!log.inTransaction()) this.checkpoints?.maybe(log, seq);
    return seq;
  }

  /**
   * Appends one entry on either store; resolves once it is committed. On SQLite the append
   * happens before this returns, as `record`'s does.
   */
  async recordAsync(f: AuditFacts): Promise<number> {
    if (this.shared) return this.shared.append(this.entry(f));
    return this.record(f);
  }

  /** Builds this caller's events as entries for a repository to append in its transaction (see EventEntry). */
  eventEntries(
    base: Pick<AuditFacts, 'principal' | 'client' | 'session_id' | 'transport'>,
    now: () => Date = () => new Date(),
  ): EventEntry {
    return (e) =>
      this.entry({
        ...base,
        at: now().toISOString(),
        tool: e.tool,
        kind: e.kind,
        arguments: e.arguments,
        outcome: e.outcome,
        error: e.error ?? null,
        duration_ms: 0,
        details: e.details ?? null,
      });
  }

  /**
   * A RecordEvent for one caller. Entries appended inside a transaction get their
   * checkpoint (when due) once the transaction has committed.
   */
  events(
    base: Pick<AuditFacts, 'principal' | 'client' | 'session_id' | 'transport'>,
    now: () => Date = () => new Date(),
  ): RecordEvent {
    return (e) => {
      const seq = this.record({
        ...base,
        at: now().toISOString(),
        tool: e.tool,
        kind: e.kind,
        arguments: e.arguments,
        outcome: e.outcome,
        error: e.error ?? null,
        duration_ms: 0,
        details: e.details ?? null,
      });
      if (this.sync?.inTransaction()) queueMicrotask(() => this.afterCommit(seq));
      return seq;
    };
  }

  /** Writes a checkpoint if the entry `seq` is due one (for entries appended inside a transaction). */
  afterCommit(seq: number): void {
    if (this.sync) this.checkpoints?.maybe(this.sync, seq);
  }
}
