import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { OKTA_SYNC_SCOPES, oktaSecrets, parseOktaConfig } from '../../src/connectors/okta/config.js';
import { OktaConnector, type OktaConnectorOptions } from '../../src/connectors/okta/connector.js';
import { parseEntitlementId } from '../../src/connectors/okta/mapping.js';
import { oktaRegistration } from '../../src/connectors/okta/registration.js';
import { ConnectorError, type DecisionToApply } from '../../src/connectors/types.js';
import { runSync, syncStateKey } from '../../src/services/sync.js';
import { Store } from '../../src/store/store.js';
import {
  type GenerateOptions,
  generateOktaOrg,
  type OktaEmulator,
  type OktaEmulatorOptions,
  type OktaOrg,
  type RequestLogEntry,
  startOktaEmulator,
} from '../emulators/okta.js';
import { connectorContract, dumpStore } from './contract.js';

const WRONG_TOKEN = '00WRONGtoken-value-zyxwvutsrqponmlkjih';
/** Short back-off for 5xx retries: tests never wait on the clock except for the SDK's 429 reset. */
const FAST: OktaConnectorOptions = { retry: { retryDelayMs: 5 } };

function holdsOn(org: OktaOrg, userId: string, entitlementId: string): boolean {
  const e = parseEntitlementId(entitlementId);
  if (e.kind === 'group') return org.isMember(e.groupId, userId);
  if (e.kind === 'app') return org.hasAppAssignment(e.appId, userId);
  return org.rolesOf(userId).some((r) => r.type === e.role || r.role === e.role);
}

const tokenEnv = (emu: OktaEmulator, token = emu.token) => ({ OKTA_ORG_URL: emu.url, OKTA_API_TOKEN: token });

/** The list a request reads, ids folded: /api/v1/groups/{id}/users. */
const listOf = (r: RequestLogEntry) =>
  `${r.method} ${r.path.replace(/\/(00u|00g|0oa|ici|icr)[0-9A-Za-z]{17}/g, '/{id}')}`;

/** How often a fault status was answered, and how often the same request came again right after. */
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
    if (again && again.status < 400) retried++;
  });
  return { times, retried };
}

connectorContract('okta', async () => {
  const now = new Date();
  const emu = await startOktaEmulator({ org: generateOktaOrg({ users: 40, assignments: 240, now }) });
  const paged = OktaConnector.fromEnv(tokenEnv(emu), {
    ...FAST,
    pageSizes: {
      users: 7,
      groups: 3,
      groupUsers: 2,
      apps: 2,
      appUsers: 3,
      appGroups: 1,
      roleAssignees: 1,
      logs: 10,
      governance: 1,
    },
  });
  return {
    connector: OktaConnector.fromEnv(tokenEnv(emu), FAST),
    registration: oktaRegistration,
    broken: OktaConnector.fromEnv(tokenEnv(emu, WRONG_TOKEN), FAST),
    secrets: [emu.token, WRONG_TOKEN],
    now,
    decisionWrites: (id) => emu.org.reviewActions.filter((a) => a.reviewId === id).length,
    holds: (u, e) => holdsOn(emu.org, u, e),
    canRemove: (e) => e.type === 'app' || e.attributes.okta_group_type === 'OKTA_GROUP',
    removeAccess: () => {
      const g = emu.org.groups.find(
        (x) => x.type === 'OKTA_GROUP' && (emu.org.members.get(x.id)?.length ?? 0) > 0,
      )!;
      const user = emu.org.members.get(g.id)![0]!;
      emu.org.removeMember(g.id, user, new Date(now.getTime() + 10));
      return { user, entitlement: g.id };
    },
    faults: {
      paged,
      clearLog: () => emu.clearLog(),
      pagesRead: () => {
        const pages: Record<string, number> = {};
        for (const r of emu.requests) {
          if (r.method !== 'GET' || /^\/api\/v1\/(users|groups|apps|reviews)\/[^/]+$/.test(r.path)) continue;
          if (/\/roles$/.test(r.path) || r.path.startsWith('/governance/api/v1/reviews/')) continue;
          const k = listOf(r);
          pages[k] = Math.max(pages[k] ?? 1, r.query.after !== undefined ? 2 : 1);
        }
        return pages;
      },
      inject: (status, after) => emu.injectFault({ status, after }),
      answered: (status) => answered(emu.requests, status),
      revokeAfter: (n) => emu.revokeTokenAfter(n),
    },
    close: () => emu.close(),
  };
});

describe('Okta connector against the emulator', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(
    org: Partial<GenerateOptions> = {},
    emulator: Omit<OktaEmulatorOptions, 'org'> = {},
    options: OktaConnectorOptions = {},
  ) {
    const now = new Date();
    const emu = await startOktaEmulator({
      org: generateOktaOrg({ users: 40, assignments: 240, now, ...org }),
      ...emulator,
    });
    const store = Store.open(':memory:');
    cleanups.push(
      () => emu.close(),
      () => store.close(),
    );
    const connector = OktaConnector.fromEnv(tokenEnv(emu), { ...FAST, ...options });
    const sync = (at = now, c = connector, full = false) =>
      runSync(store, c, { now: at, dormantDays: 90, full });
    return { emu, store, connector, sync, now };
  }

  /** What a full sync must store, computed from the emulator's own state. */
  function expected(org: OktaOrg) {
    const st = org.stats();
    const roleKeys = new Set([...org.roles.values()].flat().map((r) => r.type));
    return {
      users: st.users,
      entitlements: st.groups + st.apps + roleKeys.size,
      assignments: st.memberships + st.appAssignments + st.roleAssignments,
      review_items: st.reviews,
      campaigns: org.campaigns.length,
    };
  }

  it('pages every list across several pages and stores exactly what the org holds', async () => {
    const { emu, store, sync } = await setup(
      { users: 60, assignments: 400 },
      {},
      {
        pageSizes: {
          users: 7,
          groups: 3,
          groupUsers: 5,
          apps: 2,
          appUsers: 4,
          appGroups: 1,
          roleAssignees: 1,
          logs: 10,
          governance: 4,
        },
      },
    );
    const result = await sync();
    expect(store.counts()).toMatchObject(expected(emu.org));
    expect(store.counts().activity_events).toBe(emu.org.logs.length);
    const paged = (re: RegExp) =>
      emu.requests.filter((r) => re.test(r.path) && r.query.after !== undefined).length;
    expect(paged(/^\/api\/v1\/users$/)).toBeGreaterThan(3);
    expect(paged(/^\/api\/v1\/groups$/)).toBeGreaterThan(0);
    expect(paged(/^\/api\/v1\/groups\/[^/]+\/users$/)).toBeGreaterThan(0);
    expect(paged(/^\/api\/v1\/apps$/)).toBeGreaterThan(0);
    expect(paged(/^\/api\/v1\/apps\/[^/]+\/users$/)).toBeGreaterThan(0);
    expect(paged(/^\/api\/v1\/iam\/assignees\/users$/)).toBeGreaterThan(0);
    expect(paged(/^\/api\/v1\/logs$/)).toBeGreaterThan(0);
    expect(paged(/^\/governance\/api\/v1\/(campaigns|reviews)$/)).toBeGreaterThan(0);
    // Later pages keep the original query (the filter rides in the Link URL).
    const logPages = emu.requests.filter((r) => r.path === '/api/v1/logs');
    for (const r of logPages) expect(r.query.filter).toContain('user.session.start');
    expect(logPages.every((r) => r.query.until !== undefined && r.query.since !== undefined)).toBe(true);
    // The request count the connector reports is what the org saw.
    expect(result.requests).toBe(emu.requests.length);
  });

  it('maps users, entitlements, sign-ins and reviews to the store model', async () => {
    const { emu, store, sync } = await setup();
    const org = emu.org;
    const depro = org.users[7]!;
    depro.status = 'DEPROVISIONED';
    const active = (r: (typeof org.reviews)[number]) =>
      org.campaigns.find((c) => c.id === r.campaignId)?.status === 'ACTIVE';
    const decided = org.reviews.find(active)!;
    decided.decision = 'REVOKE';
    decided.decided = new Date().toISOString();
    await sync();
    expect(store.getUser(`okta:${depro.id}`)?.status).toBe('deprovisioned');
    const withManager = org.users.find((u) => u.profile.managerId)!;
    const user = store.getUser(`okta:${withManager.id}`)!;
    expect(user).toMatchObject({
      email: withManager.profile.email,
      department: withManager.profile.department,
      title: withManager.profile.title,
      manager_id: `okta:${withManager.profile.managerId}`,
      last_sign_in: withManager.lastLogin,
    });
    const group = org.groups.find((g) => g.type === 'OKTA_GROUP')!;
    expect(store.getEntitlement(`okta:${group.id}`)).toMatchObject({
      type: 'group',
      name: group.profile.name,
      attributes: { okta_kind: 'group', okta_id: group.id, okta_group_type: 'OKTA_GROUP' },
    });
    const app = org.apps[0]!;
    expect(store.getEntitlement(`okta:app:${app.id}`)).toMatchObject({
      type: 'app',
      name: app.label,
      app: app.label,
    });
    expect(store.getEntitlement('okta:role:SUPER_ADMIN')).toMatchObject({
      type: 'role',
      privileged: true,
      sensitivity: 'critical',
    });
    const sso = org.logs.find(
      (e) => e.eventType === 'user.authentication.sso' && e.outcome.result === 'SUCCESS',
    )!;
    const usage = store.appUsage(
      `okta:${sso.actor.id}`,
      '1970-01-01T00:00:00.000Z',
      sso.target[0]!.displayName,
    );
    expect(usage[0]?.sign_ins).toBeGreaterThan(0);
    const row = store.db
      .prepare("SELECT status FROM review_items WHERE external_id = ? AND platform = 'okta'")
      .get(decided.id);
    expect(row).toEqual({ status: 'decided' });
    expect(store.listCampaigns('closed')).toHaveLength(1);
    expect(store.counts().past_decisions).toBeGreaterThan(0);
  });

  it('a 429 in the middle of a sync is waited out and retried by the SDK, and the sync completes', async () => {
    const { emu, store, sync } = await setup();
    emu.injectFault({ status: 429, after: 5 });
    await sync();
    const limited = emu.requests.find((r) => r.status === 429)!;
    expect(limited).toBeDefined();
    const retry = emu.requests.find((r) => r.retryFor === limited.requestId);
    expect(retry).toMatchObject({ path: limited.path, query: limited.query, retryCount: 1, status: 200 });
    expect(store.counts()).toMatchObject(expected(emu.org));
  });

  it('a 500 on a GET is retried and the sync completes', async () => {
    const { emu, store, sync } = await setup();
    emu.injectFault({ status: 500, after: 2, path: '/api/v1/groups' });
    await sync();
    const failedAt = emu.requests.findIndex((r) => r.status === 500);
    expect(failedAt).toBeGreaterThan(-1);
    const failed = emu.requests[failedAt]!;
    const again = emu.requests
      .slice(failedAt + 1)
      .find((r) => r.path === failed.path && JSON.stringify(r.query) === JSON.stringify(failed.query));
    expect(again?.status).toBe(200);
    expect(store.counts()).toMatchObject(expected(emu.org));
  });

  it('a 5xx that persists fails the sync with an upstream error after a bounded number of retries', async () => {
    const { emu, sync } = await setup({}, {}, { retry: { retryDelayMs: 1, serverErrorRetries: 2 } });
    emu.injectFault({ status: 503, times: 100, path: '/api/v1/users' });
    const error = (await sync().catch((e) => e)) as ConnectorError;
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.kind).toBe('upstream');
    expect(error.message).toMatch(/HTTP 503 .*listing users/);
    expect(emu.requests.filter((r) => r.path === '/api/v1/users')).toHaveLength(3);
  });

  it('a token revoked mid-sync fails with an auth error and the store keeps exactly the previous sync', async () => {
    const { emu, store, sync } = await setup();
    await sync();
    const before = dumpStore(store);
    const state = store.getMeta(syncStateKey('okta'));
    emu.org.updateUser(emu.org.users[3]!.id, { title: 'Changed Title' });
    emu.revokeTokenAfter(4);
    const error = (await sync(new Date(Date.now() + 1000)).catch((e) => e)) as ConnectorError;
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.kind).toBe('auth');
    expect(error.message).toMatch(/token rejected.*check OKTA_API_TOKEN or the service app's scopes/);
    expect(error.message).toContain('E0000011');
    expect(error.message).not.toContain(emu.token);
    expect(dumpStore(store)).toEqual(before);
    expect(store.getMeta(syncStateKey('okta'))).toBe(state);
  });

  it('a second sync is incremental: changed users, new sign-ins, fewer requests; a full sync drops removed access', async () => {
    const { emu, store, sync, now } = await setup(
      { users: 60, assignments: 400 },
      {},
      { pageSizes: { users: 10, groupUsers: 10 } },
    );
    const first = await sync();
    const changed = emu.org.users.find((u) => u.status === 'ACTIVE' && u.profile.managerId)!;
    emu.org.updateUser(changed.id, { title: 'Principal Engineer' }, new Date(now.getTime() + 10));
    const app = emu.org.apps[0]!;
    emu.org.addLog({
      published: new Date(now.getTime() + 20).toISOString(),
      eventType: 'user.authentication.sso',
      actor: { id: changed.id, type: 'User', alternateId: 'x', displayName: 'x' },
      outcome: { result: 'SUCCESS', reason: null },
      target: [{ id: app.id, type: 'AppInstance', alternateId: app.label, displayName: app.label }],
    });
    const group = emu.org.groups.find(
      (g) => g.type === 'OKTA_GROUP' && (emu.org.members.get(g.id)?.length ?? 0) > 0,
    )!;
    const removed = emu.org.members.get(group.id)![0]!;
    emu.org.removeMember(group.id, removed, new Date(now.getTime() + 30));
    emu.clearLog();

    const later = new Date(now.getTime() + 1000);
    const second = await sync(later);
    expect(second.requests).toBeLessThan(first.requests);
    // Only the changed users (one page) and the members of the one changed group are read again.
    expect(emu.requests.filter((r) => r.path === '/api/v1/users')).toHaveLength(1);
    const memberLists = new Set(
      emu.requests.filter((r) => /^\/api\/v1\/groups\/[^/]+\/users$/.test(r.path)).map((r) => r.path),
    );
    expect(memberLists.has(`/api/v1/groups/${group.id}/users`)).toBe(true);
    // The changed group, plus at most the one holding the watermark (re-read within the one-minute overlap).
    expect(memberLists.size).toBeLessThanOrEqual(2);
    const usersQuery = emu.requests.find((r) => r.path === '/api/v1/users')!;
    expect(usersQuery.query.filter).toMatch(/^lastUpdated gt "/);
    const groupsQuery = emu.requests.find((r) => r.path === '/api/v1/groups')!;
    expect(groupsQuery.query.filter).toMatch(/lastMembershipUpdated gt "/);
    const logs = emu.requests.find((r) => r.path === '/api/v1/logs')!;
    expect(Date.parse(logs.query.since!)).toBeGreaterThanOrEqual(now.getTime() - 60_000);
    expect(logs.query.until).toBe(later.toISOString());
    expect(store.getUser(`okta:${changed.id}`)?.title).toBe('Principal Engineer');
    expect(
      store.appUsage(`okta:${changed.id}`, later.toISOString().slice(0, 10), app.label)[0]?.last_used,
    ).toBe(new Date(now.getTime() + 20).toISOString());
    // The changed group's members were read in full, so the removed membership is gone.
    const held = () => store.entitlementIdsOf(`okta:${removed}`).includes(`okta:${group.id}`);
    expect(held()).toBe(false);
    expect(second.summary.removed.assignments).toBe(1);
  });

  it('app assignments through a group are inherited via that group, and the group includes the app, in full and incremental syncs', async () => {
    const { emu, store, sync, now } = await setup({ users: 60, assignments: 400 });
    const org = emu.org;
    // Two groups assigned to one app, in priority order; a member of both holds the app via the first.
    const app = org.apps[0]!;
    const [first, second] = org.groups.filter(
      (g) => g.type === 'OKTA_GROUP' && (org.members.get(g.id)?.length ?? 0) > 1,
    );
    org.appGroups.set(app.id, [first!.id, second!.id]);
    const both = org.members.get(second!.id)![0]!;
    org.addMember(first!.id, both);
    const at = new Date(now.getTime() - 86_400_000).toISOString();
    for (const g of [first!, second!])
      for (const u of org.members.get(g.id)!)
        org.appUsers
          .get(app.id)!
          .set(u, { userId: u, scope: 'GROUP', status: 'ACTIVE', created: at, lastUpdated: at });
    const assignment = (u: string) =>
      store.db
        .prepare('SELECT source, via FROM assignments WHERE user_id = ? AND entitlement_id = ?')
        .get(`okta:${u}`, `okta:app:${app.id}`);
    const includes = () =>
      store.db
        .prepare('SELECT entitlement_id FROM entitlement_includes WHERE included_id = ? ORDER BY 1')
        .all(`okta:app:${app.id}`)
        .map((r) => (r as { entitlement_id: string }).entitlement_id);
    await sync();
    expect(assignment(both)).toEqual({ source: 'group', via: `okta:${first!.id}` });
    const onlySecond = org.members.get(second!.id)!.find((u) => !org.isMember(first!.id, u))!;
    expect(assignment(onlySecond)).toEqual({ source: 'group', via: `okta:${second!.id}` });
    expect(includes()).toEqual([`okta:${first!.id}`, `okta:${second!.id}`].sort());

    // Incremental: the second group is no longer assigned; its members keep the app only where Okta says so.
    org.appGroups.set(app.id, [first!.id]);
    org.appUsers.get(app.id)!.delete(onlySecond);
    await sync(new Date(now.getTime() + 1000));
    expect(includes()).toEqual([`okta:${first!.id}`]);
    expect(assignment(onlySecond)).toBeUndefined();
    expect(assignment(both)).toEqual({ source: 'group', via: `okta:${first!.id}` });
  });

  it('signs in as an OAuth service app with a PEM key, then with a JWK', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const { emu, store } = await setup(
      {},
      {
        clients: [
          { clientId: '0oaServiceApp', publicKey, keyId: 'key-1', grantedScopes: [...OKTA_SYNC_SCOPES] },
        ],
      },
    );
    const env = {
      OKTA_ORG_URL: emu.url,
      OKTA_CLIENT_ID: '0oaServiceApp',
      OKTA_PRIVATE_KEY: pem.replace(/\n/g, '\\n'),
      OKTA_KEY_ID: 'key-1',
      OKTA_SCOPES: OKTA_SYNC_SCOPES.join(' '),
    };
    await runSync(store, OktaConnector.fromEnv(env, FAST), { now: new Date(), dormantDays: 90 });
    expect(emu.requests[0]).toMatchObject({ method: 'POST', path: '/oauth2/v1/token', status: 200 });
    expect(emu.requests.slice(1).every((r) => r.auth === 'Bearer' && r.status === 200)).toBe(true);
    expect(store.counts()).toMatchObject(expected(emu.org));

    const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'key-1' };
    emu.clearLog();
    const viaJwk = OktaConnector.fromEnv(
      { ...env, OKTA_PRIVATE_KEY: JSON.stringify(jwk), OKTA_KEY_ID: '' },
      FAST,
    );
    await runSync(Store.open(':memory:'), viaJwk, { now: new Date(), dormantDays: 90 });
    expect(emu.requests[0]).toMatchObject({ path: '/oauth2/v1/token', status: 200 });
  });

  it('a missing scope fails the sync as forbidden, naming the scope', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const scopes = OKTA_SYNC_SCOPES.filter((s) => s !== 'okta.logs.read');
    const { emu, store } = await setup(
      {},
      { clients: [{ clientId: '0oaSvc', publicKey, keyId: 'k', grantedScopes: scopes }] },
    );
    const env = {
      OKTA_ORG_URL: emu.url,
      OKTA_CLIENT_ID: '0oaSvc',
      OKTA_PRIVATE_KEY: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
      OKTA_KEY_ID: 'k',
      OKTA_SCOPES: scopes.join(' '),
    };
    const error = (await runSync(store, OktaConnector.fromEnv(env, FAST), {
      now: new Date(),
      dormantDays: 90,
    }).catch((e) => e)) as ConnectorError;
    expect(error.kind).toBe('forbidden');
    expect(error.message).toMatch(/reading the System Log .*okta\.logs\.read/);
    expect(store.counts().users).toBe(0);

    // Asking for a scope the app was not granted: the token request itself is refused.
    const greedy = OktaConnector.fromEnv({ ...env, OKTA_SCOPES: OKTA_SYNC_SCOPES.join(' ') }, FAST);
    const refused = (await runSync(store, greedy, { now: new Date(), dormantDays: 90 }).catch(
      (e) => e,
    )) as ConnectorError;
    expect(refused.kind).toBe('auth');
    expect(refused.message).toMatch(/refused the service app's token request/);
  });

  it.each(['forbidden', 'absent'] as const)(
    'without Identity Governance (%s) the rest syncs with a warning',
    async (mode) => {
      const { emu, store, sync } = await setup({}, { governance: mode });
      const result = await sync();
      expect(result.warnings.join(' ')).toMatch(
        /Identity Governance campaigns were not read \(HTTP (403|404)\)/,
      );
      expect(store.counts()).toMatchObject({ campaigns: 0, review_items: 0, users: emu.org.users.length });
    },
  );

  it('no secret value appears in any error message or warning', async () => {
    const { emu, store, sync } = await setup({}, { governance: 'forbidden' });
    const messages: string[] = [];
    messages.push(...(await sync()).warnings);
    const wrong = OktaConnector.fromEnv(tokenEnv(emu, WRONG_TOKEN), FAST);
    messages.push(
      ((await runSync(store, wrong, { now: new Date(), dormantDays: 90 }).catch((e) => e)) as Error).message,
    );
    const review = emu.org.reviews[0]!;
    const decision = await wrong.applyDecision({
      idempotency_key: 'k',
      item_external_id: review.id,
      campaign_external_id: review.campaignId,
      item_coordinates: {},
      user_external_id: review.principalId,
      entitlement_external_id: review.resourceId,
      entitlement_type: 'group',
      decision: 'approve',
      rationale: `token ${WRONG_TOKEN} pasted by mistake`,
      proposed_by: 'agent',
      confirmed_by: 'human',
      channel: 'cli',
      engine_recommended: true,
    });
    if (decision.status === 'failed') messages.push(decision.error);
    const removal = await wrong.remediate({
      idempotency_key: 'k',
      user_external_id: review.principalId,
      entitlement_external_id: review.resourceId,
      entitlement_type: 'group',
      entitlement_attributes: {},
    });
    if (removal.status === 'failed') messages.push(removal.error);
    emu.revokeTokenAfter(0);
    messages.push(((await sync(new Date(Date.now() + 1000)).catch((e) => e)) as Error).message);
    expect(messages.length).toBeGreaterThanOrEqual(5);
    for (const m of messages) {
      for (const secret of [emu.token, WRONG_TOKEN]) expect(m).not.toContain(secret);
      expect(m).not.toMatch(/SSWS|Bearer|https?:\/\//);
    }
  });

  describe('applyDecision', () => {
    const decisionFor = (org: OktaOrg, reviewId: string, decision: 'approve' | 'revoke'): DecisionToApply => {
      const r = org.review(reviewId)!;
      return {
        idempotency_key: `p-${reviewId}`,
        item_external_id: r.id,
        campaign_external_id: r.campaignId,
        item_coordinates: {},
        user_external_id: r.principalId,
        entitlement_external_id: r.resourceId,
        entitlement_type: 'group',
        decision,
        rationale: 'Unused for 150 days; peers in Sales do not hold it.',
        proposed_by: 'agent:claude',
        confirmed_by: 'dana@example.com',
        channel: 'elicitation',
        engine_recommended: false,
      };
    };
    const pending = (org: OktaOrg) =>
      org.reviews.find(
        (r) =>
          r.decision === 'UNREVIEWED' &&
          org.campaigns.find((c) => c.id === r.campaignId)?.status === 'ACTIVE',
      )!;

    /** The org's super admin owns the API token; most reviews belong to the principals' managers. */
    const owner = (org: OktaOrg) => org.users[0]!.id;
    const pendingOf = (org: OktaOrg, mine: boolean) =>
      org.reviews.find(
        (r) =>
          r.decision === 'UNREVIEWED' &&
          (r.reviewerId === owner(org)) === mine &&
          org.campaigns.find((c) => c.id === r.campaignId)?.status === 'ACTIVE',
      )!;

    it('writes the rationale and who confirmed it through which channel into the review note', async () => {
      const { emu, connector } = await setup();
      const review = pendingOf(emu.org, false);
      review.reviewerId = owner(emu.org);
      const outcome = await connector.applyDecision(decisionFor(emu.org, review.id, 'approve'));
      expect(outcome).toEqual({ status: 'done', platform_ref: `okta:review:${review.id}:APPROVE` });
      expect(emu.org.review(review.id)?.decision).toBe('APPROVE');
      const note = emu.org.reviewActions[0]!.note;
      expect(note).toContain('Unused for 150 days');
      expect(note).toContain(
        'Not AI-recommended; proposed by agent:claude, confirmed by dana@example.com via elicitation.',
      );
      const posts = emu.requests.filter((r) => r.method === 'POST');
      expect(posts.map((r) => r.path)).toEqual([
        `/governance/api/v1/my/campaigns/${review.campaignId}/reviews/actions`,
      ]);
      expect(emu.org.reassignments).toEqual([]);
    });

    it("a review owned by a manager is reassigned to Attest's Okta user with a note naming the human, then decided", async () => {
      const { emu, connector } = await setup();
      const review = pendingOf(emu.org, false);
      const manager = emu.org.user(review.reviewerId)!;
      expect(await connector.applyDecision(decisionFor(emu.org, review.id, 'revoke'))).toMatchObject({
        status: 'done',
      });
      expect(emu.org.reassignments).toEqual([
        expect.objectContaining({ reviewId: review.id, from: manager.id, to: owner(emu.org) }),
      ]);
      expect(emu.org.reassignments[0]!.note).toBe(
        `Reassigned from ${manager.profile.email} (${manager.id}) to Attest to record the decision dana@example.com confirmed via elicitation.`,
      );
      expect(emu.org.reviewActions).toEqual([
        expect.objectContaining({ reviewId: review.id, action: 'REVOKE', by: owner(emu.org) }),
      ]);
      expect(emu.org.reviewActions[0]!.note).toContain('confirmed by dana@example.com via elicitation');
      // The reassign came first; a retry finds the review already Attest's and only decides.
      const paths = emu.requests.filter((r) => r.method === 'POST').map((r) => r.path);
      expect(paths).toEqual([
        `/governance/api/v1/campaigns/${review.campaignId}/reviews/reassign`,
        `/governance/api/v1/my/campaigns/${review.campaignId}/reviews/actions`,
      ]);
    });

    it('a crash between the reassignment and the decision is finished by the retry without reassigning again', async () => {
      const { emu, connector } = await setup();
      const review = pendingOf(emu.org, false);
      emu.injectFault({ status: 500, method: 'POST', path: '/governance/api/v1/my/' });
      expect(await connector.applyDecision(decisionFor(emu.org, review.id, 'approve'))).toMatchObject({
        status: 'failed',
        retryable: true,
      });
      expect(emu.org.review(review.id)!.reviewerId).toBe(owner(emu.org));
      expect(await connector.applyDecision(decisionFor(emu.org, review.id, 'approve'))).toMatchObject({
        status: 'done',
      });
      expect(emu.org.reassignments).toHaveLength(1);
      expect(emu.org.reviewActions.map((a) => a.action)).toEqual(['APPROVE']);
    });

    it('with the /my/ endpoint alone a review owned by someone else is not found, as on a real org', async () => {
      const { emu } = await setup();
      const review = pendingOf(emu.org, false);
      const r = await fetch(
        `${emu.url}/governance/api/v1/my/campaigns/${review.campaignId}/reviews/actions`,
        {
          method: 'POST',
          headers: { Authorization: `SSWS ${emu.token}`, 'Content-Type': 'application/json' },
          body: JSON.stringify({ reviews: [{ reviewId: review.id, action: 'REVOKE', note: 'x' }] }),
        },
      );
      expect(r.status).toBe(404);
      expect(emu.org.reviewActions).toEqual([]);
    });

    it('in mapped mode only the reviewer themselves (by login or OKTA_REVIEWER_MAP) gets a decision recorded', async () => {
      const { emu } = await setup();
      const review = pendingOf(emu.org, false);
      const manager = emu.org.user(review.reviewerId)!;
      const mapped = (map: Record<string, string> | null) =>
        OktaConnector.fromEnv(
          {
            ...tokenEnv(emu),
            OKTA_REVIEWER_MODE: 'mapped',
            ...(map ? { OKTA_REVIEWER_MAP: JSON.stringify(map) } : {}),
          },
          FAST,
        );
      const refused = await mapped(null).applyDecision(decisionFor(emu.org, review.id, 'revoke'));
      expect(refused).toMatchObject({ status: 'failed', retryable: false });
      expect(refused.status === 'failed' && refused.error).toMatch(
        new RegExp(
          `belongs to ${manager.profile.email}.*dana@example.com is not mapped to that reviewer.*Nothing was recorded`,
        ),
      );
      expect(emu.org.reassignments).toEqual([]);
      expect(emu.org.reviewActions).toEqual([]);

      const byLogin = await mapped(null).applyDecision({
        ...decisionFor(emu.org, review.id, 'revoke'),
        confirmed_by: manager.profile.login!,
      });
      expect(byLogin).toMatchObject({ status: 'done' });

      const other = emu.org.reviews.find(
        (r) =>
          r.decision === 'UNREVIEWED' &&
          r.reviewerId !== owner(emu.org) &&
          r.id !== review.id &&
          emu.org.campaigns.find((c) => c.id === r.campaignId)?.status === 'ACTIVE',
      )!;
      const viaMap = await mapped({
        'dana@example.com': emu.org.user(other.reviewerId)!.profile.login!,
      }).applyDecision(decisionFor(emu.org, other.id, 'approve'));
      expect(viaMap).toMatchObject({ status: 'done' });
      expect(emu.org.reviewActions.map((a) => a.reviewId)).toEqual([review.id, other.id]);
    });

    it('a service app token has no Okta user of its own: without OKTA_ACTOR_ID the decision fails saying what to set', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      const scopes = [
        ...OKTA_SYNC_SCOPES,
        'okta.users.read.self',
        'okta.governance.accessCertifications.manage',
        'okta.governance.reviewer.manage',
      ];
      const { emu } = await setup(
        {},
        { clients: [{ clientId: '0oaSvc', publicKey, keyId: 'k', grantedScopes: scopes }] },
      );
      const env = {
        OKTA_ORG_URL: emu.url,
        OKTA_CLIENT_ID: '0oaSvc',
        OKTA_PRIVATE_KEY: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
        OKTA_KEY_ID: 'k',
        OKTA_SCOPES: scopes.join(' '),
      };
      const review = pendingOf(emu.org, false);
      const out = await OktaConnector.fromEnv(env, FAST).applyDecision(
        decisionFor(emu.org, review.id, 'approve'),
      );
      expect(out).toMatchObject({ status: 'failed', retryable: false });
      expect(out.status === 'failed' && out.error).toMatch(
        /Set OKTA_ACTOR_ID .*Nothing was recorded on Okta/,
      );
      expect(emu.org.reassignments).toEqual([]);
    });

    it('refuses to overturn a decision already made on Okta, and reports unknown reviews', async () => {
      const { emu, connector } = await setup();
      const review = pending(emu.org);
      review.decision = 'APPROVE';
      const overturned = await connector.applyDecision(decisionFor(emu.org, review.id, 'revoke'));
      expect(overturned).toMatchObject({ status: 'failed', retryable: false });
      expect(overturned.status === 'failed' && overturned.error).toMatch(/already decided as APPROVE/);
      const missing = await connector.applyDecision({
        ...decisionFor(emu.org, review.id, 'revoke'),
        item_external_id: 'icrMissing',
      });
      expect(missing).toMatchObject({ status: 'failed', retryable: false });
      expect(emu.org.reviewActions).toHaveLength(0);
    });

    it('a 4xx is final with a short message; a 5xx on the write is retryable and not repeated', async () => {
      const { emu, connector } = await setup();
      const closed = emu.org.reviews.find(
        (r) => emu.org.campaigns.find((c) => c.id === r.campaignId)?.status === 'COMPLETED',
      )!;
      closed.decision = 'UNREVIEWED';
      const rejected = await connector.applyDecision(decisionFor(emu.org, closed.id, 'approve'));
      expect(rejected).toMatchObject({ status: 'failed', retryable: false });
      const error = rejected.status === 'failed' ? rejected.error : '';
      expect(error).toMatch(/HTTP 400 E0000001 Api validation failed: the campaign is not active/);
      expect(error).not.toMatch(/http:\/\/|\{/);

      const review = pending(emu.org);
      emu.injectFault({ status: 500, method: 'POST' });
      emu.clearLog();
      const outcome = await connector.applyDecision(decisionFor(emu.org, review.id, 'revoke'));
      expect(outcome).toMatchObject({ status: 'failed', retryable: true });
      expect(emu.requests.filter((r) => r.method === 'POST')).toHaveLength(1);
      expect(await connector.applyDecision(decisionFor(emu.org, review.id, 'revoke'))).toMatchObject({
        status: 'done',
      });
    });
  });

  describe('remediate', () => {
    const request = (user: string, entitlement: string) => ({
      idempotency_key: `r-${user}-${entitlement}`,
      user_external_id: user,
      entitlement_external_id: entitlement,
      entitlement_type: 'group' as const,
      entitlement_attributes: {},
    });

    it('removes an admin role, a direct app assignment and a membership; a second call finds nothing to do', async () => {
      const { emu, connector } = await setup();
      const org = emu.org;
      const [admin, roles] = [...org.roles.entries()].find(([, r]) => r.length > 0)!;
      const roleId = `role:${roles[0]!.type}`;
      const [appId, users] = [...org.appUsers.entries()].find(([, m]) =>
        [...m.values()].some((a) => a.scope === 'USER'),
      )!;
      const appUser = [...users.values()].find((a) => a.scope === 'USER')!.userId;
      const group = org.groups.find(
        (g) => g.type === 'OKTA_GROUP' && (org.members.get(g.id)?.length ?? 0) > 0,
      )!;
      const member = org.members.get(group.id)![0]!;
      for (const [user, ent] of [
        [admin, roleId],
        [appUser, `app:${appId}`],
        [member, group.id],
      ] as const) {
        expect(holdsOn(org, user, ent)).toBe(true);
        expect(await connector.remediate(request(user, ent))).toMatchObject({ status: 'done' });
        expect(holdsOn(org, user, ent)).toBe(false);
        expect(await connector.remediate(request(user, ent))).toMatchObject({
          status: 'done',
          detail: 'the access was already removed on Okta',
        });
      }
    });

    it('access Okta will not remove per user fails for good with the reason', async () => {
      const { emu, connector } = await setup({ users: 200, assignments: 1000 });
      const appGroup = emu.org.groups.find(
        (g) => g.type === 'APP_GROUP' && (emu.org.members.get(g.id)?.length ?? 0) > 0,
      );
      if (appGroup) {
        const out = await connector.remediate(request(emu.org.members.get(appGroup.id)![0]!, appGroup.id));
        expect(out).toMatchObject({ status: 'failed', retryable: false });
      }
      // An app assigned to a group: its members hold the app with GROUP scope.
      const app = emu.org.apps[0]!;
      const viaGroup = emu.org.users.find((u) => !emu.org.hasAppAssignment(app.id, u.id))!.id;
      const at = new Date().toISOString();
      emu.org.appUsers
        .get(app.id)!
        .set(viaGroup, { userId: viaGroup, scope: 'GROUP', status: 'ACTIVE', created: at, lastUpdated: at });
      const appId = app.id;
      const out = await connector.remediate(request(viaGroup, `app:${appId}`));
      expect(out).toMatchObject({ status: 'failed', retryable: false });
      expect(out.status === 'failed' && out.error).toMatch(/removing the app assignment/);
    });
  });
});

describe('Okta configuration', () => {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const token = '00SECRETapiToken-abcdefghijklmnopqrstuv';
  const messageOf = (env: Record<string, string>) => {
    try {
      parseOktaConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConnectorError);
      expect((e as ConnectorError).kind).toBe('config');
      return (e as Error).message;
    }
    throw new Error('expected a configuration error');
  };

  it.each([
    ['no org URL', { OKTA_API_TOKEN: token }, /OKTA_ORG_URL is not set/],
    [
      'an org URL without a scheme',
      { OKTA_ORG_URL: 'example.okta.com', OKTA_API_TOKEN: token },
      /OKTA_ORG_URL is not a valid URL/,
    ],
    [
      'http:// to a remote host',
      { OKTA_ORG_URL: 'http://example.okta.com', OKTA_API_TOKEN: token },
      /OKTA_ORG_URL uses http:\/\/ for a host that is not loopback/,
    ],
    [
      'the admin console host',
      { OKTA_ORG_URL: 'https://example-admin.okta.com', OKTA_API_TOKEN: token },
      /drop "-admin"/,
    ],
    [
      'an org URL with a path',
      { OKTA_ORG_URL: 'https://example.okta.com/app/x', OKTA_API_TOKEN: token },
      /without a path/,
    ],
    [
      'no credentials',
      { OKTA_ORG_URL: 'https://example.okta.com' },
      /Neither OKTA_API_TOKEN nor OKTA_PRIVATE_KEY is set/,
    ],
    [
      'both a token and a key',
      { OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: token, OKTA_PRIVATE_KEY: pem },
      /Both OKTA_API_TOKEN and OKTA_PRIVATE_KEY/,
    ],
    [
      'a key without a client id',
      { OKTA_ORG_URL: 'https://example.okta.com', OKTA_PRIVATE_KEY: pem, OKTA_KEY_ID: 'k' },
      /OKTA_CLIENT_ID is not set/,
    ],
    [
      'a PEM key without a key id',
      { OKTA_ORG_URL: 'https://example.okta.com', OKTA_PRIVATE_KEY: pem, OKTA_CLIENT_ID: 'c' },
      /OKTA_KEY_ID is not set/,
    ],
    [
      'a damaged PEM key',
      {
        OKTA_ORG_URL: 'https://example.okta.com',
        // One whole base64 line dropped from the middle: the DER lengths no longer add up, whatever the key.
        OKTA_PRIVATE_KEY: pem
          .split('\n')
          .filter((_l, i, all) => i !== Math.floor(all.length / 2))
          .join('\n'),
        OKTA_CLIENT_ID: 'c',
        OKTA_KEY_ID: 'k',
      },
      /OKTA_PRIVATE_KEY is not a readable PEM private key/,
    ],
    [
      'a JWK that is not JSON',
      {
        OKTA_ORG_URL: 'https://example.okta.com',
        OKTA_PRIVATE_KEY: `{"kty":"RSA","d":"${token}"`,
        OKTA_CLIENT_ID: 'c',
        OKTA_KEY_ID: 'k',
      },
      /OKTA_PRIVATE_KEY looks like a JWK but is not valid JSON/,
    ],
    [
      'a key that is neither PEM nor JWK',
      {
        OKTA_ORG_URL: 'https://example.okta.com',
        OKTA_PRIVATE_KEY: token,
        OKTA_CLIENT_ID: 'c',
        OKTA_KEY_ID: 'k',
      },
      /OKTA_PRIVATE_KEY is neither a PEM private key/,
    ],
    [
      'a public JWK',
      {
        OKTA_ORG_URL: 'https://example.okta.com',
        OKTA_PRIVATE_KEY: JSON.stringify(createPublicKey(privateKey).export({ format: 'jwk' })),
        OKTA_CLIENT_ID: 'c',
        OKTA_KEY_ID: 'k',
      },
      /OKTA_PRIVATE_KEY is a public JWK/,
    ],
    [
      'an EC key',
      {
        OKTA_ORG_URL: 'https://example.okta.com',
        OKTA_PRIVATE_KEY: generateKeyPairSync('ec', { namedCurve: 'P-256' })
          .privateKey.export({ type: 'pkcs8', format: 'pem' })
          .toString(),
        OKTA_CLIENT_ID: 'c',
        OKTA_KEY_ID: 'k',
      },
      /OKTA_PRIVATE_KEY must be an RSA key/,
    ],
    [
      'malformed scopes',
      {
        OKTA_ORG_URL: 'https://example.okta.com',
        OKTA_PRIVATE_KEY: pem,
        OKTA_CLIENT_ID: 'c',
        OKTA_KEY_ID: 'k',
        OKTA_SCOPES: 'okta.users.read "x"',
      },
      /OKTA_SCOPES must list scope names/,
    ],
  ])('%s is refused with a message naming the variable', (_label, env, pattern) => {
    const message = messageOf(env as Record<string, string>);
    expect(message).toMatch(pattern);
    const keyLines = pem.split('\n').filter((l) => l.length > 20 && !l.startsWith('-----'));
    for (const secret of [token, pem, ...keyLines]) expect(message).not.toContain(secret);
  });

  it('accepts loopback http, trims a trailing slash, defaults the scopes, and lists the secrets for redaction', () => {
    for (const host of ['127.0.0.1:8080', 'localhost:3000', '[::1]:9000']) {
      expect(parseOktaConfig({ OKTA_ORG_URL: `http://${host}/`, OKTA_API_TOKEN: token }).orgUrl).toBe(
        `http://${host}`,
      );
    }
    const ssws = parseOktaConfig({ OKTA_ORG_URL: 'https://example.okta.com/', OKTA_API_TOKEN: token });
    expect(oktaSecrets(ssws)).toEqual([token]);
    const oauth = parseOktaConfig({
      OKTA_ORG_URL: 'https://example.okta.com',
      OKTA_PRIVATE_KEY: pem,
      OKTA_CLIENT_ID: 'c',
      OKTA_KEY_ID: 'k',
    });
    expect(oauth.auth.mode === 'PrivateKey' && oauth.auth.scopes).toEqual(OKTA_SYNC_SCOPES);
    expect(oktaSecrets(oauth)).toContain(pem.trim());
    const d = privateKey.export({ format: 'jwk' }).d!;
    expect(oktaSecrets(oauth)).toContain(d);
  });
});
