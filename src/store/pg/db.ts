import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';

export type PgPool = pg.Pool;
export type PgClient = pg.PoolClient;

const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** A connection string with its password (and any password query parameter) replaced, for messages. */
export function safeUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    for (const k of [...u.searchParams.keys()]) if (/pass|secret|key/i.test(k)) u.searchParams.set(k, '***');
    return u.toString();
  } catch {
    return 'postgres://… (unparseable connection string)';
  }
}

/** Whether a --db / ATTEST_DB value names a PostgreSQL store. */
export function isPostgresUrl(db: string): boolean {
  return /^postgres(ql)?:\/\//i.test(db);
}

/**
 * The error of a failed connection or query with the connection string's secrets taken out
 * (node-postgres quotes neither, but a driver's message may carry what it was given).
 */
export function storeError(url: string, e: unknown): Error {
  const u = (() => {
    try {
      return new URL(url);
    } catch {
      return null;
    }
  })();
  let message = e instanceof Error ? e.message : String(e);
  if (u?.password) message = message.split(decodeURIComponent(u.password)).join('***');
  const err = new Error(`PostgreSQL store ${safeUrl(url)}: ${message}`);
  (err as { code?: unknown }).code = (e as { code?: unknown })?.code;
  return err;
}

/** Opens a pool on the PostgreSQL store and applies pending migrations. */
export async function openPg(url: string, options: { max?: number } = {}): Promise<PgPool> {
  if (!isPostgresUrl(url)) throw new Error(`not a PostgreSQL connection string: ${safeUrl(url)}`);
  const pool = new pg.Pool({ connectionString: url, max: options.max ?? 10 });
  // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
  pool.on('error', () => {});
  try {
    await migratePg(pool);
  } catch (e) {
    await pool.end().catch(() => {});
    throw storeError(url, e);
  }
  return pool;
}

interface Migration {
  version: number;
  name: string;
  sql: string;
}

function loadMigrations(): Migration[] {
  return readdirSync(migrationsDir)
    .filter((f) => /^\d{3}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((f) => ({
      version: Number(f.slice(0, 3)),
      name: f,
      sql: readFileSync(join(migrationsDir, f), 'utf8'),
    }));
}

/** The advisory lock key of migrations (any constant the fleet agrees on). */
const MIGRATION_LOCK = 0x41747465; // "Atte"

/**
 * Applies every migration not recorded in schema_migrations, each in its own transaction, in
 * file order, recorded by name as on SQLite. Replicas starting together serialise on an
 * advisory lock, so each migration runs once.
 */
export async function migratePg(pool: PgPool): Promise<number> {
  const c = await pool.connect();
  try {
    await c.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    try {
      // Only when missing: a role with data rights alone (no CREATE on the schema) opens a migrated store.
      if ((await c.query("SELECT to_regclass('schema_migrations') IS NULL AS missing")).rows[0].missing) {
        await c.query(
          'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)',
        );
      }
      const done = new Set(
        (await c.query('SELECT version FROM schema_migrations')).rows.map((r) => Number(r.version)),
      );
      let applied = 0;
      for (const m of loadMigrations()) {
        if (done.has(m.version)) continue;
        await c.query('BEGIN');
        try {
          await c.query(m.sql);
          await c.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [
            m.version,
            m.name,
            new Date().toISOString(),
          ]);
          await c.query('COMMIT');
        } catch (e) {
          await c.query('ROLLBACK');
          throw new Error(`migration ${m.name}: ${(e as Error).message}`);
        }
        applied++;
      }
      return applied;
    } finally {
      await c.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
    }
  } finally {
    c.release();
  }
}

/** Runs fn in one transaction on one pooled client; rolls back on any error. */
export async function inTransaction<T>(pool: PgPool, fn: (c: PgClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    try {
      const r = await fn(c);
      await c.query('COMMIT');
      return r;
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    }
  } finally {
    c.release();
  }
}
