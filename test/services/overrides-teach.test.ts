import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitModel, predict } from '../../src/analysis/model.js';
import { refitWhenCampaignDone } from '../../src/app.js';
import { generateDemo } from '../../src/demo/generate.js';
import { createLogger } from '../../src/log.js';
import { trainingRows } from '../../src/services/analyze.js';
import { loadSnapshot } from '../../src/services/load.js';
import { PeerIndex } from '../../src/store/peers.js';
import { Store } from '../../src/store/store.js';
import { type Harness, startServer, tempDir } from '../helpers/harness.js';

// A campaign whose reviewers revoke what the engine said to approve, for one entitlement in one
// department; once the campaign is complete and the model refits, the same cases (the other
// holders in that department, in another campaign) lean towards revoke, and more so because
// overrides count more than ordinary decisions.
const AS_OF = '2026-11-28T00:00:00.000Z';
const tmp = tempDir();
let store: Store;
let h: Harness;
let probeIds: string[] = [];
let overrideIds: string[] = [];

function csv(file: string): Array<Record<string, string>> {
  const [header, ...lines] = readFileSync(join(tmp.dir, file), 'utf8').trim().split('\n');
  const cols = header!.split(',');
  return lines.map((l) => {
    const cells = l.split(',');
    return Object.fromEntries(cols.map((c, i) => [c, cells[i] ?? '']));
  });
}

function append(file: string, rows: Array<Record<string, string>>): void {
  const cols = readFileSync(join(tmp.dir, file), 'utf8').split('\n')[0]!.split(',');
  appendFileSync(join(tmp.dir, file), rows.map((r) => `${cols.map((c) => r[c] ?? '').join(',')}\n`).join(''));
}

/** The learned revoke probability the analysis wrote on each item. */
function learned(ids: readonly string[]): number[] {
  return ids.map((id) => {
    const row = store.db.prepare('SELECT recommendation FROM review_items WHERE id = ?').get(id) as {
      recommendation: string;
    };
    const ev = (
      JSON.parse(row.recommendation) as { evidence: Array<{ kind: string; value: unknown }> }
    ).evidence.find((e) => e.kind === 'learned_revoke_probability');
    return Number(ev?.value);
  });
}

const mean = (xs: readonly number[]) => xs.reduce((s, x) => s + x, 0) / xs.length;

beforeAll(async () => {
  await generateDemo(tmp.dir, { users: 400, asOf: AS_OF });
  // The department and entitlement with the most active holders, among entitlements past
  // decisions have seen approved.
  const users = new Map(csv('users.csv').map((u) => [u.id!, u]));
  const approved = new Set(
    csv('decisions.csv').flatMap((d) => (d.decision === 'approve' ? [d.entitlement_id!] : [])),
  );
  const holders = new Map<string, string[]>();
  for (const a of csv('assignments.csv')) {
    if (!approved.has(a.entitlement_id!)) continue;
    const dept = users.get(a.user_id!)?.department;
    if (!dept || users.get(a.user_id!)?.status !== 'active') continue;
    const key = `${dept}\u0000${a.entitlement_id}`;
    holders.set(key, [...(holders.get(key) ?? []), a.user_id!]);
  }
  const [key, people] = [...holders.entries()].sort((a, b) => b[1].length - a[1].length)[0]!;
  const entitlement = key.split('\u0000')[1]!;
  expect(people.length).toBeGreaterThanOrEqual(20);
  const cut = Math.floor(people.length * 0.6);
  append('campaigns.csv', [
    { id: 'c-ovr', name: 'Override campaign', created_at: '2026-11-01T00:00:00.000Z', status: 'active' },
    { id: 'c-probe', name: 'Probe campaign', created_at: '2026-11-01T00:00:00.000Z', status: 'active' },
  ]);
  overrideIds = people.slice(0, cut).map((_, i) => `ovr-${i}`);
  probeIds = people.slice(cut).map((_, i) => `probe-${i}`);
  append('review_items.csv', [
    ...people
      .slice(0, cut)
      .map((u, i) => ({ id: `ovr-${i}`, campaign_id: 'c-ovr', user_id: u, entitlement_id: entitlement })),
    ...people
      .slice(cut)
      .map((u, i) => ({ id: `probe-${i}`, campaign_id: 'c-probe', user_id: u, entitlement_id: entitlement })),
  ]);
  store = Store.open(':memory:');
  const { report } = await loadSnapshot(store, tmp.dir, { asOf: new Date(AS_OF), dormantDays: 90 });
  expect(report.ok).toBe(true);
  h = await startServer({
    store,
    config: { asOf: AS_OF },
    elicit: { action: 'accept', content: { confirm: true } },
  });
}, 120_000);

afterAll(async () => {
  await h?.close();
  store?.close();
  tmp.cleanup();
});

describe('overrides teach', () => {
  it('moves the same cases towards the reviewers once the campaign completes, overrides counting more', async () => {
    const before = learned(probeIds);
    // Reviewers revoke every item the engine said to approve (each an override) and follow the
    // engine on the rest, so the campaign completes.
    const ids: string[] = [];
    let overrides = 0;
    for (const item of overrideIds) {
      const row = store.db.prepare('SELECT recommendation FROM review_items WHERE id = ?').get(item) as {
        recommendation: string;
      };
      const engine = (JSON.parse(row.recommendation) as { decision: string }).decision;
      const decision = engine === 'approve' ? 'revoke' : engine;
      const p = await h.ok<{
        proposal_id: string;
        engine_recommendation: string | null;
        agrees_with_engine: boolean;
      }>('propose_decision', {
        item_id: item,
        decision,
        rationale: 'Not needed in this department any more',
      });
      expect(p.agrees_with_engine).toBe(engine !== 'approve');
      if (engine === 'approve') overrides++;
      ids.push(p.proposal_id);
    }
    expect(overrides).toBeGreaterThanOrEqual(8);
    await h.ok('submit_decision', { proposal_ids: ids });
    expect(refitWhenCampaignDone(store, h.config, createLogger('silent'))).toBe(true);
    const after = learned(probeIds);
    expect(mean(after)).toBeGreaterThan(mean(before) + 0.03);
    expect(after.filter((p, i) => p > before[i]!).length).toBeGreaterThanOrEqual(0.9 * probeIds.length);

    // Counting overrides three times moves the model further than counting them once. Measured
    // before calibration: the isotonic steps make the calibrated difference noisy at this size.
    const asOf = new Date(AS_OF);
    const peers = new PeerIndex(store.db);
    const raw = (weight: number) => {
      const rows = trainingRows(store, peers, asOf, 90, undefined, weight);
      const model = fitModel(rows, { seed: 7, calibrate: false });
      return mean(rows.filter((r) => r.campaign_id === 'c-ovr').map((r) => predict(model, r.features)));
    };
    expect(raw(3)).toBeGreaterThan(raw(1));
  });
});
