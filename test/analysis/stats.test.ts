import { describe, expect, it } from 'vitest';
import {
  auc,
  clamp,
  confusion,
  createRng,
  logit,
  precision,
  recall,
  seededShuffle,
  sigmoid,
  wilsonLower,
  wilsonUpper,
} from '../../src/analysis/stats.js';

describe('wilsonLower / wilsonUpper', () => {
  it.each([
    { name: '2 of 2 does not read as 100%', x: 2, n: 2, lower: 0.342, upper: 1 },
    { name: '0 of 2 leaves a wide upper bound', x: 0, n: 2, lower: 0, upper: 0.658 },
    { name: '0 of 5 still allows 43%', x: 0, n: 5, lower: 0, upper: 0.4345 },
    { name: '33 of 40 is confidently a majority', x: 33, n: 40, lower: 0.6805, upper: 0.9125 },
    { name: '2 of 41 is a small share', x: 2, n: 41, lower: 0.013, upper: 0.161 },
    { name: 'no observations say nothing', x: 0, n: 0, lower: 0, upper: 1 },
    { name: 'more successes than trials are capped', x: 9, n: 3, lower: 0.4385, upper: 1 },
  ])('$name', ({ x, n, lower, upper }) => {
    expect(wilsonLower(x, n, 1.96)).toBeCloseTo(lower, 3);
    expect(wilsonUpper(x, n, 1.96)).toBeCloseTo(upper, 3);
  });

  it('narrows as the sample grows at the same share', () => {
    const widths = [4, 40, 400].map((n) => wilsonUpper(n / 2, n, 1.96) - wilsonLower(n / 2, n, 1.96));
    expect(widths[0]).toBeGreaterThan(widths[1]!);
    expect(widths[1]).toBeGreaterThan(widths[2]!);
  });
});

describe('auc', () => {
  it.each([
    { name: 'perfect ranking is 1', scores: [0.1, 0.2, 0.8, 0.9], labels: [0, 0, 1, 1], expected: 1 },
    { name: 'inverted ranking is 0', scores: [0.9, 0.8, 0.2, 0.1], labels: [0, 0, 1, 1], expected: 0 },
    {
      name: 'all scores tied is one half',
      scores: [0.5, 0.5, 0.5, 0.5],
      labels: [0, 1, 0, 1],
      expected: 0.5,
    },
    {
      name: 'a tie between classes counts one half',
      scores: [0.1, 0.5, 0.5, 0.9],
      labels: [0, 0, 1, 1],
      expected: 0.875,
    },
    {
      name: 'one misordered pair of four',
      scores: [0.1, 0.6, 0.5, 0.9],
      labels: [0, 0, 1, 1],
      expected: 0.75,
    },
  ] as const)('$name', ({ scores, labels, expected }) => {
    expect(auc(scores, labels)).toBeCloseTo(expected, 10);
  });

  it.each([
    { name: 'only positives', labels: [1, 1] as const },
    { name: 'only negatives', labels: [0, 0] as const },
    { name: 'nothing', labels: [] as const },
  ])('is undefined (null) with $name', ({ labels }) => {
    expect(
      auc(
        labels.map(() => 0.5),
        labels,
      ),
    ).toBeNull();
  });
});

describe('confusion, precision and recall', () => {
  it('tallies predictions against the truth', () => {
    const c = confusion([true, true, false, false, true], [true, false, true, false, true]);
    expect(c).toEqual({ tp: 2, fp: 1, fn: 1, tn: 1 });
    expect(precision(c)).toBeCloseTo(2 / 3);
    expect(recall(c)).toBeCloseTo(2 / 3);
  });

  it.each([
    { name: 'precision is null when nothing was predicted positive', value: precision({ tp: 0, fp: 0 }) },
    { name: 'recall is null when nothing was positive', value: recall({ tp: 0, fn: 0 }) },
  ])('$name', ({ value }) => {
    expect(value).toBeNull();
  });
});

describe('numeric helpers', () => {
  it('logit inverts sigmoid and stays finite at the edges', () => {
    for (const p of [0.01, 0.3, 0.5, 0.94]) expect(sigmoid(logit(p))).toBeCloseTo(p, 10);
    expect(Number.isFinite(logit(0))).toBe(true);
    expect(Number.isFinite(logit(1))).toBe(true);
    expect(sigmoid(-1000)).toBe(0);
    expect(sigmoid(1000)).toBe(1);
  });

  it('clamp keeps values in range', () => {
    expect([clamp(-1, 0, 1), clamp(0.4, 0, 1), clamp(3, 0, 1)]).toEqual([0, 0.4, 1]);
  });
});

describe('seeded randomness', () => {
  it('gives the same sequence for the same seed and another for another seed', () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const sa = Array.from({ length: 5 }, () => a());
    expect(Array.from({ length: 5 }, () => b())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c())).not.toEqual(sa);
    expect(sa.every((x) => x >= 0 && x < 1)).toBe(true);
  });

  it('shuffles into a permutation, deterministically, without touching the input', () => {
    const input = Array.from({ length: 50 }, (_, i) => i);
    const once = seededShuffle(input, 7);
    expect(seededShuffle(input, 7)).toEqual(once);
    expect(seededShuffle(input, 8)).not.toEqual(once);
    expect([...once].sort((x, y) => x - y)).toEqual(input);
    expect(once).not.toEqual(input);
    expect(input[0]).toBe(0);
  });
});
