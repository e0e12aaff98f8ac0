/**
 * A small gradient-boosted tree ensemble (logistic loss) over numeric features, written for the
 * learned model: histogram splits on quantile bins, leaf-wise growth, row subsampling from a
 * seeded generator. Deterministic for the same inputs and options. No native code.
 */
import { createRng } from './stats.js';

/** One tree as flat arrays: internal nodes split `feature <= threshold`; leaves carry a value. */
export interface Tree {
  /** Feature index per node, -1 for a leaf. */
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  value: number[];
}

/** A fitted ensemble: `base + sum of tree values` is the log-odds. */
export interface TreeEnsemble {
  base: number;
  trees: Tree[];
}

export interface TreeOptions {
  rounds: number;
  learningRate: number;
  leaves: number;
  /** Share of rows each tree sees. */
  subsample: number;
  /** L2 penalty on leaf values. */
  lambda: number;
  /** Smallest hessian sum a leaf may have. */
  minHessian: number;
  bins: number;
  seed: number;
}

export const defaultTreeOptions: Readonly<TreeOptions> = Object.freeze({
  rounds: 80,
  learningRate: 0.12,
  leaves: 16,
  subsample: 0.6,
  lambda: 1,
  minHessian: 2,
  bins: 32,
  seed: 5,
});

/** The ensemble's log-odds for one row of `x` starting at `offset`. */
export function treeLogOdds(model: TreeEnsemble, x: ArrayLike<number>, offset = 0): number {
  let s = model.base;
  for (const t of model.trees) {
    let k = 0;
    while (t.feature[k]! >= 0) k = x[offset + t.feature[k]!]! <= t.threshold[k]! ? t.left[k]! : t.right[k]!;
    s += t.value[k]!;
  }
  return s;
}

/**
 * Fits the ensemble to rows of `x` (row-major, `n` × `f`), labels `y` and row weights `w`.
 * Returns the base alone when there is nothing to learn.
 */
export function fitTrees(
  x: Float64Array,
  y: Uint8Array,
  w: Float64Array,
  n: number,
  f: number,
  options: Partial<TreeOptions> = {},
): TreeEnsemble {
  const o = { ...defaultTreeOptions, ...options };
  let sw = 0;
  let sp = 0;
  for (let i = 0; i < n; i++) {
    sw += w[i]!;
    sp += w[i]! * y[i]!;
  }
  const base = Math.log((sp + 0.5) / (sw - sp + 0.5));
  if (n < 20 || f === 0 || sp === 0 || sp === sw) return { base, trees: [] };
  const B = Math.max(2, Math.min(255, o.bins));
  // Quantile bin edges per feature; bins stored feature-major for cache-friendly histograms.
  const edges: Float64Array[] = [];
  const bins = new Uint8Array(n * f);
  const column = new Float64Array(n);
  for (let j = 0; j < f; j++) {
    for (let i = 0; i < n; i++) column[i] = x[i * f + j]!;
    const sorted = Float64Array.from(column).sort();
    const e: number[] = [];
    for (let b = 1; b < B; b++) {
      const q = sorted[Math.floor((b * n) / B)]!;
      if (e.length === 0 || q > e[e.length - 1]!) e.push(q);
    }
    const ej = Float64Array.from(e);
    edges.push(ej);
    for (let i = 0; i < n; i++) {
      const v = column[i]!;
      let lo = 0;
      let hi = ej.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (v > ej[mid]!) lo = mid + 1;
        else hi = mid;
      }
      bins[i * f + j] = lo;
    }
  }
  const raw = new Float64Array(n).fill(base);
  const g = new Float64Array(n);
  const h = new Float64Array(n);
  const idx = new Int32Array(n);
  const rng = createRng(o.seed);
  const trees: Tree[] = [];
  const histSize = f * B * 2;
  const hist = (start: number, end: number): Float64Array => {
    const H = new Float64Array(histSize);
    for (let k = start; k < end; k++) {
      const i = idx[k]!;
      const gi = g[i]!;
      const hi = h[i]!;
      const row = i * f;
      for (let j = 0; j < f; j++) {
        const at = (j * B + bins[row + j]!) * 2;
        H[at] = H[at]! + gi;
        H[at + 1] = H[at + 1]! + hi;
      }
    }
    return H;
  };
  interface Leaf {
    node: number;
    start: number;
    end: number;
    H: Float64Array;
    G: number;
    Hs: number;
    gain: number;
    feature: number;
    bin: number;
  }
  const bestSplit = (leaf: Leaf): void => {
    const { H, G, Hs } = leaf;
    let bestGain = 0;
    let bf = -1;
    let bb = -1;
    const parent = (G * G) / (Hs + o.lambda);
    for (let j = 0; j < f; j++) {
      let gl = 0;
      let hl = 0;
      const top = edges[j]!.length;
      for (let b = 0; b < top; b++) {
        const at = (j * B + b) * 2;
        gl += H[at]!;
        hl += H[at + 1]!;
        const hr = Hs - hl;
        if (hl < o.minHessian || hr < o.minHessian) continue;
        const gr = G - gl;
        const gain = (gl * gl) / (hl + o.lambda) + (gr * gr) / (hr + o.lambda) - parent;
        if (gain > bestGain) {
          bestGain = gain;
          bf = j;
          bb = b;
        }
      }
    }
    leaf.gain = bestGain;
    leaf.feature = bf;
    leaf.bin = bb;
  };
  const makeLeaf = (node: number, start: number, end: number, H: Float64Array): Leaf => {
    let G = 0;
    let Hs = 0;
    for (let b = 0; b < B; b++) {
      G += H[b * 2]!;
      Hs += H[b * 2 + 1]!;
    }
    const leaf: Leaf = { node, start, end, H, G, Hs, gain: 0, feature: -1, bin: -1 };
    bestSplit(leaf);
    return leaf;
  };
  for (let round = 0; round < o.rounds; round++) {
    for (let i = 0; i < n; i++) {
      const p = 1 / (1 + Math.exp(-raw[i]!));
      g[i] = w[i]! * (p - y[i]!);
      h[i] = w[i]! * Math.max(p * (1 - p), 1e-6);
    }
    let m = 0;
    for (let i = 0; i < n; i++) if (rng() < o.subsample) idx[m++] = i;
    const tree: Tree = { feature: [-1], threshold: [0], left: [-1], right: [-1], value: [0] };
    const leaves: Leaf[] = [makeLeaf(0, 0, m, hist(0, m))];
    while (leaves.length < o.leaves) {
      let pick = -1;
      let best = 1e-9;
      leaves.forEach((l, i) => {
        if (l.feature >= 0 && l.gain > best) {
          best = l.gain;
          pick = i;
        }
      });
      if (pick < 0) break;
      const leaf = leaves[pick]!;
      const { feature: j, bin } = leaf;
      let a = leaf.start;
      let z = leaf.end - 1;
      while (a <= z) {
        if (bins[idx[a]! * f + j]! <= bin) a++;
        else {
          const tmp = idx[a]!;
          idx[a] = idx[z]!;
          idx[z] = tmp;
          z--;
        }
      }
      const mid = a;
      const leftSmaller = mid - leaf.start < leaf.end - mid;
      const small = leftSmaller ? hist(leaf.start, mid) : hist(mid, leaf.end);
      const big = new Float64Array(histSize);
      for (let k = 0; k < histSize; k++) big[k] = leaf.H[k]! - small[k]!;
      const l = tree.feature.length;
      const r = l + 1;
      for (let k = 0; k < 2; k++) {
        tree.feature.push(-1);
        tree.threshold.push(0);
        tree.left.push(-1);
        tree.right.push(-1);
        tree.value.push(0);
      }
      tree.feature[leaf.node] = j;
      tree.threshold[leaf.node] = edges[j]![bin]!;
      tree.left[leaf.node] = l;
      tree.right[leaf.node] = r;
      leaves.splice(
        pick,
        1,
        makeLeaf(l, leaf.start, mid, leftSmaller ? small : big),
        makeLeaf(r, mid, leaf.end, leftSmaller ? big : small),
      );
    }
    for (const leaf of leaves) tree.value[leaf.node] = (-o.learningRate * leaf.G) / (leaf.Hs + o.lambda);
    for (let i = 0; i < n; i++) {
      let k = 0;
      const row = i * f;
      while (tree.feature[k]! >= 0)
        k = x[row + tree.feature[k]!]! <= tree.threshold[k]! ? tree.left[k]! : tree.right[k]!;
      raw[i] = raw[i]! + tree.value[k]!;
    }
    trees.push(tree);
  }
  return { base, trees };
}
