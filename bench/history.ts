// A generated review history shaped like real access-request histories: nine high-cardinality
// categorical attributes with heavy-tailed value frequencies, interactions that matter (a
// resource is fine for some departments and roles, not others; strict managers), label noise and
// about 6% denials. Deterministic for a seed.
import { createRng } from '../src/analysis/stats.js';

export interface HistoryRow {
  features: Record<string, string | null>;
  label: 0 | 1;
}

export function generateHistory(n = 33_000, seed = 3): HistoryRow[] {
  const rng = createRng(seed);
  // Zipf-like draw over `k` values.
  const zipf = (k: number, s: number) => {
    const w = Array.from({ length: k }, (_, i) => 1 / (i + 1) ** s);
    const total = w.reduce((a, b) => a + b, 0);
    const cum: number[] = [];
    let acc = 0;
    for (const x of w) {
      acc += x / total;
      cum.push(acc);
    }
    return () => {
      const r = rng();
      let lo = 0;
      let hi = k - 1;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (cum[mid]! < r) lo = mid + 1;
        else hi = mid;
      }
      return lo;
    };
  };
  const rollup1 = zipf(120, 1.3);
  const deptOf = Array.from({ length: 450 }, () => Math.floor(rng() * 120));
  const dept = zipf(450, 1.1);
  const family = zipf(68, 1.0);
  const titleFamily = Array.from({ length: 340 }, () => Math.floor(rng() * 68));
  const title = zipf(340, 1.1);
  const managers = 4200;
  const managerDept = Array.from({ length: managers }, () => dept());
  const strict = new Set(Array.from({ length: managers }, (_, i) => i).filter(() => rng() < 0.05));
  const resource = zipf(7500, 1.05);
  // Each resource belongs to a few departments and families; outside them a request is likely denied.
  const home = Array.from({ length: 7500 }, () => ({ dept: dept(), family: family(), open: rng() < 0.55 }));
  const rows: HistoryRow[] = [];
  for (let i = 0; i < n; i++) {
    const m = Math.floor(rng() ** 2 * managers);
    const d = rng() < 0.8 ? managerDept[m]! : dept();
    const t = title();
    const f = titleFamily[t]!;
    const r = resource();
    const h = home[r]!;
    const inDept = h.dept === d || deptOf[h.dept] === deptOf[d];
    const inFamily = h.family === f;
    let z = -4.2;
    if (!h.open) z += inDept ? (inFamily ? -0.5 : 1.6) : inFamily ? 1.8 : 3.6;
    if (strict.has(m)) z += 1.8;
    if (!h.open && strict.has(m) && !inFamily) z += 0.8;
    let label: 0 | 1 = rng() < 1 / (1 + Math.exp(-z)) ? 1 : 0;
    if (rng() < 0.01) label = label === 1 ? 0 : 1;
    rows.push({
      label,
      features: {
        entitlement: `r${r}`,
        manager: `m${m}`,
        'attr:role_rollup_1': `ru${deptOf[d]! % 120}`,
        'attr:role_rollup_2': `rv${rollup1()}`,
        department: `d${d}`,
        title: `t${t}`,
        'attr:role_family_desc': `fd${t * 7 + (i % 3 === 0 ? 1 : 0)}`,
        'attr:role_family': `f${f}`,
        'attr:role_code': `c${t}`,
      },
    });
  }
  return rows;
}
