/**
 * Confirmed changes on Ping: a mined role becomes a PingOne dynamic group (a SCIM user filter),
 * through the built CLI and MCP with undici against the emulator; a campaign on Ping without
 * Advanced Identity Cloud configured is refused before anyone is asked (AIC certifications are
 * tested in platform-changes-aic.test.ts).
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PING_VARIABLES } from '../../src/connectors/ping/config.js';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { runChangeOutbox } from '../../src/services/changes.js';
import { Store } from '../../src/store/store.js';
import { generatePingTenant, type PingEmulator, startPingEmulator } from '../emulators/ping.js';
import { pingEnv } from '../emulators/ping-env.js';
import { startServer, tempDir } from '../helpers/harness.js';
import { BASE_ENV, CLI } from './helpers.js';

const tmp = tempDir();
const now = new Date('2026-11-28T00:00:00.000Z');
let emu: PingEmulator;
let env: Record<string, string>;
let base: string;
const planted: string[] = [];
const CLEAR = Object.fromEntries(PING_VARIABLES.map((v) => [v.name, '']));
const KITS = ['Field kit', 'Field maps'];

function cli(args: string[], extra: Record<string, string> = {}) {
  return new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>(
    (resolve) => {
      const child = spawn(process.execPath, [CLI, ...args], {
        env: { ...BASE_ENV, ...CLEAR, ...env, ...extra },
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += String(d);
      });
      child.stderr.on('data', (d) => {
        stderr += String(d);
      });
      child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
    },
  );
}

let n = 0;
async function freshDb(): Promise<string> {
  const db = join(tmp.dir, `copy-${++n}.db`);
  const src = Store.open(base);
  try {
    await src.db.backup(db);
  } finally {
    src.close();
  }
  return db;
}

async function plantedRole(store: Store) {
  const h = await startServer({
    store,
    deps: { connectorFor: createConnectorRegistry({ ...CLEAR, ...env }) },
  });
  const mined = await h.ok<{
    roles: Array<{ role_id: string; pattern?: Record<string, string>; entitlement_ids: string[] }>;
  }>('mine_roles', { platform: 'ping', limit: 200 });
  await h.close();
  const kit = emu.tenant.groups.find((g) => g.name === KITS[0])!.id;
  return mined.roles.find((r) => r.entitlement_ids.includes(`ping:group:${kit}`))!;
}

beforeAll(async () => {
  const tenant = generatePingTenant({ users: 30, items: 10, now });
  for (const u of tenant.users.slice(10, 18)) {
    u.department = 'Field Sales';
    planted.push(u.id);
  }
  for (const name of KITS) {
    const id = `f1e1d000-0000-4000-8000-${String(KITS.indexOf(name)).padStart(12, '0')}`;
    tenant.groups.push({ id, name, description: name, userFilter: null, sourceType: null });
    for (const u of planted) tenant.addMember(id, u);
  }
  emu = await startPingEmulator({ tenant, maxPageSize: 4 });
  env = pingEnv(emu, 'pingone', { PINGONE_AUDIT_DAYS: '1' });
  base = join(tmp.dir, 'base.db');
  const synced = await cli(['sync', 'ping', '--db', base]);
  expect(synced.code, synced.stderr).toBe(0);
});
afterAll(async () => {
  await emu?.close();
  tmp.cleanup();
});

describe('mined roles created on PingOne as dynamic groups', () => {
  it('attest roles propose makes one group whose user filter selects exactly the pattern (429 waited out), found again after a crash', async () => {
    const db = await freshDb();
    const store = Store.open(db);
    const role = await plantedRole(store);
    store.close();
    expect(role.pattern).toEqual({ department: 'Field Sales' });
    emu.clearLog();
    emu.injectFault({ status: 429, times: 1, path: '/groups', method: 'POST' });
    const r = await cli([
      'roles',
      'propose',
      role.role_id,
      '--platform',
      'ping',
      '--db',
      db,
      '--name',
      'Field role',
      '--yes',
      '--as',
      'boss',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('user filter department eq "Field Sales"');
    expect(r.stdout).toMatch(/not granted through the group .*"Field kit"/);
    const posts = emu.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/groups'));
    expect(posts.map((q) => q.status)).toEqual([429, 201]);
    const made = emu.tenant.groups.filter((g) => g.name === 'Field role');
    expect(made).toHaveLength(1);
    expect(made[0]!.userFilter).toBe('department eq "Field Sales"');
    expect(made[0]!.description).toMatch(/\[attest:ch_[\w-]+\]$/);
    expect([...(emu.tenant.members.get(made[0]!.id) ?? [])].sort()).toEqual([...planted].sort());

    const db2 = await freshDb();
    const killed = await cli(
      [
        'roles',
        'propose',
        role.role_id,
        '--platform',
        'ping',
        '--db',
        db2,
        '--name',
        'Field role 2',
        '--yes',
        '--as',
        'boss',
      ],
      { ATTEST_CRASH_AT: '1' },
    );
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    const s = Store.open(db2);
    try {
      emu.clearLog();
      expect(
        await runChangeOutbox(s, { connectorFor: createConnectorRegistry({ ...CLEAR, ...env }) }),
      ).toMatchObject({
        applied: 1,
      });
      expect(emu.tenant.groups.filter((g) => g.name === 'Field role 2')).toHaveLength(1);
      expect(emu.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/groups'))).toHaveLength(0);
      // The marker was found by paging every group (the emulator pages by 4).
      expect(emu.requests.filter((q) => q.path.endsWith('/groups') && q.query.cursor).length).toBeGreaterThan(
        0,
      );
    } finally {
      s.close();
    }
  });

  it('refuses before anyone is asked: a value that would break out of the filter, and a campaign on Ping without AIC', async () => {
    for (const value of ['Sales" or title eq "x', 'Sales\\', 'Sales\u0000']) {
      const db = await freshDb();
      const store = Store.open(db);
      store.db.prepare("UPDATE users SET department = ? WHERE department = 'Field Sales'").run(value);
      const role = await plantedRole(store);
      expect(role.pattern?.department).toBe(value);
      const groups = emu.tenant.groups.length;
      const h = await startServer({
        store,
        elicit: { action: 'accept', content: { confirm: true } },
        deps: { connectorFor: createConnectorRegistry({ ...CLEAR, ...env }) },
      });
      try {
        expect(await h.fail('propose_role', { role_id: role.role_id, platform: 'ping' })).toMatch(
          /cannot be quoted safely in a PingOne user filter.*Nothing was created and nobody was asked/,
        );
        if (value.startsWith('Sales"')) {
          const reviewer = `ping:${planted[0]}`;
          const kit = emu.tenant.groups.find((g) => g.name === KITS[0])!.id;
          expect(
            await h.fail('create_campaign', {
              name: 'Field',
              scope: { entitlement_ids: [`ping:group:${kit}`] },
              reviewers: { by: 'named', reviewer_id: reviewer, fallback_reviewer_id: reviewer },
              on_platform: 'ping',
            }),
          ).toMatch(
            /cannot be created on ping: Advanced Identity Cloud is not configured \(PINGAIC_\*\): Ping campaigns are its certifications/,
          );
        }
        expect(h.elicitations).toHaveLength(0);
        expect(store.db.prepare('SELECT count(*) FROM changes').pluck().get()).toBe(0);
        expect(emu.tenant.groups).toHaveLength(groups);
      } finally {
        await h.close();
        store.close();
      }
    }
  });
});
