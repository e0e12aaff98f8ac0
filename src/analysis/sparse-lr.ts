/**
 * Logistic regression over one-hot categorical features (one weight per value, or per value
 * combination), for histories with many values per attribute. Each row has at most one active
 * column per group, so the fit is block coordinate descent: a group's columns split the rows, and
 * each column gets its own Newton step on the L2-penalised log-loss (penalty `l2 / 2 · w²` per
 * weight, as a plain L2-regularised regression has). Sweeps repeat until the weights settle.
 * Deterministic, no learning rate, no native code.
 */
import { sigmoid } from './stats.js';

/** Rows as indexes of their active one-hot columns: row i uses `cols[i * width + j]` (-1: none). */
export interface SparseDesign {
  n: number;
  width: number;
  cols: Int32Array;
  /** Number of distinct columns. */
  columns: number;
}

export interface SparseFitOptions {
  /** Most sweeps over the groups. */
  sweeps: number;
  /** L2 penalty on each weight (the inverse of a regularisation strength C). */
  l2: number;
  /** Stop when no weight moved more than this in a sweep. */
  tolerance: number;
  /** Penalty of each group's weights instead of `l2` (e.g. heavier on value pairs than on single values). */
  groupL2?: readonly number[];
}

export const defaultSparseOptions: Readonly<SparseFitOptions> = Object.freeze({
  sweeps: 30,
  l2: 1,
  tolerance: 1e-4,
});

export interface SparseModel {
  bias: number;
  weights: Float64Array;
}

/** Fits the weights to labels `y` (1 = positive) with row weights `w`. */
export function fitSparseLogistic(
  design: SparseDesign,
  y: ArrayLike<number>,
  w: ArrayLike<number>,
  options: Partial<SparseFitOptions> = {},
): SparseModel {
  const o = { ...defaultSparseOptions, ...options };
  const { n, width, cols } = design;
  const weights = new Float64Array(design.columns);
  let sw = 0;
  let sp = 0;
  for (let i = 0; i < n; i++) {
    sw += w[i]!;
    sp += w[i]! * y[i]!;
  }
  let bias = Math.log((sp + 0.5) / (sw - sp + 0.5));
  const eta = new Float64Array(n).fill(bias);
  const g = new Float64Array(design.columns);
  const h = new Float64Array(design.columns);
  const step = new Float64Array(design.columns);
  const stamp = new Int32Array(design.columns);
  for (let sweep = 0; sweep < o.sweeps; sweep++) {
    let moved = 0;
    // The intercept first (unpenalised), then each group in turn.
    let gb = 0;
    let hb = 0;
    for (let i = 0; i < n; i++) {
      const p = sigmoid(eta[i]!);
      gb += w[i]! * (p - y[i]!);
      hb += w[i]! * Math.max(p * (1 - p), 1e-9);
    }
    const db = -gb / hb;
    bias += db;
    for (let i = 0; i < n; i++) eta[i] = eta[i]! + db;
    moved = Math.max(moved, Math.abs(db));
    for (let j = 0; j < width; j++) {
      const l2 = o.groupL2?.[j] ?? o.l2;
      g.fill(0);
      h.fill(0);
      for (let i = 0; i < n; i++) {
        const c = cols[i * width + j]!;
        if (c < 0) continue;
        const p = sigmoid(eta[i]!);
        g[c] = g[c]! + w[i]! * (p - y[i]!);
        h[c] = h[c]! + w[i]! * Math.max(p * (1 - p), 1e-9);
      }
      for (let i = 0; i < n; i++) {
        const c = cols[i * width + j]!;
        if (c < 0) continue;
        // Each column's step once per sweep, at its first row.
        if (stamp[c] !== sweep + 1) {
          stamp[c] = sweep + 1;
          const d = -(g[c]! + l2 * weights[c]!) / (h[c]! + l2);
          step[c] = d;
          weights[c] = weights[c]! + d;
          moved = Math.max(moved, Math.abs(d));
        }
        eta[i] = eta[i]! + step[c]!;
      }
    }
    if (moved < o.tolerance) break;
  }
  return { bias, weights };
}

/** The model's log-odds for row `i` of a design built the same way. */
export function sparseLogOdds(
  model: SparseModel,
  cols: ArrayLike<number>,
  offset: number,
  width: number,
): number {
  let eta = model.bias;
  for (let j = 0; j < width; j++) {
    const c = cols[offset + j]!;
    if (c >= 0 && c < model.weights.length) eta += model.weights[c]!;
  }
  return eta;
}
