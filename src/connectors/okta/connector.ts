import type { Client } from '@okta/okta-sdk-nodejs';
import type {
  AssignmentRecord,
  EntitlementRecord,
  PastDecisionRecord,
  SyncSink,
  UserRecord,
} from '../../domain/sync.js';
import type {
  ApplyOutcome,
  ConnectorCapabilities,
  DecisionToApply,
  IdentityConnector,
  RemediationRequest,
  SyncOptions,
  SyncOutcome,
} from '../types.js';
import { OKTA_SYNC_SCOPES, type OktaConfig, oktaSecrets, parseOktaConfig } from './config.js';
import { failedOutcome, type Operation, redactSecrets, statusOf, toConnectorError } from './errors.js';
import { createOktaClient, createOktaExecutor, type OktaRequestExecutor, type RetryPolicy } from './http.js';
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
  parseEntitlementId,
  reviewRecord,
  roleKey,
  roleRecord,
  userRecord,
} from './mapping.js';
import { RawApi } from './raw-api.js';

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

/**
 * Okta rate-limits per endpoint and per minute, so fewer, larger pages finish
 * sooner: each size is the documented maximum for its list, except groups
 * (maximum 10000; 1000 keeps a page near a megabyte and still lists most orgs
 * in one or two requests), group members (1000, the documented default: members
 * are full user objects) and role assignees (100, the default; a larger
 * maximum is unconfirmed).
 */
export const DEFAULT_PAGE_SIZES: OktaPageSizes = {
  users: 200,
  groups: 1000,
  groupUsers: 1000,
  apps: 200,
  appUsers: 500,
  appGroups: 200,
  roleAssignees: 100,
  logs: 1000,
  governance: 200,
};

export interface OktaConnectorOptions {
  pageSizes?: Partial<OktaPageSizes>;
  /** System Log window of the first sync, in days (Okta keeps 90). */
  logLookbackDays?: number;
  /**
   * An incremental sync cannot see removed memberships or app assignments, so a
   * full sync runs when the last one is older than this (default 24 h).
   */
  fullSyncEveryMs?: number;
  /** Parallel requests for per-group, per-app and per-admin lists (default 4). */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** Optional log sink; messages never hold secrets. */
  log?: (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

/** What a sync hands to the next one. */
interface OktaSyncState {
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
}

const OPS = {
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
  decide: { action: 'recording the review decision', scope: 'okta.governance.reviewer.manage' },
  unassignGroup: { action: 'removing the group membership', scope: 'okta.groups.manage' },
  unassignApp: { action: 'removing the app assignment', scope: 'okta.apps.manage' },
  unassignRole: { action: 'removing the admin role', scope: 'okta.roles.manage' },
} satisfies Record<string, Operation>;

/** Re-read this much before each watermark: updates committed out of order are not missed (re-reads are idempotent). */
const OVERLAP_MS = 60_000;
const SIGN_IN_FILTER = 'eventType eq "user.session.start" or eventType eq "user.authentication.sso"';
const BATCH = 2000;
const NOTE_MAX = 1000;

/**
 * Okta through the official SDK: users, groups and memberships, apps and app
 * assignments, admin roles, sign-ins from the System Log, and Identity
 * Governance campaigns and reviews (read, and decisions written back).
 */
export class OktaConnector implements IdentityConnector {
  readonly platform = 'okta' as const;
  readonly capabilities: ConnectorCapabilities = {
    writeBack: true,
    remediate: true,
    // Whether a campaign removes revoked access depends on its remediation settings; do not rely on it.
    campaignRemediates: false,
    scopes: {
      sync: [...OKTA_SYNC_SCOPES],
      writeBack: ['okta.governance.accessCertifications.read', 'okta.governance.reviewer.manage'],
      remediate: ['okta.groups.manage', 'okta.apps.manage', 'okta.roles.manage'],
    },
  };

  private readonly client: Client;
  private readonly executor: OktaRequestExecutor;
  private readonly raw: RawApi;
  private readonly secrets: string[];
  private readonly pageSizes: OktaPageSizes;
  private readonly options: OktaConnectorOptions;

  constructor(config: OktaConfig, options: OktaConnectorOptions = {}) {
    this.options = options;
    this.pageSizes = { ...DEFAULT_PAGE_SIZES, ...options.pageSizes };
    this.secrets = oktaSecrets(config);
    this.executor = createOktaExecutor(config.orgUrl, {
      rateLimitRetries: 3,
      serverErrorRetries: 3,
      retryDelayMs: 500,
      requestTimeoutMs: 120_000,
      ...options.retry,
    });
    this.client = createOktaClient(config, this.executor);
    this.raw = new RawApi(this.client, config.orgUrl);
  }

  /** Builds a connector from OKTA_* variables (throws ConnectorError 'config' naming the variable at fault). */
  static fromEnv(env: Record<string, string | undefined>, options: OktaConnectorOptions = {}): OktaConnector {
    return new OktaConnector(parseOktaConfig(env), options);
  }

  /** HTTP requests sent so far by this connector. */
  get requests(): number {
    return this.executor.requests;
  }

  async sync(sink: SyncSink, options: SyncOptions): Promise<SyncOutcome> {
    const before = this.executor.requests;
    const run = new SyncRun(this.client, this.raw, sink, options, readState(options.state), {
      pageSizes: this.pageSizes,
      secrets: this.secrets,
      fullSyncEveryMs: this.options.fullSyncEveryMs ?? 86_400_000,
      logLookbackDays: this.options.logLookbackDays ?? 90,
      concurrency: this.options.concurrency ?? 4,
      log: this.options.log ?? (() => {}),
    });
    const state = await run.execute();
    return {
      state: { ...state },
      fullAssignments: run.full,
      warnings: run.warnings,
      requests: this.executor.requests - before,
    };
  }

  async applyDecision(d: DecisionToApply): Promise<ApplyOutcome> {
    const action = d.decision === 'approve' ? 'APPROVE' : 'REVOKE';
    const ref = `okta:review:${d.item_external_id}:${action}`;
    let review: unknown;
    try {
      review = await this.raw.getReview(d.item_external_id);
    } catch (e) {
      if (statusOf(e) === 404) {
        return {
          status: 'failed',
          retryable: false,
          error: `Okta has no review ${d.item_external_id}; nothing was recorded there.`,
        };
      }
      return failedOutcome(e, OPS.readReview, this.secrets);
    }
    const current = field(review, 'decision');
    if (current === action)
      return { status: 'done', platform_ref: ref, detail: 'the decision was already recorded on Okta' };
    if (current === 'APPROVE' || current === 'REVOKE') {
      return {
        status: 'failed',
        retryable: false,
        error: `Okta review ${d.item_external_id} is already decided as ${current}; it was not changed.`,
      };
    }
    const campaignId =
      typeof field(review, 'campaignId') === 'string'
        ? String(field(review, 'campaignId'))
        : d.campaign_external_id;
    try {
      await this.raw.submitActions(campaignId, [
        { reviewId: d.item_external_id, action, note: decisionNote(d, this.secrets) },
      ]);
    } catch (e) {
      return failedOutcome(e, OPS.decide, this.secrets);
    }
    return { status: 'done', platform_ref: ref };
  }

  async remediate(r: RemediationRequest): Promise<ApplyOutcome> {
    const ent = parseEntitlementId(r.entitlement_external_id);
    const userId = r.user_external_id;
    const gone = (ref: string): ApplyOutcome => ({
      status: 'done',
      platform_ref: ref,
      detail: 'the access was already removed on Okta',
    });
    if (ent.kind === 'group') {
      const ref = `okta:membership:${ent.groupId}:${userId}`;
      try {
        await this.client.groupApi.unassignUserFromGroup({ groupId: ent.groupId, userId });
      } catch (e) {
        return statusOf(e) === 404 ? gone(ref) : failedOutcome(e, OPS.unassignGroup, this.secrets);
      }
      return { status: 'done', platform_ref: ref };
    }
    if (ent.kind === 'app') {
      const ref = `okta:app-assignment:${ent.appId}:${userId}`;
      try {
        await this.client.applicationApi.unassignUserFromApplication({
          appId: ent.appId,
          userId,
          sendEmail: false,
        });
      } catch (e) {
        return statusOf(e) === 404 ? gone(ref) : failedOutcome(e, OPS.unassignApp, this.secrets);
      }
      return { status: 'done', platform_ref: ref };
    }
    const ref = `okta:role:${ent.role}:${userId}`;
    try {
      const held: unknown[] = [];
      for await (const role of await this.client.roleAssignmentApi.listAssignedRolesForUser({ userId })) {
        if (role !== null && roleKey(role) === ent.role) held.push(role);
      }
      if (held.length === 0) return gone(ref);
      const direct = held.filter((x) => field(x, 'assignmentType') !== 'GROUP');
      if (direct.length === 0) {
        return {
          status: 'failed',
          retryable: false,
          error:
            "The admin role is granted through a group; remove the group membership or the group's role instead.",
        };
      }
      for (const x of direct) {
        try {
          await this.client.roleAssignmentApi.unassignRoleFromUser({
            userId,
            roleId: String(field(x, 'id')),
          });
        } catch (e) {
          if (statusOf(e) !== 404) throw e;
        }
      }
    } catch (e) {
      return statusOf(e) === 404 ? gone(ref) : failedOutcome(e, OPS.unassignRole, this.secrets);
    }
    return { status: 'done', platform_ref: ref };
  }
}

/** The justification Okta shows on the review: the rationale and who confirmed it, through which channel. */
function decisionNote(d: DecisionToApply, secrets: readonly string[]): string {
  const origin = d.engine_recommended ? 'AI-recommended' : 'Not AI-recommended';
  const trailer = `${origin}; proposed by ${d.proposed_by}, confirmed by ${d.confirmed_by} via ${d.channel}.`;
  const rationale = redactSecrets(d.rationale.trim(), secrets);
  const room = NOTE_MAX - trailer.length - 2;
  return `${rationale.length > room ? `${rationale.slice(0, room - 1)}…` : rationale}\n${trailer}`;
}

function readState(raw: Record<string, unknown> | null): OktaSyncState | null {
  if (
    raw === null ||
    raw.version !== 1 ||
    typeof raw.lastFullSync !== 'string' ||
    typeof raw.logsUntil !== 'string'
  ) {
    return null;
  }
  const s = (v: unknown) => (typeof v === 'string' ? v : null);
  return {
    version: 1,
    lastFullSync: raw.lastFullSync,
    usersWatermark: s(raw.usersWatermark),
    groupsWatermark: s(raw.groupsWatermark),
    logsUntil: raw.logsUntil,
    completedCampaigns: Array.isArray(raw.completedCampaigns)
      ? raw.completedCampaigns.filter((x) => typeof x === 'string')
      : [],
  };
}

const later = (a: string | null, b: string | null): string | null =>
  a === null ? b : b === null ? a : a > b ? a : b;
const minus = (iso: string, ms: number) => new Date(Date.parse(iso) - ms).toISOString();

/** Runs `fn` over items with at most `limit` in flight; the first failure stops the rest and is rethrown. */
async function forEachLimit<T>(
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

interface RunSettings {
  pageSizes: OktaPageSizes;
  secrets: string[];
  fullSyncEveryMs: number;
  logLookbackDays: number;
  concurrency: number;
  log: NonNullable<OktaConnectorOptions['log']>;
}

/** One sync: phases in order, each reading a list and staging what it maps. */
class SyncRun {
  readonly full: boolean;
  readonly warnings: string[] = [];
  private readonly users = new Set<string>();
  private readonly groups = new Set<string>();
  /** app id → label. */
  private readonly apps = new Map<string, string>();
  /** group id → labels of the apps assigned to it. */
  private readonly groupApps = new Map<string, Set<string>>();
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
  }

  async execute(): Promise<OktaSyncState> {
    const mode = this.full ? 'full' : 'incremental';
    this.settings.log('info', `Okta sync started (${mode})`);
    await this.step(OPS.apps, () => this.syncApps());
    const usersWatermark = await this.step(OPS.users, () => this.syncUsers());
    const groupsWatermark = await this.step(OPS.groups, () => this.syncGroups());
    await this.step(OPS.roles, () => this.syncRoles());
    this.flushAssignments();
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
    };
  }

  private async step<T>(op: Operation, fn: () => Promise<T>): Promise<T> {
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
      const label = this.apps.get(appId)!;
      for await (const ag of await this.client.applicationApi.listApplicationGroupAssignments({
        appId,
        limit: this.settings.pageSizes.appGroups,
      })) {
        const groupId = field(ag, 'id');
        if (typeof groupId !== 'string') continue;
        const set = this.groupApps.get(groupId) ?? new Set<string>();
        set.add(label);
        this.groupApps.set(groupId, set);
      }
      await this.step(OPS.appUsers, async () => {
        // GET /api/v1/apps/{appId}/users (applicationApi.listApplicationUsers), read raw: see RawApi.
        const path = `/api/v1/apps/${encodeURIComponent(appId)}/users`;
        for await (const page of this.raw.pages(path, { limit: String(this.settings.pageSizes.appUsers) })) {
          for (const au of page) {
            const userId = field(au, 'id');
            if (typeof userId !== 'string') continue;
            this.assign({
              user_external_id: userId,
              entitlement_external_id: entitlementIds.app(appId),
              granted_at: isoOf(field(au, 'created')),
              source: field(au, 'scope') === 'GROUP' ? 'group' : 'direct',
              src: { file: 'okta:app-users', line: 0 },
            });
          }
        }
      });
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

  private async syncGroups(): Promise<string | null> {
    const query: { limit: number; filter?: string } = { limit: this.settings.pageSizes.groups };
    if (!this.full) {
      const since = minus(this.prev!.groupsWatermark ?? this.prev!.lastFullSync, OVERLAP_MS);
      query.filter = `lastUpdated gt "${since}" or lastMembershipUpdated gt "${since}"`;
    }
    const records: EntitlementRecord[] = [];
    const withMembers: string[] = [];
    let watermark: string | null = null;
    for await (const g of await this.client.groupApi.listGroups(query)) {
      const id = field(g, 'id');
      if (typeof id !== 'string') continue;
      // A group grants an app when exactly one app is assigned to it: usage of the group is usage of that app.
      const apps = this.groupApps.get(id);
      const rec = groupRecord(g, apps?.size === 1 ? [...apps][0]! : null);
      if (rec === null) continue;
      this.groups.add(id);
      records.push(rec);
      // BUILT_IN (Everyone) holds every user and cannot be changed: not worth reviewing.
      if (field(g, 'type') !== 'BUILT_IN') withMembers.push(id);
      watermark = later(
        watermark,
        later(isoOf(field(g, 'lastUpdated')), isoOf(field(g, 'lastMembershipUpdated'))),
      );
    }
    this.sink.entitlements(records);
    let done = 0;
    await forEachLimit(withMembers, this.settings.concurrency, async (groupId) => {
      await this.step(OPS.members, async () => {
        // GET /api/v1/groups/{groupId}/users (groupApi.listGroupUsers), read raw: see RawApi.
        const path = `/api/v1/groups/${encodeURIComponent(groupId)}/users`;
        for await (const page of this.raw.pages(path, {
          limit: String(this.settings.pageSizes.groupUsers),
        })) {
          for (const u of page) {
            const userId = field(u, 'id');
            if (typeof userId !== 'string') continue;
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
      this.progress('group members', ++done, withMembers.length);
    });
    return watermark;
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
    for await (const e of await this.client.systemLogApi.listLogEvents({
      since,
      until,
      filter: SIGN_IN_FILTER,
      sortOrder: 'ASCENDING',
      limit: this.settings.pageSizes.logs,
    })) {
      const a = e === null ? null : activityRecord(e, this.apps);
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
            if (status === 'COMPLETED' && item.decided) {
              past.push({
                user_external_id: item.user_external_id,
                entitlement_external_id: item.entitlement_external_id,
                decision: item.decided.decision,
                decided_at: item.decided.decided_at,
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
