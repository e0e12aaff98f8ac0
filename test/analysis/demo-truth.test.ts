import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateDemo } from '../../src/demo/generate.js';
import { signalCodes } from '../../src/domain/index.js';
import { loadSnapshot } from '../../src/services/load.js';
import { runShadow } from '../../src/services/shadow.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/harness.js';

const AS_OF = '2026-11-28T00:00:00.000Z';
const tmp = tempDir();
let store: Store;
let truth: Map<string, { signals: Set<string>; revoke: boolean }>;
let got: Map<string, { signals: Set<string>; decision: string | null; rationale: string }>;

beforeAll(async () => {
  await generateDemo(tmp.dir, { users: 2000, asOf: AS_OF });
  store = Store.open(':memory:');
  const { report } = await loadSnapshot(store, tmp.dir, { asOf: new Date(AS_OF), dormantDays: 90 });
  expect(report.ok).toBe(true);
  const rows = parse(readFileSync(join(tmp.dir, 'truth.csv')), { columns: true }) as Array<
    Record<string, string>
  >;
  truth = new Map(
    rows.map((r) => [
      r.item_id!,
      { signals: new Set(r.signals ? r.signals.split(';') : []), revoke: r.should_revoke === 'true' },
    ]),
  );
  got = new Map(
    (
      store.db.prepare('SELECT id, signals, recommendation FROM review_items').all() as Array<{
        id: string;
        signals: string;
        recommendation: string | null;
      }>
    ).map((r) => [
      r.id,
      {
        signals: new Set((JSON.parse(r.signals) as Array<{ code: string }>).map((s) => s.code)),
        decision: r.recommendation ? (JSON.parse(r.recommendation) as { decision: string }).decision : null,
        rationale: r.recommendation ? (JSON.parse(r.recommendation) as { rationale: string }).rationale : '',
      },
    ]),
  );
}, 180_000);
afterAll(() => {
  store?.close();
  tmp.cleanup();
});

function score(code: string) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  for (const [id, t] of truth) {
    const g = got.get(id)!.signals.has(code);
    if (g && t.signals.has(code)) tp++;
    else if (g) fp++;
    else if (t.signals.has(code)) fn++;
  }
  return { tp, fp, fn, recall: tp / (tp + fn), precision: tp / (tp + fp) };
}

describe("analysis against the demo tenant's planted truth", () => {
  it('scores every item of the campaign', () => {
    expect(got.size).toBe(truth.size);
  });

  it.each(signalCodes.filter((c) => !['peer_outlier', 'redundant'].includes(c)))(
    'rule-based signal %s finds every planted anomaly and flags no clean item',
    (code) => {
      const s = score(code);
      expect(s.tp, JSON.stringify(s)).toBeGreaterThan(0);
      expect(s.fn, JSON.stringify(s)).toBe(0);
      expect(s.fp, JSON.stringify(s)).toBe(0);
    },
  );

  it.each(['peer_outlier', 'redundant'])('signal %s has recall ≥ 0.95 and precision ≥ 0.9', (code) => {
    const s = score(code);
    expect(s.recall, JSON.stringify(s)).toBeGreaterThanOrEqual(0.95);
    expect(s.precision, JSON.stringify(s)).toBeGreaterThanOrEqual(0.9);
  });

  it('recommends revoke for ≥ 90% of the items that should go and ≤ 2% of clean items', () => {
    let shouldGo = 0;
    let revokedShouldGo = 0;
    let clean = 0;
    let revokedClean = 0;
    for (const [id, t] of truth) {
      const d = got.get(id)!.decision;
      const isClean = [...t.signals].every((s) => s === 'privileged');
      if (t.revoke) {
        shouldGo++;
        if (d === 'revoke') revokedShouldGo++;
      } else if (isClean) {
        clean++;
        if (d === 'revoke') revokedClean++;
      }
    }
    const figures = { shouldGo, revokedShouldGo, clean, revokedClean };
    expect(revokedShouldGo / shouldGo, JSON.stringify(figures)).toBeGreaterThanOrEqual(0.9);
    expect(revokedClean / clean, JSON.stringify(figures)).toBeLessThanOrEqual(0.02);
  });

  it("reports in shadow mode the live queue's mix as the queue is scored, beside the backtest", async () => {
    const r = await runShadow(store, { folds: 3, asOf: new Date(AS_OF), dormantDays: 90 });
    const active = new Set(store.listCampaigns('active').map((c) => c.id));
    const mix = { approve: 0, revoke: 0, escalate: 0 };
    for (const row of store.db
      .prepare('SELECT campaign_id, recommendation FROM review_items')
      .all() as Array<{
      campaign_id: string;
      recommendation: string | null;
    }>) {
      if (!active.has(row.campaign_id) || row.recommendation === null) continue;
      mix[(JSON.parse(row.recommendation) as { decision: keyof typeof mix }).decision]++;
    }
    expect(r.live_queue).toMatchObject(mix);
    expect(r.live_queue.escalation_rate).toBeLessThanOrEqual(0.15);
    expect(r.auc).toBeGreaterThan(0.5);
  });

  it('escalates at most 15% of the campaign, each with a reason to act on', () => {
    const escalated = [...got.values()].filter((g) => g.decision === 'escalate');
    expect(escalated.length / got.size).toBeLessThanOrEqual(0.15);
    for (const e of escalated) expect(e.rationale).toMatch(/ask|reassign|either side|conflict/i);
  });

  it('names the entitlement that already grants the access on every revoke for redundancy', () => {
    const redundant = [...got.values()].filter(
      (g) => g.decision === 'revoke' && g.rationale.startsWith('Redundant'),
    );
    expect(redundant.length).toBeGreaterThan(0);
    for (const r of redundant)
      expect(r.rationale).toMatch(/Redundant: .+ \(grp-all-staff\), which the user also holds/);
  });
});
