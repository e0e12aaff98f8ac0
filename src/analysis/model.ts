/**
 * Learning from past review decisions.
 *
 * Histories are lopsided (~94% approvals) and their attributes have many values (hundreds of
 * entitlements, managers, titles). Each categorical feature, and each selected pair of features,
 * is therefore target-encoded: a value's revoke rate, smoothed towards the overall rate by an
 * m-estimate so rarely seen values say little. The encodings' log-odds (relative to the overall
 * rate) feed an L2-regularised logistic regression fitted by Newton's method (IRLS), which learns
 * how much to trust each feature and discounts features that repeat each other.
 *
 * Inside training, encodings are computed out-of-fold: a row's features are encoded from the
 * other folds only, so the regression never sees a row's own label through its features. The
 * model that is kept encodes from all the training rows. Everything is deterministic.
 */

import { fitSparseLogistic, type SparseDesign } from './sparse-lr.js';
import { logit, seededShuffle, sigmoid } from './stats.js';
import { defaultThresholds } from './thresholds.js';
import { fitTrees, type TreeEnsemble, treeLogOdds } from './trees.js';
import { fitUsual, type UsualEntry, type UsualTable, usualOf } from './usual.js';

/** One labelled past decision: categorical features and whether it was revoked (1) or approved (0). */
export interface TrainingRow {
  features: Record<string, string | null>;
  label: 0 | 1;
  /** How much the row counts (default 1): an override of the engine counts more. */
  weight?: number;
}

/** Features encoded together, e.g. `['entitlement', 'department']` or a triple. */
export type FeaturePair = readonly string[];

/** How many of the most telling features are combined in pairs, and how many in triples with the entitlement. */
const PAIR_FEATURES = 8;
const TRIPLE_FEATURES = 6;

/**
 * The feature combinations encoded by default: features are ranked by how much their smoothed
 * revoke rates tell apart (label entropy removed, weighted by rows), ignoring features with one
 * value or a different value on nearly every row; every pair among the top {@link PAIR_FEATURES}
 * (with the entitlement always among them when present) is encoded, and every triple of the
 * entitlement (or the top feature) with two of the top {@link TRIPLE_FEATURES}.
 */
export function chooseCombinations(rows: readonly TrainingRow[], smoothing: number): FeaturePair[] {
  const n = rows.length;
  if (n === 0) return [];
  let positives = 0;
  const stats = new Map<string, Map<string | null, [number, number]>>();
  for (const r of rows) {
    if (r.label === 1) positives++;
    for (const [k, v] of Object.entries(r.features)) {
      let m = stats.get(k);
      if (!m) {
        m = new Map();
        stats.set(k, m);
      }
      const c = m.get(v ?? null);
      if (c) {
        c[0]++;
        c[1] += r.label;
      } else m.set(v ?? null, [1, r.label]);
    }
  }
  const prior = smoothedPrior(positives, n);
  const h = (p: number) => (p <= 0 || p >= 1 ? 0 : -(p * Math.log(p) + (1 - p) * Math.log(1 - p)));
  const ranked: Array<{ f: string; gain: number }> = [];
  for (const [f, m] of stats) {
    if (m.size < 2 || m.size > 0.9 * n) continue;
    let gain = 0;
    for (const [cn, cp] of m.values())
      gain += cn * (h(prior) - h((cp + smoothing * prior) / (cn + smoothing)));
    ranked.push({ f, gain });
  }
  ranked.sort((a, b) => b.gain - a.gain || (a.f < b.f ? -1 : a.f > b.f ? 1 : 0));
  // A feature that only renames a better-ranked one (a role code beside the title) adds nothing
  // to a combination: it is left out of them.
  const order: string[] = [];
  for (const { f } of ranked) if (!order.some((g) => sameSplit(rows, f, g))) order.push(f);
  const anchor = order.includes('entitlement') ? 'entitlement' : (order[0] ?? null);
  if (anchor === null) return [];
  const rest = order.filter((f) => f !== anchor);
  const top = [anchor, ...rest.slice(0, PAIR_FEATURES - 1)];
  const out: FeaturePair[] = [];
  for (let a = 0; a < top.length; a++) for (let b = a + 1; b < top.length; b++) out.push([top[a]!, top[b]!]);
  const tri = rest.slice(0, TRIPLE_FEATURES);
  for (let a = 0; a < tri.length; a++)
    for (let b = a + 1; b < tri.length; b++) out.push([anchor, tri[a]!, tri[b]!]);
  // The anchor with each usual feature: its revoke rate among requests from outside its usual
  // department (area, family…), which tells a closed resource from an open one.
  for (const f of order) if (f.startsWith('usual:') && !top.includes(f)) out.push([anchor, f]);
  return out;
}

/** Whether features `a` and `b` split the rows the same way (each value of one maps to one of the other). */
function sameSplit(rows: readonly TrainingRow[], a: string, b: string): boolean {
  const ab = new Map<string | null, string | null>();
  const ba = new Map<string | null, string | null>();
  for (const r of rows) {
    const va = r.features[a] ?? null;
    const vb = r.features[b] ?? null;
    const x = ab.get(va);
    if (x === undefined) ab.set(va, vb);
    else if (x !== vb) return false;
    const z = ba.get(vb);
    if (z === undefined) ba.set(vb, va);
    else if (z !== va) return false;
  }
  return true;
}

/** Options of {@link fitModel}; every number defaults to {@link defaultThresholds}. */
export interface FitOptions {
  /** Single features to encode; by default every feature name seen in the rows. */
  features?: readonly string[];
  /**
   * Feature combinations (pairs, triples) to encode together. By default: every pair among the
   * most telling features, and every triple of the entitlement with two of them (see
   * {@link chooseCombinations}).
   */
  pairs?: readonly FeaturePair[];
  /** Fit and apply an isotonic calibration of the probability (default true). */
  calibrate?: boolean;
  /**
   * Also fit a boosted tree ensemble on the encodings and value counts, blended with the regression
   * (default: with {@link TREE_MIN_ROWS} rows or more; smaller ensembles below 20,000 rows).
   */
  trees?: boolean;
  /** Also fit the one-hot regression over single features (default: with {@link ONEHOT_MIN_ROWS} rows or more). */
  onehot?: boolean;
  /** Add the "usual" features: whether an attribute's value is the entitlement's most common one (default true). */
  usual?: boolean;
  /** m of the m-estimate smoothing the target encodings. */
  smoothing?: number;
  /** Folds for the out-of-fold encodings used while training. */
  folds?: number;
  /** L2 penalty on the regression weights (not on the intercept). */
  l2?: number;
  /** Maximum Newton iterations. */
  maxIterations?: number;
  /** Seed of the fold assignment. */
  seed?: number;
}

/** How often a value was seen in training and how often it was revoked. */
export interface CategoryStat {
  /** Weighted count (an override counts more). */
  n: number;
  revokes: number;
  /** Rows seen, unweighted (defaults to `n`). */
  rows?: number;
  /** The value's weight in the one-hot regression ({@link Model.onehot}); single features only. */
  lr?: number;
}

/** One encoded feature (single or pair) and its learned weight. */
export interface ModelEncoder {
  /** `department`, or `entitlement×department` for a pair. */
  name: string;
  /** The feature names combined, in order. */
  parts: string[];
  weight: number;
  /** Keyed by the encoded value (see {@link valueKey}). */
  categories: Map<string, CategoryStat>;
}

/** A fitted model. Plain data apart from the maps; see {@link serializeModel}. */
export interface Model {
  version: 1;
  /** Training rows. */
  n: number;
  /** Training rows labelled revoke. */
  positives: number;
  /** Overall (lightly smoothed) revoke rate of the training rows. */
  prior: number;
  smoothing: number;
  bias: number;
  encoders: ModelEncoder[];
  /**
   * Maps the regression's probability to an observed revoke rate; fitted on the training rows'
   * out-of-fold encodings, so it reflects how the model does on decisions it has not seen.
   */
  calibrator?: Calibrator | null;
  /**
   * Trees over each encoder's encoded log-odds and log count (features `2j`, `2j + 1`) and the
   * one-hot regression's log-odds (feature `2d`, 0 without it), whose log-odds are averaged with
   * the regression's.
   */
  trees?: TreeEnsemble | null;
  /**
   * A one-hot logistic regression over the single features and the entitlement's pairs, fitted jointly (so a manager's own
   * effect is told apart from the resources the team asks for): its intercept here, each value's
   * weight in the encoder's category (`lr`). Its log-odds are averaged with the rest.
   */
  onehot?: { bias: number } | null;
  /** The entitlements' usual attribute values ({@link fitUsual}); items get the same features from it. */
  usual?: UsualTable | null;
}

/** The item's features with the model's usual features added. */
export function withUsual(
  model: Model,
  features: Record<string, string | null>,
): Record<string, string | null> {
  return model.usual ? { ...features, ...usualOf(model.usual, features) } : features;
}

/** Fewest training rows for which the one-hot regression is fitted by default. */
export const ONEHOT_MIN_ROWS = 1000;

/** Weight of the one-hot regression in the blended log-odds. */
const ONEHOT_BLEND = 0.5;

/** L2 penalty of each one-hot weight; a value pair's is {@link ONEHOT_PAIR_L2} times heavier. */
const ONEHOT_L2 = 1;
const ONEHOT_PAIR_L2 = 3;
/**
 * Folds of the one-hot regression's out-of-fold scores. Each fold's fit sees 80% of the rows, so
 * its scores are close to those of the fit on every row that the model keeps: the calibration
 * and the trees learn from scores like the ones they will be given. With two half-fits the kept
 * fit was sharper than the scores the calibrator was fitted on, and revokes stated at 0.6-0.7
 * were right 57-58% of the time on one generated history.
 */
const ONEHOT_FOLDS = 5;

/** Fewest training rows for which the tree ensemble is fitted by default. */
export const TREE_MIN_ROWS = 3000;

/** Weight of the tree ensemble in the blended log-odds (the regression has the rest). */
const TREE_BLEND = 0.5;

/**
 * For each combination encoder whose first part is also encoded alone, `[combination, single]`:
 * the tree feature `2d + 1 + q` of the `q`-th is the share of the single value's training rows
 * that also have the combination's other values (the peer share: how many of the entitlement's
 * requesters were from this department), or -1 when the single value was never seen.
 */
export function shareEncoders(encoders: readonly ModelEncoder[]): Array<[number, number]> {
  const single = new Map<string, number>();
  encoders.forEach((e, j) => {
    if (e.parts.length === 1) single.set(e.parts[0]!, j);
  });
  const out: Array<[number, number]> = [];
  encoders.forEach((e, j) => {
    const a = e.parts.length > 1 ? single.get(e.parts[0]!) : undefined;
    if (a !== undefined) out.push([j, a]);
  });
  return out;
}

const sharesOf = new WeakMap<readonly ModelEncoder[], Array<[number, number]>>();

function cachedShares(model: Model): Array<[number, number]> {
  let s = sharesOf.get(model.encoders);
  if (!s) {
    s = shareEncoders(model.encoders);
    sharesOf.set(model.encoders, s);
  }
  return s;
}

/** A peer share from the rows with both values and the rows with the single value; -1 for none. */
function share(both: number, single: number): number {
  return single > 0 ? both / single : -1;
}

/** The number of tree features of a model with these encoders. */
function treeWidth(encoders: readonly ModelEncoder[]): number {
  return 2 * encoders.length + 1 + shareEncoders(encoders).length;
}

/** The tree features of one item from its encoders' training counts. */
function treeFeatures(model: Model, stats: ReadonlyArray<CategoryStat | undefined>, out: Float64Array): void {
  for (let j = 0; j < stats.length; j++) {
    const st = stats[j];
    out[2 * j] = encodedLogOdds(st, model.prior, model.smoothing);
    out[2 * j + 1] = Math.log1p(st?.rows ?? st?.n ?? 0);
  }
  const base = 2 * stats.length + 1;
  cachedShares(model).forEach(([j, a], q) => {
    const sj = stats[j];
    const sa = stats[a];
    out[base + q] = share(sj?.rows ?? sj?.n ?? 0, sa?.rows ?? sa?.n ?? 0);
  });
}

/**
 * Blends the regression's log-odds with the trees' and the one-hot regression's for the item
 * whose encoder counts are `stats`.
 */
function blendedLogOdds(model: Model, eta: number, stats: ReadonlyArray<CategoryStat | undefined>): number {
  let lr = 0;
  if (model.onehot) {
    lr = model.onehot.bias;
    for (const st of stats) lr += st?.lr ?? 0;
  }
  let out = eta;
  if (model.trees) {
    const t = new Float64Array(stats.length * 2 + 1 + cachedShares(model).length);
    treeFeatures(model, stats, t);
    t[stats.length * 2] = lr;
    out = (1 - TREE_BLEND) * eta + TREE_BLEND * treeLogOdds(model.trees, t);
  }
  if (model.onehot) out = (1 - ONEHOT_BLEND) * out + ONEHOT_BLEND * lr;
  return out;
}

/**
 * How much of an item's blended log-odds one encoder's value accounts for: its share of the
 * regression plus its one-hot weight's share (the trees' part is not split by feature).
 */
function contributionOf(model: Model, term: number, stat: CategoryStat | undefined): number {
  const reg = (model.trees ? 1 - TREE_BLEND : 1) * (model.onehot ? 1 - ONEHOT_BLEND : 1);
  return reg * term + (model.onehot ? ONEHOT_BLEND * (stat?.lr ?? 0) : 0);
}

/** A feature that moved a prediction, for the rationale. */
export interface Factor {
  /** `department`, or `entitlement×department` for a pair. */
  feature: string;
  /** The item's values of the feature's parts. */
  values: Array<string | null>;
  /** Log-odds the feature added to (positive: towards revoke) or took from the prediction. */
  contribution: number;
  direction: 'revoke' | 'approve';
  /** Smoothed revoke rate of past decisions with these values. */
  revoke_rate: number;
  /** Past decisions with these values. */
  seen: number;
}

/** A monotone map from a raw score to a calibrated probability (isotonic regression). */
export interface Calibrator {
  kind: 'isotonic';
  /** Mean raw score of each block, ascending. */
  x: number[];
  /** Observed rate of each block, non-decreasing. */
  y: number[];
}

const PAIR_SEPARATOR = '×';

function encodeValue(v: string | null | undefined): string {
  return v === null || v === undefined ? '-' : `+${v}`;
}

/**
 * The key of an item's value for a feature or pair: null and missing are one value of their own;
 * pair parts are length-prefixed so no two different value pairs share a key.
 */
export function valueKey(features: Record<string, string | null>, parts: readonly string[]): string {
  if (parts.length === 1) return encodeValue(features[parts[0]!]);
  let key = '';
  for (const p of parts) {
    const e = encodeValue(features[p]);
    key += `${e.length}${e}`;
  }
  return key;
}

function encodedLogOdds(stat: CategoryStat | undefined, prior: number, m: number): number {
  if (!stat || stat.n <= 0) return 0;
  return logit((stat.revokes + m * prior) / (stat.n + m)) - logit(prior);
}

function smoothedPrior(positives: number, n: number): number {
  return (positives + 0.5) / (n + 1);
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/** Solves the symmetric positive definite system `a x = b` (Cholesky), `a` row-major `dim`×`dim`. */
function solveSpd(a: Float64Array, b: Float64Array, dim: number): Float64Array {
  const l = new Float64Array(dim * dim);
  for (let i = 0; i < dim; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = a[i * dim + j]!;
      for (let k = 0; k < j; k++) sum -= l[i * dim + k]! * l[j * dim + k]!;
      if (i === j) l[i * dim + i] = Math.sqrt(Math.max(sum, 1e-12));
      else l[i * dim + j] = sum / l[j * dim + j]!;
    }
  }
  const y = new Float64Array(dim);
  for (let i = 0; i < dim; i++) {
    let sum = b[i]!;
    for (let k = 0; k < i; k++) sum -= l[i * dim + k]! * y[k]!;
    y[i] = sum / l[i * dim + i]!;
  }
  const x = new Float64Array(dim);
  for (let i = dim - 1; i >= 0; i--) {
    let sum = y[i]!;
    for (let k = i + 1; k < dim; k++) sum -= l[k * dim + i]! * x[k]!;
    x[i] = sum / l[i * dim + i]!;
  }
  return x;
}

/**
 * Fits an L2-regularised logistic regression by Newton's method with step halving.
 * `x` is row-major `n`×`d` (no intercept column); returns `[intercept, ...weights]`.
 */
function fitLogistic(
  x: Float64Array,
  y: Uint8Array,
  wt: Float64Array,
  n: number,
  d: number,
  l2: number,
  maxIterations: number,
  initialBias: number,
): Float64Array {
  const dim = d + 1;
  const beta = new Float64Array(dim);
  beta[0] = initialBias;
  const eta = new Float64Array(n);
  const objective = (b: Float64Array): number => {
    let ll = 0;
    for (let i = 0; i < n; i++) {
      let e = b[0]!;
      const row = i * d;
      for (let j = 0; j < d; j++) e += b[j + 1]! * x[row + j]!;
      ll += wt[i]! * ((y[i] === 1 ? e : 0) - softplus(e));
    }
    let penalty = 0;
    for (let j = 1; j < dim; j++) penalty += b[j]! * b[j]!;
    return ll - (l2 / 2) * penalty;
  };
  let current = objective(beta);
  for (let iter = 0; iter < maxIterations; iter++) {
    const grad = new Float64Array(dim);
    const hess = new Float64Array(dim * dim);
    for (let i = 0; i < n; i++) {
      let e = beta[0]!;
      const row = i * d;
      for (let j = 0; j < d; j++) e += beta[j + 1]! * x[row + j]!;
      eta[i] = e;
      const p = sigmoid(e);
      const w = wt[i]!;
      const r = w * ((y[i] === 1 ? 1 : 0) - p);
      const s = w * p * (1 - p);
      grad[0] = grad[0]! + r;
      hess[0] = hess[0]! + s;
      for (let j = 0; j < d; j++) {
        const xj = x[row + j]!;
        grad[j + 1] = grad[j + 1]! + r * xj;
        const sx = s * xj;
        hess[j + 1] = hess[j + 1]! + sx;
        const base = (j + 1) * dim;
        for (let k = 0; k <= j; k++) hess[base + k + 1] = hess[base + k + 1]! + sx * x[row + k]!;
      }
    }
    for (let j = 1; j < dim; j++) {
      grad[j] = grad[j]! - l2 * beta[j]!;
      hess[j * dim + j] = hess[j * dim + j]! + l2;
      hess[j * dim] = hess[j]!;
    }
    hess[0] = hess[0]! + 1e-9;
    const step = solveSpd(hess, grad, dim);
    let scale = 1;
    let next = beta;
    let value = current;
    while (scale > 1e-4) {
      const candidate = new Float64Array(dim);
      for (let j = 0; j < dim; j++) candidate[j] = beta[j]! + scale * step[j]!;
      value = objective(candidate);
      if (value >= current - 1e-12) {
        next = candidate;
        break;
      }
      scale /= 2;
    }
    if (next === beta) break;
    let change = 0;
    for (let j = 0; j < dim; j++) change = Math.max(change, Math.abs(next[j]! - beta[j]!));
    beta.set(next);
    current = value;
    if (change < 1e-7) break;
  }
  return beta;
}

/**
 * Fits a model to labelled past decisions (label 1 = revoke). Deterministic for the same rows in
 * the same order and the same options. Fits even with no rows (it then predicts the prior).
 */
export function fitModel(input: readonly TrainingRow[], options: FitOptions = {}): Model {
  // Whether each row's attributes are the ones usual for its entitlement (see usual.ts).
  const usualFit = (options.usual ?? true) ? fitUsual(input) : null;
  const rows = usualFit
    ? input.map((r, i) => ({ ...r, features: { ...r.features, ...usualFit.perRow[i] } }))
    : input;
  const m = options.smoothing ?? defaultThresholds.encodingSmoothing;
  const l2 = options.l2 ?? defaultThresholds.modelL2;
  const maxIterations = options.maxIterations ?? defaultThresholds.modelMaxIterations;
  const seed = options.seed ?? 1;
  const n = rows.length;

  const seen = new Set<string>();
  let positives = 0;
  let unweightedPositives = 0;
  let total = 0;
  const wt = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const r = rows[i]!;
    const w = r.weight !== undefined && Number.isFinite(r.weight) && r.weight > 0 ? r.weight : 1;
    wt[i] = w;
    total += w;
    if (r.label === 1) {
      positives += w;
      unweightedPositives++;
    }
    for (const k of Object.keys(r.features)) seen.add(k);
  }
  const prior = smoothedPrior(positives, total);

  const singles = [...new Set(options.features ?? [...seen].sort())];
  const specs: Array<{ name: string; parts: string[] }> = singles.map((f) => ({ name: f, parts: [f] }));
  const names = new Set(singles);
  for (const parts of options.pairs ?? chooseCombinations(rows, m)) {
    const name = parts.join(PAIR_SEPARATOR);
    if (new Set(parts).size !== parts.length || names.has(name) || !parts.every((p) => seen.has(p))) continue;
    names.add(name);
    specs.push({ name, parts: [...parts] });
  }
  const d = specs.length;

  // Out-of-fold assignment for the training encodings.
  const k = Math.max(
    2,
    Math.min(Math.floor(options.folds ?? defaultThresholds.encodingFolds), 255, Math.max(n, 2)),
  );
  const fold = new Uint8Array(n);
  const order = seededShuffle(
    Array.from({ length: n }, (_, i) => i),
    seed,
  );
  order.forEach((row, pos) => {
    fold[row] = pos % k;
  });
  const foldN = new Float64Array(k);
  const foldPos = new Float64Array(k);
  const y = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = rows[i]!.label === 1 ? 1 : 0;
    foldN[fold[i]!] = foldN[fold[i]!]! + wt[i]!;
    foldPos[fold[i]!] = foldPos[fold[i]!]! + wt[i]! * y[i]!;
  }
  const foldPrior = Array.from({ length: k }, (_, f) =>
    smoothedPrior(positives - foldPos[f]!, total - foldN[f]!),
  );

  const x = new Float64Array(n * d);
  // Below a few thousand decisions the trees add little over the regression and cost most of the fit.
  const useTrees = options.trees ?? n >= TREE_MIN_ROWS;
  const shares = shareEncoders(
    specs.map((sp) => ({ name: sp.name, parts: sp.parts, weight: 0, categories: new Map() })),
  );
  const tw = 2 * d + 1 + shares.length;
  const tx = useTrees ? new Float64Array(n * tw) : null;
  // Each row's count of other training rows with its value of each encoder (for the peer shares).
  const others = useTrees && shares.length > 0 ? new Float64Array(n * d) : null;
  const encoders: ModelEncoder[] = [];
  const codes = new Int32Array(n);
  const useOnehot = (options.onehot ?? n >= ONEHOT_MIN_ROWS) && n > 0;
  // Per single feature, and per pair with the entitlement, each row's category code, for the
  // one-hot regression.
  const singleCodes: Array<{ j: number; codes: Int32Array; cats: number; l2: number }> = [];
  specs.forEach((spec, j) => {
    const index = new Map<string, number>();
    const keys: string[] = [];
    // Category codes in order of first appearance. The value key is built only for raw values
    // (or value pairs) not seen before: rows repeat the same strings.
    const codeOf = (features: Record<string, string | null>): number => {
      const key = valueKey(features, spec.parts);
      let c = index.get(key);
      if (c === undefined) {
        c = keys.length;
        index.set(key, c);
        keys.push(key);
      }
      return c;
    };
    const [p0, p1] = spec.parts;
    if (spec.parts.length === 1) {
      const seen = new Map<string | null, number>();
      for (let i = 0; i < n; i++) {
        const f = rows[i]!.features;
        const v = f[p0!] ?? null;
        let c = seen.get(v);
        if (c === undefined) {
          c = codeOf(f);
          seen.set(v, c);
        }
        codes[i] = c;
      }
    } else if (spec.parts.length === 2) {
      const seen = new Map<string | null, Map<string | null, number>>();
      for (let i = 0; i < n; i++) {
        const f = rows[i]!.features;
        const a = f[p0!] ?? null;
        const b = f[p1!] ?? null;
        let inner = seen.get(a);
        if (inner === undefined) {
          inner = new Map();
          seen.set(a, inner);
        }
        let c = inner.get(b);
        if (c === undefined) {
          c = codeOf(f);
          inner.set(b, c);
        }
        codes[i] = c;
      }
    } else {
      for (let i = 0; i < n; i++) codes[i] = codeOf(rows[i]!.features);
    }
    const cats = keys.length;
    if (
      useOnehot &&
      (spec.parts.length === 1 || (spec.parts.length === 2 && spec.parts.includes('entitlement')))
    )
      singleCodes.push({
        j,
        codes: Int32Array.from(codes),
        cats,
        l2: spec.parts.length === 1 ? ONEHOT_L2 : ONEHOT_L2 * ONEHOT_PAIR_L2,
      });
    const totalN = new Float64Array(cats);
    const totalRows = new Float64Array(cats);
    const totalPos = new Float64Array(cats);
    const inFoldN = new Float64Array(cats * k);
    const inFoldPos = new Float64Array(cats * k);
    for (let i = 0; i < n; i++) {
      const c = codes[i]!;
      const cell = c * k + fold[i]!;
      const w = wt[i]!;
      totalN[c] = totalN[c]! + w;
      totalRows[c] = totalRows[c]! + 1;
      totalPos[c] = totalPos[c]! + w * y[i]!;
      inFoldN[cell] = inFoldN[cell]! + w;
      inFoldPos[cell] = inFoldPos[cell]! + w * y[i]!;
    }
    // The out-of-fold encoding depends on the (category, fold) cell only: computed once per cell.
    const cellValue = new Float64Array(cats * k);
    const cellDone = new Uint8Array(cats * k);
    for (let i = 0; i < n; i++) {
      const c = codes[i]!;
      const f = fold[i]!;
      const cell = c * k + f;
      if (cellDone[cell] === 0) {
        const stat = { n: totalN[c]! - inFoldN[cell]!, revokes: totalPos[c]! - inFoldPos[cell]! };
        cellValue[cell] = encodedLogOdds(stat, foldPrior[f]!, m);
        cellDone[cell] = 1;
      }
      x[i * d + j] = cellValue[cell]!;
      if (tx) {
        tx[i * tw + 2 * j] = cellValue[cell]!;
        tx[i * tw + 2 * j + 1] = Math.log1p(Math.max(0, totalRows[c]! - 1));
      }
      if (others) others[i * d + j] = Math.max(0, totalRows[c]! - 1);
    }
    const categories = new Map<string, CategoryStat>();
    keys.forEach((key, c) => {
      categories.set(
        key,
        totalRows[c] === totalN[c]
          ? { n: totalN[c]!, revokes: totalPos[c]! }
          : { n: totalN[c]!, revokes: totalPos[c]!, rows: totalRows[c]! },
      );
    });
    encoders.push({ name: spec.name, parts: spec.parts, weight: 0, categories });
  });

  const beta = n > 0 ? fitLogistic(x, y, wt, n, d, l2, maxIterations, logit(prior)) : new Float64Array(d + 1);
  if (n === 0) beta[0] = logit(prior);
  encoders.forEach((e, j) => {
    e.weight = beta[j + 1]!;
  });
  // Each row's features are encoded from the other folds, so its score is an out-of-fold score:
  // the calibration fitted on them says how often such a score was a revoke.
  let trees: TreeEnsemble | null = null;
  const learnable = unweightedPositives > 0 && unweightedPositives < n;
  // The one-hot regression: fitted on all folds but one to score that fold (for the calibration
  // and as a tree feature), and on
  // every row for the model that is kept. Override weights count here as in the encodings.
  let onehot: { bias: number } | null = null;
  const onehotScore = new Float64Array(n);
  if (useOnehot && learnable && singleCodes.length > 0) {
    const width = singleCodes.length;
    const offsets: number[] = [];
    let columns = 0;
    for (const sc of singleCodes) {
      offsets.push(columns);
      columns += sc.cats;
    }
    const design = (idx: ArrayLike<number>): SparseDesign => {
      const cols = new Int32Array(idx.length * width);
      for (let r = 0; r < idx.length; r++)
        for (let g = 0; g < width; g++) cols[r * width + g] = offsets[g]! + singleCodes[g]!.codes[idx[r]!]!;
      return { n: idx.length, width, cols, columns };
    };
    const fitOn = (idx: Int32Array) => {
      const sy = new Uint8Array(idx.length);
      const sw = new Float64Array(idx.length);
      idx.forEach((i, r) => {
        sy[r] = y[i]!;
        sw[r] = wt[i]!;
      });
      return fitSparseLogistic(design(idx), sy, sw, { groupL2: singleCodes.map((sc) => sc.l2) });
    };
    const foldOf = new Uint8Array(n);
    order.forEach((row, pos) => {
      foldOf[row] = pos % ONEHOT_FOLDS;
    });
    for (let hpart = 0; hpart < ONEHOT_FOLDS; hpart++) {
      const train = Int32Array.from({ length: n }, (_, i) => i).filter((i) => foldOf[i] !== hpart);
      const m = fitOn(train);
      for (let i = 0; i < n; i++) {
        if (foldOf[i] !== hpart) continue;
        let e = m.bias;
        for (let g = 0; g < width; g++) {
          const sc = singleCodes[g]!;
          const c = sc.codes[i]!;
          // A value the half did not see has no weight (as a value unseen in training).
          e += m.weights[offsets[g]! + c]!;
        }
        onehotScore[i] = e;
      }
    }
    const all = fitOn(Int32Array.from({ length: n }, (_, i) => i));
    onehot = { bias: all.bias };
    singleCodes.forEach((sc, g) => {
      const e = encoders[sc.j]!;
      let c = 0;
      for (const stat of e.categories.values()) stat.lr = all.weights[offsets[g]! + c++]!;
    });
  }
  // The trees are two half-fits, each scoring the half it did not see (those out-of-fold scores
  // feed the calibration); the model keeps their average. The trees learn from the rows as they
  // are; override weights reach them through the encodings.
  const treeScore = new Float64Array(n);
  if (tx && learnable) {
    const half = new Uint8Array(n);
    order.forEach((row, pos) => {
      half[row] = pos % 2;
    });
    const f2 = tw;
    // The one-hot regression's out-of-fold score is the last tree feature.
    if (onehot) for (let i = 0; i < n; i++) tx[i * tw + 2 * d] = onehotScore[i]!;
    // The peer shares among the other training rows (the row's own left out, as for a new item).
    if (others)
      for (let i = 0; i < n; i++)
        shares.forEach(([j, a], q) => {
          tx[i * tw + 2 * d + 1 + q] = share(others[i * d + j]!, others[i * d + a]!);
        });
    const rounds = n >= 20_000 ? undefined : Math.max(30, Math.round((80 * n) / 20_000));
    const parts: TreeEnsemble[] = [];
    for (let hpart = 0; hpart < 2; hpart++) {
      const train: number[] = [];
      for (let i = 0; i < n; i++) if (half[i] !== hpart) train.push(i);
      const sx = new Float64Array(train.length * f2);
      const sy = new Uint8Array(train.length);
      const sw = new Float64Array(train.length).fill(1);
      train.forEach((i, r) => {
        sx.set(tx.subarray(i * f2, (i + 1) * f2), r * f2);
        sy[r] = y[i]!;
      });
      // (An explicit `rounds: undefined` would override the default and fit no trees at all.)
      const part = fitTrees(sx, sy, sw, train.length, f2, {
        seed: seed + 31 + hpart,
        ...(rounds === undefined ? {} : { rounds }),
      });
      for (let i = 0; i < n; i++) if (half[i] === hpart) treeScore[i] = treeLogOdds(part, tx, i * f2);
      parts.push(part);
    }
    trees = averageEnsembles(parts);
  }
  let calibrator: Calibrator | null = null;
  if ((options.calibrate ?? true) && learnable) {
    const scores = new Array<number>(n);
    const labels = new Array<0 | 1>(n);
    for (let i = 0; i < n; i++) {
      let e = beta[0]!;
      for (let j = 0; j < d; j++) e += beta[j + 1]! * x[i * d + j]!;
      if (trees) e = (1 - TREE_BLEND) * e + TREE_BLEND * treeScore[i]!;
      if (onehot) e = (1 - ONEHOT_BLEND) * e + ONEHOT_BLEND * onehotScore[i]!;
      scores[i] = sigmoid(e);
      labels[i] = y[i] === 1 ? 1 : 0;
    }
    calibrator = calibrate(scores, labels, wt);
  }
  return {
    version: 1,
    n,
    positives: unweightedPositives,
    prior,
    smoothing: m,
    bias: beta[0]!,
    encoders,
    calibrator,
    trees,
    onehot,
    usual: usualFit?.table ?? null,
  };
}

/** One ensemble whose log-odds are the average of the given ensembles' log-odds. */
function averageEnsembles(parts: readonly TreeEnsemble[]): TreeEnsemble {
  const k = parts.length;
  return {
    base: parts.reduce((sum, p) => sum + p.base, 0) / k,
    trees: parts.flatMap((p) => p.trees.map((t) => ({ ...t, value: t.value.map((v) => v / k) }))),
  };
}

function logOdds(model: Model, raw: Record<string, string | null>): number {
  const features = withUsual(model, raw);
  let eta = model.bias;
  const stats: Array<CategoryStat | undefined> = [];
  for (const e of model.encoders) {
    const stat = e.categories.get(valueKey(features, e.parts));
    stats.push(stat);
    if (e.weight === 0) continue;
    eta += e.weight * encodedLogOdds(stat, model.prior, model.smoothing);
  }
  return blendedLogOdds(model, eta, stats);
}

/** The model's calibrated probability for a raw (regression) probability. */
export function calibrated(model: Model, raw: number): number {
  return model.calibrator ? applyCalibrator(model.calibrator, raw) : raw;
}

/** Probability that a decision on an item with these features is revoke (calibrated). O(features). */
export function predict(model: Model, features: Record<string, string | null>): number {
  return calibrated(model, sigmoid(logOdds(model, features)));
}

/**
 * The `k` features that moved this item's score the most (largest |weight × encoded log-odds|),
 * largest first. Values never seen in training move nothing and are not listed.
 */
export function explainTopFactors(model: Model, raw: Record<string, string | null>, k = 3): Factor[] {
  const features = withUsual(model, raw);
  const out: Factor[] = [];
  for (const e of model.encoders) {
    const stat = e.categories.get(valueKey(features, e.parts));
    if (!stat) continue;
    const contribution = contributionOf(
      model,
      e.weight * encodedLogOdds(stat, model.prior, model.smoothing),
      stat,
    );
    if (contribution === 0 || !Number.isFinite(contribution)) continue;
    out.push({
      feature: e.name,
      values: e.parts.map((p) => features[p] ?? null),
      contribution,
      direction: contribution > 0 ? 'revoke' : 'approve',
      revoke_rate: (stat.revokes + model.smoothing * model.prior) / (stat.n + model.smoothing),
      seen: stat.n,
    });
  }
  return sortFactors(out, k);
}

/** One encoder's value for one item: its training counts and weighted log-odds. */
export interface EncodedTerm {
  stat: CategoryStat | undefined;
  /** `weight × encoded log-odds`, exactly as {@link predict} adds it. */
  term: number;
  /** The value's share of the blended log-odds, as its factor states it. */
  contribution: number;
}

/** One item scored by a {@link ModelScorer}. */
export interface ScoredItem {
  /** Same value as {@link predict}. */
  probability: number;
  /** Same value as {@link explainTopFactors} on the same features. */
  topFactors(k?: number): Factor[];
}

/**
 * Scores many items with one model: each encoder's value key is looked up once per item and
 * shared between the probability and the factors, and each encoder remembers the weighted
 * log-odds of every value it has seen, so the logarithms are computed once per value instead of
 * once per item. Results are bit-identical to {@link predict} and {@link explainTopFactors}
 * (the same terms are added in the same order).
 */
export class ModelScorer {
  /**
   * Per encoder, the terms seen so far, keyed by the raw feature values (null for a missing
   * value, as {@link valueKey} does): a Map for one part, nested Maps for two, the value key for
   * more. Raw values are the same strings item after item, so no key is built per item.
   */
  private readonly caches: Array<Map<string | null, unknown>>;

  constructor(readonly model: Model) {
    this.caches = model.encoders.map(() => new Map<string | null, unknown>());
  }

  private compute(j: number, features: Record<string, string | null>): EncodedTerm {
    const { model } = this;
    const e = model.encoders[j]!;
    const stat = e.categories.get(valueKey(features, e.parts));
    const term = e.weight * encodedLogOdds(stat, model.prior, model.smoothing);
    return { stat, term, contribution: contributionOf(model, term, stat) };
  }

  /**
   * The terms of the encoders whose features all satisfy `fixed`, for `features`: to pass to
   * {@link score} for items whose values of those features are the same (one user's items).
   */
  fixedTerms(
    features: Record<string, string | null>,
    fixed: (feature: string) => boolean,
  ): Array<EncodedTerm | undefined> {
    const encoders = this.model.encoders;
    const all = this.termsOf(features);
    return all.map((t, j) => (encoders[j]!.parts.every(fixed) ? t : undefined));
  }

  private termsOf(
    features: Record<string, string | null>,
    fixed?: ReadonlyArray<EncodedTerm | undefined>,
  ): EncodedTerm[] {
    const encoders = this.model.encoders;
    const out: EncodedTerm[] = new Array(encoders.length);
    for (let j = 0; j < encoders.length; j++) {
      const known = fixed?.[j];
      if (known !== undefined) {
        out[j] = known;
        continue;
      }
      const parts = encoders[j]!.parts;
      const cache = this.caches[j]!;
      let t: EncodedTerm | undefined;
      if (parts.length === 1) {
        const v = features[parts[0]!] ?? null;
        t = cache.get(v) as EncodedTerm | undefined;
        if (t === undefined) {
          t = this.compute(j, features);
          cache.set(v, t);
        }
      } else if (parts.length === 2) {
        const a = features[parts[0]!] ?? null;
        const b = features[parts[1]!] ?? null;
        let inner = cache.get(a) as Map<string | null, EncodedTerm> | undefined;
        if (inner === undefined) {
          inner = new Map();
          cache.set(a, inner);
        }
        t = inner.get(b);
        if (t === undefined) {
          t = this.compute(j, features);
          inner.set(b, t);
        }
      } else {
        const key = valueKey(features, parts);
        t = cache.get(key) as EncodedTerm | undefined;
        if (t === undefined) {
          t = this.compute(j, features);
          cache.set(key, t);
        }
      }
      out[j] = t;
    }
    return out;
  }

  /**
   * Scores one item. `fixed` ({@link fixedTerms}) supplies the terms of encoders whose features
   * are known to have the same values as when it was made.
   */
  score(raw: Record<string, string | null>, fixed?: ReadonlyArray<EncodedTerm | undefined>): ScoredItem {
    const { model } = this;
    const features = withUsual(model, raw);
    const terms = this.termsOf(features, fixed);
    let eta = model.bias;
    for (let j = 0; j < terms.length; j++) {
      if (model.encoders[j]!.weight === 0) continue;
      eta += terms[j]!.term;
    }
    if (model.trees)
      eta = blendedLogOdds(
        model,
        eta,
        terms.map((t) => t.stat),
      );
    return {
      probability: calibrated(model, sigmoid(eta)),
      topFactors: (k = 3) => {
        // The k largest by the order sortFactors sorts in (a total order: names are unique),
        // kept by insertion, so only those k become Factors.
        const limit = Math.max(0, Math.floor(k));
        const top: number[] = [];
        for (let j = 0; j < terms.length; j++) {
          const { stat, contribution } = terms[j]!;
          if (!stat) continue;
          if (contribution === 0 || !Number.isFinite(contribution)) continue;
          let at = top.length;
          while (at > 0 && factorBefore(model, terms, j, top[at - 1]!)) at--;
          if (at >= limit) continue;
          top.splice(at, 0, j);
          if (top.length > limit) top.pop();
        }
        return top.map((j) => {
          const e = model.encoders[j]!;
          const { stat, contribution } = terms[j]!;
          return {
            feature: e.name,
            values: e.parts.map((p) => features[p] ?? null),
            contribution,
            direction: contribution > 0 ? 'revoke' : 'approve',
            revoke_rate: (stat!.revokes + model.smoothing * model.prior) / (stat!.n + model.smoothing),
            seen: stat!.n,
          };
        });
      },
    };
  }
}

/** Whether encoder `a`'s factor comes before encoder `b`'s in {@link sortFactors}' order. */
function factorBefore(model: Model, terms: readonly EncodedTerm[], a: number, b: number): boolean {
  const d = Math.abs(terms[a]!.contribution) - Math.abs(terms[b]!.contribution);
  if (d !== 0) return d > 0;
  const na = model.encoders[a]!.name;
  const nb = model.encoders[b]!.name;
  return na < nb;
}

function sortFactors(out: Factor[], k: number): Factor[] {
  out.sort(
    (a, b) =>
      Math.abs(b.contribution) - Math.abs(a.contribution) ||
      (a.feature < b.feature ? -1 : a.feature > b.feature ? 1 : 0),
  );
  return out.slice(0, Math.max(0, Math.floor(k)));
}

/**
 * Fits an isotonic (pool-adjacent-violators) calibration of `scores` against binary `labels`:
 * the result maps a raw score to the observed rate of label 1 among similar scores, monotonically.
 */
export function calibrate(
  scores: readonly number[],
  labels: readonly (0 | 1)[],
  /** Row weights (default 1 each). */
  weights?: ArrayLike<number>,
): Calibrator {
  const n = Math.min(scores.length, labels.length);
  const order = Array.from({ length: n }, (_, i) => i)
    .filter((i) => Number.isFinite(scores[i]!))
    .sort((a, b) => scores[a]! - scores[b]!);
  // Blocks: [weight, sum of scores, sum of labels]; equal scores start in one block.
  const w: number[] = [];
  const sx: number[] = [];
  const sy: number[] = [];
  let lastScore = Number.NaN;
  for (const i of order) {
    const s = scores[i]!;
    const wi = weights ? weights[i]! : 1;
    const l = labels[i] === 1 ? wi : 0;
    const last = w.length - 1;
    if (last >= 0 && lastScore === s) {
      w[last] = w[last]! + wi;
      sx[last] = sx[last]! + s * wi;
      sy[last] = sy[last]! + l;
    } else {
      w.push(wi);
      sx.push(s * wi);
      sy.push(l);
    }
    lastScore = s;
    while (w.length >= 2) {
      const b = w.length - 1;
      const a = b - 1;
      if (sy[a]! / w[a]! <= sy[b]! / w[b]!) break;
      w[a] = w[a]! + w[b]!;
      sx[a] = sx[a]! + sx[b]!;
      sy[a] = sy[a]! + sy[b]!;
      w.pop();
      sx.pop();
      sy.pop();
    }
  }
  return { kind: 'isotonic', x: w.map((wi, i) => sx[i]! / wi), y: w.map((wi, i) => sy[i]! / wi) };
}

/**
 * The calibrated value of a raw score: linear between neighbouring blocks, flat beyond the ends.
 * A calibrator fitted on nothing returns the score unchanged.
 */
export function applyCalibrator(calibrator: Calibrator, score: number): number {
  const { x, y } = calibrator;
  if (x.length === 0) return score;
  if (score <= x[0]!) return y[0]!;
  const last = x.length - 1;
  if (score >= x[last]!) return y[last]!;
  let lo = 0;
  let hi = last;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (x[mid]! <= score) lo = mid;
    else hi = mid;
  }
  const x0 = x[lo]!;
  const x1 = x[hi]!;
  const t = x1 === x0 ? 0 : (score - x0) / (x1 - x0);
  return y[lo]! + t * (y[hi]! - y[lo]!);
}

/** Checks and returns a calibrator read from JSON; throws on anything malformed. */
export function calibratorFromJSON(value: unknown): Calibrator {
  const v = value as Partial<Calibrator> | null;
  const ok =
    v !== null &&
    typeof v === 'object' &&
    v.kind === 'isotonic' &&
    isNumberArray(v.x) &&
    isNumberArray(v.y) &&
    v.x.length === v.y.length &&
    v.x.every((xi, i) => i === 0 || xi >= v.x![i - 1]!);
  if (!ok) throw new Error('invalid calibrator');
  return { kind: 'isotonic', x: [...v.x!], y: [...v.y!] };
}

function isNumberArray(v: unknown): v is number[] {
  return Array.isArray(v) && v.every((e) => typeof e === 'number' && Number.isFinite(e));
}

interface SerializedModel {
  format: 'attest-model';
  version: 1;
  n: number;
  positives: number;
  prior: number;
  smoothing: number;
  bias: number;
  encoders: Array<{
    name: string;
    parts: string[];
    weight: number;
    categories: Array<
      [string, number, number] | [string, number, number, number] | [string, number, number, number, number]
    >;
  }>;
  calibrator?: Calibrator | null;
  trees?: TreeEnsemble | null;
  onehot?: { bias: number } | null;
  usual?: { features: string[]; entries: Array<[string, UsualEntry[]]> } | null;
}

/** The model as a JSON string (categories sorted, so equal models serialise identically). */
export function serializeModel(model: Model): string {
  const out: SerializedModel = {
    format: 'attest-model',
    version: 1,
    n: model.n,
    positives: model.positives,
    prior: model.prior,
    smoothing: model.smoothing,
    bias: model.bias,
    encoders: model.encoders.map((e) => ({
      name: e.name,
      parts: [...e.parts],
      weight: e.weight,
      categories: [...e.categories.entries()]
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
        .map(
          ([key, s]):
            | [string, number, number]
            | [string, number, number, number]
            | [string, number, number, number, number] =>
            s.lr !== undefined
              ? [key, s.n, s.revokes, s.rows ?? s.n, s.lr]
              : s.rows === undefined
                ? [key, s.n, s.revokes]
                : [key, s.n, s.revokes, s.rows],
        ),
    })),
    calibrator: model.calibrator ?? null,
    trees: model.trees ?? null,
    onehot: model.onehot ?? null,
    usual: model.usual
      ? {
          features: [...model.usual.features],
          entries: [...model.usual.byEntitlement.entries()].sort((a, b) =>
            a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
          ),
        }
      : null,
  };
  return JSON.stringify(out);
}

/** Reads a model written by {@link serializeModel}; throws on anything malformed. */
export function deserializeModel(json: string): Model {
  const fail = (why: string): never => {
    throw new Error(`invalid model: ${why}`);
  };
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch {
    return fail('not JSON');
  }
  const v = raw as Partial<SerializedModel> | null;
  if (v === null || typeof v !== 'object' || v.format !== 'attest-model') return fail('unknown format');
  if (v.version !== 1) return fail('unsupported version');
  const num = (x: unknown, name: string): number =>
    typeof x === 'number' && Number.isFinite(x) ? x : fail(`${name} is not a finite number`);
  const n = num(v.n, 'n');
  const positives = num(v.positives, 'positives');
  const prior = num(v.prior, 'prior');
  if (!(prior > 0 && prior < 1)) fail('prior is outside (0, 1)');
  const smoothing = num(v.smoothing, 'smoothing');
  if (smoothing < 0) fail('smoothing is negative');
  const bias = num(v.bias, 'bias');
  if (!Array.isArray(v.encoders)) return fail('encoders is not an array');
  const encoders: ModelEncoder[] = v.encoders.map((e, i) => {
    if (e === null || typeof e !== 'object') return fail(`encoder ${i} is not an object`);
    if (typeof e.name !== 'string') return fail(`encoder ${i} has no name`);
    if (!Array.isArray(e.parts) || e.parts.length === 0 || !e.parts.every((p) => typeof p === 'string')) {
      return fail(`encoder ${i} has bad parts`);
    }
    const weight = num(e.weight, `encoder ${i} weight`);
    if (!Array.isArray(e.categories)) return fail(`encoder ${i} has no categories`);
    const categories = new Map<string, CategoryStat>();
    for (const c of e.categories) {
      if (!Array.isArray(c) || c.length < 3 || c.length > 5 || typeof c[0] !== 'string') {
        return fail(`encoder ${i} has a bad category`);
      }
      const cn = num(c[1], `encoder ${i} category count`);
      const cr = num(c[2], `encoder ${i} category revokes`);
      if (cn < 0 || cr < 0 || cr > cn) fail(`encoder ${i} has inconsistent counts`);
      const stat: CategoryStat = { n: cn, revokes: cr };
      if (c.length >= 4) {
        const rows = num(c[3], `encoder ${i} rows`);
        if (c.length === 4 || rows !== cn) stat.rows = rows;
      }
      if (c.length === 5) stat.lr = num(c[4], `encoder ${i} one-hot weight`);
      categories.set(c[0], stat);
    }
    return { name: e.name, parts: [...e.parts], weight, categories };
  });
  const calibrator =
    v.calibrator === undefined || v.calibrator === null
      ? null
      : (() => {
          try {
            return calibratorFromJSON(v.calibrator);
          } catch {
            return fail('calibrator is malformed');
          }
        })();
  const trees =
    v.trees === undefined || v.trees === null ? null : treesFromJSON(v.trees, treeWidth(encoders), fail);
  const onehot =
    v.onehot === undefined || v.onehot === null
      ? null
      : { bias: num((v.onehot as { bias?: unknown }).bias, 'one-hot bias') };
  let usual: UsualTable | null = null;
  if (v.usual !== undefined && v.usual !== null) {
    const u = v.usual;
    const k =
      Array.isArray(u.features) && u.features.every((f) => typeof f === 'string') ? u.features.length : -1;
    if (k < 0 || !Array.isArray(u.entries)) return fail('usual values are malformed');
    const byEntitlement = new Map<string, UsualEntry[]>();
    for (const e of u.entries) {
      const ok =
        Array.isArray(e) &&
        typeof e[0] === 'string' &&
        Array.isArray(e[1]) &&
        e[1].length === k &&
        e[1].every(
          (x) =>
            Array.isArray(x) &&
            x.length === 4 &&
            (x[0] === null || typeof x[0] === 'string') &&
            x.slice(1).every((c) => typeof c === 'number' && Number.isFinite(c)),
        );
      if (!ok) return fail('usual values are malformed');
      byEntitlement.set(e[0], e[1]);
    }
    usual = { features: [...u.features], byEntitlement };
  }
  return { version: 1, n, positives, prior, smoothing, bias, encoders, calibrator, trees, onehot, usual };
}

function treesFromJSON(value: unknown, features: number, fail: (why: string) => never): TreeEnsemble {
  const v = value as Partial<TreeEnsemble>;
  if (typeof v !== 'object' || typeof v.base !== 'number' || !Array.isArray(v.trees))
    return fail('trees are malformed');
  for (const t of v.trees) {
    const size = t?.feature?.length;
    const ok =
      typeof size === 'number' &&
      size > 0 &&
      (['threshold', 'left', 'right', 'value'] as const).every(
        (k) => Array.isArray(t[k]) && t[k].length === size && t[k].every((x) => typeof x === 'number'),
      ) &&
      t.feature.every(
        (f, k) =>
          f === -1 ||
          (Number.isInteger(f) &&
            f >= 0 &&
            f < features &&
            t.left[k]! > k &&
            t.right[k]! > k &&
            t.right[k]! < size),
      );
    if (!ok) return fail('a tree is malformed');
  }
  return { base: v.base, trees: v.trees };
}
