import { spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { BASE_ENV, CLI } from '../e2e/helpers.js';

/** One line of the suite's figures, so CI output shows them. */
export function report(line: string): void {
  console.log(`reliability: ${line}`);
}

/** The seed of a generated part: RELIABILITY_SEED when set (to replay a run), else a fixed one. */
export function seedFor(part: string, fallback: number): number {
  const s = process.env.RELIABILITY_SEED;
  const seed = s !== undefined && /^\d+$/.test(s) ? Number(s) : fallback;
  report(`${part}: seed ${seed} (replay with RELIABILITY_SEED=${seed})`);
  return seed;
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a child process (asynchronously, so emulators in this process keep answering). */
export function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...BASE_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `tasks` with at most `limit` in flight; results in task order. */
export async function inParallel<T>(limit: number, tasks: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= tasks.length) return;
      out[i] = await tasks[i]!();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return out;
}

/** Columns that record when a row was written, not what it holds. */
const WRITE_TIMES = new Set(['updated_at', 'analyzed_at']);

/**
 * A dumper of every data table of a store (all but the audit log, whose growth is checked
 * on its own): rows in a stable order, without the columns that only say when a row was
 * written. Statements are prepared once, so dumping after every call stays cheap.
 */
export function tableDumper(
  db: Database.Database,
  options: { dropColumns?: Record<string, string[]>; keepWriteTimes?: boolean } = {},
): () => Record<string, unknown[]> {
  const tables = db
    .prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'audit_log' ORDER BY name",
    )
    .pluck()
    .all() as string[];
  const statements: Array<[string, Database.Statement]> = [];
  for (const t of tables) {
    const cols = (db.prepare(`PRAGMA table_info(${t})`).all() as Array<{ name: string }>).map((c) => c.name);
    const drop = new Set([
      ...(options.keepWriteTimes ? [] : WRITE_TIMES),
      ...(options.dropColumns?.[t] ?? []),
    ]);
    const kept = cols.filter((c) => !drop.has(c));
    if (kept.length === 0) continue;
    const list = kept.map((c) => `"${c}"`).join(', ');
    statements.push([
      t,
      db.prepare(`SELECT ${list} FROM ${t} ORDER BY ${kept.map((_, i) => i + 1).join(', ')}`),
    ]);
  }
  return () => Object.fromEntries(statements.map(([t, st]) => [t, st.all()]));
}

/** Every data table of a store, as `tableDumper` reads it. */
export function dumpTables(
  db: Database.Database,
  options: Parameters<typeof tableDumper>[1] = {},
): Record<string, unknown[]> {
  return tableDumper(db, options)();
}

/** Opens a store file directly (no migrations, nothing of ours runs on it) and dumps it. */
export function dumpFile(path: string, options: Parameters<typeof dumpTables>[1] = {}) {
  const db = new Database(path);
  try {
    return dumpTables(db, options);
  } finally {
    db.close();
  }
}

/** Percentile of sorted numbers (nearest rank). */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}
