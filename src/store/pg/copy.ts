import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Statement } from 'better-sqlite3';
import { from as copyFrom } from 'pg-copy-streams';
import type { Db } from '../db.js';
import type { Store } from '../store.js';
import { PgAuditLog } from './audit.js';
import type { PgClient, PgPool } from './db.js';

/**
 * The tables copied from a SQLite store to a PostgreSQL one, parents before children.
 * review_item_counts is not copied: it is rebuilt from the copied items (see countItemsOnce),
 * and the copy is checked against the source's.
 */
export const COPIED_TABLES = [
  'meta',
  'users',
  'entitlements',
  'assignments',
  'entitlement_includes',
  'activity_events',
  'activity_rollup',
  'hr_changes',
  'sod_rules',
  'sod_rule_entitlements',
  'campaigns',
  'review_items',
  'past_decisions',
  'proposals',
  'confirmations',
  'outbox',
  'automatic_decisions',
  'item_decisions',
  'remediations',
  'changes',
  'change_outbox',
  'escalations',
  'reassignments',
  'audit_log',
  'access_tokens',
  'request_state_uses',
  'console_links',
  'console_sessions',
  'http_sessions',
  'leader_leases',
] as const;

/** Tables whose key is an identity column: its sequence continues after the copied rows. */
const IDENTITY_TABLES = [
  'activity_events',
  'hr_changes',
  'past_decisions',
  'outbox',
  'remediations',
  'change_outbox',
  'escalations',
  'reassignments',
];

export interface CopyReport {
  tables: Array<{ table: string; rows: number }>;
  rows: number;
  auditHead: { seq: number; hash: string } | null;
  seconds: number;
}

/** How much COPY text is gathered before it is handed to the stream (rows are never split). */
const CHUNK_CHARS = 64 * 1024;

/** What COPY's text format needs escaped: the backslash, the delimiter (tab) and line ends. */
const SPECIAL = /[\\\t\n\r\0]/;
const SPECIAL_ALL = /[\\\t\n\r]/g;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };
const escapeOne = (c: string) => ESCAPES[c]!;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * One SQLite value as a field of COPY's text format (NULL is `\N`), for a target column of the
 * given PostgreSQL type. Strings, JSON and timestamps go as the same text; integers as read
 * (bigints, so nothing is rounded); reals in their shortest exact form; blobs as UTF-8 text,
 * or as hex for a bytea column; 0/1 as f/t for a boolean column.
 */
export function copyField(v: unknown, pgType: string): string {
  if (v === null || v === undefined) return '\\N';
  if (typeof v === 'string') {
    if (pgType === 'bytea') return `\\\\x${Buffer.from(v, 'utf8').toString('hex')}`;
    if (!SPECIAL.test(v)) return v;
    if (v.includes('\0')) throw new Error('holds a NUL character, which PostgreSQL text cannot store');
    return v.replace(SPECIAL_ALL, escapeOne);
  }
  if (typeof v === 'bigint') {
    if (pgType === 'boolean') return v === 0n ? 'f' : 't';
    return v.toString();
  }
  if (typeof v === 'number') {
    if (pgType === 'boolean') return v === 0 ? 'f' : 't';
    return Object.is(v, -0) ? '-0' : String(v);
  }
  if (Buffer.isBuffer(v)) {
    if (pgType === 'bytea') return `\\\\x${v.toString('hex')}`;
    let text: string;
    try {
      text = utf8.decode(v);
    } catch {
      throw new Error(`holds a blob that is not UTF-8 text, for a ${pgType} column`);
    }
    return copyField(text, pgType);
  }
  throw new Error(`holds a value of type ${typeof v}`);
}

/**
 * Lines of COPY text for every row of one SQLite table, read one by one and gathered into
 * chunks of about CHUNK_CHARS. The statement is iterated only once the stream pulls, and
 * closed when the stream is destroyed.
 */
function* copyChunks(
  rows: Statement,
  table: string,
  cols: string[],
  types: string[],
  counted: { rows: number },
): Generator<string> {
  let parts: string[] = [];
  let size = 0;
  for (const row of rows.iterate() as IterableIterator<unknown[]>) {
    counted.rows++;
    let line = '';
    let k = 0;
    try {
      for (; k < cols.length; k++) line += (k === 0 ? '' : '\t') + copyField(row[k], types[k]!);
    } catch (e) {
      throw new Error(`${table}.${cols[k]} of row ${counted.rows} ${(e as Error).message}`);
    }
    line += '\n';
    parts.push(line);
    size += line.length;
    if (size >= CHUNK_CHARS) {
      yield parts.join('');
      parts = [];
      size = 0;
    }
  }
  if (parts.length > 0) yield parts.join('');
}

/** A PostgreSQL error with what its fields add (the key, the COPY line), for the message naming the table. */
function describe(e: unknown): string {
  const x = e as { message?: string; detail?: string; where?: string };
  const extra = [x.detail, x.where].filter((s): s is string => typeof s === 'string' && s !== '');
  return `${x.message ?? String(e)}${extra.length ? ` (${extra.join('; ')})` : ''}`;
}

/** Loads one table of the source into the target inside the copy's transaction; returns the rows loaded. */
export type TableLoader = (source: Db, c: PgClient, table: string) => Promise<number>;

/**
 * Streams one SQLite table into its PostgreSQL table with COPY FROM STDIN (text format),
 * reading the source row by row. Returns the rows copied. Throws an error naming the table.
 */
export async function copyTable(source: Db, c: PgClient, table: string): Promise<number> {
  const cols = (
    source.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(table) as string[]
  ).filter(Boolean);
  if (cols.length === 0)
    throw new Error(`the source store has no table ${table}: run attest migrate on it first`);
  const target = new Map(
    (
      await c.query(
        'SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1',
        [table],
      )
    ).rows.map((r) => [String(r.column_name), String(r.data_type)]),
  );
  const missing = cols.filter((x) => !target.has(x));
  if (missing.length > 0)
    throw new Error(
      `table ${table}: the PostgreSQL store has no column ${missing.join(', ')}; nothing was copied`,
    );
  const types = cols.map((x) => target.get(x)!);
  const list = cols.map((x) => `"${x}"`).join(', ');
  const order = table === 'audit_log' ? ' ORDER BY seq' : '';
  const rows = source.prepare(`SELECT ${list} FROM ${table}${order}`).raw().safeIntegers();
  const counted = { rows: 0 };
  const sink = c.query(copyFrom(`COPY ${table} (${list}) FROM STDIN (FORMAT text)`));
  try {
    await pipeline(Readable.from(copyChunks(rows, table, cols, types, counted)), sink);
  } catch (e) {
    const err = new Error(`table ${table}: ${describe(e)}`);
    (err as { code?: unknown }).code = (e as { code?: unknown })?.code;
    throw err;
  }
  if (sink.rowCount !== counted.rows)
    throw new Error(`table ${table}: ${counted.rows} rows read but PostgreSQL took ${sink.rowCount}`);
  return counted.rows;
}

/** How the copy loads tables: `loadTable` and `countsPerRow` are for the benchmark's old path. */
export interface CopyOptions {
  onTable?: (table: string, rows: number) => void;
  loadTable?: TableLoader;
  /** Keep the per-row count trigger while review_items loads (the path before COPY). */
  countsPerRow?: boolean;
}

/**
 * Loads review_items with its per-row count trigger off, then counts the items per campaign
 * and status in one statement. With the trigger on, every item updates the same few
 * review_item_counts rows, and in one transaction each update walks the versions the ones
 * before it left: in a 2,000-user store, review_items took 3.9 s to load that way and 0.7 s without.
 * Turning a trigger off needs the table's owner (who ran the migrations); without that right
 * the trigger stays on and the load is only slower. The ALTER is part of the transaction, so
 * a failed copy leaves the trigger as it was.
 */
async function countItemsOnce(c: PgClient, load: () => Promise<number>): Promise<number> {
  let off = false;
  await c.query('SAVEPOINT count_trigger');
  try {
    await c.query('ALTER TABLE review_items DISABLE TRIGGER review_items_count_insert');
    off = true;
  } catch {
    await c.query('ROLLBACK TO SAVEPOINT count_trigger');
  }
  await c.query('RELEASE SAVEPOINT count_trigger');
  const rows = await load();
  if (off) {
    await c.query('ALTER TABLE review_items ENABLE TRIGGER review_items_count_insert');
    await c.query(
      'INSERT INTO review_item_counts (campaign_id, status, n) SELECT campaign_id, status, count(*) FROM review_items GROUP BY 1, 2',
    );
  }
  return rows;
}

/**
 * Copies every row of a SQLite store into an empty PostgreSQL store, in one transaction: on
 * any error nothing is left behind. Each table is streamed with COPY FROM STDIN, read from one
 * SQLite read transaction (a consistent snapshot). Values are copied as stored (timestamps and
 * JSON as the same text), so the audit chain verifies on the copy with the same head hash; row
 * counts and the item counts per campaign and status are checked before the commit.
 */
export async function copySqliteToPg(
  source: Db,
  pool: PgPool,
  options: CopyOptions = {},
): Promise<CopyReport> {
  const { onTable = () => {}, loadTable = copyTable, countsPerRow = false } = options;
  const started = performance.now();
  const c = await pool.connect();
  const tables: CopyReport['tables'] = [];
  const snapshot = !source.inTransaction;
  try {
    await c.query('BEGIN');
    if (snapshot) source.exec('BEGIN');
    try {
      for (const t of [...COPIED_TABLES, 'review_item_counts']) {
        const n = Number((await c.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
        if (n > 0)
          throw new Error(
            `the target store is not empty (${t} has ${n} row${n === 1 ? '' : 's'}); copy into a new database`,
          );
      }
      for (const t of COPIED_TABLES) {
        const load = () => loadTable(source, c, t);
        const total = t === 'review_items' && !countsPerRow ? await countItemsOnce(c, load) : await load();
        tables.push({ table: t, rows: total });
        onTable(t, total);
      }
      for (const t of IDENTITY_TABLES) {
        await c.query(
          `SELECT setval(pg_get_serial_sequence('${t}', 'id'), coalesce((SELECT max(id) FROM ${t}), 0) + 1, false)`,
        );
      }
      // The copy holds what the source holds: rows per table and items per campaign and status.
      for (const { table, rows } of tables) {
        const n = Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
        if (n !== rows) throw new Error(`${table}: ${rows} rows read but ${n} in the target`);
      }
      const want = source
        .prepare('SELECT campaign_id, status, count(*) AS n FROM review_items GROUP BY 1, 2 ORDER BY 1, 2')
        .all() as Array<{ campaign_id: string; status: string; n: number }>;
      const got = (
        await c.query(
          'SELECT campaign_id, status, n FROM review_item_counts WHERE n > 0 ORDER BY campaign_id COLLATE "C", status COLLATE "C"',
        )
      ).rows.map((r) => ({ campaign_id: String(r.campaign_id), status: String(r.status), n: Number(r.n) }));
      const key = (xs: typeof want) =>
        JSON.stringify(
          [...xs].sort((a, b) => (a.campaign_id + a.status < b.campaign_id + b.status ? -1 : 1)),
        );
      if (key(want) !== key(got))
        throw new Error('review item counts differ between the source and the copy');
      await c.query('COMMIT');
    } catch (e) {
      await c.query('ROLLBACK').catch(() => {});
      throw e;
    } finally {
      if (snapshot && source.inTransaction) source.exec('COMMIT');
    }
  } finally {
    c.release();
  }
  const auditHead = await new PgAuditLog(pool).head();
  return {
    tables,
    rows: tables.reduce((s, t) => s + t.rows, 0),
    auditHead,
    seconds: (performance.now() - started) / 1000,
  };
}

/** Copies an open SQLite store into an empty PostgreSQL store (see copySqliteToPg). */
export function copyStoreToPg(
  source: Store,
  pool: PgPool,
  onTable?: (table: string, rows: number) => void,
): Promise<CopyReport> {
  return copySqliteToPg(source.db, pool, { onTable });
}
