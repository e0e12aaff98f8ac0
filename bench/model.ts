// The learned model on a generated history of 33,000 decisions (nine high-cardinality attributes),
// 5-fold cross-validation, beside two baselines measured in the same run: a regression on the
// single attributes' encodings, and one that adds every pair of attributes. Run after
// `npm run bench:shadow`'s build: node dist-bench/bench/model.js [n] [folds]
import { crossValidate } from '../src/analysis/shadow.js';
import { generateHistory } from './history.js';

const n = Number(process.argv[2] ?? 33_000);
const folds = Number(process.argv[3] ?? 5);
const rows = generateHistory(n, 3);
const names = Object.keys(rows[0]!.features);
const allPairs: string[][] = [];
for (let a = 0; a < names.length; a++)
  for (let b = a + 1; b < names.length; b++) allPairs.push([names[a]!, names[b]!]);
const run = (label: string, fit: Parameters<typeof crossValidate>[1]['fit']) => {
  const started = performance.now();
  const r = crossValidate(rows, { folds, seed: 1, fit });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `${label.padEnd(28)} AUC ${r.auc?.toFixed(4)}  revoke P ${r.revoke_precision?.toFixed(3)} R ${r.revoke_recall?.toFixed(3)}  auto-approve@99 ${r.auto_approve_coverage_at_99.toFixed(3)}  ${seconds.toFixed(1)} s`,
  );
  return r;
};
console.log(`${n} decisions, ${rows.filter((r) => r.label === 1).length} revokes, ${folds} folds`);
run('single attributes', { pairs: [], trees: false });
run('pairwise', { pairs: allPairs, trees: false });
const m = run('model (default)', {});
for (const b of m.reliability)
  console.log(
    `  ${b.bucket_low.toFixed(1)}-${b.bucket_high.toFixed(1)} n=${b.n} conf ${b.mean_confidence.toFixed(3)} observed ${b.observed_agreement.toFixed(3)}`,
  );
