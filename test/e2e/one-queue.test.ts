/**
 * One queue: Okta, Entra ID and Ping synced from their emulators into one store, served
 * through a real MCP client. Each person is one user per platform (Ping's certification items
 * join its directory's people), every platform's campaigns are in list_campaigns, and
 * get_campaign_summary answers for each of them.
 */
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectorForSync } from '../../src/connectors/registry.js';
import { runSync } from '../../src/services/sync.js';
import { Store } from '../../src/store/store.js';
import { type EntraEmulator, generateEntraTenant, startEntraEmulator } from '../emulators/entra.js';
import { generateOktaOrg, type OktaEmulator, startOktaEmulator } from '../emulators/okta.js';
import { generatePingTenant, type PingEmulator, startPingEmulator } from '../emulators/ping.js';
import { pingEnv } from '../emulators/ping-env.js';
import { tempDir } from '../helpers/harness.js';
import { connectInProcess, entraEnv, oktaEnv } from './platform-helpers.js';

const tmp = tempDir();
const now = new Date('2026-11-28T00:00:00.000Z');
let okta: OktaEmulator;
let entra: EntraEmulator;
let ping: PingEmulator;

beforeAll(async () => {
  [okta, entra, ping] = await Promise.all([
    startOktaEmulator({ org: generateOktaOrg({ users: 20, assignments: 100, now, reviews: 20 }) }),
    startEntraEmulator({ tenant: generateEntraTenant({ users: 20, assignments: 120, now, reviews: 20 }) }),
    startPingEmulator({ tenant: generatePingTenant({ users: 20, items: 20, now }) }),
  ]);
});
afterAll(async () => {
  await Promise.all([okta?.close(), entra?.close(), ping?.close()]);
  tmp.cleanup();
});

describe('one queue for Okta, Entra ID and Ping', () => {
  it('syncs all three into one store: each person once per platform, every campaign listed and summarised', async () => {
    const env: Record<string, string> = {
      ...oktaEnv(okta),
      ...entraEnv(entra),
      ...pingEnv(ping, 'both', { PINGONE_AUDIT_DAYS: '1' }),
    };
    const store = Store.open(join(tmp.dir, 'one.db'));
    try {
      for (const platform of ['okta', 'entra', 'ping'])
        await runSync(store, connectorForSync(platform, env), { now, dormantDays: 90 });

      // Each person once per platform: no platform holds two users with one email.
      const people = store.db
        .prepare(
          'SELECT platform, count(*) AS n, count(email) AS with_email, count(DISTINCT lower(email)) AS emails FROM users GROUP BY platform ORDER BY platform',
        )
        .all() as Array<{ platform: string; n: number; with_email: number; emails: number }>;
      expect(people.map((p) => p.platform)).toEqual(['entra', 'okta', 'ping']);
      for (const p of people) expect(p.emails, p.platform).toBe(p.with_email);
      // Ping's certification items name their PingOne user: only AIC's own two users are added.
      const pingUsers = people.find((p) => p.platform === 'ping')!;
      expect(pingUsers.n).toBe(ping.tenant.users.length + 2);
      expect(okta.org.users.length).toBe(people.find((p) => p.platform === 'okta')!.n);

      const { client, call } = await connectInProcess(
        store,
        new Client({ name: 'e2e-one-queue', version: '1' }),
        async () => {},
      );
      const { campaigns } = await call<{
        campaigns: Array<{ id: string; platform: string; counts: { total: number } }>;
      }>('list_campaigns', { status: 'active' });
      expect(new Set(campaigns.map((c) => c.platform))).toEqual(new Set(['okta', 'entra', 'ping']));
      for (const c of campaigns) {
        const s = await call<{ campaign: { id: string; platform: string; counts: { total: number } } }>(
          'get_campaign_summary',
          { campaign_id: c.id },
        );
        expect(s.campaign).toMatchObject({
          id: c.id,
          platform: c.platform,
          counts: { total: c.counts.total },
        });
      }
      await client.close();
    } finally {
      store.close();
    }
  });
});
