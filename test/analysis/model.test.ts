import { describe, expect, it } from 'vitest';
import {
  applyCalibrator,
  calibrate,
  calibratorFromJSON,
  deserializeModel,
  explainTopFactors,
  fitModel,
  predict,
  serializeModel,
  type TrainingRow,
} from '../../src/analysis/model.js';
import { auc, createRng } from '../../src/analysis/stats.js';

/**
 * A small history: Sales users holding Payroll entitlements are revoked, so is anything
 * contractors hold on the ledger; everything else is approved, with a little noise.
 */
function history(n: number, seed: number): TrainingRow[] {
  const rng = createRng(seed);
  const depts = ['Sales', 'Finance', 'IT', 'HR'];
  const ents = ['payroll-admin', 'payroll-read', 'ledger', 'wiki', 'crm', 'vpn'];
  const rows: TrainingRow[] = [];
  for (let i = 0; i < n; i++) {
    const department = depts[Math.floor(rng() * depts.length)]!;
    const entitlement = ents[Math.floor(rng() * ents.length)]!;
    const employeeType = rng() < 0.2 ? 'contractor' : 'employee';
    const risky =
      (department === 'Sales' && entitlement.startsWith('payroll')) ||
      (employeeType === 'contractor' && entitlement === 'ledger');
    let label: 0 | 1 = risky ? (rng() < 0.85 ? 1 : 0) : rng() < 0.02 ? 1 : 0;
    if (rng() < 0.01) label = label === 1 ? 0 : 1;
    rows.push({
      features: {
        department,
        entitlement,
        employee_type: employeeType,
        app: entitlement.split('-')[0]!,
        manager: rng() < 0.1 ? null : `m-${Math.floor(rng() * 30)}`,
      },
      label,
    });
  }
  return rows;
}

describe('fitModel and predict', () => {
  const train = history(4000, 1);
  const test = history(2000, 2);
  const model = fitModel(train, { seed: 3 });

  it('learns the hidden rules well enough to rank unseen decisions', () => {
    const scores = test.map((r) => predict(model, r.features));
    expect(
      auc(
        scores,
        test.map((r) => r.label),
      )!,
    ).toBeGreaterThan(0.88);
  });

  it.each([
    {
      name: 'Sales holding payroll access is likely revoked',
      features: {
        department: 'Sales',
        entitlement: 'payroll-admin',
        employee_type: 'employee',
        app: 'payroll',
      },
      min: 0.5,
      max: 1,
    },
    {
      name: 'Finance holding payroll access is likely approved',
      features: {
        department: 'Finance',
        entitlement: 'payroll-admin',
        employee_type: 'employee',
        app: 'payroll',
      },
      min: 0,
      max: 0.15,
    },
    {
      name: 'a contractor on the ledger is likely revoked',
      features: { department: 'IT', entitlement: 'ledger', employee_type: 'contractor', app: 'ledger' },
      min: 0.5,
      max: 1,
    },
    {
      name: 'unseen values fall back towards the overall rate',
      features: { department: 'Legal', entitlement: 'new-app', employee_type: 'intern', app: 'new' },
      min: 0.03,
      max: 0.4,
    },
    {
      name: 'no features at all give the overall rate',
      features: {},
      min: 0.03,
      max: 0.4,
    },
    {
      name: 'nulls are a value like any other',
      features: { department: null, entitlement: null, employee_type: null, app: null, manager: null },
      min: 0,
      max: 0.5,
    },
  ] as Array<{ name: string; features: Record<string, string | null>; min: number; max: number }>)(
    '$name',
    ({ features, min, max }) => {
      const p = predict(model, features);
      expect(p).toBeGreaterThanOrEqual(min);
      expect(p).toBeLessThanOrEqual(max);
    },
  );

  it('encodes every feature, pairs of the telling ones and triples with the entitlement', () => {
    const names = model.encoders.map((e) => e.name);
    expect(names.slice(0, 5)).toEqual(['app', 'department', 'employee_type', 'entitlement', 'manager']);
    expect(names).toContain('entitlement×department');
    expect(names).toContain('entitlement×department×employee_type');
    expect(names.every((n) => n.split('×').length <= 3)).toBe(true);
    expect(model.calibrator?.kind).toBe('isotonic');
    expect(model.trees?.trees.length).toBeGreaterThan(0);
  });

  it('counts a weighted row more: an override moves the model on the same cases', () => {
    const base = history(3000, 5);
    const probe = { department: 'Finance', entitlement: 'crm', employee_type: 'employee', app: 'crm' };
    const before = predict(fitModel(base, { seed: 3 }), probe);
    const overrides = Array.from({ length: 40 }, () => ({ features: probe, label: 1 as const }));
    const light = predict(fitModel([...base, ...overrides], { seed: 3 }), probe);
    const heavy = predict(
      fitModel([...base, ...overrides.map((o) => ({ ...o, weight: 3 }))], { seed: 3 }),
      probe,
    );
    expect(light).toBeGreaterThan(before);
    expect(heavy).toBeGreaterThan(light);
  });

  it('takes a configurable pair list and feature list', () => {
    const m = fitModel(train.slice(0, 500), {
      features: ['entitlement'],
      pairs: [['entitlement', 'employee_type']],
    });
    expect(m.encoders.map((e) => e.name)).toEqual(['entitlement', 'entitlement×employee_type']);
  });

  it('is deterministic', () => {
    expect(serializeModel(fitModel(train, { seed: 3 }))).toBe(serializeModel(model));
  });

  it('does not leak a row label through a feature unique to that row', () => {
    const rng = createRng(9);
    const rows: TrainingRow[] = Array.from({ length: 2000 }, (_, i) => ({
      features: { decision_id: `d-${i}`, noise: String(Math.floor(rng() * 3)) },
      label: rng() < 0.1 ? 1 : 0,
    }));
    const m = fitModel(rows, { seed: 1 });
    const id = m.encoders.find((e) => e.name === 'decision_id')!;
    // In-sample encoding would make the id look perfectly predictive; out-of-fold it is useless.
    expect(Math.abs(id.weight)).toBeLessThan(0.1);
  });

  it('fits with no rows or one class and still predicts a probability', () => {
    const empty = fitModel([]);
    expect(predict(empty, { a: 'x' })).toBeCloseTo(0.5, 5);
    const approvals = fitModel([
      { features: { a: 'x' }, label: 0 },
      { features: { a: 'y' }, label: 0 },
    ]);
    const p = predict(approvals, { a: 'x' });
    expect(p).toBeGreaterThan(0);
    expect(p).toBeLessThan(0.5);
  });
});

describe('explainTopFactors', () => {
  const model = fitModel(history(4000, 1), { seed: 3 });

  it('lists the features that moved the score most, largest first', () => {
    const features = {
      department: 'Sales',
      entitlement: 'payroll-admin',
      employee_type: 'employee',
      app: 'payroll',
    };
    const factors = explainTopFactors(model, features, 2);
    expect(factors).toHaveLength(2);
    expect(Math.abs(factors[0]!.contribution)).toBeGreaterThanOrEqual(Math.abs(factors[1]!.contribution));
    expect(factors[0]!.direction).toBe('revoke');
    // The interaction that drives it comes first: Sales with payroll (as the entitlement or its app).
    const pair = factors[0]!;
    expect(['entitlement×department', 'department×app']).toContain(pair.feature);
    expect(pair.values).toContain('Sales');
    expect(pair.values.some((v) => v?.startsWith('payroll'))).toBe(true);
    expect(pair.seen).toBeGreaterThan(50);
    expect(pair.revoke_rate).toBeGreaterThan(0.5);
  });

  it('leaves out values never seen in training', () => {
    const unseen = {
      department: 'Nowhere',
      entitlement: 'nothing',
      employee_type: 'x',
      app: 'y',
      manager: 'z',
    };
    expect(explainTopFactors(model, unseen, 5)).toEqual([]);
  });

  it('treats a missing feature as null, which is a value seen in training', () => {
    expect(explainTopFactors(model, {}, 10).map((f) => f.feature)).toEqual(['manager']);
  });
});

describe('serializeModel / deserializeModel', () => {
  const model = fitModel(history(1000, 4), { seed: 5 });

  it('round-trips to identical predictions', () => {
    const copy = deserializeModel(serializeModel(model));
    for (const r of history(50, 6)) expect(predict(copy, r.features)).toBe(predict(model, r.features));
    expect(serializeModel(copy)).toBe(serializeModel(model));
  });

  it.each([
    { name: 'not JSON', json: '{nope' },
    { name: 'another format', json: '{"format":"other","version":1}' },
    { name: 'a future version', json: JSON.stringify({ ...JSON.parse(serializeModel(model)), version: 2 }) },
    { name: 'a prior of 1', json: JSON.stringify({ ...JSON.parse(serializeModel(model)), prior: 1 }) },
    {
      name: 'revokes above counts',
      json: JSON.stringify({
        ...JSON.parse(serializeModel(model)),
        encoders: [{ name: 'a', parts: ['a'], weight: 1, categories: [['+x', 1, 2]] }],
      }),
    },
    {
      name: 'an encoder without parts',
      json: JSON.stringify({
        ...JSON.parse(serializeModel(model)),
        encoders: [{ name: 'a', parts: [], weight: 1, categories: [] }],
      }),
    },
  ])('rejects $name', ({ json }) => {
    expect(() => deserializeModel(json)).toThrow(/invalid model/);
  });
});

describe('calibrate', () => {
  it('pools adjacent violators into a monotone map', () => {
    const c = calibrate([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1]);
    expect(c.x).toEqual([0.1, 0.25, 0.4]);
    expect(c.y).toEqual([0, 0.5, 1]);
  });

  it.each([
    { name: 'below the first block', score: 0, expected: 0 },
    { name: 'on a block', score: 0.25, expected: 0.5 },
    { name: 'between blocks', score: 0.325, expected: 0.75 },
    { name: 'above the last block', score: 0.9, expected: 1 },
  ])('maps a score $name', ({ score, expected }) => {
    const c = calibrate([0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1]);
    expect(applyCalibrator(c, score)).toBeCloseTo(expected, 10);
  });

  it('is monotone and tracks observed rates on noisy scores', () => {
    const rng = createRng(11);
    const scores: number[] = [];
    const labels: (0 | 1)[] = [];
    for (let i = 0; i < 5000; i++) {
      const s = rng();
      scores.push(s);
      labels.push(rng() < s * s ? 1 : 0);
    }
    const c = calibrate(scores, labels);
    for (let i = 1; i < c.y.length; i++) expect(c.y[i]!).toBeGreaterThanOrEqual(c.y[i - 1]!);
    expect(Math.abs(applyCalibrator(c, 0.5) - 0.25)).toBeLessThan(0.1);
    expect(Math.abs(applyCalibrator(c, 0.9) - 0.81)).toBeLessThan(0.1);
  });

  it('merges tied scores and leaves scores unchanged when fitted on nothing', () => {
    expect(calibrate([0.5, 0.5, 0.5], [1, 0, 1]).y).toEqual([2 / 3]);
    expect(applyCalibrator(calibrate([], []), 0.42)).toBe(0.42);
  });

  it('survives JSON', () => {
    const c = calibrate([0.1, 0.2, 0.3], [0, 1, 1]);
    expect(calibratorFromJSON(JSON.parse(JSON.stringify(c)))).toEqual(c);
    expect(() => calibratorFromJSON({ kind: 'isotonic', x: [0.2, 0.1], y: [0, 1] })).toThrow();
    expect(() => calibratorFromJSON(null)).toThrow();
  });
});
