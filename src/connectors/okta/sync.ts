import type { Client } from '@okta/okta-sdk-nodejs';
import type {
  AssignmentRecord,
  EntitlementRecord,
  PastDecisionRecord,
  SyncSink,
  UserRecord,
} from '../../domain/sync.js';
import type { SyncOptions } from '../types.js';
import { type Operation, statusOf, toConnectorError } from './errors.js';
import {
  activityRecord,
  appLabel,
  appRecord,
  campaignRecord,
  entitlementIds,
  field,
  groupRecord,
  isoOf,
  looksLikeOktaId,
  reviewRecord,
  roleRecord,
  userRecord,
} from './mapping.js';
import type { RawApi } from './raw-api.js';

/** Page size (`limit`) per list. */
export interface OktaPageSizes {
  users: number;
  groups: number;
  groupUsers: number;
  apps: number;
  appUsers: number;
  appGroups: number;
  roleAssignees: number;
  logs: number;
  governance: number;
}

/** What a sync hands to the next one. */
export interface OktaSyncState {
  version: 1;
  lastFullSync: string;
  /** Highest user `lastUpdated` seen. */
  usersWatermark: string | null;
  /** Highest group `lastUpdated` / `lastMembershipUpdated` seen. */
  groupsWatermark: string | null;
  /** The System Log was read up to here (the `until` of the last query). */
  logsUntil: string;
  /** Completed campaigns whose final reviews were read. */
  completedCampaigns: string[];
  /** Groups that were assigned to an app: their includes are cleared when no app is left. */
  groupsWithApps: string[];
  /** Built-in groups (Everyone): their members are not reviewed. */
  builtInGroups: string[];
  /** Admin role entitlements held by someone at the last sync. */
  roleEntitlements: string[];
}

export const OPS = {
  users: { action: 'listing users', scope: 'okta.users.read' },
  groups: { action: 'listing groups', scope: 'okta.groups.read' },
  members: { action: 'listing group members', scope: 'okta.groups.read' },
  apps: { action: 'listing apps', scope: 'okta.apps.read' },
  appUsers: { action: 'listing app assignments', scope: 'okta.apps.read' },
  roles: { action: 'listing admin role assignments', scope: 'okta.roles.read' },
  logs: { action: 'reading the System Log', scope: 'okta.logs.read' },
  campaigns: { action: 'listing governance campaigns', scope: 'okta.governance.accessCertifications.read' },
  reviews: { action: 'listing campaign reviews', scope: 'okta.governance.accessCertifications.read' },
  readReview: { action: 'reading the review', scope: 'okta.governance.accessCertifications.read' },
  me: { action: "reading the API token's own user", scope: 'okta.users.read.self' },
  reassign: {
    action: "reassigning the review to Attest's Okta user",
    scope: 'okta.governance.accessCertifications.manage',
  },
  decide: { action: 'recording the review decision', scope: 'okta.governance.reviewer.manage' },
  unassignGroup: { action: 'removing the group membership', scope: 'okta.groups.manage' },
  unassignApp: { action: 'removing the app assignment', scope: 'okta.apps.manage' },
  unassignRole: { action: 'removing the admin role', scope: 'okta.roles.manage' },
} satisfies Record<string, Operation>;

/** Re-read this much before each watermark: updates committed out of order are not missed (re-reads are idempotent). */
const OVERLAP_MS = 60_000;
const SIGN_IN_FILTER = 'eventType eq "user.session.start" or eventType eq "user.authentication.sso"';
const BATCH = 2000;

export function readState(raw: Record<string, unknown> | null): OktaSyncState | null {
  if (
    raw === null ||
    raw.version !== 1 ||
    typeof raw.lastFullSync !== 'string' ||
    typeof raw.logsUntil !== 'string'
  ) {
    return null;
  }
  const s = (v: unknown) => (typeof v === 'string' ? v : null);
  const list = (v: unknown) => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  return {
    version: 1,
    lastFullSync: raw.lastFullSync,
    usersWatermark: s(raw.usersWatermark),
    groupsWatermark: s(raw.groupsWatermark),
    logsUntil: raw.logsUntil,
    completedCampaigns: list(raw.completedCampaigns),
    groupsWithApps: list(raw.groupsWithApps),
    builtInGroups: list(raw.builtInGroups),
    roleEntitlements: list(raw.roleEntitlements),
  };
}

const later = (a: string | null, b: string | null): string | null =>
  a === null ? b : b === null ? a : a > b ? a : b;
const minus = (iso: string, ms: number) => new Date(Date.parse(iso) - ms).toISOString();

/** Runs `fn` over items with at most `limit` in flight; the first failure stops the rest and is rethrown. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failure: { error: unknown } | null = null;
  const worker = async () => {
    while (failure === null && next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failure !== null) throw (failure as { error: unknown }).error;
}

export interface RunSettings {
  pageSizes: OktaPageSizes;
  secrets: string[];
  fullSyncEveryMs: number;
  logLookbackDays: number;
  concurrency: number;
  log: (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

/** An app user with GROUP scope, waiting for the group it comes through to be known. */
interface Inherited {
  userId: string;
  appId: string;
  created: string | null;
}

/**
 * One sync: phases in order, each reading a list and staging what it maps.
 *
 * Redundancy facts: a group assigned to an app `includes` that app's entitlement, and an
 * app user of scope GROUP holds the app through one of those groups (`source: group`,
 * `via` the group, the first by the app's group priority the user is a member of). The
 * members of every group assigned to an app are read each sync, so `via` is known in
 * incremental syncs too.
 *
 * Removals: a full sync replaces every assignment. An incremental sync reads every app's
 * users, every admin role and the members of changed groups in full, so what is gone from
 * those lists is removed; a membership removed from an unchanged group cannot happen
 * (removing a member changes the group's lastMembershipUpdated).
 */
export class SyncRun {
  readonly full: boolean;
  readonly warnings: string[] = [];
  private readonly users = new Set<string>();
  private readonly groups = new Set<string>();
  /** app id → label. */
  private readonly apps = new Map<string, string>();
  /** group id → ids of the apps assigned to it. */
  private readonly groupApps = new Map<string, Set<string>>();
  /** app id → assigned group ids in the app's priority order. */
  private readonly appGroups = new Map<string, string[]>();
  /** group id → member ids, for every group whose members were read. */
  private readonly members = new Map<string, Set<string>>();
  private readonly inherited: Inherited[] = [];
  private readonly builtIn = new Set<string>();
  private readonly roleEntitlements = new Set<string>();
  /** Entitlements whose every assignment was staged in this sync. */
  private readonly complete = new Set<string>();
  private assignments: AssignmentRecord[] = [];

  constructor(
    private readonly client: Client,
    private readonly raw: RawApi,
    private readonly sink: SyncSink,
    private readonly options: SyncOptions,
    private readonly prev: OktaSyncState | null,
    private readonly settings: RunSettings,
  ) {
    this.full =
      prev === null || options.now.getTime() - Date.parse(prev.lastFullSync) >= settings.fullSyncEveryMs;
    for (const g of prev?.builtInGroups ?? []) this.builtIn.add(g);
  }

  async execute(): Promise<OktaSyncState> {
    const mode = this.full ? 'full' : 'incremental';
    this.settings.log('info', `Okta sync started (${mode})`);
    await this.step(OPS.apps, () => this.syncApps());
    const usersWatermark = await this.step(OPS.users, () => this.syncUsers());
    const groupsWatermark = await this.step(OPS.groups, () => this.syncGroups());
    await this.step(OPS.members, () => this.syncAppGroupMembers());
    this.resolveInherited();
    await this.step(OPS.roles, () => this.syncRoles());
    this.flushAssignments();
    if (!this.full) {
      for (const r of this.prev?.roleEntitlements ?? []) this.complete.add(r);
      this.sink.replaceAssignmentsOf([...this.complete]);
    }
    const logsUntil = await this.step(OPS.logs, () => this.syncLogs());
    const completed = await this.syncGovernance();
    for (const w of this.warnings) this.settings.log('warn', w);
    this.settings.log('info', `Okta sync read (${mode})`, {
      users: this.users.size,
      groups: this.groups.size,
      apps: this.apps.size,
    });
    return {
      version: 1,
      lastFullSync: this.full ? this.options.now.toISOString() : this.prev!.lastFullSync,
      usersWatermark: later(this.prev?.usersWatermark ?? null, usersWatermark),
      groupsWatermark: later(this.prev?.groupsWatermark ?? null, groupsWatermark),
      logsUntil,
      completedCampaigns: completed,
      groupsWithApps: [...this.groupApps.keys()].sort(),
      builtInGroups: [...this.builtIn].sort(),
      roleEntitlements: [...this.roleEntitlements].sort(),
    };
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
    if (this.assignments.length >= BATCH) this.flushAssignments();
  }

  private flushAssignments(): void {
    if (this.assignments.length === 0) return;
    this.sink.assignments(this.assignments);
    this.assignments = [];
  }

  /** A user id to trust: read this sync, or (incremental only) shaped like an Okta user id, hence in the store. */
  private knownUser(id: string): boolean {
    return this.users.has(id) || (!this.full && looksLikeOktaId('00u', id));
  }

  private knownGroup(id: string): boolean {
    return this.groups.has(id) || (!this.full && looksLikeOktaId('00g', id));
  }

  private async syncApps(): Promise<void> {
    const records: EntitlementRecord[] = [];
    const ids: string[] = [];
    for await (const app of await this.client.applicationApi.listApplications({
      limit: this.settings.pageSizes.apps,
    })) {
      const rec = app === null ? null : appRecord(app);
      if (rec === null) continue;
      const id = String(field(app, 'id'));
      this.apps.set(id, appLabel(app));
      ids.push(id);
      records.push(rec);
    }
    this.sink.entitlements(records);
    let done = 0;
    await forEachLimit(ids, this.settings.concurrency, async (appId) => {
      const assigned: Array<{ id: string; priority: number }> = [];
      for await (const ag of await this.client.applicationApi.listApplicationGroupAssignments({
        appId,
        limit: this.settings.pageSizes.appGroups,
      })) {
        const groupId = field(ag, 'id');
        if (typeof groupId !== 'string') continue;
        const priority = field(ag, 'priority');
        assigned.push({ id: groupId, priority: typeof priority === 'number' ? priority : 0 });
        const set = this.groupApps.get(groupId) ?? new Set<string>();
        set.add(appId);
        this.groupApps.set(groupId, set);
      }
      // Lower priority numbers win in Okta: the group an inherited assignment comes through.
      this.appGroups.set(
        appId,
        assigned.sort((a, b) => a.priority - b.priority).map((a) => a.id),
      );
      await this.step(OPS.appUsers, async () => {
        // GET /api/v1/apps/{appId}/users (applicationApi.listApplicationUsers), read raw: see RawApi.
        const path = `/api/v1/apps/${encodeURIComponent(appId)}/users`;
        for await (const page of this.raw.pages(path, { limit: String(this.settings.pageSizes.appUsers) })) {
          for (const au of page) {
            const userId = field(au, 'id');
            if (typeof userId !== 'string') continue;
            const created = isoOf(field(au, 'created'));
            if (field(au, 'scope') === 'GROUP') {
              this.inherited.push({ userId, appId, created });
              continue;
            }
            this.assign({
              user_external_id: userId,
              entitlement_external_id: entitlementIds.app(appId),
              granted_at: created,
              source: 'direct',
              src: { file: 'okta:app-users', line: 0 },
            });
          }
        }
      });
      this.complete.add(entitlementIds.app(appId));
      this.progress('apps', ++done, ids.length);
    });
  }

  /** Users, buffered so managers can be resolved against everyone read. Returns the new watermark. */
  private async syncUsers(): Promise<string | null> {
    const limit = this.settings.pageSizes.users;
    // Okta leaves DEPROVISIONED users out of an unfiltered list; a filter includes them.
    const queries = this.full
      ? [{ limit }, { limit, filter: 'status eq "DEPROVISIONED"' }]
      : [
          {
            limit,
            filter: `lastUpdated gt "${minus(this.prev!.usersWatermark ?? this.prev!.lastFullSync, OVERLAP_MS)}"`,
          },
        ];
    const records: UserRecord[] = [];
    const byLogin = new Map<string, string>();
    let watermark: string | null = null;
    for (const query of queries) {
      for await (const u of await this.client.userApi.listUsers(query)) {
        const rec = u === null ? null : userRecord(u);
        if (rec === null || this.users.has(rec.external_id)) continue;
        this.users.add(rec.external_id);
        records.push(rec);
        const login = rec.attributes?.login;
        if (login) byLogin.set(login.toLowerCase(), rec.external_id);
        watermark = later(watermark, isoOf(field(u, 'lastUpdated')));
        if (records.length % 1000 === 0) this.progress('users', records.length);
      }
    }
    // profile.managerId may hold an Okta id or a login; anything else cannot be linked.
    let unresolved = 0;
    for (const rec of records) {
      const raw = rec.manager_external_id;
      if (!raw) continue;
      const id = this.users.has(raw)
        ? raw
        : (byLogin.get(raw.toLowerCase()) ?? (this.knownUser(raw) ? raw : null));
      if (id === null) unresolved++;
      rec.manager_external_id = id;
    }
    if (unresolved > 0) {
      this.warnings.push(
        `${unresolved} users have a profile.managerId that matches no Okta user id or login; their manager is left empty.`,
      );
    }
    for (let i = 0; i < records.length; i += BATCH) this.sink.users(records.slice(i, i + BATCH));
    this.progress('users', records.length, records.length);
    return watermark;
  }

  private includesOf(groupId: string): string[] {
    return [...(this.groupApps.get(groupId) ?? [])].sort().map(entitlementIds.app);
  }

  private async syncGroups(): Promise<string | null> {
    const query: { limit: number; filter?: string } = { limit: this.settings.pageSizes.groups };
    if (!this.full) {
      const since = minus(this.prev!.groupsWatermark ?? this.prev!.lastFullSync, OVERLAP_MS);
      query.filter = `lastUpdated gt "${since}" or lastMembershipUpdated gt "${since}"`;
    }
    const records: EntitlementRecord[] = [];
    const changed: string[] = [];
    let watermark: string | null = null;
    for await (const g of await this.client.groupApi.listGroups(query)) {
      const id = field(g, 'id');
      if (typeof id !== 'string') continue;
      // A group grants an app when exactly one app is assigned to it: usage of the group is usage of that app.
      const apps = [...(this.groupApps.get(id) ?? [])];
      const rec = groupRecord(g, apps.length === 1 ? this.apps.get(apps[0]!)! : null);
      if (rec === null) continue;
      rec.includes = this.includesOf(id);
      this.groups.add(id);
      records.push(rec);
      changed.push(id);
      if (field(g, 'type') === 'BUILT_IN') this.builtIn.add(id);
      else this.builtIn.delete(id);
      watermark = later(
        watermark,
        later(isoOf(field(g, 'lastUpdated')), isoOf(field(g, 'lastMembershipUpdated'))),
      );
    }
    this.sink.entitlements(records);
    // Groups not read again whose apps are known from this sync: their includes, replaced
    // (cleared for a group no app is assigned to any more).
    if (!this.full) {
      const others = new Set([...this.groupApps.keys(), ...(this.prev?.groupsWithApps ?? [])]);
      for (const id of changed) others.delete(id);
      this.sink.includes(
        [...others]
          .filter((id) => this.knownGroup(id))
          .sort()
          .map((id) => ({ external_id: entitlementIds.group(id), includes: this.includesOf(id) })),
      );
    }
    // Built-in groups (Everyone) hold every user and cannot be changed: their members are read
    // only when an app is assigned to one (syncAppGroupMembers).
    await this.readMembers(changed.filter((id) => !this.builtIn.has(id)));
    return watermark;
  }

  /** Members of the groups assigned to apps that were not read with the changed groups. */
  private async syncAppGroupMembers(): Promise<void> {
    const missing = [...this.groupApps.keys()].filter((g) => !this.members.has(g) && this.knownGroup(g));
    await this.readMembers(missing.sort());
  }

  /**
   * Reads the members of these groups in full and stages them (except for built-in groups,
   * whose members are not reviewed); they are kept for resolving inherited app assignments.
   */
  private async readMembers(groupIds: string[]): Promise<void> {
    let done = 0;
    await forEachLimit(groupIds, this.settings.concurrency, async (groupId) => {
      const set = new Set<string>();
      const stage = !this.builtIn.has(groupId);
      await this.step(OPS.members, async () => {
        // GET /api/v1/groups/{groupId}/users (groupApi.listGroupUsers), read raw: see RawApi.
        const path = `/api/v1/groups/${encodeURIComponent(groupId)}/users`;
        for await (const page of this.raw.pages(path, {
          limit: String(this.settings.pageSizes.groupUsers),
        })) {
          for (const u of page) {
            const userId = field(u, 'id');
            if (typeof userId !== 'string') continue;
            set.add(userId);
            if (!stage) continue;
            this.assign({
              user_external_id: userId,
              entitlement_external_id: entitlementIds.group(groupId),
              granted_at: null,
              source: 'direct',
              src: { file: 'okta:group-members', line: 0 },
            });
          }
        }
      });
      this.members.set(groupId, set);
      if (stage) this.complete.add(entitlementIds.group(groupId));
      this.progress('group members', ++done, groupIds.length);
    });
  }

  /** App users of scope GROUP: through the first group (by priority) assigned to the app that they are in. */
  private resolveInherited(): void {
    let unknown = 0;
    for (const a of this.inherited) {
      const via = (this.appGroups.get(a.appId) ?? []).find((g) => this.members.get(g)?.has(a.userId));
      if (via === undefined) unknown++;
      this.assign({
        user_external_id: a.userId,
        entitlement_external_id: entitlementIds.app(a.appId),
        granted_at: a.created,
        source: 'group',
        via: via === undefined ? null : entitlementIds.group(via),
        src: { file: 'okta:app-users', line: 0 },
      });
    }
    if (unknown > 0) {
      this.warnings.push(
        `${unknown} app assignments come through a group that could not be found among the groups assigned to the app; ` +
          'they are kept as inherited without saying through which group.',
      );
    }
  }

  private async syncRoles(): Promise<void> {
    const userIds: string[] = [];
    let after: string | undefined;
    do {
      const page = await this.client.roleAssignmentApi.listUsersWithRoleAssignments({
        limit: this.settings.pageSizes.roleAssignees,
        ...(after === undefined ? {} : { after }),
      });
      for (const v of page.value ?? []) if (typeof v.id === 'string') userIds.push(v.id);
      const next = page._links?.next?.href;
      after = next ? (new URL(next).searchParams.get('after') ?? undefined) : undefined;
    } while (after !== undefined);

    const roles = new Map<string, EntitlementRecord>();
    await forEachLimit(userIds, this.settings.concurrency, async (userId) => {
      if (!this.knownUser(userId)) return;
      for await (const r of await this.client.roleAssignmentApi.listAssignedRolesForUser({ userId })) {
        const rec = r === null ? null : roleRecord(r);
        if (rec === null) continue;
        roles.set(rec.external_id, rec);
        // A role granted to a group: which group is not in this list (listGroupAssignedRoles would say).
        this.assign({
          user_external_id: userId,
          entitlement_external_id: rec.external_id,
          granted_at: isoOf(field(r, 'created')),
          source: field(r, 'assignmentType') === 'GROUP' ? 'group' : 'direct',
          src: { file: 'okta:roles', line: 0 },
        });
      }
    });
    this.sink.entitlements([...roles.values()]);
    for (const id of roles.keys()) {
      this.roleEntitlements.add(id);
      this.complete.add(id);
    }
  }

  /**
   * Sign-ins since the last sync, as a bounded query (`since` and `until`): an
   * unbounded System Log query keeps returning a next link. Returns `until`.
   */
  private async syncLogs(): Promise<string> {
    const until = this.options.now.toISOString();
    const earliest = this.options.now.getTime() - this.settings.logLookbackDays * 86_400_000;
    const since = this.prev
      ? new Date(Math.max(earliest, Date.parse(this.prev.logsUntil) - OVERLAP_MS)).toISOString()
      : new Date(earliest).toISOString();
    if (since >= until) return this.prev?.logsUntil ?? until;
    let batch: ReturnType<typeof activityRecord>[] = [];
    let count = 0;
    const flush = () => {
      const rows = batch.filter((a) => a !== null);
      if (rows.length > 0) this.sink.activity(rows);
      batch = [];
    };
    const labels = this.apps;
    for await (const e of await this.client.systemLogApi.listLogEvents({
      since,
      until,
      filter: SIGN_IN_FILTER,
      sortOrder: 'ASCENDING',
      limit: this.settings.pageSizes.logs,
    })) {
      const a = e === null ? null : activityRecord(e, labels);
      if (a === null || !this.knownUser(a.user_external_id)) continue;
      batch.push(a);
      if (++count % BATCH === 0) {
        flush();
        this.progress('sign-ins', count);
      }
    }
    flush();
    this.progress('sign-ins', count, count);
    return until;
  }

  /**
   * Campaigns and their reviews. Without Identity Governance (no licence, no
   * scope: 401/403/404) the rest of the sync stands and a warning says why.
   * Returns the completed campaigns whose reviews are now final in the store.
   */
  private async syncGovernance(): Promise<string[]> {
    const size = String(this.settings.pageSizes.governance);
    const campaigns: unknown[] = [];
    try {
      for await (const page of this.raw.pages('/governance/api/v1/campaigns', { limit: size }))
        campaigns.push(...page);
    } catch (e) {
      const status = statusOf(e);
      if (status !== 401 && status !== 403 && status !== 404)
        throw toConnectorError(e, OPS.campaigns, this.settings.secrets);
      if (status === 401) await this.step(OPS.users, () => this.probeToken());
      this.warnings.push(
        `Okta Identity Governance campaigns were not read (HTTP ${status}): they need an Identity Governance licence and ` +
          `the ${OPS.campaigns.scope} scope (or an API token with the ACCESS_CERTIFICATIONS_ADMIN role). ` +
          'Everything else was synced.',
      );
      return this.prev?.completedCampaigns ?? [];
    }

    const completed = new Set(this.full ? [] : (this.prev?.completedCampaigns ?? []));
    let skipped = 0;
    const entitlementFor = (resourceId: string): string | null => {
      if (this.apps.has(resourceId)) return entitlementIds.app(resourceId);
      if (this.knownGroup(resourceId)) return entitlementIds.group(resourceId);
      return null;
    };
    for (const c of campaigns) {
      const status = field(c, 'status');
      const rec = campaignRecord(c);
      if (rec === null) continue;
      this.sink.campaigns([rec]);
      if (status === 'COMPLETED' && completed.has(rec.external_id)) continue;
      await this.step(OPS.reviews, async () => {
        const query = { filter: `campaignId eq "${rec.external_id}"`, limit: size };
        for await (const page of this.raw.pages('/governance/api/v1/reviews', query)) {
          const items = [];
          const past: PastDecisionRecord[] = [];
          for (const r of page) {
            const item = reviewRecord(r, entitlementFor);
            if (item === null || !this.knownUser(item.user_external_id)) {
              skipped++;
              continue;
            }
            items.push(item);
            const d = item.decided;
            if (status === 'COMPLETED' && d && d.decision !== 'escalate') {
              past.push({
                user_external_id: item.user_external_id,
                entitlement_external_id: item.entitlement_external_id,
                decision: d.decision,
                decided_at: d.decided_at,
                reviewer_external_id: item.reviewer_external_id ?? null,
                campaign_external_id: rec.external_id,
                src: { file: 'okta:reviews', line: 0 },
              });
            }
          }
          this.sink.reviewItems(items);
          if (past.length > 0) this.sink.pastDecisions(past);
          this.progress('reviews', items.length);
        }
      });
      if (status === 'COMPLETED') completed.add(rec.external_id);
    }
    if (skipped > 0) {
      this.warnings.push(
        `${skipped} campaign reviews were skipped: their principal or resource is not a user, group or app this sync read.`,
      );
    }
    return [...completed];
  }

  /** Tells a rejected token apart from governance endpoints that refuse this kind of credential. */
  private async probeToken(): Promise<void> {
    const users = await this.client.userApi.listUsers({ limit: 1 });
    await users.next();
  }
}
