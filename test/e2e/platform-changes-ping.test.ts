/**
 * Confirmed changes on Ping: a mined role becomes a PingOne dynamic group (a SCIM user filter),
 * through the built CLI and MCP with undici against the emulator; a campaign on Ping without
 * Advanced Identity Cloud configured is refused before anyone is asked (AIC certifications are
 * tested in platform-changes-aic.test.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { runChangeOutbox } from '../../src/services/changes.js';
import { Store } from '../../src/store/store.js';
import { generatePingTenant, type PingEmulator, startPingEmulator } from '../emulators/ping.js';
import { pingEnv } from '../emulators/ping-env.js';
import { tempDir } from '../helpers/harness.js';
import {
  changeCount,
  mineRoles,
  NO_PING_ENV,
  proposeRoleArgs,
  runCliAsync,
  startConfirmingServer,
  storeCopies,
} from './platform-helpers.js';

const tmp = tempDir();
const copies = storeCopies(tmp.dir);
const now = new Date('2026-11-28T00:00:00.000Z');
let emu: PingEmulator;
let env: Record<string, string>;
const planted: string[] = [];
const KITS = ['Field kit', 'Field maps'];

const cli = (args: string[], extra: Record<string, string> = {}) =>
  runCliAsync(args, { ...NO_PING_ENV, ...env, ...extra });

async function plantedRole(store: Store) {
  const roles = await mineRoles(store, { ...NO_PING_ENV, ...env }, 'ping');
  const kit = emu.tenant.groups.find((g) => g.name === KITS[0])!.id;
  return roles.find((r) => r.entitlement_ids.includes(`ping:group:${kit}`))!;
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
  const synced = await cli(['sync', 'ping', '--db', copies.base]);
  expect(synced.code, synced.stderr).toBe(0);
});
afterAll(async () => {
  await emu?.close();
  tmp.cleanup();
});

describe('mined roles created on PingOne as dynamic groups', () => {
  it('attest roles propose makes one group whose user filter selects exactly the pattern (429 waited out), found again after a crash', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const role = await plantedRole(store);
    store.close();
    expect(role.pattern).toEqual({ department: 'Field Sales' });
    emu.clearLog();
    emu.injectFault({ status: 429, times: 1, path: '/groups', method: 'POST' });
    const r = await cli(proposeRoleArgs(role.role_id, 'ping', db, 'Field role'));
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

    const db2 = await copies.fresh();
    const killed = await cli(proposeRoleArgs(role.role_id, 'ping', db2, 'Field role 2'), {
      ATTEST_CRASH_AT: '1',
    });
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    const s = Store.open(db2);
    try {
      emu.clearLog();
      expect(
        await runChangeOutbox(s, { connectorFor: createConnectorRegistry({ ...NO_PING_ENV, ...env }) }),
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
      const db = await copies.fresh();
      const store = Store.open(db);
      store.db.prepare("UPDATE users SET department = ? WHERE department = 'Field Sales'").run(value);
      const role = await plantedRole(store);
      expect(role.pattern?.department).toBe(value);
      const groups = emu.tenant.groups.length;
      const h = await startConfirmingServer(store, { ...NO_PING_ENV, ...env });
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
        expect(changeCount(store)).toBe(0);
        expect(emu.tenant.groups).toHaveLength(groups);
      } finally {
        await h.close();
        store.close();
      }
    }
  });
});
