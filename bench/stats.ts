/** Percentiles, medians and the timed-call loop every latency figure comes from. */

/** The q-quantile (0..1) of sorted values, nearest rank. */
export function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(q * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] as number;
}

export function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

export interface LatencyPlan {
  /** Untimed calls before the first run (JIT, statement cache, page cache). */
  warmup: number;
  /** Timed runs; each figure is the median over runs. */
  runs: number;
  /** Calls per run (fewer when a call is too slow for the per-figure time budget). */
  calls: number;
  /** Time budget per figure, seconds: slow calls get fewer iterations (see measure()). */
  budgetSeconds: number;
}

export interface LatencyFigure {
  /** Median over runs of each run's p50, in ms. */
  p50: number;
  /** Median over runs of each run's p99, in ms. */
  p99: number;
  /** Median over runs of each run's mean, in ms. */
  mean: number;
  /** Smallest and largest per-run p50, to show the spread. */
  p50Range: [number, number];
  runs: number;
  callsPerRun: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

async function timeOne(fn: (i: number) => Promise<unknown> | unknown, i: number): Promise<number> {
  const t0 = performance.now();
  const out = fn(i);
  if (out instanceof Promise) await out;
  return performance.now() - t0;
}

/**
 * Calls `fn(i)` sequentially: warm-up calls, then `runs` runs of timed calls. A full GC runs
 * before each run (with --expose-gc) so each run starts from the same heap state.
 *
 * Slow calls get fewer iterations within the per-figure time budget: the warm-up takes at most
 * a fifth of it (at least 3 calls) and the calls per run are cut so the runs fit in the rest
 * (at least 20 per run); the figure records how many were made.
 */
export async function measure(plan: LatencyPlan, fn: Timed): Promise<LatencyFigure> {
  return (await measureGroup(plan, [fn]))[0]!;
}

type Timed = (i: number) => Promise<unknown> | unknown;

/**
 * Like measure() for several variants of one call, with their runs interleaved (run 1 of each,
 * then run 2 of each, ...) so that drift in machine state hits every variant alike and their
 * ratios are fair.
 */
export async function measureGroup(plan: LatencyPlan, fns: Timed[]): Promise<LatencyFigure[]> {
  const budgetMs = plan.budgetSeconds * 1000;
  const state = [] as Array<{
    fn: Timed;
    i: number;
    calls: number;
    p50s: number[];
    p99s: number[];
    means: number[];
  }>;
  for (const fn of fns) {
    let i = 0;
    let spent = await timeOne(fn, i++);
    const warmup = Math.min(plan.warmup, Math.max(3, Math.floor((0.2 * budgetMs) / Math.max(spent, 1e-3))));
    let warm = 0;
    for (let w = 1; w < warmup; w++) warm += await timeOne(fn, i++);
    if (warmup > 1) spent = warm / (warmup - 1);
    const calls = Math.min(
      plan.calls,
      Math.max(20, Math.floor((0.8 * budgetMs) / (plan.runs * Math.max(spent, 1e-3)))),
    );
    state.push({ fn, i, calls, p50s: [], p99s: [], means: [] });
  }
  for (let r = 0; r < plan.runs; r++) {
    for (const st of state) {
      const samples = new Float64Array(st.calls);
      gc?.();
      for (let c = 0; c < st.calls; c++) samples[c] = await timeOne(st.fn, st.i++);
      const sorted = [...samples].sort((a, b) => a - b);
      st.p50s.push(quantile(sorted, 0.5));
      st.p99s.push(quantile(sorted, 0.99));
      st.means.push(sorted.reduce((sum, v) => sum + v, 0) / sorted.length);
    }
  }
  return state.map((st) => ({
    p50: median(st.p50s),
    p99: median(st.p99s),
    mean: median(st.means),
    p50Range: [Math.min(...st.p50s), Math.max(...st.p50s)] as [number, number],
    runs: plan.runs,
    callsPerRun: st.calls,
  }));
}
