/**
 * One contract for the state replicas share, run on both stores: SQLite (a real file, several
 * connections) and PostgreSQL (a real server from Debian's `postgresql` package, started by
 * test/helpers/postgres.ts, several pools as several replicas would have). How to run the
 * PostgreSQL part locally is in that helper's header.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../../src/store/audit.js';
import { openSharedState, type SharedState } from '../../src/store/backend.js';
import { openDb } from '../../src/store/db.js';
import { COPIED_TABLES } from '../../src/store/pg/copy.js';
import { openPg } from '../../src/store/pg/db.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';

const pgAvailable = postgresAvailable();
if (!pgAvailable.ok && process.env.CI === 'true') {
  throw new Error(`CI needs PostgreSQL for the store contract: ${pgAvailable.why}`);
}
if (!pgAvailable.ok) process.stderr.write(`store contract: PostgreSQL part skipped (${pgAvailable.why})\n`);

/** Raw SQL for seeding and tampering, in either dialect (`?` placeholders). */
interface Raw {
  run(sql: string, params?: unknown[]): Promise<void>;
  all<T>(sql: string, params?: unknown[]): Promise<T[]>;
  close(): Promise<void>;
}

interface Backend {
  name: 'sqlite' | 'postgres';
  /** A fresh, migrated store; returns its --db value. */
  fresh(): Promise<string>;
  raw(db: string): Raw;
}

const tmp = mkdtempSync(join(tmpdir(), 'attest-contract-'));
let server: TestPostgres | null = null;
let n = 0;

const sqlite: Backend = {
  name: 'sqlite',
  async fresh() {
    const file = join(tmp, `store-${++n}.db`);
    openDb(file).close();
    return file;
  },
  raw(db) {
    const d = new Database(db);
    d.pragma('busy_timeout = 5000');
    return {
      run: async (sql, params = []) => void d.prepare(sql).run(...params),
      all: async <T>(sql: string, params: unknown[] = []) => d.prepare(sql).all(...params) as T[],
      close: async () => {
        d.close();
      },
    };
  },
};

const postgres: Backend = {
  name: 'postgres',
  async fresh() {
    server ??= await startPostgres();
    const url = await server.createDatabase(`contract_${process.pid}_${++n}`);
    await (await openPg(url)).end();
    return url;
  },
  raw(db) {
    const c = new pg.Client({ connectionString: db });
    const ready = c.connect();
    const dollar = (sql: string) => {
      let i = 0;
      return sql.replace(/\?/g, () => `$${++i}`);
    };
    return {
      run: async (sql, params = []) => {
        await ready;
        await c.query(dollar(sql), params);
      },
      all: async <T>(sql: string, params: unknown[] = []) => {
        await ready;
        return (await c.query(dollar(sql), params)).rows as T[];
      },
      close: async () => {
        await ready;
        await c.end();
      },
    };
  },
};

afterAll(async () => {
  await server?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function entry(i: number, replica: number): AuditEntry {
  return {
    at: new Date(Date.UTC(2026, 11, 2, 10, 0, 0, i)).toISOString(),
    principal: `replica-${replica}`,
    client_name: 'contract',
    client_version: '1',
    session_id: `s-${replica}`,
    transport: 'http',
    tool: 'list_campaign_items',
    kind: 'read',
    arguments: { campaign_id: 'c-1', limit: i, note: 'ünïcødé "quoted"' },
    outcome: 'ok',
    error: null,
    duration_ms: 1.25,
    details: { n: i },
  };
}

/** A campaign of `items` review items, each with a confirmed proposal queued in the outbox. */
async function seedOutbox(raw: Raw, items: number): Promise<void> {
  const at = '2026-12-01T00:00:00.000Z';
  await raw.run(
    "INSERT INTO campaigns (id, platform, external_id, name, created_at, updated_at) VALUES ('c-1', 'snapshot', 'c-1', 'Q4', ?, ?)",
    [at, at],
  );
  await raw.run(
    "INSERT INTO entitlements (id, platform, external_id, name, type, updated_at) VALUES ('e-1', 'snapshot', 'e-1', 'Payroll', 'app', ?)",
    [at],
  );
  await raw.run(
    `INSERT INTO confirmations (id, principal, batch_hash, proposal_ids, status, channel, created_at, expires_at, answered_by, answered_at, assurance)
     VALUES ('cf-1', 'agent', 'h', '[]', 'used', 'cli', ?, ?, 'alice', ?, 'human-verified')`,
    [at, at, at],
  );
  for (let i = 1; i <= items; i++) {
    await raw.run(
      "INSERT INTO users (id, platform, external_id, name, updated_at) VALUES (?, 'snapshot', ?, ?, ?)",
      [`u-${i}`, `u-${i}`, `User ${i}`, at],
    );
    await raw.run(
      "INSERT INTO assignments (user_id, entitlement_id, platform, updated_at) VALUES (?, 'e-1', 'snapshot', ?)",
      [`u-${i}`, at],
    );
    await raw.run(
      `INSERT INTO review_items (id, campaign_id, user_id, entitlement_id, reviewer_id, platform, external_id, status, updated_at)
       VALUES (?, 'c-1', ?, 'e-1', 'mgr', 'snapshot', ?, 'proposed', ?)`,
      [`i-${i}`, `u-${i}`, `i-${i}`, at],
    );
    await raw.run(
      `INSERT INTO proposals (id, item_id, decision, rationale, proposed_by, proposed_at, status)
       VALUES (?, ?, ?, 'contract', 'agent', ?, 'draft')`,
      [`p-${i}`, `i-${i}`, i % 3 === 0 ? 'revoke' : 'approve', at],
    );
    await raw.run(
      `INSERT INTO outbox (proposal_id, item_id, confirmation_id, decision, created_at) VALUES (?, ?, 'cf-1', ?, ?)`,
      [`p-${i}`, `i-${i}`, i % 3 === 0 ? 'revoke' : 'approve', at],
    );
  }
}

/** Ids that sort differently by bytes than by a language's collation: case, digits, punctuation, UTF-8. */
const ITEM_IDS = [
  'i-1',
  'i-10',
  'i-9',
  'I-2',
  'i_3',
  'i-ä',
  'i-z',
  'i-Z',
  'i-a b',
  'i-0',
  'i-é',
  'i-~',
  'i-.',
  ...Array.from({ length: 24 }, (_, k) => `item-${String(k).padStart(2, '0')}`),
];

/** Compares as SQLite compares TEXT (and PostgreSQL under COLLATE "C"): UTF-8 bytes. */
const bytewise = (a: string, b: string) => Buffer.compare(Buffer.from(a), Buffer.from(b));

/** A campaign of items with tied risk scores, two reviewers and mixed statuses; returns the items as seeded. */
async function seedItems(raw: Raw) {
  const at = '2026-12-01T00:00:00.000Z';
  await raw.run(
    "INSERT INTO campaigns (id, platform, external_id, name, created_at, updated_at) VALUES ('c-r', 'snapshot', 'c-r', 'Review', ?, ?)",
    [at, at],
  );
  await raw.run(
    "INSERT INTO entitlements (id, platform, external_id, name, type, updated_at, privileged) VALUES ('e-r', 'snapshot', 'e-r', 'Payroll', 'app', ?, 1)",
    [at],
  );
  const items = ITEM_IDS.map((id, k) => ({
    id,
    user_id: k % 4 === 0 ? `U-${k}` : `u-${(k * 7) % 11}-${k}`,
    risk_score: ((k * 37) % 5) * 20,
    reviewer_id: k % 3 === 0 ? 'mgr-b' : 'mgr-a',
    status: k % 5 === 0 ? 'proposed' : 'pending',
  }));
  for (const i of items) {
    await raw.run(
      "INSERT INTO users (id, platform, external_id, name, updated_at) VALUES (?, 'snapshot', ?, ?, ?)",
      [i.user_id, i.user_id, `Name of ${i.user_id}`, at],
    );
    await raw.run(
      `INSERT INTO review_items (id, campaign_id, user_id, entitlement_id, reviewer_id, platform, external_id, status, risk_score,
         risk_level, signals, updated_at)
       VALUES (?, 'c-r', ?, 'e-r', ?, 'snapshot', ?, ?, ?, 'medium', '[{"code":"privileged","detail":"x"}]', ?)`,
      [i.id, i.user_id, i.reviewer_id, i.id, i.status, i.risk_score, at],
    );
  }
  return items;
}

function auditFor(what: string, details: Record<string, unknown> = {}): AuditEntry {
  return { ...entry(0, 0), tool: what, kind: 'write', details };
}

describe.each([sqlite, postgres])('shared state on $name', (backend) => {
  const enabled = backend.name === 'sqlite' || pgAvailable.ok;
  let db = '';
  beforeAll(async () => {
    if (enabled) db = await backend.fresh();
  }, 60_000);

  it.runIf(enabled)('four replicas appending at once make one chain: no fork, no gap, verified', async () => {
    const replicas = await Promise.all([1, 2, 3, 4].map(() => openSharedState(db)));
    try {
      const seqs = await Promise.all(
        replicas.map(async (r, k) => {
          const mine: number[] = [];
          for (let i = 0; i < 50; i++) mine.push(await r.audit.append(entry(i, k)));
          return mine;
        }),
      );
      const all = seqs.flat().sort((a, b) => a - b);
      expect(all).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
      const v = await replicas[0]!.audit.verify();
      expect(v).toMatchObject({ ok: true, entries: 200, head: { seq: 200 } });
      const e = await replicas[1]!.audit.entry(7);
      expect(e?.arguments).toMatchObject({ note: 'ünïcødé "quoted"' });
    } finally {
      await Promise.all(replicas.map((r) => r.close()));
    }
  });

  it.runIf(enabled)(
    'the database refuses to change or delete audit entries; a forced change is found',
    async () => {
      const raw = backend.raw(db);
      try {
        await expect(raw.run("UPDATE audit_log SET principal = 'mallory' WHERE seq = 3")).rejects.toThrow(
          /append-only/,
        );
        await expect(raw.run('DELETE FROM audit_log WHERE seq = 3')).rejects.toThrow(/append-only/);
        if (backend.name === 'postgres') {
          await expect(raw.run('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
          // Only a superuser disabling the trigger gets past it; the chain still shows where.
          await raw.run('ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update');
          await raw.run("UPDATE audit_log SET principal = 'mallory' WHERE seq = 3");
          await raw.run('ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update');
        } else {
          await raw.run('DROP TRIGGER audit_log_no_update');
          await raw.run("UPDATE audit_log SET principal = 'mallory' WHERE seq = 3");
        }
      } finally {
        await raw.close();
      }
      const s = await openSharedState(db);
      try {
        const v = await s.audit.verify();
        expect(v.ok).toBe(false);
        if (!v.ok) {
          expect(v.seq).toBe(3);
          expect(v.reason).toMatch(/content does not match/);
          expect(v.broken.map((b) => b.seq)).toEqual([3]);
        }
      } finally {
        await s.close();
      }
    },
  );

  describe('outbox', () => {
    let store = '';
    beforeAll(async () => {
      if (!enabled) return;
      store = await backend.fresh();
      const raw = backend.raw(store);
      await seedOutbox(raw, 60);
      await raw.close();
    }, 60_000);

    it.runIf(enabled)(
      'three replicas draining at once: every row claimed by one, recorded once',
      async () => {
        const replicas = await Promise.all([1, 2, 3].map(() => openSharedState(store)));
        const claimedBy = new Map<number, string[]>();
        const recorded: number[] = [];
        try {
          const now = new Date('2026-12-02T10:00:00.000Z');
          const until = new Date(now.getTime() + 60_000);
          await Promise.all(
            replicas.map(async (r, k) => {
              const worker = `replica-${k}`;
              for (;;) {
                const work = await r.outbox.claimWork(worker, now, until, 7);
                if (work.length === 0) return;
                for (const w of work) {
                  claimedBy.set(w.outbox_id, [...(claimedBy.get(w.outbox_id) ?? []), worker]);
                  const result =
                    w.decision === 'revoke'
                      ? {
                          platform_ref: `ref-${w.outbox_id}`,
                          remediation: { status: 'done' as const, detail: null },
                        }
                      : { platform_ref: `ref-${w.outbox_id}`, remediation: null };
                  if (await r.outbox.completeWork(w, result, now)) recorded.push(w.outbox_id);
                  // A second record of the same row (a retry after a lost reply) changes nothing.
                  expect(await r.outbox.completeWork(w, result, now)).toBe(false);
                }
              }
            }),
          );
          expect(claimedBy.size).toBe(60);
          expect([...claimedBy.values()].every((ws) => ws.length === 1)).toBe(true);
          expect(recorded.sort((a, b) => a - b)).toEqual([...claimedBy.keys()].sort((a, b) => a - b));
          expect(await replicas[0]!.outbox.pendingCount()).toBe(0);
        } finally {
          await Promise.all(replicas.map((r) => r.close()));
        }
        const raw = backend.raw(store);
        try {
          const decided = await raw.all<{ n: number | string }>('SELECT count(*) AS n FROM item_decisions');
          expect(Number(decided[0]!.n)).toBe(60);
          const removed = await raw.all<{ n: number | string }>('SELECT count(*) AS n FROM assignments');
          expect(Number(removed[0]!.n)).toBe(40); // the 20 revokes' assignments are gone
          const counts = await raw.all<{ status: string; n: number | string }>(
            "SELECT status, n FROM review_item_counts WHERE campaign_id = 'c-1' AND n > 0",
          );
          expect(counts.map((c) => [c.status, Number(c.n)])).toEqual([['decided', 60]]);
        } finally {
          await raw.close();
        }
      },
    );
  });

  describe('review path', () => {
    let store = '';
    let seeded: Awaited<ReturnType<typeof seedItems>> = [];
    beforeAll(async () => {
      if (!enabled) return;
      store = await backend.fresh();
      const raw = backend.raw(store);
      seeded = await seedItems(raw);
      await raw.close();
    }, 60_000);

    it.runIf(enabled)(
      'pages every item once in byte order for both sorts and every filter, a cursor from one replica paging on another',
      async () => {
        const [a, b] = await Promise.all([openSharedState(store), openSharedState(store)]);
        try {
          const filters = [
            { status: 'all' as const },
            { status: 'pending' as const },
            { status: 'all' as const, reviewer_ids: ['mgr-a'] },
            { status: 'all' as const, reviewer_ids: ['mgr-a', 'mgr-b'], min_risk: 40 },
          ];
          for (const f of filters) {
            for (const sort of ['risk', 'user'] as const) {
              const want = seeded
                .filter(
                  (i) =>
                    (f.status === 'all' || i.status === f.status) &&
                    (!f.reviewer_ids || f.reviewer_ids.includes(i.reviewer_id)) &&
                    i.risk_score >= (f.min_risk ?? 0),
                )
                .sort((x, y) =>
                  sort === 'risk'
                    ? y.risk_score - x.risk_score || bytewise(x.id, y.id)
                    : bytewise(x.user_id, y.user_id) || bytewise(x.id, y.id),
                )
                .map((i) => i.id);
              const q = { campaign_id: 'c-r', ...f };
              expect(await a.review.countItems(q)).toBe(want.length);
              const got: string[] = [];
              let cursor: string | null = null;
              for (let page = 0; page < 50; page++) {
                // Pages alternate between the replicas; the cursor is signed by one and read by the other.
                const [mine, other] = page % 2 === 0 ? [a, b] : [b, a];
                let after: Array<string | number> | undefined;
                if (cursor !== null) {
                  const decoded = (await mine.cursors()).decode('contract', cursor);
                  if ('error' in decoded) throw new Error(decoded.error);
                  after = decoded.key;
                }
                const r = await mine.review.itemsPage({ ...q, sort, limit: 4, after });
                got.push(...r.items.map((i) => i.item_id));
                if (!r.hasMore) break;
                cursor = (await other.cursors()).encode('contract', r.last!);
              }
              expect(got, `${JSON.stringify(f)} by ${sort}`).toEqual(want);
            }
          }
          const one = await b.review.item('i-ä');
          expect(one).toMatchObject({
            item_id: 'i-ä',
            campaign_id: 'c-r',
            entitlement: { id: 'e-r', privileged: true },
            signals: [{ code: 'privileged', detail: 'x' }],
            proposal: null,
            decision: null,
            escalation: null,
          });
          expect(await b.review.item('nope')).toBeUndefined();
          const [summary] = await a.review.listCampaigns('active');
          expect(summary).toMatchObject({ id: 'c-r', counts: { total: seeded.length } });
          expect(summary!.counts.pending + summary!.counts.proposed).toBe(seeded.length);
          const mine = await a.review.listCampaigns(undefined, ['mgr-b']);
          expect(mine[0]!.counts.total).toBe(seeded.filter((i) => i.reviewer_id === 'mgr-b').length);
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      },
    );

    it.runIf(enabled)(
      'a draft commits with its audit entry or not at all; a newer draft supersedes it',
      async () => {
        const s = await openSharedState(store);
        try {
          const before = await s.audit.count();
          const draft = {
            item_id: 'i-z',
            decision: 'revoke' as const,
            rationale: 'unused',
            confidence: 0.5,
            engine_decision: null,
            proposed_by: 'agent',
            proposed_at: '2026-12-02T10:00:00.000Z',
          };
          await expect(
            s.review.propose(draft, () => {
              throw new Error('audit entry refused');
            }),
          ).rejects.toThrow(/audit entry refused/);
          expect(await s.review.draftIdsOf('i-z')).toEqual([]);
          expect((await s.review.item('i-z'))!.status).toBe('pending');
          const first = await s.review.propose(draft, (row) => auditFor('propose_decision', { id: row.id }));
          expect(first.seq).toBe(before + 1);
          expect((await s.audit.entry(first.seq))!.details).toEqual({ id: first.proposal.id });
          const second = await s.review.propose({ ...draft, decision: 'approve' }, () =>
            auditFor('propose_decision'),
          );
          expect(await s.review.draftIdsOf('i-z')).toEqual([second.proposal.id]);
          expect((await s.review.proposal(first.proposal.id))!.status).toBe('superseded');
          const item = (await s.review.item('i-z'))!;
          expect(item.status).toBe('proposed');
          expect(item.proposal).toMatchObject({ proposal_id: second.proposal.id, decision: 'approve' });
          expect((await s.review.proposals([first.proposal.id, second.proposal.id, 'nope'])).size).toBe(2);
        } finally {
          await s.close();
        }
      },
    );

    it.runIf(enabled)(
      'a confirmation asked on one replica is answered on another: queued once, applied once',
      async () => {
        const [a, b, c] = await Promise.all([
          openSharedState(store),
          openSharedState(store),
          openSharedState(store),
        ]);
        try {
          const now = new Date('2026-12-02T11:00:00.000Z');
          const ids: string[] = [];
          for (const item of ['i-1', 'i-10', 'I-2']) {
            const { proposal } = await a.review.propose(
              {
                item_id: item,
                decision: item === 'i-1' ? 'revoke' : 'approve',
                rationale: `because ${item}`,
                confidence: null,
                engine_decision: 'approve',
                proposed_by: 'agent',
                proposed_at: now.toISOString(),
              },
              () => auditFor('propose_decision'),
            );
            ids.push(proposal.id);
          }
          const hash = await a.review.batchHash(ids);
          expect(await b.review.batchHash([...ids].reverse())).toBe(hash);
          const pending = await a.review.createPending('agent', hash, ids, now, 3600_000, 'human-verified');
          expect(await b.review.confirmationFor('agent', hash)).toMatchObject({
            id: pending.id,
            status: 'pending',
            proposal_ids: [...ids].sort(),
            required_assurance: 'human-verified',
          });
          // Two humans confirm the same batch on two replicas at once: it is queued once.
          const answers = await Promise.allSettled(
            [b, c].map((r, k) =>
              r.review.confirmIntoOutbox({
                pendingId: pending.id,
                principal: 'agent',
                batchHash: hash,
                proposalIds: ids,
                confirmedBy: `human-${k}`,
                channel: 'cli',
                assurance: 'human-verified',
                now,
                audit: (id) => auditFor('cli:confirm', { confirmation: id }),
              }),
            ),
          );
          const queued = answers.filter(
            (x) => x.status === 'fulfilled' && 'id' in x.value && x.value.id === pending.id,
          );
          expect(queued).toHaveLength(1);
          const seq = (queued[0] as PromiseFulfilledResult<{ id: string; seq: number }>).value.seq;
          expect((await a.audit.entry(seq))!.details).toEqual({ confirmation: pending.id });
          for (const x of answers.filter((y) => !queued.includes(y))) {
            if (x.status === 'rejected') expect(String(x.reason)).toMatch(/no longer open/);
            else expect(x.value).toEqual({ already: true });
          }
          expect((await a.review.confirmation(pending.id))!.status).toBe('used');
          const rows = await a.review.outboxFor(ids);
          expect(rows.map((r) => r.status)).toEqual(['pending', 'pending', 'pending']);
          const work = await c.outbox.claimWork('w', now, new Date(now.getTime() + 60_000), 10);
          expect(work.map((w) => w.proposal_id).sort()).toEqual([...ids].sort());
          for (const w of work) {
            expect(
              await c.outbox.completeWork(
                w,
                { platform_ref: `ref-${w.proposal_id}`, remediation: null },
                now,
                () => auditFor('outbox:apply', { proposal: w.proposal_id }),
              ),
            ).toBe(true);
          }
          const decided = (await b.review.items(['i-1', 'i-10', 'I-2'])).get('i-1')!;
          expect(decided).toMatchObject({
            status: 'decided',
            decision: { decision: 'revoke', confirmation: { id: pending.id, channel: 'cli' } },
          });
          expect((await b.review.outboxFor(ids)).every((r) => r.status === 'done')).toBe(true);
          // The elicitation path writes its own confirmation; a second answer of the same batch finds it queued.
          const again = await a.review.confirmIntoOutbox({
            pendingId: null,
            principal: 'agent',
            batchHash: hash,
            proposalIds: ids,
            confirmedBy: 'agent',
            channel: 'elicitation',
            assurance: 'host-attested',
            now,
          });
          expect(again).toEqual({ already: true });
          expect((await a.audit.verify()).ok).toBe(true);
        } finally {
          await Promise.all([a.close(), b.close(), c.close()]);
        }
      },
    );

    it.runIf(enabled)(
      'a rejection sends the items back to pending; an expired one cannot be used',
      async () => {
        const s = await openSharedState(store);
        try {
          const now = new Date('2026-12-02T12:00:00.000Z');
          const { proposal } = await s.review.propose(
            {
              item_id: 'i-9',
              decision: 'revoke',
              rationale: 'x',
              confidence: null,
              engine_decision: null,
              proposed_by: 'agent',
              proposed_at: now.toISOString(),
            },
            () => auditFor('propose_decision'),
          );
          const hash = await s.review.batchHash([proposal.id]);
          const p = await s.review.createPending('agent', hash, [proposal.id], now, 60_000, 'human-verified');
          const r = await s.review.reject(p.id, 'human', 'cli', now, 'human-verified', () =>
            auditFor('cli:reject'),
          );
          expect(r.done).toBe(true);
          expect(r.seq).not.toBeNull();
          expect(await s.review.reject(p.id, 'human', 'cli', now, 'human-verified')).toEqual({
            done: false,
            seq: null,
          });
          expect((await s.review.proposal(proposal.id))!.status).toBe('rejected');
          expect((await s.review.item('i-9'))!.status).toBe('pending');
          const refused = await s.review.recordRefusal(
            'agent',
            hash,
            [proposal.id],
            'agent',
            'elicitation:decline',
            now,
          );
          expect((await s.review.confirmation(refused))!.status).toBe('rejected');
          const q = await s.review.createPending('agent', 'h2', [proposal.id], now, 60_000, 'host-attested');
          await s.review.markExpired(q.id);
          expect((await s.review.confirmation(q.id))!.status).toBe('expired');
        } finally {
          await s.close();
        }
      },
    );

    it.runIf(enabled)(
      'a token made on one replica signs in on another, and not once it has expired',
      async () => {
        const [a, b] = await Promise.all([openSharedState(store), openSharedState(store)]);
        try {
          const now = new Date('2026-12-02T12:00:00.000Z');
          const t = await a.tokens.create(
            'ana@example.com',
            'reviewer',
            new Date(now.getTime() + 60_000),
            now,
            {
              interactiveHost: true,
            },
          );
          expect(await b.tokens.lookup(t, now)).toMatchObject({
            principal: 'ana@example.com',
            role: 'reviewer',
            interactive_host: true,
          });
          expect(await b.tokens.lookup(`${t}x`, now)).toEqual({ error: 'token is not valid' });
          expect(await b.tokens.lookup(t, new Date(now.getTime() + 61_000))).toEqual({
            error: 'token has expired',
          });
          const raw = backend.raw(store);
          try {
            const rows = await raw.all<{ token_hash: string }>('SELECT token_hash FROM access_tokens');
            expect(rows.some((r) => r.token_hash === t)).toBe(false);
          } finally {
            await raw.close();
          }
        } finally {
          await Promise.all([a.close(), b.close()]);
        }
      },
    );
  });

  describe('leases', () => {
    let store = '';
    beforeAll(async () => {
      if (!enabled) return;
      store = await backend.fresh();
      const raw = backend.raw(store);
      await seedOutbox(raw, 5);
      await raw.close();
    }, 60_000);

    it.runIf(enabled)(
      'a dead replica’s claim runs out and another finishes the row, recorded once',
      async () => {
        const a = await openSharedState(store);
        const b = await openSharedState(store);
        try {
          const t0 = new Date('2026-12-02T10:00:00.000Z');
          const at = (s: number) => new Date(t0.getTime() + s * 1000);
          const mine = await a.outbox.claimWork('a', t0, at(30), 100);
          expect(mine).toHaveLength(5);
          // While a's lease runs, b finds nothing to do.
          expect(await b.outbox.claimWork('b', at(10), at(40), 100)).toHaveLength(0);
          // a dies; its lease runs out; b takes every row over and records it.
          const taken = await b.outbox.claimWork('b', at(31), at(61), 100);
          expect(taken.map((w) => w.outbox_id)).toEqual(mine.map((w) => w.outbox_id));
          for (const w of taken)
            expect(await b.outbox.completeWork(w, { platform_ref: 'b', remediation: null }, at(32))).toBe(
              true,
            );
          // a comes back with its stale claim: nothing is recorded twice.
          for (const w of mine)
            expect(await a.outbox.completeWork(w, { platform_ref: 'a', remediation: null }, at(33))).toBe(
              false,
            );
        } finally {
          await a.close();
          await b.close();
        }
      },
    );

    it.runIf(enabled)(
      'a retryable failure keeps the row for another try; a final one takes it out',
      async () => {
        const fresh = await backend.fresh();
        const raw = backend.raw(fresh);
        await seedOutbox(raw, 2);
        const s = await openSharedState(fresh);
        try {
          const t0 = new Date('2026-12-02T10:00:00.000Z');
          const [w1, w2] = await s.outbox.claimWork('a', t0, new Date(t0.getTime() + 60_000), 100);
          await s.outbox.failWork(w1!.outbox_id, 'HTTP 503', true);
          await s.outbox.failWork(w2!.outbox_id, 'HTTP 403: not allowed', false);
          const again = await s.outbox.claimWork('b', t0, new Date(t0.getTime() + 60_000), 100);
          expect(again.map((w) => [w.outbox_id, w.attempts])).toEqual([[w1!.outbox_id, 1]]);
          const rows = await raw.all<{ status: string; last_error: string }>(
            'SELECT status, last_error FROM outbox ORDER BY id',
          );
          expect(rows).toEqual([
            { status: 'pending', last_error: 'HTTP 503' },
            { status: 'failed', last_error: 'HTTP 403: not allowed' },
          ]);
        } finally {
          await s.close();
          await raw.close();
        }
      },
    );

    it.runIf(enabled)('one leader at a time: ten replicas asking at once, expiry, resignation', async () => {
      const states: SharedState[] = await Promise.all(
        Array.from({ length: 10 }, () => openSharedState(store)),
      );
      try {
        const t0 = new Date('2026-12-02T10:00:00.000Z');
        const won = await Promise.all(
          states.map((s, k) => s.leases.tryLead('scheduler', `r${k}`, 30_000, t0)),
        );
        expect(won.filter(Boolean)).toHaveLength(1);
        const leader = `r${won.indexOf(true)}`;
        expect(await states[0]!.leases.holder('scheduler', t0)).toBe(leader);
        const other = leader === 'r0' ? 'r1' : 'r0';
        // The leader renews; another can't take it while the lease runs.
        expect(
          await states[3]!.leases.tryLead('scheduler', leader, 30_000, new Date(t0.getTime() + 20_000)),
        ).toBe(true);
        expect(
          await states[4]!.leases.tryLead('scheduler', other, 30_000, new Date(t0.getTime() + 40_000)),
        ).toBe(false);
        // The leader dies: once its lease runs out, another leads.
        expect(
          await states[4]!.leases.tryLead('scheduler', other, 30_000, new Date(t0.getTime() + 51_000)),
        ).toBe(true);
        // Resigning hands it over at once; only the holder can resign.
        await states[5]!.leases.resign('scheduler', leader);
        expect(await states[5]!.leases.holder('scheduler', new Date(t0.getTime() + 52_000))).toBe(other);
        await states[5]!.leases.resign('scheduler', other);
        expect(
          await states[6]!.leases.tryLead('scheduler', 'r9', 30_000, new Date(t0.getTime() + 53_000)),
        ).toBe(true);
      } finally {
        await Promise.all(states.map((s) => s.close()));
      }
    });
  });
});

describe.runIf(pgAvailable.ok)('both stores', () => {
  it('bind a confirmation to the same batch hash, so a store copied by migrate-store keeps its confirmations', async () => {
    const hashes: string[] = [];
    for (const backend of [sqlite, postgres]) {
      const db = await backend.fresh();
      const raw = backend.raw(db);
      await seedItems(raw);
      for (const [k, item] of ['i-ä', 'I-2', 'i-10'].entries()) {
        await raw.run(
          `INSERT INTO proposals (id, item_id, decision, rationale, proposed_by, proposed_at, status)
           VALUES (?, ?, 'revoke', ?, 'agent', '2026-12-02T10:00:00.000Z', 'draft')`,
          [`p-${['b', 'A', 'é'][k]}`, item, `rationale "${k}" ✓`],
        );
      }
      await raw.close();
      const s = await openSharedState(db);
      hashes.push(await s.review.batchHash(['p-é', 'p-A', 'p-b']));
      await s.close();
    }
    expect(hashes[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(hashes[1]).toBe(hashes[0]);
  });
});

describe.runIf(pgAvailable.ok)('the PostgreSQL schema', () => {
  it('has every table and column of the SQLite store, and migrating twice (or from two replicas at once) is safe', async () => {
    server ??= await startPostgres();
    const url = await server.createDatabase(`schema_${process.pid}`);
    const pools = await Promise.all([openPg(url), openPg(url), openPg(url)]);
    await Promise.all(pools.map((p) => p.end()));
    const file = join(tmp, 'schema.db');
    const lite = openDb(file);
    const sqliteColumns = new Map<string, string[]>();
    for (const t of lite
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
      .pluck()
      .all() as string[]) {
      sqliteColumns.set(
        t,
        (lite.prepare(`SELECT name FROM pragma_table_info(?)`).pluck().all(t) as string[]).sort(),
      );
    }
    lite.close();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      const rows = (
        await c.query(
          "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' ORDER BY table_name, column_name",
        )
      ).rows as Array<{ table_name: string; column_name: string }>;
      const pgColumns = new Map<string, string[]>();
      for (const r of rows)
        pgColumns.set(r.table_name, [...(pgColumns.get(r.table_name) ?? []), r.column_name]);
      expect([...pgColumns.keys()].sort()).toEqual([...sqliteColumns.keys()].sort());
      for (const [t, cols] of sqliteColumns) expect(pgColumns.get(t)?.sort(), t).toEqual(cols);
      const applied = (await c.query('SELECT name FROM schema_migrations ORDER BY version')).rows.map(
        (r) => r.name,
      );
      expect(applied[0]).toBe('001_schema.sql');
      // attest migrate-store copies every table but the two each store keeps for itself.
      expect([...COPIED_TABLES, 'review_item_counts', 'schema_migrations'].sort()).toEqual(
        [...sqliteColumns.keys()].sort(),
      );
    } finally {
      await c.end();
    }
  }, 60_000);

  it('a connection error names the store without its password', async () => {
    server ??= await startPostgres();
    const u = new URL(server.url);
    u.username = 'nobody';
    u.password = 's3cr3t-Pa55';
    u.port = '1'; // nothing listens there
    const err = await openPg(u.toString()).catch((e: Error) => e);
    expect(err).toBeInstanceOf(Error);
    expect((err as Error).message).toMatch(/^PostgreSQL store postgres:\/\/nobody:\*\*\*@127\.0\.0\.1:1\//);
    expect((err as Error).message).not.toContain('s3cr3t-Pa55');
  });
});
