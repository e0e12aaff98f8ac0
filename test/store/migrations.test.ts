import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { migrate } from '../../src/store/db.js';

const tables = (db: Database.Database) =>
  (
    db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all() as string[]
  ).filter((n) => !n.startsWith('sqlite_'));

describe('migrations', () => {
  it('apply a migration numbered below the newest one applied (a branch merged later)', () => {
    const db = new Database(':memory:');
    migrate(db);
    const full = tables(db);
    // As if 014 had arrived after a later-numbered migration was applied.
    db.exec(`DELETE FROM schema_migrations WHERE version = 14;
      DROP TABLE change_outbox; DROP TABLE changes; DROP TABLE escalations; DROP TABLE reassignments;
      ALTER TABLE confirmations DROP COLUMN subject;`);
    expect(tables(db)).not.toContain('changes');
    expect(migrate(db)).toBe(1);
    expect(tables(db)).toEqual(full);
    expect(migrate(db)).toBe(0);
  });

  it('treat a store from before the record as having every migration up to its user_version', () => {
    const db = new Database(':memory:');
    migrate(db);
    const version = db.pragma('user_version', { simple: true }) as number;
    db.exec('DROP TABLE schema_migrations');
    expect(migrate(db)).toBe(0);
    expect(db.prepare('SELECT max(version) AS v FROM schema_migrations').get()).toEqual({ v: version });
  });
});
