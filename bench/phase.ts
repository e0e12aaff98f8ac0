/**
 * One measured phase in its own process, so its peak RSS (process.resourceUsage().maxRSS)
 * is its own and not polluted by the other phases. run.ts forks this file with a JSON
 * argument and receives one JSON result over IPC:
 *   generate  writes the demo snapshot folder;
 *   import    imports the snapshot into a fresh store (csv-import + StagedSync);
 *   analyze   scores every item of the active campaign (analyzeCampaigns);
 *   import-floor, analyze-floor   the floors of those two (floors.ts);
 *   latency   see latency.ts.
 */
import { importSnapshot } from '../src/connectors/snapshot/csv-import.js';
import { generateDemo } from '../src/demo/generate.js';
import { analyzeCampaigns } from '../src/services/analyze.js';
import { StagedSync } from '../src/store/staged-sync.js';
import { Store } from '../src/store/store.js';
import { AS_OF, ASSIGNMENTS_PER_USER, DORMANT_DAYS, dirBytes, fileBytes, removeDb, SEED } from './dataset.js';
import { analysisFloor, importFloor } from './floors.js';
import { type LatencyInput, runLatency } from './latency.js';
import { instrumentSql, type SqlTiming } from './sql-timing.js';

export type PhaseInput =
  | { phase: 'generate'; dir: string; users: number }
  | { phase: 'import'; dir: string; db: string; sqlTiming?: boolean }
  | { phase: 'analyze'; db: string; sqlTiming?: boolean }
  | { phase: 'import-floor'; dir: string; db: string }
  | { phase: 'analyze-floor'; db: string }
  | ({ phase: 'latency' } & LatencyInput);

export interface GenerateResult {
  seconds: number;
  counts: Record<string, number>;
  bytes: number;
  maxRssMB: number;
}

export interface ImportResult {
  ok: boolean;
  seconds: number;
  /** Data rows read, per file. */
  rows: Record<string, number>;
  totalRows: number;
  assignments: number;
  /** Closing the store (WAL checkpoint), not included in seconds. */
  closeSeconds: number;
  dbBytes: number;
  maxRssMB: number;
  sql?: SqlTiming[];
}

export interface AnalyzeResult {
  seconds: number;
  items: number;
  users: number;
  model: { trained_on: number; revokes: number } | null;
  closeSeconds: number;
  maxRssMB: number;
  sql?: SqlTiming[];
}

export interface FloorResult {
  seconds: number;
  /** Rows inserted (import floor) or items written (analysis floor). */
  rows: number;
  maxRssMB: number;
}

const maxRssMB = () => Math.round(process.resourceUsage().maxRSS / 1024);
const since = (t0: number) => (performance.now() - t0) / 1000;

async function run(input: PhaseInput): Promise<unknown> {
  switch (input.phase) {
    case 'generate': {
      const t0 = performance.now();
      const r = await generateDemo(input.dir, {
        users: input.users,
        seed: SEED,
        asOf: AS_OF,
        history: true,
        assignmentsPerUser: ASSIGNMENTS_PER_USER,
      });
      const seconds = since(t0);
      return {
        seconds,
        counts: r.counts,
        bytes: dirBytes(input.dir),
        maxRssMB: maxRssMB(),
      } satisfies GenerateResult;
    }
    case 'import': {
      removeDb(input.db);
      const store = Store.open(input.db);
      const timings = input.sqlTiming ? instrumentSql(store.db) : null;
      const t0 = performance.now();
      const report = await importSnapshot(input.dir, new StagedSync(store.db, 'snapshot'));
      const seconds = since(t0);
      const t1 = performance.now();
      store.close();
      const closeSeconds = since(t1);
      if (!report.ok) throw new Error(`import failed: ${JSON.stringify(report.issues.slice(0, 3))}`);
      const totalRows = Object.values(report.rows).reduce((a, b) => a + b, 0);
      return {
        ok: report.ok,
        seconds,
        rows: report.rows,
        totalRows,
        assignments: report.rows['assignments.csv'] ?? 0,
        closeSeconds,
        dbBytes: fileBytes(input.db),
        maxRssMB: maxRssMB(),
        ...(timings ? { sql: timings().slice(0, 15) } : {}),
      } satisfies ImportResult;
    }
    case 'analyze': {
      const store = Store.open(input.db);
      const timings = input.sqlTiming ? instrumentSql(store.db) : null;
      const t0 = performance.now();
      const r = analyzeCampaigns(store, { asOf: new Date(AS_OF), dormantDays: DORMANT_DAYS });
      const seconds = since(t0);
      const t1 = performance.now();
      store.close();
      return {
        seconds,
        items: r.items,
        users: r.users,
        model: r.model,
        closeSeconds: since(t1),
        maxRssMB: maxRssMB(),
        ...(timings ? { sql: timings().slice(0, 15) } : {}),
      } satisfies AnalyzeResult;
    }
    case 'import-floor': {
      const r = importFloor(input.dir, input.db);
      return { seconds: r.seconds, rows: r.rows, maxRssMB: maxRssMB() } satisfies FloorResult;
    }
    case 'analyze-floor': {
      const r = analysisFloor(input.db);
      return { seconds: r.seconds, rows: r.items, maxRssMB: maxRssMB() } satisfies FloorResult;
    }
    case 'latency':
      return runLatency(input);
  }
}

const input = JSON.parse(process.argv[2] ?? '{}') as PhaseInput;
let message: { ok: true; result: unknown } | { ok: false; error: string };
try {
  message = { ok: true, result: await run(input) };
} catch (e) {
  message = { ok: false, error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  process.exitCode = 1;
}
if (process.send) {
  process.send(message, () => process.disconnect());
} else if (message.ok) {
  console.log(JSON.stringify(message.result, null, 2));
} else {
  console.error(message.error);
}
