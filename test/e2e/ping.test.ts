/**
 * Ping end to end: the built CLI syncs the loopback emulator and serves MCP over stdio as a
 * child process; a real SDK client lists, proposes and confirms by elicitation. An AIC
 * certification's revokes reach AIC once each (in one bulk call, each with its comment); a
 * campaign of the directory reviewed in Attest removes the membership in PingOne once; both
 * also when the server is killed right after the platform write.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { generatePingTenant, type PingEmulator, startPingEmulator } from '../emulators/ping.js';
import { pingEnv } from '../emulators/ping-env.js';
import { tempDir } from '../helpers/harness.js';
import {
  type CallTool,
  confirmingClient,
  type ListedItem,
  NO_PING_ENV,
  outboxDone,
  proposeCampaignRevokes,
  runCliAsync,
  serveStdio,
  serveWithSync,
} from './platform-helpers.js';

const tmp = tempDir();
const now = new Date('2026-11-28T00:00:00.000Z');
let emu: PingEmulator;
let both: Record<string, string>;
let directoryOnly: Record<string, string>;
const cli = (args: string[], env: Record<string, string>) => runCliAsync(args, { ...NO_PING_ENV, ...env });

/** `attest serve` over stdio, with a client that confirms every elicitation. */
const serve = (db: string, env: Record<string, string>) =>
  serveStdio(db, { ...NO_PING_ENV, ...env }, confirmingClient('e2e-ping'));

const ext = (id: string) => id.replace(/^ping:/, '');

/** Proposes revoking `n` of the items `pick` keeps in the active Ping campaign of that name. */
const proposeRevokes = (
  call: CallTool,
  campaignName: string,
  n: number,
  pick: (items: ListedItem[]) => ListedItem[],
) =>
  proposeCampaignRevokes(call, {
    isCampaign: (c) => c.platform === 'ping' && c.name === campaignName,
    n,
    pick,
    rationale: 'No sign-in to anything this grants in 120 days.',
  });

/** Items of the directory review that Attest can remove: direct memberships of static, internal groups. */
function removable(db: string) {
  return (items: ListedItem[]) => {
    const store = Store.open(db);
    try {
      return items.filter((i) => {
        const a = store.getEntitlement(i.entitlement.id)?.attributes;
        return a?.ping_kind === 'group' && a.dynamic === 'false' && a.external === 'false';
      });
    } finally {
      store.close();
    }
  };
}

const aicItemId = (i: ListedItem) => ext(i.item_id).split(':')[2]!;
const revokesOf = (itemId: string) => emu.tenant.decisionWrites.filter((w) => w.itemId === itemId);
const membershipDeletes = (user: string, group: string) =>
  emu.requests.filter(
    (r) =>
      r.method === 'DELETE' && r.status === 204 && r.path.endsWith(`/users/${user}/memberOfGroups/${group}`),
  );

beforeAll(async () => {
  emu = await startPingEmulator({ tenant: generatePingTenant({ users: 30, items: 30, now }) });
  // One day of audit: two paced audit requests a sync instead of 28.
  both = pingEnv(emu, 'both', { PINGONE_AUDIT_DAYS: '1' });
  directoryOnly = pingEnv(emu, 'pingone', { PINGONE_AUDIT_DAYS: '1' });
});
afterAll(async () => {
  await emu?.close();
  tmp.cleanup();
});

describe('Ping end to end (built CLI + emulator)', () => {
  it('syncs both surfaces, confirms AIC revokes by elicitation: one revoke each, with its comment, in one bulk call', async () => {
    const db = join(tmp.dir, 'ping.db');
    const synced = await cli(['sync', 'ping', '--db', db], both);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toMatch(/Synced ping in .* with \d+ requests/);
    expect(synced.stdout + synced.stderr).not.toContain(emu.clientSecret);

    const { client, call, stderr } = await serve(db, both);
    const { items, ids } = await proposeRevokes(call, 'Q4 user access review', 2, (xs) => xs);
    const r = await call<{ status: string; results: Array<{ status: string }> }>('submit_decision', {
      proposal_ids: ids,
    });
    expect(r.status).toBe('applied');
    expect(r.results.map((x) => x.status)).toEqual(['applied', 'applied']);
    for (const i of items) {
      const writes = revokesOf(aicItemId(i));
      expect(writes).toHaveLength(1);
      expect(writes[0]).toMatchObject({ decision: 'revoke', via: 'bulk' });
      expect(writes[0]!.comment).toMatch(
        /^No sign-in to anything this grants in 120 days\.\n.*confirmed by analyst@example\.com via elicitation\.$/,
      );
    }
    const bulk = emu.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/items/revoke'));
    expect(bulk).toHaveLength(1);
    // AIC removes revoked access itself: nothing is removed in PingOne.
    expect(emu.tenant.removals).toEqual([]);
    const before = emu.requests.length;
    await call('submit_decision', { proposal_ids: ids });
    expect(emu.requests.slice(before).filter((q) => q.method !== 'GET' && !q.path.includes('token'))).toEqual(
      [],
    );
    await client.close();
    expect(stderr()).not.toContain(emu.clientSecret);
  });

  it('a directory campaign reviewed in Attest removes the membership in PingOne, once', async () => {
    const db = join(tmp.dir, 'ping-directory.db');
    expect((await cli(['sync', 'ping', '--db', db], directoryOnly)).code).toBe(0);
    const { client, call } = await serve(db, directoryOnly);
    const { items, ids } = await proposeRevokes(call, 'PingOne directory access review', 1, removable(db));
    const r = await call<{ status: string }>('submit_decision', { proposal_ids: ids });
    expect(r.status).toBe('applied');
    const [i] = items;
    const group = ext(i!.entitlement.id).replace(/^group:/, '');
    expect(membershipDeletes(ext(i!.user.id), group)).toHaveLength(1);
    expect(emu.tenant.isMember(group, ext(i!.user.id))).toBe(false);
    expect(emu.tenant.decisionWrites.filter((w) => w.itemId.includes(ext(i!.user.id)))).toEqual([]);
    await client.close();
  });

  it('a server killed right after the platform write applies each decision exactly once after restart', async () => {
    for (const [name, env, campaign, pick] of [
      ['aic', both, 'Q4 user access review', null],
      ['directory', directoryOnly, 'PingOne directory access review', 'removable'],
    ] as const) {
      const db = join(tmp.dir, `ping-kill-${name}.db`);
      expect((await cli(['sync', 'ping', '--db', db], env)).code).toBe(0);
      const { client, call } = await serve(db, { ...env, ATTEST_FAULT_KILL: 'after-platform:1' });
      const undecided = (xs: ListedItem[]) => xs.filter((x) => revokesOf(aicItemId(x)).length === 0);
      const { items, ids } = await proposeRevokes(
        call,
        campaign,
        2,
        pick === null ? undecided : removable(db),
      );
      await expect(call('submit_decision', { proposal_ids: ids })).rejects.toThrow();
      await client.close().catch(() => {});
      const resumed = await cli(['outbox', '--db', db], env);
      expect(resumed.code, resumed.stderr).toBe(0);
      expect(resumed.stdout).toMatch(/Outbox: 2 applied, 0 failed, 0 to retry/);
      for (const i of items) {
        if (name === 'aic') expect(revokesOf(aicItemId(i))).toHaveLength(1);
        else
          expect(
            membershipDeletes(ext(i.user.id), ext(i.entitlement.id).replace(/^group:/, '')),
          ).toHaveLength(1);
      }
      expect(outboxDone(db)).toBe(2);
    }
  });

  it('attest serve --sync pulls Ping when it starts serving', async () => {
    const db = join(tmp.dir, 'ping-serve.db');
    const server = serveWithSync(db, { ...NO_PING_ENV, ...both }, 'ping');
    await server.saw('ping sync done');
    await server.stop();
    const stderr = server.stderr();
    const store = Store.open(db);
    expect(store.counts().users).toBe(emu.tenant.users.length + 2);
    expect(store.listCampaigns().some((c) => c.platform === 'ping')).toBe(true);
    store.close();
    expect(stderr).not.toContain(emu.clientSecret);
  });

  it('names the variables it needs when Ping is not configured, and refuses half a set and http:// off loopback', async () => {
    const db = join(tmp.dir, 'ping-none.db');
    const none = await cli(['sync', 'ping', '--db', db], {});
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /ping is not configured: set PINGONE_ENVIRONMENT_ID, PINGONE_CLIENT_ID and PINGONE_CLIENT_SECRET/,
    );
    const half = await cli(['sync', 'ping', '--db', db], { PINGAIC_TENANT_URL: emu.url });
    expect(half.code).toBe(2);
    expect(half.stderr).toMatch(/PINGAIC_SERVICE_ACCOUNT_ID and PINGAIC_SERVICE_ACCOUNT_KEY are not set/);
    const http = await cli(['sync', 'ping', '--db', db], {
      ...directoryOnly,
      PINGONE_API_URL: 'http://api.example.com',
    });
    expect(http.code).toBe(2);
    expect(http.stderr).toMatch(/PINGONE_API_URL uses http:\/\/ for a host that is not loopback/);
    expect(http.stderr).not.toContain(emu.clientSecret);
  });
});
