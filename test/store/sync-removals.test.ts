import { describe, expect, it } from 'vitest';
import { StagedSync } from '../../src/store/staged-sync.js';
import { Store } from '../../src/store/store.js';

/** A platform's first sync: two users, two groups, three memberships, a campaign with one item. */
function seeded() {
  const store = Store.open(':memory:');
  const sink = new StagedSync(store.db, 'entra');
  sink.users([{ external_id: 'u1' }, { external_id: 'u2' }]);
  sink.entitlements([
    { external_id: 'g1', name: 'One', includes: ['g2'] },
    { external_id: 'g2', name: 'Two', includes: [] },
  ]);
  sink.assignments([
    { user_external_id: 'u1', entitlement_external_id: 'g1' },
    { user_external_id: 'u1', entitlement_external_id: 'g2' },
    { user_external_id: 'u2', entitlement_external_id: 'g2' },
  ]);
  sink.campaigns([{ external_id: 'c1', name: 'Review' }]);
  sink.reviewItems([
    {
      external_id: 'i1',
      campaign_external_id: 'c1',
      user_external_id: 'u2',
      entitlement_external_id: 'g2',
      coordinates: { instance_id: 'c1', decision_id: 'd1' },
      attributes: { entra_recommendation: 'Deny' },
      decided: { decision: 'escalate', decided_by: 'entra:u1', decided_at: '2026-11-01T00:00:00.000Z' },
    },
  ]);
  expect(sink.validate(10).total).toBe(0);
  sink.commit({ replaceAssignments: true });
  return store;
}

const held = (store: Store) =>
  (
    store.db.prepare('SELECT user_id, entitlement_id FROM assignments ORDER BY 1, 2').all() as Array<{
      user_id: string;
      entitlement_id: string;
    }>
  ).map((r) => `${r.user_id}>${r.entitlement_id}`);

describe('sync removals, per-entitlement replacement and platform coordinates', () => {
  it('applies reported removals, keeps a deleted user as deprovisioned without access, and never removes what the same sync staged', () => {
    const store = seeded();
    const sink = new StagedSync(store.db, 'entra');
    sink.assignments([{ user_external_id: 'u2', entitlement_external_id: 'g2' }]);
    sink.removals([
      { kind: 'assignment', user_external_id: 'u1', entitlement_external_id: 'g2' },
      // Re-added in this same sync: stays.
      { kind: 'assignment', user_external_id: 'u2', entitlement_external_id: 'g2' },
      { kind: 'user', external_id: 'u1' },
      // Unknown ids are nothing to remove, not an error.
      { kind: 'entitlement', external_id: 'g9' },
    ]);
    expect(sink.validate(10).total).toBe(0);
    const summary = sink.commit({ replaceAssignments: false });
    expect(held(store)).toEqual(['entra:u2>entra:g2']);
    expect(store.getUser('entra:u1')?.status).toBe('deprovisioned');
    expect(summary.removed).toMatchObject({ assignments: 2, users: 1 });
    store.close();
  });

  it('a removed entitlement loses its holders and its includes both ways', () => {
    const store = seeded();
    const sink = new StagedSync(store.db, 'entra');
    sink.removals([{ kind: 'entitlement', external_id: 'g2' }]);
    sink.commit({ replaceAssignments: false });
    expect(held(store)).toEqual(['entra:u1>entra:g1']);
    expect(store.db.prepare('SELECT count(*) AS n FROM entitlement_includes').get()).toEqual({ n: 0 });
    store.close();
  });

  it('replaces the assignments of entitlements read in full, leaving the others, and includes without the record', () => {
    const store = seeded();
    const sink = new StagedSync(store.db, 'entra');
    sink.assignments([{ user_external_id: 'u1', entitlement_external_id: 'g2' }]);
    sink.replaceAssignmentsOf(['g2']);
    sink.includes([{ external_id: 'g1', includes: [] }]);
    expect(sink.validate(10).total).toBe(0);
    sink.commit({ replaceAssignments: false });
    expect(held(store)).toEqual(['entra:u1>entra:g1', 'entra:u1>entra:g2']);
    expect(store.db.prepare('SELECT count(*) AS n FROM entitlement_includes').get()).toEqual({ n: 0 });
    store.close();
  });

  it('refuses includes for an entitlement the store does not know', () => {
    const store = seeded();
    const sink = new StagedSync(store.db, 'entra');
    sink.includes([{ external_id: 'g7', includes: ['g1'] }]);
    const { issues } = sink.validate(10);
    expect(issues.map((i) => i.reason)).toEqual(['unknown entitlement "g7" given includes']);
    sink.abort();
    store.close();
  });

  it("keeps an item's platform coordinates and attributes, and a platform's don't-know as an escalation", () => {
    const store = seeded();
    expect(store.itemPlatformDetails('entra:i1')).toEqual({
      coordinates: { instance_id: 'c1', decision_id: 'd1' },
      attributes: { entra_recommendation: 'Deny' },
    });
    expect(store.getItem('entra:i1')).toMatchObject({
      status: 'decided',
      decision: { decision: 'escalate' },
    });
    store.close();
  });
});
