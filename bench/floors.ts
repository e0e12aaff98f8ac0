/**
 * The floors: the same data moved with the least work SQLite and Node allow, measured in the
 * same run and the same process model as what they are floors for (bench/README.md).
 *
 *   import floor    every data row of the snapshot files the importer reads, split with a
 *                   plain `split(',')` and inserted with one prepared single-row INSERT per
 *                   row into a plain table per file (the file's columns, all TEXT, no key, no
 *                   index), in one transaction, into a fresh database file with the store's
 *                   pragmas;
 *   analysis floor  one streaming read (rowid ranges) of every review item joined with its user
 *                   and entitlement, and one UPDATE per item by rowid writing a small JSON, in one
 *                   transaction, on a copy of the freshly imported store;
 *   audit floor     one INSERT of a row as large as one audit entry into a plain table of the
 *                   same store, in its own (autocommit) transaction.
 */
import { closeSync, copyFileSync, existsSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import Database from 'better-sqlite3';
import { snapshotFiles } from '../src/connectors/snapshot/csv-import.js';

type Db = Database.Database;

/** A database with the store's own connection settings (src/store/db.ts), without its schema. */
export function openPlain(path: string): Db {
  const db = new Database(path);
  db.pragma('busy_timeout = 5000');
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('cache_size = -65536');
  db.pragma('temp_store = MEMORY');
  return db;
}

/** Calls `onLine` with every line of a file (CR stripped), read in 1 MiB chunks. */
function eachLine(path: string, onLine: (line: string) => void): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(1 << 20);
  const decoder = new StringDecoder('utf8');
  let carry = '';
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = carry + decoder.write(buf.subarray(0, n));
      const lines = text.split('\n');
      carry = lines.pop() ?? '';
      for (const l of lines) onLine(l.endsWith('\r') ? l.slice(0, -1) : l);
    }
    const rest = carry + decoder.end();
    if (rest !== '') onLine(rest.endsWith('\r') ? rest.slice(0, -1) : rest);
  } finally {
    closeSync(fd);
  }
}

export interface ImportFloorResult {
  seconds: number;
  rows: number;
}

/** The import floor into a new database file at `dbPath` (removed first). Opening and closing are not timed. */
export function importFloor(dir: string, dbPath: string): ImportFloorResult {
  for (const s of ['', '-wal', '-shm']) rmSync(dbPath + s, { force: true });
  const db = openPlain(dbPath);
  const t0 = performance.now();
  let rows = 0;
  db.transaction(() => {
    for (const spec of snapshotFiles) {
      const path = join(dir, spec.file);
      if (!existsSync(path)) continue;
      const table = `floor_${spec.file.replace(/\W/g, '_')}`;
      let insert: Database.Statement | null = null;
      let width = 0;
      let args: string[] = [];
      eachLine(path, (line) => {
        if (line === '') return;
        const cells = line.split(',');
        if (insert === null) {
          width = cells.length;
          db.exec(`CREATE TABLE ${table} (${cells.map((c) => `"${c.replace(/"/g, '')}" TEXT`).join(', ')})`);
          insert = db.prepare(`INSERT INTO ${table} VALUES (${cells.map(() => '?').join(', ')})`);
          args = new Array(width);
          return;
        }
        // A quoted cell holding a comma splits in two here: the floor keeps the header's width.
        for (let k = 0; k < width; k++) args[k] = cells[k] ?? '';
        insert.run(args);
        rows++;
      });
    }
  })();
  const seconds = (performance.now() - t0) / 1000;
  db.close();
  for (const s of ['', '-wal', '-shm']) rmSync(dbPath + s, { force: true });
  return { seconds, rows };
}

export interface AnalysisFloorResult {
  seconds: number;
  items: number;
}

const CHUNK = 10_000;

/**
 * The analysis floor on a copy of the store at `dbPath` (which must be closed and checkpointed,
 * as the import phase leaves it). Copying and removing the copy are not timed.
 */
export function analysisFloor(dbPath: string): AnalysisFloorResult {
  const copy = `${dbPath}.floor-copy`;
  for (const s of ['', '-wal', '-shm']) rmSync(copy + s, { force: true });
  copyFileSync(dbPath, copy);
  const db = openPlain(copy);
  try {
    const read = db.prepare(
      `SELECT i.rowid AS r, i.id, i.reviewer_id, i.risk_score, u.department, u.title, u.status, u.employee_type,
              u.contract_end, e.app, e.privileged, e.sensitivity
       FROM review_items i JOIN users u ON u.id = i.user_id JOIN entitlements e ON e.id = i.entitlement_id
       WHERE i.rowid > ? ORDER BY i.rowid LIMIT ${CHUNK}`,
    );
    const write = db.prepare('UPDATE review_items SET recommendation = ? WHERE rowid = ?');
    const t0 = performance.now();
    let items = 0;
    db.transaction(() => {
      let after = 0;
      for (;;) {
        const rows = read.all(after) as Array<{
          r: number;
          privileged: number;
          sensitivity: string;
          status: string;
        }>;
        if (rows.length === 0) break;
        for (const row of rows) {
          const json = `{"decision":"${row.status === 'active' ? 'approve' : 'revoke'}","privileged":${row.privileged === 1},"s":"${row.sensitivity}"}`;
          write.run(json, row.r);
        }
        items += rows.length;
        after = rows[rows.length - 1]!.r;
      }
    })();
    const seconds = (performance.now() - t0) / 1000;
    return { seconds, items };
  } finally {
    db.close();
    for (const s of ['', '-wal', '-shm']) rmSync(copy + s, { force: true });
  }
}

/** The audit floor: a plain table in the store and an insert of one row of `bytes` bytes, autocommit. */
export function auditFloor(db: Db, bytes: number): { insert: () => void; drop: () => void } {
  db.exec('DROP TABLE IF EXISTS bench_audit_floor; CREATE TABLE bench_audit_floor (body TEXT)');
  const stmt = db.prepare('INSERT INTO bench_audit_floor (body) VALUES (?)');
  const body = 'x'.repeat(Math.max(1, bytes));
  return {
    insert: () => {
      stmt.run(body);
    },
    drop: () => db.exec('DROP TABLE IF EXISTS bench_audit_floor'),
  };
}
