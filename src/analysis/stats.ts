/** Small statistics helpers shared by the analysis modules. Pure and deterministic. */

/** Clamps `x` into `[lo, hi]`. */
export function clamp(x: number, lo: number, hi: number): number {
  return x < lo ? lo : Math.min(x, hi);
}

/** The logistic function, numerically safe for large |x|. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** Log-odds of `p`, with `p` kept away from 0 and 1 so the result is finite. */
export function logit(p: number): number {
  const q = clamp(p, 1e-9, 1 - 1e-9);
  return Math.log(q / (1 - q));
}

function wilsonBounds(x: number, n: number, z: number): [number, number] {
  if (!(n > 0)) return [0, 1];
  const k = clamp(x, 0, n);
  const p = k / n;
  const z2 = z * z;
  const denom = 1 + z2 / n;
  const centre = p + z2 / (2 * n);
  const spread = z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return [clamp((centre - spread) / denom, 0, 1), clamp((centre + spread) / denom, 0, 1)];
}

/**
 * Lower bound of the Wilson score interval for `x` successes out of `n`: a prevalence corrected
 * for small samples (2 of 2 at z = 1.96 is 0.34, not 1). 0 when `n` is 0.
 */
export function wilsonLower(x: number, n: number, z: number): number {
  return wilsonBounds(x, n, z)[0];
}

/** Upper bound of the Wilson score interval for `x` successes out of `n`. 1 when `n` is 0. */
export function wilsonUpper(x: number, n: number, z: number): number {
  return wilsonBounds(x, n, z)[1];
}

/**
 * Area under the ROC curve, computed from ranks (Mann-Whitney U); tied scores get their average
 * rank, so a tie between a positive and a negative counts one half. `labels[i]` is 1 for a
 * positive. Null when either class is empty (AUC is undefined then).
 */
export function auc(scores: readonly number[], labels: readonly (0 | 1)[]): number | null {
  const n = Math.min(scores.length, labels.length);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let positives = 0;
  let rankSum = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]!]! === scores[order[i]!]!) j++;
    const averageRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) {
      if (labels[order[k]!] === 1) {
        positives++;
        rankSum += averageRank;
      }
    }
    i = j + 1;
  }
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Counts of a binary classification against the truth. */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** Tallies predictions against actual labels (true = positive). */
export function confusion(predicted: readonly boolean[], actual: readonly boolean[]): Confusion {
  const c: Confusion = { tp: 0, fp: 0, fn: 0, tn: 0 };
  const n = Math.min(predicted.length, actual.length);
  for (let i = 0; i < n; i++) {
    if (predicted[i]) {
      if (actual[i]) c.tp++;
      else c.fp++;
    } else if (actual[i]) c.fn++;
    else c.tn++;
  }
  return c;
}

/** Share of predicted positives that are positive; null when nothing was predicted positive. */
export function precision(c: Pick<Confusion, 'tp' | 'fp'>): number | null {
  const d = c.tp + c.fp;
  return d === 0 ? null : c.tp / d;
}

/** Share of actual positives that were predicted positive; null when there are none. */
export function recall(c: Pick<Confusion, 'tp' | 'fn'>): number | null {
  const d = c.tp + c.fn;
  return d === 0 ? null : c.tp / d;
}

/**
 * A seeded pseudo-random generator (mulberry32) returning floats in [0, 1). The same seed gives
 * the same sequence on every platform.
 */
export function createRng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A new array with the items of `items` in a seeded (Fisher-Yates) random order. */
export function seededShuffle<T>(items: readonly T[], seed: number): T[] {
  const out = items.slice();
  const rng = createRng(seed);
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = out[i]!;
    out[i] = out[j]!;
    out[j] = tmp;
  }
  return out;
}
