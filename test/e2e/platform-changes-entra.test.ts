/**
 * Confirmed changes created on Entra: access review definitions and mined roles as dynamic
 * security groups, through the built CLI and MCP, the real Graph SDK over HTTPS to the
 * emulator (NODE_EXTRA_CA_CERTS is set by vitest.config.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { Auditor } from '../../src/policy/audit.js';
import { runChangeOutbox } from '../../src/services/changes.js';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import {
  ALL_PERMISSIONS,
  type EntraEmulator,
  generateEntraTenant,
  startEntraEmulator,
} from '../emulators/entra.js';
import { startServer, tempDir } from '../helpers/harness.js';
import {
  answerAsBoss,
  aRoleEntitlement,
  campaignCreationAudit,
  changeCount,
  createCampaignArgs,
  entraEnv,
  mineRoles,
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
let emu: EntraEmulator;
let env: Record<string, string>;
/** The people of the planted role: a department of their own, one app role and one group only they hold. */
const planted: string[] = [];
const GROUP = '0f1e2d3c-0000-4000-8000-00000000f1e1';
const SP = '5e5e5e5e-0000-4000-8000-00000000f1e1';
const APP_ROLE = 'a0a0a0a0-0000-4000-8000-00000000f1e1';
const ACCESS = ['--entitlement', `entra:app:${SP}:${APP_ROLE}`, '--entitlement', `entra:group:${GROUP}`];

const cli = (args: string[], extra: Record<string, string> = {}) => runCliAsync(args, { ...env, ...extra });

const ours = (changeId: string) =>
  emu.tenant.definitions.filter((d) =>
    String((d as unknown as { descriptionForAdmins?: string }).descriptionForAdmins ?? '').includes(
      `[attest:${changeId}]`,
    ),
  );
const storeId = (id: string) => `entra:${id}`;
const fieldSalesIds = (store: Store) => usersInDepartment(store, 'Field Sales');

beforeAll(async () => {
  const tenant = generateEntraTenant({ users: 30, assignments: 150, now, reviews: 10 });
  const at = now.toISOString();
  const members = tenant.users.filter((u) => u.userType === 'Member').slice(10, 18);
  for (const u of members) {
    u.department = 'Field Sales';
    planted.push(u.id);
  }
  tenant.groups.push({
    id: GROUP,
    displayName: 'Field kit',
    description: null,
    groupTypes: [],
    securityEnabled: true,
    mailEnabled: false,
    mailNickname: 'fieldkit',
    membershipRule: null,
    membershipRuleProcessingState: null,
    isAssignableToRole: false,
    onPremisesSyncEnabled: null,
    createdDateTime: at,
  });
  tenant.servicePrincipals.push({
    id: SP,
    appId: '5e5e5e5e-0000-4000-8000-0000000a9915',
    displayName: 'Field CRM',
    tags: ['WindowsAzureActiveDirectoryIntegratedApp'],
    appRoles: [
      {
        id: APP_ROLE,
        displayName: 'Field rep',
        value: 'Rep',
        description: 'Use the CRM',
        allowedMemberTypes: ['User'],
        isEnabled: true,
      },
    ],
    servicePrincipalType: 'Application',
  });
  for (const u of planted) {
    tenant.addMember(GROUP, u);
    tenant.appRoleAssignments.push({
      id: `asg-${u}`,
      appRoleId: APP_ROLE,
      principalId: u,
      principalType: 'User',
      principalDisplayName: u,
      resourceId: SP,
      resourceDisplayName: 'Field CRM',
      createdDateTime: at,
    });
  }
  emu = await startEntraEmulator({ tenant, maxPageSize: 3 });
  env = entraEnv(emu);
  const synced = await cli(['sync', 'entra', '--db', copies.base]);
  expect(synced.code, synced.stderr).toBe(0);
});
afterAll(async () => {
  await emu?.close();
  tmp.cleanup();
});

describe('access reviews created on Entra through the change outbox', () => {
  it('attest campaign create --on-platform entra creates the definition (people × resources, manager reviewers, fallback) and keeps its id', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const fallback = storeId(emu.tenant.users[0]!.id);
    store.close();
    const r = await cli(
      createCampaignArgs({
        db,
        name: 'Field follow-up',
        access: ACCESS,
        platform: 'entra',
        reviewers: { by: 'manager' },
        fallback,
      }),
    );
    expect(r.code, r.stderr).toBe(0);
    const id = /On entra: ([0-9a-f-]{36})/.exec(r.stdout)?.[1];
    expect(id, r.stdout).toBeDefined();
    const body = emu.reviewBodies.get(id!) as Record<string, any>;
    expect(body.descriptionForAdmins).toMatch(/\[attest:ch_[\w-]+\]$/);
    expect(body.scope['@odata.type']).toBe('#microsoft.graph.principalResourceMembershipsScope');
    expect(body.scope.principalScopes.map((p: { query: string }) => p.query).sort()).toEqual(
      planted.map((u) => `/users/${u}`).sort(),
    );
    expect(body.scope.resourceScopes.map((p: { query: string }) => p.query).sort()).toEqual(
      [`/groups/${GROUP}`, `/servicePrincipals/${SP}`].sort(),
    );
    expect(body.reviewers).toEqual([
      { query: './manager', queryType: 'MicrosoftGraph', queryRoot: 'decisions' },
    ]);
    expect(body.fallbackReviewers).toEqual([
      { query: `/users/${emu.tenant.users[0]!.id}`, queryType: 'MicrosoftGraph' },
    ]);
    expect(body.settings).toMatchObject({
      autoApplyDecisionsEnabled: false,
      justificationRequiredOnApproval: true,
    });
    // The review's decisions are the planted people's access: one per person and resource.
    const instance = emu.tenant.instances.find((i) => i.definitionId === id)!;
    expect(emu.tenant.decisions.filter((d) => d.instanceId === instance.id)).toHaveLength(planted.length * 2);
    const after = Store.open(db);
    expect(after.listCampaigns().filter((c) => c.platform_campaign_id === id)).toHaveLength(1);
    after.close();
  });

  it('a crash between the Graph call and recording it creates one definition, found again by its marker across pages', async () => {
    const db = await copies.fresh();
    const named = storeId(planted[0]!);
    const killed = await cli(
      createCampaignArgs({
        db,
        name: 'Crash test',
        access: ACCESS,
        platform: 'entra',
        reviewers: { by: 'named', reviewer: named },
        fallback: named,
      }),
      { ATTEST_CRASH_AT: '1' },
    );
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    const s = Store.open(db);
    try {
      const change = s.db.prepare("SELECT id FROM changes WHERE kind = 'create_campaign'").get() as {
        id: string;
      };
      expect(ours(change.id)).toHaveLength(1);
      // Enough definitions that the earlier one sits beyond the first page (the emulator pages by 3).
      expect(emu.tenant.definitions.length).toBeGreaterThan(3);
      emu.clearLog();
      const run = await runChangeOutbox(s, {
        connectorFor: createConnectorRegistry(env),
        auditor: new Auditor(new AuditLog(s.db)),
      });
      expect(run.applied).toBe(1);
      expect(emu.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/definitions'))).toHaveLength(
        0,
      );
      expect(
        emu.requests.filter((q) => q.path.endsWith('/definitions') && q.query.$skip).length,
      ).toBeGreaterThan(0);
      await runChangeOutbox(s, { connectorFor: createConnectorRegistry(env) });
      expect(ours(change.id)).toHaveLength(1);
      expect(
        s
          .listCampaigns()
          .filter((c) => c.platform_campaign_id)
          .map((c) => c.platform_campaign_id),
      ).toEqual([ours(change.id)[0]!.id]);
      const audit = campaignCreationAudit(s);
      expect(audit).toHaveLength(1);
      expect(audit[0]!.details).toMatchObject({ platform_answer: { existed: true } });
    } finally {
      s.close();
    }
  });

  it('through MCP: waits for the human, a rejection creates nothing, a 429 is waited out and it is created once', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const { h, auditor } = await startChangeServer(store, env);
    try {
      const args = {
        name: 'Field via MCP',
        scope: { entitlement_ids: [`entra:app:${SP}:${APP_ROLE}`, `entra:group:${GROUP}`] },
        reviewers: {
          by: 'named',
          reviewer_id: storeId(planted[0]!),
          fallback_reviewer_id: storeId(planted[1]!),
        },
        on_platform: 'entra',
      };
      const before = emu.tenant.definitions.length;
      const first = await h.ok<{ status: string; change_id: string; confirmation: { id: string } }>(
        'create_campaign',
        args,
      );
      expect(first.status).toBe('awaiting_confirmation');
      expect(emu.tenant.definitions).toHaveLength(before);
      answerAsBoss(store, first.confirmation.id, 'reject', auditor);
      expect((await h.ok<{ status: string }>('create_campaign', { change_id: first.change_id })).status).toBe(
        'rejected',
      );
      expect(emu.tenant.definitions).toHaveLength(before);

      const second = await h.ok<{ change_id: string; confirmation: { id: string } }>('create_campaign', args);
      emu.clearLog();
      emu.injectFault({
        status: 429,
        times: 1,
        path: '/identityGovernance/accessReviews/definitions',
        method: 'POST',
      });
      answerAsBoss(store, second.confirmation.id, 'confirm', auditor);
      const done = await h.ok<{ status: string; platform_campaign_id: string }>('create_campaign', {
        change_id: second.change_id,
      });
      expect(done.status).toBe('applied');
      expect(ours(second.change_id).map((d) => d.id)).toEqual([done.platform_campaign_id]);
      const throttled = emu.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/definitions'));
      expect(throttled.map((q) => q.status)).toEqual([429, 201]);
      expect(throttled[1]!.retryAttempt).toBe(1);
    } finally {
      await h.close();
      store.close();
    }
  });

  it('refuses before confirmation what Entra cannot take (directory roles, owners of several resources)', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const h = await startServer({ store, deps: { connectorFor: createConnectorRegistry(env) } });
    try {
      const role = aRoleEntitlement(store, 'entra');
      expect(role).toBeDefined();
      const reviewer = storeId(planted[0]!);
      expect(
        await h.fail('create_campaign', {
          name: 'Admins',
          scope: { entitlement_ids: [role] },
          reviewers: { by: 'named', reviewer_id: reviewer, fallback_reviewer_id: reviewer },
          on_platform: 'entra',
        }),
      ).toMatch(/cannot be created on entra: .*directory roles.*Nothing was created and nobody was asked/);
      expect(
        await h.fail('create_campaign', {
          name: 'Owners',
          scope: { entitlement_ids: [`entra:app:${SP}:${APP_ROLE}`, `entra:group:${GROUP}`] },
          reviewers: { by: 'owner', fallback_reviewer_id: reviewer },
          on_platform: 'entra',
        }),
      ).toMatch(/cannot be created on entra: .*one resource's owners/);
      expect(changeCount(store)).toBe(0);
    } finally {
      await h.close();
      store.close();
    }
  });
});

describe("Graph's refusals of an access review reach the human", () => {
  it('a missing permission is named, and a definition Graph refuses (400 in its error body) keeps its message; nothing is retried or recorded', async () => {
    const other = emu.tenant.users.find(
      (u) => !planted.includes(u.id) && u.userType === 'Member' && u !== emu.tenant.users[0],
    )!;
    const create = (db: string, name: string) =>
      cli(
        createCampaignArgs({
          db,
          name,
          access: ACCESS,
          platform: 'entra',
          reviewers: { by: 'named', reviewer: storeId(other.id) },
          fallback: storeId(other.id),
        }),
      );
    const before = emu.tenant.definitions.length;
    const db = await copies.fresh();
    emu.setPermissions(
      emu.clientId,
      ALL_PERMISSIONS.filter((p) => p !== 'AccessReview.ReadWrite.All'),
    );
    try {
      const denied = await create(db, 'No permission');
      expect(denied.stdout + denied.stderr).toMatch(
        /Microsoft Graph refused creating an access review \(HTTP 403 Authorization_RequestDenied.*needs the AccessReview\.ReadWrite\.All application permission/,
      );
    } finally {
      emu.setPermissions(emu.clientId, [...ALL_PERMISSIONS]);
    }
    // The reviewer left Entra after the sync: Graph refuses the definition.
    emu.tenant.deleteUser(other.id);
    emu.clearLog();
    const refused = await create(await copies.fresh(), 'Gone reviewer');
    expect(refused.stdout + refused.stderr).toMatch(
      /HTTP 400 BadRequest: The reviewer '[0-9a-f-]+' was not found/,
    );
    expect(emu.requests.filter((q) => q.method === 'POST' && q.path.endsWith('/definitions'))).toHaveLength(
      1,
    );
    expect(emu.tenant.definitions).toHaveLength(before);
    const s = Store.open(db);
    try {
      expect(s.listCampaigns().filter((c) => c.name === 'No permission')).toHaveLength(0);
      expect(s.db.prepare("SELECT status FROM changes WHERE kind = 'create_campaign'").pluck().all()).toEqual(
        ['failed'],
      );
    } finally {
      s.close();
    }
  });
});

describe('mined roles created on Entra as dynamic groups', () => {
  async function plantedRole(store: Store) {
    const roles = await mineRoles(store, env, 'entra');
    return roles.find((r) => r.entitlement_ids.includes(`entra:app:${SP}:${APP_ROLE}`))!;
  }

  it("attest roles propose makes the dynamic group (exactly the pattern's people) and its app role, once", async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const role = await plantedRole(store);
    store.close();
    expect(role.pattern).toEqual({ department: 'Field Sales' });
    const r = await cli(proposeRoleArgs(role.role_id, 'entra', db, 'Field role'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('(user.department -eq "Field Sales")');
    expect(r.stdout).toMatch(/assign app role "Field CRM/);
    expect(r.stdout).toMatch(/not granted through the group .*"Field kit"/);
    const made = emu.tenant.groups.filter((g) => g.displayName === 'Field role');
    expect(made).toHaveLength(1);
    const group = made[0]!;
    expect(group).toMatchObject({
      groupTypes: ['DynamicMembership'],
      securityEnabled: true,
      mailEnabled: false,
      membershipRule: '(user.department -eq "Field Sales")',
      membershipRuleProcessingState: 'On',
    });
    expect(group.description).toMatch(/\[attest:ch_[\w-]+\]$/);
    expect([...(emu.tenant.members.get(group.id) ?? [])].sort()).toEqual([...planted].sort());
    // Every app role of the role, and nothing else, is assigned to the group.
    const appRoles = role.entitlement_ids
      .filter((id) => id.startsWith('entra:app:'))
      .map((id) => id.split(':').slice(2))
      .sort();
    expect(appRoles).toContainEqual([SP, APP_ROLE]);
    expect(
      emu.tenant.appRoleAssignments
        .filter((a) => a.principalId === group.id)
        .map((a) => [a.resourceId, a.appRoleId])
        .sort(),
    ).toEqual(appRoles);

    // After a crash between the group and recording it, the outbox finds the group by its nickname and marker.
    const db2 = await copies.fresh();
    const killed = await cli(proposeRoleArgs(role.role_id, 'entra', db2, 'Field role 2'), {
      ATTEST_CRASH_AT: '1',
    });
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    const s = Store.open(db2);
    try {
      expect(await runChangeOutbox(s, { connectorFor: createConnectorRegistry(env) })).toMatchObject({
        applied: 1,
      });
      expect(emu.tenant.groups.filter((g) => g.displayName === 'Field role 2')).toHaveLength(1);
      const g2 = emu.tenant.groups.find((g) => g.displayName === 'Field role 2')!;
      expect(emu.tenant.appRoleAssignments.filter((a) => a.principalId === g2.id)).toHaveLength(
        appRoles.length,
      );
    } finally {
      s.close();
    }
  });

  it('a role without an attribute pattern becomes an assigned group of its mined members, each added once across a crash', async () => {
    const db = await copies.fresh();
    const store = Store.open(db);
    const ids = fieldSalesIds(store);
    ids.forEach((id, i) => {
      store.db.prepare('UPDATE users SET department = ? WHERE id = ?').run(`Field ${i}`, id);
    });
    const role = await plantedRole(store);
    store.close();
    expect(role.pattern ?? {}).toEqual({});
    const killed = await cli(proposeRoleArgs(role.role_id, 'entra', db, 'Field assigned'), {
      ATTEST_CRASH_AT: '1',
    });
    expect(killed.signal, killed.stdout + killed.stderr).toBe('SIGKILL');
    expect(killed.stdout).toMatch(/assigned membership/);
    const group = emu.tenant.groups.find((g) => g.displayName === 'Field assigned')!;
    expect(group).toMatchObject({ groupTypes: [], membershipRule: null });
    // Exactly the role's mined members (planted people all), and nobody else.
    const mined = role.user_ids.map((u) => u.replace(/^entra:/, '')).sort();
    expect(mined.length).toBeGreaterThan(1);
    expect(mined.every((u) => planted.includes(u))).toBe(true);
    expect([...(emu.tenant.members.get(group.id) ?? [])].sort()).toEqual(mined);
    emu.clearLog();
    const s = Store.open(db);
    try {
      expect(await runChangeOutbox(s, { connectorFor: createConnectorRegistry(env) })).toMatchObject({
        applied: 1,
      });
    } finally {
      s.close();
    }
    expect(emu.requests.filter((q) => q.method === 'POST' && q.path.startsWith('/v1.0/'))).toEqual([]);
    expect(emu.tenant.groups.filter((g) => g.displayName === 'Field assigned')).toHaveLength(1);
  });

  it("a role whose attribute value would break out of the rule's quotes is refused before anyone is asked", async () => {
    for (const value of ['Sales") or (user.userType -eq "Guest', 'Sales`"', 'Sales\nx']) {
      const db = await copies.fresh();
      const store = Store.open(db);
      store.db.prepare("UPDATE users SET department = ? WHERE department = 'Field Sales'").run(value);
      const role = await plantedRole(store);
      expect(role.pattern?.department).toBe(value);
      const groups = emu.tenant.groups.length;
      const h = await startConfirmingServer(store, env);
      try {
        const message = await h.fail('propose_role', { role_id: role.role_id, platform: 'entra' });
        expect(message).toMatch(
          /cannot be quoted safely in an Entra membership rule.*Nothing was created and nobody was asked/,
        );
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
