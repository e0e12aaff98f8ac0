import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { runOutbox } from '../../src/services/outbox.js';
import { Store } from '../../src/store/store.js';
import { generateOktaOrg, type OktaEmulator, startOktaEmulator } from '../emulators/okta.js';
import { tempDir } from '../helpers/harness.js';
import {
  confirmingClient,
  connectInProcess,
  type ListedItem,
  oktaEnv,
  runCliAsync,
  serveWithSync,
} from './platform-helpers.js';

const tmp = tempDir();
const now = new Date('2026-11-28T00:00:00.000Z');
let emu: OktaEmulator;
let env: Record<string, string>;

const cli = (args: string[], extra: Record<string, string> = {}) => runCliAsync(args, { ...env, ...extra });

/** The client connected in process; the outbox applies on the emulator. */
const connect = (store: Store, client: Client) =>
  connectInProcess(store, client, async () => {
    await runOutbox(store, createConnectorRegistry(env));
  });
const confirming = () => confirmingClient('e2e-okta');
const notEliciting = () => new Client({ name: 'e2e-okta', version: '1' }, { capabilities: {} });

beforeAll(async () => {
  emu = await startOktaEmulator({ org: generateOktaOrg({ users: 30, assignments: 160, now, reviews: 40 }) });
  env = oktaEnv(emu);
});
afterAll(async () => {
  await emu?.close();
  tmp.cleanup();
});

/** Items whose access a revoke can remove: memberships of Okta-mastered groups (not APP_GROUPs). */
function groupItems(store: Store, items: ListedItem[]) {
  return items.filter(
    (i) => store.getEntitlement(i.entitlement.id)?.attributes.okta_group_type === 'OKTA_GROUP',
  );
}

const ext = (id: string) => id.replace(/^okta:/, '');

describe('Okta end to end (built CLI + emulator)', () => {
  it('syncs, lists through MCP, confirms by elicitation, and the decision and removal reach Okta once', async () => {
    const db = join(tmp.dir, 'okta.db');
    const synced = await cli(['sync', 'okta', '--db', db]);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toMatch(/Synced okta in .* with \d+ requests/);
    expect(synced.stdout + synced.stderr).not.toContain(emu.token);

    const store = Store.open(db);
    const { client, call } = await connect(store, confirming());
    const campaigns = await call<{ campaigns: Array<{ id: string; platform: string }> }>('list_campaigns', {
      status: 'active',
    });
    const campaign = campaigns.campaigns.find((c) => c.platform === 'okta')!;
    expect(campaign).toBeDefined();
    const page = await call<{ items: ListedItem[] }>('list_campaign_items', {
      campaign_id: campaign.id,
      limit: 500,
    });
    // Reviews owned by the principals' managers, not by the API token's user: the emulator, like
    // Okta, lets the /my/ endpoints decide only the caller's own reviews.
    const owner = emu.org.users[0]!.id;
    const [revoke, approve] = groupItems(store, page.items).filter(
      (i) => emu.org.review(ext(i.item_id))!.reviewerId !== owner,
    );
    expect(revoke && approve).toBeTruthy();
    const managers = [revoke!, approve!].map((i) => emu.org.review(ext(i.item_id))!.reviewerId);
    const user = ext(revoke!.user.id);
    const group = ext(revoke!.entitlement.id);
    expect(emu.org.isMember(group, user)).toBe(true);

    const p1 = await call<{ proposal_id: string }>('propose_decision', {
      item_id: revoke!.item_id,
      decision: 'revoke',
      rationale: 'Unused for months',
    });
    const p2 = await call<{ proposal_id: string }>('propose_decision', {
      item_id: approve!.item_id,
      decision: 'approve',
      rationale: 'Needed',
    });
    const r = await call<{ status: string; results: Array<{ status: string; platform_ref?: string }> }>(
      'submit_decision',
      {
        proposal_ids: [p1.proposal_id, p2.proposal_id],
      },
    );
    expect(r.status).toBe('applied');
    expect(r.results.map((x) => x.status)).toEqual(['applied', 'applied']);
    const actions = emu.org.reviewActions.filter((a) =>
      [ext(revoke!.item_id), ext(approve!.item_id)].includes(a.reviewId),
    );
    expect(actions.map((a) => a.action).sort()).toEqual(['APPROVE', 'REVOKE']);
    expect(actions.find((a) => a.action === 'REVOKE')!.note).toMatch(/confirmed by analyst@example.com/);
    // Each was first reassigned from its manager to Attest's user, with a note naming who confirmed.
    const moved = emu.org.reassignments.filter((x) =>
      [ext(revoke!.item_id), ext(approve!.item_id)].includes(x.reviewId),
    );
    expect(moved.map((x) => x.from).sort()).toEqual([...managers].sort());
    for (const m of moved) {
      expect(m.to).toBe(owner);
      expect(m.note).toMatch(
        /to Attest to record the decision analyst@example.com confirmed via elicitation/,
      );
    }
    expect(emu.org.isMember(group, user)).toBe(false);

    // Submitting again changes nothing on Okta.
    const before = emu.requests.length;
    await call('submit_decision', { proposal_ids: [p1.proposal_id, p2.proposal_id] });
    expect(emu.requests.slice(before).filter((q) => q.method !== 'GET')).toEqual([]);
    await client.close();
    store.close();
  });

  it('a process killed right after the confirmation applies each decision on Okta exactly once after restart', async () => {
    const db = join(tmp.dir, 'okta-kill.db');
    expect((await cli(['sync', 'okta', '--db', db])).code).toBe(0);
    const store = Store.open(db);
    const { client, call } = await connect(store, notEliciting());
    const campaign = (
      await call<{ campaigns: Array<{ id: string; platform: string }> }>('list_campaigns', {})
    ).campaigns.find((c) => c.platform === 'okta')!;
    const items = groupItems(
      store,
      (await call<{ items: ListedItem[] }>('list_campaign_items', { campaign_id: campaign.id, limit: 500 }))
        .items,
    ).slice(0, 3);
    expect(items).toHaveLength(3);
    const ids: string[] = [];
    for (const i of items) {
      ids.push(
        (
          await call<{ proposal_id: string }>('propose_decision', {
            item_id: i.item_id,
            decision: 'revoke',
            rationale: 'r',
          })
        ).proposal_id,
      );
    }
    const pending = await call<{ status: string; confirmation: { id: string } }>('submit_decision', {
      proposal_ids: ids,
    });
    expect(pending.status).toBe('awaiting_confirmation');
    await client.close();
    store.close();

    const killed = await cli(
      ['confirm', pending.confirmation.id, '--db', db, '--as', 'boss@example.com', '--yes'],
      {
        ATTEST_FAULT_KILL: 'after-platform:2',
      },
    );
    expect(killed.signal).toBe('SIGKILL');
    const resumed = await cli(['outbox', '--db', db]);
    expect(resumed.code, resumed.stderr).toBe(0);

    for (const i of items) {
      const decisions = emu.org.reviewActions.filter((a) => a.reviewId === ext(i.item_id));
      expect(decisions).toHaveLength(1);
      expect(emu.org.isMember(ext(i.entitlement.id), ext(i.user.id))).toBe(false);
      const removals = emu.requests.filter(
        (q) =>
          q.method === 'DELETE' &&
          q.status === 204 &&
          q.path === `/api/v1/groups/${ext(i.entitlement.id)}/users/${ext(i.user.id)}`,
      );
      expect(removals).toHaveLength(1);
    }
    const check = Store.open(db);
    expect(
      (check.db.prepare("SELECT count(*) AS n FROM outbox WHERE status = 'done'").get() as { n: number }).n,
    ).toBe(3);
    expect(
      (check.db.prepare('SELECT count(*) AS n FROM item_decisions').get() as { n: number }).n,
    ).toBeGreaterThanOrEqual(3);
    check.close();
  });
});

describe('Okta remediation that cannot succeed', () => {
  it('records a 4xx on the item, in the audit log, and shows it to the agent', async () => {
    const db = join(tmp.dir, 'okta-4xx.db');
    expect((await cli(['sync', 'okta', '--db', db])).code).toBe(0);
    const store = Store.open(db);
    const { client, call } = await connect(store, confirming());
    const campaign = (
      await call<{ campaigns: Array<{ id: string; platform: string }> }>('list_campaigns', {})
    ).campaigns.find((c) => c.platform === 'okta')!;
    const items = (
      await call<{ items: ListedItem[] }>('list_campaign_items', { campaign_id: campaign.id, limit: 500 })
    ).items;
    // Okta refuses to change memberships of groups imported from an app (APP_GROUP): a 400 that no retry fixes.
    const appGroup = groupItems(store, items)[0];
    expect(appGroup).toBeDefined();
    const g = emu.org.groups.find((x) => x.id === ext(appGroup!.entitlement.id))!;
    g.type = 'APP_GROUP';
    const p = await call<{ proposal_id: string }>('propose_decision', {
      item_id: appGroup!.item_id,
      decision: 'revoke',
      rationale: 'r',
    });
    const r = await call<{ results: Array<{ status: string; error?: string }> }>('submit_decision', {
      proposal_ids: [p.proposal_id],
    });
    expect(r.results[0]!.status).toBe('applied');
    expect(r.results[0]!.error).toMatch(/removing the access failed: .*OKTA_GROUP/);
    const remediation = store.db
      .prepare('SELECT status FROM remediations WHERE item_id = ?')
      .get(appGroup!.item_id);
    expect(remediation).toEqual({ status: 'failed' });
    const audit = store.db
      .prepare("SELECT details FROM audit_log WHERE tool = 'submit_decision' ORDER BY seq DESC LIMIT 1")
      .get() as {
      details: string;
    };
    expect(audit.details).toMatch(/removing the access failed/);
    await client.close();
    store.close();
  });
});

describe('attest serve --sync', () => {
  it('pulls Okta when it starts serving and on its schedule', async () => {
    const db = join(tmp.dir, 'okta-serve.db');
    const server = serveWithSync(db, env, 'okta');
    await server.saw('okta sync done');
    await server.stop();
    const stderr = server.stderr();
    const store = Store.open(db);
    expect(store.counts().users).toBe(30);
    expect(store.listCampaigns().some((c) => c.platform === 'okta')).toBe(true);
    store.close();
    expect(stderr).not.toContain(emu.token);
  });

  it('syncs from one process of several on the same store (the sync lease)', async () => {
    const db = join(tmp.dir, 'okta-two.db');
    const start = () => serveWithSync(db, env, 'okta');
    const first = start();
    await first.saw('okta sync done');
    const second = start();
    await second.saw('sync skipped: another process holds the sync lease');
    await Promise.all([second.stop(), first.stop()]);
    expect(second.stderr()).not.toContain('okta sync done');
  });
});
