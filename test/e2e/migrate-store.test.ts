/**
 * `attest migrate-store --to postgres://…` on the built CLI: a demo store with decisions and
 * audit entries copied into a real PostgreSQL server (test/helpers/postgres.ts), the chain
 * verified on the copy by `attest audit verify --db postgres://…`, hostile values that COPY's
 * text format must escape, a failure in the middle of the copy, and the refusals.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/store/audit.js';
import { COPIED_TABLES } from '../../src/store/pg/copy.js';
import { openPg } from '../../src/store/pg/db.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { runCli } from './helpers.js';

/** Values COPY's text format must carry unchanged: its delimiter, line ends, escapes and NULL marker. */
const HOSTILE = [
  'tab\there\t',
  'line\nbreak\n',
  'cr\r\nlf\r',
  'back\\slash',
  'trailing backslash\\',
  '\\N',
  '\\\\N',
  '\\.',
  '\\.\n\\.',
  '\\x41\\101\\u00e9',
  'quotes " \' ` and ,;|',
  'Zoë ✓ 日本語 🙂 \u200b\u00a0 Ω',
  '',
  ' ',
  'NULL',
  '\\N\t\\N\n',
  '{"escaped":"\\u0000\\t\\n\\\\","quote":"\\""}',
];

/** Every row of a table as strings (NULL kept apart from ''), sorted, so both stores compare exactly. */
function normalise(rows: unknown[][]): string[] {
  return rows.map((r) => JSON.stringify(r.map((v) => (v === null ? null : String(v))))).sort();
}

const available = postgresAvailable();
if (!available.ok && process.env.CI === 'true') throw new Error(`CI needs PostgreSQL: ${available.why}`);

describe.runIf(available.ok)('attest migrate-store', () => {
  const tmp = mkdtempSync(join(tmpdir(), 'attest-migrate-'));
  const db = join(tmp, 'attest.db');
  let server: TestPostgres;
  /** The same database with a password in its URL (trust auth ignores it): it must never be printed. */
  const withPassword = (url: string) => {
    const u = new URL(url);
    u.password = 'Sup3r-S3cret-pw';
    return u.toString();
  };

  beforeAll(async () => {
    server = await startPostgres();
    const built = runCli(['demo', '--db', db, '--users', '150', '--dir', join(tmp, 'demo')]);
    expect(built.code, built.stderr).toBe(0);
    // Audit entries of every shape (nested arguments, unicode, nulls, errors), so the copy has a chain to carry.
    const d = new Database(db);
    const log = new AuditLog(d);
    for (let i = 0; i < 40; i++) {
      log.append({
        at: new Date(Date.UTC(2026, 10, 28, 9, 0, i)).toISOString(),
        principal: i % 2 ? 'analyst@example.com' : 'local-analyst',
        client_name: i % 3 ? 'claude-desktop' : null,
        client_version: '1.2',
        session_id: i % 5 ? `s-${i % 4}` : null,
        transport: i % 2 ? 'http' : 'stdio',
        tool: i % 7 ? 'list_campaign_items' : 'propose_decision',
        kind: i % 7 ? 'read' : 'write',
        arguments: { campaign_id: 'c-1', limit: i, note: 'Zoë "quoted" ✓', nested: { a: [1, 2.5, null] } },
        outcome: i % 9 ? 'ok' : 'error',
        error: i % 9 ? null : 'item_id: no review item "x"',
        duration_ms: i / 3,
        details: i % 4 ? null : { rows: i },
      });
    }
    d.close();
    const verify = runCli(['audit', 'verify', '--db', db]);
    expect(verify.code, verify.stderr).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await server?.stop();
    rmSync(tmp, { recursive: true, force: true });
  });

  it('copies every table, keeps the audit chain byte for byte, and audit verify runs on the copy', async () => {
    const url = withPassword(await server.createDatabase(`migrate_${process.pid}`));
    const r = runCli(['migrate-store', '--db', db, '--to', url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(
      /^Copied \d+ rows in 30 tables to postgres:\/\/attest:\*\*\*@127\.0\.0\.1:\d+\/migrate_\d+ in /,
    );
    expect(r.stdout + r.stderr).not.toContain('Sup3r-S3cret-pw');

    const lite = new Database(db, { readonly: true });
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const t of [
        'users',
        'entitlements',
        'assignments',
        'review_items',
        'past_decisions',
        'audit_log',
      ]) {
        const want = (lite.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n;
        const got = Number((await c.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
        expect(got, t).toBe(want);
        expect(want, t).toBeGreaterThan(0);
      }
      const head = lite.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as {
        seq: number;
        hash: string;
      };
      const pgHead = (await c.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0];
      expect({ seq: Number(pgHead.seq), hash: pgHead.hash }).toEqual(head);
      // A review item's JSON columns and timestamps are the same text.
      const item = lite
        .prepare('SELECT id, signals, recommendation, updated_at FROM review_items ORDER BY id LIMIT 1')
        .get() as Record<string, unknown>;
      const pgItem = (
        await c.query('SELECT id, signals, recommendation, updated_at FROM review_items WHERE id = $1', [
          item.id,
        ])
      ).rows[0];
      expect(pgItem).toEqual(item);
      // Identity keys continue after the copied rows.
      const next = await c.query(
        "INSERT INTO hr_changes (user_id, field, at, platform) SELECT id, 'title', 'x', 'snapshot' FROM users LIMIT 1 RETURNING id",
      );
      const maxLite = (
        lite.prepare('SELECT coalesce(max(id), 0) AS m FROM hr_changes').get() as { m: number }
      ).m;
      expect(Number(next.rows[0].id)).toBe(maxLite + 1);
    } finally {
      await c.end();
      lite.close();
    }

    const v = runCli(['audit', 'verify', '--db', url]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^Audit log OK: \d+ entries, chain intact\./);
    expect(v.stdout + v.stderr).not.toContain('Sup3r-S3cret-pw');
  }, 180_000);

  it('round-trips hostile values exactly: tabs, newlines, backslashes, \\N, quotes, unicode, empty vs NULL, large JSON', async () => {
    const src = join(tmp, 'hostile.db');
    copyFileSync(db, src);
    const d = new Database(src);
    const users = d
      .prepare('SELECT id FROM users ORDER BY id LIMIT ?')
      .pluck()
      .all(HOSTILE.length) as string[];
    const big = JSON.stringify({
      values: HOSTILE,
      nested: Array.from({ length: 2000 }, (_, i) => ({ i, s: HOSTILE[i % HOSTILE.length], f: i / 7 })),
    });
    expect(big.length).toBeGreaterThan(100_000);
    const setUser = d.prepare(
      'UPDATE users SET name = ?, title = ?, email = ?, department = ?, attributes = ? WHERE id = ?',
    );
    users.forEach((id, i) => {
      const v = HOSTILE[i]!;
      // email: the empty string on even rows, NULL on odd ones; department: NULL or the value.
      setUser.run(
        v,
        `${v}|${v}`,
        i % 2 ? null : '',
        i % 3 ? v : null,
        i === 0 ? big : JSON.stringify({ v }),
        id,
      );
    });
    const item = d.prepare('SELECT id FROM review_items ORDER BY id LIMIT 1').pluck().get() as string;
    d.prepare('UPDATE review_items SET recommendation = ?, signals = ? WHERE id = ?').run(
      big,
      JSON.stringify(HOSTILE),
      item,
    );
    d.prepare(
      "UPDATE review_items SET recommendation = '' WHERE id = (SELECT id FROM review_items ORDER BY id LIMIT 1 OFFSET 1)",
    ).run();
    d.prepare(
      'UPDATE review_items SET recommendation = NULL WHERE id = (SELECT id FROM review_items ORDER BY id LIMIT 1 OFFSET 2)',
    ).run();
    const meta = d.prepare('INSERT INTO meta (key, value) VALUES (?, ?)');
    for (const [i, v] of HOSTILE.entries()) meta.run(`test:hostile:${i}:${v}`, v);
    // Integers beyond 2^53 and reals that need every digit.
    d.prepare(
      "INSERT INTO http_sessions (id, principal_id, binding, init, opened_at, last_used_at) VALUES (?, ?, '', ?, ?, ?)",
    ).run('s\t1', HOSTILE[0], big, 9007199254740993n, -9007199254740993n);
    const log = new AuditLog(d);
    for (const [i, v] of HOSTILE.entries()) {
      log.append({
        at: new Date(Date.UTC(2026, 10, 29, 9, 0, i)).toISOString(),
        principal: v === '' ? 'x' : v,
        client_name: i % 2 ? v : null,
        client_version: v,
        session_id: i % 3 ? '' : null,
        transport: 'stdio',
        tool: 'list_campaign_items',
        kind: 'read',
        arguments: { v, all: HOSTILE },
        outcome: 'ok',
        error: i % 2 ? null : v,
        duration_ms: [0.1 + 0.2, 1e-300, 123456.789, 5e-324, 1 / 3][i % 5]!,
        details: i % 4 ? null : { v },
      });
    }
    d.close();

    const url = await server.createDatabase(`migrate_hostile_${process.pid}`);
    const r = runCli(['migrate-store', '--db', src, '--to', url]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/audit chain verified/);

    const lite = new Database(src, { readonly: true });
    lite.defaultSafeIntegers(true);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    try {
      for (const t of COPIED_TABLES) {
        const cols = (lite.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(t) as string[]).map(
          (x) => `"${x}"`,
        );
        const want = normalise(
          lite
            .prepare(`SELECT ${cols.join(', ')} FROM ${t}`)
            .raw()
            .all() as unknown[][],
        );
        const got = normalise(
          (await c.query({ text: `SELECT ${cols.join(', ')} FROM ${t}`, rowMode: 'array' }))
            .rows as unknown[][],
        );
        expect(got, t).toEqual(want);
      }
      // Spot checks that the comparison itself tells '' from NULL and keeps the big integers.
      const emails = (await c.query('SELECT email FROM users WHERE id = ANY($1) ORDER BY id', [users])).rows;
      expect(emails.slice(0, 2)).toEqual([{ email: '' }, { email: null }]);
      const s = (await c.query('SELECT opened_at, last_used_at FROM http_sessions WHERE id = $1', ['s\t1']))
        .rows[0];
      expect(s).toEqual({ opened_at: '9007199254740993', last_used_at: '-9007199254740993' });
    } finally {
      await c.end();
      lite.close();
    }
  }, 180_000);

  it.each([
    {
      what: 'a CHECK violation PostgreSQL finds in review_items',
      table: 'review_items',
      message:
        /table review_items: new row for relation "review_items" violates check constraint .*COPY review_items, line \d+/,
      plant: (d: Database.Database) => {
        d.pragma('ignore_check_constraints = ON');
        d.prepare(
          "UPDATE review_items SET status = 'bogus' WHERE id = (SELECT id FROM review_items ORDER BY id LIMIT 1 OFFSET (SELECT count(*) / 2 FROM review_items))",
        ).run();
      },
    },
    {
      what: 'a foreign key PostgreSQL checks at the end of assignments',
      table: 'assignments',
      message:
        /table assignments: insert or update on table "assignments" violates foreign key constraint .*Key \(user_id\)=\(u-missing\)/,
      plant: (d: Database.Database) => {
        d.pragma('foreign_keys = OFF');
        d.prepare(
          "INSERT INTO assignments (user_id, entitlement_id, platform, updated_at) SELECT 'u-missing', id, platform, updated_at FROM entitlements LIMIT 1",
        ).run();
      },
    },
    {
      what: 'a NUL character the copy itself refuses in users',
      table: 'users',
      message:
        /table users: users\.title of row \d+ holds a NUL character, which PostgreSQL text cannot store/,
      plant: (d: Database.Database) => {
        d.prepare(
          "UPDATE users SET title = 'a' || char(0) || 'b' WHERE id = (SELECT id FROM users ORDER BY rowid LIMIT 1 OFFSET 100)",
        ).run();
      },
    },
  ])(
    'a failure in the middle of the copy ($what) leaves the target empty and names the table',
    async ({ table, message, plant }) => {
      const src = join(tmp, `broken-${table}.db`);
      copyFileSync(db, src);
      const d = new Database(src);
      plant(d);
      d.close();
      const url = await server.createDatabase(`migrate_broken_${table}_${process.pid}`);
      const r = runCli(['migrate-store', '--db', src, '--to', url]);
      expect(r.code).not.toBe(0);
      expect(r.stderr).toMatch(message);
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        for (const t of [...COPIED_TABLES, 'review_item_counts']) {
          expect(Number((await c.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n), t).toBe(0);
        }
        // The empty target takes the same store afterwards: the failed attempt left nothing behind.
        const ok = runCli(['migrate-store', '--db', db, '--to', url]);
        expect(ok.code, ok.stderr).toBe(0);
      } finally {
        await c.end();
      }
    },
    120_000,
  );

  it('without owner rights keeps the count trigger on and still counts every campaign right', async () => {
    // The tables belong to the role that ran the migrations; the copy runs as another role
    // that may read and write them but not ALTER them, so the trigger cannot be turned off.
    const owner = await server.createDatabase(`migrate_noowner_${process.pid}`);
    await (await openPg(owner)).end();
    const admin = new pg.Client({ connectionString: owner });
    await admin.connect();
    const role = `copier_${process.pid}`;
    try {
      await admin.query(`DROP ROLE IF EXISTS ${role}`);
      await admin.query(`CREATE ROLE ${role} LOGIN`);
      await admin.query(`GRANT USAGE ON SCHEMA public TO ${role}`);
      await admin.query(`GRANT ALL ON ALL TABLES IN SCHEMA public TO ${role}`);
      await admin.query(`GRANT ALL ON ALL SEQUENCES IN SCHEMA public TO ${role}`);
      const u = new URL(owner);
      u.username = role;
      const asCopier = u.toString();

      // The role really lacks the right: turning the trigger off is refused for it.
      const probe = new pg.Client({ connectionString: asCopier });
      await probe.connect();
      try {
        await probe.query('BEGIN');
        await expect(
          probe.query('ALTER TABLE review_items DISABLE TRIGGER review_items_count_insert'),
        ).rejects.toThrow(/must be owner/);
        await probe.query('ROLLBACK');
      } finally {
        await probe.end();
      }

      const r = runCli(['migrate-store', '--db', db, '--to', asCopier]);
      expect(r.code, r.stderr).toBe(0);
      const lite = new Database(db, { readonly: true });
      try {
        const want = lite
          .prepare('SELECT campaign_id, status, count(*) AS n FROM review_items GROUP BY 1, 2 ORDER BY 1, 2')
          .all() as Array<{ campaign_id: string; status: string; n: number }>;
        expect(want.length).toBeGreaterThan(0);
        const got = (
          await admin.query(
            'SELECT campaign_id, status, n FROM review_item_counts WHERE n > 0 ORDER BY campaign_id COLLATE "C", status COLLATE "C"',
          )
        ).rows.map((x) => ({ campaign_id: String(x.campaign_id), status: String(x.status), n: Number(x.n) }));
        expect(got).toEqual(want);
        const items = Number((await admin.query('SELECT count(*) AS n FROM review_items')).rows[0].n);
        expect(items).toBe((lite.prepare('SELECT count(*) AS n FROM review_items').get() as { n: number }).n);
      } finally {
        lite.close();
      }
      // The trigger is on after the copy, so items added later are counted too.
      const t = await admin.query(
        "SELECT tgenabled FROM pg_trigger WHERE tgname = 'review_items_count_insert'",
      );
      expect(t.rows[0].tgenabled).toBe('O');
    } finally {
      await admin.end();
    }
  }, 120_000);

  it('refuses a target that is not empty, and leaves it as it was', async () => {
    const url = await server.createDatabase(`migrate_full_${process.pid}`);
    expect(runCli(['migrate-store', '--db', db, '--to', url]).code).toBe(0);
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    const before = Number((await c.query('SELECT count(*) AS n FROM users')).rows[0].n);
    const again = runCli(['migrate-store', '--db', db, '--to', withPassword(url)]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(
      /the target store is not empty \(meta has \d+ rows?\); copy into a new database/,
    );
    expect(again.stderr).not.toContain('Sup3r-S3cret-pw');
    expect(Number((await c.query('SELECT count(*) AS n FROM users')).rows[0].n)).toBe(before);
    await c.end();
  }, 120_000);

  it('names a bad --to and a PostgreSQL --db a command cannot use yet, without the password', () => {
    const bad = runCli(['migrate-store', '--db', db, '--to', 'mysql://root:pw@localhost/x']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--to: expected a postgres:\/\/ connection string/);
    expect(bad.stderr).not.toContain(':pw@');
    const list = runCli(['shadow', '--db', withPassword('postgres://attest@127.0.0.1:1/x')]);
    expect(list.code).toBe(2);
    expect(list.stderr).toMatch(/is a PostgreSQL store; this command runs on the SQLite store only so far/);
    expect(list.stderr).not.toContain('Sup3r-S3cret-pw');
  });
});
