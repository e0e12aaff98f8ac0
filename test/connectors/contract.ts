/**
 * The contract every connector passes (snapshot, Okta, Entra, Ping): it drives
 * the connector only through runSync and the IdentityConnector interface, and
 * checks the platform side through the subject's hooks.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConnectorError, type DecisionToApply, type IdentityConnector } from '../../src/connectors/types.js';
import type { Entitlement } from '../../src/domain/index.js';
import { runSync, syncStateKey } from '../../src/services/sync.js';
import { rowToEntitlement, Store } from '../../src/store/store.js';

export interface ContractSubject {
  connector: IdentityConnector;
  /** The same platform set up so that a sync fails (bad credentials, bad rows). */
  broken: IdentityConnector;
  /** Values that must never appear in an error message. */
  secrets: string[];
  /** The sync time to use (the data's "now"). */
  now: Date;
  /** Decision writes the platform received for a review item; null for a platform that records decisions locally. */
  decisionWrites(itemExternalId: string): number | null;
  /** Whether the platform still grants this access; null for a platform that keeps no state of its own. */
  holds(userExternalId: string, entitlementExternalId: string): boolean | null;
  /** Access remediate() can remove on this platform (default: any group or app). */
  canRemove?: (entitlement: Entitlement) => boolean;
  close(): Promise<void>;
}

const TABLES = [
  'users',
  'entitlements',
  'assignments',
  'activity_events',
  'campaigns',
  'review_items',
  'past_decisions',
];

/** Every row of the synced tables, without bookkeeping times. */
export function dumpStore(store: Store): Record<string, unknown[]> {
  const out: Record<string, unknown[]> = {};
  for (const t of TABLES) {
    out[t] = store.db
      .prepare(`SELECT * FROM ${t} ORDER BY 1, 2, 3`)
      .all()
      .map((r) => {
        const { updated_at: _u, analyzed_at: _a, ...rest } = r as Record<string, unknown>;
        return rest;
      });
  }
  return out;
}

export function connectorContract(name: string, make: () => Promise<ContractSubject>): void {
  describe(`${name} connector contract`, () => {
    let s: ContractSubject;
    let store: Store;
    beforeEach(async () => {
      s = await make();
      store = Store.open(':memory:');
    });
    afterEach(async () => {
      store.close();
      await s.close();
    });
    const sync = (connector = s.connector) => runSync(store, connector, { now: s.now, dormantDays: 90 });

    const pendingItem = () =>
      store.db
        .prepare(
          `SELECT i.external_id AS item, c.external_id AS campaign, u.external_id AS user, e.external_id AS ent, e.type
           FROM review_items i JOIN campaigns c ON c.id = i.campaign_id JOIN users u ON u.id = i.user_id
           JOIN entitlements e ON e.id = i.entitlement_id
           WHERE c.status = 'active' AND i.status = 'pending' ORDER BY i.id LIMIT 1`,
        )
        .get() as
        | { item: string; campaign: string; user: string; ent: string; type: 'group' | 'app' | 'role' }
        | undefined;

    it('a first sync fills a fresh store with users, entitlements, assignments and a campaign with items', async () => {
      const result = await sync();
      const counts = store.counts();
      expect(counts.users).toBeGreaterThan(0);
      expect(counts.entitlements).toBeGreaterThan(0);
      expect(counts.assignments).toBeGreaterThan(0);
      expect(result.summary.platform).toBe(s.connector.platform);
      expect(result.durationMs).toBeGreaterThanOrEqual(0);
      const campaign = store.listCampaigns('active').find((c) => c.counts.total > 0);
      expect(campaign).toBeDefined();
      const page = store.campaignItemsPage({
        campaign_id: campaign!.id,
        status: 'all',
        sort: 'risk',
        limit: 500,
      });
      expect(page.items.length).toBe(Math.min(500, campaign!.counts.total));
      for (const item of page.items) {
        expect(item.user.platform).toBe(s.connector.platform);
        expect(item.entitlement.platform).toBe(s.connector.platform);
      }
      expect(store.getMeta(syncStateKey(s.connector.platform))).toBeDefined();
    });

    it('a second sync is idempotent: same rows, no duplicates', async () => {
      await sync();
      const first = dumpStore(store);
      await sync();
      expect(dumpStore(store)).toEqual(first);
    });

    it('applyDecision twice with the same key is done both times and reaches the platform once', async () => {
      await sync();
      const item = pendingItem();
      expect(item).toBeDefined();
      const decision: DecisionToApply = {
        idempotency_key: 'proposal-contract-1',
        item_external_id: item!.item,
        campaign_external_id: item!.campaign,
        user_external_id: item!.user,
        entitlement_external_id: item!.ent,
        entitlement_type: item!.type,
        decision: 'revoke',
        rationale: 'No sign-in to the app in 120 days.',
        proposed_by: 'agent:contract',
        confirmed_by: 'reviewer@example.com',
        channel: 'cli',
        engine_recommended: true,
      };
      const first = await s.connector.applyDecision(decision);
      const second = await s.connector.applyDecision(decision);
      expect(first.status).toBe('done');
      expect(second.status).toBe('done');
      expect(
        first.status === 'done' && second.status === 'done' && second.platform_ref === first.platform_ref,
      ).toBe(true);
      const writes = s.decisionWrites(item!.item);
      if (s.connector.capabilities.writeBack) {
        expect(writes).toBe(1);
        // The platform now holds the decision, and the next sync brings it back as decided.
        await sync();
        const row = store.db
          .prepare(`SELECT status FROM review_items WHERE platform = ? AND external_id = ?`)
          .get(s.connector.platform, item!.item) as { status: string };
        expect(row.status).toBe('decided');
      } else {
        expect(writes ?? 0).toBe(0);
      }
    });

    it('remediate removes the access and is idempotent', async () => {
      await sync();
      const rows = store.db
        .prepare(
          `SELECT u.external_id AS user, e.* FROM assignments a JOIN users u ON u.id = a.user_id
           JOIN entitlements e ON e.id = a.entitlement_id
           WHERE a.source = 'direct' AND e.type IN ('group', 'app') ORDER BY a.user_id, a.entitlement_id LIMIT 200`,
        )
        .all() as Array<Record<string, unknown> & { user: string }>;
      const canRemove = s.canRemove ?? (() => true);
      const row = rows.find((r) => {
        const e = rowToEntitlement(r);
        return canRemove(e) && s.holds(r.user, e.external_id) !== false;
      });
      expect(row).toBeDefined();
      const ent = rowToEntitlement(row!);
      const request = {
        idempotency_key: 'proposal-contract-2:remediate',
        user_external_id: row!.user,
        entitlement_external_id: ent.external_id,
        entitlement_type: ent.type,
        entitlement_attributes: ent.attributes,
      };
      const first = await s.connector.remediate(request);
      const second = await s.connector.remediate(request);
      expect(first.status).toBe('done');
      expect(second.status).toBe('done');
      const held = s.holds(row!.user, ent.external_id);
      if (s.connector.capabilities.remediate && held !== null) expect(held).toBe(false);
    });

    it('a failed sync is reported clearly, leaks no secret, and the store keeps the last good sync', async () => {
      await sync();
      const before = dumpStore(store);
      const state = store.getMeta(syncStateKey(s.connector.platform));
      const error = await sync(s.broken).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConnectorError);
      const message = (error as ConnectorError).message;
      expect(message.length).toBeGreaterThan(10);
      for (const secret of s.secrets) expect(message).not.toContain(secret);
      expect(dumpStore(store)).toEqual(before);
      expect(store.getMeta(syncStateKey(s.connector.platform))).toBe(state);
    });
  });
}
