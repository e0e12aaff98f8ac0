/**
 * The contract every connector passes (snapshot, Okta, Entra, Ping): it drives
 * the connector only through runSync and its capability groups, and checks the
 * platform side through the subject's hooks. A platform without a fault model
 * (the snapshot) leaves those hooks out and those cases out with them.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type CapabilityName,
  ConnectorError,
  type ConnectorRegistration,
  type DecisionToApply,
  type IdentityConnector,
} from '../../src/connectors/types.js';
import type { Entitlement } from '../../src/domain/index.js';
import { runSync, syncStateKey } from '../../src/services/sync.js';
import { rowToEntitlement, Store } from '../../src/store/store.js';

export interface ContractSubject {
  connector: IdentityConnector;
  /** The registration the platform's connectors come from: its declared capabilities must be the connector's. */
  registration: ConnectorRegistration;
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
  /**
   * Removes one directly held access on the platform, the way an admin would, and returns
   * it (external ids). The next sync, incremental where the platform has it, must drop it.
   */
  removeAccess(): { user: string; entitlement: string };
  /**
   * Where this set-up's campaigns are reviewed: `platform` (default), the platform's own reviews,
   * where confirmed decisions are written back; `attest`, campaigns of Attest's own (a directory
   * with no review of its own): a decision is skipped on the platform and nothing is written there.
   */
  reviews?: 'platform' | 'attest';
  /**
   * Who removes revoked access: `attest` (default), remediation removes it on the platform;
   * `platform`, the platform's review does (its access is its own): byPlatform says so for the
   * campaign's items, and a removal asked of Attest is refused, naming who removes it.
   */
  removal?: 'attest' | 'platform';
  /** A platform that pages, throttles and can revoke credentials. */
  faults?: {
    /** A connector for the same platform with page sizes small enough that every list spans several pages. */
    paged: IdentityConnector;
    /** Lists (by name) read since the log was cleared, with the most pages one listing of each took. */
    pagesRead(): Record<string, number>;
    clearLog(): void;
    /** The platform answers the next matching request after `after` more with this status (Retry-After set). */
    inject(status: 429 | 503, after: number): void;
    /** How often the platform answered this status, and how often a request that got it was sent again. */
    answered(status: 429 | 503): { times: number; retried: number };
    /** The credential stops working after `n` more requests (tokens issued with it too). */
    revokeAfter(n: number): void;
  };
  close(): Promise<void>;
}

const TABLES = [
  'users',
  'entitlements',
  'assignments',
  'entitlement_includes',
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

function groupsOf(c: IdentityConnector): CapabilityName[] {
  const all: CapabilityName[] = ['sync', 'incremental', 'writeBack', 'remediation', 'campaigns', 'roles'];
  return all.filter((g) => c[g] !== undefined);
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
    const sync = (connector = s.connector, now = s.now) =>
      runSync(store, connector, { now, dormantDays: 90 });

    const pendingItem = () =>
      store.db
        .prepare(
          `SELECT i.external_id AS item, c.external_id AS campaign, u.external_id AS user, e.external_id AS ent, e.type,
             i.platform_coordinates AS coordinates
           FROM review_items i JOIN campaigns c ON c.id = i.campaign_id JOIN users u ON u.id = i.user_id
           JOIN entitlements e ON e.id = i.entitlement_id
           WHERE c.status = 'active' AND i.status = 'pending' ORDER BY i.id LIMIT 1`,
        )
        .get() as
        | {
            item: string;
            campaign: string;
            user: string;
            ent: string;
            type: 'group' | 'app' | 'role';
            coordinates: string;
          }
        | undefined;

    it('has the capability groups its registration declares, and a sync', () => {
      expect(groupsOf(s.connector)).toEqual(
        (['sync', 'incremental', 'writeBack', 'remediation', 'campaigns', 'roles'] as const).filter((g) =>
          s.registration.capabilities.includes(g),
        ),
      );
      expect(s.connector.sync).toBeDefined();
      expect(s.connector.platform).toBe(s.registration.name);
    });

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

    it('applying a decision twice with the same key is done both times and reaches the platform once', async () => {
      await sync();
      const item = pendingItem();
      expect(item).toBeDefined();
      const decision: DecisionToApply = {
        idempotency_key: 'proposal-contract-1',
        item_external_id: item!.item,
        campaign_external_id: item!.campaign,
        item_coordinates: JSON.parse(item!.coordinates) as Record<string, string>,
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
      const writeBack = s.connector.writeBack;
      if (!writeBack) {
        expect(s.decisionWrites(item!.item) ?? 0).toBe(0);
        return;
      }
      if (s.reviews === 'attest') {
        // Attest's own campaign: nothing to record on the platform, both times, and nothing written.
        for (const outcome of [await writeBack.apply(decision), await writeBack.apply(decision)]) {
          expect(outcome.status).toBe('skipped');
          expect(outcome.status === 'skipped' && outcome.detail.length).toBeGreaterThan(10);
        }
        expect(s.decisionWrites(item!.item) ?? 0).toBe(0);
        return;
      }
      const first = await writeBack.apply(decision);
      const second = await writeBack.apply(decision);
      expect(first.status).toBe('done');
      expect(second.status).toBe('done');
      expect(
        first.status === 'done' && second.status === 'done' && second.platform_ref === first.platform_ref,
      ).toBe(true);
      expect(s.decisionWrites(item!.item)).toBe(1);
      // The platform now holds the decision, and the next sync brings it back as decided.
      await sync();
      const row = store.db
        .prepare(`SELECT status FROM review_items WHERE platform = ? AND external_id = ?`)
        .get(s.connector.platform, item!.item) as { status: string };
      expect(row.status).toBe('decided');
    });

    it('removing access is done, idempotent, and the platform no longer grants it', async () => {
      await sync();
      if (s.removal === 'platform') {
        // The platform's review removes its access: Attest says so, and removes nothing itself.
        const item = pendingItem();
        expect(item).toBeDefined();
        const platformItem = {
          item_external_id: item!.item,
          campaign_external_id: item!.campaign,
          item_coordinates: JSON.parse(item!.coordinates) as Record<string, string>,
        };
        expect(s.connector.remediation?.byPlatform?.(platformItem)).toMatch(/\w{10,}/);
        const refused = await s.connector.remediation!.remove({
          idempotency_key: 'proposal-contract-2:remediate',
          user_external_id: item!.user,
          entitlement_external_id: item!.ent,
          entitlement_type: item!.type,
          entitlement_attributes: {},
        });
        expect(refused).toMatchObject({ status: 'failed', retryable: false });
        if (s.holds(item!.user, item!.ent) !== null) expect(s.holds(item!.user, item!.ent)).toBe(true);
        return;
      }
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
      const remediation = s.connector.remediation;
      expect(remediation).toBeDefined();
      const first = await remediation!.remove(request);
      const second = await remediation!.remove(request);
      expect(first.status).toBe('done');
      expect(second.status).toBe('done');
      const held = s.holds(row!.user, ent.external_id);
      if (held !== null) expect(held).toBe(false);
    });

    it('access removed on the platform is gone from the store after the next sync', async () => {
      await sync();
      const { user, entitlement } = s.removeAccess();
      const key = (u: string, e: string) =>
        store.db
          .prepare(
            `SELECT count(*) AS n FROM assignments a JOIN users u ON u.id = a.user_id JOIN entitlements e
             ON e.id = a.entitlement_id WHERE u.external_id = ? AND e.external_id = ? AND a.platform = ?`,
          )
          .get(u, e, s.connector.platform) as { n: number };
      expect(key(user, entitlement).n).toBe(1);
      const before = store.counts().assignments!;
      // A minute later: well within a full-sync interval, so a platform with incremental syncs uses one.
      const result = await sync(s.connector, new Date(s.now.getTime() + 60_000));
      expect(key(user, entitlement).n).toBe(0);
      expect(store.counts().assignments).toBe(before - 1);
      expect(result.summary.removed.assignments ?? 0).toBeGreaterThanOrEqual(1);
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

    it('pages through every list over several pages and stores what one-page reads store', async () => {
      const f = s.faults;
      if (!f) return;
      await sync();
      const whole = dumpStore(store);
      const paged = Store.open(':memory:');
      try {
        f.clearLog();
        await runSync(paged, f.paged, { now: s.now, dormantDays: 90 });
        const pages = f.pagesRead();
        const multi = Object.entries(pages).filter(([, n]) => n > 1);
        expect(multi.length, JSON.stringify(pages)).toBeGreaterThan(3);
        expect(dumpStore(paged)).toEqual(whole);
      } finally {
        paged.close();
      }
    });

    it('a 429 and a 503 in the middle of a sync are waited out and the sync completes', async () => {
      const f = s.faults;
      if (!f) return;
      await sync();
      const clean = dumpStore(store);
      const again = Store.open(':memory:');
      try {
        f.inject(429, 3);
        f.inject(503, 8);
        await runSync(again, s.connector, { now: s.now, dormantDays: 90 });
        expect(f.answered(429)).toMatchObject({ times: 1, retried: 1 });
        expect(f.answered(503)).toMatchObject({ times: 1, retried: 1 });
        expect(dumpStore(again)).toEqual(clean);
      } finally {
        again.close();
      }
    });

    it('a credential revoked in the middle of a sync fails as auth and the store keeps exactly the last good sync', async () => {
      const f = s.faults;
      if (!f) return;
      await sync();
      const before = dumpStore(store);
      const state = store.getMeta(syncStateKey(s.connector.platform));
      f.revokeAfter(4);
      const error = (await sync(s.connector, new Date(s.now.getTime() + 1000)).catch((e) => e)) as Error;
      expect(error).toBeInstanceOf(ConnectorError);
      expect((error as ConnectorError).kind).toBe('auth');
      for (const secret of s.secrets) expect(error.message).not.toContain(secret);
      expect(dumpStore(store)).toEqual(before);
      expect(store.getMeta(syncStateKey(s.connector.platform))).toBe(state);
    });
  });
}
