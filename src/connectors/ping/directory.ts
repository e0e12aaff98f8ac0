import { setTimeout as sleep } from 'node:timers/promises';
import type {
  ActivityRecord,
  AssignmentRecord,
  EntitlementRecord,
  SyncSink,
  UserRecord,
} from '../../domain/sync.js';
import { type GroupMembers, holdersOf } from '../nesting.js';
import { forEachLimit } from '../okta/sync.js';
import type { PingOneApi } from './api.js';
import { type Operation, statusOf } from './errors.js';
import { appRecord, appRoleRecord, groupRecord, ids, roleRecord, userRecord } from './mapping.js';
import {
  type P1Application,
  type P1Group,
  type P1RoleAssignment,
  p1Activity,
  p1Application,
  p1AppRole,
  p1AppRoleUser,
  p1Group,
  p1Membership,
  p1Nesting,
  p1Population,
  p1Role,
  p1RoleAssignment,
  p1User,
} from './schemas.js';

const op = (action: string, need: string): Operation => ({ surface: 'pingone', action, need });
const READ_IDENTITIES = 'the Identity Data Read Only role (or Identity Data Admin) on the environment';

/** What each read needs: the Worker app's admin role. */
export const DIRECTORY_OPS = {
  populations: op('listing populations', READ_IDENTITIES),
  roles: op('listing admin roles', 'the Configuration Read Only role (or Environment Admin)'),
  groups: op('listing groups', READ_IDENTITIES),
  nesting: op('reading group nesting', READ_IDENTITIES),
  groupRoles: op("reading groups' role assignments", 'the Environment Admin role (role assignments)'),
  users: op('listing users', READ_IDENTITIES),
  memberships: op("reading users' group memberships", READ_IDENTITIES),
  userRoles: op("reading users' role assignments", 'the Environment Admin role (role assignments)'),
  appRoles: op('listing application roles', 'PingOne Authorize and the Environment Admin role'),
  apps: op('listing applications', 'the Configuration Read Only role (or Client Application Developer)'),
  audit: op('reading audit activities', 'the Identity Data Read Only role (or Environment Admin)'),
} satisfies Record<string, Operation>;

/** Sign-on events: the first is a successful sign-on to an application, the second a refused one. */
export const SIGN_ON_EVENTS = { 'USER.ACCESS_ALLOWED': 'success', 'USER.ACCESS_DENIED': 'failure' } as const;

/** Page sizes (`limit`, at most 1000) per list. */
export interface DirectoryPageSizes {
  users: number;
  groups: number;
  memberships: number;
  audit: number;
}

export const DEFAULT_DIRECTORY_PAGES: DirectoryPageSizes = {
  users: 1000,
  groups: 1000,
  memberships: 1000,
  audit: 1000,
};

export interface DirectorySettings {
  pages: DirectoryPageSizes;
  concurrency: number;
  /** Audit activities of the first sync go back this far (PingOne returns 14 days by default). */
  auditLookbackDays: number;
  /** Each audit query covers at most this span: the endpoint wants a bounded recordedAt range. */
  auditWindowMs: number;
  /** At least this long between two audit requests: the endpoint has a lower rate limit. */
  auditIntervalMs: number;
  warnings: string[];
  step: <T>(op: Operation, fn: () => Promise<T>) => Promise<T>;
  progress: (phase: string, done: number, total?: number) => void;
}

/** What the directory read leaves for the certifications and the next sync. */
export interface Directory {
  users: Set<string>;
  /** Lower-cased username / email → user id (null where two users share it). */
  byUsername: Map<string, string | null>;
  byEmail: Map<string, string | null>;
  managers: Map<string, string>;
  /** Lower-cased group name → group id (null where two groups share it). */
  groupsByName: Map<string, string | null>;
  entitlements: Set<string>;
  /** Direct grants (people's own memberships and assignments), for a review in Attest. */
  direct: AssignmentRecord[];
  dynamicGroups: Set<string>;
  auditUntil: string;
}

const BATCH = 2000;
const OVERLAP_MS = 60_000;

const unique = (map: Map<string, string | null>, key: string | null | undefined, id: string) => {
  if (!key) return;
  const k = key.toLowerCase();
  map.set(k, map.has(k) && map.get(k) !== id ? null : id);
};

/**
 * The PingOne directory: populations, users (all of them: PingOne lists disabled and locked
 * users too), groups and their nesting, each user's memberships (DIRECT, and INDIRECT
 * through nested groups), admin role assignments of users and of groups, PingOne Authorize
 * application roles, applications and who may use them (`accessControl.group`), and sign-ons
 * per application from audit activities.
 *
 * Redundancy facts: a group nested in another `includes` it (its members are members of the
 * outer group too) and they hold the outer one `via` the nested group; a group granted an admin
 * role, or listed by an application's access control, `includes` that role or application, and
 * its members hold it through the group.
 */
export class DirectoryRead {
  private readonly populations = new Map<string, string>();
  private readonly roleNames = new Map<string, string>();
  private readonly groups = new Map<string, P1Group>();
  /** child group → the groups it is nested in. */
  private readonly parents = new Map<string, string[]>();
  private readonly groupRoles = new Map<string, P1RoleAssignment[]>();
  private readonly userGroups = new Map<string, Array<{ id: string; direct: boolean }>>();
  private readonly userRoles = new Map<string, P1RoleAssignment[]>();
  private readonly apps: P1Application[] = [];
  private readonly appNames = new Map<string, string>();
  private readonly roleRecords = new Map<string, EntitlementRecord>();
  private assignments: AssignmentRecord[] = [];
  private readonly out: Directory = {
    users: new Set(),
    byUsername: new Map(),
    byEmail: new Map(),
    managers: new Map(),
    groupsByName: new Map(),
    entitlements: new Set(),
    direct: [],
    dynamicGroups: new Set(),
    auditUntil: '',
  };

  constructor(
    private readonly api: PingOneApi,
    private readonly sink: SyncSink,
    private readonly s: DirectorySettings,
    private readonly now: Date,
    private readonly auditSince: string | null,
  ) {}

  async run(): Promise<Directory> {
    const O = DIRECTORY_OPS;
    const limit = (n: number) => ({ limit: Math.min(1000, Math.max(1, n)) });
    await this.s.step(O.populations, () =>
      this.api.list(
        '/populations',
        limit(this.s.pages.groups),
        ['populations'],
        p1Population,
        'populations',
        (p) => {
          for (const x of p) this.populations.set(x.id, x.name);
        },
      ),
    );
    await this.s.step(O.roles, () => this.readRoleNames());
    await this.s.step(O.apps, () =>
      this.api.list(
        '/applications',
        limit(this.s.pages.groups),
        ['applications'],
        p1Application,
        'applications',
        (p) => {
          for (const a of p) {
            this.apps.push(a);
            this.appNames.set(a.id, a.name);
          }
        },
      ),
    );
    await this.s.step(O.groups, () =>
      this.api.list('/groups', limit(this.s.pages.groups), ['groups'], p1Group, 'groups', (p) => {
        for (const g of p) this.groups.set(g.id, g);
      }),
    );
    const groupIds = [...this.groups.keys()].sort();
    let done = 0;
    await forEachLimit(groupIds, this.s.concurrency, async (g) => {
      const enc = encodeURIComponent(g);
      const parents: string[] = [];
      await this.s.step(O.nesting, () =>
        this.api.list(
          `/groups/${enc}/memberOfGroups`,
          limit(this.s.pages.memberships),
          ['groupMemberships', 'groups'],
          p1Nesting,
          'group nesting',
          (p) => {
            for (const n of p) if (n.type !== 'INDIRECT') parents.push(n.id);
          },
        ),
      );
      if (parents.length > 0) this.parents.set(g, parents);
      const roles: P1RoleAssignment[] = [];
      await this.s.step(O.groupRoles, () =>
        this.api.list(
          `/groups/${enc}/roleAssignments`,
          {},
          ['roleAssignments'],
          p1RoleAssignment,
          "a group's role assignments",
          (p) => {
            roles.push(...p);
          },
        ),
      );
      if (roles.length > 0) this.groupRoles.set(g, roles);
      this.s.progress('groups', ++done, groupIds.length);
    });
    const users = await this.readUsers();
    await this.s.step(O.appRoles, () => this.readAppRoles());
    this.derive(users);
    this.out.auditUntil = await this.s.step(O.audit, () => this.readAudit());
    return this.out;
  }

  private async readRoleNames(): Promise<void> {
    try {
      await this.api.list('/roles', {}, ['roles'], p1Role, 'admin roles', (p) => {
        for (const r of p) this.roleNames.set(r.id, r.name);
      });
    } catch (e) {
      const s = statusOf(e);
      if (s !== 403 && s !== 404) throw e;
      this.s.warnings.push(
        `Admin role names were not read (HTTP ${s}): role assignments are named by role id. They need ${DIRECTORY_OPS.roles.need}.`,
      );
    }
  }

  private async readUsers(): Promise<UserRecord[]> {
    const O = DIRECTORY_OPS;
    const records: UserRecord[] = [];
    const raw: Array<{ id: string; username: string | null; email: string | null }> = [];
    await this.s.step(O.users, () =>
      this.api.list(
        '/users',
        { limit: Math.min(1000, this.s.pages.users) },
        ['users'],
        p1User,
        'users',
        (p) => {
          for (const u of p) {
            records.push(userRecord(u, this.api.config.attributes, this.populations));
            raw.push({ id: u.id, username: u.username ?? null, email: u.email ?? null });
          }
          this.s.progress('users', records.length);
        },
      ),
    );
    for (const u of raw) {
      this.out.users.add(u.id);
      unique(this.out.byUsername, u.username, u.id);
      unique(this.out.byEmail, u.email, u.id);
    }
    let done = 0;
    const ids = raw.map((u) => u.id);
    await forEachLimit(ids, this.s.concurrency, async (id) => {
      const enc = encodeURIComponent(id);
      const groups: Array<{ id: string; direct: boolean }> = [];
      await this.s.step(O.memberships, () =>
        this.api.list(
          `/users/${enc}/memberOfGroups`,
          { limit: Math.min(1000, this.s.pages.memberships) },
          ['groupMemberships', 'groups'],
          p1Membership,
          "a user's group memberships",
          (p) => {
            for (const m of p) groups.push({ id: m.id, direct: m.type !== 'INDIRECT' });
          },
        ),
      );
      if (groups.length > 0) this.userGroups.set(id, groups);
      const roles: P1RoleAssignment[] = [];
      await this.s.step(O.userRoles, () =>
        this.api.list(
          `/users/${enc}/roleAssignments`,
          {},
          ['roleAssignments'],
          p1RoleAssignment,
          "a user's role assignments",
          (p) => {
            roles.push(...p);
          },
        ),
      );
      if (roles.length > 0) this.userRoles.set(id, roles);
      this.s.progress('memberships', ++done, ids.length);
    });
    return records;
  }

  /** PingOne Authorize application roles and their users; without PingOne Authorize, a warning. */
  private async readAppRoles(): Promise<void> {
    const roles: Array<{ id: string; name: string; description?: string | null }> = [];
    try {
      await this.api.list(
        '/applicationRoles',
        {},
        ['applicationRoles', 'roles'],
        p1AppRole,
        'application roles',
        (p) => {
          roles.push(...p);
        },
      );
    } catch (e) {
      const s = statusOf(e);
      if (s !== 403 && s !== 404) throw e;
      this.s.warnings.push(
        `PingOne Authorize application roles were not read (HTTP ${s}): they need ${DIRECTORY_OPS.appRoles.need}. Everything else was read.`,
      );
      return;
    }
    const records = roles.map(appRoleRecord);
    this.sink.entitlements(records);
    for (const r of records) this.out.entitlements.add(r.external_id);
    await forEachLimit(roles, this.s.concurrency, async (r) => {
      const ent = ids.appRole(r.id);
      await this.s.step(DIRECTORY_OPS.appRoles, () =>
        this.api.list(
          `/applicationRoles/${encodeURIComponent(r.id)}/users`,
          { expand: 'user', limit: 1000 },
          ['users', 'assignments'],
          p1AppRoleUser,
          "an application role's users",
          (p) => {
            for (const a of p) {
              const user = a._embedded?.user?.id ?? a.user?.id ?? a.subject?.id;
              if (user && this.out.users.has(user)) this.direct(user, ent, 'ping:application-roles');
            }
          },
        ),
      );
    });
  }

  private assign(a: AssignmentRecord): void {
    this.assignments.push(a);
    if (this.assignments.length >= BATCH) this.flush();
  }

  private flush(): void {
    if (this.assignments.length > 0) this.sink.assignments(this.assignments);
    this.assignments = [];
  }

  private readonly held = new Set<string>();

  private direct(user: string, ent: string, file: string): void {
    if (this.held.has(`${user}|${ent}`)) return;
    this.held.add(`${user}|${ent}`);
    const a: AssignmentRecord = {
      user_external_id: user,
      entitlement_external_id: ent,
      source: 'direct',
      src: { file, line: 0 },
    };
    this.assign(a);
    this.out.direct.push(a);
  }

  private inherited(
    user: string,
    ent: string,
    source: 'group' | 'rule',
    via: string | null,
    file: string,
  ): void {
    if (this.held.has(`${user}|${ent}`)) return;
    this.held.add(`${user}|${ent}`);
    this.assign({
      user_external_id: user,
      entitlement_external_id: ent,
      source,
      via,
      src: { file, line: 0 },
    });
  }

  private roleEntitlement(a: P1RoleAssignment): string {
    const scopeName =
      a.scope.type === 'POPULATION'
        ? (this.populations.get(a.scope.id) ?? null)
        : a.scope.type === 'APPLICATION'
          ? (this.appNames.get(a.scope.id) ?? null)
          : a.scope.type === 'ENVIRONMENT' && a.scope.id === this.api.config.environmentId
            ? 'this environment'
            : null;
    const rec = roleRecord(a.role.id, this.roleNames.get(a.role.id) ?? `Admin role ${a.role.id}`, {
      type:
        a.scope.type === 'ENVIRONMENT' && a.scope.id === this.api.config.environmentId
          ? 'ENVIRONMENT'
          : a.scope.type,
      id: a.scope.id,
      name: scopeName,
    });
    if (a.scope.type === 'ENVIRONMENT' && a.scope.id !== this.api.config.environmentId)
      rec.name = `${this.roleNames.get(a.role.id) ?? `Admin role ${a.role.id}`} (environment ${a.scope.id})`;
    this.roleRecords.set(rec.external_id, rec);
    return rec.external_id;
  }

  /** Users with managers resolved, groups with includes, and every assignment with its source and via. */
  private derive(users: UserRecord[]): void {
    let unknownManagers = 0;
    for (const u of users) {
      const ref = u.manager_external_id;
      if (!ref) continue;
      const id = this.out.users.has(ref)
        ? ref
        : (this.out.byUsername.get(ref.toLowerCase()) ?? this.out.byEmail.get(ref.toLowerCase()) ?? null);
      if (id && id !== u.external_id) {
        u.manager_external_id = id;
        this.out.managers.set(u.external_id, id);
      } else {
        u.manager_external_id = null;
        unknownManagers++;
      }
    }
    if (unknownManagers > 0)
      this.s.warnings.push(
        `${unknownManagers} users name a manager that is no PingOne user by id, username or email; their manager is left empty.`,
      );
    for (let i = 0; i < users.length; i += BATCH) this.sink.users(users.slice(i, i + BATCH));

    // Nesting: members.get(g) holds g's direct user members and the groups nested in it.
    const members = new Map<string, { users: Set<string>; groups: Set<string> }>();
    for (const g of this.groups.keys()) members.set(g, { users: new Set(), groups: new Set() });
    for (const [child, parents] of this.parents)
      for (const p of parents)
        if (members.has(p) && this.groups.has(child)) members.get(p)!.groups.add(child);
    for (const [u, gs] of this.userGroups) for (const g of gs) if (g.direct) members.get(g.id)?.users.add(u);
    const holders = holdersOf(members as ReadonlyMap<string, GroupMembers>);

    // What each group grants besides its parents: admin roles and applications.
    const grants = new Map<string, string[]>();
    const grant = (g: string, ent: string) => grants.set(g, [...(grants.get(g) ?? []), ent]);
    for (const [g, roles] of this.groupRoles) for (const a of roles) grant(g, this.roleEntitlement(a));
    const appOf = new Map<string, string[]>();
    const appRecords: EntitlementRecord[] = [];
    for (const a of this.apps) {
      const group = a.accessControl?.group;
      if (!group || group.groups.length === 0) continue;
      appRecords.push(appRecord(a));
      if (group.type === 'ANY_GROUP')
        for (const g of group.groups) {
          grant(g.id, ids.app(a.id));
          appOf.set(g.id, [...(appOf.get(g.id) ?? []), a.name]);
        }
    }
    for (const u of this.userRoles.values()) for (const a of u) this.roleEntitlement(a);
    this.sink.entitlements([...this.roleRecords.values(), ...appRecords]);
    for (const e of [...this.roleRecords.keys(), ...appRecords.map((r) => r.external_id)])
      this.out.entitlements.add(e);

    const groupRecords: EntitlementRecord[] = [];
    for (const [id, g] of this.groups) {
      const apps = appOf.get(id) ?? [];
      const includes = [
        ...(this.parents.get(id) ?? []).filter((p) => this.groups.has(p)).map(ids.group),
        ...(grants.get(id) ?? []),
      ];
      const rec = groupRecord(g, {
        app: apps.length === 1 ? apps[0]! : null,
        grantsRole: (this.groupRoles.get(id) ?? []).length > 0,
        includes: [...new Set(includes)].sort(),
      });
      groupRecords.push(rec);
      this.out.entitlements.add(rec.external_id);
      unique(this.out.groupsByName, rec.name, id);
      if (g.userFilter) this.out.dynamicGroups.add(id);
    }
    this.sink.entitlements(groupRecords);

    // People's own grants first, so an inherited copy of the same access is not staged twice.
    for (const [u, roles] of this.userRoles)
      for (const a of roles) this.direct(u, this.roleEntitlement(a), 'ping:role-assignments');
    for (const [u, gs] of this.userGroups) {
      for (const g of gs) {
        if (!this.groups.has(g.id)) continue;
        const ent = ids.group(g.id);
        if (g.direct && this.out.dynamicGroups.has(g.id))
          this.inherited(u, ent, 'rule', null, 'ping:memberships');
        else if (g.direct) this.direct(u, ent, 'ping:memberships');
        else {
          const via = holders.get(g.id)?.get(u) ?? null;
          this.inherited(u, ent, 'group', via === null ? null : ids.group(via), 'ping:memberships');
        }
      }
    }
    for (const [g, roles] of this.groupRoles)
      for (const a of roles) {
        const ent = this.roleEntitlement(a);
        for (const u of holders.get(g)?.keys() ?? [])
          if (this.out.users.has(u)) this.inherited(u, ent, 'group', ids.group(g), 'ping:group-roles');
      }
    for (const a of this.apps) {
      const group = a.accessControl?.group;
      if (!group || group.groups.length === 0) continue;
      const listed = group.groups.map((g) => g.id).filter((g) => this.groups.has(g));
      const holds = (u: string, g: string) => holders.get(g)?.has(u) === true;
      const candidates = new Set(listed.flatMap((g) => [...(holders.get(g)?.keys() ?? [])]));
      for (const u of candidates) {
        if (!this.out.users.has(u)) continue;
        const via =
          group.type === 'ALL_GROUPS'
            ? listed.every((g) => holds(u, g))
              ? listed[0]
              : undefined
            : listed.find((g) => holds(u, g));
        if (via !== undefined)
          this.inherited(u, ids.app(a.id), 'group', ids.group(via), 'ping:application-access');
      }
    }
    this.flush();
  }

  /** Sign-ons per application since the last sync, in bounded windows, paced for the audit rate limit. */
  private async readAudit(): Promise<string> {
    const until = this.now.getTime();
    const earliest = until - this.s.auditLookbackDays * 86_400_000;
    const since =
      this.auditSince === null ? earliest : Math.max(earliest, Date.parse(this.auditSince) - OVERLAP_MS);
    if (since >= until) return this.auditSince ?? new Date(until).toISOString();
    let last = 0;
    const pace = async () => {
      const wait = last + this.s.auditIntervalMs - Date.now();
      if (wait > 0) await sleep(wait);
      last = Date.now();
    };
    let count = 0;
    try {
      for (let from = since; from < until; from += this.s.auditWindowMs) {
        const to = Math.min(until, from + this.s.auditWindowMs);
        for (const [type, outcome] of Object.entries(SIGN_ON_EVENTS)) {
          const filter = `recordedAt ge "${new Date(from).toISOString()}" AND recordedAt lt "${new Date(to).toISOString()}" AND action.type eq "${type}"`;
          await this.api.list(
            '/activities',
            { filter, limit: Math.min(1000, this.s.pages.audit) },
            ['activities'],
            p1Activity,
            'audit activities',
            (p) => {
              const rows: ActivityRecord[] = [];
              for (const e of p) {
                const user = e.actors?.user?.id;
                const client = e.actors?.client;
                const app = (client?.id ? this.appNames.get(client.id) : undefined) ?? client?.name ?? null;
                if (!user || !this.out.users.has(user) || !app) continue;
                rows.push({
                  user_external_id: user,
                  app,
                  at: new Date(Date.parse(e.recordedAt)).toISOString(),
                  outcome: outcome === 'success' && e.result?.status !== 'FAILED' ? 'success' : 'failure',
                  src: { file: 'ping:audit', line: 0 },
                });
              }
              if (rows.length > 0) this.sink.activity(rows);
              count += rows.length;
              this.s.progress('sign-ons', count);
            },
            pace,
          );
        }
      }
    } catch (e) {
      if (statusOf(e) !== 403) throw e;
      this.s.warnings.push(
        `Audit activities were not read (HTTP 403): sign-ons per application need ${DIRECTORY_OPS.audit.need}. Last sign-on dates were read.`,
      );
      return this.auditSince ?? new Date(since).toISOString();
    }
    return new Date(until).toISOString();
  }
}
