/**
 * Entra end to end: the built CLI syncs the HTTPS emulator and serves MCP over stdio as a
 * child process (NODE_EXTRA_CA_CERTS, set by vitest.config.ts, is in its environment
 * before Node starts); a real SDK client lists, proposes and confirms by elicitation.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { type EntraEmulator, generateEntraTenant, startEntraEmulator } from '../emulators/entra.js';
import { tempDir } from '../helpers/harness.js';
import {
  type CallTool,
  confirmingClient,
  entraEnv,
  type ListedItem,
  outboxDone,
  proposeCampaignRevokes,
  runCliAsync,
  serveStdio,
  serveWithSync,
} from './platform-helpers.js';

const tmp = tempDir();
const now = new Date('2026-11-28T00:00:00.000Z');
let emu: EntraEmulator;
let env: Record<string, string>;

const cli = (args: string[], extra: Record<string, string> = {}) => runCliAsync(args, { ...env, ...extra });

/** `attest serve` over stdio, with a client that confirms every elicitation. */
const serve = (db: string, extra: Record<string, string> = {}) =>
  serveStdio(db, { ...env, ...extra }, confirmingClient('e2e-entra'));

const ext = (id: string) => id.replace(/^entra:/, '');

/** Items about memberships Attest can remove (not dynamic, not synced, not role-assignable). */
function removableGroupItems(db: string, items: ListedItem[]): ListedItem[] {
  const store = Store.open(db);
  try {
    return items.filter((i) => {
      const a = store.getEntitlement(i.entitlement.id)?.attributes;
      return (
        a?.entra_kind === 'group' &&
        a.dynamic === 'false' &&
        a.on_premises_sync === 'false' &&
        a.role_assignable === 'false'
      );
    });
  } finally {
    store.close();
  }
}

const refRemovals = (group: string, user: string) =>
  emu.requests.filter(
    (r) =>
      r.method === 'DELETE' && r.status === 204 && r.path === `/v1.0/groups/${group}/members/${user}/$ref`,
  );

beforeAll(async () => {
  emu = await startEntraEmulator({
    tenant: generateEntraTenant({ users: 40, assignments: 260, now, reviews: 60 }),
  });
  env = { ...entraEnv(emu), ENTRA_REMEDIATION: 'direct' };
});
afterAll(async () => {
  await emu?.close();
  tmp.cleanup();
});

/** Proposes revoking `n` removable group memberships of the active Entra campaign. */
const proposeRevokes = (call: CallTool, db: string, n: number) =>
  proposeCampaignRevokes(call, {
    isCampaign: (c) => c.platform === 'entra',
    n,
    pick: (items) => removableGroupItems(db, items),
    rationale: 'No sign-in to anything this group grants in 120 days.',
  });

describe('Entra end to end (built CLI + HTTPS emulator)', () => {
  it('syncs, serves over stdio, confirms by elicitation: one decision write and one $ref removal each', async () => {
    const db = join(tmp.dir, 'entra.db');
    const synced = await cli(['sync', 'entra', '--db', db]);
    expect(synced.code, synced.stderr).toBe(0);
    expect(synced.stdout).toMatch(/Synced entra in .* with \d+ requests/);
    expect(synced.stdout + synced.stderr).not.toContain(emu.clientSecret);

    const { client, call, stderr } = await serve(db);
    const { items, ids } = await proposeRevokes(call, db, 2);
    const r = await call<{ status: string; results: Array<{ status: string }> }>('submit_decision', {
      proposal_ids: ids,
    });
    expect(r.status).toBe('applied');
    expect(r.results.map((x) => x.status)).toEqual(['applied', 'applied']);
    for (const i of items) {
      const [, decisionId] = ext(i.item_id).split(':');
      const writes = emu.tenant.decisionWrites.filter((w) => w.decisionIds.includes(decisionId!));
      expect(writes).toHaveLength(1);
      expect(writes[0]).toMatchObject({ decision: 'Deny', via: 'batchRecordDecisions' });
      expect(writes[0]!.justification).toMatch(/confirmed by analyst@example.com via elicitation/);
      const group = ext(i.entitlement.id).replace(/^group:/, '');
      expect(refRemovals(group, ext(i.user.id))).toHaveLength(1);
      expect(emu.tenant.isMember(group, ext(i.user.id))).toBe(false);
    }
    // Never the DELETE without $ref (it deletes the user), and nothing more on a second submit.
    expect(emu.requests.some((q) => q.method === 'DELETE' && /\/members\/[^/]+$/.test(q.path))).toBe(false);
    const before = emu.requests.length;
    await call('submit_decision', { proposal_ids: ids });
    expect(
      emu.requests.slice(before).filter((q) => q.method !== 'GET' && !q.path.endsWith('/token')),
    ).toEqual([]);
    await client.close();
    expect(stderr()).not.toContain(emu.clientSecret);
  });

  it('a server killed right after the platform write applies each decision exactly once after restart', async () => {
    const db = join(tmp.dir, 'entra-kill.db');
    expect((await cli(['sync', 'entra', '--db', db])).code).toBe(0);
    const { client, call } = await serve(db, { ATTEST_FAULT_KILL: 'after-platform:1' });
    const { items, ids } = await proposeRevokes(call, db, 2);
    // The server dies while applying the confirmed batch: the call never answers.
    await expect(call('submit_decision', { proposal_ids: ids })).rejects.toThrow();
    await client.close().catch(() => {});
    const resumed = await cli(['outbox', '--db', db]);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/Outbox: 2 applied, 0 failed, 0 to retry/);
    for (const i of items) {
      const [, decisionId] = ext(i.item_id).split(':');
      expect(emu.tenant.decisionWrites.filter((w) => w.decisionIds.includes(decisionId!))).toHaveLength(1);
      const group = ext(i.entitlement.id).replace(/^group:/, '');
      expect(refRemovals(group, ext(i.user.id))).toHaveLength(1);
    }
    expect(outboxDone(db)).toBe(2);
  });

  it('attest serve --sync pulls Entra when it starts serving', async () => {
    const db = join(tmp.dir, 'entra-serve.db');
    const server = serveWithSync(db, env, 'entra');
    await server.saw('entra sync done');
    await server.stop();
    const stderr = server.stderr();
    const store = Store.open(db);
    expect(store.counts().users).toBe(emu.tenant.users.length);
    expect(store.listCampaigns().some((c) => c.platform === 'entra')).toBe(true);
    store.close();
    expect(stderr).not.toContain(emu.clientSecret);
  });

  it('names the variables it needs when Entra is not configured, and refuses http:// for Graph', async () => {
    const db = join(tmp.dir, 'entra-none.db');
    const none = await cli(['sync', 'entra', '--db', db], {
      AZURE_TENANT_ID: '',
      AZURE_CLIENT_ID: '',
      AZURE_CLIENT_SECRET: '',
    });
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(
      /entra is not configured: set AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET/,
    );
    const http = await cli(['sync', 'entra', '--db', db], { GRAPH_BASE_URL: 'http://graph.example.com' });
    expect(http.code).toBe(2);
    expect(http.stderr).toMatch(/GRAPH_BASE_URL uses http:\/\/ for a host that is not loopback/);
    expect(http.stderr).not.toContain(emu.clientSecret);
  });
});
