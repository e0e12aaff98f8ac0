/**
 * Logistic regression over one-hot categorical features (one weight per value, or per value
 * combination), for histories with many values per attribute. Fitted by AdaGrad over a seeded
 * order of the rows with an L2 penalty, so it is deterministic and needs no native code.
 */
import { seededShuffle, sigmoid } from './stats.js';

/** Rows as indexes of their active one-hot columns: row i uses `cols[i * width + j]` (-1: none). */
export interface SparseDesign {
  n: number;
  width: number;
  cols: Int32Array;
  /** Number of distinct columns. */
  columns: number;
}

export interface SparseFitOptions {
  epochs: number;
  learningRate: number;
  /** L2 penalty per row seen (applied to the active weights only). */
  l2: number;
  seed: number;
}

export const defaultSparseOptions: Readonly<SparseFitOptions> = Object.freeze({
  epochs: 12,
  learningRate: 0.15,
  l2: 2e-4,
  seed: 3,
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
  const g2 = new Float64Array(design.columns);
  let sw = 0;
  let sp = 0;
  for (let i = 0; i < n; i++) {
    sw += w[i]!;
    sp += w[i]! * y[i]!;
  }
  let bias = Math.log((sp + 0.5) / (sw - sp + 0.5));
  let biasG2 = 0;
  const order = seededShuffle(
    Array.from({ length: n }, (_, i) => i),
    o.seed,
  );
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (const i of order) {
      const row = i * width;
      let eta = bias;
      for (let j = 0; j < width; j++) {
        const c = cols[row + j]!;
        if (c >= 0) eta += weights[c]!;
      }
      const g = w[i]! * (sigmoid(eta) - y[i]!);
      biasG2 += g * g;
      bias -= (o.learningRate * g) / Math.sqrt(biasG2 + 1e-8);
      for (let j = 0; j < width; j++) {
        const c = cols[row + j]!;
        if (c < 0) continue;
        const gc = g + o.l2 * weights[c]!;
        g2[c] = g2[c]! + gc * gc;
        weights[c] = weights[c]! - (o.learningRate * gc) / Math.sqrt(g2[c]! + 1e-8);
      }
    }
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
