import type { Client } from '@okta/okta-sdk-nodejs';
import type { SyncSink } from '../../domain/sync.js';
import type {
  ApplyOutcome,
  CampaignCreationCapability,
  DecisionToApply,
  IdentityConnector,
  IncrementalCapability,
  RemediationCapability,
  RemediationRequest,
  RoleCreationCapability,
  SyncCapability,
  SyncOptions,
  SyncOutcome,
  WriteBackCapability,
} from '../types.js';
import { OKTA_SYNC_SCOPES, type OktaConfig, oktaSecrets, parseOktaConfig } from './config.js';
import {
  checkOktaCampaign,
  checkOktaRole,
  createOktaCampaign,
  createOktaRole,
  OKTA_CAMPAIGN_SCOPES,
  OKTA_ROLE_SCOPES,
  planOktaRole,
} from './create.js';
import { failedOutcome, redactSecrets, statusOf } from './errors.js';
import { createOktaClient, createOktaExecutor, type OktaRequestExecutor, type RetryPolicy } from './http.js';
import { field, parseEntitlementId, roleKey } from './mapping.js';
import { RawApi } from './raw-api.js';
import { type OktaPageSizes, OPS, readState, SyncRun } from './sync.js';

export type { OktaPageSizes } from './sync.js';

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
   * An incremental sync sees removals only in the lists it reads again (apps, roles,
   * changed groups), so a full sync runs when the last one is older than this (default 24 h).
   */
  fullSyncEveryMs?: number;
  /** Parallel requests for per-group, per-app and per-admin lists (default 4). */
  concurrency?: number;
  retry?: Partial<RetryPolicy>;
  /** Optional log sink; messages never hold secrets. */
  log?: (level: 'debug' | 'info' | 'warn', message: string, data?: Record<string, unknown>) => void;
}

const NOTE_MAX = 1000;

/**
 * Okta through the official SDK: users, groups and memberships, apps and app
 * assignments, admin roles, sign-ins from the System Log, and Identity
 * Governance campaigns and reviews (read, and decisions written back).
 */
export class OktaConnector implements IdentityConnector {
  readonly platform = 'okta' as const;
  readonly sync: SyncCapability = {
    permissions: [...OKTA_SYNC_SCOPES],
    run: (sink, options) => this.runSync(sink, options),
  };
  readonly incremental: IncrementalCapability;
  readonly writeBack: WriteBackCapability = {
    // Okta reviews record APPROVE or REVOKE; an escalation stays in Attest.
    decisions: ['approve', 'revoke'],
    permissions: [
      'okta.governance.accessCertifications.read',
      'okta.governance.accessCertifications.manage',
      'okta.governance.reviewer.manage',
    ],
    apply: (d) => this.applyDecision(d),
  };
  readonly remediation: RemediationCapability = {
    permissions: ['okta.groups.manage', 'okta.apps.manage', 'okta.roles.manage'],
    // Whether a campaign removes revoked access depends on its remediation settings: Attest removes it.
    remove: (r) => this.remediate(r),
  };

  readonly campaigns: CampaignCreationCapability = {
    noun: 'Okta Identity Governance campaign',
    permissions: [...OKTA_CAMPAIGN_SCOPES],
    check: checkOktaCampaign,
    create: (r) => createOktaCampaign(this.raw, r, this.secrets),
  };
  readonly roles: RoleCreationCapability = {
    noun: 'Okta group with a group rule',
    permissions: [...OKTA_ROLE_SCOPES],
    check: checkOktaRole,
    plan: planOktaRole,
    create: (r) => createOktaRole(this.raw, r, this.secrets),
  };

  private readonly client: Client;
  private readonly executor: OktaRequestExecutor;
  private readonly raw: RawApi;
  private readonly secrets: string[];
  private readonly pageSizes: OktaPageSizes;
  private readonly options: OktaConnectorOptions;
  private actorId: Promise<string> | null = null;

  constructor(
    private readonly config: OktaConfig,
    options: OktaConnectorOptions = {},
  ) {
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
    this.incremental = {
      method: 'lastUpdated and lastMembershipUpdated filters, System Log since the last sync',
      removals: 'partial',
      fullSyncEveryMs: options.fullSyncEveryMs ?? 86_400_000,
    };
  }

  /** Builds a connector from OKTA_* variables (throws ConnectorError 'config' naming the variable at fault). */
  static fromEnv(env: Record<string, string | undefined>, options: OktaConnectorOptions = {}): OktaConnector {
    return new OktaConnector(parseOktaConfig(env), options);
  }

  /** HTTP requests sent so far by this connector. */
  get requests(): number {
    return this.executor.requests;
  }

  private async runSync(sink: SyncSink, options: SyncOptions): Promise<SyncOutcome> {
    const before = this.executor.requests;
    const run = new SyncRun(this.client, this.raw, sink, options, readState(options.state), {
      pageSizes: this.pageSizes,
      secrets: this.secrets,
      fullSyncEveryMs: this.incremental.fullSyncEveryMs,
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

  /**
   * Records a decision on an Okta review. Okta takes decisions only from the review's own
   * reviewer, and an org's reviews belong to managers: a review assigned to someone else
   * is first reassigned to Attest's Okta user, with a note naming the human who confirmed
   * (OKTA_REVIEWER_MODE says when that is allowed). Reading the review first makes a
   * retry after a crash safe: a review already decided the same way, or already
   * reassigned, is not changed again.
   */
  async applyDecision(d: DecisionToApply): Promise<ApplyOutcome> {
    if (d.decision === 'escalate') {
      return { status: 'skipped', platform_ref: null, detail: 'Okta reviews record no escalation' };
    }
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
    const level =
      typeof field(review, 'currentReviewerLevel') === 'string'
        ? String(field(review, 'currentReviewerLevel'))
        : null;
    const reviewer = field(review, 'reviewerProfile');
    const reviewerId = typeof field(reviewer, 'id') === 'string' ? String(field(reviewer, 'id')) : null;

    let actor: string;
    try {
      actor = await this.actor();
    } catch (e) {
      const failed = failedOutcome(e, OPS.me, this.secrets);
      return failed.status === 'failed' && !failed.retryable
        ? {
            ...failed,
            error: `${failed.error} Set OKTA_ACTOR_ID to the Okta user Attest records decisions as. Nothing was recorded on Okta.`,
          }
        : failed;
    }
    if (reviewerId !== actor) {
      const owner = reviewerLabel(reviewer, reviewerId);
      if (this.config.reviews.mode === 'mapped') {
        const mapped = await this.mappedReviewer(d.confirmed_by, reviewer, reviewerId);
        if (!mapped) {
          return {
            status: 'failed',
            retryable: false,
            error:
              `Okta review ${d.item_external_id} belongs to ${owner}, and ${d.confirmed_by} is not mapped to that reviewer ` +
              '(OKTA_REVIEWER_MODE=mapped; see OKTA_REVIEWER_MAP). Nothing was recorded on Okta; the reviewer can decide it in Okta.',
          };
        }
      }
      const note = clip(
        redactSecrets(
          `Reassigned from ${owner} to Attest to record the decision ${d.confirmed_by} confirmed via ${d.channel}.`,
          this.secrets,
        ),
      );
      try {
        await this.raw.reassign(campaignId, {
          reviewerId: actor,
          reviewIds: [d.item_external_id],
          note,
          ...(level === null ? {} : { reviewerLevel: level }),
        });
      } catch (e) {
        return failedOutcome(e, OPS.reassign, this.secrets);
      }
    }
    try {
      await this.raw.submitActions(
        campaignId,
        [{ reviewId: d.item_external_id, action, note: decisionNote(d, this.secrets) }],
        level,
      );
    } catch (e) {
      return failedOutcome(e, OPS.decide, this.secrets);
    }
    return { status: 'done', platform_ref: ref };
  }

  /** Attest's own Okta user id: OKTA_ACTOR_ID (an id or a login), or the API token's user. */
  private actor(): Promise<string> {
    this.actorId ??= (async () => {
      const configured = this.config.reviews.actor;
      const user = configured === null ? await this.raw.me() : await this.raw.user(configured);
      const id = field(user, 'id');
      if (typeof id !== 'string') throw Object.assign(new Error('no user id'), { status: 404 });
      return id;
    })();
    this.actorId.catch(() => {
      this.actorId = null;
    });
    return this.actorId;
  }

  /** Whether the confirming principal is the review's reviewer, by OKTA_REVIEWER_MAP or the reviewer's login/email. */
  private async mappedReviewer(
    principal: string,
    reviewer: unknown,
    reviewerId: string | null,
  ): Promise<boolean> {
    if (reviewerId === null) return false;
    const key = principal.toLowerCase();
    const mapped = this.config.reviews.map[key];
    const names = [field(reviewer, 'login'), field(reviewer, 'email'), reviewerId]
      .filter((x): x is string => typeof x === 'string')
      .map((x) => x.toLowerCase());
    if (mapped === undefined) return names.includes(key);
    if (names.includes(mapped.toLowerCase())) return true;
    try {
      return field(await this.raw.user(mapped), 'id') === reviewerId;
    } catch {
      return false;
    }
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

function reviewerLabel(reviewer: unknown, id: string | null): string {
  const email = field(reviewer, 'email');
  return typeof email === 'string' && email !== '' ? `${email} (${id ?? 'no id'})` : (id ?? 'no reviewer');
}

const clip = (text: string) => (text.length > NOTE_MAX ? `${text.slice(0, NOTE_MAX - 1)}…` : text);

/** The justification Okta shows on the review: the rationale and who confirmed it, through which channel. */
function decisionNote(d: DecisionToApply, secrets: readonly string[]): string {
  const origin = d.engine_recommended ? 'AI-recommended' : 'Not AI-recommended';
  const trailer = `${origin}; proposed by ${d.proposed_by}, confirmed by ${d.confirmed_by} via ${d.channel}.`;
  const rationale = redactSecrets(d.rationale.trim(), secrets);
  const room = NOTE_MAX - trailer.length - 2;
  return `${rationale.length > room ? `${rationale.slice(0, room - 1)}…` : rationale}\n${trailer}`;
}
