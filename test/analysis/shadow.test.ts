import { describe, expect, it } from 'vitest';
import {
  crossValidate,
  formatShadowTable,
  recallAtPrecision,
  type ShadowReport,
  type ShadowRow,
} from '../../src/analysis/shadow.js';
import { createRng } from '../../src/analysis/stats.js';

/**
 * Synthetic review history: labels follow hidden rules (access outside the user's department,
 * contractors, dormant use, strict managers) plus noise, with about 94% approvals. The
 * per-entitlement baseline cannot see who holds the access; a model that can should beat it.
 */
function syntheticHistory(users: number, perUser: number, seed: number): ShadowRow[] {
  const rng = createRng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rng() * xs.length)]!;
  const gauss = (): number => {
    const u = Math.max(rng(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng());
  };
  const departments = Array.from({ length: 12 }, (_, i) => `dept-${i}`);
  const locations = Array.from({ length: 8 }, (_, i) => `loc-${i}`);
  const sensitivities = ['low', 'low', 'medium', 'medium', 'high', 'critical'] as const;
  const strictManagers = new Set<string>();
  const managers = departments.flatMap((d) =>
    Array.from({ length: 8 }, (_, i) => {
      const m = `${d}-mgr-${i}`;
      if (rng() < 0.1) strictManagers.add(m);
      return { id: m, dept: d };
    }),
  );
  const entitlements = [
    ...departments.flatMap((d, di) =>
      Array.from({ length: 20 }, (_, i) => ({
        id: `${d}-ent-${i}`,
        home: d as string | null,
        app: `app-${di * 3 + (i % 3)}`,
        sensitivity: pick(sensitivities),
      })),
    ),
    ...Array.from({ length: 30 }, (_, i) => ({
      id: `global-ent-${i}`,
      home: null as string | null,
      app: `app-global-${i % 5}`,
      sensitivity: pick(sensitivities),
    })),
  ];
  const byHome = new Map<string | null, typeof entitlements>();
  for (const e of entitlements) byHome.set(e.home, [...(byHome.get(e.home) ?? []), e]);

  const rows: ShadowRow[] = [];
  for (let u = 0; u < users; u++) {
    const department = pick(departments);
    const title = `${department}-title-${Math.floor(rng() * 5)}`;
    const manager = pick(managers.filter((m) => m.dept === department)).id;
    const location = pick(locations);
    const r = rng();
    const employeeType = r < 0.85 ? 'employee' : r < 0.97 ? 'contractor' : 'service';
    const costCenter = rng() < 0.7 ? `cc-${department}` : `cc-${Math.floor(rng() * 30)}`;
    for (let k = 0; k < perUser; k++) {
      const q = rng();
      const home = q < 0.7 ? department : q < 0.85 ? null : pick(departments);
      const ent = pick(byHome.get(home)!);
      const match = ent.home === null || ent.home === department;
      const dormant = rng() < (match ? 0.12 : 0.35);
      const sensitive = ent.sensitivity === 'high' || ent.sensitivity === 'critical';
      const z =
        -5.4 +
        (match ? 0 : 3.2) +
        (employeeType === 'contractor' ? 1.3 : 0) +
        (dormant ? 1.4 : 0) +
        (sensitive && !match ? 0.8 : 0) +
        (strictManagers.has(manager) ? 1.5 : 0) +
        0.5 * gauss();
      let label: 0 | 1 = rng() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
      if (rng() < 0.01) label = label === 1 ? 0 : 1;
      rows.push({
        features: {
          department,
          title,
          manager,
          location,
          employee_type: employeeType,
          entitlement: ent.id,
          app: ent.app,
          sensitivity: ent.sensitivity,
          'attr:cost_center': costCenter,
          dept_match: match ? 'yes' : 'no',
          'signal:dormant': dormant ? '1' : null,
        },
        label,
      });
    }
  }
  return rows;
}

describe('crossValidate on a synthetic history', () => {
  // 30,000 decisions over 9 attributes (plus derived features), 5 folds.
  const rows = syntheticHistory(3000, 10, 7);
  // The regression alone: these tests are about the cross-validation, model.test.ts covers the trees.
  const report = crossValidate(rows, { folds: 5, seed: 42, fit: { trees: false } });

  it('evaluates every decision once, with about 94% approvals', () => {
    expect(report.n).toBe(30_000);
    expect(report.folds).toBe(5);
    expect(report.revokes / report.n).toBeGreaterThan(0.04);
    expect(report.revokes / report.n).toBeLessThan(0.08);
  });

  it('ranks revokes well, and clearly better than the per-entitlement baseline', () => {
    expect(report.auc!).toBeGreaterThan(0.8);
    expect(report.auc!).toBeGreaterThan(report.baseline_auc! + 0.05);
  });

  it('reports precision, recall, agreement and auto-approve coverage as shares', () => {
    for (const v of [report.revoke_precision, report.revoke_recall, report.agreement]) {
      expect(v).not.toBeNull();
      expect(v!).toBeGreaterThanOrEqual(0);
      expect(v!).toBeLessThanOrEqual(1);
    }
    expect(report.revoke_precision!).toBeGreaterThan(0.5);
    expect(report.agreement!).toBeGreaterThan(0.9);
    expect(report.auto_approve_coverage_at_99).toBeGreaterThan(0);
    expect(report.auto_approve_coverage_at_99).toBeLessThan(1);
  });

  it('fills a reliability table covering every decided item', () => {
    const decided = Math.round(report.n * (1 - report.escalation_rate));
    expect(report.reliability.reduce((s, b) => s + b.n, 0)).toBe(decided);
    for (const b of report.reliability) {
      expect(b.mean_confidence).toBeGreaterThanOrEqual(b.bucket_low);
      expect(b.mean_confidence).toBeLessThanOrEqual(b.bucket_high);
      expect(Math.abs(b.observed_agreement - b.mean_confidence)).toBeLessThan(0.15);
    }
  });

  it('is deterministic', () => {
    const small = syntheticHistory(600, 10, 11);
    const a = crossValidate(small, { folds: 5, seed: 3 });
    expect(crossValidate(small, { folds: 5, seed: 3 })).toEqual(a);
    expect(a.auc!).toBeGreaterThan(a.baseline_auc!);
  });
});

describe('crossValidate mechanics', () => {
  it('never lets a decision predict itself', () => {
    // Each row has a unique id and a random label: only self-prediction could rank these.
    const rows: ShadowRow[] = [];
    let state = 17;
    for (let i = 0; i < 3000; i++) {
      state = (state * 1103515245 + 12345) % 2147483648;
      rows.push({
        features: { decision_id: `d-${i}`, entitlement: `e-${i % 50}` },
        label: state % 10 === 0 ? 1 : 0,
      });
    }
    const r = crossValidate(rows, { folds: 5, seed: 1 });
    expect(r.auc!).toBeLessThan(0.6);
    expect(r.auc!).toBeGreaterThan(0.4);
  });

  it('measures auto-approve coverage while approvals stay 99% precise', () => {
    const rows: ShadowRow[] = [];
    for (let i = 0; i < 200; i++) rows.push({ features: { entitlement: 'wiki' }, label: 0 });
    for (let i = 0; i < 200; i++)
      rows.push({ features: { entitlement: 'payroll' }, label: i % 2 === 0 ? 1 : 0 });
    const r = crossValidate(rows, { folds: 4, seed: 1 });
    // All 200 wiki approvals can go first; adding any payroll item drops below 99%.
    expect(r.auto_approve_coverage_at_99).toBeCloseTo(0.5, 5);
  });

  it('uses a caller-supplied decision and features', () => {
    const rows = syntheticHistory(200, 5, 2);
    const escalateAll = crossValidate(rows, {
      folds: 3,
      seed: 1,
      decide: () => ({ decision: 'escalate', confidence: 0.5 }),
    });
    expect(escalateAll.escalation_rate).toBe(1);
    expect(escalateAll.agreement).toBeNull();
    expect(escalateAll.revoke_precision).toBeNull();
    expect(escalateAll.reliability).toEqual([]);

    const revokeAll = crossValidate(rows, {
      folds: 3,
      seed: 1,
      buildFeatures: (row) => ({ entitlement: row.features.entitlement ?? null }),
      decide: () => ({ decision: 'revoke', confidence: 0.9 }),
    });
    expect(revokeAll.revoke_recall).toBe(1);
    expect(revokeAll.revoke_precision).toBeCloseTo(revokeAll.revokes / revokeAll.n, 10);
    // With the entitlement alone, the model can do no better than the entitlement baseline.
    expect(Math.abs(revokeAll.auc! - revokeAll.baseline_auc!)).toBeLessThan(0.05);
  });

  it.each([
    { name: 'no rows', rows: [] as ShadowRow[] },
    { name: 'one row', rows: [{ features: { entitlement: 'a' }, label: 1 }] as ShadowRow[] },
    {
      name: 'only approvals',
      rows: Array.from({ length: 20 }, (_, i) => ({
        features: { entitlement: `e${i % 3}` },
        label: 0,
      })) as ShadowRow[],
    },
  ])('copes with $name', ({ rows }) => {
    const r = crossValidate(rows, { folds: 5, seed: 1 });
    expect(r.n).toBe(rows.length);
    expect(r.auc).toBeNull();
    expect(r.revoke_recall).toBeNull();
    expect(() => formatShadowTable(r)).not.toThrow();
  });
});

describe('recallAtPrecision', () => {
  it.each([
    {
      name: 'the best recall while precision holds',
      scores: [0.9, 0.8, 0.7, 0.6, 0.1],
      labels: [1, 1, 0, 1, 0],
      p: 0.75,
      want: 1,
    },
    {
      name: 'stops where precision falls below',
      scores: [0.9, 0.8, 0.7, 0.6, 0.1],
      labels: [1, 0, 0, 1, 1],
      p: 0.8,
      want: 1 / 3,
    },
    { name: 'ties are taken together', scores: [0.5, 0.5, 0.1], labels: [1, 0, 1], p: 0.8, want: 0 },
    { name: 'no revokes: undefined', scores: [0.5, 0.1], labels: [0, 0], p: 0.8, want: null },
  ] as Array<{ name: string; scores: number[]; labels: Array<0 | 1>; p: number; want: number | null }>)(
    '$name',
    ({ scores, labels, p, want }) => {
      expect(recallAtPrecision(scores, labels, p)).toBe(want);
    },
  );
});

describe('formatShadowTable', () => {
  const report: ShadowReport = {
    n: 1200,
    revokes: 70,
    folds: 5,
    auc: 0.912,
    baseline_auc: 0.801,
    revoke_precision: 0.8,
    revoke_recall: null,
    agreement: 0.95,
    escalation_rate: 0.03,
    reliability: [
      { bucket_low: 0.9, bucket_high: 1, n: 1000, mean_confidence: 0.97, observed_agreement: 0.96 },
    ],
    auto_approve_coverage_at_99: 0.712,
    revoke_recall_at_80_precision: 0.25,
  };

  it.each([
    { name: 'the headline', text: '5-fold cross-validation over 1200 past decisions (70 revokes)' },
    { name: 'AUC against the baseline', text: '0.912' },
    { name: 'the baseline', text: 'baseline (per-entitlement approval rate) 0.801' },
    { name: 'revoke precision', text: '80.0%' },
    { name: 'an undefined rate as n/a', text: 'n/a' },
    { name: 'auto-approve coverage', text: '71.2%' },
    { name: 'the reliability rows', text: /0\.9-1\.0 +1000 +0\.970 +0\.960/ },
  ])('shows $name', ({ text }) => {
    if (typeof text === 'string') expect(formatShadowTable(report)).toContain(text);
    else expect(formatShadowTable(report)).toMatch(text);
  });

  it('puts AUC and revoke precision and recall first', () => {
    const lines = formatShadowTable(report).split('\n');
    expect(lines[2]).toMatch(/^ {2}AUC/);
    expect(lines[3]).toMatch(/^ {2}Revoke precision/);
    expect(lines[4]).toMatch(/^ {2}Revoke recall/);
  });
});
