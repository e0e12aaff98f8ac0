import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export type Db = Database.Database;

const migrationsDir = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Opens (creating if needed) the SQLite store and applies pending migrations. */
export function openDb(path: string, options: { readonly?: boolean } = {}): Db {
  if (/^postgres(ql)?:\/\//i.test(path)) {
    // Never a SQLite file named like a connection string.
    throw new Error(
      'this command runs on the SQLite store only; on a PostgreSQL store, attest migrate-store and attest audit verify run today (see README "Running several replicas")',
    );
  }
  const db = new Database(path, {
    readonly: options.readonly ?? false,
    fileMustExist: options.readonly ?? false,
  });
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  if (path !== ':memory:' && !options.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
  }
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  if (!options.readonly) migrate(db);
  return db;
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

/**
 * Applies every migration the store has not had yet, each in its own transaction, in file
 * order. Applied migrations are recorded by name, so one numbered below the newest applied
 * (a branch merged later) is still applied; a store from before that record existed counts
 * every migration up to its user_version as applied.
 */
export function migrate(db: Db): number {
  db.exec(
    'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT',
  );
  const all = loadMigrations();
  const recorded = db.prepare('SELECT count(*) AS n FROM schema_migrations').get() as { n: number };
  const current = db.pragma('user_version', { simple: true }) as number;
  if (recorded.n === 0 && current > 0) {
    const seed = db.prepare(
      'INSERT OR IGNORE INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)',
    );
    for (const m of all) if (m.version <= current) seed.run(m.version, m.name, new Date().toISOString());
  }
  const done = new Set(db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
  let applied = 0;
  for (const m of all) {
    if (done.has(m.version)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(
        m.version,
        m.name,
        new Date().toISOString(),
      );
      db.pragma(
        `user_version = ${Math.max(m.version, db.pragma('user_version', { simple: true }) as number)}`,
      );
    }).immediate();
    applied++;
  }
  return applied;
}
