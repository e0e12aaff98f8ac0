/**
 * Entra end to end: the built CLI syncs the HTTPS emulator and serves MCP over stdio as a
 * child process (NODE_EXTRA_CA_CERTS, set by vitest.config.ts, is in its environment
 * before Node starts); a real SDK client lists, proposes and confirms by elicitation.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { type EntraEmulator, generateEntraTenant, startEntraEmulator } from '../emulators/entra.js';
import { tempDir } from '../helpers/harness.js';
import { BASE_ENV, CLI } from './helpers.js';

const tmp = tempDir();
const now = new Date('2026-11-28T00:00:00.000Z');
let emu: EntraEmulator;
let env: Record<string, string>;

function cli(args: string[], extra: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...BASE_ENV, ...env, ...extra } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** `attest serve` over stdio, with a client that confirms every elicitation. */
async function serve(db: string, extra: Record<string, string> = {}) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'serve', '--db', db, '--principal', 'analyst@example.com'],
    env: { ...BASE_ENV, ...env, ...extra },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  const client = new Client(
    { name: 'e2e-entra', version: '1' },
    { capabilities: { elicitation: { form: {} } } },
  );
  client.setRequestHandler(ElicitRequestSchema, async () => ({
    action: 'accept',
    content: { confirm: true },
  }));
  await client.connect(transport);
  const call = async <T>(name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(JSON.stringify(r.content));
    return r.structuredContent as T;
  };
  return { client, call, stderr: () => stderr };
}

interface Item {
  item_id: string;
  user: { id: string };
  entitlement: { id: string; type: string };
}

const ext = (id: string) => id.replace(/^entra:/, '');

/** Items about memberships Attest can remove (not dynamic, not synced, not role-assignable). */
function removableGroupItems(db: string, items: Item[]): Item[] {
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
  env = {
    AZURE_TENANT_ID: emu.tenant.tenantId,
    AZURE_CLIENT_ID: emu.clientId,
    AZURE_CLIENT_SECRET: emu.clientSecret,
    AZURE_AUTHORITY_HOST: emu.url,
    GRAPH_BASE_URL: emu.url,
    ENTRA_REMEDIATION: 'direct',
  };
});
afterAll(async () => {
  await emu?.close();
  tmp.cleanup();
});

async function proposeRevokes(
  call: <T>(n: string, a: Record<string, unknown>) => Promise<T>,
  db: string,
  n: number,
) {
  const campaigns = await call<{ campaigns: Array<{ id: string; platform: string }> }>('list_campaigns', {
    status: 'active',
  });
  const campaign = campaigns.campaigns.find((c) => c.platform === 'entra')!;
  expect(campaign).toBeDefined();
  const page = await call<{ items: Item[] }>('list_campaign_items', { campaign_id: campaign.id, limit: 500 });
  const items = removableGroupItems(db, page.items).slice(0, n);
  expect(items).toHaveLength(n);
  const ids: string[] = [];
  for (const i of items) {
    ids.push(
      (
        await call<{ proposal_id: string }>('propose_decision', {
          item_id: i.item_id,
          decision: 'revoke',
          rationale: 'No sign-in to anything this group grants in 120 days.',
        })
      ).proposal_id,
    );
  }
  return { items, ids };
}

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
    const check = Store.open(db);
    expect(
      (check.db.prepare("SELECT count(*) AS n FROM outbox WHERE status = 'done'").get() as { n: number }).n,
    ).toBe(2);
    check.close();
  });

  it('attest serve --sync pulls Entra when it starts serving', async () => {
    const db = join(tmp.dir, 'entra-serve.db');
    const child = spawn(process.execPath, [CLI, 'serve', '--db', db, '--http', '0', '--sync', '60'], {
      env: { ...BASE_ENV, ...env, ATTEST_LOG_LEVEL: 'info' },
    });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += String(d);
        if (stderr.includes('entra sync done')) resolve();
        if (stderr.includes('entra sync failed')) reject(new Error(stderr));
      });
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
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
