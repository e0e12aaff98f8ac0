import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePingConfig, pingSecrets } from '../../src/connectors/ping/config.js';
import { PingConnector, type PingConnectorOptions } from '../../src/connectors/ping/connector.js';
import { parseEntitlementId } from '../../src/connectors/ping/mapping.js';
import { pingRegistration } from '../../src/connectors/ping/registration.js';
import { secretValues } from '../../src/connectors/registry.js';
import { ConnectorError, type DecisionToApply } from '../../src/connectors/types.js';
import { runSync } from '../../src/services/sync.js';
import { Store } from '../../src/store/store.js';
import {
  type GeneratePingOptions,
  generatePingTenant,
  type PingEmulatorOptions,
  type PingTenant,
  type RequestLogEntry,
  startPingEmulator,
} from '../emulators/ping.js';
import { answered, FAST_PING, pingEnv, type Surfaces } from '../emulators/ping-env.js';
import { connectorContract } from './contract.js';

const FAST = FAST_PING;

const connectorFor = (env: Record<string, string>, options: PingConnectorOptions = FAST) =>
  new PingConnector(parsePingConfig(env), { ...FAST, ...options });

function holdsOn(t: PingTenant, user: string, entitlement: string): boolean | null {
  const e = parseEntitlementId(entitlement);
  if (e.kind === 'group') return t.isMember(e.groupId, user);
  if (e.kind === 'appRole') return t.appRoleUsers.get(e.appRoleId)?.has(user) === true;
  if (e.kind === 'role') {
    const match = (a: { role: { id: string }; scope: { id: string; type: string } }) =>
      a.role.id === e.roleId && a.scope.type === e.scopeType && a.scope.id === e.scopeId;
    if ((t.userRoles.get(user) ?? []).some(match)) return true;
    return [...t.groupRoles].some(([g, roles]) => roles.some(match) && t.isMember(g, user));
  }
  return null;
}

/** The list a request reads, ids folded. */
const listOf = (r: RequestLogEntry) =>
  `${r.method} ${r.path.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '{id}')}`;

const SMALL_PAGES: PingConnectorOptions = {
  pageSizes: { users: 7, groups: 3, memberships: 2, audit: 5, certificationItems: 4, certifications: 1 },
};

async function contractSubject(surfaces: Surfaces) {
  const now = new Date();
  const emu = await startPingEmulator({ tenant: generatePingTenant({ users: 30, items: 40, now }) });
  const env = pingEnv(emu, surfaces);
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const wrong =
    surfaces === 'aic'
      ? { ...env, PINGAIC_SERVICE_ACCOUNT_KEY: JSON.stringify(other) }
      : { ...env, PINGONE_CLIENT_SECRET: 'wrong-secret-0123456789abcdef' };
  const t = emu.tenant;
  // Ten items a page: every sync spans enough requests for the faults below to land mid-sync.
  const options: PingConnectorOptions = { pageSizes: { certificationItems: 10 } };
  return {
    connector: connectorFor(env, options),
    registration: pingRegistration,
    broken: connectorFor(wrong, options),
    secrets: [
      emu.clientSecret,
      'wrong-secret-0123456789abcdef',
      JSON.parse(emu.serviceAccountJwk).d as string,
    ],
    now,
    reviews: surfaces === 'pingone' ? ('attest' as const) : ('platform' as const),
    removal: surfaces === 'aic' ? ('platform' as const) : ('attest' as const),
    decisionWrites: (id: string) =>
      t.decisionWrites.filter((w) => `aic:${w.certId}:${w.itemId}` === id).length,
    holds: (u: string, e: string) => holdsOn(t, u, e),
    canRemove: (e: { attributes: Record<string, string> }) =>
      e.attributes.ping_kind === 'group' &&
      e.attributes.dynamic === 'false' &&
      e.attributes.external === 'false',
    removeAccess: () => {
      if (surfaces === 'aic') {
        // AIC alone: access is what items say; an item that leaves its certification takes its access with it.
        const live = t.certifications.find((c) => c.status === 'in-progress')!;
        const item = t.items
          .get(live.id)!
          .find(
            (i) =>
              !i.decision?.certification.decision &&
              i.application?.name === 'Workday' &&
              t.items
                .get(live.id)!
                .filter((x) => x.user.id === i.user.id && x.application?.name === 'Workday').length === 1,
          )!;
        t.removeItem(live.id, item.id);
        return { user: `aic:user:${item.user.id}`, entitlement: `aic:app:${item.application!.id}` };
      }
      const { group, user } = t.leafMemberships()[0]!;
      t.removeMember(group, user);
      return { user, entitlement: `group:${group}` };
    },
    faults: {
      paged: connectorFor(env, SMALL_PAGES),
      clearLog: () => emu.clearLog(),
      pagesRead: () => {
        const pages: Record<string, number> = {};
        for (const r of emu.requests) {
          if (r.path.endsWith('/token') || r.path.endsWith('/access_token')) continue;
          // Certifications are lists of their own (each status, each certification's items).
          const k = r.path.startsWith('/iga/') ? `${r.method} ${r.path} ${r.query.status ?? ''}` : listOf(r);
          const later =
            r.query.cursor !== undefined || (r.query.pageNumber !== undefined && r.query.pageNumber !== '0');
          pages[k] = Math.max(pages[k] ?? 1, later ? 2 : 1);
        }
        return pages;
      },
      inject: (status: 429 | 503, after: number) => emu.injectFault({ status, after }),
      answered: (status: 429 | 503) => answered(emu.requests, status),
      revokeAfter: (n: number) => emu.revokeCredentialAfter(n),
    },
    close: () => emu.close(),
  };
}

connectorContract('ping (PingOne directory alone)', () => contractSubject('pingone'));
connectorContract('ping (Advanced Identity Cloud alone)', () => contractSubject('aic'));
connectorContract('ping (both surfaces)', () => contractSubject('both'));

describe('Ping connector against the emulator', () => {
  const cleanups: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c();
  });

  async function setup(
    o: {
      tenant?: Partial<GeneratePingOptions>;
      emulator?: Omit<PingEmulatorOptions, 'tenant'>;
      connector?: PingConnectorOptions;
      surfaces?: Surfaces;
      env?: Record<string, string>;
    } = {},
  ) {
    const now = new Date();
    const emu = await startPingEmulator({
      tenant: generatePingTenant({ users: 30, items: 30, now, ...o.tenant }),
      ...o.emulator,
    });
    const store = Store.open(':memory:');
    cleanups.push(
      () => emu.close(),
      () => store.close(),
    );
    const env = pingEnv(emu, o.surfaces ?? 'both', o.env);
    const connector = connectorFor(env, o.connector);
    const sync = (at = now, c = connector) => runSync(store, c, { now: at, dormantDays: 90 });
    return { emu, t: emu.tenant, store, connector, sync, now, env };
  }

  const assignment = (store: Store, user: string, ent: string) =>
    store.db
      .prepare('SELECT source, via FROM assignments WHERE user_id = ? AND entitlement_id = ?')
      .get(`ping:${user}`, `ping:${ent}`) as { source: string; via: string | null } | undefined;

  it('maps people from standard and custom attributes as configured: department, title, manager, employee type, status', async () => {
    const { t, store, sync } = await setup({
      surfaces: 'pingone',
      env: {
        PINGONE_ATTRIBUTES: JSON.stringify({
          department: 'costCenter',
          employee_type: ['type', 'workerKind'],
        }),
      },
    });
    const u = t.users[9]!;
    u.costCenter = 'CC-42';
    u.workerKind = 'vendor';
    u.type = undefined;
    const disabled = t.users.find((x) => !x.enabled)!;
    const never = t.users[4]!;
    delete never.lastSignOn;
    await sync();
    const got = store.getUser(`ping:${u.id}`)!;
    expect(got).toMatchObject({
      department: 'CC-42',
      title: u.title,
      employee_type: 'contractor',
      email: u.email,
    });
    expect(got.attributes).toMatchObject({
      username: u.username,
      population: 'Employees',
      account_status: 'OK',
    });
    // Managers are named by email, username or id; each resolves to the same PingOne user.
    for (const i of [6, 7, 8]) {
      const ref = t.users[i]!.manager!;
      const m = t.users.find((x) => x.id === ref || x.username === ref || x.email === ref)!;
      expect(store.getUser(`ping:${t.users[i]!.id}`)?.manager_id).toBe(`ping:${m.id}`);
    }
    if (disabled) expect(store.getUser(`ping:${disabled.id}`)?.status).toBe('suspended');
    expect(store.getUser(`ping:${never.id}`)?.last_sign_in).toBeNull();
    const signedIn = t.users.find((x) => x.lastSignOn)!;
    expect(store.getUser(`ping:${signedIn.id}`)?.last_sign_in).toBe(
      new Date(signedIn.lastSignOn!.at).toISOString(),
    );
    // Users are read 1000 a page (the maximum), memberships per user.
    expect(t.users.length).toBeLessThan(1000);
  });

  it('maps groups and nesting, dynamic and external groups, admin roles, application roles and access through groups', async () => {
    const { emu, t, store, sync, now } = await setup({ surfaces: 'pingone' });
    await sync();
    // Nesting: the inner group includes the outer, and its members hold the outer via the inner.
    const [inner, outers] = [...t.nesting].find(([g]) => g !== t.groups[4]!.id && g !== t.groups[5]!.id)!;
    const outer = [...outers][0]!;
    const includes = (id: string) =>
      (
        store.db
          .prepare('SELECT included_id FROM entitlement_includes WHERE entitlement_id = ?')
          .all(`ping:${id}`) as Array<{
          included_id: string;
        }>
      ).map((r) => r.included_id);
    expect(includes(`group:${inner}`)).toContain(`ping:group:${outer}`);
    const nested = [...(t.members.get(inner) ?? [])].find((u) => !t.members.get(outer)?.has(u));
    if (nested)
      expect(assignment(store, nested, `group:${outer}`)).toEqual({
        source: 'group',
        via: `ping:group:${inner}`,
      });
    // A cycle between two groups ends the walk: both include each other, members hold both.
    expect(includes(`group:${t.groups[4]!.id}`)).toContain(`ping:group:${t.groups[5]!.id}`);
    // Dynamic membership is a rule; the external group is marked.
    const dyn = t.groups[1]!;
    const dynMember = [...t.members.get(dyn.id)!][0]!;
    expect(assignment(store, dynMember, `group:${dyn.id}`)).toEqual({ source: 'rule', via: null });
    expect(store.getEntitlement(`ping:group:${dyn.id}`)?.attributes).toMatchObject({
      dynamic: 'true',
      user_filter: dyn.userFilter,
    });
    expect(store.getEntitlement(`ping:group:${t.groups[2]!.id}`)?.attributes).toMatchObject({
      external: 'true',
      source_type: 'IDP',
    });
    // Admin roles: privileged; Environment Admin critical; the group's role reaches its members via the group.
    const envAdmin = [...t.userRoles].find(([, r]) => r.some((a) => a.role.id === 'r-env-admin'))!;
    const ent = `role:r-env-admin:environment:${t.envId}`;
    expect(store.getEntitlement(`ping:${ent}`)).toMatchObject({
      type: 'role',
      privileged: true,
      sensitivity: 'critical',
      name: 'Environment Admin',
    });
    expect(assignment(store, envAdmin[0], ent)).toEqual({ source: 'direct', via: null });
    const iam = t.groups[0]!;
    const iamMember = [...t.members.get(iam.id)!].find(
      (u) => !(t.userRoles.get(u) ?? []).some((a) => a.role.id === 'r-ida' && a.scope.type === 'ENVIRONMENT'),
    )!;
    expect(assignment(store, iamMember, `role:r-ida:environment:${t.envId}`)).toEqual({
      source: 'group',
      via: `ping:group:${iam.id}`,
    });
    expect(includes(`group:${iam.id}`)).toContain(`ping:role:r-ida:environment:${t.envId}`);
    expect(store.getEntitlement(`ping:group:${iam.id}`)?.privileged).toBe(true);
    // A population-scoped role is its own entitlement, named with the population.
    expect(store.getEntitlement(`ping:role:r-ida:population:${t.populations[0]!.id}`)?.name).toBe(
      'Identity Data Admin (population Employees)',
    );
    // Application roles (PingOne Authorize), held directly.
    const [roleId, holders] = [...t.appRoleUsers][0]!;
    expect(assignment(store, [...holders][0]!, `approle:${roleId}`)).toEqual({ source: 'direct', via: null });
    // Application access through accessControl.group: ANY_GROUP through the first group held, ALL_GROUPS only with all.
    const any = t.apps[0]!;
    const [g1] = any.accessControl!.group!.groups;
    const viaG1 = [...t.members.get(g1!.id)!][0]!;
    expect(assignment(store, viaG1, `app:${any.id}`)).toMatchObject({
      source: 'group',
      via: `ping:group:${g1!.id}`,
    });
    expect(includes(`group:${g1!.id}`)).toContain(`ping:app:${any.id}`);
    const all = t.apps[1]!;
    const [a1, a2] = all.accessControl!.group!.groups.map((g) => g.id);
    for (const u of t.users) {
      const holdsBoth = t.isMember(a1!, u.id) && t.isMember(a2!, u.id);
      expect(assignment(store, u.id, `app:${all.id}`) !== undefined).toBe(holdsBoth);
    }
    expect(store.getEntitlement(`ping:app:${t.apps[2]!.id}`)?.privileged).toBe(true);
    expect(store.getEntitlement(`ping:app:${t.apps.at(-1)!.id}`)).toBeUndefined();
    // Sign-ons per application, failures kept; other audit events are not read.
    // (Three days of them: the tests' lookback.)
    const since = new Date(now.getTime() - 3 * 86_400_000).toISOString();
    const signOns = t.activities.filter(
      (a) => a.action.type.startsWith('USER.ACCESS_') && a.recordedAt >= since,
    );
    expect(signOns.length).toBeGreaterThan(0);
    expect(store.counts().activity_events).toBe(signOns.length);
    const failed = store.db
      .prepare("SELECT count(*) AS n FROM activity_events WHERE outcome = 'failure'")
      .get() as { n: number };
    expect(failed.n).toBe(signOns.filter((a) => a.action.type === 'USER.ACCESS_DENIED').length);
    expect(
      (
        store.db
          .prepare("SELECT count(*) AS n FROM activity_events WHERE app = 'PingOne Admin Console'")
          .get() as { n: number }
      ).n,
    ).toBe(signOns.filter((a) => a.actors.client.name === 'PingOne Admin Console').length);
    // Audit queries are bounded ranges of at most a day, one per sign-on event type.
    const audit = emu.requests.filter((r) => r.path.endsWith('/activities') && !r.query.cursor);
    expect(audit.length).toBe(3 * 2);
    expect(
      audit.every((r) =>
        /recordedAt ge ".*" AND recordedAt lt ".*" AND action.type eq "USER\.ACCESS_(ALLOWED|DENIED)"/.test(
          r.query.filter!,
        ),
      ),
    ).toBe(true);
    // Without AIC, the directory's direct access is a campaign reviewed in Attest, by each user's manager.
    const review = store.listCampaigns('active').find((c) => c.id === `ping:directory:${t.envId}`)!;
    expect(review.counts.total).toBe(
      (
        store.db
          .prepare("SELECT count(*) AS n FROM assignments WHERE platform = 'ping' AND source = 'direct'")
          .get() as { n: number }
      ).n,
    );
  });

  it('takes Worker-app tokens by Basic or the form, caches them, and signs AIC assertions afresh', async () => {
    const { emu, sync } = await setup({ emulator: { tokenAuth: 'post' } });
    await sync();
    const p1 = emu.requests.filter((r) => r.path.endsWith('/as/token'));
    expect(p1.map((r) => [r.auth, r.status])).toEqual([
      ['basic', 401],
      ['form', 200],
    ]);
    expect(emu.requests.filter((r) => r.path === '/am/oauth2/access_token')).toHaveLength(1);
    expect(emu.requests.filter((r) => r.auth === 'bearer').length).toBeGreaterThan(50);
    // The AIC token request asks for the configured scopes with a signed assertion.
    const aic = emu.requests.find((r) => r.path === '/am/oauth2/access_token')!;
    expect(aic.body).toMatchObject({ client_id: 'service-account', scope: 'fr:iga:* fr:idm:*' });
    const claims = JSON.parse(
      Buffer.from(
        String((aic.body as { assertion: string }).assertion).split('.')[1]!,
        'base64url',
      ).toString(),
    );
    expect(claims).toMatchObject({
      iss: emu.serviceAccountId,
      sub: emu.serviceAccountId,
      aud: `${emu.url}/am/oauth2/access_token`,
    });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(300);
  });

  it('signs in to AIC with a PEM key as well as a JWK', async () => {
    const { emu, store } = await setup({ surfaces: 'aic' });
    await runSync(
      store,
      connectorFor({
        ...pingEnv(emu, 'aic'),
        PINGAIC_SERVICE_ACCOUNT_KEY: emu.serviceAccountPem.replace(/\n/g, '\\n'),
      }),
      {
        now: new Date(),
        dormantDays: 90,
      },
    );
    expect(store.counts().review_items).toBeGreaterThan(0);
  });

  it('turns active certifications into campaigns joined to PingOne people and groups, and completed ones into past decisions', async () => {
    const { t, store, sync } = await setup();
    await sync();
    const live = t.certifications.find((c) => c.status === 'in-progress')!;
    const campaign = store.listCampaigns('active').find((c) => c.id === `ping:aic:${live.id}`)!;
    const items = t.items.get(live.id)!;
    expect(campaign.counts.total).toBe(items.length);
    expect(campaign.counts.decided).toBe(items.filter((i) => i.decision?.certification.decision).length);
    // No Attest review of the directory when AIC certifications are there (PINGONE_REVIEW_CAMPAIGN=auto).
    expect(store.listCampaigns().map((c) => c.id)).not.toContain(`ping:directory:${t.envId}`);
    // The staging certification is not read.
    expect(store.listCampaigns().some((c) => c.name.includes('staging'))).toBe(false);
    // A group item: the PingOne user (by username) and the PingOne group (by name), no AIC duplicates.
    const gi = items.find((i) => i.entitlement && t.users.some((u) => u.username === i.user.userName))!;
    const p1 = t.users.find((u) => u.username === gi.user.userName)!;
    const group = t.groups.find((g) => g.name === gi.entitlement!.displayName)!;
    const row = store.db
      .prepare(
        'SELECT user_id, entitlement_id, platform_coordinates AS c FROM review_items WHERE external_id = ?',
      )
      .get(`aic:${live.id}:${gi.id}`) as { user_id: string; entitlement_id: string; c: string };
    expect(row).toMatchObject({ user_id: `ping:${p1.id}`, entitlement_id: `ping:group:${group.id}` });
    expect(JSON.parse(row.c)).toMatchObject({
      surface: 'aic',
      certification_id: live.id,
      item_id: gi.id,
      joined: 'pingone',
    });
    expect(
      (
        store.db.prepare("SELECT count(*) AS n FROM users WHERE external_id LIKE 'aic:user:%'").get() as {
          n: number;
        }
      ).n,
    ).toBe(
      new Set(items.filter((i) => !t.users.some((u) => u.username === i.user.userName)).map((i) => i.user.id))
        .size,
    );
    // Account and role items are AIC's own access, held by what the item says.
    const ai = items.find((i) => i.application?.name === 'Workday')!;
    expect(store.getEntitlement(`ping:aic:app:${ai.application!.id}`)).toMatchObject({
      type: 'app',
      name: 'Workday',
    });
    // Decisions already made: certify → approve, revoke → revoke, exception → escalate.
    const ex = items.find((i) => i.decision?.certification.decision === 'exception');
    if (ex)
      expect(
        store.db
          .prepare(
            'SELECT d.decision FROM item_decisions d JOIN review_items i ON i.id = d.item_id WHERE i.external_id = ?',
          )
          .get(`aic:${live.id}:${ex.id}`),
      ).toEqual({ decision: 'escalate' });
    const past = t.certifications
      .filter((c) => c.status === 'signed-off')
      .flatMap((c) => t.items.get(c.id)!)
      .filter((i) => ['certify', 'revoke'].includes(i.decision?.certification.decision ?? ''));
    expect(store.counts().past_decisions).toBe(past.length);
  });

  it('joins by email when asked, and keeps items whose user is not in PingOne as AIC users', async () => {
    const { t, store, sync } = await setup({ env: { PINGAIC_JOIN: 'email' } });
    const live = t.certifications.find((c) => c.status === 'in-progress')!;
    const it = t.items.get(live.id)!.find((i) => t.users.some((u) => u.email === i.user.mail))!;
    const p1 = t.users.find((u) => u.email === it.user.mail)!;
    p1.username = 'renamed.in.pingone';
    const r = await sync();
    const row = store.db
      .prepare('SELECT user_id FROM review_items WHERE external_id = ?')
      .get(`aic:${live.id}:${it.id}`);
    expect(row).toEqual({ user_id: `ping:${p1.id}` });
    expect(r.warnings.join(' ')).toMatch(
      /2 certification items name a user with no PingOne user of the same email/,
    );
  });

  it('a later sync searches only undecided items (targetFilter) and reads the ones decided since', async () => {
    const { emu, t, store, sync, now } = await setup();
    await sync();
    const live = t.certifications.find((c) => c.status === 'in-progress')!;
    const open = t.items.get(live.id)!.filter((i) => !i.decision?.certification.decision);
    const decided = open[0]!;
    decided.decision = {
      certification: {
        decision: 'revoke',
        decisionDate: new Date().toISOString(),
        status: 'complete',
        comments: [],
      },
    };
    emu.clearLog();
    await sync(new Date(now.getTime() + 60_000));
    const searches = emu.requests.filter((r) => r.path.endsWith('/items/search'));
    expect(searches.length).toBeGreaterThan(0);
    expect(
      searches.every(
        (r) =>
          JSON.stringify(r.body) ===
          JSON.stringify({
            targetFilter: {
              operator: 'NOT',
              operand: [{ operator: 'EXISTS', operand: { targetName: 'decision.certification.decision' } }],
            },
          }),
      ),
    ).toBe(true);
    expect(
      emu.requests.filter((r) => r.method === 'GET' && r.path.includes('/items/')).map((r) => r.path),
    ).toEqual([`/iga/governance/certification/${live.id}/items/${decided.id}`]);
    const row = store.db
      .prepare('SELECT status FROM review_items WHERE external_id = ?')
      .get(`aic:${live.id}:${decided.id}`);
    expect(row).toEqual({ status: 'decided' });
    // Completed certifications are read once.
    expect(
      emu.requests.some((r) => r.path.includes(t.certifications.find((c) => c.status === 'signed-off')!.id)),
    ).toBe(false);
  });

  it('a changed payload fails the sync with the field at fault, and nothing is saved', async () => {
    const { t, store, sync } = await setup({ surfaces: 'pingone' });
    (t.users[3] as unknown as { id: unknown }).id = 42;
    const error = (await sync().catch((e) => e)) as ConnectorError;
    expect(error).toBeInstanceOf(ConnectorError);
    expect(error.message).toMatch(
      /PingOne answered users: _embedded with a payload Attest does not recognise \(users\[3\]\.id: /,
    );
    expect(store.counts().users).toBe(0);
  });

  it('a missing role fails the sync as forbidden, naming it; audit and PingOne Authorize are optional', async () => {
    const a = await setup({ surfaces: 'pingone' });
    a.emu.forbid('groups');
    const error = (await a.sync().catch((e) => e)) as ConnectorError;
    expect(error.kind).toBe('forbidden');
    expect(error.message).toMatch(
      /PingOne refused listing groups \(HTTP 403 ACCESS_FAILED.*\): it needs the Identity Data Read-Only Admin role/,
    );
    const b = await setup({ surfaces: 'pingone', emulator: { authorize: false } });
    b.emu.forbid('activities');
    const r = await b.sync();
    expect(r.warnings.join(' ')).toMatch(/application roles were not read \(HTTP 403\)/);
    expect(r.warnings.join(' ')).toMatch(/Audit activities were not read \(HTTP 403\)/);
    expect(b.store.counts().users).toBe(b.t.users.length);
  });

  it('paces audit requests below the endpoint’s lower rate limit', async () => {
    const { emu, sync } = await setup({
      surfaces: 'pingone',
      emulator: { auditRatePerSecond: 2 },
      connector: { auditIntervalMs: 600, auditLookbackDays: 2 },
    });
    await sync();
    const audit = emu.requests.filter((r) => r.path.endsWith('/activities'));
    expect(audit.length).toBeGreaterThanOrEqual(4);
    expect(audit.every((r) => r.status === 200)).toBe(true);
  });

  describe('write-back', () => {
    const decisionFor = (
      t: PingTenant,
      itemId: string,
      decision: 'approve' | 'revoke' | 'escalate',
      rationale = 'No sign-in for 120 days.',
    ): DecisionToApply => {
      const cert = t.certifications.find((c) => t.items.get(c.id)?.some((i) => i.id === itemId))!;
      return {
        idempotency_key: `p-${itemId}`,
        item_external_id: `aic:${cert.id}:${itemId}`,
        campaign_external_id: `aic:${cert.id}`,
        item_coordinates: {
          surface: 'aic',
          certification_id: cert.id,
          item_id: itemId,
          joined: 'pingone',
          allow_exceptions: String(cert.allowExceptions),
        },
        user_external_id: 'u',
        entitlement_external_id: 'e',
        entitlement_type: 'group',
        decision,
        rationale,
        proposed_by: 'agent:claude',
        confirmed_by: 'dana@example.com',
        channel: 'elicitation',
        engine_recommended: true,
      };
    };
    const open = (t: PingTenant) => {
      const live = t.certifications.find((c) => c.status === 'in-progress')!;
      return t.items.get(live.id)!.filter((i) => !i.decision?.certification.decision);
    };

    it('records certify, revoke with the rationale and who confirmed, and exception for an escalation', async () => {
      const { t, connector } = await setup();
      const [a, b, c] = open(t);
      for (const [item, decision, aic] of [
        [a!, 'approve', 'certify'],
        [b!, 'revoke', 'revoke'],
        [c!, 'escalate', 'exception'],
      ] as const) {
        const out = await connector.writeBack.apply(decisionFor(t, item.id, decision));
        expect(out).toEqual({ status: 'done', platform_ref: `ping:aic:${item.certId}:${item.id}:${aic}` });
        expect(item.decision?.certification.decision).toBe(aic);
      }
      expect(t.decisionWrites.map((w) => [w.itemId, w.decision, w.via])).toEqual([
        [a!.id, 'certify', 'single'],
        [b!.id, 'revoke', 'single'],
        [c!.id, 'exception', 'single'],
      ]);
      expect(t.decisionWrites[1]!.comment).toBe(
        'No sign-in for 120 days.\nAI-recommended; proposed by agent:claude, confirmed by dana@example.com via elicitation.',
      );
      // A certify carries no comment; the rationale follows as the item's comment.
      expect(t.comments.find((x) => x.itemId === a!.id)?.comment).toMatch(
        /confirmed by dana@example.com via elicitation/,
      );
    });

    it('is idempotent, never overturns a decision made in AIC, and skips what AIC cannot record', async () => {
      const { t, connector } = await setup();
      const [a, b] = open(t);
      expect((await connector.writeBack.apply(decisionFor(t, a!.id, 'revoke'))).status).toBe('done');
      expect(await connector.writeBack.apply(decisionFor(t, a!.id, 'revoke'))).toMatchObject({
        status: 'done',
        detail: 'the decision was already recorded in Advanced Identity Cloud',
      });
      const overturn = await connector.writeBack.apply(decisionFor(t, a!.id, 'approve'));
      expect(overturn).toMatchObject({ status: 'failed', retryable: false });
      expect(overturn.status === 'failed' && overturn.error).toMatch(/already decided as revoke/);
      expect(t.decisionWrites).toHaveLength(1);
      const noExceptions = {
        ...decisionFor(t, b!.id, 'escalate'),
        item_coordinates: {
          ...decisionFor(t, b!.id, 'escalate').item_coordinates,
          allow_exceptions: 'false',
        },
      };
      expect(await connector.writeBack.apply(noExceptions)).toMatchObject({
        status: 'skipped',
        detail: expect.stringMatching(/does not allow exceptions/),
      });
      const directory = await connector.writeBack.apply({
        ...decisionFor(t, b!.id, 'revoke'),
        item_coordinates: {},
      });
      expect(directory.status).toBe('skipped');
      expect(t.decisionWrites).toHaveLength(1);
    });

    it('sends a batch in bulk calls, one per decision and comment, and tries each item alone when a bulk call is refused', async () => {
      const { t, connector, emu } = await setup();
      const [a, b, c, d, e] = open(t);
      const results = await connector.writeBack.applyBatch!([
        decisionFor(t, a!.id, 'revoke', 'Left the team.'),
        decisionFor(t, b!.id, 'revoke', 'Left the team.'),
        decisionFor(t, c!.id, 'approve'),
        decisionFor(t, d!.id, 'approve'),
      ]);
      expect(results.map((r) => r.status)).toEqual(['done', 'done', 'done', 'done']);
      const bulk = emu.requests.filter(
        (r) => r.method === 'POST' && /\/items\/(certify|revoke|exception)$/.test(r.path),
      );
      expect(bulk.map((r) => [r.path.split('/').pop(), (r.body as { ids: string[] }).ids])).toEqual([
        ['revoke', [a!.id, b!.id]],
        ['certify', [c!.id, d!.id]],
      ]);
      // One item of a batch is gone from AIC: the bulk call is refused, and each item answers for itself.
      t.removeItem(e!.certId, e!.id);
      const [f, g] = open(t).filter((i) => ![a, b, c, d].includes(i));
      const mixed = await connector.writeBack.applyBatch!([
        {
          ...decisionFor(t, f!.id, 'revoke', 'Same.'),
          item_coordinates: { ...decisionFor(t, f!.id, 'revoke').item_coordinates },
        },
        decisionFor(t, g!.id, 'revoke', 'Same.'),
        {
          ...decisionFor(t, g!.id, 'revoke', 'Same.'),
          item_coordinates: { ...decisionFor(t, g!.id, 'revoke').item_coordinates, item_id: e!.id },
        },
      ]);
      expect(mixed.map((r) => r.status)).toEqual(['done', 'done', 'failed']);
      expect(mixed[2]!.status === 'failed' && mixed[2]!.error).toMatch(/no such certification item/);
    });

    it('a 503 on a decision is retried after Retry-After; a persistent 500 is reported as retryable', async () => {
      const { t, connector, emu } = await setup();
      const [a, b] = open(t);
      emu.injectFault({ status: 503, method: 'POST', path: '/revoke' });
      expect((await connector.writeBack.apply(decisionFor(t, a!.id, 'revoke'))).status).toBe('done');
      emu.injectFault({ status: 500, method: 'POST', path: '/revoke', times: 9 });
      expect(await connector.writeBack.apply(decisionFor(t, b!.id, 'revoke'))).toMatchObject({
        status: 'failed',
        retryable: true,
      });
      expect(emu.requests.filter((r) => r.method === 'POST' && r.status === 500)).toHaveLength(1);
    });
  });

  describe('remediation', () => {
    const request = (user: string, entitlement: string, attributes: Record<string, string> = {}) => ({
      idempotency_key: `r-${user}-${entitlement}`,
      user_external_id: user,
      entitlement_external_id: entitlement,
      entitlement_type: 'group' as const,
      entitlement_attributes: attributes,
    });

    it('removes a membership, an admin role and an application role; what is already gone is done', async () => {
      const { t, connector } = await setup({ surfaces: 'pingone' });
      const { group, user } = t.removableMemberships()[0]!;
      expect(await connector.remediation.remove(request(user, `group:${group}`))).toEqual({
        status: 'done',
        platform_ref: `ping:membership:${group}:${user}`,
      });
      expect(t.isMember(group, user)).toBe(false);
      expect(await connector.remediation.remove(request(user, `group:${group}`))).toMatchObject({
        status: 'done',
        detail: 'the access was already removed in PingOne',
      });
      const [admin, roles] = [...t.userRoles][0]!;
      const a = roles[0]!;
      expect(
        (
          await connector.remediation.remove(
            request(admin, `role:${a.role.id}:${a.scope.type.toLowerCase()}:${a.scope.id}`),
          )
        ).status,
      ).toBe('done');
      expect((t.userRoles.get(admin) ?? []).some((x) => x.id === a.id)).toBe(false);
      const [roleId, holders] = [...t.appRoleUsers][0]!;
      const holder = [...holders][0]!;
      expect((await connector.remediation.remove(request(holder, `approle:${roleId}`))).status).toBe('done');
      expect(t.appRoleUsers.get(roleId)!.has(holder)).toBe(false);
      expect(t.removals.map((r) => r.kind)).toEqual(['membership', 'role', 'appRole']);
    });

    it('says what to change for what Attest cannot remove: dynamic, external, nested, a group’s role, application access, AIC access', async () => {
      const { t, connector } = await setup({ surfaces: 'pingone' });
      const reason = async (u: string, e: string, attrs?: Record<string, string>) => {
        const r = await connector.remediation.remove(request(u, e, attrs));
        expect(r).toMatchObject({ status: 'failed', retryable: false });
        return r.status === 'failed' ? r.error : '';
      };
      const dyn = t.groups[1]!;
      expect(await reason([...t.members.get(dyn.id)!][0]!, `group:${dyn.id}`)).toMatch(
        /dynamic group \(filter "department eq \\"Sales\\""\).*Change the group's filter/,
      );
      const ext = t.groups[2]!;
      expect(await reason([...t.members.get(ext.id)!][0]!, `group:${ext.id}`)).toMatch(
        /external group \(source IDP\).*Remove the user from the group there/,
      );
      const [inner, outers] = [...t.nesting].find(([g]) => g !== t.groups[4]!.id && g !== t.groups[5]!.id)!;
      const outer = [...outers][0]!;
      const nested = [...t.members.get(inner)!].find((u) => !t.members.get(outer)!.has(u))!;
      expect(await reason(nested, `group:${outer}`)).toMatch(
        new RegExp(`comes through the nested group ${t.group(inner)!.name.replace(/[()]/g, '.')}`),
      );
      const iam = t.groups[0]!;
      const member = [...t.members.get(iam.id)!].find(
        (u) => !(t.userRoles.get(u) ?? []).some((a) => a.role.id === 'r-ida'),
      )!;
      expect(await reason(member, `role:r-ida:environment:${t.envId}`)).toMatch(
        /assigned to the group IAM Admins/,
      );
      expect(await reason(member, `app:${t.apps[0]!.id}`, { access_groups: 'a;b' })).toMatch(
        /access control \(2 groups/,
      );
      expect(await reason('aic:user:x', 'aic:app:y')).toMatch(/held in Advanced Identity Cloud/);
      expect(t.removals).toEqual([]);
    });

    it('leaves the removal of a certification item’s access to AIC unless PINGAIC_REMEDIATION=direct', async () => {
      const { connector, env } = await setup();
      const item = {
        item_external_id: 'x',
        campaign_external_id: 'c',
        item_coordinates: { surface: 'aic', joined: 'pingone' },
      };
      expect(connector.remediation.byPlatform!(item)).toMatch(/Advanced Identity Cloud removes this access/);
      expect(connector.remediation.byPlatform!({ ...item, item_coordinates: {} })).toBeNull();
      const direct = connectorFor({ ...env, PINGAIC_REMEDIATION: 'direct' });
      expect(direct.remediation.byPlatform!(item)).toBeNull();
      expect(
        direct.remediation.byPlatform!({ ...item, item_coordinates: { surface: 'aic', joined: 'aic' } }),
      ).toMatch(/removes this access/);
    });
  });
});

describe('Ping configuration', () => {
  const p1 = {
    PINGONE_ENVIRONMENT_ID: '11111111-2222-4333-8444-555555555555',
    PINGONE_CLIENT_ID: '66666666-7777-4888-8999-000000000000',
    PINGONE_CLIENT_SECRET: 'Sup3r-secret-value-0123456789',
  };
  const key = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  const aic = {
    PINGAIC_TENANT_URL: 'https://openam-example.forgeblocks.com',
    PINGAIC_SERVICE_ACCOUNT_ID: 'f1e2d3c4-b5a6-4798-8a9b-0c1d2e3f4a5b',
    PINGAIC_SERVICE_ACCOUNT_KEY: JSON.stringify(key.export({ format: 'jwk' })),
  };
  const message = (env: Record<string, string>) => {
    try {
      parsePingConfig(env);
    } catch (e) {
      expect(e).toBeInstanceOf(ConnectorError);
      for (const v of [p1.PINGONE_CLIENT_SECRET, aic.PINGAIC_SERVICE_ACCOUNT_KEY])
        expect((e as Error).message).not.toContain(v);
      return (e as Error).message;
    }
    throw new Error('expected a configuration error');
  };

  it('reads either surface or both, with the region or both hosts', () => {
    expect(parsePingConfig(p1).pingone).toMatchObject({
      apiBase: 'https://api.pingone.com/v1',
      authBase: 'https://auth.pingone.com',
    });
    expect(parsePingConfig(p1).aic).toBeNull();
    expect(parsePingConfig({ ...p1, PINGONE_REGION: 'com.au' }).pingone).toMatchObject({
      apiBase: 'https://api.pingone.com.au/v1',
    });
    expect(
      parsePingConfig({
        ...p1,
        PINGONE_API_URL: 'http://127.0.0.1:9/v1',
        PINGONE_AUTH_URL: 'http://localhost:9',
      }).pingone,
    ).toMatchObject({
      apiBase: 'http://127.0.0.1:9/v1',
      authBase: 'http://localhost:9',
    });
    const both = parsePingConfig({ ...p1, ...aic });
    expect(both.aic).toMatchObject({
      tenantUrl: aic.PINGAIC_TENANT_URL,
      scopes: ['fr:iga:*', 'fr:idm:*'],
      joinKey: 'username',
      remediation: 'certification',
    });
    expect(pingSecrets(both)).toEqual(
      expect.arrayContaining([
        p1.PINGONE_CLIENT_SECRET,
        aic.PINGAIC_SERVICE_ACCOUNT_KEY,
        key.export({ format: 'jwk' }).d,
      ]),
    );
    expect(pingRegistration.settings.read({})).toBeNull();
    // Redaction knows every form the secrets take, through the registration alone.
    const pem = key.export({ format: 'pem', type: 'pkcs8' }).toString().replace(/\n/g, '\\n');
    const held = secretValues({ ...p1, ...aic, PINGAIC_SERVICE_ACCOUNT_KEY: pem });
    expect(held).toEqual(expect.arrayContaining([p1.PINGONE_CLIENT_SECRET, pem]));
    expect(held.some((v) => v.length > 40 && !v.includes('BEGIN') && pem.includes(v))).toBe(true);
    expect(held).not.toContain(p1.PINGONE_CLIENT_ID);
  });

  it('refuses half a set, hosts without their partner, http:// off loopback and bad values, naming the variable', () => {
    expect(message({ PINGONE_ENVIRONMENT_ID: p1.PINGONE_ENVIRONMENT_ID })).toMatch(
      /^PINGONE_CLIENT_ID and PINGONE_CLIENT_SECRET are not set: the PingOne directory needs PINGONE_ENVIRONMENT_ID, PINGONE_CLIENT_ID, PINGONE_CLIENT_SECRET together/,
    );
    expect(message({ ...p1, PINGAIC_SCOPES: 'fr:iga:*' })).toMatch(
      /^PINGAIC_TENANT_URL and PINGAIC_SERVICE_ACCOUNT_ID and PINGAIC_SERVICE_ACCOUNT_KEY are not set/,
    );
    expect(message({ ...p1, PINGONE_API_URL: 'https://api.example.com' })).toMatch(
      /PINGONE_API_URL and PINGONE_AUTH_URL go together/,
    );
    expect(message({ ...p1, PINGONE_REGION: 'mars' })).toMatch(
      /PINGONE_REGION must be one of com, eu, ca, asia, com.au/,
    );
    expect(
      message({
        ...p1,
        PINGONE_API_URL: 'http://api.example.com',
        PINGONE_AUTH_URL: 'https://auth.example.com',
      }),
    ).toMatch(/PINGONE_API_URL uses http:\/\/ for a host that is not loopback/);
    expect(message({ ...aic, PINGAIC_TENANT_URL: 'http://tenant.example.com' })).toMatch(
      /PINGAIC_TENANT_URL uses http:\/\//,
    );
    expect(message({ ...p1, PINGONE_ENVIRONMENT_ID: 'prod' })).toMatch(
      /PINGONE_ENVIRONMENT_ID must be the environment's id, a UUID/,
    );
    expect(message({ ...p1, PINGONE_ATTRIBUTES: '{"dept": "x"}' })).toMatch(
      /PINGONE_ATTRIBUTES names an unknown field "dept"/,
    );
    expect(message({ ...p1, PINGONE_ATTRIBUTES: '{"department": "a b"}' })).toMatch(
      /PINGONE_ATTRIBUTES.department must be an attribute path/,
    );
    expect(message({ ...aic, PINGAIC_SERVICE_ACCOUNT_KEY: '{"kty":"RSA"' })).toMatch(
      /PINGAIC_SERVICE_ACCOUNT_KEY looks like JSON but does not parse/,
    );
    const pub = JSON.stringify(
      generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' }),
    );
    expect(message({ ...aic, PINGAIC_SERVICE_ACCOUNT_KEY: pub })).toMatch(/must be an RSA private key/);
    expect(message({ ...aic, PINGAIC_SCOPES: 'fr:idm:*' })).toMatch(/PINGAIC_SCOPES must include fr:iga:\*/);
    expect(message({ ...aic, PINGAIC_JOIN: 'employeeId' })).toMatch(/PINGAIC_JOIN must be username or email/);
    expect(message({ ...p1, PINGONE_AUDIT_DAYS: '365' })).toMatch(
      /PINGONE_AUDIT_DAYS must be a whole number of days from 1 to 90/,
    );
  });
});
