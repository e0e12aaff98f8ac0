// Shadow-mode benchmark: K-fold cross-validation over ~30,000 past decisions of a demo tenant
// (nine categorical user attributes), timed end to end. Run: npm run bench:shadow
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateDemo } from '../src/demo/generate.js';
import { loadSnapshot } from '../src/services/load.js';
import { runShadow } from '../src/services/shadow.js';
import { Store } from '../src/store/store.js';

const users = Number(process.argv[2] ?? 3000);
const folds = Number(process.argv[3] ?? 5);
const asOf = '2026-11-28T00:00:00.000Z';
const dir = mkdtempSync(join(tmpdir(), 'attest-shadow-bench-'));
try {
  await generateDemo(join(dir, 'snap'), { users, asOf });
  const store = Store.open(join(dir, 'shadow.db'));
  const { report } = await loadSnapshot(store, join(dir, 'snap'), { asOf: new Date(asOf), dormantDays: 90 });
  if (!report.ok) throw new Error('demo snapshot did not import');
  const n = (store.db.prepare('SELECT count(*) AS n FROM past_decisions').get() as { n: number }).n;
  const started = performance.now();
  const r = await runShadow(store, { folds, asOf: new Date(asOf), dormantDays: 90 });
  const seconds = (performance.now() - started) / 1000;
  store.close();
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)}%`);
  console.log(
    `shadow mode: ${n} decisions, ${folds} folds, ${seconds.toFixed(2)} s (target < 60 s: ${seconds < 60 ? 'PASS' : 'MISS'})`,
  );
  console.log(
    `AUC ${r.auc?.toFixed(3)} vs baseline ${r.baseline_auc?.toFixed(3)}; revoke precision ${pct(r.revoke_precision)}, recall ${pct(r.revoke_recall)}; agreement ${pct(r.agreement)}; auto-approve@99 ${pct(r.auto_approve_coverage_at_99)}`,
  );
  console.log(JSON.stringify({ decisions: n, seconds, ...r }));
} finally {
  rmSync(dir, { recursive: true, force: true });
}
