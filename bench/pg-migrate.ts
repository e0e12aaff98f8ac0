// `attest migrate-store` benchmark: a generated demo store (20,000 users by default, imported
// and analysed, so the JSON columns are filled) copied into fresh PostgreSQL databases, runs
// interleaved, three ways through the same copySqliteToPg (one transaction, emptiness check,
// row and item-count checks):
//   before  the multi-row INSERTs the copy used before (kept here only, as the floor to beat),
//           with review_items' per-row count trigger on, as migrate-store ran until COPY;
//   INSERT  the same INSERTs with the item counts built once after review_items (as now);
//   COPY    COPY FROM STDIN (src/store/pg/copy.ts), item counts built once: migrate-store now.
// The PostgreSQL server is test/helpers/postgres.ts's throwaway one (fsync off), or
// ATTEST_TEST_POSTGRES.
// Run: npm run bench:pg-migrate   (BENCH_USERS, BENCH_RUNS, BENCH_BEFORE_RUNS: size and runs)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDemo } from '../src/demo/generate.js';
import { loadSnapshot } from '../src/services/load.js';
import type { Db } from '../src/store/db.js';
import {
  type CopyOptions,
  type CopyReport,
  copySqliteToPg,
  copyTable,
  type TableLoader,
} from '../src/store/pg/copy.js';
import { openPg, type PgClient } from '../src/store/pg/db.js';
import { Store } from '../src/store/store.js';
import { startPostgres } from '../test/helpers/postgres.js';

const USERS = Number(process.env.BENCH_USERS ?? 20_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const BEFORE_RUNS = Number(process.env.BENCH_BEFORE_RUNS ?? 1);

/** PostgreSQL's limit on bind parameters per statement is 65,535. */
const MAX_PARAMS = 60_000;

/** The loader migrate-store used before COPY: multi-row INSERTs of up to 60,000 parameters, rows iterated. */
const insertTable: TableLoader = async (source: Db, c: PgClient, t: string) => {
  const cols = (source.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(t) as string[]).filter(
    Boolean,
  );
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
  const rows = source
    .prepare(`SELECT ${cols.map((x) => `"${x}"`).join(', ')} FROM ${t}${order}`)
    .raw()
    .iterate();
  for (const row of rows) {
    for (const v of row as unknown[]) batch.push(typeof v === 'bigint' ? v.toString() : v);
    rowsInBatch++;
    total++;
    if (rowsInBatch >= per) await flush();
  }
  await flush();
  return total;
};

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

const dir = mkdtempSync(join(tmpdir(), 'attest-pg-migrate-bench-'));
const server = await startPostgres();
try {
  let t = performance.now();
  const snap = join(dir, 'snap');
  await generateDemo(snap, { users: USERS, seed: 42, asOf: '2026-11-28T00:00:00.000Z', history: true });
  const store = Store.open(join(dir, 'store.db'));
  const { report } = await loadSnapshot(store, snap, {
    asOf: new Date('2026-11-28T00:00:00Z'),
    dormantDays: 90,
  });
  if (!report.ok) throw new Error('the demo snapshot did not import');
  console.log(
    `store: ${USERS} users, generated and loaded in ${((performance.now() - t) / 1000).toFixed(1)} s`,
  );

  const methods: Array<[string, CopyOptions, number]> = [
    ['before', { loadTable: insertTable, countsPerRow: true }, BEFORE_RUNS],
    ['INSERT', { loadTable: insertTable }, RUNS],
    ['COPY', { loadTable: copyTable }, RUNS],
  ];
  const seconds: Record<string, number[]> = { before: [], INSERT: [], COPY: [] };
  let last: CopyReport | null = null;
  let n = 0;
  for (let run = 0; run < RUNS; run++) {
    for (const [name, options, runs] of methods) {
      if (run >= runs) continue;
      const pool = await openPg(await server.createDatabase(`bench_${process.pid}_${++n}`), { max: 2 });
      try {
        t = performance.now();
        last = await copySqliteToPg(store.db, pool, options);
        const s = (performance.now() - t) / 1000;
        seconds[name]!.push(s);
        console.log(
          `run ${run + 1} ${name.padEnd(6)} ${last.rows} rows in ${s.toFixed(2)} s: ${Math.round(last.rows / s)} rows/s`,
        );
      } finally {
        await pool.end();
      }
    }
  }
  store.close();
  const rows = last?.rows ?? 0;
  const before = median(seconds.before!);
  const ins = median(seconds.INSERT!);
  const cp = median(seconds.COPY!);
  console.log(
    '\nrows per table:',
    (last?.tables ?? [])
      .filter((x) => x.rows > 0)
      .map((x) => `${x.table} ${x.rows}`)
      .join(', '),
  );
  console.log(
    `\nmedians: before ${before.toFixed(2)} s (${Math.round(rows / before)} rows/s, ${BEFORE_RUNS} run), ` +
      `INSERT ${ins.toFixed(2)} s (${Math.round(rows / ins)} rows/s), COPY ${cp.toFixed(2)} s (${Math.round(rows / cp)} rows/s, ${RUNS} runs each); ` +
      `COPY is ${(ins / cp).toFixed(2)}x the INSERT rate and ${(before / cp).toFixed(2)}x the rate before`,
  );
  console.log(
    JSON.stringify({
      users: USERS,
      rows,
      runs: RUNS,
      seconds,
      before_rows_per_s: rows / before,
      insert_rows_per_s: rows / ins,
      copy_rows_per_s: rows / cp,
      ratio: ins / cp,
      ratio_before: before / cp,
    }),
  );
} finally {
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
}
