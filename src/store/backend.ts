/**
 * The state every replica of a fleet shares, behind one asynchronous interface with a backend
 * per store: the audit chain, the decision outbox and its leases, and leader leases. On SQLite
 * (one machine) each call is the synchronous repository's; on PostgreSQL (a fleet) each is a
 * query on the pool. One contract suite (test/store/backend-contract.test.ts) runs on both.
 */
import type { AuditEntry, StoredAuditEntry, VerifyResult } from './audit.js';
import { AuditLog } from './audit.js';
import { type Db, openDb } from './db.js';
import { DecisionsRepo, type OutboxWork } from './decisions.js';
import { type HttpSessionRecord, sqliteSessions } from './http-sessions.js';
import { LeaderLeases } from './leader.js';
import { PgAuditLog } from './pg/audit.js';
import { isPostgresUrl, openPg, type PgPool } from './pg/db.js';
import { PgHttpSessions } from './pg/http-sessions.js';
import { PgLeaderLeases } from './pg/leader.js';
import { PgOutbox, type WorkResult } from './pg/outbox.js';

export type { HttpSessionRecord, WorkResult };
export { sqliteSessions };

export interface SharedAudit {
  append(entry: AuditEntry): Promise<number>;
  head(): Promise<{ seq: number; hash: string } | null>;
  count(): Promise<number>;
  entry(seq: number): Promise<StoredAuditEntry | null>;
  verify(): Promise<VerifyResult>;
}

export interface SharedOutbox {
  claimWork(
    worker: string,
    now: Date,
    leaseUntil: Date,
    limit?: number,
    exclude?: number[],
  ): Promise<OutboxWork[]>;
  releaseClaims(worker: string): Promise<void>;
  failWork(outboxId: number, error: string, retryable: boolean): Promise<void>;
  completeWork(w: OutboxWork, result: WorkResult, now: Date): Promise<boolean>;
  pendingCount(): Promise<number>;
}

export interface SharedLeases {
  tryLead(name: string, holder: string, ttlMs: number, now?: Date): Promise<boolean>;
  resign(name: string, holder: string): Promise<void>;
  holder(name: string, now?: Date): Promise<string | null>;
}

/** Streamable HTTP sessions any replica can serve (src/transports/http.ts's SessionStore). */
export interface SharedSessions {
  open(r: HttpSessionRecord, perPrincipal: number): Promise<void>;
  find(id: string): Promise<HttpSessionRecord | null>;
  touch(id: string, at: number): Promise<void>;
  close(id: string): Promise<void>;
  prune(idleBefore: number, openedBefore: number): Promise<number>;
}

export interface SharedState {
  kind: 'sqlite' | 'postgres';
  audit: SharedAudit;
  outbox: SharedOutbox;
  leases: SharedLeases;
  sessions: SharedSessions;
  close(): Promise<void>;
}

/** The shared state of an open SQLite store (the caller keeps the connection's life). */
export function sqliteState(db: Db, close: () => void = () => {}): SharedState {
  const audit = new AuditLog(db);
  const repo = new DecisionsRepo(db);
  const leases = new LeaderLeases(db);
  return {
    kind: 'sqlite',
    sessions: sqliteSessions(db),
    audit: {
      append: async (e) => audit.append(e),
      head: async () => audit.head(),
      count: async () => audit.count(),
      entry: async (seq) => audit.entry(seq),
      verify: async () => audit.verify(),
    },
    outbox: {
      claimWork: async (worker, now, leaseUntil, limit, exclude) =>
        repo.claimWork(worker, now, leaseUntil, limit, exclude),
      releaseClaims: async (worker) => repo.releaseClaims(worker),
      failWork: async (id, error, retryable) => repo.failWork(id, error, retryable),
      completeWork: async (w, result, now) => repo.completeWork(w, result, now),
      pendingCount: async () => repo.pendingCount(),
    },
    leases: {
      tryLead: async (name, holder, ttl, now) => leases.tryLead(name, holder, ttl, now),
      resign: async (name, holder) => leases.resign(name, holder),
      holder: async (name, now) => leases.holder(name, now),
    },
    close: async () => close(),
  };
}

/** The shared state of a PostgreSQL store, on a pool of its own. */
export function pgState(pool: PgPool): SharedState {
  const audit = new PgAuditLog(pool);
  const outbox = new PgOutbox(pool);
  const leases = new PgLeaderLeases(pool);
  const sessions = new PgHttpSessions(pool);
  return {
    kind: 'postgres',
    sessions: {
      open: (r, per) => sessions.open(r, per),
      find: (id) => sessions.find(id),
      touch: (id, at) => sessions.touch(id, at),
      close: (id) => sessions.close(id),
      prune: (idle, opened) => sessions.prune(idle, opened),
    },
    audit: {
      append: (e) => audit.append(e),
      head: () => audit.head(),
      count: () => audit.count(),
      entry: (seq) => audit.entry(seq),
      verify: () => audit.verify(),
    },
    outbox: {
      claimWork: (worker, now, leaseUntil, limit, exclude) =>
        outbox.claimWork(worker, now, leaseUntil, limit, exclude),
      releaseClaims: (worker) => outbox.releaseClaims(worker),
      failWork: (id, error, retryable) => outbox.failWork(id, error, retryable),
      completeWork: (w, result, now) => outbox.completeWork(w, result, now),
      pendingCount: () => outbox.pendingCount(),
    },
    leases: {
      tryLead: (name, holder, ttl, now) => leases.tryLead(name, holder, ttl, now),
      resign: (name, holder) => leases.resign(name, holder),
      holder: (name, now) => leases.holder(name, now),
    },
    close: () => pool.end(),
  };
}

/** Opens the shared state of the store `db` names: a SQLite file, or `postgres://…`. */
export async function openSharedState(db: string): Promise<SharedState> {
  if (isPostgresUrl(db)) return pgState(await openPg(db));
  const d = openDb(db);
  return sqliteState(d, () => d.close());
}
