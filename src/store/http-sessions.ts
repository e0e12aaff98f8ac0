import type { SharedSessions } from './backend.js';
import type { Db } from './db.js';

/** A Streamable HTTP session as the fleet shares it (times in ms since the epoch). */
export interface HttpSessionRecord {
  id: string;
  principal: string;
  /** The principal's identity and rights when it opened: a request must match all of it. */
  binding: string;
  /** The client's initialize parameters, replayed to rebuild the session in another process. */
  init: unknown;
  opened: number;
  lastUsed: number;
}

interface Row {
  id: string;
  principal_id: string;
  binding: string;
  init: string;
  opened_at: number | string;
  last_used_at: number | string;
}

export function recordOf(r: Row): HttpSessionRecord {
  return {
    id: r.id,
    principal: r.principal_id,
    binding: r.binding,
    init: JSON.parse(r.init),
    opened: Number(r.opened_at),
    lastUsed: Number(r.last_used_at),
  };
}

/**
 * HTTP sessions on the SQLite store, so that every `attest serve --http` process on the machine
 * serves every session. The same contract as PgHttpSessions.
 */
export class HttpSessions {
  constructor(private readonly db: Db) {}

  /** Records a new session; the principal's least recently used sessions beyond `perPrincipal` end. */
  open(r: HttpSessionRecord, perPrincipal: number): void {
    this.db
      .transaction(() => {
        this.db
          .prepare(
            'INSERT INTO http_sessions (id, principal_id, binding, init, opened_at, last_used_at) VALUES (?, ?, ?, ?, ?, ?)',
          )
          .run(r.id, r.principal, r.binding, JSON.stringify(r.init ?? {}), r.opened, r.lastUsed);
        this.db
          .prepare(
            `DELETE FROM http_sessions WHERE principal_id = ? AND id NOT IN (
               SELECT id FROM http_sessions WHERE principal_id = ? ORDER BY last_used_at DESC, id LIMIT ?)`,
          )
          .run(r.principal, r.principal, Math.max(1, perPrincipal));
      })
      .immediate();
  }

  find(id: string): HttpSessionRecord | null {
    const r = this.db.prepare('SELECT * FROM http_sessions WHERE id = ?').get(id) as Row | undefined;
    return r ? recordOf(r) : null;
  }

  /** Moves the session's last use forward (never back: replicas touch in any order). */
  touch(id: string, at: number): void {
    this.db.prepare('UPDATE http_sessions SET last_used_at = max(last_used_at, ?) WHERE id = ?').run(at, id);
  }

  close(id: string): void {
    this.db.prepare('DELETE FROM http_sessions WHERE id = ?').run(id);
  }

  /** Ends sessions idle since `idleBefore` or opened before `openedBefore`; returns how many. */
  prune(idleBefore: number, openedBefore: number): number {
    return this.db
      .prepare('DELETE FROM http_sessions WHERE last_used_at <= ? OR opened_at <= ?')
      .run(idleBefore, openedBefore).changes;
  }
}

/** The HTTP sessions of an open SQLite store. */
export function sqliteSessions(db: Db): SharedSessions {
  const sessions = new HttpSessions(db);
  return {
    open: async (r, per) => sessions.open(r, per),
    find: async (id) => sessions.find(id),
    touch: async (id, at) => sessions.touch(id, at),
    close: async (id) => sessions.close(id),
    prune: async (idle, opened) => sessions.prune(idle, opened),
  };
}
