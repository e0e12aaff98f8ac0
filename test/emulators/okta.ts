/**
 * A loopback Okta org for connector tests and the sync benchmark. It speaks the
 * wire format the real `@okta/okta-sdk-nodejs` expects (see
 * ../shared/reference/okta.md §9): bare-array list bodies with absolute
 * `Link: <…>; rel="next"` URLs carrying every query parameter, `{data,_links}`
 * IGA lists, rate-limit headers and `X-Okta-Request-Id` on every response,
 * Okta error bodies, SSWS and PrivateKey (client-credentials JWT) auth.
 *
 * Test hooks: `injectFault` (429 with a reset 1 s ahead, 5xx), `revokeTokenAfter`,
 * `setGovernance` (licensed / 403 / 404), the request log `requests`, and the
 * mutable org state `org` (memberships, app assignments, roles, review decisions).
 */
import { createPublicKey, type KeyObject, randomBytes, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRng } from '../../src/analysis/stats.js';

// ---- org model ------------------------------------------------------------------

export type UserStatus =
  | 'ACTIVE'
  | 'DEPROVISIONED'
  | 'LOCKED_OUT'
  | 'PASSWORD_EXPIRED'
  | 'PROVISIONED'
  | 'RECOVERY'
  | 'STAGED'
  | 'SUSPENDED';

export interface EmuUser {
  id: string;
  status: UserStatus;
  created: string;
  activated: string | null;
  statusChanged: string | null;
  lastLogin: string | null;
  lastUpdated: string;
  passwordChanged: string | null;
  profile: Record<string, string | null>;
}

export interface EmuGroup {
  id: string;
  created: string;
  lastUpdated: string;
  lastMembershipUpdated: string;
  type: 'OKTA_GROUP' | 'APP_GROUP' | 'BUILT_IN';
  profile: { name: string; description: string | null };
}

export interface EmuApp {
  id: string;
  name: string;
  label: string;
  status: 'ACTIVE' | 'INACTIVE';
  signOnMode: string;
  created: string;
  lastUpdated: string;
}

export interface EmuAppUser {
  userId: string;
  scope: 'USER' | 'GROUP';
  status: string;
  created: string;
  lastUpdated: string;
}

export interface EmuRole {
  id: string;
  type: string;
  label: string;
  status: 'ACTIVE';
  created: string;
  lastUpdated: string;
  assignmentType: 'USER' | 'GROUP';
  /** Custom roles only: the role id. */
  role?: string;
}

export interface EmuLogEvent {
  uuid: string;
  published: string;
  eventType: string;
  displayMessage: string;
  severity: 'INFO' | 'WARN';
  actor: { id: string; type: string; alternateId: string; displayName: string };
  outcome: { result: 'SUCCESS' | 'FAILURE'; reason: string | null };
  client: { ipAddress: string };
  target: Array<{ id: string; type: string; alternateId: string; displayName: string }>;
}

export interface EmuCampaign {
  id: string;
  name: string;
  description: string | null;
  scheduleType: 'ONE_OFF' | 'RECURRING';
  startDate: string;
  endDate: string;
  status: 'SCHEDULED' | 'LAUNCHING' | 'ACTIVE' | 'COMPLETED' | 'DELETED' | 'ERROR';
  created: string;
  createdBy: string;
  lastUpdated: string;
  lastUpdatedBy: string;
}

export interface EmuGroupRule {
  id: string;
  name: string;
  status: 'ACTIVE' | 'INACTIVE';
  expression: string;
  groupIds: string[];
  created: string;
}

export interface EmuReview {
  id: string;
  campaignId: string;
  resourceId: string;
  principalId: string;
  reviewerId: string;
  decision: 'UNREVIEWED' | 'APPROVE' | 'REVOKE';
  decided: string | null;
  note: string | null;
  created: string;
  lastUpdated: string;
}

/** The state of the emulated org; tests read and change it directly. */
export class OktaOrg {
  users: EmuUser[] = [];
  groups: EmuGroup[] = [];
  apps: EmuApp[] = [];
  /** group id → member user ids, sorted. */
  members = new Map<string, string[]>();
  /** app id → user id → assignment (USER or GROUP scope). */
  appUsers = new Map<string, Map<string, EmuAppUser>>();
  /** app id → assigned group ids, sorted. */
  appGroups = new Map<string, string[]>();
  /** user id → role assignments. */
  roles = new Map<string, EmuRole[]>();
  /** System Log, in `published` order. */
  logs: EmuLogEvent[] = [];
  campaigns: EmuCampaign[] = [];
  reviews: EmuReview[] = [];
  /** The create bodies of campaigns made through the API, by campaign id (tests read the settings sent). */
  campaignBodies = new Map<string, Record<string, unknown>>();
  /** Group rules made through the API. */
  groupRules: EmuGroupRule[] = [];
  /** Every review action the org accepted, in order, with who recorded it. */
  reviewActions: Array<{ reviewId: string; action: string; note: string; at: string; by: string }> = [];
  /** Every reassignment the org accepted, in order. */
  reassignments: Array<{ reviewId: string; from: string; to: string; note: string; at: string }> = [];

  private userIndex = new Map<string, EmuUser>();
  private groupIndex = new Map<string, EmuGroup>();

  /** Sorts the lists and rebuilds the indexes; call after bulk changes. */
  reindex(): void {
    this.users.sort(byId);
    this.groups.sort(byId);
    this.apps.sort(byId);
    this.campaigns.sort(byId);
    this.reviews.sort(byId);
    this.logs.sort((a, b) => logKey(a).localeCompare(logKey(b)));
    for (const ids of this.members.values()) ids.sort();
    for (const ids of this.appGroups.values()) ids.sort();
    this.userIndex = new Map(this.users.map((u) => [u.id, u]));
    this.groupIndex = new Map(this.groups.map((g) => [g.id, g]));
  }

  user(idOrLogin: string): EmuUser | undefined {
    return this.userIndex.get(idOrLogin) ?? this.users.find((u) => u.profile.login === idOrLogin);
  }

  group(id: string): EmuGroup | undefined {
    return this.groupIndex.get(id);
  }

  app(id: string): EmuApp | undefined {
    return this.apps.find((a) => a.id === id);
  }

  isMember(groupId: string, userId: string): boolean {
    return this.members.get(groupId)?.includes(userId) ?? false;
  }

  hasAppAssignment(appId: string, userId: string): boolean {
    return this.appUsers.get(appId)?.has(userId) ?? false;
  }

  rolesOf(userId: string): EmuRole[] {
    return this.roles.get(userId) ?? [];
  }

  review(id: string): EmuReview | undefined {
    return this.reviews.find((r) => r.id === id);
  }

  /** Changes profile fields the way an admin edit does (bumps lastUpdated). */
  updateUser(id: string, profile: Record<string, string | null>, at = new Date()): void {
    const u = this.user(id);
    if (!u) throw new Error(`no user ${id}`);
    Object.assign(u.profile, profile);
    u.lastUpdated = at.toISOString();
  }

  addMember(groupId: string, userId: string, at = new Date()): void {
    const ids = this.members.get(groupId) ?? [];
    if (!ids.includes(userId)) {
      ids.push(userId);
      ids.sort();
    }
    this.members.set(groupId, ids);
    const g = this.group(groupId);
    if (g) g.lastMembershipUpdated = at.toISOString();
  }

  removeMember(groupId: string, userId: string, at = new Date()): boolean {
    const ids = this.members.get(groupId);
    const i = ids?.indexOf(userId) ?? -1;
    if (!ids || i < 0) return false;
    ids.splice(i, 1);
    const g = this.group(groupId);
    if (g) g.lastMembershipUpdated = at.toISOString();
    return true;
  }

  addLog(
    event: Omit<EmuLogEvent, 'uuid' | 'severity' | 'client' | 'displayMessage'> & Partial<EmuLogEvent>,
  ): void {
    this.logs.push({
      uuid: event.uuid ?? uuid(Math.random),
      severity: 'INFO',
      client: { ipAddress: '10.0.0.1' },
      displayMessage:
        event.eventType === 'user.session.start' ? 'User login to Okta' : 'User single sign on to app',
      ...event,
    });
    this.logs.sort((a, b) => logKey(a).localeCompare(logKey(b)));
  }

  /** Totals, for tests and the benchmark. */
  stats(): {
    users: number;
    groups: number;
    apps: number;
    memberships: number;
    appAssignments: number;
    roleAssignments: number;
    logs: number;
    reviews: number;
  } {
    let memberships = 0;
    for (const g of this.groups)
      if (g.type !== 'BUILT_IN') memberships += this.members.get(g.id)?.length ?? 0;
    let appAssignments = 0;
    for (const m of this.appUsers.values()) appAssignments += m.size;
    let roleAssignments = 0;
    for (const r of this.roles.values()) roleAssignments += r.length;
    return {
      users: this.users.length,
      groups: this.groups.length,
      apps: this.apps.length,
      memberships,
      appAssignments,
      roleAssignments,
      logs: this.logs.length,
      reviews: this.reviews.length,
    };
  }
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const logKey = (e: EmuLogEvent) => `${e.published}|${e.uuid}`;

// ---- seeded generator -------------------------------------------------------------

export interface GenerateOptions {
  users: number;
  /** Total assignments: group memberships + app assignments + admin roles. */
  assignments: number;
  seed?: number;
  /** The org's "now": timestamps fall before it, sign-ins within the last 80 days. */
  now?: Date;
  /** System Log sign-in events per user (default 2). */
  eventsPerUser?: number;
  /** Reviews in the active campaign (default min(200, assignments / 4)). */
  reviews?: number;
}

const B62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** An Okta-shaped id: a 3-character type prefix and 17 base-62 characters. */
export function oktaId(prefix: string, rnd: () => number): string {
  let s = prefix;
  for (let i = 0; i < 17; i++) s += B62[Math.floor(rnd() * 62)];
  return s;
}

function uuid(rnd: () => number): string {
  const h = Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16)).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

const DEPARTMENTS: Record<string, string[]> = {
  Engineering: ['Software Engineer', 'Senior Software Engineer', 'Engineering Manager', 'SRE'],
  Finance: ['Accountant', 'Treasury Analyst', 'Finance Manager', 'Controller'],
  Sales: ['Account Executive', 'Sales Manager', 'SDR'],
  Marketing: ['Marketing Specialist', 'Content Lead'],
  Support: ['Support Agent', 'Support Lead'],
  'People Ops': ['HR Partner', 'Recruiter'],
  Legal: ['Counsel', 'Paralegal'],
  IT: ['IT Administrator', 'Helpdesk Technician', 'Security Engineer'],
};
const FIRST = [
  'Ana',
  'Ben',
  'Chloe',
  'Dev',
  'Eva',
  'Finn',
  'Gia',
  'Hugo',
  'Ines',
  'Jon',
  'Kai',
  'Lea',
  'Max',
  'Nia',
  'Omar',
  'Pia',
];
const LAST = [
  'Lee',
  'Smith',
  'Garcia',
  'Khan',
  'Novak',
  'Silva',
  'Tanaka',
  'Okafor',
  'Berg',
  'Rossi',
  'Dubois',
  'Kim',
];
const APP_LABELS = [
  'Salesforce',
  'Workday',
  'GitHub',
  'Slack',
  'Zoom',
  'Jira',
  'Confluence',
  'AWS Console',
  'NetSuite',
  'Concur',
  'Box',
  'DocuSign',
  'Zendesk',
  'Tableau',
  'ServiceNow',
  'Snowflake',
];
const ROLE_TYPES: Array<[string, string]> = [
  ['SUPER_ADMIN', 'Super Administrator'],
  ['ORG_ADMIN', 'Organization Administrator'],
  ['APP_ADMIN', 'Application Administrator'],
  ['USER_ADMIN', 'Group Administrator'],
  ['HELP_DESK_ADMIN', 'Help Desk Administrator'],
  ['READ_ONLY_ADMIN', 'Read Only Administrator'],
  ['REPORT_ADMIN', 'Report Administrator'],
];

/**
 * A seeded org of `users` users and about `assignments` assignments (60 %
 * group memberships, the rest app assignments, a few admin roles), with
 * sign-in events, an active campaign and a completed one. Deterministic for
 * a given seed and `now`.
 */
export function generateOktaOrg(options: GenerateOptions): OktaOrg {
  const rnd = createRng(options.seed ?? 42);
  const now = (options.now ?? new Date('2026-11-28T00:00:00.000Z')).getTime();
  const day = 86_400_000;
  const iso = (t: number) => new Date(Math.floor(t)).toISOString();
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const org = new OktaOrg();

  // Users: the first is the CEO; managers are earlier users (an org chart).
  const depts = Object.keys(DEPARTMENTS);
  for (let i = 0; i < options.users; i++) {
    const dept = i === 0 ? 'Executive' : pick(depts);
    const first = pick(FIRST);
    const last = pick(LAST);
    const created = now - (30 + rnd() * 1500) * day;
    const r = rnd();
    const status: UserStatus =
      i < 2 ? 'ACTIVE' : r < 0.02 ? 'DEPROVISIONED' : r < 0.04 ? 'SUSPENDED' : r < 0.05 ? 'STAGED' : 'ACTIVE';
    const kind = rnd();
    const manager = i === 0 ? null : org.users[Math.floor(rnd() * Math.min(i, 1 + i / 10))]!;
    const login = `${first.toLowerCase()}.${last.toLowerCase()}.${i}@example.com`;
    org.users.push({
      id: oktaId('00u', rnd),
      status,
      created: iso(created),
      activated: status === 'STAGED' ? null : iso(created + 1000),
      statusChanged: status === 'ACTIVE' ? null : iso(now - rnd() * 60 * day),
      lastLogin: status === 'STAGED' || rnd() < 0.05 ? null : iso(now - rnd() * 120 * day),
      lastUpdated: iso(created + rnd() * (now - day - created)),
      passwordChanged: null,
      profile: {
        login,
        email: login,
        firstName: first,
        lastName: last,
        displayName: `${first} ${last}`,
        department: dept,
        title: i === 0 ? 'CEO' : pick(DEPARTMENTS[dept]!),
        managerId: manager?.id ?? null,
        employeeType: kind < 0.85 ? 'Employee' : kind < 0.97 ? 'Contractor' : 'Service Account',
        userType: null,
        city: pick(['Berlin', 'Lisbon', 'Austin', 'Toronto', 'Remote']),
        countryCode: null,
      },
    });
  }
  const active = org.users.filter((u) => u.status !== 'DEPROVISIONED' && u.status !== 'STAGED');

  // Groups: Everyone (BUILT_IN), a few APP_GROUPs, the rest OKTA_GROUPs.
  const groupCount = Math.max(4, Math.min(2000, Math.ceil(options.users / 50)));
  for (let i = 0; i < groupCount; i++) {
    const created = now - (60 + rnd() * 1000) * day;
    const type = i === 0 ? 'BUILT_IN' : i % 20 === 19 ? 'APP_GROUP' : 'OKTA_GROUP';
    const dept = pick([...depts]);
    org.groups.push({
      id: oktaId('00g', rnd),
      created: iso(created),
      lastUpdated: iso(created + rnd() * 30 * day),
      lastMembershipUpdated: iso(now - (2 + rnd() * 200) * day),
      type,
      profile: {
        name:
          i === 0 ? 'Everyone' : `${dept} ${['Team', 'Project', 'Access', 'Admins', 'Readers'][i % 5]} ${i}`,
        description: i === 0 ? 'All users in your organization' : `${dept} group ${i}`,
      },
    });
  }
  org.members.set(
    org.groups[0]!.id,
    org.users.map((u) => u.id),
  );

  const appCount = Math.max(3, Math.min(300, Math.ceil(options.users / 250)));
  for (let i = 0; i < appCount; i++) {
    const base = APP_LABELS[i % APP_LABELS.length]!;
    const label = i < APP_LABELS.length ? base : `${base} ${Math.floor(i / APP_LABELS.length) + 1}`;
    const created = now - (100 + rnd() * 1000) * day;
    org.apps.push({
      id: oktaId('0oa', rnd),
      name: label.toLowerCase().replace(/[^a-z0-9]+/g, '_'),
      label,
      status: i % 25 === 24 ? 'INACTIVE' : 'ACTIVE',
      signOnMode: pick(['SAML_2_0', 'OPENID_CONNECT', 'BOOKMARK']),
      created: iso(created),
      lastUpdated: iso(created + rnd() * 50 * day),
    });
    org.appUsers.set(org.apps[i]!.id, new Map());
  }

  // Roles first (few), then memberships (60 %), app groups, direct app users to reach the total.
  const admins = Math.max(2, Math.round(options.users * 0.002));
  let roleCount = 0;
  for (let i = 0; i < admins && i < active.length; i++) {
    const u = active[i === 0 ? 0 : 1 + Math.floor(rnd() * (active.length - 1))]!;
    if (org.roles.has(u.id)) continue;
    const types =
      i === 0
        ? [ROLE_TYPES[0]!]
        : [pick(ROLE_TYPES.slice(1)), ...(rnd() < 0.3 ? [pick(ROLE_TYPES.slice(1))] : [])];
    const list: EmuRole[] = [];
    for (const [type, label] of types) {
      if (list.some((r) => r.type === type)) continue;
      const at = iso(now - rnd() * 700 * day);
      list.push({
        id: roleAssignmentId(rnd),
        type,
        label,
        status: 'ACTIVE',
        created: at,
        lastUpdated: at,
        assignmentType: 'USER',
      });
    }
    org.roles.set(u.id, list);
    roleCount += list.length;
  }

  const budget = Math.max(0, options.assignments - roleCount);
  const membershipTarget = Math.round(budget * 0.6);
  const sets = new Map<string, Set<string>>();
  const realGroups = org.groups.slice(1);
  for (const g of realGroups) sets.set(g.id, new Set());
  let memberships = 0;
  for (let tries = 0; memberships < membershipTarget && tries < membershipTarget * 4; tries++) {
    // Skewed group sizes: a few big groups, many small ones.
    const g = realGroups[Math.floor(rnd() ** 2 * realGroups.length)]!;
    const u = org.users[Math.floor(rnd() * org.users.length)]!;
    const s = sets.get(g.id)!;
    if (!s.has(u.id)) {
      s.add(u.id);
      memberships++;
    }
  }
  for (const [g, s] of sets) org.members.set(g, [...s]);

  // Some apps are assigned to a group; its members get GROUP-scope app assignments (capped at 10 %).
  let derived = 0;
  for (const app of org.apps) {
    if (rnd() > 0.3) continue;
    const g = realGroups[Math.floor(rnd() * realGroups.length)]!;
    const ids = org.members.get(g.id) ?? [];
    if (derived + ids.length > budget * 0.1) continue;
    org.appGroups.set(app.id, [g.id]);
    const m = org.appUsers.get(app.id)!;
    const at = iso(now - rnd() * 300 * day);
    for (const uid of ids)
      m.set(uid, { userId: uid, scope: 'GROUP', status: 'ACTIVE', created: at, lastUpdated: at });
    derived += ids.length;
  }
  let direct = budget - memberships - derived;
  for (let tries = 0; direct > 0 && tries < budget * 4; tries++) {
    const app = org.apps[Math.floor(rnd() ** 1.5 * org.apps.length)]!;
    const u = org.users[Math.floor(rnd() * org.users.length)]!;
    const m = org.appUsers.get(app.id)!;
    if (m.has(u.id)) continue;
    const at = iso(Date.parse(u.created) + rnd() * (now - Date.parse(u.created)));
    m.set(u.id, { userId: u.id, scope: 'USER', status: 'ACTIVE', created: at, lastUpdated: at });
    direct--;
  }

  // Sign-ins over the last 80 days: Okta sessions and app SSO.
  const appsOf = new Map<string, EmuApp[]>();
  for (const app of org.apps)
    for (const uid of org.appUsers.get(app.id)!.keys()) {
      const l = appsOf.get(uid) ?? [];
      l.push(app);
      appsOf.set(uid, l);
    }
  const perUser = options.eventsPerUser ?? 2;
  for (const u of active) {
    for (let k = 0; k < perUser; k++) {
      const apps = appsOf.get(u.id) ?? [];
      const sso = apps.length > 0 && rnd() < 0.6;
      const app = sso ? pick(apps) : null;
      org.logs.push({
        uuid: uuid(rnd),
        published: iso(now - rnd() * 80 * day),
        eventType: sso ? 'user.authentication.sso' : 'user.session.start',
        displayMessage: sso ? 'User single sign on to app' : 'User login to Okta',
        severity: 'INFO',
        actor: { id: u.id, type: 'User', alternateId: u.profile.login!, displayName: u.profile.displayName! },
        outcome:
          rnd() < 0.05
            ? { result: 'FAILURE', reason: 'INVALID_CREDENTIALS' }
            : { result: 'SUCCESS', reason: null },
        client: { ipAddress: '10.0.0.1' },
        target: app
          ? [{ id: app.id, type: 'AppInstance', alternateId: app.label, displayName: app.label }]
          : [],
      });
    }
  }

  // Campaigns: an active one over a sample of memberships and app assignments, and a completed one.
  org.reindex();
  const reviewer = active[0]!;
  const mk = (name: string, status: EmuCampaign['status'], start: number): EmuCampaign => ({
    id: oktaId('ici', rnd),
    name,
    description: `${name} (generated)`,
    scheduleType: 'ONE_OFF',
    startDate: iso(start),
    endDate: iso(start + 30 * day),
    status,
    created: iso(start - day),
    createdBy: reviewer.id,
    lastUpdated: iso(start),
    lastUpdatedBy: reviewer.id,
  });
  const current = mk('Quarterly access review', 'ACTIVE', now - 10 * day);
  const past = mk('Previous quarter review', 'COMPLETED', now - 100 * day);
  org.campaigns.push(current, past);
  const pairs: Array<[string, string]> = [];
  for (const [g, ids] of org.members) {
    if (g === org.groups[0]!.id) continue;
    for (const u of ids) pairs.push([u, g]);
  }
  for (const [a, m] of org.appUsers) for (const [u, au] of m) if (au.scope === 'USER') pairs.push([u, a]);
  const reviewCount = Math.min(
    pairs.length,
    options.reviews ?? Math.min(200, Math.floor(options.assignments / 4)),
  );
  const chosen = new Set<number>();
  while (chosen.size < reviewCount) chosen.add(Math.floor(rnd() * pairs.length));
  let n = 0;
  for (const i of [...chosen].sort((a, b) => a - b)) {
    const [userId, resourceId] = pairs[i]!;
    const user = org.user(userId)!;
    const reviewerId = user.profile.managerId ?? reviewer.id;
    const inPast = n++ % 4 === 0;
    const campaign = inPast ? past : current;
    const decided = inPast || rnd() < 0.1;
    const decision = decided ? (rnd() < 0.8 ? 'APPROVE' : 'REVOKE') : 'UNREVIEWED';
    org.reviews.push({
      id: oktaId('icr', rnd),
      campaignId: campaign.id,
      resourceId,
      principalId: userId,
      reviewerId,
      decision,
      decided: decided ? iso(Date.parse(campaign.startDate) + rnd() * 5 * day) : null,
      note: decided ? 'reviewed' : null,
      created: campaign.startDate,
      lastUpdated: campaign.startDate,
    });
  }
  org.reindex();
  return org;
}

function roleAssignmentId(rnd: () => number): string {
  const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let s = '';
  for (let i = 0; i < 15; i++) s += A[Math.floor(rnd() * A.length)];
  return s;
}

// ---- SCIM-style filter expressions ---------------------------------------------

type Pred = (o: unknown) => boolean;

/** Parses `attr op "value"` terms joined by and/or, with parentheses (enough for the filters the API takes). */
export function parseFilter(text: string): Pred {
  const tokens = text.match(/\(|\)|"(?:[^"\\]|\\.)*"|[^\s()]+/g) ?? [];
  let i = 0;
  const peek = () => tokens[i]?.toLowerCase();
  const expr = (): Pred => {
    let left = term();
    while (peek() === 'or') {
      i++;
      const l = left;
      const r = term();
      left = (o) => l(o) || r(o);
    }
    return left;
  };
  const term = (): Pred => {
    let left = factor();
    while (peek() === 'and') {
      i++;
      const l = left;
      const r = factor();
      left = (o) => l(o) && r(o);
    }
    return left;
  };
  const factor = (): Pred => {
    if (tokens[i] === '(') {
      i++;
      const e = expr();
      if (tokens[i++] !== ')') throw new Error('unbalanced parentheses');
      return e;
    }
    const attr = tokens[i++];
    const op = tokens[i++]?.toLowerCase();
    if (!attr || !op) throw new Error('incomplete filter');
    if (op === 'pr') return (o) => valueAt(o, attr) != null;
    const raw = tokens[i++];
    if (raw === undefined) throw new Error('missing value');
    const value = raw.startsWith('"')
      ? JSON.parse(raw)
      : raw === 'true'
        ? true
        : raw === 'false'
          ? false
          : raw;
    return (o) => compare(valueAt(o, attr), op, value);
  };
  const p = expr();
  if (i !== tokens.length) throw new Error('unexpected token');
  return p;
}

function valueAt(o: unknown, path: string): unknown {
  let v: unknown = o;
  for (const k of path.split('.'))
    v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

function compare(actual: unknown, op: string, expected: unknown): boolean {
  if (actual == null) return false;
  if (op === 'eq') return actual === expected;
  if (op === 'sw') return String(actual).toLowerCase().startsWith(String(expected).toLowerCase());
  if (op === 'co') return String(actual).toLowerCase().includes(String(expected).toLowerCase());
  const a = Date.parse(String(actual));
  const b = Date.parse(String(expected));
  const [x, y] = Number.isNaN(a) || Number.isNaN(b) ? [String(actual), String(expected)] : [a, b];
  if (op === 'gt') return x > y;
  if (op === 'ge') return x >= y;
  if (op === 'lt') return x < y;
  if (op === 'le') return x <= y;
  throw new Error(`unsupported operator ${op}`);
}

// ---- the server -------------------------------------------------------------------

export interface RequestLogEntry {
  seq: number;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  requestId: string;
  auth: 'SSWS' | 'Bearer' | 'none';
  /** From the SDK's 429 retry headers. */
  retryFor: string | null;
  retryCount: number | null;
}

export interface Fault {
  status: 429 | 500 | 502 | 503;
  /** Let this many matching requests through first (default 0: the next one fails). */
  after?: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Only requests whose path starts with this (default: any API request). */
  path?: string;
  method?: string;
}

export interface ServiceAppClient {
  clientId: string;
  /** The user its tokens act for on the `/my/` endpoints (none: those endpoints refuse it). */
  userId?: string;
  /** The public half of the app's key (PEM, JWK or KeyObject). */
  publicKey: string | KeyObject | Record<string, unknown>;
  keyId?: string;
  /** Scopes the app was granted; token requests for others are refused. */
  grantedScopes: string[];
}

export interface OktaEmulatorOptions {
  org?: OktaOrg;
  /** The SSWS API token accepted (default a fixed test value). */
  token?: string;
  clients?: ServiceAppClient[];
  /** IGA: licensed (default), answers 403, or 404 as in an org without it. */
  governance?: 'enabled' | 'forbidden' | 'absent';
  /** Caps page sizes below Okta's maxima, to force paging in small orgs. */
  maxPageSize?: number;
  /**
   * The `/my/` reviewer endpoints accept only reviews assigned to the caller, as Okta's do
   * (default on). The caller is the API token's user, or a service app client's `userId`.
   */
  reviewerEnforcement?: boolean;
  /** The user the API token belongs to (default the first user, the org's super admin). */
  tokenOwner?: string;
  /** More SSWS tokens accepted as the same user (one per process, to tell which process sent a request). */
  extraTokens?: string[];
}

/** A request the emulator holds before handling it, until the test releases it. */
export interface HeldRequest {
  method: string;
  path: string;
  /** The SSWS token the request carried (which process sent it, with extraTokens). */
  token: string | null;
}

export interface Hold {
  /** Resolves when the first matching request arrives; it is held, unhandled, until release(). */
  arrived: Promise<HeldRequest>;
  /** Handles the held request as if it had just arrived (whether or not its client is still there). */
  release(): void;
}

export interface OktaEmulator {
  /** Origin, e.g. http://127.0.0.1:PORT (the org URL). */
  url: string;
  token: string;
  org: OktaOrg;
  requests: RequestLogEntry[];
  injectFault(fault: Fault): void;
  /** Drops every fault not yet spent. */
  clearFaults(): void;
  /** Lets `n` more requests through, then rejects the API token and every issued access token (401 E0000011). */
  revokeTokenAfter(n: number): void;
  setGovernance(mode: 'enabled' | 'forbidden' | 'absent'): void;
  /**
   * Holds the next request of this method whose path matches, before it changes anything; the
   * ones after it are handled as usual. An event to wait on, so a test can act while a write is
   * in flight (kill its sender) without guessing at timing.
   */
  hold(match: { method: string; path: RegExp }): Hold;
  clearLog(): void;
  close(): Promise<void>;
}

/** The scope a bearer token needs for each route (SSWS tokens act as a super admin). */
const ROUTES: Array<{ method: string; re: RegExp; scope: string; name: string }> = [
  { method: 'POST', re: /^\/api\/v1\/groups$/, scope: 'okta.groups.manage', name: 'createGroup' },
  { method: 'GET', re: /^\/api\/v1\/groups\/rules$/, scope: 'okta.groups.read', name: 'groupRules' },
  { method: 'POST', re: /^\/api\/v1\/groups\/rules$/, scope: 'okta.groups.manage', name: 'createRule' },
  {
    method: 'POST',
    re: /^\/api\/v1\/groups\/rules\/([^/]+)\/lifecycle\/activate$/,
    scope: 'okta.groups.manage',
    name: 'activateRule',
  },
  {
    method: 'PUT',
    re: /^\/api\/v1\/apps\/([^/]+)\/groups\/([^/]+)$/,
    scope: 'okta.apps.manage',
    name: 'assignAppGroup',
  },
  {
    method: 'POST',
    re: /^\/governance\/api\/v1\/campaigns$/,
    scope: 'okta.governance.accessCertifications.manage',
    name: 'createCampaign',
  },
  {
    method: 'POST',
    re: /^\/governance\/api\/v1\/campaigns\/([^/]+)\/launch$/,
    scope: 'okta.governance.accessCertifications.manage',
    name: 'launchCampaign',
  },
  { method: 'GET', re: /^\/api\/v1\/users$/, scope: 'okta.users.read', name: 'users' },
  { method: 'GET', re: /^\/api\/v1\/users\/me$/, scope: 'okta.users.read.self', name: 'me' },
  { method: 'GET', re: /^\/api\/v1\/users\/([^/]+)\/roles$/, scope: 'okta.roles.read', name: 'userRoles' },
  {
    method: 'DELETE',
    re: /^\/api\/v1\/users\/([^/]+)\/roles\/([^/]+)$/,
    scope: 'okta.roles.manage',
    name: 'unassignRole',
  },
  { method: 'GET', re: /^\/api\/v1\/users\/([^/]+)$/, scope: 'okta.users.read', name: 'user' },
  { method: 'GET', re: /^\/api\/v1\/groups$/, scope: 'okta.groups.read', name: 'groups' },
  { method: 'GET', re: /^\/api\/v1\/groups\/([^/]+)\/users$/, scope: 'okta.groups.read', name: 'groupUsers' },
  {
    method: 'DELETE',
    re: /^\/api\/v1\/groups\/([^/]+)\/users\/([^/]+)$/,
    scope: 'okta.groups.manage',
    name: 'unassignGroup',
  },
  { method: 'GET', re: /^\/api\/v1\/apps$/, scope: 'okta.apps.read', name: 'apps' },
  { method: 'GET', re: /^\/api\/v1\/apps\/([^/]+)\/users$/, scope: 'okta.apps.read', name: 'appUsers' },
  { method: 'GET', re: /^\/api\/v1\/apps\/([^/]+)\/groups$/, scope: 'okta.apps.read', name: 'appGroups' },
  {
    method: 'DELETE',
    re: /^\/api\/v1\/apps\/([^/]+)\/users\/([^/]+)$/,
    scope: 'okta.apps.manage',
    name: 'unassignApp',
  },
  { method: 'GET', re: /^\/api\/v1\/iam\/assignees\/users$/, scope: 'okta.roles.read', name: 'assignees' },
  { method: 'GET', re: /^\/api\/v1\/logs$/, scope: 'okta.logs.read', name: 'logs' },
  {
    method: 'GET',
    re: /^\/governance\/api\/v1\/campaigns$/,
    scope: 'okta.governance.accessCertifications.read',
    name: 'campaigns',
  },
  {
    method: 'GET',
    re: /^\/governance\/api\/v1\/campaigns\/([^/]+)$/,
    scope: 'okta.governance.accessCertifications.read',
    name: 'campaign',
  },
  {
    method: 'GET',
    re: /^\/governance\/api\/v1\/reviews$/,
    scope: 'okta.governance.accessCertifications.read',
    name: 'reviews',
  },
  {
    method: 'GET',
    re: /^\/governance\/api\/v1\/reviews\/([^/]+)$/,
    scope: 'okta.governance.accessCertifications.read',
    name: 'review',
  },
  {
    method: 'POST',
    re: /^\/governance\/api\/v1\/campaigns\/([^/]+)\/reviews\/reassign$/,
    scope: 'okta.governance.accessCertifications.manage',
    name: 'reassign',
  },
  {
    method: 'POST',
    re: /^\/governance\/api\/v1\/my\/campaigns\/([^/]+)\/reviews\/actions$/,
    scope: 'okta.governance.reviewer.manage',
    name: 'reviewActions',
  },
];

/** Default and maximum `limit` per list, as documented for the real API. */
const LIMITS: Record<string, [number, number]> = {
  users: [200, 200],
  groups: [10000, 10000],
  groupUsers: [1000, 10000],
  apps: [20, 200],
  appUsers: [50, 500],
  appGroups: [20, 200],
  assignees: [100, 100],
  logs: [100, 1000],
  campaigns: [20, 200],
  reviews: [20, 200],
  groupRules: [50, 200],
};

class HttpFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly summary: string,
  ) {
    super(summary);
  }
}

export const DEFAULT_TEST_TOKEN = '00TESTtokenValue-0123456789abcdefghijklmn';

export async function startOktaEmulator(options: OktaEmulatorOptions = {}): Promise<OktaEmulator> {
  const org = options.org ?? generateOktaOrg({ users: 25, assignments: 120 });
  const token = options.token ?? DEFAULT_TEST_TOKEN;
  const clients = new Map(
    (options.clients ?? []).map((c) => [c.clientId, { ...c, key: toPublicKey(c.publicKey) }]),
  );
  const issued = new Map<string, { scopes: string[]; userId: string | null }>();
  const enforce = options.reviewerEnforcement ?? true;
  const owner = options.tokenOwner ?? org.users[0]?.id ?? '';
  const requests: RequestLogEntry[] = [];
  const faults: Array<
    Required<Omit<Fault, 'path' | 'method'>> & { path?: string; method?: string; seen: number }
  > = [];
  let governance = options.governance ?? 'enabled';
  let seq = 0;
  let revokeAt = Number.POSITIVE_INFINITY;
  let origin = '';
  let window = { start: 0, used: 0 };

  const accepted = new Set([token, ...(options.extraTokens ?? [])]);
  const holds: Array<{
    match: { method: string; path: RegExp };
    arrived: (r: HeldRequest) => void;
    released: Promise<void>;
  }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const method = (req.method ?? 'GET').toUpperCase();
      const path = new URL(req.url ?? '/', origin).pathname;
      const k = holds.findIndex((h) => h.match.method === method && h.match.path.test(path));
      if (k < 0) return handle(req, res, body);
      const [h] = holds.splice(k, 1);
      const auth = String(req.headers.authorization ?? '');
      h!.arrived({ method, path, token: auth.startsWith('SSWS ') ? auth.slice(5) : null });
      void h!.released.then(() => handle(req, res, body));
    });
  });

  function handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? '/', origin);
    const method = (req.method ?? 'GET').toUpperCase();
    const n = ++seq;
    const requestId = `emu-${n}-${randomBytes(4).toString('hex')}`;
    const authHeader = String(req.headers.authorization ?? '');
    const entry: RequestLogEntry = {
      seq: n,
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      requestId,
      auth: authHeader.startsWith('SSWS ') ? 'SSWS' : /^(Bearer|DPoP) /.test(authHeader) ? 'Bearer' : 'none',
      retryFor: headerValue(req, 'x-okta-retry-for'),
      retryCount:
        headerValue(req, 'x-okta-retry-count') === null
          ? null
          : Number(headerValue(req, 'x-okta-retry-count')),
    };
    requests.push(entry);

    const nowS = Math.floor(Date.now() / 1000);
    if (nowS - window.start >= 60) window = { start: nowS, used: 0 };
    window.used++;
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      const h: Record<string, string> = {
        'X-Okta-Request-Id': requestId,
        'X-Rate-Limit-Limit': '600',
        'X-Rate-Limit-Remaining': String(Math.max(0, 600 - window.used)),
        'X-Rate-Limit-Reset': String(window.start + 60),
        ...headers,
      };
      if (payload === undefined) {
        res.writeHead(status, h);
        res.end();
        return;
      }
      const text = JSON.stringify(payload);
      res.writeHead(status, {
        ...h,
        'Content-Type': 'application/json',
        'Content-Length': String(Buffer.byteLength(text)),
      });
      res.end(text);
    };
    const fail = (status: number, code: string, summary: string, headers: Record<string, string> = {}) =>
      send(
        status,
        {
          errorCode: code,
          errorSummary: summary,
          errorLink: code,
          errorId: `oae${randomBytes(8).toString('hex')}`,
          errorCauses: [],
        },
        headers,
      );

    try {
      const fault = faults.find(
        (f) =>
          f.times > 0 && (!f.path || url.pathname.startsWith(f.path)) && (!f.method || f.method === method),
      );
      if (fault) {
        if (fault.seen++ >= fault.after) {
          fault.times--;
          if (fault.status === 429) {
            // A reset 1 s ahead keeps the SDK's wait (reset − Date + 1 s) near two seconds.
            return fail(429, 'E0000047', 'API call exceeded rate limit due to too many requests.', {
              'X-Rate-Limit-Remaining': '0',
              'X-Rate-Limit-Reset': String(nowS + 1),
            });
          }
          return fail(fault.status, 'E0000009', 'Internal Server Error');
        }
      }
      if (n > revokeAt) {
        issued.clear();
        return fail(401, 'E0000011', 'Invalid token provided');
      }
      if (method === 'POST' && url.pathname === '/oauth2/v1/token') return tokenEndpoint(body, send);

      const route = ROUTES.find((r) => r.method === method && r.re.test(url.pathname));
      const ssws = authHeader.startsWith('SSWS ') && accepted.has(authHeader.slice(5));
      const bearer = authHeader.replace(/^(Bearer|DPoP) /, '');
      if (!ssws && !(entry.auth === 'Bearer' && issued.has(bearer))) {
        return fail(401, 'E0000011', 'Invalid token provided');
      }
      // SSWS tokens act as a super admin; access tokens carry the scopes granted at the token endpoint.
      const scopes = ssws ? null : issued.get(bearer)!.scopes;
      const caller = ssws ? owner : issued.get(bearer)!.userId;
      if (!route) return fail(404, 'E0000022', 'The endpoint does not support the provided HTTP method');
      if (url.pathname.startsWith('/governance/') && governance !== 'enabled') {
        return governance === 'forbidden'
          ? fail(403, 'E0000006', 'You do not have permission to perform the requested action')
          : fail(404, 'E0000007', 'Not found: Resource not found: governance (Feature)');
      }
      if (scopes !== null && !scopes.includes(route.scope)) {
        // The 403 code for a missing scope is unconfirmed; E0000006 is Okta's generic permission error.
        return fail(403, 'E0000006', 'You do not have permission to perform the requested action', {
          'WWW-Authenticate': `Bearer error="insufficient_scope", scope="${route.scope}"`,
        });
      }
      const params = route.re.exec(url.pathname)!.slice(1).map(decodeURIComponent);
      const out = dispatch(route.name, params, url, body, caller);
      send(out.status ?? 200, out.body, out.headers);
    } catch (e) {
      if (e instanceof HttpFailure) {
        const causes = (e as HttpFailure & { causes?: unknown[] }).causes;
        if (!causes) return fail(e.status, e.code, e.summary);
        return send(e.status, {
          errorCode: e.code,
          errorSummary: e.summary,
          errorLink: e.code,
          errorId: `oae${randomBytes(8).toString('hex')}`,
          errorCauses: causes,
        });
      }
      fail(500, 'E0000009', `Internal Server Error: ${(e as Error).message}`);
    }
  }

  function tokenEndpoint(body: string, send: (s: number, p: unknown) => void) {
    const form = new URLSearchParams(body);
    const oauthError = (error: string, description: string) =>
      send(401, { error, error_description: description });
    if (form.get('grant_type') !== 'client_credentials')
      return send(400, { error: 'unsupported_grant_type', error_description: 'grant_type' });
    if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer') {
      return oauthError('invalid_client', 'client_assertion_type');
    }
    const jwt = form.get('client_assertion') ?? '';
    const [h, p, s] = jwt.split('.');
    if (!h || !p || !s) return oauthError('invalid_client', 'malformed client assertion');
    const header = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string; kid?: string };
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const client = clients.get(String(claims.iss));
    if (!client || claims.sub !== claims.iss) return oauthError('invalid_client', 'unknown client');
    if (client.keyId && header.kid !== client.keyId) return oauthError('invalid_client', 'unknown key id');
    if (claims.aud !== `${origin}/oauth2/v1/token`) return oauthError('invalid_client', 'audience');
    if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now())
      return oauthError('invalid_client', 'expired');
    // RS256 only: the SDK signs its assertions with RSA keys.
    if (header.alg !== 'RS256') return oauthError('invalid_client', 'unsupported algorithm');
    const ok = verify('sha256', Buffer.from(`${h}.${p}`), client.key, Buffer.from(s, 'base64url'));
    if (!ok) return oauthError('invalid_client', 'signature');
    const scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
    const refused = scopes.filter((x) => !client.grantedScopes.includes(x));
    if (refused.length > 0)
      return send(400, {
        error: 'invalid_scope',
        error_description: 'The requested scope is invalid, unknown, or malformed.',
      });
    const access = randomBytes(24).toString('base64url');
    issued.set(access, { scopes, userId: client.userId ?? null });
    send(200, { token_type: 'Bearer', access_token: access, expires_in: 3600, scope: scopes.join(' ') });
  }

  /** Builds a list response: a bare array (or an IGA envelope) with an absolute next link carrying every param. */
  function list<T>(
    url: URL,
    name: string,
    items: T[],
    key: (t: T) => string,
    render: (t: T) => unknown,
    envelope?: 'iga' | 'roles',
  ): { body: unknown; headers: Record<string, string> } {
    const [def, max] = LIMITS[name]!;
    const cap = Math.min(max, options.maxPageSize ?? max);
    const asked = Number(url.searchParams.get('limit') ?? def);
    const limit = Math.max(1, Math.min(cap, Number.isFinite(asked) ? asked : def));
    const after = url.searchParams.get('after');
    let start = 0;
    if (after !== null) {
      // Cursors are the key of the last item returned: binary-search the first key after it.
      let lo = 0;
      let hi = items.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (key(items[mid]!) <= after) lo = mid + 1;
        else hi = mid;
      }
      start = lo;
    }
    const page = items.slice(start, start + limit);
    const polling = name === 'logs' && !url.searchParams.has('until');
    const more = start + limit < items.length;
    const self = `${origin}${url.pathname}${url.search}`;
    let next: string | null = null;
    if (more || (polling && page.length > 0)) {
      const q = new URLSearchParams(url.searchParams);
      q.set('limit', String(limit));
      q.set('after', page.length > 0 ? key(page[page.length - 1]!) : (after ?? ''));
      next = `${origin}${url.pathname}?${q.toString()}`;
    } else if (polling) {
      next = self;
    }
    const links = [`<${self}>; rel="self"`];
    if (next) links.push(`<${next}>; rel="next"`);
    const data = page.map(render);
    const body =
      envelope === 'iga'
        ? { data, _links: { self: { href: self }, ...(next ? { next: { href: next } } : {}) } }
        : envelope === 'roles'
          ? { value: data, _links: next ? { next: { href: next } } : {} }
          : data;
    return { body, headers: { Link: links.join(', ') } };
  }

  function filtered<T>(url: URL, items: T[]): T[] {
    const f = url.searchParams.get('filter') ?? url.searchParams.get('search');
    if (!f) return items;
    let pred: Pred;
    try {
      pred = parseFilter(f);
    } catch {
      throw new HttpFailure(400, 'E0000031', 'Invalid search criteria.');
    }
    return items.filter(pred);
  }

  const renderUser = (u: EmuUser) => ({
    ...u,
    type: { id: 'oty1' },
    credentials: { provider: { type: 'OKTA', name: 'OKTA' } },
    _links: { self: { href: `${origin}/api/v1/users/${u.id}` } },
  });
  const renderGroup = (g: EmuGroup) => ({
    ...g,
    objectClass: ['okta:user_group'],
    _links: { self: { href: `${origin}/api/v1/groups/${g.id}` } },
  });
  const renderApp = (a: EmuApp) => ({ ...a, _links: { self: { href: `${origin}/api/v1/apps/${a.id}` } } });
  const renderCampaign = (c: EmuCampaign) => ({
    ...c,
    _links: {
      self: { href: `${origin}/governance/api/v1/campaigns/${c.id}` },
      reviews: {
        href: `${origin}/governance/api/v1/reviews?filter=${encodeURIComponent(`campaignId eq "${c.id}"`)}`,
      },
    },
  });
  const renderReview = (r: EmuReview) => {
    const p = org.user(r.principalId);
    const v = org.user(r.reviewerId);
    return {
      id: r.id,
      campaignId: r.campaignId,
      resourceId: r.resourceId,
      decision: r.decision,
      decided: r.decided,
      remediationStatus: r.decision === 'REVOKE' ? 'OPEN' : 'NONE',
      reviewerType: 'USER',
      principalProfile: {
        id: r.principalId,
        email: p?.profile.email ?? null,
        firstName: p?.profile.firstName ?? null,
        lastName: p?.profile.lastName ?? null,
        login: p?.profile.login ?? null,
        status: p?.status ?? 'ACTIVE',
        type: 'USER',
      },
      reviewerProfile: {
        id: r.reviewerId,
        email: v?.profile.email ?? null,
        status: v?.status ?? 'ACTIVE',
        type: 'USER',
      },
      note: r.note === null ? null : { id: `note-${r.id}`, note: r.note },
      created: r.created,
      createdBy: 'system',
      lastUpdated: r.lastUpdated,
      lastUpdatedBy: 'system',
      _links: { self: { href: `${origin}/governance/api/v1/reviews/${r.id}` } },
    };
  };
  const notFound = (what: string, id: string): never => {
    throw new HttpFailure(404, 'E0000007', `Not found: Resource not found: ${id} (${what})`);
  };

  const invalid = (field: string, summary: string): never => {
    throw Object.assign(new HttpFailure(400, 'E0000001', 'Api validation failed: ' + field), {
      causes: [{ errorSummary: `${field}: ${summary}` }],
    });
  };
  const parseBody = (body: string): Record<string, unknown> => {
    try {
      const v = JSON.parse(body) as unknown;
      if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {}
    throw new HttpFailure(400, 'E0000003', 'The request body was not well-formed.');
  };
  const newId = (prefix: string) =>
    `${prefix}${randomBytes(9).toString('base64url').replace(/[-_]/g, 'x').slice(0, 17)}`;
  const renderRule = (r: EmuGroupRule) => ({
    id: r.id,
    type: 'group_rule',
    name: r.name,
    status: r.status,
    created: r.created,
    lastUpdated: r.created,
    conditions: { expression: { type: 'urn:okta:expression:1.0', value: r.expression } },
    actions: { assignUserToGroups: { groupIds: r.groupIds } },
  });

  function createGroup(body: string): EmuGroup {
    const b = parseBody(body);
    const profile = (b.profile ?? {}) as { name?: unknown; description?: unknown };
    if (typeof profile.name !== 'string' || profile.name.trim() === '')
      invalid('profile.name', 'The field cannot be left blank');
    const nameText = String(profile.name);
    if (org.groups.some((g) => g.profile.name === nameText))
      invalid('profile.name', 'An object with this field already exists in the current organization');
    const at = new Date().toISOString();
    const g: EmuGroup = {
      id: newId('00g'),
      created: at,
      lastUpdated: at,
      lastMembershipUpdated: at,
      type: 'OKTA_GROUP',
      profile: {
        name: nameText,
        description: typeof profile.description === 'string' ? profile.description : null,
      },
    };
    org.groups.push(g);
    org.reindex();
    return g;
  }

  function createRule(body: string): EmuGroupRule {
    const b = parseBody(body) as {
      type?: unknown;
      name?: unknown;
      conditions?: { expression?: { value?: unknown; type?: unknown } };
      actions?: { assignUserToGroups?: { groupIds?: unknown } };
    };
    if (b.type !== 'group_rule') invalid('type', 'must be group_rule');
    if (typeof b.name !== 'string' || b.name === '' || b.name.length > 50)
      invalid('name', 'must be 1 to 50 characters');
    const expression = b.conditions?.expression?.value;
    if (typeof expression !== 'string') invalid('conditions.expression.value', 'is required');
    try {
      ruleMatcher(String(expression));
    } catch {
      invalid('conditions.expression.value', 'Invalid property conditions.expression.value in expression');
    }
    const groupIds = b.actions?.assignUserToGroups?.groupIds;
    if (!Array.isArray(groupIds) || groupIds.length === 0)
      invalid('actions.assignUserToGroups.groupIds', 'is required');
    for (const g of groupIds as unknown[])
      if (typeof g !== 'string' || !org.group(g))
        invalid('actions.assignUserToGroups.groupIds', `no group ${String(g)}`);
    const rule: EmuGroupRule = {
      id: newId('0pr'),
      name: String(b.name),
      status: 'INACTIVE',
      expression: String(expression),
      groupIds: groupIds as string[],
      created: new Date().toISOString(),
    };
    org.groupRules.push(rule);
    return rule;
  }

  function createCampaign(body: string): EmuCampaign {
    const b = parseBody(body) as Record<string, any>;
    if (typeof b.name !== 'string' || b.name.length < 1 || b.name.length > 255)
      invalid('name', 'must be 1 to 255 characters');
    if (typeof b.description === 'string' && b.description.length > 1000)
      invalid('description', 'at most 1000 characters');
    const sch = b.scheduleSettings;
    if (!sch || (sch.type !== 'ONE_OFF' && sch.type !== 'RECURRING'))
      invalid('scheduleSettings.type', 'is required');
    if (typeof sch.startDate !== 'string' || Number.isNaN(Date.parse(sch.startDate)))
      invalid('scheduleSettings.startDate', 'is required');
    if (!Number.isInteger(sch.durationInDays) || sch.durationInDays < 1)
      invalid('scheduleSettings.durationInDays', 'must be a positive integer');
    if (typeof sch.timeZone !== 'string') invalid('scheduleSettings.timeZone', 'is required');
    const res = b.resourceSettings;
    if (!res || !Array.isArray(res.targetResources) || res.targetResources.length === 0)
      invalid('resourceSettings.targetResources', 'is required');
    for (const t of res.targetResources as Array<{ resourceId?: string; resourceType?: string }>) {
      const ok =
        t.resourceType === 'GROUP'
          ? org.group(String(t.resourceId))
          : t.resourceType === 'APPLICATION'
            ? org.app(String(t.resourceId))
            : undefined;
      if (!ok)
        invalid('resourceSettings.targetResources', `no ${String(t.resourceType)} ${String(t.resourceId)}`);
    }
    const rev = b.reviewerSettings;
    if (!rev || !['USER', 'REVIEWER_EXPRESSION', 'GROUP', 'RESOURCE_OWNER', 'MULTI_LEVEL'].includes(rev.type))
      invalid('reviewerSettings.type', 'is required');
    if (rev.type === 'USER' && !org.user(String(rev.reviewerId)))
      invalid('reviewerSettings.reviewerId', 'no such user');
    if (rev.type === 'REVIEWER_EXPRESSION' && typeof rev.reviewerScopeExpression !== 'string')
      invalid('reviewerSettings.reviewerScopeExpression', 'is required');
    if (rev.fallBackReviewerId !== undefined && !org.user(String(rev.fallBackReviewerId)))
      invalid('reviewerSettings.fallBackReviewerId', 'no such user');
    const rem = b.remediationSettings;
    if (!rem || !rem.accessApproved || !rem.accessRevoked || !rem.noResponse)
      invalid('remediationSettings', 'accessApproved, accessRevoked and noResponse are required');
    const at = new Date();
    const c: EmuCampaign = {
      id: newId('ici'),
      name: b.name,
      description: typeof b.description === 'string' ? b.description : null,
      scheduleType: sch.type,
      startDate: sch.startDate,
      endDate: new Date(Date.parse(sch.startDate) + sch.durationInDays * 86_400_000).toISOString(),
      status: 'SCHEDULED',
      created: at.toISOString(),
      createdBy: owner,
      lastUpdated: at.toISOString(),
      lastUpdatedBy: owner,
    };
    org.campaigns.push(c);
    org.campaignBodies.set(c.id, b);
    org.reindex();
    return c;
  }

  /** ACTIVE, with one review per principal in scope and target resource they hold. */
  function launch(c: EmuCampaign): void {
    const b = org.campaignBodies.get(c.id) as Record<string, any> | undefined;
    c.status = 'ACTIVE';
    c.lastUpdated = new Date().toISOString();
    if (!b) return;
    const rev = b.reviewerSettings as Record<string, string>;
    for (const userId of (b.principalScopeSettings?.userIds ?? []) as string[]) {
      const u = org.user(userId);
      if (!u) continue;
      for (const t of b.resourceSettings.targetResources as Array<{
        resourceId: string;
        resourceType: string;
      }>) {
        const holds =
          t.resourceType === 'GROUP'
            ? org.isMember(t.resourceId, userId)
            : org.hasAppAssignment(t.resourceId, userId);
        if (!holds) continue;
        const manager = u.profile.managerId ?? null;
        const reviewerId =
          rev.type === 'USER'
            ? rev.reviewerId!
            : rev.type === 'REVIEWER_EXPRESSION' && manager && org.user(manager)
              ? manager
              : (rev.fallBackReviewerId ?? owner);
        const at = new Date().toISOString();
        org.reviews.push({
          id: newId('icr'),
          campaignId: c.id,
          resourceId: t.resourceId,
          principalId: userId,
          reviewerId,
          decision: 'UNREVIEWED',
          decided: null,
          note: null,
          created: at,
          lastUpdated: at,
        });
      }
    }
    org.reindex();
  }

  function dispatch(
    name: string,
    params: string[],
    url: URL,
    body: string,
    caller: string | null,
  ): { status?: number; body?: unknown; headers?: Record<string, string> } {
    const [a = '', b = ''] = params;
    switch (name) {
      case 'me': {
        // What Okta answers a service app's token here is unconfirmed: there is no user behind it.
        const u = caller === null ? undefined : org.user(caller);
        return { body: renderUser(u ?? notFound('User', 'me')) };
      }
      case 'reassign': {
        const c = org.campaigns.find((x) => x.id === a) ?? notFound('Campaign', a);
        let parsed: { reviewerId?: unknown; reviewIds?: unknown; note?: unknown };
        try {
          parsed = JSON.parse(body);
        } catch {
          throw new HttpFailure(400, 'E0000003', 'The request body was not well-formed.');
        }
        if (typeof parsed.note !== 'string' || parsed.note.trim() === '')
          throw new HttpFailure(400, 'E0000001', 'Api validation failed: note is required');
        const ids = Array.isArray(parsed.reviewIds) ? parsed.reviewIds.map(String) : [];
        if (ids.length === 0) throw new HttpFailure(400, 'E0000001', 'Api validation failed: reviewIds');
        const to = org.user(String(parsed.reviewerId ?? '')) ?? notFound('User', String(parsed.reviewerId));
        if (c.status !== 'ACTIVE')
          throw new HttpFailure(400, 'E0000001', 'Api validation failed: the campaign is not active');
        const reviews = ids.map((id) => {
          const r = org.review(id);
          if (!r || r.campaignId !== c.id) notFound('Review', id);
          if (r!.decision !== 'UNREVIEWED')
            throw new HttpFailure(
              400,
              'E0000001',
              'Api validation failed: only unreviewed reviews can be reassigned',
            );
          return r!;
        });
        const at = new Date().toISOString();
        for (const r of reviews) {
          org.reassignments.push({ reviewId: r.id, from: r.reviewerId, to: to.id, note: parsed.note, at });
          r.reviewerId = to.id;
          r.lastUpdated = at;
        }
        return { body: { data: reviews.map(renderReview) } };
      }
      case 'users': {
        // Without filter or search, Okta leaves DEPROVISIONED users out.
        const plain = !url.searchParams.has('filter') && !url.searchParams.has('search');
        const items = plain
          ? org.users.filter((u) => u.status !== 'DEPROVISIONED')
          : filtered(url, org.users);
        return list(url, name, items, (u) => u.id, renderUser);
      }
      case 'user':
        return { body: renderUser(org.user(a) ?? notFound('User', a)) };
      case 'userRoles': {
        if (!org.user(a)) notFound('User', a);
        return {
          body: org.rolesOf(a).map((r) => ({
            ...r,
            _links: { assignee: { href: `${origin}/api/v1/users/${a}` } },
          })),
        };
      }
      case 'unassignRole': {
        const roles = org.rolesOf(a);
        const i = roles.findIndex((r) => r.id === b);
        if (i < 0) notFound('Role', b);
        roles.splice(i, 1);
        if (roles.length === 0) org.roles.delete(a);
        return { status: 204 };
      }
      case 'groups': {
        // q: a prefix search on the group name (Okta's q does not page; this one does, harmlessly).
        const q = url.searchParams.get('q');
        const groups = filtered(url, org.groups).filter(
          (g) => q === null || g.profile.name.toLowerCase().startsWith(q.toLowerCase()),
        );
        return list(url, name, groups, (g) => g.id, renderGroup);
      }
      case 'createGroup':
        return { body: renderGroup(createGroup(body)) };
      case 'groupRules': {
        const q = url.searchParams.get('search');
        const rules = org.groupRules.filter((r) => q === null || r.name.includes(q));
        return list(url, name, rules, (r) => r.id, renderRule);
      }
      case 'createRule':
        return { body: renderRule(createRule(body)) };
      case 'activateRule': {
        const rule = org.groupRules.find((r) => r.id === a) ?? notFound('GroupRule', a);
        rule.status = 'ACTIVE';
        const match = ruleMatcher(rule.expression);
        for (const u of org.users) if (match(u)) for (const g of rule.groupIds) org.addMember(g, u.id);
        return { status: 204 };
      }
      case 'assignAppGroup': {
        if (!org.app(a)) notFound('AppInstance', a);
        if (!org.group(b)) notFound('UserGroup', b);
        const ids = org.appGroups.get(a) ?? [];
        if (!ids.includes(b)) ids.push(b);
        ids.sort();
        org.appGroups.set(a, ids);
        return {
          body: { id: b, lastUpdated: new Date().toISOString(), priority: 0, profile: {}, _links: {} },
        };
      }
      case 'createCampaign':
        return { body: renderCampaign(createCampaign(body)) };
      case 'launchCampaign': {
        const c = org.campaigns.find((x) => x.id === a) ?? notFound('Campaign', a);
        if (c.status !== 'SCHEDULED')
          throw new HttpFailure(409, 'E0000001', `Api validation failed: campaign ${a} is ${c.status}`);
        launch(c);
        return { status: 202 };
      }
      case 'groupUsers': {
        if (!org.group(a)) notFound('UserGroup', a);
        const ids = org.members.get(a) ?? [];
        const users = ids.map((id) => org.user(id)).filter((u): u is EmuUser => u !== undefined);
        return list(url, name, users, (u) => u.id, renderUser);
      }
      case 'unassignGroup': {
        const g = org.group(a) ?? notFound('UserGroup', a);
        if (g.type !== 'OKTA_GROUP') {
          throw new HttpFailure(
            400,
            'E0000001',
            'Api validation failed: Only OKTA_GROUP memberships can be changed',
          );
        }
        if (!org.removeMember(a, b)) notFound('User', b);
        return { status: 204 };
      }
      case 'apps':
        return list(url, name, filtered(url, org.apps), (x) => x.id, renderApp);
      case 'appUsers': {
        const m = org.appUsers.get(a) ?? notFound('AppInstance', a);
        const items = [...m.values()].sort((x, y) => (x.userId < y.userId ? -1 : 1));
        return list(
          url,
          name,
          items,
          (x) => x.userId,
          (x) => {
            const u = org.user(x.userId);
            return {
              id: x.userId,
              externalId: null,
              created: x.created,
              lastUpdated: x.lastUpdated,
              scope: x.scope,
              status: x.status,
              syncState: 'DISABLED',
              credentials: { userName: u?.profile.login ?? null },
              profile: {},
              _links: {
                app: { href: `${origin}/api/v1/apps/${a}` },
                user: { href: `${origin}/api/v1/users/${x.userId}` },
              },
            };
          },
        );
      }
      case 'appGroups': {
        if (!org.app(a)) notFound('AppInstance', a);
        const ids = org.appGroups.get(a) ?? [];
        return list(
          url,
          name,
          ids,
          (id) => id,
          (id) => ({ id, lastUpdated: org.group(id)?.lastUpdated, priority: 0, profile: {}, _links: {} }),
        );
      }
      case 'unassignApp': {
        const m = org.appUsers.get(a) ?? notFound('AppInstance', a);
        const au = m.get(b) ?? notFound('AppUser', b);
        if (au.scope === 'GROUP') {
          // What Okta answers here is unconfirmed; a group-scoped assignment cannot be removed per user.
          throw new HttpFailure(
            400,
            'E0000001',
            'Api validation failed: the user is assigned to this app through a group',
          );
        }
        m.delete(b);
        return { status: 204 };
      }
      case 'assignees': {
        const ids = [...org.roles.keys()].filter((id) => org.rolesOf(id).length > 0).sort();
        return list(
          url,
          name,
          ids,
          (id) => id,
          (id) => ({
            id,
            orn: `orn:okta:directory:emu:users:${id}`,
            _links: { self: { href: `${origin}/api/v1/users/${id}` } },
          }),
          'roles',
        );
      }
      case 'logs': {
        const until = url.searchParams.get('until');
        const since =
          url.searchParams.get('since') ??
          new Date(Date.parse(until ?? new Date().toISOString()) - 7 * 86_400_000).toISOString();
        const s = Date.parse(since);
        const u = until === null ? Number.POSITIVE_INFINITY : Date.parse(until);
        if (Number.isNaN(s) || Number.isNaN(u))
          throw new HttpFailure(400, 'E0000001', 'Api validation failed: since/until');
        const inWindow = org.logs.filter((e) => {
          const t = Date.parse(e.published);
          return t >= s && t < u;
        });
        return list(url, name, filtered(url, inWindow), logKey, (e) => e);
      }
      case 'campaigns': {
        return list(url, name, filtered(url, org.campaigns), (c) => c.id, renderCampaign, 'iga');
      }
      case 'campaign': {
        const c = org.campaigns.find((x) => x.id === a) ?? notFound('Campaign', a);
        return { body: renderCampaign(c) };
      }
      case 'reviews': {
        const f = url.searchParams.get('filter') ?? '';
        const items = filtered(url, org.reviews);
        if (!/campaignId eq/.test(f) && !/principalId eq/.test(f)) {
          throw new HttpFailure(400, 'E0000001', 'Api validation failed: filter must name a campaignId');
        }
        return list(url, name, items, (r) => r.id, renderReview, 'iga');
      }
      case 'review': {
        const r = org.review(a) ?? notFound('Review', a);
        return { body: renderReview(r) };
      }
      case 'reviewActions': {
        const c = org.campaigns.find((x) => x.id === a) ?? notFound('Campaign', a);
        let parsed: { reviews?: Array<{ reviewId?: string; action?: string; note?: string }> };
        try {
          parsed = JSON.parse(body);
        } catch {
          throw new HttpFailure(400, 'E0000003', 'The request body was not well-formed.');
        }
        const items = parsed.reviews ?? [];
        if (items.length < 1 || items.length > 50)
          throw new HttpFailure(400, 'E0000001', 'Api validation failed: reviews (1-50)');
        if (c.status !== 'ACTIVE')
          throw new HttpFailure(400, 'E0000001', 'Api validation failed: the campaign is not active');
        if (enforce && caller === null) {
          throw new HttpFailure(
            403,
            'E0000006',
            'You do not have permission to perform the requested action',
          );
        }
        const updated: EmuReview[] = [];
        for (const it of items) {
          const r = org.review(String(it.reviewId));
          // The caller sees only the reviews assigned to them: anyone else's is not found.
          if (!r || r.campaignId !== c.id || (enforce && r.reviewerId !== caller))
            notFound('Review', String(it.reviewId));
          if (it.action !== 'APPROVE' && it.action !== 'REVOKE') {
            throw new HttpFailure(400, 'E0000001', 'Api validation failed: action');
          }
          updated.push(r!);
        }
        const at = new Date().toISOString();
        for (const [i, r] of updated.entries()) {
          const it = items[i]!;
          r.decision = it.action as 'APPROVE' | 'REVOKE';
          r.decided = at;
          r.note = it.note ?? null;
          r.lastUpdated = at;
          org.reviewActions.push({
            reviewId: r.id,
            action: r.decision,
            note: r.note ?? '',
            at,
            by: caller ?? '',
          });
        }
        // The response shape is unconfirmed ("returns the updated reviews"); an IGA envelope is assumed.
        return { body: { data: updated.map(renderReview) } };
      }
    }
    throw new HttpFailure(404, 'E0000022', 'The endpoint does not support the provided HTTP method');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: origin,
    token,
    org,
    requests,
    injectFault(fault) {
      faults.push({ after: 0, times: 1, ...fault, seen: 0 });
    },
    clearFaults() {
      faults.length = 0;
    },
    revokeTokenAfter(n) {
      revokeAt = seq + n;
    },
    setGovernance(mode) {
      governance = mode;
    },
    hold(match) {
      let arrived!: (r: HeldRequest) => void;
      let release!: () => void;
      const seen = new Promise<HeldRequest>((r) => {
        arrived = r;
      });
      const released = new Promise<void>((r) => {
        release = r;
      });
      holds.push({ match, arrived, released });
      return { arrived: seen, release };
    },
    clearLog() {
      requests.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function headerValue(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return v === undefined ? null : Array.isArray(v) ? v.join(',') : v;
}

function toPublicKey(key: ServiceAppClient['publicKey']): KeyObject {
  if (typeof key === 'string') return createPublicKey(key);
  if ('type' in key && typeof (key as KeyObject).export === 'function') return key as KeyObject;
  return createPublicKey({ key: key as never, format: 'jwk' });
}

/**
 * The Okta Expression Language subset group rules of role groups use: `user.<prop> == "<text>"`
 * clauses joined by ` AND ` (or `&&`), string literals without quotes or backslashes inside.
 * Anything else is refused, as Okta refuses an expression it cannot parse.
 */
export function ruleMatcher(expression: string): (u: EmuUser) => boolean {
  const clauses = expression.split(/\s+(?:AND|&&)\s+/);
  const tests = clauses.map((c) => {
    const m = /^\s*user\.([A-Za-z][A-Za-z0-9_]*)\s*==\s*"([^"\\]*)"\s*$/.exec(c);
    if (!m) throw new Error(`invalid expression clause: ${c}`);
    const [, prop, value] = m;
    return (u: EmuUser) => u.profile[prop!] === value;
  });
  return (u) => tests.every((t) => t(u));
}
