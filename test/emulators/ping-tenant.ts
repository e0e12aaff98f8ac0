/**
 * The state of an emulated Ping Identity set-up (see ping.ts for the HTTP server): a PingOne
 * environment (users, populations, groups with nesting, dynamic and external groups, admin
 * role assignments of users and groups, applications with group access control, PingOne
 * Authorize application roles, audit activities) and an Advanced Identity Cloud tenant
 * (managed users mirroring the directory plus a few of its own, certifications with items).
 * Tests read and change it directly; writes through the API are recorded.
 */
import { createRng } from '../../src/analysis/stats.js';

export interface EmuP1User {
  id: string;
  username: string;
  email: string;
  name: { given: string; family: string; formatted: string };
  enabled: boolean;
  population: { id: string };
  account: { status: 'OK' | 'LOCKED'; canAuthenticate: boolean };
  lifecycle: { status: string };
  lastSignOn?: { at: string; remoteIp: string };
  createdAt: string;
  title?: string;
  type?: string;
  /** Custom attributes. */
  department?: string;
  manager?: string;
  address?: { locality?: string; countryCode?: string };
  identityProvider: { type: string };
  [custom: string]: unknown;
}

export interface EmuGroup {
  id: string;
  name: string;
  description?: string;
  population?: { id: string };
  userFilter?: string | null;
  sourceType?: string | null;
  sourceId?: string | null;
}

export interface EmuRoleAssignment {
  id: string;
  role: { id: string };
  scope: { id: string; type: 'ORGANIZATION' | 'ENVIRONMENT' | 'POPULATION' | 'APPLICATION' };
  readOnly: boolean;
}

export interface EmuApp {
  id: string;
  name: string;
  enabled: boolean;
  type: string;
  accessControl?: {
    role?: { type: 'ADMIN_USERS_ONLY' };
    group?: { type: 'ANY_GROUP' | 'ALL_GROUPS'; groups: Array<{ id: string }> };
  };
}

export interface EmuActivity {
  id: string;
  recordedAt: string;
  createdAt: string;
  action: { type: string; description: string };
  actors: { user: { id: string; name: string }; client: { id: string; name: string; type: 'CLIENT' } };
  resources: Array<{ type: string; id: string; name: string }>;
  result: { status: 'SUCCESS' | 'FAILED'; description: string };
}

export interface EmuAicUser {
  id: string;
  userName: string;
  mail: string;
  givenName: string;
  sn: string;
}

export interface EmuCertification {
  id: string;
  name: string;
  status: 'in-progress' | 'signed-off' | 'staging';
  certificationType: string;
  deadline: string;
  startDate: string;
  allowExceptions?: boolean;
  /** The template a certification was run from (certifications made by POST /certification). */
  templateId?: string;
  description?: string;
}

/** A certification template as saved by POST /certification/template (the body kept as sent). */
export interface EmuTemplate {
  id: string;
  name: string;
  description: string;
  status: 'pending' | 'active';
  certificationType: string;
  body: Record<string, unknown>;
}

export interface EmuItem {
  id: string;
  certId: string;
  user: EmuAicUser;
  application?: { id: string; name: string };
  entitlement?: { id: string; displayName: string };
  role?: { id: string; name: string };
  account?: Record<string, unknown>;
  descriptor?: { idx: Record<string, { displayName: string }> };
  decision?: {
    certification: {
      decision?: 'certify' | 'revoke' | 'exception';
      decisionDate?: string;
      decisionBy?: { id: string; userName: string; mail: string };
      status: string;
      comments: Array<{ action: string; comment: string; timeStamp: string }>;
    };
  };
}

export interface DecisionWrite {
  certId: string;
  itemId: string;
  decision: 'certify' | 'revoke' | 'exception';
  comment: string | null;
  via: 'single' | 'bulk';
}

/** Built-in PingOne admin roles (fixed ids for the emulator). */
export const BUILT_IN_ROLES = [
  { id: 'r-org-admin', name: 'Organization Admin' },
  { id: 'r-env-admin', name: 'Environment Admin' },
  { id: 'r-ida', name: 'Identity Data Admin' },
  { id: 'r-ida-ro', name: 'Identity Data Read-Only Admin' },
  { id: 'r-cad', name: 'Client Application Developer' },
  { id: 'r-cfg-ro', name: 'Configuration Read-Only Admin' },
];

export const ADMIN_CONSOLE = { id: 'c-admin-console', name: 'PingOne Admin Console' };

export function uuid(rnd: () => number): string {
  const h = () =>
    Math.floor(rnd() * 0x10000)
      .toString(16)
      .padStart(4, '0');
  return `${h()}${h()}-${h()}-4${h().slice(1)}-a${h().slice(1)}-${h()}${h()}${h()}`;
}

export class PingTenant {
  envId = '';
  populations: Array<{ id: string; name: string }> = [];
  users: EmuP1User[] = [];
  groups: EmuGroup[] = [];
  /** group → direct user members. */
  members = new Map<string, Set<string>>();
  /** group → the groups it is nested in. */
  nesting = new Map<string, Set<string>>();
  userRoles = new Map<string, EmuRoleAssignment[]>();
  groupRoles = new Map<string, EmuRoleAssignment[]>();
  roles = BUILT_IN_ROLES.map((r) => ({ ...r, description: `${r.name} (built-in)` }));
  apps: EmuApp[] = [];
  appRoles: Array<{ id: string; name: string; description: string }> = [];
  appRoleUsers = new Map<string, Set<string>>();
  activities: EmuActivity[] = [];
  aicUsers: EmuAicUser[] = [];
  certifications: EmuCertification[] = [];
  templates: EmuTemplate[] = [];
  items = new Map<string, EmuItem[]>();
  decisionWrites: DecisionWrite[] = [];
  comments: Array<{ certId: string; itemId: string; comment: string }> = [];
  /** DELETE requests that removed something: what, of whom. */
  removals: Array<{ kind: 'membership' | 'role' | 'appRole'; userId: string; id: string }> = [];
  private version = 0;
  private transitive = new Map<string, { version: number; groups: Map<string, boolean> }>();

  user(id: string): EmuP1User | undefined {
    return this.userIndex().get(id);
  }

  private index: { version: number; map: Map<string, EmuP1User> } | null = null;
  private userIndex(): Map<string, EmuP1User> {
    if (this.index?.version !== this.version || this.index.map.size !== this.users.length)
      this.index = { version: this.version, map: new Map(this.users.map((u) => [u.id, u])) };
    return this.index.map;
  }

  group(id: string): EmuGroup | undefined {
    return this.groups.find((g) => g.id === id);
  }

  touch(): void {
    this.version++;
  }

  /** The user's groups: true for a direct membership, false for one through nesting. */
  membershipsOf(userId: string): Map<string, boolean> {
    const cached = this.transitive.get(userId);
    if (cached?.version === this.version) return cached.groups;
    const out = new Map<string, boolean>();
    const queue: string[] = [];
    for (const [g, m] of this.members)
      if (m.has(userId)) {
        out.set(g, true);
        queue.push(g);
      }
    while (queue.length > 0) {
      const g = queue.shift()!;
      for (const p of this.nesting.get(g) ?? [])
        if (!out.has(p)) {
          out.set(p, false);
          queue.push(p);
        }
    }
    this.transitive.set(userId, { version: this.version, groups: out });
    return out;
  }

  isMember(groupId: string, userId: string): boolean {
    return this.membershipsOf(userId).has(groupId);
  }

  addMember(groupId: string, userId: string): void {
    const m = this.members.get(groupId) ?? new Set<string>();
    m.add(userId);
    this.members.set(groupId, m);
    this.touch();
  }

  removeMember(groupId: string, userId: string): boolean {
    const had = this.members.get(groupId)?.delete(userId) ?? false;
    this.touch();
    return had;
  }

  deleteUser(userId: string): void {
    this.users = this.users.filter((u) => u.id !== userId);
    for (const m of this.members.values()) m.delete(userId);
    this.userRoles.delete(userId);
    this.touch();
  }

  cert(id: string): EmuCertification | undefined {
    return this.certifications.find((c) => c.id === id);
  }

  item(certId: string, itemId: string): EmuItem | undefined {
    return this.items.get(certId)?.find((i) => i.id === itemId);
  }

  removeItem(certId: string, itemId: string): void {
    this.items.set(
      certId,
      (this.items.get(certId) ?? []).filter((i) => i.id !== itemId),
    );
  }

  /** The directly held group memberships that Attest may remove (static, internal groups). */
  removableMemberships(): Array<{ group: string; user: string }> {
    const out: Array<{ group: string; user: string }> = [];
    for (const g of this.groups) {
      if (g.userFilter || g.sourceType) continue;
      for (const u of [...(this.members.get(g.id) ?? [])].sort())
        if (this.user(u)) out.push({ group: g.id, user: u });
    }
    return out;
  }

  /**
   * Direct memberships whose removal takes nothing else with it: groups outside every nesting,
   * granted no role and no application, held by users with no other path to them.
   */
  leafMemberships(apps: ReadonlyArray<EmuApp> = this.apps): Array<{ group: string; user: string }> {
    const structural = new Set<string>([...this.groupRoles.keys()]);
    for (const [child, parents] of this.nesting) {
      structural.add(child);
      for (const p of parents) structural.add(p);
    }
    for (const a of apps) for (const g of a.accessControl?.group?.groups ?? []) structural.add(g.id);
    return this.removableMemberships().filter((m) => !structural.has(m.group));
  }

  stats(): Record<string, number> {
    let memberships = 0;
    for (const m of this.members.values()) memberships += m.size;
    let items = 0;
    for (const i of this.items.values()) items += i.length;
    return {
      users: this.users.length,
      groups: this.groups.length,
      memberships,
      nestings: [...this.nesting.values()].reduce((n, s) => n + s.size, 0),
      apps: this.apps.length,
      activities: this.activities.length,
      certifications: this.certifications.length,
      items,
    };
  }
}

export interface GeneratePingOptions {
  users: number;
  /** Direct group memberships (default 6 a user). */
  memberships?: number;
  /** Items of the active certification (default the number of users). */
  items?: number;
  now: Date;
  seed?: number;
}

const FIRST = [
  'Ana',
  'Ben',
  'Chloe',
  'Dev',
  'Eli',
  'Fay',
  'Gus',
  'Hana',
  'Ivo',
  'Jun',
  'Kai',
  'Lea',
  'Max',
  'Noa',
  'Omar',
  'Pia',
];
const LAST = ['Lee', 'Ng', 'Diaz', 'Kim', 'Roy', 'Cruz', 'Berg', 'Sato', 'Moss', 'Vale', 'Park', 'Ito'];
const DEPTS = ['Finance', 'Sales', 'Engineering', 'Support', 'People', 'Legal'];
const TITLES = ['Analyst', 'Engineer', 'Manager', 'Specialist', 'Director', 'Associate'];

/** A seeded environment and tenant of the given size. */
export function generatePingTenant(o: GeneratePingOptions): PingTenant {
  const rnd = createRng(o.seed ?? 7);
  const t = new PingTenant();
  const now = o.now.getTime();
  const iso = (ms: number) => new Date(ms).toISOString();
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
  t.envId = uuid(rnd);
  t.populations = [
    { id: uuid(rnd), name: 'Employees' },
    { id: uuid(rnd), name: 'Partners' },
  ];
  for (let i = 0; i < o.users; i++) {
    const given = FIRST[i % FIRST.length]!;
    const family = `${LAST[Math.floor(i / FIRST.length) % LAST.length]!}${i}`;
    const username = `${given}.${family}`.toLowerCase();
    const contractor = rnd() < 0.1;
    const u: EmuP1User = {
      id: uuid(rnd),
      username,
      email: `${username}@example.com`,
      name: { given, family, formatted: `${given} ${family}` },
      enabled: rnd() > 0.05,
      population: { id: t.populations[contractor ? 1 : 0]!.id },
      account:
        rnd() < 0.02 ? { status: 'LOCKED', canAuthenticate: false } : { status: 'OK', canAuthenticate: true },
      lifecycle: { status: 'ACCOUNT_OK' },
      createdAt: iso(now - (400 + Math.floor(rnd() * 800)) * 86_400_000),
      title: pick(TITLES),
      type: contractor ? 'Contractor' : i % 97 === 5 ? 'Service account' : 'Employee',
      department: DEPTS[i % DEPTS.length],
      address: { locality: pick(['Denver', 'Berlin', 'Austin']), countryCode: pick(['US', 'DE']) },
      identityProvider: { type: 'PING_ONE' },
    };
    if (rnd() > 0.05)
      u.lastSignOn = {
        at: iso(now - Math.floor(rnd() * 150) * 86_400_000 - 3_600_000),
        remoteIp: '10.0.0.1',
      };
    // Managers are named by username, by email or by id: PingOne has no standard manager attribute.
    if (i >= 5) {
      const m = t.users[Math.floor(rnd() * Math.min(i, 5 + i / 10))]!;
      u.manager = i % 3 === 0 ? m.email : i % 3 === 1 ? m.username : m.id;
    }
    t.users.push(u);
  }
  const nGroups = Math.max(10, Math.round(o.users / 50));
  for (let g = 0; g < nGroups; g++) {
    const name =
      g === 0
        ? 'IAM Admins'
        : `${DEPTS[g % DEPTS.length]}-${['Core', 'EU', 'US', 'Leads', 'Tools'][g % 5]}-${g}`;
    t.groups.push({ id: uuid(rnd), name, description: `Group ${name}`, userFilter: null, sourceType: null });
  }
  // A dynamic group, an external group, a population group.
  t.groups[1]!.userFilter = 'department eq "Sales"';
  t.groups[1]!.name = 'Sales (dynamic)';
  t.groups[2]!.sourceType = 'IDP';
  t.groups[2]!.sourceId = uuid(rnd);
  t.groups[2]!.name = 'Partners (external)';
  t.groups[3]!.population = { id: t.populations[0]!.id };
  // Nesting: about one group in six inside another, and a cycle between two groups.
  for (let g = 5; g < nGroups; g++)
    if (g % 6 === 0) t.nesting.set(t.groups[g]!.id, new Set([t.groups[g - 1]!.id]));
  t.nesting.set(t.groups[4]!.id, new Set([t.groups[5]!.id]));
  t.nesting.set(t.groups[5]!.id, new Set([t.groups[4]!.id]));
  const target = o.memberships ?? o.users * 6;
  for (const g of t.groups) t.members.set(g.id, new Set());
  for (let k = 0; k < target; k++) {
    const u = t.users[Math.floor(rnd() * t.users.length)]!;
    const g = t.groups[3 + Math.floor(rnd() * (nGroups - 3))]!;
    t.members.get(g.id)!.add(u.id);
  }
  for (const u of t.users) if (u.department === 'Sales') t.members.get(t.groups[1]!.id)!.add(u.id);
  for (const u of t.users)
    if (u.type === 'Contractor' && rnd() < 0.5) t.members.get(t.groups[2]!.id)!.add(u.id);
  // Admin roles: a few users hold roles directly; the IAM Admins group holds Identity Data Admin.
  const env = (role: string): EmuRoleAssignment => ({
    id: uuid(rnd),
    role: { id: role },
    scope: { id: t.envId, type: 'ENVIRONMENT' },
    readOnly: false,
  });
  const admins = Math.max(3, Math.round(o.users / 200));
  for (let k = 0; k < admins; k++) {
    const u = t.users[(k * 7 + 1) % t.users.length]!;
    const list = t.userRoles.get(u.id) ?? [];
    list.push(env(k === 0 ? 'r-env-admin' : k % 2 ? 'r-ida-ro' : 'r-cad'));
    if (k === 1) list.push({ ...env('r-ida'), scope: { id: t.populations[0]!.id, type: 'POPULATION' } });
    t.userRoles.set(u.id, list);
  }
  t.groupRoles.set(t.groups[0]!.id, [env('r-ida')]);
  for (let k = 0; k < Math.max(2, admins); k++)
    t.members.get(t.groups[0]!.id)!.add(t.users[(k * 11 + 3) % t.users.length]!.id);
  // Applications, with access through groups.
  const nApps = Math.max(4, Math.round(o.users / 400));
  for (let a = 0; a < nApps; a++) {
    const groups = [t.groups[5 + (a % (nGroups - 5))]!, t.groups[6 + ((a * 3) % (nGroups - 6))]!];
    const app: EmuApp = {
      id: uuid(rnd),
      name: `${['Payroll', 'CRM', 'Wiki', 'Billing', 'Tickets', 'BI'][a % 6]}${a >= 6 ? ` ${a}` : ''}`,
      enabled: true,
      type: 'WEB_APP',
      accessControl: {
        group: { type: a === 1 ? 'ALL_GROUPS' : 'ANY_GROUP', groups: groups.map((g) => ({ id: g.id })) },
      },
    };
    if (a === 2) app.accessControl!.role = { type: 'ADMIN_USERS_ONLY' };
    t.apps.push(app);
  }
  t.apps.push({ id: uuid(rnd), name: 'Intranet', enabled: true, type: 'WEB_APP' });
  // PingOne Authorize application roles.
  t.appRoles = ['Invoice Approver', 'Report Viewer', 'Tenant Admin'].map((name) => ({
    id: uuid(rnd),
    name,
    description: `${name} role`,
  }));
  for (const [k, r] of t.appRoles.entries()) {
    const set = new Set<string>();
    for (let j = 0; j < Math.max(2, Math.round(o.users / 20)); j++)
      set.add(t.users[(j * 5 + k) % t.users.length]!.id);
    t.appRoleUsers.set(r.id, set);
  }
  // Audit: sign-ons to the apps each user may use, and the admin console for admins, over 14 days.
  for (const u of t.users) {
    const n = Math.floor(rnd() * 3);
    for (let k = 0; k < n; k++) {
      const app = rnd() < 0.15 && t.userRoles.has(u.id) ? ADMIN_CONSOLE : pick(t.apps);
      const ok = rnd() > 0.1;
      const at = iso(now - Math.floor(rnd() * 13 * 86_400_000) - 60_000);
      t.activities.push({
        id: uuid(rnd),
        recordedAt: at,
        createdAt: at,
        action: {
          type: ok ? 'USER.ACCESS_ALLOWED' : 'USER.ACCESS_DENIED',
          description: ok ? 'User Access Allowed' : 'User Access Denied',
        },
        actors: {
          user: { id: u.id, name: u.username },
          client: { id: app.id, name: app.name, type: 'CLIENT' },
        },
        resources: [{ type: 'USER', id: u.id, name: u.username }],
        result: { status: ok ? 'SUCCESS' : 'FAILED', description: '' },
      });
    }
    if (rnd() < 0.3) {
      // Events that are not sign-ons are not read.
      const at = iso(now - Math.floor(rnd() * 10 * 86_400_000));
      t.activities.push({
        id: uuid(rnd),
        recordedAt: at,
        createdAt: at,
        action: { type: 'USER.UPDATED', description: 'User Updated' },
        actors: {
          user: { id: u.id, name: u.username },
          client: { id: ADMIN_CONSOLE.id, name: ADMIN_CONSOLE.name, type: 'CLIENT' },
        },
        resources: [{ type: 'USER', id: u.id, name: u.username }],
        result: { status: 'SUCCESS', description: '' },
      });
    }
  }
  t.activities.sort((a, b) => a.recordedAt.localeCompare(b.recordedAt));
  // Advanced Identity Cloud: managed users mirror the directory's, plus two of its own.
  t.aicUsers = t.users.map((u) => ({
    id: uuid(rnd),
    userName: u.username,
    mail: u.email,
    givenName: u.name.given,
    sn: u.name.family,
  }));
  t.aicUsers.push(
    { id: uuid(rnd), userName: 'aic.only1', mail: 'aic.only1@example.com', givenName: 'Rui', sn: 'Only' },
    { id: uuid(rnd), userName: 'aic.only2', mail: 'aic.only2@example.com', givenName: 'Sam', sn: 'Only' },
  );
  const reviewer = t.aicUsers[0]!;
  const mkCert = (
    status: EmuCertification['status'],
    name: string,
    allowExceptions = true,
  ): EmuCertification => ({
    id: uuid(rnd),
    name,
    status,
    certificationType: 'identity',
    deadline: iso(now + (status === 'signed-off' ? -30 : 21) * 86_400_000),
    startDate: iso(now - (status === 'signed-off' ? 120 : 7) * 86_400_000),
    allowExceptions,
  });
  const live = mkCert('in-progress', 'Q4 user access review');
  const privileged = mkCert('in-progress', 'Privileged access review', false);
  const done = mkCert('signed-off', 'Q2 user access review');
  const done2 = mkCert('signed-off', 'Q3 privileged access review');
  const staging = mkCert('staging', 'Q1 next year (staging)');
  t.certifications.push(live, privileged, done, done2, staging);
  const workday = { id: uuid(rnd), name: 'Workday' };
  const pingoneApp = { id: uuid(rnd), name: 'PingOne' };
  const aicRole = { id: uuid(rnd), name: 'Finance Approver' };
  const byUsername = new Map(t.users.map((u) => [u.username, u]));
  // AIC's entitlement id for each PingOne group it governs (the same access has one id everywhere).
  const entitlementIds = new Map(t.groups.map((g) => [g.id, uuid(rnd)]));
  const makeItems = (cert: EmuCertification, n: number, decidedShare: number): EmuItem[] => {
    const out: EmuItem[] = [];
    const seen = new Set<string>();
    for (let k = 0; out.length < n && k < n * 4; k++) {
      const ai =
        k < 2 && cert === live ? t.aicUsers.length - 1 - k : Math.floor(rnd() * (t.aicUsers.length - 2));
      const au = t.aicUsers[ai]!;
      const p1 = byUsername.get(au.userName);
      const direct = p1
        ? [...t.members].filter(([g, m]) => m.has(p1.id) && !t.group(g)!.userFilter).map(([g]) => g)
        : [];
      const kind = direct.length > 0 && rnd() < 0.6 ? 'group' : rnd() < 0.7 ? 'account' : 'role';
      const item: EmuItem = { id: uuid(rnd), certId: cert.id, user: au };
      let key: string;
      if (kind === 'group') {
        const g = t.group(direct[Math.floor(rnd() * direct.length)]!)!;
        item.application = pingoneApp;
        item.entitlement = { id: entitlementIds.get(g.id)!, displayName: g.name };
        item.descriptor = { idx: { '/entitlement': { displayName: g.name } } };
        key = `g:${g.id}`;
      } else if (kind === 'account') {
        item.application = workday;
        item.account = { userName: au.userName };
        item.descriptor = { idx: { '/account': { displayName: au.userName } } };
        key = 'a:workday';
      } else {
        item.role = aicRole;
        key = 'r:finance';
      }
      if (seen.has(`${au.id}|${key}`)) continue;
      seen.add(`${au.id}|${key}`);
      const r = rnd();
      if (r < decidedShare) {
        const decision = r < decidedShare * 0.6 ? 'certify' : r < decidedShare * 0.9 ? 'revoke' : 'exception';
        item.decision = {
          certification: {
            decision,
            decisionDate: iso(now - Math.floor(rnd() * 5 + 1) * 86_400_000),
            decisionBy: {
              id: `managed/user/${reviewer.id}`,
              userName: reviewer.userName,
              mail: reviewer.mail,
            },
            status: 'complete',
            comments: [],
          },
        };
      } else item.decision = { certification: { status: 'in-progress', comments: [] } };
      out.push(item);
    }
    return out;
  };
  const n = o.items ?? o.users;
  t.items.set(live.id, makeItems(live, n, 0.2));
  t.items.set(privileged.id, makeItems(privileged, Math.max(6, Math.round(n / 5)), 0.2));
  t.items.set(done.id, makeItems(done, Math.max(10, Math.round(n / 2)), 1));
  t.items.set(done2.id, makeItems(done2, Math.max(6, Math.round(n / 5)), 1));
  t.items.set(staging.id, []);
  return t;
}
