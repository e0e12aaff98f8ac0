import type { AssignmentRecord, EntitlementRecord, SyncSink, UserRecord } from '../../domain/sync.js';
import { type GroupMembers, holdersOf } from '../nesting.js';
import { appRecord, groupRecord, ids, roleRecord } from './mapping.js';
import type { P1Application, P1Group, P1RoleAssignment } from './schemas.js';

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

export function emptyDirectory(): Directory {
  return {
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
}

export const unique = (map: Map<string, string | null>, key: string | null | undefined, id: string) => {
  if (!key) return;
  const k = key.toLowerCase();
  map.set(k, map.has(k) && map.get(k) !== id ? null : id);
};

/** Everything the directory read collected, before it becomes records. */
export interface DirectoryFacts {
  environmentId: string;
  populations: Map<string, string>;
  roleNames: Map<string, string>;
  groups: Map<string, P1Group>;
  /** child group → the groups it is nested in. */
  parents: Map<string, string[]>;
  groupRoles: Map<string, P1RoleAssignment[]>;
  userGroups: Map<string, Array<{ id: string; direct: boolean }>>;
  userRoles: Map<string, P1RoleAssignment[]>;
  /** application role id → its users. */
  appRoleHolders: Map<string, string[]>;
  apps: P1Application[];
  appNames: Map<string, string>;
}

const BATCH = 2000;

/**
 * The directory's facts as records: users with managers resolved, groups with what they
 * include, admin roles and applications, and every assignment with its source and via.
 *
 * Redundancy facts: a group nested in another `includes` it (its members are members of the
 * outer group too) and they hold the outer one `via` the nested group; a group granted an admin
 * role, or listed by an application's access control, `includes` that role or application, and
 * its members hold it through the group.
 */
export class DirectoryStager {
  private assignments: AssignmentRecord[] = [];
  private readonly roleRecords = new Map<string, EntitlementRecord>();

  constructor(
    private readonly f: DirectoryFacts,
    private readonly sink: SyncSink,
    private readonly out: Directory,
    private readonly warnings: string[],
  ) {}

  stage(users: UserRecord[]): void {
    for (const [role, holders] of this.f.appRoleHolders)
      for (const u of holders)
        if (this.out.users.has(u)) this.direct(u, ids.appRole(role), 'ping:application-roles');
    this.derive(users);
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
        ? (this.f.populations.get(a.scope.id) ?? null)
        : a.scope.type === 'APPLICATION'
          ? (this.f.appNames.get(a.scope.id) ?? null)
          : a.scope.type === 'ENVIRONMENT' && a.scope.id === this.f.environmentId
            ? 'this environment'
            : null;
    const rec = roleRecord(a.role.id, this.f.roleNames.get(a.role.id) ?? `Admin role ${a.role.id}`, {
      type:
        a.scope.type === 'ENVIRONMENT' && a.scope.id === this.f.environmentId ? 'ENVIRONMENT' : a.scope.type,
      id: a.scope.id,
      name: scopeName,
    });
    if (a.scope.type === 'ENVIRONMENT' && a.scope.id !== this.f.environmentId)
      rec.name = `${this.f.roleNames.get(a.role.id) ?? `Admin role ${a.role.id}`} (environment ${a.scope.id})`;
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
      this.warnings.push(
        `${unknownManagers} users name a manager that is no PingOne user by id, username or email; their manager is left empty.`,
      );
    for (let i = 0; i < users.length; i += BATCH) this.sink.users(users.slice(i, i + BATCH));

    // Nesting: members.get(g) holds g's direct user members and the groups nested in it.
    const members = new Map<string, { users: Set<string>; groups: Set<string> }>();
    for (const g of this.f.groups.keys()) members.set(g, { users: new Set(), groups: new Set() });
    for (const [child, parents] of this.f.parents)
      for (const p of parents)
        if (members.has(p) && this.f.groups.has(child)) members.get(p)!.groups.add(child);
    for (const [u, gs] of this.f.userGroups)
      for (const g of gs) if (g.direct) members.get(g.id)?.users.add(u);
    const holders = holdersOf(members as ReadonlyMap<string, GroupMembers>);

    // What each group grants besides its parents: admin roles and applications.
    const grants = new Map<string, string[]>();
    const grant = (g: string, ent: string) => grants.set(g, [...(grants.get(g) ?? []), ent]);
    for (const [g, roles] of this.f.groupRoles) for (const a of roles) grant(g, this.roleEntitlement(a));
    const appOf = new Map<string, string[]>();
    const appRecords: EntitlementRecord[] = [];
    for (const a of this.f.apps) {
      const group = a.accessControl?.group;
      if (!group || group.groups.length === 0) continue;
      appRecords.push(appRecord(a));
      if (group.type === 'ANY_GROUP')
        for (const g of group.groups) {
          grant(g.id, ids.app(a.id));
          appOf.set(g.id, [...(appOf.get(g.id) ?? []), a.name]);
        }
    }
    for (const u of this.f.userRoles.values()) for (const a of u) this.roleEntitlement(a);
    this.sink.entitlements([...this.roleRecords.values(), ...appRecords]);
    for (const e of [...this.roleRecords.keys(), ...appRecords.map((r) => r.external_id)])
      this.out.entitlements.add(e);

    const groupRecords: EntitlementRecord[] = [];
    for (const [id, g] of this.f.groups) {
      const apps = appOf.get(id) ?? [];
      const includes = [
        ...(this.f.parents.get(id) ?? []).filter((p) => this.f.groups.has(p)).map(ids.group),
        ...(grants.get(id) ?? []),
      ];
      const rec = groupRecord(g, {
        app: apps.length === 1 ? apps[0]! : null,
        grantsRole: (this.f.groupRoles.get(id) ?? []).length > 0,
        includes: [...new Set(includes)].sort(),
      });
      groupRecords.push(rec);
      this.out.entitlements.add(rec.external_id);
      unique(this.out.groupsByName, rec.name, id);
      if (g.userFilter) this.out.dynamicGroups.add(id);
    }
    this.sink.entitlements(groupRecords);

    // People's own grants first, so an inherited copy of the same access is not staged twice.
    for (const [u, roles] of this.f.userRoles)
      for (const a of roles) this.direct(u, this.roleEntitlement(a), 'ping:role-assignments');
    for (const [u, gs] of this.f.userGroups) {
      for (const g of gs) {
        if (!this.f.groups.has(g.id)) continue;
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
    for (const [g, roles] of this.f.groupRoles)
      for (const a of roles) {
        const ent = this.roleEntitlement(a);
        for (const u of holders.get(g)?.keys() ?? [])
          if (this.out.users.has(u)) this.inherited(u, ent, 'group', ids.group(g), 'ping:group-roles');
      }
    for (const a of this.f.apps) {
      const group = a.accessControl?.group;
      if (!group || group.groups.length === 0) continue;
      const listed = group.groups.map((g) => g.id).filter((g) => this.f.groups.has(g));
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
}
