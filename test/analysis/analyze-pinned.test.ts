import { createHash } from 'node:crypto';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  explainTopFactors,
  fitModel,
  ModelScorer,
  predict,
  serializeModel,
} from '../../src/analysis/model.js';
import { generateDemo } from '../../src/demo/generate.js';
import { analyzeCampaigns, trainingRows } from '../../src/services/analyze.js';
import { loadSnapshot } from '../../src/services/load.js';
import { PeerIndex } from '../../src/store/peers.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/harness.js';

// Analysis results on a demo tenant bent into edge cases, pinned as digests. They were taken when the
// fast pass (merged range scans, single-pass peer index, cached model terms) was checked against the
// per-user, per-item pass it replaced, byte for byte. A digest that moves means results changed:
// intended changes update them (vitest -u), and the demo-truth test says whether they are still right.
const AS_OF = new Date('2026-11-28T00:00:00.000Z');
const tmp = tempDir();
let base: Store;

function copy(store: Store): Store {
  return new Store(new Database(store.db.serialize()));
}

function digest(value: unknown): string {
  return createHash('sha256')
    .update(typeof value === 'string' ? value : JSON.stringify(value))
    .digest('hex')
    .slice(0, 16);
}

function dump(store: Store): string[] {
  return (
    store.db
      .prepare(
        'SELECT id, risk_score, risk_level, signals, recommendation, analyzed_at IS NOT NULL AS a FROM review_items ORDER BY id',
      )
      .raw()
      .all() as unknown[][]
  ).map((r) => JSON.stringify(r));
}

beforeAll(async () => {
  await generateDemo(tmp.dir, { users: 800, asOf: AS_OF.toISOString() });
  base = Store.open(':memory:');
  const { report } = await loadSnapshot(base, tmp.dir, { asOf: AS_OF, dormantDays: 90 });
  expect(report.ok).toBe(true);
  base.db.exec(`
    UPDATE entitlements SET attributes = json_object('department', 'Finance', 'tier', 'gold') WHERE rowid % 7 = 0;
    UPDATE entitlements SET attributes = json_object('owner_department', 'Sales') WHERE rowid % 11 = 0;
    UPDATE entitlements SET app = NULL WHERE rowid % 9 = 0;
    UPDATE users SET attributes = json_set(attributes, '$.level', 5) WHERE rowid % 13 = 0;
    UPDATE users SET attributes = json_set(attributes, '$.level', '5') WHERE rowid % 17 = 0;
    UPDATE users SET attributes = json_set(attributes, '$.department', 'X', '$.constructor', 'Y') WHERE rowid % 19 = 0;
    UPDATE users SET attributes = json_set(attributes, '$.region', json('true')) WHERE rowid % 23 = 0;
    UPDATE users SET department = '' WHERE rowid % 37 = 0;
    UPDATE users SET department = NULL, title = NULL WHERE rowid % 41 = 0;
    UPDATE users SET status = 'suspended' WHERE rowid % 43 = 0;
    DELETE FROM assignments WHERE (user_id, entitlement_id) IN
      (SELECT user_id, entitlement_id FROM review_items WHERE rowid % 29 = 0);
    UPDATE OR IGNORE past_decisions SET decided_at = NULL WHERE id % 31 = 0;
    UPDATE campaigns SET status = 'active';
    PRAGMA foreign_keys = OFF;
    DELETE FROM users WHERE rowid % 97 = 0;
    DELETE FROM entitlements WHERE id = (SELECT entitlement_id FROM past_decisions ORDER BY decided_at DESC LIMIT 1);
    PRAGMA foreign_keys = ON;
  `);
});

afterAll(() => {
  base.close();
  tmp.cleanup();
});

describe('analysis results on an edge-case tenant', () => {
  it('builds the peer index it always has', () => {
    const fast = new PeerIndex(base.db);
    const values = new Set<string | null>([null, '', '5', 'true', '1']);
    for (const r of base.db
      .prepare('SELECT department, title, manager_id, location, attributes FROM users')
      .all() as Array<Record<string, string | null>>) {
      values.add(r.department!).add(r.title!).add(r.manager_id!).add(r.location!);
      for (const v of Object.values(JSON.parse(r.attributes!) as Record<string, unknown>))
        values.add(String(v));
    }
    const ents = (base.db.prepare('SELECT id FROM entitlements').pluck().all() as string[]).concat('nope');
    const stats: unknown[] = [];
    for (const kind of fast.kinds) {
      for (const v of [...values].slice(0, 120)) {
        for (const e of ents) {
          for (const active of [true, false]) stats.push(fast.statsFor([[kind.kind, v]], e, active, true));
        }
      }
    }
    expect({
      kinds: fast.kinds.map((k) => k.kind),
      home: digest([...fast.homeDepartment].sort()),
      stats: digest(stats),
    }).toMatchSnapshot();
  });

  it('makes the training rows it always has, with and without a limit', () => {
    const peers = new PeerIndex(base.db);
    const out = [undefined, 500, 0].map((limit) => {
      const rows = trainingRows(base, peers, AS_OF, 90, limit);
      return { limit: limit ?? null, rows: rows.length, digest: digest(rows) };
    });
    expect(out).toMatchSnapshot();
  });

  it('fits the model it always has, and scores it exactly as predict and explainTopFactors', () => {
    const peers = new PeerIndex(base.db);
    const rows = trainingRows(base, peers, AS_OF, 90);
    const model = fitModel(rows, { seed: 7 });
    expect({
      model: digest(serializeModel(model)),
      small: digest(serializeModel(fitModel(rows.slice(0, 700), { seed: 3, folds: 3 }))),
    }).toMatchSnapshot();
    const scorer = new ModelScorer(model);
    for (const r of rows.slice(0, 3000)) {
      const scored = scorer.score(r.features);
      expect(scored.probability).toBe(predict(model, r.features));
      expect(scored.topFactors(2)).toEqual(explainTopFactors(model, r.features, 2));
      expect(scored.topFactors()).toEqual(explainTopFactors(model, r.features));
    }
    // Terms of the user's own features, made from one of the user's rows, serve the others.
    const userFeature = (f: string): boolean =>
      ['department', 'title', 'manager', 'location', 'employee_type'].includes(f) || f.startsWith('attr:');
    const fixedOf = new Map<string, ReturnType<ModelScorer['fixedTerms']>>();
    for (const r of rows.slice(0, 3000)) {
      const user = r.key.split('\u0000')[0]!;
      let fixed = fixedOf.get(user);
      if (!fixed) {
        fixed = scorer.fixedTerms(r.features, userFeature);
        fixedOf.set(user, fixed);
      }
      const scored = scorer.score(r.features, fixed);
      expect(scored.probability).toBe(predict(model, r.features));
      expect(scored.topFactors(2)).toEqual(explainTopFactors(model, r.features, 2));
    }
    expect(fixedOf.size).toBeLessThan(2000);
  });

  it.each([
    { name: 'defaults', options: {} },
    { name: 'a bounded fit', options: { maxTrainingRows: 2000 } },
    { name: 'no model', options: { minTrainingRows: 1e9 } },
  ])('writes the scores, signals and recommendations it always has ($name)', ({ options }) => {
    const fast = copy(base);
    fast.db.exec(
      "UPDATE review_items SET risk_score = 0, risk_level = 'low', signals = '[]', recommendation = NULL",
    );
    const opts = { asOf: AS_OF, dormantDays: 90, ...options };
    const a = analyzeCampaigns(fast, opts);
    expect(a.items).toBeGreaterThan(5_000);
    const rows = dump(fast);
    expect({ result: digest(JSON.stringify(a)), items: rows.length, rows: digest(rows) }).toMatchSnapshot();
    // A second pass over its own results (scores mostly unchanged) writes the same again.
    analyzeCampaigns(fast, opts);
    expect(dump(fast)).toEqual(rows);
    fast.close();
  });
});
