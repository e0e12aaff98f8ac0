/**
 * The state every replica of a fleet shares, behind one asynchronous interface with a backend
 * per store: the audit chain, the decision outbox and its leases, leader leases, HTTP sessions,
 * and the review path (campaigns and their items, proposals, confirmations, tokens, the cursor
 * key). On SQLite (one machine) each call is the synchronous repository's; on PostgreSQL (a
 * fleet) each is a query on the pool. One contract suite (test/store/backend-contract.test.ts)
 * runs on both.
 */
import type { Campaign, CampaignStatus, CampaignSummary } from '../domain/index.js';
import type { AuditEntry, StoredAuditEntry, VerifyResult } from './audit.js';
import type { CursorCodec } from './cursor.js';
import { type Db, openDb } from './db.js';
import type { ConfirmationRow, NewProposal, OutboxStatusRow, OutboxWork, ProposalRow } from './decisions.js';
import { type HttpSessionRecord, sqliteSessions } from './http-sessions.js';
import { PgAuditLog } from './pg/audit.js';
import { isPostgresUrl, openPg, type PgPool } from './pg/db.js';
import { PgHttpSessions } from './pg/http-sessions.js';
import { PgLeaderLeases } from './pg/leader.js';
import { PgOutbox, type WorkResult } from './pg/outbox.js';
import { PgReview } from './pg/review.js';
import { PgTokens, pgCursorCodec } from './pg/tokens.js';
import { type ItemQuery, type ItemRow, Store } from './store.js';
import type { TokenRecord } from './tokens.js';

export type { HttpSessionRecord, WorkResult };
export { sqliteSessions };

/** Builds the audit entry a write appends in its own transaction (the entry commits with it or not at all). */
export type AuditOf<A extends unknown[] = []> = (...args: A) => AuditEntry;

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
    /** Whether a claim's worker still runs (SQLite: a process on this machine; PostgreSQL waits for the lease). */
    isAlive?: (worker: string) => boolean,
  ): Promise<OutboxWork[]>;
  releaseClaims(worker: string): Promise<void>;
  /** A failure (retryable keeps the row pending), with `audit`'s entry in the same transaction. */
  failWork(outboxId: number, error: string, retryable: boolean, audit?: AuditOf): Promise<void>;
  /** Records an applied row's effects and `audit`'s entry; false when the row was already done. */
  completeWork(w: OutboxWork, result: WorkResult, now: Date, audit?: AuditOf): Promise<boolean>;
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

/** What a confirmed batch queues (see DecisionsRepo.confirmIntoOutbox). */
export interface ConfirmBatch {
  /** An existing pending or confirmed row (a human-verified channel); null writes one (elicitation). */
  pendingId: string | null;
  principal: string;
  batchHash: string;
  proposalIds: string[];
  confirmedBy: string;
  channel: string;
  assurance: 'host-attested' | 'human-verified' | 'policy';
  now: Date;
  /** The confirmation's audit entry, committed with the outbox rows. */
  audit?: AuditOf<[confirmationId: string]>;
}

/**
 * The review path: what list_campaigns, list_campaign_items, propose_decision, submit_decision
 * and `attest confirm` read and write. Pages are keysets in one order on both stores (ids
 * compared byte by byte), so a cursor pages the same way on either.
 */
export interface SharedReview {
  listCampaigns(status?: CampaignStatus, reviewerIds?: string[]): Promise<CampaignSummary[]>;
  campaign(id: string): Promise<Campaign | undefined>;
  itemsPage(
    q: ItemQuery,
  ): Promise<{ items: ItemRow[]; last: Array<string | number> | null; hasMore: boolean }>;
  countItems(q: Omit<ItemQuery, 'sort' | 'limit' | 'after'>): Promise<number>;
  item(id: string): Promise<ItemRow | undefined>;
  /** Items by id (one query); ids not in the store are left out. */
  items(ids: string[]): Promise<Map<string, ItemRow>>;
  appOwner(app: string): Promise<string | null>;
  /** Where an item sits in the platform's own review ({} when unknown). */
  itemCoordinates(itemId: string): Promise<Record<string, string>>;
  proposal(id: string): Promise<ProposalRow | undefined>;
  /** Proposals by id (one query); ids not in the store are left out. */
  proposals(ids: string[]): Promise<Map<string, ProposalRow>>;
  draftIdsOf(itemId: string): Promise<string[]>;
  /** A draft (earlier drafts of the item superseded) and `audit`'s entry for it, in one transaction. */
  propose(
    p: NewProposal,
    audit: AuditOf<[row: ProposalRow]>,
  ): Promise<{ proposal: ProposalRow; seq: number }>;
  batchHash(proposalIds: string[]): Promise<string>;
  confirmation(id: string): Promise<ConfirmationRow | undefined>;
  confirmationFor(principal: string, batchHash: string): Promise<ConfirmationRow | undefined>;
  createPending(
    principal: string,
    batchHash: string,
    proposalIds: string[],
    now: Date,
    ttlMs: number,
    required: 'host-attested' | 'human-verified',
  ): Promise<ConfirmationRow>;
  markExpired(id: string): Promise<void>;
  recordRefusal(
    principal: string,
    batchHash: string,
    proposalIds: string[],
    by: string,
    channel: string,
    now: Date,
  ): Promise<string>;
  reject(
    id: string,
    by: string,
    channel: string,
    now: Date,
    assurance: 'host-attested' | 'human-verified' | null,
    audit?: AuditOf,
  ): Promise<{ done: boolean; seq: number | null }>;
  confirmIntoOutbox(args: ConfirmBatch): Promise<{ id: string; seq: number | null } | { already: true }>;
  outboxFor(proposalIds: string[]): Promise<OutboxStatusRow[]>;
}

/** HTTP bearer tokens (hashes only). */
export interface SharedTokens {
  create(
    principal: string,
    role: 'admin' | 'reviewer',
    expiresAt: Date | null,
    now?: Date,
    options?: { interactiveHost?: boolean },
  ): Promise<string>;
  lookup(token: string, now: Date): Promise<TokenRecord | { error: string }>;
}

export interface SharedState {
  kind: 'sqlite' | 'postgres';
  audit: SharedAudit;
  outbox: SharedOutbox;
  leases: SharedLeases;
  sessions: SharedSessions;
  review: SharedReview;
  tokens: SharedTokens;
  /** The codec of list cursors, signed with the store's own key (one key for every replica). */
  cursors(): Promise<CursorCodec>;
  close(): Promise<void>;
}

const ofStore = new WeakMap<Store, SharedState>();

/**
 * The shared state of an open SQLite store, through its own repositories (one per Store, so
 * the statement caches are shared); the caller keeps the connection's life.
 */
export function storeState(store: Store, close: () => void = () => {}): SharedState {
  const known = ofStore.get(store);
  if (known) return known;
  const { audit, decisions: repo, leases, tokens } = store;
  const append = (e: AuditEntry) => audit.append(e);
  const state: SharedState = {
    kind: 'sqlite',
    sessions: store.httpSessions,
    audit: {
      append: async (e) => append(e),
      head: async () => audit.head(),
      count: async () => audit.count(),
      entry: async (seq) => audit.entry(seq),
      verify: async () => audit.verify(),
    },
    outbox: {
      claimWork: async (worker, now, leaseUntil, limit, exclude, isAlive) =>
        repo.claimWork(worker, now, leaseUntil, limit, exclude, isAlive),
      releaseClaims: async (worker) => repo.releaseClaims(worker),
      failWork: async (id, error, retryable, entry) =>
        repo.failWork(id, error, retryable, entry ? () => void append(entry()) : undefined),
      completeWork: async (w, result, now, entry) =>
        repo.completeWork(w, result, now, entry ? () => void append(entry()) : undefined),
      pendingCount: async () => repo.pendingCount(),
    },
    leases: {
      tryLead: async (name, holder, ttl, now) => leases.tryLead(name, holder, ttl, now),
      resign: async (name, holder) => leases.resign(name, holder),
      holder: async (name, now) => leases.holder(name, now),
    },
    review: {
      listCampaigns: async (status, reviewerIds) => store.listCampaigns(status, reviewerIds),
      campaign: async (id) => store.getCampaign(id),
      itemsPage: async (q) => store.campaignItemsPage(q),
      countItems: async (q) => store.countItems(q),
      item: async (id) => store.getItem(id),
      items: async (ids) => {
        const out = new Map<string, ItemRow>();
        for (const id of ids) {
          const i = store.getItem(id);
          if (i) out.set(id, i);
        }
        return out;
      },
      appOwner: async (app) => store.appOwner(app),
      itemCoordinates: async (id) => store.itemPlatformDetails(id)?.coordinates ?? {},
      proposal: async (id) => repo.proposal(id),
      proposals: async (ids) => {
        const out = new Map<string, ProposalRow>();
        for (const id of ids) {
          const p = repo.proposal(id);
          if (p) out.set(id, p);
        }
        return out;
      },
      draftIdsOf: async (itemId) => repo.draftIdsOf(itemId),
      propose: async (p, entry) =>
        store.transaction(() => {
          const proposal = repo.propose(p);
          return { proposal, seq: append(entry(proposal)) };
        }),
      batchHash: async (ids) => repo.batchHash(ids),
      confirmation: async (id) => repo.confirmation(id),
      confirmationFor: async (principal, hash) => repo.confirmationFor(principal, hash),
      createPending: async (principal, hash, ids, now, ttl, required) =>
        repo.createPending(principal, hash, ids, now, ttl, required),
      markExpired: async (id) => repo.markExpired(id),
      recordRefusal: async (principal, hash, ids, by, channel, now) =>
        repo.recordRefusal(principal, hash, ids, by, channel, now),
      reject: async (id, by, channel, now, assurance, entry) => {
        let seq: number | null = null;
        const done = repo.reject(id, by, channel, now, assurance, () => {
          if (entry) seq = append(entry());
        });
        return { done, seq };
      },
      confirmIntoOutbox: async ({ audit: entry, ...args }) => {
        let seq: number | null = null;
        const r = repo.confirmIntoOutbox({
          ...args,
          inTransaction: (id) => {
            if (entry) seq = append(entry(id));
          },
        });
        return 'already' in r ? r : { id: r.id, seq };
      },
      outboxFor: async (ids) => repo.outboxFor(ids),
    },
    tokens: {
      create: async (principal, role, expiresAt, now, options) =>
        tokens.create(principal, role, expiresAt, now, options),
      lookup: async (token, now) => tokens.lookup(token, now),
    },
    cursors: async () => store.cursors,
    close: async () => close(),
  };
  ofStore.set(store, state);
  return state;
}

/** The shared state of an open SQLite connection (the caller keeps the connection's life). */
export function sqliteState(db: Db, close: () => void = () => {}): SharedState {
  return storeState(new Store(db), close);
}

/** The shared state of a PostgreSQL store, on a pool of its own. */
export function pgState(pool: PgPool): SharedState {
  const audit = new PgAuditLog(pool);
  const outbox = new PgOutbox(pool);
  const leases = new PgLeaderLeases(pool);
  const sessions = new PgHttpSessions(pool);
  const review = new PgReview(pool);
  const tokens = new PgTokens(pool);
  let cursors: Promise<CursorCodec> | null = null;
  return {
    kind: 'postgres',
    review: {
      listCampaigns: (status, reviewerIds) => review.listCampaigns(status, reviewerIds),
      campaign: (id) => review.campaign(id),
      itemsPage: (q) => review.itemsPage(q),
      countItems: (q) => review.countItems(q),
      item: (id) => review.item(id),
      items: (ids) => review.items(ids),
      appOwner: (app) => review.appOwner(app),
      itemCoordinates: (id) => review.itemCoordinates(id),
      proposal: (id) => review.proposal(id),
      proposals: (ids) => review.proposals(ids),
      draftIdsOf: (itemId) => review.draftIdsOf(itemId),
      propose: (p, entry) => review.propose(p, entry),
      batchHash: (ids) => review.batchHash(ids),
      confirmation: (id) => review.confirmation(id),
      confirmationFor: (principal, hash) => review.confirmationFor(principal, hash),
      createPending: (principal, hash, ids, now, ttl, required) =>
        review.createPending(principal, hash, ids, now, ttl, required),
      markExpired: (id) => review.markExpired(id),
      recordRefusal: (principal, hash, ids, by, channel, now) =>
        review.recordRefusal(principal, hash, ids, by, channel, now),
      reject: (id, by, channel, now, assurance, entry) =>
        review.reject(id, by, channel, now, assurance, entry),
      confirmIntoOutbox: (args) => review.confirmIntoOutbox(args),
      outboxFor: (ids) => review.outboxFor(ids),
    },
    tokens: {
      create: (principal, role, expiresAt, now, options) =>
        tokens.create(principal, role, expiresAt, now, options),
      lookup: (token, now) => tokens.lookup(token, now),
    },
    cursors: () => {
      cursors ??= pgCursorCodec(pool).catch((e: unknown) => {
        cursors = null;
        throw e;
      });
      return cursors;
    },
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
      // Replicas run on other machines: a dead worker's claim is taken over once its lease runs out.
      claimWork: (worker, now, leaseUntil, limit, exclude) =>
        outbox.claimWork(worker, now, leaseUntil, limit, exclude),
      releaseClaims: (worker) => outbox.releaseClaims(worker),
      failWork: (id, error, retryable, entry) =>
        outbox.failWork(
          id,
          error,
          retryable,
          entry ? async (c) => void (await audit.append(entry(), c)) : undefined,
        ),
      completeWork: (w, result, now, entry) =>
        outbox.completeWork(
          w,
          result,
          now,
          entry ? async (c) => void (await audit.append(entry(), c)) : undefined,
        ),
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

/**
 * Where a SQLite Store is expected but the process serves a PostgreSQL store: every use fails
 * naming what was asked for. Nothing served on PostgreSQL reaches it (its tools use SharedState;
 * the others are refused before they run), so reaching it is a bug, reported as such.
 */
export function sqliteStoreAbsent(): Store {
  return new Proxy({} as Store, {
    get(_t, prop) {
      throw new Error(
        `the SQLite store is not open (store.${String(prop)}): this process serves a PostgreSQL store`,
      );
    },
  });
}
