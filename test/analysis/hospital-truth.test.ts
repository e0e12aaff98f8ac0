import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateHospital } from '../../src/demo/hospital.js';
import { signalCodes } from '../../src/domain/index.js';
import { loadSnapshot } from '../../src/services/load.js';
import { runShadow } from '../../src/services/shadow.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/harness.js';

// A tenant this project's demo generator did not make: the engine is judged against truth built
// from how each grant was made there.
const AS_OF = '2026-11-28T00:00:00.000Z';
const tmp = tempDir();
let store: Store;
interface Truth {
  user: string;
  ent: string;
  signals: Set<string>;
  revoke: boolean;
  birthright: boolean;
}
let truth: Map<string, Truth>;
let got: Map<string, { signals: Set<string>; decision: string; rationale: string }>;
/** What each entitlement grants, transitively, read from the snapshot's own includes column. */
let grants: Map<string, Set<string>>;
let held: Map<string, Set<string>>;

beforeAll(async () => {
  await generateHospital(tmp.dir, { users: 3000, asOf: AS_OF });
  store = Store.open(':memory:');
  const { report } = await loadSnapshot(store, tmp.dir, { asOf: new Date(AS_OF), dormantDays: 90 });
  expect(report.ok, JSON.stringify(report).slice(0, 500)).toBe(true);
  const csv = (f: string) =>
    parse(readFileSync(join(tmp.dir, f)), { columns: true }) as Array<Record<string, string>>;
  truth = new Map(
    csv('truth.csv').map((r) => [
      r.item_id!,
      {
        user: r.user_id!,
        ent: r.entitlement_id!,
        signals: new Set(r.signals ? r.signals.split(';') : []),
        revoke: r.should_revoke === 'true',
        birthright: r.birthright === 'true',
      },
    ]),
  );
  const direct = new Map(
    csv('entitlements.csv').map((e) => [e.id!, e.includes ? e.includes.split(';') : []]),
  );
  grants = new Map();
  for (const id of direct.keys()) {
    const out = new Set<string>();
    const stack = [...direct.get(id)!];
    while (stack.length > 0) {
      const x = stack.pop()!;
      if (out.has(x)) continue;
      out.add(x);
      stack.push(...(direct.get(x) ?? []));
    }
    grants.set(id, out);
  }
  held = new Map();
  for (const a of csv('assignments.csv')) {
    if (!held.has(a.user_id!)) held.set(a.user_id!, new Set());
    held.get(a.user_id!)!.add(a.entitlement_id!);
  }
  got = new Map(
    (
      store.db.prepare('SELECT id, signals, recommendation FROM review_items').all() as Array<{
        id: string;
        signals: string;
        recommendation: string;
      }>
    ).map((r) => {
      const rec = JSON.parse(r.recommendation) as { decision: string; rationale: string };
      return [
        r.id,
        {
          signals: new Set((JSON.parse(r.signals) as Array<{ code: string }>).map((s) => s.code)),
          decision: rec.decision,
          rationale: rec.rationale,
        },
      ];
    }),
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
  const misses: string[] = [];
  for (const [id, t] of truth) {
    const g = got.get(id)!.signals.has(code);
    if (g && t.signals.has(code)) tp++;
    else if (g) {
      fp++;
      if (misses.length < 3) misses.push(`fp ${id} ${t.user} ${t.ent}`);
    } else if (t.signals.has(code)) {
      fn++;
      if (misses.length < 3) misses.push(`fn ${id} ${t.user} ${t.ent}`);
    }
  }
  return { tp, fp, fn, recall: tp / (tp + fn), precision: tp / (tp + fp), misses };
}

describe('analysis against a hospital-shaped tenant', () => {
  it('scores every item of the campaign', () => {
    expect(got.size).toBe(truth.size);
    expect(truth.size).toBeGreaterThan(30_000);
  });

  it.each(signalCodes)('signal %s has recall ≥ 0.9 and precision ≥ 0.9', (code) => {
    const s = score(code);
    expect(s.tp + s.fn, `${code} is planted`).toBeGreaterThan(0);
    expect(s.recall, JSON.stringify(s)).toBeGreaterThanOrEqual(0.9);
    expect(s.precision, JSON.stringify(s)).toBeGreaterThanOrEqual(0.9);
  });

  it('recommends revoke for ≥ 90% of the items that should go and ≤ 2% of clean items', () => {
    let shouldGo = 0;
    let revokedShouldGo = 0;
    let clean = 0;
    let revokedClean = 0;
    for (const [id, t] of truth) {
      const d = got.get(id)!.decision;
      if (t.revoke) {
        shouldGo++;
        if (d === 'revoke') revokedShouldGo++;
      } else if ([...t.signals].every((s) => s === 'privileged')) {
        clean++;
        if (d === 'revoke') revokedClean++;
      }
    }
    const figures = { shouldGo, revokedShouldGo, clean, revokedClean };
    expect(clean, 'most access is clean').toBeGreaterThan(truth.size / 2);
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

  it('names, on every revoke for redundancy, a held entitlement that grants the access', () => {
    let n = 0;
    for (const [id, g] of got) {
      if (g.decision !== 'revoke' || !/redundan/i.test(g.rationale)) continue;
      n++;
      const t = truth.get(id)!;
      const named = [...g.rationale.matchAll(/\(([^()\s]+)\)/g)].map((m) => m[1]!);
      const keeper = named.find((k) => held.get(t.user)!.has(k) && k !== t.ent);
      expect(keeper, g.rationale).toBeDefined();
      const mine = grants.get(t.ent)!;
      const theirs = grants.get(keeper!)!;
      expect(theirs.has(t.ent) || (mine.size > 0 && [...mine].every((x) => theirs.has(x))), g.rationale).toBe(
        true,
      );
    }
    expect(n).toBeGreaterThan(50);
  });

  it('revokes no birthright access on soft signals alone', () => {
    const hard = /terminated|deprovisioned|contract ended|moved|Privileged access unused|Redundant: /;
    let birthrights = 0;
    for (const [id, t] of truth) {
      if (!t.birthright) continue;
      birthrights++;
      const g = got.get(id)!;
      if (g.decision === 'revoke') expect(g.rationale, `${t.user} ${t.ent}`).toMatch(hard);
    }
    expect(birthrights).toBeGreaterThan(truth.size / 2);
  });
});
