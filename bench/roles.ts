// Role-mining benchmark: a tenant with planted roles (birthright, department, job and project
// roles, missing grants and stray grants) at 10k and 100k users, mined from the store, timed,
// and scored against the planted truth. Run: npm run bench:roles [-- USERS...]
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writePlantedTenant } from '../src/demo/planted-roles.js';
import { loadSnapshot } from '../src/services/load.js';
import { mineRolesFromStore } from '../src/services/roles.js';
import { readRoleMatrix } from '../src/store/role-reads.js';
import { Store } from '../src/store/store.js';

const sizes = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const dir = mkdtempSync(join(tmpdir(), 'attest-roles-bench-'));
const jaccard = (a: string[], b: string[]) => {
  const A = new Set(a);
  const inter = b.filter((x) => A.has(x)).length;
  return inter / (a.length + b.length - inter);
};
try {
  for (const users of sizes.length > 0 ? sizes : [10_000, 100_000]) {
    const snap = join(dir, `snap-${users}`);
    mkdirSync(snap);
    const truth = await writePlantedTenant(snap, { users, missing: 0.05, strays: 1, seed: 5 });
    const store = Store.open(join(dir, `roles-${users}.db`));
    const { report } = await loadSnapshot(store, snap, {
      asOf: new Date('2026-11-28T00:00:00Z'),
      dormantDays: 90,
    });
    if (!report.ok) throw new Error('planted snapshot did not import');
    // Floor: reading the matrix the miner starts from.
    let t = performance.now();
    readRoleMatrix(store);
    const readSeconds = (performance.now() - t) / 1000;
    t = performance.now();
    const r = mineRolesFromStore(store);
    const seconds = (performance.now() - t) / 1000;
    const rss = process.memoryUsage().rss / 2 ** 20;
    const found = truth.roles.filter((p) =>
      r.roles.some((m) => jaccard(m.entitlement_ids, p.entitlements) >= 0.9),
    ).length;
    const real = r.roles.filter((m) =>
      truth.roles.some((p) => jaccard(m.entitlement_ids, p.entitlements) >= 0.9),
    ).length;
    console.log(
      `${users} users, ${r.total_assignments} assignments: mined ${r.roles.length} roles (planted ${truth.roles.length}) in ${seconds.toFixed(2)} s ` +
        `(${(seconds / readSeconds).toFixed(1)}x reading the matrix, ${readSeconds.toFixed(2)} s); recall ${(found / truth.roles.length).toFixed(3)}, precision ${(real / r.roles.length).toFixed(3)}; ` +
        `coverage ${(r.coverage * 100).toFixed(1)}% vs ${r.distinct_entitlement_sets} distinct sets; ${r.leftover_direct} direct grants left; RSS ${rss.toFixed(0)} MB`,
    );
    console.log(
      JSON.stringify({
        users,
        seconds,
        read_seconds: readSeconds,
        roles: r.roles.length,
        planted: truth.roles.length,
        recall: found / truth.roles.length,
        precision: real / r.roles.length,
        coverage: r.coverage,
        distinct_sets: r.distinct_entitlement_sets,
        rss_mb: rss,
      }),
    );
    store.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
