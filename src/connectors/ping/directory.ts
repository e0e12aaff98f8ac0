import type { SyncSink, UserRecord } from '../../domain/sync.js';
import { forEachLimit } from '../okta/sync.js';
import { type Directory, DirectoryStager, emptyDirectory, unique } from './access.js';
import type { PingOneApi } from './api.js';
import { readSignOns } from './audit.js';
import { type Operation, statusOf } from './errors.js';
import { appRoleRecord, userRecord } from './mapping.js';
import {
  type P1Application,
  type P1Group,
  type P1RoleAssignment,
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
const READ_IDENTITIES = 'the Identity Data Read-Only Admin role (or Identity Data Admin) on the environment';

/** What each read needs: the Worker app's admin role. */
export const DIRECTORY_OPS = {
  populations: op('listing populations', READ_IDENTITIES),
  roles: op('listing admin roles', 'the Configuration Read-Only Admin role (or Environment Admin)'),
  groups: op('listing groups', READ_IDENTITIES),
  nesting: op('reading group nesting', READ_IDENTITIES),
  groupRoles: op("reading groups' role assignments", 'the Environment Admin role (role assignments)'),
  users: op('listing users', READ_IDENTITIES),
  memberships: op("reading users' group memberships", READ_IDENTITIES),
  userRoles: op("reading users' role assignments", 'the Environment Admin role (role assignments)'),
  appRoles: op('listing application roles', 'PingOne Authorize and the Environment Admin role'),
  apps: op(
    'listing applications',
    'the Configuration Read-Only Admin role (or Client Application Developer)',
  ),
  audit: op('reading audit activities', 'the Identity Data Read-Only Admin role (or Environment Admin)'),
} satisfies Record<string, Operation>;

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

export type { Directory };

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
  private readonly appRoleHolders = new Map<string, string[]>();
  private readonly out: Directory = emptyDirectory();

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
    new DirectoryStager(
      {
        environmentId: this.api.config.environmentId,
        populations: this.populations,
        roleNames: this.roleNames,
        groups: this.groups,
        parents: this.parents,
        groupRoles: this.groupRoles,
        userGroups: this.userGroups,
        userRoles: this.userRoles,
        appRoleHolders: this.appRoleHolders,
        apps: this.apps,
        appNames: this.appNames,
      },
      this.sink,
      this.out,
      this.s.warnings,
    ).stage(users);
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
    // The audit log has its own, lower rate limit: it is read, paced, while the per-user lists are.
    const audit = this.s.step(O.audit, () =>
      readSignOns(
        this.api,
        this.sink,
        {
          pageSize: this.s.pages.audit,
          lookbackDays: this.s.auditLookbackDays,
          windowMs: this.s.auditWindowMs,
          intervalMs: this.s.auditIntervalMs,
          need: O.audit.need,
          warnings: this.s.warnings,
          progress: this.s.progress,
        },
        { now: this.now, since: this.auditSince, users: this.out.users, appNames: this.appNames },
      ),
    );
    const perUser = forEachLimit(ids, this.s.concurrency, async (id) => {
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
    // Both run to the end before a failure is thrown: nothing is left writing into an aborted sync.
    const [a, b] = await Promise.allSettled([audit, perUser]);
    if (b.status === 'rejected') throw b.reason;
    if (a.status === 'rejected') throw a.reason;
    this.out.auditUntil = a.value;
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
      const holders: string[] = [];
      this.appRoleHolders.set(r.id, holders);
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
              if (user) holders.push(user);
            }
          },
        ),
      );
    });
  }
}
