import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mineRoles } from '../../src/analysis/role-mining.js';
import { type PlantedTruth, writePlantedTenant } from '../../src/demo/planted-roles.js';
import { loadSnapshot } from '../../src/services/load.js';
import { mineRolesFromStore, type RoleReport } from '../../src/services/roles.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/harness.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function jaccard(a: string[], b: string[]): number {
  const A = new Set(a);
  const inter = b.filter((x) => A.has(x)).length;
  return inter / (a.length + b.length - inter);
}

/** Precision and recall of planted roles: a mined role matches a planted one when their entitlements agree (Jaccard >= 0.9). */
function recovery(report: RoleReport, truth: PlantedTruth) {
  const match = (a: string[], b: string[]) => jaccard(a, b) >= 0.9;
  const found = truth.roles.filter((p) => report.roles.some((r) => match(r.entitlement_ids, p.entitlements)));
  const real = report.roles.filter((r) => truth.roles.some((p) => match(r.entitlement_ids, p.entitlements)));
  return { recall: found.length / truth.roles.length, precision: real.length / report.roles.length };
}

async function planted(name: string, options: Parameters<typeof writePlantedTenant>[1]) {
  const dir = join(tmp.dir, name);
  const { mkdirSync } = await import('node:fs');
  mkdirSync(dir, { recursive: true });
  const truth = await writePlantedTenant(dir, options);
  const store = Store.open(':memory:');
  const { report } = await loadSnapshot(store, dir, {
    asOf: new Date('2026-11-28T00:00:00Z'),
    dormantDays: 90,
  });
  expect(report.issues).toEqual([]);
  return { store, truth, dir };
}

describe('role mining on the matrix alone', () => {
  it('finds exactly the roles of a noise-free matrix, the shared base role apart from what each group adds', () => {
    // Users 0-9 hold base + A, users 10-19 base + B, users 20-24 base + A + B.
    const base = [0, 1, 2, 3];
    const A = [4, 5];
    const B = [6, 7];
    const held = Array.from({ length: 25 }, (_, u) =>
      Int32Array.from(
        [...base, ...(u < 10 || u >= 20 ? A : []), ...(u >= 10 ? B : [])].sort((x, y) => x - y),
      ),
    );
    const r = mineRoles(
      {
        users: held.map((_, u) => `u${u}`),
        entitlements: Array.from({ length: 8 }, (_, e) => `e${e}`),
        held,
        attributes: [],
      },
      { minUsers: 3 },
    );
    expect(r.roles.map((x) => x.entitlements)).toEqual([base, A, B]);
    expect(r.coveredAssignments).toBe(r.totalAssignments);
    expect(r.leftover.every((l) => l.length === 0)).toBe(true);
  });

  it('keeps stray grants out of roles and leaves them uncovered', () => {
    const held = Array.from({ length: 40 }, (_, u) =>
      Int32Array.from(u % 7 === 0 ? [0, 1, 2, 3 + (u % 5)] : [0, 1, 2]),
    );
    const r = mineRoles(
      {
        users: held.map((_, u) => `u${u}`),
        entitlements: Array.from({ length: 8 }, (_, e) => `e${e}`),
        held,
        attributes: [],
      },
      { minUsers: 3 },
    );
    expect(r.roles.map((x) => x.entitlements)).toEqual([[0, 1, 2]]);
    expect(r.totalAssignments - r.coveredAssignments).toBe(6);
  });
});

describe('role mining on a tenant with planted roles', () => {
  let clean: Awaited<ReturnType<typeof planted>>;
  let noisy: Awaited<ReturnType<typeof planted>>;
  beforeAll(async () => {
    clean = await planted('clean', { users: 2000, missing: 0.03, strays: 0.5, seed: 11 });
    noisy = await planted('noisy', { users: 2000, missing: 0.1, strays: 2, seed: 12 });
  });
  afterAll(() => {
    clean.store.close();
    noisy.store.close();
  });

  it.each([
    ['light noise (3% missing grants, 0.5 stray grants a person)', () => clean],
    ['heavy noise (10% missing grants, 2 stray grants a person)', () => noisy],
  ])('recovers the planted roles under %s', (_n, get) => {
    const { store, truth } = get();
    const report = mineRolesFromStore(store);
    const r = recovery(report, truth);
    expect(r.recall).toBeGreaterThanOrEqual(0.9);
    expect(r.precision).toBeGreaterThanOrEqual(0.9);
  });

  it('covers only assignments the members hold, and the counts add up', () => {
    const report = mineRolesFromStore(clean.store, { leftoverLimit: Number.POSITIVE_INFINITY });
    const held = new Set(
      (
        clean.store.db.prepare('SELECT user_id, entitlement_id FROM assignments').raw().all() as string[][]
      ).map(([u, e]) => `${u} ${e}`),
    );
    const covered = new Set<string>();
    for (const role of report.roles) {
      for (const u of role.user_ids)
        for (const e of role.entitlement_ids) {
          expect(held.has(`${u} ${e}`)).toBe(true);
          covered.add(`${u} ${e}`);
        }
    }
    expect(covered.size).toBe(report.covered_assignments);
    expect(report.total_assignments).toBe(held.size);
    expect(report.leftover_assignments).toBe(held.size - covered.size);
    expect(report.leftover).toHaveLength(report.leftover_assignments);
    for (const l of report.leftover) expect(covered.has(`${l.user_id} ${l.entitlement_id}`)).toBe(false);
    expect(report.leftover_direct + report.leftover_inherited).toBe(report.leftover_assignments);
    expect(report.roles.length).toBeLessThan(report.distinct_entitlement_sets / 5);
  });

  it('finds the attribute that predicts each department and job role, with its exceptions', () => {
    const report = mineRolesFromStore(clean.store);
    let lacking = 0;
    for (const p of clean.truth.roles.filter((x) => x.pattern)) {
      const mined = report.roles.find((r) => jaccard(r.entitlement_ids, p.entitlements) >= 0.9)!;
      const [kind, value] = Object.entries(p.pattern!)[0]!;
      expect(mined.pattern?.[kind], p.id).toBe(value);
      expect(mined.pattern_fit!.recall).toBeGreaterThanOrEqual(0.95);
      // Exceptions: the people the pattern names who are not members (they miss a grant of it).
      const members = new Set(mined.user_ids);
      const named = (
        clean.store.db.prepare(`SELECT id FROM users WHERE ${kind} = ?`).pluck().all(value) as string[]
      ).filter((u) => !members.has(u));
      expect(mined.exceptions.lacking_count).toBe(named.length);
      lacking += named.length;
    }
    expect(lacking).toBeGreaterThan(0);
    const base = report.roles.find(
      (r) => jaccard(r.entitlement_ids, clean.truth.roles[0]!.entitlements) >= 0.9,
    )!;
    expect(base.pattern).toBeUndefined();
  });
});

describe('suggestions for existing groups', () => {
  it('suggests adding what most members hold besides, and removing what the group grants that nobody uses', async () => {
    const dir = join(tmp.dir, 'groups');
    const { mkdirSync } = await import('node:fs');
    mkdirSync(dir, { recursive: true });
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
    writeFileSync(join(dir, 'users.csv'), `id,department\n${users.map((u) => `${u},Finance`).join('\n')}\n`);
    writeFileSync(
      join(dir, 'entitlements.csv'),
      'id,name,type,app,includes\ng-fin,Finance Staff,group,,app-ledger;app-fax\napp-ledger,Ledger,app,Ledger,\napp-fax,Fax,app,Fax,\napp-pay,Payments,app,Payments,\n',
    );
    const rows = ['user_id,entitlement_id,source,via'];
    for (const [i, u] of users.entries()) {
      rows.push(`${u},g-fin,direct,`, `${u},app-ledger,group,g-fin`, `${u},app-fax,group,g-fin`);
      if (i < 18) rows.push(`${u},app-pay,direct,`);
    }
    writeFileSync(join(dir, 'assignments.csv'), `${rows.join('\n')}\n`);
    writeFileSync(
      join(dir, 'activity.csv'),
      `user_id,app,at\n${users.map((u) => `${u},Ledger,2026-11-01T00:00:00Z`).join('\n')}\n`,
    );
    const store = Store.open(':memory:');
    expect(
      (await loadSnapshot(store, dir, { asOf: new Date('2026-11-28T00:00:00Z'), dormantDays: 90 })).report.ok,
    ).toBe(true);
    const report = mineRolesFromStore(store);
    expect(report.suggestions).toEqual([
      expect.objectContaining({
        kind: 'add_to_group',
        group_id: 'g-fin',
        entitlement_id: 'app-pay',
        share: 0.9,
        members: 20,
      }),
      expect.objectContaining({
        kind: 'remove_from_group',
        group_id: 'g-fin',
        entitlement_id: 'app-fax',
        share: 0,
      }),
    ]);
    // Inherited grants no role explains are counted apart from direct ones.
    expect(report.leftover_direct + report.leftover_inherited).toBe(report.leftover_assignments);
    store.close();
  });
});
