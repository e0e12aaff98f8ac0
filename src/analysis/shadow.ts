/**
 * Shadow evaluation: how would the engine have done on decisions humans already made?
 *
 * K-fold cross-validation: each fold is predicted by a model fitted on the other folds only, so
 * no decision ever predicts itself. The learned model is compared with the plain baseline of
 * "how often was this entitlement revoked before", computed out-of-fold the same way.
 */
import { type FitOptions, fitModel, predict } from './model.js';
import { auc, seededShuffle } from './stats.js';
import { type AnalysisThresholds, defaultThresholds } from './thresholds.js';

/** A labelled past decision (label 1 = revoke). */
export interface ShadowRow {
  features: Record<string, string | null>;
  label: 0 | 1;
}

/** What the engine would have said about one row. */
export interface ShadowDecision {
  decision: 'approve' | 'revoke' | 'escalate';
  /** 0..1, the engine's confidence in its decision. */
  confidence: number;
}

export interface CrossValidateOptions<R extends ShadowRow> {
  /** Number of folds (at least 2, at most the number of rows). */
  folds: number;
  seed: number;
  /** The features the model sees for a row; by default `row.features`. */
  buildFeatures?: (row: R) => Record<string, string | null>;
  /**
   * Turns the out-of-fold revoke probability into a decision (e.g. by running the rule engine
   * with it). By default: revoke at `learnedRevokeThreshold`, escalate at
   * `learnedEscalateThreshold`, approve below, with confidence p or 1 - p.
   */
  decide?: (row: R, revokeProbability: number) => ShadowDecision;
  /** Model options (the seed is taken from `seed`). */
  fit?: Omit<FitOptions, 'seed'>;
  thresholds?: AnalysisThresholds;
  /** Feature whose past revoke rate is the baseline; default `entitlement`. */
  baselineFeature?: string;
}

/** One row of the reliability table: stated confidence against how often the engine was right. */
export interface ReliabilityBucket {
  bucket_low: number;
  bucket_high: number;
  n: number;
  mean_confidence: number;
  observed_agreement: number;
}

/** Results of a cross-validation. Rates are null when undefined (e.g. no revokes at all). */
export interface ShadowReport {
  /** Labelled decisions evaluated. */
  n: number;
  /** Of which revokes. */
  revokes: number;
  folds: number;
  /** AUC of the learned revoke probability. */
  auc: number | null;
  /** AUC of the per-entitlement past revoke rate. */
  baseline_auc: number | null;
  /** Of the engine's revokes, the share humans revoked. */
  revoke_precision: number | null;
  /** Of the human revokes, the share the engine revoked. */
  revoke_recall: number | null;
  /** Of the items the engine did not escalate, the share where it agreed with the human. */
  agreement: number | null;
  /** Share of items the engine would have escalated. */
  escalation_rate: number;
  reliability: ReliabilityBucket[];
  /**
   * Largest share of items that could have been approved automatically, lowest revoke
   * probability first, while at least 99% (`autoApprovePrecision`) of them were human approvals.
   */
  auto_approve_coverage_at_99: number;
  /**
   * Largest share of the human revokes the learned probability finds, highest first, while at
   * least 80% of what it finds are revokes: how much a revoke threshold can catch at that precision.
   */
  revoke_recall_at_80_precision: number | null;
}

/** Best recall among thresholds on `scores` (highest first) whose precision is at least `p`. */
export function recallAtPrecision(
  scores: readonly number[],
  labels: readonly (0 | 1)[],
  p: number,
): number | null {
  const n = Math.min(scores.length, labels.length);
  const positives = labels.reduce<number>((s, l) => s + l, 0);
  if (positives === 0) return null;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let tp = 0;
  let best = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    // Tied scores are on the same side of any threshold.
    while (j < n && scores[order[j]!]! === scores[order[i]!]!) tp += labels[order[j++]!]!;
    if (tp / j >= p - 1e-12) best = Math.max(best, tp / positives);
    i = j;
  }
  return best;
}

function defaultDecide(t: AnalysisThresholds): (row: ShadowRow, p: number) => ShadowDecision {
  return (_row, p) => {
    if (p >= t.learnedRevokeThreshold) return { decision: 'revoke', confidence: p };
    if (p >= t.learnedEscalateThreshold) return { decision: 'escalate', confidence: 1 - p };
    return { decision: 'approve', confidence: 1 - p };
  };
}

/** Stratified fold of each row: revokes and approvals are each dealt round-robin after a shuffle. */
export function assignFolds(rows: readonly ShadowRow[], k: number, seed: number): Uint16Array {
  const fold = new Uint16Array(rows.length);
  const positives: number[] = [];
  const negatives: number[] = [];
  rows.forEach((r, i) => {
    (r.label === 1 ? positives : negatives).push(i);
  });
  let next = 0;
  for (const group of [seededShuffle(positives, seed), seededShuffle(negatives, seed ^ 0x5bd1e995)]) {
    for (const i of group) {
      fold[i] = next % k;
      next++;
    }
  }
  return fold;
}

/** Largest share of items, by ascending score, whose approval precision stays at `target`. */
function autoApproveCoverage(scores: readonly number[], labels: readonly (0 | 1)[], target: number): number {
  const n = scores.length;
  if (n === 0) return 0;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let best = 0;
  let approvals = 0;
  let i = 0;
  while (i < n) {
    let j = i;
    // Items with equal scores cannot be told apart by a threshold: take them together.
    while (j < n && scores[order[j]!]! === scores[order[i]!]!) {
      if (labels[order[j]!] === 0) approvals++;
      j++;
    }
    if (approvals / j >= target - 1e-12) best = j;
    i = j;
  }
  return best / n;
}

function reliabilityTable(
  confidences: readonly number[],
  agreed: readonly boolean[],
  buckets: number,
): ReliabilityBucket[] {
  const k = Math.max(1, Math.floor(buckets));
  const n = new Array<number>(k).fill(0);
  const conf = new Array<number>(k).fill(0);
  const ok = new Array<number>(k).fill(0);
  confidences.forEach((c, i) => {
    const b = Math.min(k - 1, Math.max(0, Math.floor(c * k)));
    n[b] = n[b]! + 1;
    conf[b] = conf[b]! + c;
    ok[b] = ok[b]! + (agreed[i] ? 1 : 0);
  });
  const out: ReliabilityBucket[] = [];
  for (let b = 0; b < k; b++) {
    if (n[b] === 0) continue;
    out.push({
      bucket_low: b / k,
      bucket_high: (b + 1) / k,
      n: n[b]!,
      mean_confidence: conf[b]! / n[b]!,
      observed_agreement: ok[b]! / n[b]!,
    });
  }
  return out;
}

/**
 * K-fold cross-validation of the learned model (and, through `decide`, of the decisions built on
 * it) against labelled past decisions. Deterministic for the same rows, order and options.
 */
export function crossValidate<R extends ShadowRow>(
  rows: readonly R[],
  options: CrossValidateOptions<R>,
): ShadowReport {
  const t = options.thresholds ?? defaultThresholds;
  const n = rows.length;
  const k = Math.max(2, Math.min(Math.floor(options.folds), n));
  const build = options.buildFeatures ?? ((r: R) => r.features);
  const decide = options.decide ?? defaultDecide(t);
  const baselineFeature = options.baselineFeature ?? 'entitlement';
  const labels = rows.map((r) => (r.label === 1 ? 1 : 0) as 0 | 1);
  const revokes = labels.reduce<number>((s, l) => s + l, 0);
  const features = rows.map((r) => build(r));
  if (n < 2) {
    // Nothing to train on: nothing can be predicted out-of-fold.
    return {
      n,
      revokes,
      folds: k,
      auc: null,
      baseline_auc: null,
      revoke_precision: null,
      revoke_recall: null,
      agreement: null,
      escalation_rate: 0,
      reliability: [],
      auto_approve_coverage_at_99: 0,
      revoke_recall_at_80_precision: null,
    };
  }
  const fold = assignFolds(rows, k, options.seed);

  const scores = new Array<number>(n).fill(0);
  const baseline = new Array<number>(n).fill(0);
  for (let f = 0; f < k; f++) {
    const train: Array<{ features: Record<string, string | null>; label: 0 | 1 }> = [];
    const rate = new Map<string | null, { n: number; revokes: number }>();
    let trainRevokes = 0;
    for (let i = 0; i < n; i++) {
      if (fold[i] === f) continue;
      train.push({ features: features[i]!, label: labels[i]! });
      trainRevokes += labels[i]!;
      const key = rows[i]!.features[baselineFeature] ?? null;
      const s = rate.get(key) ?? { n: 0, revokes: 0 };
      s.n++;
      s.revokes += labels[i]!;
      rate.set(key, s);
    }
    const overall = train.length > 0 ? trainRevokes / train.length : 0;
    const model = fitModel(train, { ...options.fit, seed: options.seed + f + 1 });
    for (let i = 0; i < n; i++) {
      if (fold[i] !== f) continue;
      scores[i] = predict(model, features[i]!);
      const s = rate.get(rows[i]!.features[baselineFeature] ?? null);
      baseline[i] = s ? s.revokes / s.n : overall;
    }
  }

  let decidedRevoke = 0;
  let truePositive = 0;
  let escalated = 0;
  let agreedCount = 0;
  const confidences: number[] = [];
  const agreed: boolean[] = [];
  for (let i = 0; i < n; i++) {
    const d = decide(rows[i]!, scores[i]!);
    if (d.decision === 'escalate') {
      escalated++;
      continue;
    }
    const isRevoke = d.decision === 'revoke';
    if (isRevoke) {
      decidedRevoke++;
      if (labels[i] === 1) truePositive++;
    }
    const agrees = isRevoke === (labels[i] === 1);
    if (agrees) agreedCount++;
    confidences.push(Math.min(1, Math.max(0, d.confidence)));
    agreed.push(agrees);
  }
  const decided = n - escalated;
  return {
    n,
    revokes,
    folds: k,
    auc: auc(scores, labels),
    baseline_auc: auc(baseline, labels),
    revoke_precision: decidedRevoke === 0 ? null : truePositive / decidedRevoke,
    revoke_recall: revokes === 0 ? null : truePositive / revokes,
    agreement: decided === 0 ? null : agreedCount / decided,
    escalation_rate: n === 0 ? 0 : escalated / n,
    reliability: reliabilityTable(confidences, agreed, t.reliabilityBuckets),
    auto_approve_coverage_at_99: autoApproveCoverage(scores, labels, t.autoApprovePrecision),
    revoke_recall_at_80_precision: recallAtPrecision(scores, labels, 0.8),
  };
}

function fmt(v: number | null, digits = 3): string {
  return v === null || !Number.isFinite(v) ? 'n/a' : v.toFixed(digits);
}

function pct(v: number | null): string {
  return v === null || !Number.isFinite(v) ? 'n/a' : `${(v * 100).toFixed(1)}%`;
}

/** The report as a plain-text table for a terminal. */
export function formatShadowTable(report: ShadowReport): string {
  const lines: string[] = [];
  lines.push(
    `Shadow evaluation: ${report.folds}-fold cross-validation over ${report.n} past decisions ` +
      `(${report.revokes} revokes)`,
  );
  lines.push('');
  const rows: Array<[string, string, string]> = [
    ['AUC', fmt(report.auc), `baseline (per-entitlement approval rate) ${fmt(report.baseline_auc)}`],
    ['Revoke precision', pct(report.revoke_precision), 'of engine revokes, humans revoked'],
    ['Revoke recall', pct(report.revoke_recall), 'of human revokes, engine revoked'],
    ['Agreement', pct(report.agreement), `escalated ${pct(report.escalation_rate)} not counted`],
    ['Auto-approve @99%', pct(report.auto_approve_coverage_at_99), 'of items, approvals kept >= 99% precise'],
    [
      'Recall @80% precision',
      pct(report.revoke_recall_at_80_precision),
      'of human revokes, at the best threshold',
    ],
  ];
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  for (const [a, b, c] of rows) lines.push(`  ${a.padEnd(w0)}  ${b.padStart(w1)}  ${c}`);
  if (report.reliability.length > 0) {
    lines.push('');
    lines.push('  Reliability');
    const header = ['confidence', 'n', 'mean conf', 'observed'];
    const body = report.reliability.map((b) => [
      `${b.bucket_low.toFixed(1)}-${b.bucket_high.toFixed(1)}`,
      String(b.n),
      b.mean_confidence.toFixed(3),
      b.observed_agreement.toFixed(3),
    ]);
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`;
    lines.push(line(header));
    for (const r of body) lines.push(line(r));
  }
  return lines.join('\n');
}
