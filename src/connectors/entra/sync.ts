import type {
  ActivityRecord,
  AssignmentRecord,
  EntitlementRecord,
  RemovalRecord,
  SyncSink,
  UserRecord,
} from '../../domain/sync.js';
import { holdersOf, parentsOf } from '../nesting.js';
import { forEachLimit } from '../okta/sync.js';
import type { SyncOptions } from '../types.js';
import { codeOf, type Operation, statusOf, toConnectorError } from './errors.js';
import type { GraphApi } from './graph.js';
import {
  appRoleRecord,
  appRolesOf,
  entitlementIds,
  field,
  GROUP_SELECT,
  groupRecord,
  INTEGRATED_APP_TAG,
  isoOf,
  roleRecord,
  USER_SELECT,
  userRecord,
} from './mapping.js';
import { syncReviews } from './reviews.js';

export const OPS = {
  users: { action: 'listing users', permission: 'User.Read.All' },
  signInActivity: { action: "reading users' sign-in activity", permission: 'AuditLog.Read.All' },
  groups: { action: 'listing groups', permission: 'GroupMember.Read.All' },
  members: { action: 'listing group members', permission: 'GroupMember.Read.All' },
  delta: { action: 'reading changes (delta query)', permission: 'User.Read.All and GroupMember.Read.All' },
  apps: { action: 'listing enterprise apps', permission: 'Application.Read.All' },
  appAssignments: { action: 'listing app role assignments', permission: 'Application.Read.All' },
  roles: { action: 'listing directory role assignments', permission: 'RoleManagement.Read.Directory' },
  eligible: {
    action: 'listing eligible role assignments (PIM)',
    permission: 'RoleEligibilitySchedule.Read.Directory',
  },
  signIns: { action: 'reading the sign-in log', permission: 'AuditLog.Read.All and Directory.Read.All' },
  reviews: { action: 'listing access reviews', permission: 'AccessReview.Read.All' },
  readDecision: { action: 'reading the review decision', permission: 'AccessReview.Read.All' },
  decide: { action: 'recording the review decision', permission: 'AccessReview.ReadWrite.All' },
  readGroup: { action: 'reading the group', permission: 'GroupMember.Read.All' },
  removeMember: {
    action: 'removing the group membership',
    permission:
      'GroupMember.ReadWrite.All (and RoleManagement.ReadWrite.Directory for a role-assignable group)',
  },
  removeAppRole: {
    action: 'removing the app role assignment',
    permission: 'AppRoleAssignment.ReadWrite.All',
  },
  removeRole: {
    action: 'removing the directory role assignment',
    permission: 'RoleManagement.ReadWrite.Directory',
  },
} satisfies Record<string, Operation>;

/** Page sizes ($top) per list. */
export interface EntraPageSizes {
  users: number;
  groups: number;
  members: number;
  servicePrincipals: number;
  appRoleAssignedTo: number;
  signIns: number;
  reviews: number;
}

/** The documented maxima: 999 for directory objects, 500 with signInActivity selected, 1000 sign-ins, 100 review objects. */
export const DEFAULT_PAGE_SIZES: EntraPageSizes = {
  users: 500,
  groups: 999,
  members: 999,
  servicePrincipals: 999,
  appRoleAssignedTo: 999,
  signIns: 1000,
  reviews: 100,
};

/** What a sync hands to the next one. */
export interface EntraSyncState {
  version: 1;
  lastFullSync: string;
  /** Delta links for users and groups; null where delta queries could not be used. */
  usersDelta: string | null;
  groupsDelta: string | null;
  /** The sign-in log was read up to here. */
  signInsUntil: string;
  /** Completed review instances whose decisions were read. */
  completedInstances: string[];
  /**
   * Groups in a nesting or assigned an app role or a directory role: their members are
   * read in full on every sync, so inherited access and `includes` stay complete.
   */
  structuralGroups: string[];
  /** Directory role entitlements held at the last sync. */
  roleEntitlements: string[];
  /** Whether the tenant returned signInActivity (it needs a P1/P2 licence). */
  signInActivity: boolean;
}

export function readState(raw: Record<string, unknown> | null): EntraSyncState | null {
  if (
    raw === null ||
    raw.version !== 1 ||
    typeof raw.lastFullSync !== 'string' ||
    typeof raw.signInsUntil !== 'string'
  )
    return null;
  const s = (v: unknown) => (typeof v === 'string' ? v : null);
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return {
    version: 1,
    lastFullSync: raw.lastFullSync,
    usersDelta: s(raw.usersDelta),
    groupsDelta: s(raw.groupsDelta),
    signInsUntil: raw.signInsUntil,
    completedInstances: list(raw.completedInstances),
    structuralGroups: list(raw.structuralGroups),
    roleEntitlements: list(raw.roleEntitlements),
    signInActivity: raw.signInActivity !== false,
  };
}

export interface RunSettings {
  pageSizes: EntraPageSizes;
  secrets: string[];
  fullSyncEveryMs: number;
  signInLookbackDays: number;
  concurrency: number;
  log: (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

const BATCH = 2000;
const OVERLAP_MS = 60_000;
const EVENTUAL = { ConsistencyLevel: 'eventual' };

const isNotSupported = (e: unknown) => {
  const s = statusOf(e);
  return s === 400 || s === 404 || s === 405 || s === 501;
};

/** Everything about apps and roles a sync learned, for the review step too. */
export interface Catalog {
  /** service principal id → display name. */
  apps: Map<string, string>;
  /** app id (the application's client id) → display name: sign-ins name the app by it. */
  appIds: Map<string, string>;
  /** user id → app role entitlements held on each service principal. */
  appRolesHeld: Map<string, Map<string, string[]>>;
  users: Set<string>;
  /** user id → manager id. */
  managers: Map<string, string>;
  entitlements: Set<string>;
}

/**
 * One sync. Full: users (with sign-in activity and manager), groups and their members,
 * enterprise apps and who is assigned which app role, directory roles (active and PIM
 * eligible), sign-ins, access reviews; delta links are taken first, so the next sync
 * reads only what changed since. Incremental: users and groups through the delta links
 * (removals included), apps, roles and the members of structural groups read in full.
 *
 * Redundancy facts: a group nested in another `includes` it, and its members hold the
 * outer group through it (`source: group`, `via` the nested group); a group assigned an
 * app role or a directory role `includes` it, and its members hold it through the group.
 * Group-assigned app roles do not pass to nested groups' members (Entra does not support
 * it); everything else follows nesting.
 */
export class EntraSyncRun {
  readonly full: boolean;
  readonly warnings: string[] = [];
  private assignments: AssignmentRecord[] = [];
  private readonly catalog: Catalog = {
    apps: new Map(),
    appIds: new Map(),
    appRolesHeld: new Map(),
    users: new Set(),
    managers: new Map(),
    entitlements: new Set(),
  };
  /** group id → direct member user ids and member group ids (for groups whose members were read). */
  private readonly members = new Map<string, { users: Set<string>; groups: Set<string> }>();
  /** group id → the group record read this sync. */
  private readonly groupObjects = new Map<string, unknown>();
  /** group id → app role / role entitlements assigned to the group. */
  private readonly groupGrants = new Map<string, Set<string>>();
  private readonly roleEntitlements = new Set<string>();
  private readonly complete = new Set<string>();
  private signInActivity: boolean;
  private structural = new Set<string>();

  constructor(
    private readonly graph: GraphApi,
    private readonly sink: SyncSink,
    private readonly options: SyncOptions,
    private readonly prev: EntraSyncState | null,
    private readonly settings: RunSettings,
  ) {
    this.full =
      prev === null ||
      prev.usersDelta === null ||
      prev.groupsDelta === null ||
      options.now.getTime() - Date.parse(prev.lastFullSync) >= settings.fullSyncEveryMs;
    this.signInActivity = prev?.signInActivity ?? true;
    for (const g of prev?.structuralGroups ?? []) this.structural.add(g);
  }

  async execute(): Promise<EntraSyncState> {
    const mode = this.full ? 'full' : 'incremental';
    this.settings.log('info', `Entra sync started (${mode})`);
    let usersDelta: string | null = null;
    let groupsDelta: string | null = null;
    if (this.full) {
      [usersDelta, groupsDelta] = await this.latestDeltaLinks();
    } else {
      const delta = await this.readDelta();
      if (delta === null) return this.fallbackToFull();
      [usersDelta, groupsDelta] = delta;
    }
    // Users and groups are a few large pages: read in full every time (fresh sign-in activity,
    // managers, group settings). The per-group member lists are what delta queries spare.
    await this.step(OPS.users, () => this.readAllUsers());
    await this.step(OPS.groups, () => this.readAllGroups());
    await this.step(OPS.apps, () => this.readApps());
    await this.step(OPS.roles, () => this.readRoles());
    await this.readEligible();
    if (!this.full) await this.readStructuralMembers();
    this.derive();
    if (!this.full) this.applyDelta();
    this.flush();
    if (!this.full) {
      for (const r of this.prev?.roleEntitlements ?? []) this.complete.add(r);
      this.sink.replaceAssignmentsOf([...this.complete].sort());
    }
    const signInsUntil = await this.step(OPS.signIns, () => this.readSignIns());
    const completed = await syncReviews(this.graph, this.sink, this.catalog, {
      pageSize: this.settings.pageSizes.reviews,
      known: new Set(this.full ? [] : (this.prev?.completedInstances ?? [])),
      full: this.full,
      warnings: this.warnings,
      step: (op, fn) => this.step(op, fn),
      progress: (phase, done) => this.progress(phase, done),
    });
    for (const w of this.warnings) this.settings.log('warn', w);
    return {
      version: 1,
      lastFullSync: this.full ? this.options.now.toISOString() : this.prev!.lastFullSync,
      usersDelta,
      groupsDelta,
      signInsUntil,
      completedInstances: completed,
      structuralGroups: [...this.structural].sort(),
      roleEntitlements: [...this.roleEntitlements].sort(),
      signInActivity: this.signInActivity,
    };
  }

  /** An expired or refused delta link: the incremental sync becomes a full one. */
  private async fallbackToFull(): Promise<EntraSyncState> {
    const again = new EntraSyncRun(this.graph, this.sink, this.options, null, this.settings);
    const state = await again.execute();
    this.warnings.push(...again.warnings);
    (this as { full: boolean }).full = true;
    return state;
  }

  async step<T>(op: Operation, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      if (this.options.signal?.aborted) throw e;
      throw toConnectorError(e, op, this.settings.secrets);
    }
  }

  private progress(phase: string, done: number, total?: number): void {
    this.options.signal?.throwIfAborted();
    this.options.onProgress?.(total === undefined ? { phase, done } : { phase, done, total });
  }

  private assign(a: AssignmentRecord): void {
    this.assignments.push(a);
    if (this.assignments.length >= BATCH) this.flush();
  }

  private flush(): void {
    if (this.assignments.length === 0) return;
    this.sink.assignments(this.assignments);
    this.assignments = [];
  }

  private knownUser(id: string): boolean {
    return this.catalog.users.has(id);
  }

  /** From the delta links: membership changes of groups not read in full, and removals. */
  private pending: { added: AssignmentRecord[]; removals: RemovalRecord[] } = { added: [], removals: [] };

  /** Delta links for "from now on", taken before reading so nothing changed during the read is missed. */
  private async latestDeltaLinks(): Promise<[string | null, string | null]> {
    try {
      const u = (await this.graph.get('/users/delta', {
        $select: USER_SELECT.join(','),
        $deltatoken: 'latest',
      })) as Record<string, unknown>;
      const g = (await this.graph.get('/groups/delta', {
        $select: [...GROUP_SELECT, 'members'].join(','),
        $deltatoken: 'latest',
      })) as Record<string, unknown>;
      const link = (p: Record<string, unknown>) =>
        typeof p['@odata.deltaLink'] === 'string' ? p['@odata.deltaLink'] : null;
      return [link(u), link(g)];
    } catch (e) {
      if (statusOf(e) === 401) throw toConnectorError(e, OPS.delta, this.settings.secrets);
      if (!isNotSupported(e) && statusOf(e) !== 403)
        throw toConnectorError(e, OPS.delta, this.settings.secrets);
      this.warnings.push(
        `Delta queries are not available (${codeOf(e) || statusOf(e)}): every sync reads everything.`,
      );
      return [null, null];
    }
  }

  private async readAllUsers(): Promise<void> {
    const records: UserRecord[] = [];
    const read = async (withSignIns: boolean) => {
      records.length = 0;
      this.catalog.users.clear();
      const query: Record<string, string> = {
        $select: [...USER_SELECT, ...(withSignIns ? ['signInActivity'] : [])].join(','),
        $expand: 'manager($select=id)',
        // 500 is the maximum with signInActivity selected; 999 otherwise.
        $top: String(
          withSignIns
            ? Math.min(500, this.settings.pageSizes.users)
            : Math.min(999, this.settings.pageSizes.users * 2),
        ),
      };
      await this.graph.list('/users', query, (page) => {
        for (const u of page) {
          const rec = userRecord(u);
          if (rec === null) continue;
          records.push(rec);
          this.catalog.users.add(rec.external_id);
        }
        this.progress('users', records.length);
      });
    };
    try {
      await read(this.signInActivity);
    } catch (e) {
      // Without an Entra ID P1/P2 licence or AuditLog.Read.All, selecting signInActivity is refused.
      if (!this.signInActivity || statusOf(e) !== 403) throw e;
      this.signInActivity = false;
      this.warnings.push(
        `Users' last sign-in (signInActivity) was not read (${codeOf(e)}): it needs an Entra ID P1 or P2 licence and the ` +
          `${OPS.signInActivity.permission} permission. Sign-ins from the sign-in log still count.`,
      );
      await read(false);
    }
    this.stageUsers(records);
  }

  private stageUsers(records: UserRecord[]): void {
    let unknown = 0;
    for (const r of records) {
      const m = r.manager_external_id;
      if (m) {
        if (this.catalog.users.has(m)) this.catalog.managers.set(r.external_id, m);
        else {
          unknown++;
          r.manager_external_id = null;
        }
      }
    }
    if (unknown > 0)
      this.warnings.push(
        `${unknown} users have a manager that is not a user this sync read; their manager is left empty.`,
      );
    for (let i = 0; i < records.length; i += BATCH) this.sink.users(records.slice(i, i + BATCH));
  }

  private async readAllGroups(): Promise<void> {
    const ids: string[] = [];
    let total: number | null = null;
    // $count=true is an advanced query: it needs ConsistencyLevel: eventual, on every page.
    const r = await this.graph.list(
      '/groups',
      { $select: GROUP_SELECT.join(','), $top: String(this.settings.pageSizes.groups), $count: 'true' },
      (page) => {
        for (const g of page) {
          const id = field(g, 'id');
          if (typeof id !== 'string') continue;
          this.groupObjects.set(id, g);
          ids.push(id);
        }
        this.progress('groups', ids.length, total ?? undefined);
      },
      EVENTUAL,
    );
    total = r.count;
    if (this.full) await this.readMembers(ids);
  }

  /** Direct members of these groups, in full. */
  private async readMembers(ids: string[]): Promise<void> {
    let done = 0;
    await forEachLimit(ids, this.settings.concurrency, async (groupId) => {
      const m = { users: new Set<string>(), groups: new Set<string>() };
      await this.step(OPS.members, () =>
        this.graph.list(
          `/groups/${encodeURIComponent(groupId)}/members`,
          { $select: 'id', $top: String(this.settings.pageSizes.members) },
          (page) => {
            for (const o of page) {
              const id = field(o, 'id');
              if (typeof id !== 'string') continue;
              const type = field(o, '@odata.type');
              if (type === '#microsoft.graph.user') m.users.add(id);
              else if (type === '#microsoft.graph.group') m.groups.add(id);
              // Devices, service principals and contacts are not people: not reviewed.
            }
          },
        ),
      );
      this.members.set(groupId, m);
      this.progress('group members', ++done, ids.length);
    });
  }

  /**
   * Changes since the saved delta links: changed users read again (with manager and sign-in
   * activity), removed users and groups, membership changes. Null when a link has expired
   * (Graph keeps them seven days) or was refused: a full sync runs instead.
   */
  private async readDelta(): Promise<[string, string] | null> {
    const removals: RemovalRecord[] = [];
    let usersLink: string | null;
    let groupsLink: string | null;
    const added: AssignmentRecord[] = [];
    try {
      usersLink = await this.graph.followDelta(this.prev!.usersDelta!, (page) => {
        for (const u of page) {
          const id = field(u, 'id');
          if (typeof id !== 'string') continue;
          if (field(u, '@removed') !== undefined) removals.push({ kind: 'user', external_id: id });
        }
      });
      groupsLink = await this.graph.followDelta(this.prev!.groupsDelta!, (page) => {
        for (const g of page) {
          const id = field(g, 'id');
          if (typeof id !== 'string') continue;
          if (field(g, '@removed') !== undefined) {
            removals.push({ kind: 'entitlement', external_id: entitlementIds.group(id) });
            continue;
          }
          const delta = field(g, 'members@delta');
          if (!Array.isArray(delta)) continue;
          for (const m of delta) {
            const mid = field(m, 'id');
            if (typeof mid !== 'string') continue;
            const type = field(m, '@odata.type');
            const removed = field(m, '@removed') !== undefined;
            if (type === '#microsoft.graph.group') {
              // A nesting changed: both groups are structural now and are read in full below.
              this.structural.add(id);
              this.structural.add(mid);
            } else if (type === '#microsoft.graph.user') {
              if (removed)
                removals.push({
                  kind: 'assignment',
                  user_external_id: mid,
                  entitlement_external_id: entitlementIds.group(id),
                });
              else
                added.push({
                  user_external_id: mid,
                  entitlement_external_id: entitlementIds.group(id),
                  source: 'direct',
                  src: { file: 'entra:group-members', line: 0 },
                });
            }
          }
        }
      });
    } catch (e) {
      if (statusOf(e) === 400 || statusOf(e) === 410) {
        this.warnings.push(
          `A saved delta link was refused (${codeOf(e) || statusOf(e)}): this sync read everything again.`,
        );
        return null;
      }
      throw toConnectorError(e, OPS.delta, this.settings.secrets);
    }
    if (usersLink === null || groupsLink === null) return null;
    this.pending = { added, removals };
    return [usersLink, groupsLink];
  }

  /** Delta changes of groups whose members were not read in full (those reads already hold them). */
  private applyDelta(): void {
    const readInFull = (ent: string) => this.members.has(ent.slice('group:'.length));
    for (const a of this.pending.added)
      if (!readInFull(a.entitlement_external_id) && this.knownUser(a.user_external_id)) this.assign(a);
    this.flush();
    this.sink.removals(
      this.pending.removals.filter((r) => r.kind !== 'assignment' || !readInFull(r.entitlement_external_id)),
    );
  }

  private async readApps(): Promise<void> {
    const sps: Array<{ id: string; appId: string; name: string; roles: ReturnType<typeof appRolesOf> }> = [];
    // Enterprise applications, as the portal lists them: service principals with this tag.
    await this.graph.list(
      '/servicePrincipals',
      {
        $filter: `tags/any(t:t eq '${INTEGRATED_APP_TAG}')`,
        $select: 'id,appId,displayName,appRoles,tags',
        $top: String(this.settings.pageSizes.servicePrincipals),
        $count: 'true',
      },
      (page) => {
        for (const sp of page) {
          const id = field(sp, 'id');
          if (typeof id !== 'string') continue;
          const name = String(field(sp, 'displayName') ?? id);
          sps.push({ id, appId: String(field(sp, 'appId') ?? ''), name, roles: appRolesOf(sp) });
          this.catalog.apps.set(id, name);
          this.catalog.appIds.set(String(field(sp, 'appId') ?? ''), name);
        }
      },
      EVENTUAL,
    );
    const records: EntitlementRecord[] = [];
    for (const sp of sps)
      for (const role of sp.roles) {
        const rec = appRoleRecord(sp.id, sp.appId, sp.name, role);
        records.push(rec);
        this.catalog.entitlements.add(rec.external_id);
        this.complete.add(rec.external_id);
      }
    this.sink.entitlements(records);
    let done = 0;
    await forEachLimit(sps, this.settings.concurrency, async (sp) => {
      await this.step(OPS.appAssignments, () =>
        this.graph.list(
          `/servicePrincipals/${encodeURIComponent(sp.id)}/appRoleAssignedTo`,
          { $top: String(this.settings.pageSizes.appRoleAssignedTo) },
          (page) => {
            for (const a of page) {
              const principal = field(a, 'principalId');
              const roleId = String(field(a, 'appRoleId') ?? '');
              if (typeof principal !== 'string') continue;
              const ent = entitlementIds.appRole(
                sp.id,
                sp.roles.some((r) => r.id === roleId) ? roleId : roleId,
              );
              if (!this.catalog.entitlements.has(ent)) continue;
              const type = field(a, 'principalType');
              if (type === 'User' && this.knownUser(principal)) {
                this.holdApp(principal, sp.id, ent);
                this.assign({
                  user_external_id: principal,
                  entitlement_external_id: ent,
                  granted_at: isoOf(field(a, 'createdDateTime')),
                  source: 'direct',
                  src: { file: 'entra:app-assignments', line: 0 },
                });
                this.direct.add(`${principal}|${ent}`);
              } else if (type === 'Group') {
                this.grant(principal, ent);
              }
            }
          },
        ),
      );
      this.progress('app assignments', ++done, sps.length);
    });
  }

  /** Direct grants staged: an inherited one of the same access is not staged twice. */
  private readonly direct = new Set<string>();

  private holdApp(user: string, spId: string, ent: string): void {
    const bySp = this.catalog.appRolesHeld.get(user) ?? new Map<string, string[]>();
    const list = bySp.get(spId) ?? [];
    if (!list.includes(ent)) list.push(ent);
    bySp.set(spId, list);
    this.catalog.appRolesHeld.set(user, bySp);
  }

  private grant(groupId: string, ent: string): void {
    const set = this.groupGrants.get(groupId) ?? new Set<string>();
    set.add(ent);
    this.groupGrants.set(groupId, set);
    this.structural.add(groupId);
  }

  private async readRoles(): Promise<void> {
    const defs = new Map<string, unknown>();
    await this.graph.list(
      '/roleManagement/directory/roleDefinitions',
      { $select: 'id,displayName,description,templateId,isBuiltIn,isPrivileged' },
      (page) => {
        for (const d of page) if (typeof field(d, 'id') === 'string') defs.set(String(field(d, 'id')), d);
      },
    );
    const records = new Map<string, EntitlementRecord>();
    await this.graph.list('/roleManagement/directory/roleAssignments', {}, (page) => {
      for (const a of page) {
        const principal = field(a, 'principalId');
        const def = defs.get(String(field(a, 'roleDefinitionId')));
        if (typeof principal !== 'string' || def === undefined) continue;
        const scope = String(field(a, 'directoryScopeId') ?? '/');
        const rec = roleRecord(def, scope, false);
        if (rec === null) continue;
        records.set(rec.external_id, rec);
        if (this.catalog.users.has(principal)) {
          this.assign({
            user_external_id: principal,
            entitlement_external_id: rec.external_id,
            source: 'direct',
            src: { file: 'entra:role-assignments', line: 0 },
          });
          this.direct.add(`${principal}|${rec.external_id}`);
        } else if (this.groupObjects.has(principal)) {
          this.grant(principal, rec.external_id);
        }
        // Service principals holding roles are not people: not reviewed.
      }
    });
    this.stageRoles(records);
    this.roleDefinitions = defs;
  }

  private roleDefinitions = new Map<string, unknown>();

  private stageRoles(records: Map<string, EntitlementRecord>): void {
    this.sink.entitlements([...records.values()]);
    for (const id of records.keys()) {
      this.roleEntitlements.add(id);
      this.complete.add(id);
      this.catalog.entitlements.add(id);
    }
  }

  /** Eligible (PIM) assignments, where the tenant has PIM and the app may read them. */
  private async readEligible(): Promise<void> {
    const records = new Map<string, EntitlementRecord>();
    try {
      await this.graph.list('/roleManagement/directory/roleEligibilityScheduleInstances', {}, (page) => {
        for (const a of page) {
          const principal = field(a, 'principalId');
          const def = this.roleDefinitions.get(String(field(a, 'roleDefinitionId')));
          // Eligibility granted to a group is activated per member in PIM: only people's are read.
          if (typeof principal !== 'string' || def === undefined || !this.knownUser(principal)) continue;
          const rec = roleRecord(def, String(field(a, 'directoryScopeId') ?? '/'), true);
          if (rec === null) continue;
          records.set(rec.external_id, rec);
          this.assign({
            user_external_id: principal,
            entitlement_external_id: rec.external_id,
            granted_at: isoOf(field(a, 'startDateTime')),
            source: 'direct',
            src: { file: 'entra:role-eligibility', line: 0 },
          });
        }
      });
    } catch (e) {
      const s = statusOf(e);
      if (s === 401 || !(s === 400 || s === 403 || s === 404))
        throw toConnectorError(e, OPS.eligible, this.settings.secrets);
      this.warnings.push(
        `Eligible (PIM) role assignments were not read (${codeOf(e) || s}): they need Privileged Identity Management ` +
          `(Entra ID P2) and the ${OPS.eligible.permission} permission. Active role assignments were read.`,
      );
      return;
    }
    this.stageRoles(records);
  }

  /** Incremental: the members of every structural group, in full. */
  private async readStructuralMembers(): Promise<void> {
    const ids = [...this.structural].filter((g) => this.groupObjects.has(g) && !this.members.has(g)).sort();
    await this.step(OPS.members, () => this.readMembers(ids));
    // A group nested in a structural one is structural too (found once its container is read).
    const more = new Set<string>();
    for (const m of this.members.values())
      for (const g of m.groups) if (!this.members.has(g) && this.groupObjects.has(g)) more.add(g);
    if (more.size > 0) {
      for (const g of more) this.structural.add(g);
      await this.readStructuralMembers();
    }
  }

  /**
   * Groups, direct memberships, nested (transitive) memberships, and access granted to groups,
   * from the member lists read: assignments with `via`, and each group's `includes`.
   */
  private derive(): void {
    const parents = parentsOf(this.members);
    const nextStructural = new Set<string>([...this.groupGrants.keys()]);
    for (const [g, m] of this.members) {
      if (m.groups.size > 0) nextStructural.add(g);
      for (const c of m.groups) nextStructural.add(c);
    }
    const includesOf = (g: string) =>
      [...(parents.get(g) ?? [])]
        .map(entitlementIds.group)
        .concat([...(this.groupGrants.get(g) ?? [])])
        .sort();
    // Group records, with their includes: a group outside every nesting and granted nothing includes nothing.
    const records: EntitlementRecord[] = [];
    for (const [id, g] of this.groupObjects) {
      const apps = [...(this.groupGrants.get(id) ?? [])].filter((e) => e.startsWith('app:'));
      const spIds = new Set(apps.map((e) => e.split(':')[1]!));
      const app = spIds.size === 1 ? (this.catalog.apps.get([...spIds][0]!) ?? null) : null;
      const grantsRole = [...(this.groupGrants.get(id) ?? [])].some((e) => e.startsWith('role:'));
      const rec = groupRecord(g, app, grantsRole);
      if (rec === null) continue;
      rec.includes = includesOf(id);
      records.push(rec);
      this.catalog.entitlements.add(rec.external_id);
    }
    this.sink.entitlements(records);
    // Who holds each group: direct members, and through nested groups (via the nested group held).
    const holders = holdersOf(this.members);
    for (const g of this.members.keys()) {
      const ent = entitlementIds.group(g);
      for (const [u, via] of holders.get(g) ?? []) {
        if (!this.knownUser(u)) continue;
        this.assign({
          user_external_id: u,
          entitlement_external_id: ent,
          source: via === null ? 'direct' : 'group',
          via: via === null ? null : entitlementIds.group(via),
          src: { file: 'entra:group-members', line: 0 },
        });
      }
      this.complete.add(ent);
    }
    // Access granted to groups: app roles to direct members only (Entra does not pass them to
    // nested groups' members), directory roles to members (role-assignable groups cannot nest).
    for (const [g, ents] of this.groupGrants) {
      const m = this.members.get(g);
      if (!m) continue;
      for (const ent of ents)
        for (const u of m.users) {
          if (!this.knownUser(u) || this.direct.has(`${u}|${ent}`)) continue;
          this.direct.add(`${u}|${ent}`);
          if (ent.startsWith('app:')) this.holdApp(u, ent.split(':')[1]!, ent);
          this.assign({
            user_external_id: u,
            entitlement_external_id: ent,
            source: 'group',
            via: entitlementIds.group(g),
            src: { file: 'entra:group-grants', line: 0 },
          });
        }
    }
    this.structural = nextStructural;
  }

  /** Sign-ins since the last sync (bounded by createdDateTime), failures kept. Returns the end of the window. */
  private async readSignIns(): Promise<string> {
    const until = this.options.now.toISOString();
    const earliest = this.options.now.getTime() - this.settings.signInLookbackDays * 86_400_000;
    const since = this.prev
      ? new Date(Math.max(earliest, Date.parse(this.prev.signInsUntil) - OVERLAP_MS)).toISOString()
      : new Date(earliest).toISOString();
    if (since >= until) return this.prev?.signInsUntil ?? until;
    let count = 0;
    try {
      await this.graph.list(
        '/auditLogs/signIns',
        {
          $filter: `createdDateTime ge ${since.replace(/\.\d{3}Z$/, 'Z')} and createdDateTime lt ${until.replace(/\.\d{3}Z$/, 'Z')}`,
          $top: String(this.settings.pageSizes.signIns),
        },
        (page) => {
          const rows: ActivityRecord[] = [];
          for (const s of page) {
            const user = field(s, 'userId');
            const at = isoOf(field(s, 'createdDateTime'));
            if (typeof user !== 'string' || at === null || !this.knownUser(user)) continue;
            const app =
              this.catalog.appIds.get(String(field(s, 'appId') ?? '')) ??
              (typeof field(s, 'appDisplayName') === 'string' ? String(field(s, 'appDisplayName')) : null);
            if (app === null) continue;
            const code = field(field(s, 'status'), 'errorCode');
            rows.push({
              user_external_id: user,
              app,
              at,
              outcome: code === 0 || code === undefined ? 'success' : 'failure',
              src: { file: 'entra:sign-ins', line: 0 },
            });
          }
          if (rows.length > 0) this.sink.activity(rows);
          count += rows.length;
          this.progress('sign-ins', count);
        },
      );
    } catch (e) {
      // The sign-in log needs an Entra ID P1/P2 licence (403 on free tenants): the rest stands.
      if (statusOf(e) !== 403) throw e;
      this.warnings.push(
        `The sign-in log was not read (${codeOf(e)}): it needs an Entra ID P1 or P2 licence and ${OPS.signIns.permission}.`,
      );
      return this.prev?.signInsUntil ?? since;
    }
    return until;
  }
}
