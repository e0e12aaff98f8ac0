import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { entraSecrets, parseEntraConfig } from '../../src/connectors/entra/config.js';
import { EntraConnector, type EntraConnectorOptions } from '../../src/connectors/entra/connector.js';
import { parseEntitlementId } from '../../src/connectors/entra/mapping.js';
import { entraRegistration } from '../../src/connectors/entra/registration.js';
import { ConnectorError, type DecisionToApply } from '../../src/connectors/types.js';
import { runOutbox } from '../../src/services/outbox.js';
import { runSync, syncStateKey } from '../../src/services/sync.js';
import { DecisionsRepo } from '../../src/store/decisions.js';
import { Store } from '../../src/store/store.js';
import {
  type EntraEmulator,
  type EntraEmulatorOptions,
  type EntraTenant,
  type GenerateEntraOptions,
  generateEntraTenant,
  NEVER,
  type RequestLogEntry,
  startEntraEmulator,
} from '../emulators/entra.js';
import { startServer, tempDir } from '../helpers/harness.js';
import { connectorContract, dumpStore } from './contract.js';

const WRONG_SECRET = 'wrong~secret-value-0123456789abcdef';
/** Short back-off for 5xx retries; 429 and 503 wait the emulator's Retry-After (1 s). */
const FAST: EntraConnectorOptions = { retry: { retryDelayMs: 5 } };

const envOf = (emu: EntraEmulator, secret = emu.clientSecret): Record<string, string> => ({
  AZURE_TENANT_ID: emu.tenant.tenantId,
  AZURE_CLIENT_ID: emu.clientId,
  AZURE_CLIENT_SECRET: secret,
  AZURE_AUTHORITY_HOST: emu.url,
  GRAPH_BASE_URL: emu.url,
});
const connectorFor = (env: Record<string, string>, options: EntraConnectorOptions = FAST) =>
  new EntraConnector(parseEntraConfig(env), options);

function holdsOn(t: EntraTenant, user: string, entitlement: string): boolean {
  const e = parseEntitlementId(entitlement);
  if (e.kind === 'group') return t.transitiveGroupsOf(user).includes(e.groupId);
  if (e.kind === 'appRole') return t.holdsAppRole(user, e.spId, e.appRoleId);
  if (e.kind === 'role') return t.holdsRole(user, e.definitionId);
  return false;
}

/** The list a request reads, ids folded. */
const listOf = (r: RequestLogEntry) =>
  `${r.method} ${r.path.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '{id}')}`;

function answered(log: RequestLogEntry[], status: number) {
  let times = 0;
  let retried = 0;
  log.forEach((r, i) => {
    if (r.status !== status) return;
    times++;
    const again = log
      .slice(i + 1)
      .find(
        (x) =>
          x.method === r.method && x.path === r.path && JSON.stringify(x.query) === JSON.stringify(r.query),
      );
    if (again && again.status < 400 && again.retryAttempt !== null) retried++;
  });
  return { times, retried };
}

/** A direct membership of an editable (not dynamic, not synced, not role-assignable) group. */
function removableMembership(t: EntraTenant): { group: string; user: string } {
  for (const g of t.groups) {
    if (g.groupTypes.includes('DynamicMembership') || g.onPremisesSyncEnabled || g.isAssignableToRole)
      continue;
    const user = (t.members.get(g.id) ?? []).find((id) => t.user(id));
    if (user) return { group: g.id, user };
  }
  throw new Error('no removable membership');
}

connectorContract('entra', async () => {
  const now = new Date();
  const emu = await startEntraEmulator({ tenant: generateEntraTenant({ users: 40, assignments: 240, now }) });
  return {
    connector: connectorFor(envOf(emu)),
    registration: entraRegistration,
    broken: connectorFor(envOf(emu, WRONG_SECRET)),
    secrets: [emu.clientSecret, WRONG_SECRET],
    now,
    decisionWrites: (id) =>
      emu.tenant.decisionWrites.filter((w) => w.decisionIds.includes(id.split(':')[1]!)).length,
    holds: (u, e) => holdsOn(emu.tenant, u, e),
    canRemove: (e) =>
      e.type === 'app' || (e.attributes.dynamic === 'false' && e.attributes.on_premises_sync === 'false'),
    removeAccess: () => {
      const { group, user } = removableMembership(emu.tenant);
      emu.tenant.removeMember(group, user);
      return { user, entitlement: `group:${group}` };
    },
    faults: {
      paged: connectorFor(envOf(emu), {
        ...FAST,
        pageSizes: {
          users: 7,
          groups: 3,
          members: 2,
          servicePrincipals: 2,
          appRoleAssignedTo: 3,
          signIns: 10,
          reviews: 4,
        },
      }),
      clearLog: () => emu.clearLog(),
      pagesRead: () => {
        const pages: Record<string, number> = {};
        for (const r of emu.requests) {
          if (r.method !== 'GET' || r.path.endsWith('/token')) continue;
          const k = listOf(r);
          const paged =
            r.query.$skiptoken !== undefined || (r.query.$skip !== undefined && r.query.$skip !== '0');
          pages[k] = Math.max(pages[k] ?? 1, paged ? 2 : 1);
        }
        return pages;
      },
      inject: (status, after) => emu.injectFault({ status, after }),
      answered: (status) => answered(emu.requests, status),
      revokeAfter: (n) => emu.revokeCredentialAfter(n),
    },
    close: () => emu.close(),
  };
});

describe('Entra connector against the emulator', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(
    tenant: Partial<GenerateEntraOptions> = {},
    emulator: Omit<EntraEmulatorOptions, 'tenant'> = {},
    options: EntraConnectorOptions = {},
    env: Record<string, string> = {},
  ) {
    const now = new Date();
    const emu = await startEntraEmulator({
      tenant: generateEntraTenant({ users: 40, assignments: 240, now, ...tenant }),
      ...emulator,
    });
    const store = Store.open(':memory:');
    cleanups.push(
      () => emu.close(),
      () => store.close(),
    );
    const connector = connectorFor({ ...envOf(emu), ...env }, { ...FAST, ...options });
    const sync = (at = now, c = connector, full = false) =>
      runSync(store, c, { now: at, dormantDays: 90, full });
    return { emu, store, connector, sync, now };
  }

  const assignment = (store: Store, user: string, ent: string) =>
    store.db
      .prepare('SELECT source, via FROM assignments WHERE user_id = ? AND entitlement_id = ?')
      .get(`entra:${user}`, `entra:${ent}`) as { source: string; via: string | null } | undefined;

  it('maps people: department, title, employee type, manager, disabled accounts, guests, never signed in', async () => {
    const { emu, store, sync } = await setup();
    const t = emu.tenant;
    const disabled = t.users.find((u) => !u.accountEnabled)!;
    const guest = t.users.find((u) => u.userType === 'Guest') ?? t.users[5]!;
    t.updateUser(guest.id, { userType: 'Guest', externalUserState: 'PendingAcceptance', employeeType: null });
    const never = t.users[6]!;
    never.signInActivity = {
      lastSignInDateTime: NEVER,
      lastSignInRequestId: '',
      lastNonInteractiveSignInDateTime: NEVER,
      lastNonInteractiveSignInRequestId: '',
      lastSuccessfulSignInDateTime: NEVER,
      lastSuccessfulSignInRequestId: '',
    };
    const contractor = t.users[7]!;
    contractor.employeeType = 'Contractor';
    await sync();
    const m = t.users.find((u) => u.managerId && u.userType === 'Member')!;
    expect(store.getUser(`entra:${m.id}`)).toMatchObject({
      department: m.department,
      title: m.jobTitle,
      manager_id: `entra:${m.managerId}`,
      last_sign_in: new Date(
        m.signInActivity.lastSuccessfulSignInDateTime ?? m.signInActivity.lastSignInDateTime,
      ).toISOString(),
    });
    if (disabled) expect(store.getUser(`entra:${disabled.id}`)?.status).toBe('suspended');
    expect(store.getUser(`entra:${guest.id}`)).toMatchObject({
      employee_type: 'contractor',
      attributes: expect.objectContaining({
        entra_user_type: 'Guest',
        external_user_state: 'PendingAcceptance',
      }),
    });
    expect(store.getUser(`entra:${never.id}`)).toMatchObject({
      last_sign_in: null,
      attributes: expect.objectContaining({ last_successful_sign_in: 'never' }),
    });
    expect(store.getUser(`entra:${contractor.id}`)?.employee_type).toBe('contractor');
    const synced = t.users.find((u) => u.onPremisesSyncEnabled)!;
    expect(store.getUser(`entra:${synced.id}`)?.attributes.on_premises_sync).toBe('true');
    // Users are read with signInActivity at most 500 a page, with their manager.
    const usersQuery = emu.requests.find((r) => r.path === '/v1.0/users')!;
    expect(usersQuery.query.$select).toContain('signInActivity');
    expect(usersQuery.query.$expand).toBe('manager($select=id)');
    expect(Number(usersQuery.query.$top)).toBeLessThanOrEqual(500);
  });

  it('maps groups, nesting, app roles and directory roles, with includes, via and privilege', async () => {
    const { emu, store, sync } = await setup();
    const t = emu.tenant;
    await sync();
    // Nesting: the inner group includes the outer one, and its members hold the outer via the inner.
    const [outer, inner] = [...t.members].find(([, ids]) => ids.some((id) => t.group(id)))!;
    const innerId = inner.find((id) => t.group(id))!;
    expect(
      store.db
        .prepare('SELECT included_id FROM entitlement_includes WHERE entitlement_id = ?')
        .all(`entra:group:${innerId}`)
        .map((r) => (r as { included_id: string }).included_id),
    ).toContain(`entra:group:${outer}`);
    const nestedMember = (t.members.get(innerId) ?? []).find((u) => t.user(u) && !t.isMember(outer, u));
    if (nestedMember)
      expect(assignment(store, nestedMember, `group:${outer}`)).toEqual({
        source: 'group',
        via: `entra:group:${innerId}`,
      });
    // A group assigned an app role includes it; its members hold it via the group, unless assigned directly.
    const grant = t.appRoleAssignments.find((a) => a.principalType === 'Group')!;
    const ent = `app:${grant.resourceId}:${grant.appRoleId}`;
    const member = (t.members.get(grant.principalId) ?? []).find(
      (u) =>
        t.user(u) &&
        !t.appRoleAssignments.some(
          (a) => a.principalId === u && a.resourceId === grant.resourceId && a.appRoleId === grant.appRoleId,
        ),
    )!;
    expect(assignment(store, member, ent)).toEqual({
      source: 'group',
      via: `entra:group:${grant.principalId}`,
    });
    const direct = t.appRoleAssignments.find((a) => a.principalType === 'User')!;
    expect(assignment(store, direct.principalId, `app:${direct.resourceId}:${direct.appRoleId}`)).toEqual({
      source: 'direct',
      via: null,
    });
    expect(store.getEntitlement(`entra:${ent}`)).toMatchObject({
      type: 'app',
      app: t.sp(grant.resourceId)!.displayName,
    });
    // Global Administrator is critical; a role held through the role-assignable group comes via it.
    expect(store.getEntitlement('entra:role:62e90394-69f5-4237-9190-012177145e10')).toMatchObject({
      type: 'role',
      privileged: true,
      sensitivity: 'critical',
    });
    const roleGroup = t.groups.find((g) => g.isAssignableToRole)!;
    const roleMember = (t.members.get(roleGroup.id) ?? [])[0];
    if (roleMember)
      expect(assignment(store, roleMember, 'role:729827e3-9c14-49f7-bb1b-9608f156bbb8')).toEqual({
        source: 'group',
        via: `entra:group:${roleGroup.id}`,
      });
    // Eligible (PIM) assignments are their own entitlements.
    const eligible = t.roleEligibilities[0]!;
    expect(assignment(store, eligible.principalId, `role:${eligible.roleDefinitionId}:eligible`)).toEqual({
      source: 'direct',
      via: null,
    });
    // Group kinds.
    const dyn = t.groups.find((g) => g.groupTypes.includes('DynamicMembership'))!;
    expect(store.getEntitlement(`entra:group:${dyn.id}`)?.attributes).toMatchObject({
      dynamic: 'true',
      group_kind: 'security',
    });
    const m365 = t.groups.find((g) => g.groupTypes.includes('Unified'))!;
    expect(store.getEntitlement(`entra:group:${m365.id}`)?.attributes.group_kind).toBe('microsoft365');
    // Sign-ins per app, failures kept; the Graph app without the enterprise tag is not an entitlement.
    expect(store.counts().activity_events).toBe(t.signIns.filter((s) => t.user(s.userId)).length);
    const failed = store.db
      .prepare("SELECT count(*) AS n FROM activity_events WHERE outcome = 'failure'")
      .get() as { n: number };
    expect(failed.n).toBe(t.signIns.filter((s) => s.status.errorCode !== 0).length);
    // Advanced queries send ConsistencyLevel: eventual on every page.
    for (const r of emu.requests.filter(
      (x) => x.query.$count === 'true' || x.path.endsWith('/servicePrincipals'),
    ))
      expect(r.consistencyLevel).toBe('eventual');
  });

  it("turns an in-progress review into a campaign with Entra's recommendation and insights, and a completed one into past decisions", async () => {
    const { emu, store, sync } = await setup();
    const t = emu.tenant;
    await sync();
    const live = t.instances.find((i) => i.status === 'InProgress')!;
    const campaign = store.listCampaigns('active').find((c) => c.id === `entra:${live.id}`)!;
    expect(campaign).toBeDefined();
    const decisions = t.decisions.filter((d) => d.instanceId === live.id);
    expect(campaign.counts.total).toBe(decisions.length);
    const decided = decisions.find((d) => d.decision !== 'NotReviewed')!;
    const row = store.db
      .prepare(
        'SELECT status, reviewer_id, platform_coordinates AS c, platform_attributes AS a FROM review_items WHERE external_id = ?',
      )
      .get(`${live.id}:${decided.id}`) as { status: string; reviewer_id: string; c: string; a: string };
    expect(row.status).toBe('decided');
    expect(JSON.parse(row.c)).toMatchObject({
      instance_id: live.id,
      decision_id: decided.id,
      principal_id: decided.principalId,
    });
    expect(JSON.parse(row.a)).toMatchObject({ entra_recommendation: decided.recommendation });
    // explain_item shows Entra's own view beside Attest's.
    const h = await startServer({ store });
    const explained = await h.ok<{ platform: { attributes: Record<string, string> } | null }>(
      'explain_item',
      {
        item_id: `entra:${live.id}:${decided.id}`,
      },
    );
    expect(explained.platform?.attributes).toMatchObject({ entra_recommendation: decided.recommendation });
    await h.close();
    const manager = t.user(decided.principalId)!.managerId;
    expect(row.reviewer_id).toBe(manager ? `entra:${manager}` : null);
    const outlier = decisions.find((d) => d.outlier);
    if (outlier) {
      const a = store.db
        .prepare('SELECT platform_attributes AS a FROM review_items WHERE external_id = ?')
        .get(`${live.id}:${outlier.id}`) as {
        a: string;
      };
      expect(JSON.parse(a.a).entra_insight_outlier).toBe('true');
    }
    const completed = new Set(t.instances.filter((i) => i.status === 'Completed').map((i) => i.id));
    const past = t.decisions.filter(
      (d) => completed.has(d.instanceId) && (d.decision === 'Approve' || d.decision === 'Deny'),
    );
    expect(store.counts().past_decisions).toBe(past.length);
    // Reviews page with $skip.
    expect(emu.requests.some((r) => r.path.includes('/decisions') && r.query.$expand === 'insights')).toBe(
      true,
    );
  });

  it('a multi-stage review: the items of the stage in progress, with the stage in their coordinates; decisions recorded there', async () => {
    const { emu, store, sync, connector } = await setup();
    const t = emu.tenant;
    await sync();
    const stage = t.stages.find((st) => st.status === 'InProgress')!;
    const open = t.decisions.filter((d) => d.stageId === stage.id);
    const rows = store.db
      .prepare(
        'SELECT external_id, status, platform_coordinates AS c FROM review_items WHERE campaign_id = ? ORDER BY 1',
      )
      .all(`entra:${stage.instanceId}`) as Array<{ external_id: string; status: string; c: string }>;
    expect(rows.map((r) => r.external_id)).toEqual(open.map((d) => `${stage.instanceId}:${d.id}`).sort());
    expect(rows.every((r) => r.status === 'pending' && JSON.parse(r.c).stage_id === stage.id)).toBe(true);
    const item = rows[0]!;
    const d = open.find((x) => `${stage.instanceId}:${x.id}` === item.external_id)!;
    const inst = t.instances.find((i) => i.id === stage.instanceId)!;
    const out = await connector.writeBack.apply({
      idempotency_key: 'p-stage',
      item_external_id: item.external_id,
      campaign_external_id: inst.id,
      item_coordinates: JSON.parse(item.c) as Record<string, string>,
      user_external_id: d.principalId,
      entitlement_external_id: 'x',
      entitlement_type: 'app',
      decision: 'revoke',
      rationale: 'Second stage: no longer needed.',
      proposed_by: 'agent',
      confirmed_by: 'dana@example.com',
      channel: 'cli',
      engine_recommended: false,
    });
    expect(out.status).toBe('done');
    expect(d.decision).toBe('Deny');
    // The first stage's decision about the same access is left as it was.
    const earlier = t.decisions.find(
      (x) =>
        x.stageId !== stage.id &&
        x.instanceId === inst.id &&
        x.principalId === d.principalId &&
        x.resource.id === d.resource.id,
    )!;
    expect(earlier.decision).toBe('Approve');
    expect(emu.requests.some((r) => r.path.endsWith(`/stages/${stage.id}/decisions/${d.id}`))).toBe(true);
  });

  it('an incremental sync reads changes through delta links: removed members and deleted users and groups', async () => {
    const { emu, store, sync, now } = await setup({ users: 60, assignments: 400 });
    const t = emu.tenant;
    await sync();
    const { group, user } = removableMembership(t);
    t.removeMember(group, user);
    const victim = t.users.find(
      (u) => u.userType === 'Member' && u.id !== t.users[0]!.id && (t.members.get(group) ?? []).length > 0,
    )!;
    t.deleteUser(victim.id);
    const extra = t.users[10]!;
    const target = t.groups.find(
      (g) =>
        g.id !== group &&
        !g.groupTypes.includes('DynamicMembership') &&
        !t.isMember(g.id, extra.id) &&
        !g.isAssignableToRole,
    )!;
    t.addMember(target.id, extra.id);
    emu.clearLog();
    const second = await sync(new Date(now.getTime() + 60_000));
    expect(
      emu.requests.filter((r) => r.path.endsWith('/delta')).every((r) => r.query.$deltatoken !== undefined),
    ).toBe(true);
    // Only structural groups' members are listed again, not every group's.
    const memberLists = emu.requests.filter((r) => r.path.endsWith('/members')).length;
    expect(memberLists).toBeLessThan(t.groups.length);
    expect(assignment(store, user, `group:${group}`)).toBeUndefined();
    expect(assignment(store, extra.id, `group:${target.id}`)).toEqual({ source: 'direct', via: null });
    expect(store.getUser(`entra:${victim.id}`)?.status).toBe('deprovisioned');
    expect(store.entitlementIdsOf(`entra:${victim.id}`)).toEqual([]);
    expect(second.summary.removed.assignments).toBeGreaterThanOrEqual(1);
    // An expired delta link: the next sync reads everything again and says so.
    emu.expireDeltaLinks();
    const third = await sync(new Date(now.getTime() + 120_000));
    expect(third.warnings.join(' ')).toMatch(/delta link was refused \(syncStateNotFound\)/);
    expect(assignment(store, extra.id, `group:${target.id}`)).toEqual({ source: 'direct', via: null });
  });

  it('signs in with a certificate: an RS256 assertion carrying the thumbprint', async () => {
    const { generate } = (await import('selfsigned')) as unknown as {
      generate: (a: unknown, o: unknown) => Promise<{ private: string; cert: string }>;
    };
    const pems = await generate([{ name: 'commonName', value: 'attest-test' }], {
      keySize: 2048,
      algorithm: 'sha256',
    });
    const dir = tempDir();
    cleanups.push(() => dir.cleanup());
    const path = join(dir.dir, 'app.pem');
    writeFileSync(path, `${pems.private}\n${pems.cert}`);
    const clientId = 'c0ffee00-0000-4000-8000-00000000ce47';
    const { emu, store } = await setup({}, { apps: [{ clientId, certificate: pems.cert }] });
    const env = {
      ...envOf(emu),
      AZURE_CLIENT_ID: clientId,
      AZURE_CLIENT_SECRET: '',
      AZURE_CLIENT_CERTIFICATE_PATH: path,
    };
    const config = parseEntraConfig(env);
    await runSync(store, new EntraConnector(config, FAST), { now: new Date(), dormantDays: 90 });
    expect(store.counts().users).toBe(emu.tenant.users.length);
    expect(emu.requests[0]).toMatchObject({ method: 'POST', status: 200 });
    const keyLines = pems.private.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    for (const l of keyLines) expect(entraSecrets(config)).toContain(l);
  });

  it('a missing permission fails the sync as forbidden, naming the permission; without a licence the rest syncs', async () => {
    const { emu, store, sync } = await setup();
    emu.setPermissions(emu.clientId, ['User.Read.All', 'AuditLog.Read.All']);
    const error = (await sync().catch((e) => e)) as ConnectorError;
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.kind).toBe('forbidden');
    expect(error.message).toMatch(/listing groups .*GroupMember\.Read\.All application permission/);
    expect(store.counts().users).toBe(0);

    const {
      emu: free,
      store: s2,
      sync: sync2,
    } = await setup({}, { premium: false, governance: 'absent', pim: 'forbidden' });
    const result = await sync2();
    const w = result.warnings.join(' ');
    expect(w).toMatch(/signInActivity\) was not read/);
    expect(w).toMatch(/Access reviews were not read/);
    expect(w).toMatch(/Eligible \(PIM\) role assignments were not read/);
    expect(s2.counts()).toMatchObject({ users: free.tenant.users.length, campaigns: 0 });
  });

  describe('write-back', () => {
    const decisionFor = (
      t: EntraTenant,
      decisionId: string,
      decision: 'approve' | 'revoke' | 'escalate',
    ): DecisionToApply => {
      const d = t.decisions.find((x) => x.id === decisionId)!;
      const inst = t.instances.find((i) => i.id === d.instanceId)!;
      return {
        idempotency_key: `p-${d.id}`,
        item_external_id: `${inst.id}:${d.id}`,
        campaign_external_id: inst.id,
        item_coordinates: {
          definition_id: inst.definitionId,
          instance_id: inst.id,
          decision_id: d.id,
          principal_id: d.principalId,
          resource_id: d.resource.id,
          auto_apply: 'true',
        },
        user_external_id: d.principalId,
        entitlement_external_id: `group:${d.resource.id}`,
        entitlement_type: 'group',
        decision,
        rationale: 'No sign-in for 120 days; peers do not hold it.',
        proposed_by: 'agent:claude',
        confirmed_by: 'dana@example.com',
        channel: 'elicitation',
        engine_recommended: true,
      };
    };
    const pending = (t: EntraTenant) =>
      t.decisions.filter(
        (d) =>
          d.decision === 'NotReviewed' &&
          t.instances.find((i) => i.id === d.instanceId)?.status === 'InProgress',
      );

    it('records Approve, Deny and DontKnow through batchRecordDecisions with the justification, never by PATCH', async () => {
      const { emu, connector } = await setup();
      const [a, b, c] = pending(emu.tenant);
      for (const [d, decision, entra] of [
        [a!, 'approve', 'Approve'],
        [b!, 'revoke', 'Deny'],
        [c!, 'escalate', 'DontKnow'],
      ] as const) {
        expect(await connector.writeBack.apply(decisionFor(emu.tenant, d.id, decision))).toEqual({
          status: 'done',
          platform_ref: `entra:decision:${d.instanceId}:${d.id}:${entra}`,
        });
        expect(d.decision).toBe(entra);
        expect(d.justification).toContain('confirmed by dana@example.com via elicitation');
      }
      expect(emu.tenant.decisionWrites.map((w) => w.decisionIds)).toEqual([[a!.id], [b!.id], [c!.id]]);
      const posts = emu.requests.filter((r) => r.method !== 'GET' && !r.path.endsWith('/token'));
      expect(posts.every((r) => r.method === 'POST' && r.path.endsWith('/batchRecordDecisions'))).toBe(true);
      expect(posts[0]!.body).toMatchObject({
        decision: 'Approve',
        principalId: a!.principalId,
        resourceId: a!.resource.id,
      });
    });

    it('is idempotent, never overturns a decision made in Entra, and reports refusals clearly', async () => {
      const { emu, connector } = await setup();
      const [a, b] = pending(emu.tenant);
      expect((await connector.writeBack.apply(decisionFor(emu.tenant, a!.id, 'revoke'))).status).toBe('done');
      expect(await connector.writeBack.apply(decisionFor(emu.tenant, a!.id, 'revoke'))).toMatchObject({
        status: 'done',
        detail: 'the decision was already recorded in Entra',
      });
      const overturn = await connector.writeBack.apply(decisionFor(emu.tenant, a!.id, 'approve'));
      expect(overturn).toMatchObject({ status: 'failed', retryable: false });
      expect(overturn.status === 'failed' && overturn.error).toMatch(/already decided as Deny/);
      expect(emu.tenant.decisionWrites).toHaveLength(1);

      emu.setPermissions(emu.clientId, ['AccessReview.Read.All']);
      const refused = await connector.writeBack.apply(decisionFor(emu.tenant, b!.id, 'approve'));
      expect(refused).toMatchObject({ status: 'failed', retryable: false });
      expect(refused.status === 'failed' && refused.error).toMatch(
        /refused recording the review decision \(HTTP 403 Authorization_RequestDenied.*AccessReview\.ReadWrite\.All/,
      );
      expect(refused.status === 'failed' && refused.error).not.toMatch(/https?:\/\//);

      const notReview = await connector.writeBack.apply({
        ...decisionFor(emu.tenant, b!.id, 'approve'),
        item_coordinates: {},
      });
      expect(notReview.status).toBe('skipped');
    });

    it('a 503 on the write is retried after Retry-After; a persistent 500 is retryable and not repeated blindly', async () => {
      const { emu, connector } = await setup();
      const [a, b] = pending(emu.tenant);
      emu.injectFault({ status: 503, method: 'POST', path: '/identityGovernance' });
      expect((await connector.writeBack.apply(decisionFor(emu.tenant, a!.id, 'approve'))).status).toBe(
        'done',
      );
      expect(emu.tenant.decisionWrites).toHaveLength(1);
      emu.injectFault({ status: 500, method: 'POST', path: '/identityGovernance', times: 5 });
      expect(await connector.writeBack.apply(decisionFor(emu.tenant, b!.id, 'approve'))).toMatchObject({
        status: 'failed',
        retryable: true,
      });
      expect(emu.requests.filter((r) => r.method === 'POST' && r.status === 500)).toHaveLength(1);
    });
  });

  describe('remediation', () => {
    const request = (user: string, entitlement: string) => ({
      idempotency_key: `r-${user}-${entitlement}`,
      user_external_id: user,
      entitlement_external_id: entitlement,
      entitlement_type: 'group' as const,
      entitlement_attributes: {},
    });

    it('removes a membership with $ref (never the user), an app role assignment and a directory role', async () => {
      const { emu, connector } = await setup();
      const t = emu.tenant;
      const { group, user } = removableMembership(t);
      const direct = t.appRoleAssignments.find((a) => a.principalType === 'User')!;
      const role =
        t.roleAssignments.find((a) => t.user(a.principalId) && a.principalId !== t.users[0]!.id) ??
        t.roleAssignments[0]!;
      for (const [u, ent] of [
        [user, `group:${group}`],
        [direct.principalId, `app:${direct.resourceId}:${direct.appRoleId}`],
        [role.principalId, `role:${role.roleDefinitionId}`],
      ] as const) {
        expect(holdsOn(t, u, ent)).toBe(true);
        expect(await connector.remediation.remove(request(u, ent))).toMatchObject({ status: 'done' });
        expect(holdsOn(t, u, ent)).toBe(false);
        expect(await connector.remediation.remove(request(u, ent))).toMatchObject({
          status: 'done',
          detail: 'the access was already removed in Entra',
        });
      }
      const deletes = emu.requests.filter((r) => r.method === 'DELETE');
      expect(deletes.some((r) => r.path === `/v1.0/groups/${group}/members/${user}/$ref`)).toBe(true);
      expect(deletes.every((r) => !/\/members\/[^/]+$/.test(r.path))).toBe(true);
      expect(t.deletedUsers).toEqual([]);
    });

    it('dynamic and on-premises groups, and access inherited through a group, fail for good saying what to change', async () => {
      const { emu, connector } = await setup();
      const t = emu.tenant;
      const dyn = t.groups.find((g) => g.groupTypes.includes('DynamicMembership'))!;
      const dynOut = await connector.remediation.remove(
        request(t.members.get(dyn.id)![0]!, `group:${dyn.id}`),
      );
      expect(dynOut).toMatchObject({ status: 'failed', retryable: false });
      expect(dynOut.status === 'failed' && dynOut.error).toMatch(/dynamic group .*Change the rule/);
      const onprem = t.groups.find((g) => g.onPremisesSyncEnabled)!;
      t.addMember(onprem.id, t.users[3]!.id);
      const opOut = await connector.remediation.remove(request(t.users[3]!.id, `group:${onprem.id}`));
      expect(opOut.status === 'failed' && opOut.error).toMatch(
        /synced from on-premises Active Directory: remove the user .* in Active Directory/,
      );
      const grant = t.appRoleAssignments.find((a) => a.principalType === 'Group')!;
      const member = t.members
        .get(grant.principalId)!
        .find(
          (u) =>
            t.user(u) &&
            !t.appRoleAssignments.some(
              (a) =>
                a.principalId === u && a.appRoleId === grant.appRoleId && a.resourceId === grant.resourceId,
            ),
        )!;
      const inh = await connector.remediation.remove(
        request(member, `app:${grant.resourceId}:${grant.appRoleId}`),
      );
      expect(inh.status === 'failed' && inh.error).toMatch(
        /assigned to the group .*remove the user from that group/,
      );
      const el = t.roleEligibilities[0]!;
      const elOut = await connector.remediation.remove(
        request(el.principalId, `role:${el.roleDefinitionId}:eligible`),
      );
      expect(elOut.status === 'failed' && elOut.error).toMatch(/Privileged Identity Management/);
      expect(t.stats().memberships).toBeGreaterThan(0);
    });

    it('leaves removal to the review by default for review items, and removes at once with ENTRA_REMEDIATION=direct', async () => {
      const { emu, connector } = await setup();
      const item = {
        item_external_id: 'x',
        campaign_external_id: 'y',
        item_coordinates: { decision_id: 'd', auto_apply: 'true' },
      };
      expect(connector.remediation.byPlatform!(item)).toMatch(/access review removes this access/);
      expect(connector.remediation.byPlatform!({ ...item, item_coordinates: {} })).toBeNull();
      const direct = connectorFor({ ...envOf(emu), ENTRA_REMEDIATION: 'direct' });
      expect(direct.remediation.byPlatform!(item)).toBeNull();
    });
  });

  it('through the outbox: an escalation is recorded as DontKnow, a revoke of a review item is left to the review', async () => {
    const { emu, store, sync, connector } = await setup();
    await sync();
    const items = store.db
      .prepare(
        "SELECT id FROM review_items WHERE platform = 'entra' AND status = 'pending' ORDER BY id LIMIT 2",
      )
      .all() as Array<{ id: string }>;
    const repo = new DecisionsRepo(store.db);
    const ids = items.map(
      (it, n) =>
        repo.propose({
          item_id: it.id,
          decision: n === 0 ? 'escalate' : 'revoke',
          rationale: 'Unclear who owns this access.',
          confidence: null,
          engine_decision: null,
          proposed_by: 'agent:test',
          proposed_at: new Date().toISOString(),
        }).id,
    );
    repo.confirmIntoOutbox({
      pendingId: null,
      principal: 'agent:test',
      batchHash: repo.batchHash(ids),
      proposalIds: ids,
      confirmedBy: 'dana@example.com',
      channel: 'cli',
      assurance: 'human-verified',
      now: new Date(),
    });
    emu.clearLog();
    expect(await runOutbox(store, () => connector)).toEqual({ applied: 2, failed: 0, retry: 0 });
    expect(emu.tenant.decisionWrites.map((w) => w.decision)).toEqual(['DontKnow', 'Deny']);
    // Escalate is not an end state: the item stays open, with the first reviewer's note.
    const escalated = store.getItem(items[0]!.id)!;
    expect(escalated.decision).toBeNull();
    expect(escalated.status).toBe('pending');
    expect(escalated.escalation).toMatchObject({
      note: 'Unclear who owns this access.',
      escalated_by: 'dana@example.com',
    });
    const remediation = store.db
      .prepare('SELECT status, detail FROM remediations WHERE item_id = ?')
      .get(items[1]!.id);
    expect(remediation).toEqual({
      status: 'pending',
      detail: 'the Entra access review removes this access when it completes and applies its decisions',
    });
    expect(emu.requests.filter((r) => r.method === 'DELETE')).toEqual([]);
  });

  it('a sync state from before survives a failed sync; no secret reaches a message', async () => {
    const { emu, store, sync } = await setup();
    await sync();
    const before = dumpStore(store);
    const state = store.getMeta(syncStateKey('entra'));
    const wrong = connectorFor(envOf(emu, WRONG_SECRET));
    const e = (await runSync(store, wrong, { now: new Date(), dormantDays: 90 }).catch(
      (x) => x,
    )) as ConnectorError;
    expect(e.message).toMatch(/AADSTS7000215/);
    expect(e.kind).toBe('auth');
    expect(e.message).not.toContain(WRONG_SECRET);
    expect(e.message).not.toContain(emu.clientSecret);
    expect(dumpStore(store)).toEqual(before);
    expect(store.getMeta(syncStateKey('entra'))).toBe(state);
  });
});

describe('Entra configuration', () => {
  const base = {
    AZURE_TENANT_ID: '11111111-2222-4333-8444-555555555555',
    AZURE_CLIENT_ID: '66666666-7777-4888-8999-000000000000',
    AZURE_CLIENT_SECRET: 'Sup3r~secret.value-0123456789',
  };
  const messageOf = (env: Record<string, string>) => {
    try {
      parseEntraConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConnectorError);
      return (e as Error).message;
    }
    throw new Error('expected a configuration error');
  };
  it.each([
    ['no tenant', { ...base, AZURE_TENANT_ID: '' }, /AZURE_TENANT_ID is not set/],
    ['a bad tenant', { ...base, AZURE_TENANT_ID: 'not a tenant' }, /AZURE_TENANT_ID must be a directory id/],
    [
      'a bad client id',
      { ...base, AZURE_CLIENT_ID: 'app' },
      /AZURE_CLIENT_ID must be the application \(client\) id/,
    ],
    [
      'no credential',
      { ...base, AZURE_CLIENT_SECRET: '' },
      /Neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH/,
    ],
    [
      'both credentials',
      { ...base, AZURE_CLIENT_CERTIFICATE_PATH: '/x.pem' },
      /Both AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH/,
    ],
    [
      'a missing certificate file',
      { ...base, AZURE_CLIENT_SECRET: '', AZURE_CLIENT_CERTIFICATE_PATH: '/nonexistent/x.pem' },
      /AZURE_CLIENT_CERTIFICATE_PATH cannot be read \(ENOENT\)/,
    ],
    [
      'http to a remote host',
      { ...base, AZURE_AUTHORITY_HOST: 'http://login.example.com' },
      /AZURE_AUTHORITY_HOST uses http:\/\/ for a host that is not loopback/,
    ],
    [
      'http Graph on loopback',
      { ...base, GRAPH_BASE_URL: 'http://127.0.0.1:8080' },
      /GRAPH_BASE_URL must use https:\/\//,
    ],
    [
      'a Graph URL with a path',
      { ...base, GRAPH_BASE_URL: 'https://graph.microsoft.com/v1.0' },
      /GRAPH_BASE_URL must be the bare address/,
    ],
    [
      'a bad remediation',
      { ...base, ENTRA_REMEDIATION: 'now' },
      /ENTRA_REMEDIATION must be review or direct/,
    ],
  ])('%s is refused naming the variable, never its value', (_l, env, pattern) => {
    const m = messageOf(env as Record<string, string>);
    expect(m).toMatch(pattern);
    expect(m).not.toContain(base.AZURE_CLIENT_SECRET);
  });

  it('defaults to the public cloud and accepts sovereign clouds', () => {
    expect(parseEntraConfig(base)).toMatchObject({
      authorityHost: 'https://login.microsoftonline.com',
      graphBaseUrl: 'https://graph.microsoft.com',
      remediation: 'review',
    });
    expect(
      parseEntraConfig({
        ...base,
        AZURE_AUTHORITY_HOST: 'https://login.microsoftonline.us/',
        GRAPH_BASE_URL: 'https://graph.microsoft.us',
      }),
    ).toMatchObject({
      authorityHost: 'https://login.microsoftonline.us',
      graphBaseUrl: 'https://graph.microsoft.us',
    });
    expect(entraSecrets(parseEntraConfig(base))).toEqual([base.AZURE_CLIENT_SECRET]);
  });
});
