import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { explainTopFactors, fitModel, ModelScorer, predict } from '../../src/analysis/model.js';
import { generateDemo } from '../../src/demo/generate.js';
import { analyzeCampaigns, trainingRows } from '../../src/services/analyze.js';
import { loadSnapshot } from '../../src/services/load.js';
import { PeerIndex } from '../../src/store/peers.js';
import { Store } from '../../src/store/store.js';
import { tempDir } from '../helpers/harness.js';
import {
  analyzeCampaigns as referenceAnalyze,
  trainingRows as referenceTrainingRows,
} from './reference/analyze.js';
import { fitModel as referenceFitModel, serializeModel } from './reference/model.js';
import { PeerIndex as ReferencePeerIndex } from './reference/peers.js';

// The fast analysis pass (merged range scans, single-pass peer index, cached model terms) must
// give exactly what the per-user, per-item pass gave, on a demo tenant bent into edge cases.
const AS_OF = new Date('2026-11-28T00:00:00.000Z');
const tmp = tempDir();
let base: Store;

function copy(store: Store): Store {
  return new Store(new Database(store.db.serialize()));
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

describe('fast analysis pass', () => {
  it('builds the same peer index as one GROUP BY per kind', () => {
    const fast = new PeerIndex(base.db);
    const ref = new ReferencePeerIndex(base.db);
    expect(fast.kinds).toEqual(ref.kinds);
    expect(new Map([...fast.homeDepartment].sort())).toEqual(new Map([...ref.homeDepartment].sort()));
    const values = new Set<string | null>([null, '', '5', 'true', '1']);
    for (const r of base.db
      .prepare('SELECT department, title, manager_id, location, attributes FROM users')
      .all() as Array<Record<string, string | null>>) {
      values.add(r.department!).add(r.title!).add(r.manager_id!).add(r.location!);
      for (const v of Object.values(JSON.parse(r.attributes!) as Record<string, unknown>))
        values.add(String(v));
    }
    const ents = (base.db.prepare('SELECT id FROM entitlements').pluck().all() as string[]).concat('nope');
    for (const kind of fast.kinds) {
      for (const v of [...values].slice(0, 120)) {
        for (const e of ents) {
          for (const active of [true, false]) {
            expect(fast.statsFor([[kind.kind, v]], e, active, true)).toEqual(
              ref.statsFor([[kind.kind, v]], e, active, true),
            );
          }
        }
      }
    }
  });

  it('makes the same training rows, with and without a limit', () => {
    const peers = new PeerIndex(base.db);
    for (const limit of [undefined, 500, 0]) {
      expect(trainingRows(base, peers, AS_OF, 90, limit)).toEqual(
        referenceTrainingRows(base, peers as unknown as ReferencePeerIndex, AS_OF, 90, limit),
      );
    }
  });

  it('fits the same model, and scores it exactly as predict and explainTopFactors', () => {
    const peers = new PeerIndex(base.db);
    const rows = trainingRows(base, peers, AS_OF, 90);
    const model = fitModel(rows, { seed: 7 });
    expect(serializeModel(model)).toBe(serializeModel(referenceFitModel(rows, { seed: 7 })));
    expect(serializeModel(fitModel(rows.slice(0, 700), { seed: 3, folds: 3 }))).toBe(
      serializeModel(referenceFitModel(rows.slice(0, 700), { seed: 3, folds: 3 })),
    );
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
  ])('writes the same scores, signals and recommendations ($name)', ({ options }) => {
    const fast = copy(base);
    const ref = copy(base);
    const clear =
      "UPDATE review_items SET risk_score = 0, risk_level = 'low', signals = '[]', recommendation = NULL";
    fast.db.exec(clear);
    ref.db.exec(clear);
    const opts = { asOf: AS_OF, dormantDays: 90, ...options };
    const a = analyzeCampaigns(fast, opts);
    const b = referenceAnalyze(ref, opts);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.items).toBeGreaterThan(5_000);
    const fastRows = dump(fast);
    expect(fastRows).toEqual(dump(ref));
    // A second pass over its own results (scores mostly unchanged) writes the same again.
    analyzeCampaigns(fast, opts);
    expect(dump(fast)).toEqual(fastRows);
    fast.close();
    ref.close();
  });
});
