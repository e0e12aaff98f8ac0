import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { Auditor } from '../../src/policy/audit.js';
import { runChangeOutbox } from '../../src/services/changes.js';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import { generateOktaOrg, type OktaEmulator, startOktaEmulator } from '../emulators/okta.js';
import { startServer, tempDir } from '../helpers/harness.js';
import {
  answerAsBoss,
  aRoleEntitlement,
  campaignCreationAudit,
  changeCount,
  createCampaignArgs,
  mineRoles,
  oktaEnv,
  proposeRoleArgs,
  runCliAsync,
  startChangeServer,
  startConfirmingServer,
  storeCopies,
  usersInDepartment,
} from './platform-helpers.js';

const tmp = tempDir();
const copies = storeCopies(tmp.dir);
const now = new Date('2026-11-28T00:00:00.000Z');
let emu: OktaEmulator;
let env: Record<string, string>;
/** The people of the planted role: a department of their own, one app and one group only they hold. */
const planted: string[] = [];
const cli = (args: string[], extra: Record<string, string> = {}) => runCliAsync(args, { ...env, ...extra });

const PLANTED_ACCESS = [
  '--entitlement',
  'okta:app:0oaPLANTEDfieldApp1',
  '--entitlement',
  'okta:00gPLANTEDroleGrp01',
];

const ours = (changeId: string) =>
  emu.org.campaigns.filter((c) => c.description?.includes(`[attest:${changeId}]`));

beforeAll(async () => {
  const org = generateOktaOrg({ users: 30, assignments: 160, now, reviews: 10 });
  const at = now.toISOString();
  for (const u of org.users.slice(10, 18)) {
    u.profile.department = 'Field Sales';
    planted.push(u.id);
  }
  org.groups.push({
    id: '00gPLANTEDroleGrp01',
    created: at,
    lastUpdated: at,
    lastMembershipUpdated: at,
    type: 'OKTA_GROUP',
    profile: { name: 'Field kit', description: null },
  });
  org.apps.push({
    id: '0oaPLANTEDfieldApp1',
    name: 'field_crm',
    label: 'Field CRM',
    status: 'ACTIVE',
    signOnMode: 'SAML_2_0',
    created: at,
    lastUpdated: at,
  });
  org.reindex();
  const appUsers = new Map<string, never>();
  for (const u of planted) {
    org.addMember('00gPLANTEDroleGrp01', u);
    appUsers.set(u, { userId: u, scope: 'USER', status: 'ACTIVE', created: at, lastUpdated: at } as never);
  }
  org.appUsers.set('0oaPLANTEDfieldApp1', appUsers);
  emu = await startOktaEmulator({ org });
  env = oktaEnv(emu);
  const synced = await cli(['sync', 'okta', '--db', copies.base]);
  expect(synced.code, synced.stderr).toBe(0);
});
afterAll(async () => {
  await emu?.close();
  tmp.cleanup();
});

const fieldSales = (store: Store) => usersInDepartment(store, 'Field Sales');

describe('campaigns created on Okta through the change outbox', () => {
  it('attest campaign create --on-platform okta creates it locally and on Okta, launched, with the platform id kept', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const [fallback] = store.db
      .prepare("SELECT id FROM users WHERE platform = 'okta' ORDER BY id")
      .pluck()
      .all() as string[];
    store.close();
    const r = await cli(
      createCampaignArgs({
        db,
        name: 'Field follow-up',
        access: PLANTED_ACCESS,
        platform: 'okta',
        reviewers: { by: 'manager' },
        fallback: fallback!,
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/locally and on okta/);
    const id = /On okta: (ici\w+)/.exec(r.stdout)?.[1];
    expect(id).toBeDefined();
    const made = emu.org.campaigns.find((c) => c.id === id)!;
    expect(made.status).toBe('ACTIVE');
    const body = emu.org.campaignBodies.get(id!) as Record<string, any>;
    expect(body.reviewerSettings).toMatchObject({
      type: 'REVIEWER_EXPRESSION',
      fallBackReviewerId: fallback!.replace(/^okta:/, ''),
    });
    expect([...body.principalScopeSettings.userIds].sort()).toEqual([...planted].sort());
    expect(body.resourceSettings.targetResources).toEqual(
      expect.arrayContaining([
        { resourceId: '0oaPLANTEDfieldApp1', resourceType: 'APPLICATION' },
        { resourceId: '00gPLANTEDroleGrp01', resourceType: 'GROUP' },
      ]),
    );
    // Reviews exist on Okta for the planted people's access.
    expect(emu.org.reviews.filter((x) => x.campaignId === id).length).toBeGreaterThanOrEqual(16);
    const after = Store.open(db);
    const local = after.listCampaigns().find((c) => c.platform_campaign_id === id);
    expect(local).toBeDefined();
    expect(local!.counts.total).toBeGreaterThanOrEqual(16);
    after.close();
  });

  it('a crash between the Okta call and recording it creates one campaign, found again by its marker', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const fallback = fieldSales(store)[0]!;
    store.close();
    const killed = await cli(
      createCampaignArgs({
        db,
        name: 'Crash test',
        access: PLANTED_ACCESS,
        platform: 'okta',
        reviewers: { by: 'named', reviewer: fallback },
        fallback,
      }),
      { ATTEST_CRASH_AT: '1' },
    );
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    const s = Store.open(db);
    try {
      const change = s.db.prepare("SELECT id, status FROM changes WHERE kind = 'create_campaign'").get() as {
        id: string;
        status: string;
      };
      expect(change.status).toBe('draft');
      expect(ours(change.id)).toHaveLength(1);
      expect(s.listCampaigns().filter((c) => c.platform_campaign_id)).toHaveLength(0);
      const run = await runChangeOutbox(s, {
        connectorFor: createConnectorRegistry(env),
        auditor: new Auditor(new AuditLog(s.db)),
      });
      expect(run.applied).toBe(1);
      await runChangeOutbox(s, { connectorFor: createConnectorRegistry(env) });
      expect(ours(change.id)).toHaveLength(1);
      const local = s.listCampaigns().filter((c) => c.platform_campaign_id);
      expect(local.map((c) => c.platform_campaign_id)).toEqual([ours(change.id)[0]!.id]);
      const audit = campaignCreationAudit(s);
      expect(audit).toHaveLength(1);
      expect(audit[0]!.details).toMatchObject({ platform_answer: { existed: true } });
    } finally {
      s.close();
    }
  });

  it('through MCP: waits for the human, a rejection creates nothing, Okta errors are retried and it is created once', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const { h, auditor } = await startChangeServer(store, env);
    try {
      const fallback = fieldSales(store)[0]!;
      const args = {
        name: 'Field via MCP',
        scope: { entitlement_ids: ['okta:app:0oaPLANTEDfieldApp1', 'okta:00gPLANTEDroleGrp01'] },
        reviewers: { by: 'named', reviewer_id: fallback, fallback_reviewer_id: fallback },
        on_platform: 'okta',
      };
      const before = emu.org.campaigns.length;
      const first = await h.ok<{ status: string; change_id: string; confirmation: { id: string } }>(
        'create_campaign',
        args,
      );
      expect(first.status).toBe('awaiting_confirmation');
      expect(emu.org.campaigns).toHaveLength(before);
      expect(answerAsBoss(store, first.confirmation.id, 'reject', auditor)).toEqual({ ok: true });
      expect((await h.ok<{ status: string }>('create_campaign', { change_id: first.change_id })).status).toBe(
        'rejected',
      );
      expect(emu.org.campaigns).toHaveLength(before);

      const second = await h.ok<{ change_id: string; confirmation: { id: string } }>('create_campaign', args);
      // Okta answers 500 more often than the connector retries: the change stays queued, nothing local is made.
      emu.injectFault({ status: 500, times: 8, path: '/governance/api/v1/campaigns', method: 'POST' });
      expect(answerAsBoss(store, second.confirmation.id, 'confirm', auditor)).toEqual({ ok: true });
      const waiting = await h.ok<{ status: string; message: string }>('create_campaign', {
        change_id: second.change_id,
      });
      expect(waiting.status).toBe('awaiting_confirmation');
      expect(waiting.message).toMatch(/tried again/);
      expect(store.listCampaigns().some((c) => c.name === 'Field via MCP')).toBe(false);
      // A 429 with its reset header is waited out by the SDK; then it is created, once.
      emu.clearFaults();
      emu.injectFault({ status: 429, times: 1, path: '/governance/api/v1/campaigns' });
      const done = await h.ok<{ status: string; campaign_id: string; platform_campaign_id: string }>(
        'create_campaign',
        {
          change_id: second.change_id,
        },
      );
      expect(done.status).toBe('applied');
      expect(ours(second.change_id).map((c) => c.id)).toEqual([done.platform_campaign_id]);
      const listed = await h.ok<{ campaigns: Array<{ id: string; platform_campaign_id?: string | null }> }>(
        'list_campaigns',
        {},
      );
      expect(listed.campaigns.find((c) => c.id === done.campaign_id)?.platform_campaign_id).toBe(
        done.platform_campaign_id,
      );
      const summary = await h.ok<{ campaign: { platform_campaign_id?: string | null } }>(
        'get_campaign_summary',
        {
          campaign_id: done.campaign_id,
        },
      );
      expect(summary.campaign.platform_campaign_id).toBe(done.platform_campaign_id);
    } finally {
      await h.close();
      store.close();
    }
  });

  it('refuses before confirmation what Okta cannot take (admin roles), and read-only mode offers no such write', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const connectorFor = createConnectorRegistry(env);
    const h = await startServer({ store, deps: { connectorFor } });
    const ro = await startServer({ store, config: { readOnly: true }, deps: { connectorFor } });
    try {
      const role = aRoleEntitlement(store, 'okta');
      expect(role).toBeDefined();
      const fallback = fieldSales(store)[0]!;
      const message = await h.fail('create_campaign', {
        name: 'Admins',
        scope: { entitlement_ids: [role] },
        reviewers: { by: 'named', reviewer_id: fallback, fallback_reviewer_id: fallback },
        on_platform: 'okta',
      });
      expect(message).toMatch(
        /cannot be created on okta: .*admin roles.*Nothing was created and nobody was asked/,
      );
      expect(changeCount(store)).toBe(0);
      const tools = (await ro.client.listTools()).tools.map((t) => t.name);
      expect(tools).not.toContain('create_campaign');
      expect(tools).not.toContain('propose_role');
      expect(await ro.fail('propose_role', { role_id: 'x', platform: 'okta' })).toMatch(
        /read-only|not found|unknown/i,
      );
    } finally {
      await h.close();
      await ro.close();
      store.close();
    }
  });
});

describe('mined roles created on Okta through confirmation', () => {
  async function plantedRole(store: Store) {
    const roles = await mineRoles(store, env, 'okta');
    return roles.find((r) => r.entitlement_ids.includes('okta:app:0oaPLANTEDfieldApp1'))!;
  }

  it('attest roles propose creates the group, its rule and the app grant once, and the rule selects exactly the pattern', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const role = await plantedRole(store);
    store.close();
    expect(role.pattern).toEqual({ department: 'Field Sales' });
    const noTty = await cli(['roles', 'propose', role.role_id, '--platform', 'okta', '--db', db]);
    expect(noTty.code).toBe(1);
    expect(noTty.stderr).toMatch(/not a terminal.*Nothing was created/);
    expect(emu.org.groupRules).toHaveLength(0);
    const r = await cli(proposeRoleArgs(role.role_id, 'okta', db, 'Field role'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('user.department == "Field Sales"');
    expect(r.stdout).toMatch(/assign app "Field CRM"/);
    expect(r.stdout).toMatch(/not granted through the group .*"Field kit"/);
    const group = emu.org.groups.find((g) => g.profile.name === 'Field role')!;
    expect(group.profile.description).toMatch(/\[attest:ch_[\w-]+\]$/);
    const rule = emu.org.groupRules.find((x) => x.groupIds.includes(group.id))!;
    expect(rule.status).toBe('ACTIVE');
    expect(rule.expression).toBe('user.department == "Field Sales"');
    expect(emu.org.members.get(group.id)).toEqual([...planted].sort());
    expect(emu.org.appGroups.get('0oaPLANTEDfieldApp1')).toEqual([group.id]);
  });

  it('a role whose attribute value carries quotes (an injection attempt) is refused before anyone is asked; nothing is created', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    store.db
      .prepare("UPDATE users SET department = ? WHERE department = 'Field Sales'")
      .run('Sales" OR user.login != "');
    const role = await plantedRole(store);
    expect(role.pattern?.department).toBe('Sales" OR user.login != "');
    const rules = emu.org.groupRules.length;
    const groups = emu.org.groups.length;
    const h = await startConfirmingServer(store, env);
    try {
      const message = await h.fail('propose_role', { role_id: role.role_id, platform: 'okta' });
      expect(message).toMatch(/cannot be quoted safely.*Nothing was created and nobody was asked/);
      expect(h.elicitations).toHaveLength(0);
      expect(changeCount(store)).toBe(0);
      expect(emu.org.groupRules).toHaveLength(rules);
      expect(emu.org.groups).toHaveLength(groups);
    } finally {
      await h.close();
      store.close();
    }
  });
});
