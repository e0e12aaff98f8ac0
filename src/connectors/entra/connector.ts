import type { SyncSink } from '../../domain/sync.js';
import { redactSecrets } from '../okta/errors.js';
import type {
  ApplyOutcome,
  CampaignCreationCapability,
  DecisionToApply,
  IdentityConnector,
  IncrementalCapability,
  PlatformItem,
  RemediationCapability,
  RemediationRequest,
  RoleCreationCapability,
  SyncCapability,
  SyncOptions,
  SyncOutcome,
  WriteBackCapability,
} from '../types.js';
import { TokenClient } from './auth.js';
import { type EntraConfig, entraSecrets } from './config.js';
import {
  checkEntraCampaign,
  checkEntraRole,
  createEntraReview,
  createEntraRole,
  ENTRA_CAMPAIGN_PERMISSIONS,
  ENTRA_ROLE_PERMISSIONS,
  planEntraRole,
} from './create.js';
import { failedOutcome, statusOf } from './errors.js';
import { GraphApi, type GraphRetryPolicy } from './graph.js';
import { field, parseEntitlementId } from './mapping.js';
import { DEFAULT_PAGE_SIZES, type EntraPageSizes, EntraSyncRun, OPS, readState } from './sync.js';

export { DEFAULT_PAGE_SIZES } from './sync.js';

export interface EntraConnectorOptions {
  pageSizes?: Partial<EntraPageSizes>;
  /** Sign-in log window of the first sync, in days (Entra keeps 30 with P1/P2). */
  signInLookbackDays?: number;
  /** A full sync runs again once the last one is this old (default 24 h; delta links last 7 days). */
  fullSyncEveryMs?: number;
  /** Parallel requests for per-group and per-app lists (default 4). */
  concurrency?: number;
  retry?: Partial<GraphRetryPolicy>;
  log?: (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

const AR = '/identityGovernance/accessReviews/definitions';
const JUSTIFICATION_MAX = 1000;
const TO_ENTRA = { approve: 'Approve', revoke: 'Deny', escalate: 'DontKnow' } as const;

/**
 * Microsoft Entra ID through the Graph SDK: users, groups and members (nesting included),
 * enterprise apps and app role assignments, directory roles (active and eligible), sign-ins,
 * and access reviews (read, and decisions written back); creates access reviews and mined
 * roles (dynamic security groups) for confirmed changes.
 */
export class EntraConnector implements IdentityConnector {
  readonly platform = 'entra' as const;
  readonly sync: SyncCapability = {
    permissions: [
      'User.Read.All',
      'GroupMember.Read.All',
      'Application.Read.All',
      'RoleManagement.Read.Directory',
      'RoleEligibilitySchedule.Read.Directory',
      'AuditLog.Read.All',
      'Directory.Read.All',
      'AccessReview.Read.All',
    ],
    run: (sink, options) => this.runSync(sink, options),
  };
  readonly incremental: IncrementalCapability;
  readonly writeBack: WriteBackCapability = {
    // DontKnow is one of the review's own decisions: an escalation is recorded as it.
    decisions: ['approve', 'revoke', 'escalate'],
    permissions: ['AccessReview.ReadWrite.All'],
    apply: (d) => this.applyDecision(d),
  };
  readonly remediation: RemediationCapability = {
    permissions: [
      'GroupMember.ReadWrite.All',
      'AppRoleAssignment.ReadWrite.All',
      'RoleManagement.ReadWrite.Directory',
    ],
    remove: (r) => this.remediate(r),
    byPlatform: (item) => this.reviewRemoves(item),
  };
  readonly campaigns: CampaignCreationCapability = {
    noun: 'Entra access review',
    permissions: ENTRA_CAMPAIGN_PERMISSIONS,
    check: checkEntraCampaign,
    create: (r) => createEntraReview(this.graph, r, this.secrets),
  };
  readonly roles: RoleCreationCapability = {
    noun: 'Entra dynamic security group',
    permissions: ENTRA_ROLE_PERMISSIONS,
    check: checkEntraRole,
    plan: planEntraRole,
    create: (r) => createEntraRole(this.graph, r, this.secrets),
  };

  private readonly graph: GraphApi;
  private readonly secrets: string[];
  private readonly pageSizes: EntraPageSizes;

  constructor(
    private readonly config: EntraConfig,
    private readonly options: EntraConnectorOptions = {},
  ) {
    this.secrets = entraSecrets(config);
    this.pageSizes = { ...DEFAULT_PAGE_SIZES, ...options.pageSizes };
    this.graph = new GraphApi(config.graphBaseUrl, new TokenClient(config), {
      throttleRetries: 3,
      serverErrorRetries: 3,
      retryDelayMs: 500,
      ...options.retry,
    });
    this.incremental = {
      method: 'delta queries for users and groups (removals included)',
      removals: 'all',
      fullSyncEveryMs: options.fullSyncEveryMs ?? 86_400_000,
    };
  }

  /** HTTP requests sent so far (token requests included). */
  get requests(): number {
    return this.graph.requests;
  }

  private async runSync(sink: SyncSink, options: SyncOptions): Promise<SyncOutcome> {
    const before = this.graph.requests;
    const run = new EntraSyncRun(this.graph, sink, options, readState(options.state), {
      pageSizes: this.pageSizes,
      secrets: this.secrets,
      fullSyncEveryMs: this.incremental.fullSyncEveryMs,
      signInLookbackDays: this.options.signInLookbackDays ?? 30,
      concurrency: this.options.concurrency ?? 4,
      log: this.options.log ?? (() => {}),
    });
    const state = await run.execute();
    return {
      state: { ...state },
      fullAssignments: run.full,
      warnings: run.warnings,
      requests: this.graph.requests - before,
    };
  }

  /**
   * With ENTRA_REMEDIATION=review (the default), an item of an Entra access review is
   * removed by the review itself when it applies its decisions.
   */
  private reviewRemoves(item: PlatformItem): string | null {
    if (this.config.remediation !== 'review' || !item.item_coordinates.decision_id) return null;
    return item.item_coordinates.auto_apply === 'true'
      ? 'the Entra access review removes this access when it completes and applies its decisions'
      : 'the Entra access review removes this access when its results are applied (auto-apply is off for this review: apply them in the portal, or set ENTRA_REMEDIATION=direct)';
  }

  /**
   * Records a decision on an Entra access review item. The PATCH on a decision item is
   * documented for delegated permission only (the signed-in reviewer), so Attest, signed in
   * as an application, uses batchRecordDecisions (application permission
   * AccessReview.ReadWrite.All) scoped to the item's principal and resource; in a multi-stage
   * review it records the stage in progress (the likeliest reading of the docs). The item is
   * read first: the same decision already recorded is not sent again (a retry after a crash
   * is safe), and a different one made in Entra is never overturned.
   */
  async applyDecision(d: DecisionToApply): Promise<ApplyOutcome> {
    const c = d.item_coordinates;
    if (!c.definition_id || !c.instance_id || !c.decision_id || !c.principal_id || !c.resource_id) {
      return {
        status: 'skipped',
        platform_ref: null,
        detail: 'not an item of an Entra access review: recorded in Attest only',
      };
    }
    const target = TO_ENTRA[d.decision];
    const ref = `entra:decision:${c.instance_id}:${c.decision_id}:${target}`;
    const instance = `${AR}/${encodeURIComponent(c.definition_id)}/instances/${encodeURIComponent(c.instance_id)}`;
    let current: unknown;
    let status: unknown;
    try {
      const stage = c.stage_id ? `/stages/${encodeURIComponent(c.stage_id)}` : '';
      current = await this.graph.get(`${instance}${stage}/decisions/${encodeURIComponent(c.decision_id)}`);
      status = field(await this.graph.get(instance), 'status');
    } catch (e) {
      if (statusOf(e) === 404)
        return {
          status: 'failed',
          retryable: false,
          error: `Entra has no such access review decision (${c.decision_id}); nothing was recorded there.`,
        };
      return failedOutcome(e, OPS.readDecision, this.secrets);
    }
    const now = field(current, 'decision');
    if (now === target)
      return { status: 'done', platform_ref: ref, detail: 'the decision was already recorded in Entra' };
    if (typeof now === 'string' && now !== 'NotReviewed') {
      return {
        status: 'failed',
        retryable: false,
        error: `The Entra access review item is already decided as ${now}; it was not changed.`,
      };
    }
    if (status !== 'InProgress') {
      return {
        status: 'failed',
        retryable: false,
        error: `The Entra access review is ${String(status)}, not in progress; no decision was recorded there.`,
      };
    }
    try {
      await this.graph.post(`${instance}/batchRecordDecisions`, {
        decision: target,
        justification: justification(d, this.secrets),
        principalId: c.principal_id,
        resourceId: c.resource_id,
      });
    } catch (e) {
      return failedOutcome(e, OPS.decide, this.secrets);
    }
    return { status: 'done', platform_ref: ref };
  }

  /**
   * Removes revoked access: a membership (`DELETE /groups/{g}/members/{u}/$ref`: the form
   * without `/$ref` would delete the user), an app role assignment, or a directory role
   * assignment. Access already gone counts as done. What Attest cannot change (a dynamic or
   * on-premises group, access inherited through a group, a PIM eligibility) fails for good,
   * saying what to change instead.
   */
  async remediate(r: RemediationRequest): Promise<ApplyOutcome> {
    const ent = parseEntitlementId(r.entitlement_external_id);
    const user = r.user_external_id;
    const u = encodeURIComponent(user);
    const gone = (ref: string): ApplyOutcome => ({
      status: 'done',
      platform_ref: ref,
      detail: 'the access was already removed in Entra',
    });
    const refuse = (error: string): ApplyOutcome => ({ status: 'failed', retryable: false, error });
    if (ent.kind === 'group') {
      const ref = `entra:membership:${ent.groupId}:${user}`;
      const g = encodeURIComponent(ent.groupId);
      try {
        const group = await this.graph.get(`/groups/${g}`, {
          $select: 'id,displayName,groupTypes,membershipRule,onPremisesSyncEnabled,isAssignableToRole',
        });
        const name = String(field(group, 'displayName') ?? ent.groupId);
        const types = field(group, 'groupTypes');
        if (Array.isArray(types) && types.includes('DynamicMembership')) {
          return refuse(
            `${name} is a dynamic group (rule ${JSON.stringify(field(group, 'membershipRule') ?? '')}): Entra adds and removes its ` +
              "members itself. Change the rule, or the user's attributes it reads, so the user no longer matches.",
          );
        }
        if (field(group, 'onPremisesSyncEnabled') === true) {
          return refuse(
            `${name} is synced from on-premises Active Directory: remove the user from the group in Active Directory; ` +
              'the change reaches Entra with the next directory sync.',
          );
        }
        await this.graph.delete(`/groups/${g}/members/${u}/$ref`);
      } catch (e) {
        if (statusOf(e) !== 404) return failedOutcome(e, OPS.removeMember, this.secrets);
        const via = await this.inheritedGroup(user, ent.groupId).catch(() => null);
        return via === null
          ? gone(ref)
          : refuse(
              `The membership comes through the nested group ${via}: remove the user from that group instead.`,
            );
      }
      return { status: 'done', platform_ref: ref };
    }
    if (ent.kind === 'appRole') {
      const ref = `entra:app-role:${ent.spId}:${ent.appRoleId}:${user}`;
      try {
        const held: unknown[] = [];
        await this.graph.list(`/users/${u}/appRoleAssignments`, { $top: '999' }, (page) => {
          for (const a of page)
            if (
              field(a, 'resourceId') === ent.spId &&
              field(a, 'appRoleId') === ent.appRoleId &&
              field(a, 'principalId') === user
            )
              held.push(a);
        });
        if (held.length === 0) {
          const group = await this.groupGranting(user, (g) =>
            this.groupHasAppRole(g, ent.spId, ent.appRoleId),
          );
          return group === null
            ? gone(ref)
            : refuse(
                `The app role is assigned to the group ${group}: remove the user from that group, or the group's assignment.`,
              );
        }
        for (const a of held) {
          try {
            await this.graph.delete(
              `/servicePrincipals/${encodeURIComponent(ent.spId)}/appRoleAssignedTo/${encodeURIComponent(String(field(a, 'id')))}`,
            );
          } catch (e) {
            if (statusOf(e) !== 404) throw e;
          }
        }
      } catch (e) {
        return failedOutcome(e, OPS.removeAppRole, this.secrets);
      }
      return { status: 'done', platform_ref: ref };
    }
    if (ent.kind === 'role') {
      if (ent.eligible) {
        return refuse(
          'This is an eligible (PIM) assignment: remove the eligibility in Privileged Identity Management; Attest does not change eligibilities.',
        );
      }
      const ref = `entra:role:${ent.definitionId}:${user}`;
      try {
        const held: unknown[] = [];
        await this.graph.list(
          '/roleManagement/directory/roleAssignments',
          { $filter: `principalId eq '${user.replace(/'/g, "''")}'` },
          (page) => {
            for (const a of page)
              if (
                field(a, 'roleDefinitionId') === ent.definitionId &&
                String(field(a, 'directoryScopeId') ?? '/') === ent.scope
              )
                held.push(a);
          },
        );
        if (held.length === 0) {
          const group = await this.groupGranting(user, (g) => this.groupHasRole(g, ent.definitionId));
          return group === null
            ? gone(ref)
            : refuse(
                `The role is assigned to the role-assignable group ${group}: remove the user from that group instead.`,
              );
        }
        for (const a of held) {
          try {
            await this.graph.delete(
              `/roleManagement/directory/roleAssignments/${encodeURIComponent(String(field(a, 'id')))}`,
            );
          } catch (e) {
            if (statusOf(e) !== 404) throw e;
          }
        }
      } catch (e) {
        return failedOutcome(e, OPS.removeRole, this.secrets);
      }
      return { status: 'done', platform_ref: ref };
    }
    return refuse(`${r.entitlement_external_id} is not access Attest can remove in Entra.`);
  }

  /** The groups the user is in, directly or not (transitiveMemberOf). */
  private async groupsOf(user: string): Promise<Array<{ id: string; name: string }>> {
    const out: Array<{ id: string; name: string }> = [];
    await this.graph.list(
      `/users/${encodeURIComponent(user)}/transitiveMemberOf/microsoft.graph.group`,
      { $select: 'id,displayName', $top: '999' },
      (page) => {
        for (const g of page)
          out.push({ id: String(field(g, 'id')), name: String(field(g, 'displayName') ?? field(g, 'id')) });
      },
    );
    return out;
  }

  /** When the user still holds the group through a nested one: that group's name. */
  private async inheritedGroup(user: string, groupId: string): Promise<string | null> {
    const groups = await this.groupsOf(user);
    if (!groups.some((g) => g.id === groupId)) return null;
    for (const g of groups) {
      if (g.id === groupId) continue;
      const members: string[] = [];
      await this.graph.list(
        `/groups/${encodeURIComponent(groupId)}/members`,
        { $select: 'id', $top: '999' },
        (page) => {
          for (const m of page) members.push(String(field(m, 'id')));
        },
      );
      if (members.includes(g.id)) return g.name;
    }
    return 'another group';
  }

  private async groupGranting(
    user: string,
    grants: (groupId: string) => Promise<boolean>,
  ): Promise<string | null> {
    for (const g of await this.groupsOf(user)) if (await grants(g.id)) return g.name;
    return null;
  }

  private async groupHasAppRole(groupId: string, spId: string, appRoleId: string): Promise<boolean> {
    let found = false;
    await this.graph.list(
      `/servicePrincipals/${encodeURIComponent(spId)}/appRoleAssignedTo`,
      { $top: '999' },
      (page) => {
        for (const a of page)
          if (field(a, 'principalId') === groupId && field(a, 'appRoleId') === appRoleId) found = true;
      },
    );
    return found;
  }

  private async groupHasRole(groupId: string, definitionId: string): Promise<boolean> {
    let found = false;
    await this.graph.list(
      '/roleManagement/directory/roleAssignments',
      { $filter: `principalId eq '${groupId}'` },
      (page) => {
        for (const a of page) if (field(a, 'roleDefinitionId') === definitionId) found = true;
      },
    );
    return found;
  }
}

/** The justification Entra shows on the decision: the rationale, then who proposed and who confirmed, through which channel. */
function justification(d: DecisionToApply, secrets: readonly string[]): string {
  const origin = d.engine_recommended ? 'AI-recommended' : 'Not AI-recommended';
  const trailer = `${origin}; proposed by ${d.proposed_by}, confirmed by ${d.confirmed_by} via ${d.channel}.`;
  const rationale = redactSecrets(d.rationale.trim(), secrets);
  // The field's maximum length is unconfirmed; 1000 characters, as Okta's note, is assumed.
  const room = JUSTIFICATION_MAX - trailer.length - 1;
  return `${rationale.length > room ? `${rationale.slice(0, room - 1)}…` : rationale}\n${trailer}`;
}
