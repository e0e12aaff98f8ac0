/**
 * Attest benchmark: generated tenants at several sizes, measured from the raw SQL query up to
 * the real stdio server, against a bare SDK echo server as the floor. See bench/README.md.
 *
 *   npm run bench                          10k, 50k and 100k users (several minutes)
 *   npm run bench -- --quick               2,000 users, fewer iterations (under a minute)
 *   npm run bench -- --sizes 10000,50000   chosen sizes
 *   npm run bench -- --help                every option
 */
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { formatTop, topSelfTime } from './cpuprofile-top.js';
import {
  AS_OF,
  ASSIGNMENTS_PER_USER,
  pruneStale,
  readMarker,
  removeDb,
  SEED,
  type Tenant,
  tenantFor,
  writeMarker,
} from './dataset.js';
import type { LatencyInput, LatencyResult, Walked } from './latency.js';
import { machineInfo } from './machine.js';
import { PHASE_WORKER, RESULTS_DIR, ROOT } from './paths.js';
import type { AnalyzeResult, FloorResult, GenerateResult, ImportResult, PhaseInput } from './phase.js';
import { evaluateTargets, formatReport, type SizeResult } from './report.js';
import type { LatencyPlan } from './stats.js';
import { median } from './stats.js';

interface Options {
  quick: boolean;
  sizes: number[];
  loadRuns: number;
  loadBudgetSeconds: number;
  plan: LatencyPlan;
  stdio: boolean;
  skipLoad: boolean;
  profile: 'import' | 'analyze' | 'latency' | null;
  profileOnly: boolean;
  sampleUsers: number;
  out: string | null;
}

const HELP = `Usage: npm run bench -- [options]

  --quick              one small tenant (2,000 users) and fewer iterations: under a minute
  --sizes N,N,...      user counts to measure (default 10000,50000,100000; max 200000)
  --load-runs N        import and analysis runs per size, median reported (default 3; quick 2)
  --load-budget S      no further import+analysis run once the runs so far plus one more would pass
                       S seconds (default 300), so the largest sizes run once
  --warmup N           untimed calls before each latency figure (default 50; quick 10)
  --runs N             timed runs per latency figure, median reported (default 5; quick 3)
  --calls N            calls per run (default 200; quick 40)
  --budget S           time budget per latency figure: slow calls get fewer calls per run, at least 20
                       (default 8; quick 2)
  --no-stdio           skip the stdio measurements
  --skip-load          reuse the cached loaded store: no import or analysis figures
  --profile PHASE      import | analyze | latency: also run that phase once on the largest size with
                       --cpu-prof (and per-statement SQL timings) and print the top self-time functions
  --profile-only       only the profiling run (needs the cached snapshot and store of that size)
  --out FILE           write the JSON here instead of bench/results/<timestamp>.json
`;

function parseArgs(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = {
    quick,
    sizes: quick ? [2000] : [10_000, 50_000, 100_000],
    loadRuns: quick ? 2 : 3,
    loadBudgetSeconds: 300,
    plan: quick
      ? { warmup: 10, runs: 3, calls: 40, budgetSeconds: 2 }
      : { warmup: 50, runs: 5, calls: 200, budgetSeconds: 8 },
    stdio: true,
    skipLoad: false,
    profile: null,
    profileOnly: false,
    sampleUsers: 64,
    out: null,
  };
  const num = (flag: string, v: string | undefined, min: number, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max)
      throw new Error(`${flag}: expected an integer ${min}..${max}, got ${v}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => argv[++i];
    switch (a) {
      case '--quick':
        break;
      case '--sizes':
        o.sizes = String(next())
          .split(',')
          .map((s) => num('--sizes', s.trim().replace(/_/g, ''), 1, 200_000));
        break;
      case '--load-runs':
        o.loadRuns = num(a, next(), 1, 20);
        break;
      case '--load-budget':
        o.loadBudgetSeconds = num(a, next(), 0, 36_000);
        break;
      case '--warmup':
        o.plan.warmup = num(a, next(), 0, 100_000);
        break;
      case '--runs':
        o.plan.runs = num(a, next(), 1, 100);
        break;
      case '--calls':
        o.plan.calls = num(a, next(), 1, 100_000);
        break;
      case '--budget':
        o.plan.budgetSeconds = num(a, next(), 1, 3600);
        break;
      case '--no-stdio':
        o.stdio = false;
        break;
      case '--skip-load':
        o.skipLoad = true;
        break;
      case '--profile': {
        const p = next();
        if (p !== 'import' && p !== 'analyze' && p !== 'latency')
          throw new Error('--profile: import, analyze or latency');
        o.profile = p;
        break;
      }
      case '--profile-only':
        o.profileOnly = true;
        break;
      case '--out':
        o.out = String(next());
        break;
      case '--help':
      case '-h':
        console.log(HELP);
        process.exit(0);
        break;
      default:
        throw new Error(`unknown option ${a} (see --help)`);
    }
  }
  return o;
}

/** Runs one phase in a fresh Node process and returns its result. */
function runPhase<T>(input: PhaseInput, execArgv: string[] = []): Promise<T> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = fork(PHASE_WORKER, [JSON.stringify(input)], {
      execArgv: ['--expose-gc', ...execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let message: { ok: true; result: T } | { ok: false; error: string } | undefined;
    child.on('message', (m) => {
      message = m as typeof message;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (message?.ok) resolve(message.result);
      else if (message && !message.ok) reject(new Error(`${input.phase} phase failed: ${message.error}`));
      else reject(new Error(`${input.phase} phase exited with ${signal ?? `code ${code}`} and no result`));
    });
  });
}

const log = (s: string) => console.error(s);
const secs = (s: number) => `${s.toFixed(2)} s`;

/** Generates the snapshot folder unless a complete one is cached. */
async function ensureSnapshot(t: Tenant): Promise<GenerateResult & { cached: boolean }> {
  const cached = readMarker<GenerateResult>(t.snapshotMarker);
  if (cached) {
    log(`  snapshot: cached ${relative(ROOT, t.snapshotDir)}`);
    return { ...cached, cached: true };
  }
  rmSync(t.snapshotDir, { recursive: true, force: true });
  log(`  snapshot: generating ${relative(ROOT, t.snapshotDir)}`);
  const r = await runPhase<GenerateResult>({ phase: 'generate', dir: t.snapshotDir, users: t.users });
  writeMarker(t.snapshotMarker, r);
  log(`  snapshot: ${r.counts['assignments.csv']} assignments in ${secs(r.seconds)}`);
  return { ...r, cached: false };
}

/** Repeats a phase up to `maxRuns` times while the runs so far stay within the budget. */
async function repeat<T extends { seconds: number }>(
  name: string,
  maxRuns: number,
  budget: number,
  once: (run: number) => Promise<T>,
): Promise<T[]> {
  const runs: T[] = [];
  let spent = 0;
  while (runs.length < maxRuns) {
    const r = await once(runs.length + 1);
    runs.push(r);
    spent += r.seconds;
    log(`  ${name} run ${runs.length}: ${secs(r.seconds)}`);
    if (runs.length < maxRuns && spent + r.seconds > budget) {
      log(`  ${name}: ${runs.length} run(s), next would pass the ${budget} s budget`);
      break;
    }
  }
  return runs;
}

function summarise<T extends { seconds: number; maxRssMB: number }>(runs: T[]) {
  return {
    runs: runs.length,
    seconds: median(runs.map((r) => r.seconds)),
    secondsRange: [Math.min(...runs.map((r) => r.seconds)), Math.max(...runs.map((r) => r.seconds))] as [
      number,
      number,
    ],
    maxRssMB: Math.max(...runs.map((r) => r.maxRssMB)),
    last: runs[runs.length - 1] as T,
  };
}

async function measureSize(users: number, o: Options): Promise<SizeResult> {
  const t = tenantFor(users);
  log(`\n== ${users.toLocaleString('en-US')} users`);
  for (const name of pruneStale(t)) log(`  cache: removed stale ${name}`);
  const snapshot = await ensureSnapshot(t);
  let load: SizeResult['load'] = null;
  if (o.skipLoad) {
    if (!readMarker(t.dbMarker))
      throw new Error(`--skip-load: no cached store for ${users} users; run without it first`);
    log(`  store: cached ${relative(ROOT, t.dbPath)}`);
  } else {
    removeDb(t.dbPath);
    const imports: ImportResult[] = [];
    const analyses: AnalyzeResult[] = [];
    const importFloors: FloorResult[] = [];
    const analysisFloors: FloorResult[] = [];
    // Each run: the import floor, the import, the analysis floor (on a copy of the store the import
    // just wrote), the analysis (on that store). A store is analysed once.
    await repeat('import+analysis', o.loadRuns, o.loadBudgetSeconds, async () => {
      const fl = await runPhase<FloorResult>({
        phase: 'import-floor',
        dir: t.snapshotDir,
        db: `${t.dbPath}.import-floor`,
      });
      importFloors.push(fl);
      log(`  import floor: ${fl.rows.toLocaleString('en-US')} rows in ${secs(fl.seconds)}`);
      const imp = await runPhase<ImportResult>({ phase: 'import', dir: t.snapshotDir, db: t.dbPath });
      imports.push(imp);
      log(
        `  import: ${imp.totalRows.toLocaleString('en-US')} rows in ${secs(imp.seconds)}, peak RSS ${imp.maxRssMB} MB`,
      );
      const af = await runPhase<FloorResult>({ phase: 'analyze-floor', db: t.dbPath });
      analysisFloors.push(af);
      log(`  analysis floor: ${af.rows.toLocaleString('en-US')} items in ${secs(af.seconds)}`);
      const an = await runPhase<AnalyzeResult>({ phase: 'analyze', db: t.dbPath });
      analyses.push(an);
      log(
        `  analysis: ${an.items.toLocaleString('en-US')} items in ${secs(an.seconds)}, peak RSS ${an.maxRssMB} MB`,
      );
      return { seconds: fl.seconds + imp.seconds + af.seconds + an.seconds };
    });
    writeMarker(t.dbMarker, { users, at: new Date().toISOString(), codeHash: t.codeHash });
    load = {
      import: summarise(imports),
      analyze: summarise(analyses),
      importFloor: summarise(importFloors),
      analyzeFloor: summarise(analysisFloors),
    };
  }
  let latency: LatencyResult | null = null;
  log('  latency:');
  const marker = readMarker<{ users: number; at: string; walked?: Walked }>(t.dbMarker);
  const input: LatencyInput = {
    db: t.dbPath,
    plan: o.plan,
    stdio: o.stdio,
    sampleUsers: o.sampleUsers,
    walked: marker?.walked,
  };
  latency = await runPhase<LatencyResult>({ phase: 'latency', ...input });
  // Keep the cursors with the cached store, so a --skip-load run need not walk again.
  if (marker) writeMarker(t.dbMarker, { ...marker, walked: latency.walked });
  return { users, snapshot, load, latency };
}

/** One extra run of a phase on the largest size with --cpu-prof; prints the hottest functions. */
async function profile(phase: 'import' | 'analyze' | 'latency', users: number, o: Options, stamp: string) {
  const t = tenantFor(users);
  const dir = join(RESULTS_DIR, `profile-${stamp}-${phase}-u${users}`);
  mkdirSync(dir, { recursive: true });
  const prof = ['--cpu-prof', `--cpu-prof-dir=${dir}`, `--cpu-prof-name=${phase}.cpuprofile`];
  log(`\n== profiling ${phase} at ${users.toLocaleString('en-US')} users -> ${relative(ROOT, dir)}`);
  let sql: Array<{ sql: string; calls: number; ms: number }> | undefined;
  let seconds: number | null = null;
  if (phase === 'import') {
    // Into a scratch store, so the cached one stays as it is.
    const scratch = join(dir, 'import.db');
    try {
      const r = await runPhase<ImportResult>(
        { phase: 'import', dir: t.snapshotDir, db: scratch, sqlTiming: true },
        prof,
      );
      sql = r.sql;
      seconds = r.seconds;
    } finally {
      removeDb(scratch);
    }
  } else if (phase === 'analyze') {
    if (!readMarker(t.dbMarker))
      throw new Error(`no cached store for ${users} users: run without --profile-only first`);
    const r = await runPhase<AnalyzeResult>({ phase: 'analyze', db: t.dbPath, sqlTiming: true }, prof);
    sql = r.sql;
    seconds = r.seconds;
  } else {
    const marker = readMarker<{ walked?: Walked }>(t.dbMarker);
    if (!marker) throw new Error(`no cached store for ${users} users: run without --profile-only first`);
    // A short plan: the profile needs the calls, not stable percentiles.
    await runPhase<LatencyResult>(
      {
        phase: 'latency',
        db: t.dbPath,
        plan: { warmup: 3, runs: 1, calls: 20, budgetSeconds: 1 },
        stdio: true,
        sampleUsers: o.sampleUsers,
        cpuProfDir: dir,
        walked: marker.walked,
      },
      prof,
    );
  }
  const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'));
  const summaries: Record<string, ReturnType<typeof topSelfTime>> = {};
  for (const f of files) {
    const s = topSelfTime(join(dir, f), 15);
    summaries[f] = s;
    console.log(
      `\nCPU profile ${relative(ROOT, join(dir, f))}${seconds === null ? '' : ` (phase ${secs(seconds)})`}`,
    );
    console.log(formatTop(s));
  }
  if (sql) {
    console.log('\n  SQL statements by total time (run/get/all/iterate):');
    for (const s of sql.slice(0, 12)) {
      console.log(
        `  ${(s.ms / 1000).toFixed(2).padStart(7)} s  ${String(s.calls).padStart(9)} calls  ${s.sql.slice(0, 150)}`,
      );
    }
  }
  return { phase, users, dir: relative(ROOT, dir), seconds, cpu: summaries, sql: sql ?? null };
}

async function main(): Promise<void> {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(PHASE_WORKER)) throw new Error(`${PHASE_WORKER} is missing: run through "npm run bench"`);
  const started = new Date();
  const stamp = started.toISOString().replace(/[:.]/g, '-');
  const machine = machineInfo();
  log(
    `Attest benchmark ${started.toISOString()}: ${machine.cpuModel}, ${machine.cores} cores, ${machine.memoryGiB} GiB, Node ${machine.node}`,
  );
  log(
    `sizes ${o.sizes.join(', ')}; load runs ≤ ${o.loadRuns}; latency: ${o.plan.warmup} warm-up, ${o.plan.runs} runs × ${o.plan.calls} calls`,
  );
  const t0 = performance.now();
  const sizes: SizeResult[] = [];
  if (o.profileOnly && !o.profile) throw new Error('--profile-only needs --profile PHASE');
  if (!o.profileOnly)
    for (const users of [...o.sizes].sort((a, b) => a - b)) sizes.push(await measureSize(users, o));
  const profiles = [];
  if (o.profile) profiles.push(await profile(o.profile, Math.max(...o.sizes), o, stamp));
  const durationSeconds = (performance.now() - t0) / 1000;
  const targets = evaluateTargets(sizes);
  const result = {
    startedAt: started.toISOString(),
    durationSeconds,
    machine,
    options: { ...o, generator: { seed: SEED, asOf: AS_OF, assignmentsPerUser: ASSIGNMENTS_PER_USER } },
    sizes,
    targets,
    profiles,
  };
  console.log(formatReport(result));
  const out = o.out ?? join(RESULTS_DIR, `${stamp}.json`);
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`);
  console.log(`\nJSON: ${relative(ROOT, out)}  (run took ${durationSeconds.toFixed(0)} s)`);
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : e);
  process.exitCode = 1;
});
