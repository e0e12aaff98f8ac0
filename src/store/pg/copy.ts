import type { Db } from '../db.js';
import type { Store } from '../store.js';
import { PgAuditLog } from './audit.js';
import type { PgPool } from './db.js';

/**
 * The tables copied from a SQLite store to a PostgreSQL one, parents before children.
 * review_item_counts is not copied: the PostgreSQL store's triggers rebuild it from the items
 * as they arrive, and the copy is checked against the source's.
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

/** PostgreSQL's limit on bind parameters per statement is 65,535. */
const MAX_PARAMS = 60_000;

/**
 * Copies every row of a SQLite store into an empty PostgreSQL store, in one transaction: on
 * any error nothing is left behind. Values are copied as stored (timestamps and JSON as the
 * same text), so the audit chain verifies on the copy with the same head hash; row counts and
 * the item counts per campaign and status are checked before the commit.
 */
export async function copySqliteToPg(
  source: Db,
  pool: PgPool,
  onTable: (table: string, rows: number) => void = () => {},
): Promise<CopyReport> {
  const started = performance.now();
  const c = await pool.connect();
  const tables: CopyReport['tables'] = [];
  try {
    await c.query('BEGIN');
    try {
      for (const t of [...COPIED_TABLES, 'review_item_counts']) {
        const n = Number((await c.query(`SELECT count(*) AS n FROM ${t}`)).rows[0].n);
        if (n > 0)
          throw new Error(
            `the target store is not empty (${t} has ${n} row${n === 1 ? '' : 's'}); copy into a new database`,
          );
      }
      for (const t of COPIED_TABLES) {
        const cols = (
          source.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(t) as string[]
        ).filter(Boolean);
        if (cols.length === 0)
          throw new Error(`the source store has no table ${t}: run attest migrate on it first`);
        const per = Math.max(1, Math.floor(MAX_PARAMS / cols.length));
        const head = `INSERT INTO ${t} (${cols.map((x) => `"${x}"`).join(', ')}) VALUES `;
        let batch: unknown[] = [];
        let rowsInBatch = 0;
        let total = 0;
        const flush = async () => {
          if (rowsInBatch === 0) return;
          const groups: string[] = [];
          for (let r = 0; r < rowsInBatch; r++) {
            const base = r * cols.length;
            groups.push(`(${cols.map((_, k) => `$${base + k + 1}`).join(', ')})`);
          }
          await c.query(head + groups.join(', '), batch);
          batch = [];
          rowsInBatch = 0;
        };
        const order = t === 'audit_log' ? ' ORDER BY seq' : '';
        for (const row of source
          .prepare(`SELECT ${cols.map((x) => `"${x}"`).join(', ')} FROM ${t}${order}`)
          .raw()
          .iterate()) {
          for (const v of row as unknown[]) batch.push(typeof v === 'bigint' ? v.toString() : v);
          rowsInBatch++;
          total++;
          if (rowsInBatch >= per) await flush();
        }
        await flush();
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
  return copySqliteToPg(source.db, pool, onTable);
}
