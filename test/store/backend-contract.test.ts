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
