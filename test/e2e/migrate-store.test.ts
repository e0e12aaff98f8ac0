/**
 * `attest migrate-store --to postgres://…` on the built CLI: a demo store with decisions and
 * audit entries copied into a real PostgreSQL server (test/helpers/postgres.ts), the chain
 * verified on the copy by `attest audit verify --db postgres://…`, and the refusals.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/store/audit.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { runCli } from './helpers.js';

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
