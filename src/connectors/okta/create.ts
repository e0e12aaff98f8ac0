import { durationDays, hasMarker, markerOf, UNQUOTABLE, withMarker } from '../markers.js';
import type { CampaignToCreate, CreateOutcome, RoleToCreate } from '../types.js';
import { failedOutcome, type Operation } from './errors.js';
import { field, parseEntitlementId } from './mapping.js';
import type { RawApi } from './raw-api.js';

const OPS = {
  findCampaign: {
    action: 'looking for a campaign made earlier',
    scope: 'okta.governance.accessCertifications.read',
  },
  createCampaign: { action: 'creating a campaign', scope: 'okta.governance.accessCertifications.manage' },
  launch: { action: 'launching a campaign', scope: 'okta.governance.accessCertifications.manage' },
  findGroup: { action: 'looking for a group made earlier', scope: 'okta.groups.read' },
  createGroup: { action: 'creating a group', scope: 'okta.groups.manage' },
  rule: { action: 'creating a group rule', scope: 'okta.groups.manage' },
  assignApp: { action: 'assigning an app to the group', scope: 'okta.apps.manage' },
} satisfies Record<string, Operation>;

/** Store attribute → Okta user profile property, for group rule expressions. */
const PROFILE: Record<string, string> = {
  department: 'department',
  title: 'title',
  manager_id: 'managerId',
  'attributes.cost_center': 'costCenter',
  'attributes.division': 'division',
  'attributes.organization': 'organization',
  'attributes.employee_number': 'employeeNumber',
  'attributes.login': 'login',
  'attributes.okta_employee_type': 'employeeType',
  'attributes.okta_user_type': 'userType',
};

const NAME_MAX = 255;
const DESCRIPTION_MAX = 1000;
// Okta group rule names are short (50 characters in the Admin Console; the API limit is unconfirmed).
const RULE_NAME_MAX = 50;

export const OKTA_CAMPAIGN_SCOPES = [
  'okta.governance.accessCertifications.read',
  'okta.governance.accessCertifications.manage',
] as const;
export const OKTA_ROLE_SCOPES = ['okta.groups.read', 'okta.groups.manage', 'okta.apps.manage'] as const;

/** Why Okta cannot take this campaign, or null. */
export function checkOktaCampaign(r: CampaignToCreate): string | null {
  const roles = r.resources.filter((x) => parseEntitlementId(x.external_id).kind === 'role');
  if (roles.length > 0)
    return `Okta campaigns review groups and apps, not admin roles (${roles.length} admin-role entitlement(s) in scope); narrow the scope (e.g. by app or entitlement)`;
  if (r.resources.length === 0) return 'no Okta group or app is in scope';
  if (r.reviewers.by === 'named' && !r.reviewers.reviewer_external_id)
    return 'the named reviewer has no Okta account in the store';
  if (r.reviewers.by !== 'named' && !r.reviewers.fallback_external_id)
    return 'the fallback reviewer has no Okta account in the store (Okta needs one for a manager or owner review)';
  if (r.name.length > NAME_MAX) return `an Okta campaign name holds at most ${NAME_MAX} characters`;
  return null;
}

/** The Governance API body of a one-off resource campaign over exactly these groups/apps and people. */
export function oktaCampaignBody(r: CampaignToCreate): Record<string, unknown> {
  const targets = r.resources.map((x) => {
    const e = parseEntitlementId(x.external_id);
    return e.kind === 'app'
      ? { resourceId: e.appId, resourceType: 'APPLICATION' }
      : { resourceId: e.kind === 'group' ? e.groupId : x.external_id, resourceType: 'GROUP' };
  });
  const types = new Set(targets.map((t) => t.resourceType));
  // reviewerScopeExpression / fallBackReviewerId are the names Okta's Terraform provider and
  // governance SDKs use; the manager expression `user.profile.managerId` is unconfirmed.
  const reviewerSettings =
    r.reviewers.by === 'named'
      ? { type: 'USER', reviewerId: r.reviewers.reviewer_external_id }
      : r.reviewers.by === 'manager'
        ? {
            type: 'REVIEWER_EXPRESSION',
            reviewerScopeExpression: 'user.profile.managerId',
            fallBackReviewerId: r.reviewers.fallback_external_id,
          }
        : { type: 'RESOURCE_OWNER', fallBackReviewerId: r.reviewers.fallback_external_id };
  return {
    name: r.name,
    description: withMarker(r.description, r.idempotency_key, DESCRIPTION_MAX),
    campaignType: 'RESOURCE',
    scheduleSettings: {
      type: 'ONE_OFF',
      startDate: r.start_at,
      durationInDays: durationDays(r.start_at, r.due_at),
      timeZone: 'UTC',
    },
    resourceSettings: {
      type: types.size === 2 ? 'APPLICATION_AND_GROUP' : [...types][0],
      targetResources: targets,
    },
    principalScopeSettings: { type: 'USERS', userIds: r.user_external_ids, includeOnlyActiveUsers: false },
    reviewerSettings: { ...reviewerSettings, justificationRequired: true },
    // Attest removes revoked access itself (through its own outbox), so Okta is told to do nothing.
    remediationSettings: { accessApproved: 'NO_ACTION', accessRevoked: 'NO_ACTION', noResponse: 'NO_ACTION' },
  };
}

/**
 * Creates (or finds, after a crash) the campaign and launches it. The campaign made by an
 * earlier attempt is found by the change marker in its description among the campaigns of
 * the same name; one already launched is not launched again.
 */
export async function createOktaCampaign(
  raw: RawApi,
  r: CampaignToCreate,
  secrets: readonly string[],
): Promise<CreateOutcome> {
  let campaign: unknown = null;
  let existed = false;
  try {
    const query: Record<string, string> = { limit: '200' };
    // The filter quotes the name; a name Okta's filter could not quote safely is matched by reading every campaign.
    if (!UNQUOTABLE.test(r.name)) query.filter = `name eq "${r.name}"`;
    for await (const page of raw.pages('/governance/api/v1/campaigns', query)) {
      campaign = page.find((c) => hasMarker(field(c, 'description'), r.idempotency_key)) ?? null;
      if (campaign) break;
    }
  } catch (e) {
    return asCreateFailure(failedOutcome(e, OPS.findCampaign, secrets));
  }
  if (campaign) existed = true;
  else {
    try {
      campaign = await raw.send('/governance/api/v1/campaigns', 'POST', oktaCampaignBody(r));
    } catch (e) {
      return asCreateFailure(failedOutcome(e, OPS.createCampaign, secrets));
    }
  }
  const id = field(campaign, 'id');
  if (typeof id !== 'string')
    return {
      status: 'failed',
      retryable: false,
      error: 'Okta answered the campaign creation without an id.',
    };
  let status = String(field(campaign, 'status') ?? 'SCHEDULED');
  if (status === 'SCHEDULED') {
    try {
      await raw.send(`/governance/api/v1/campaigns/${encodeURIComponent(id)}/launch`, 'POST');
      status = 'LAUNCHING';
    } catch (e) {
      const failed = failedOutcome(e, OPS.launch, secrets);
      // 409: it left SCHEDULED meanwhile (another attempt launched it).
      if ((e as { status?: number }).status !== 409) return asCreateFailure(failed);
    }
  }
  return { status: 'done', platform_id: id, existed, details: { okta_campaign_id: id, okta_status: status } };
}

/** The Okta Expression Language condition for a pattern, or why it cannot be written safely. */
export function oktaRuleExpression(
  pattern: Record<string, string>,
): { expression: string } | { error: string } {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(pattern).sort(([a], [b]) => a.localeCompare(b))) {
    const prop = PROFILE[key];
    if (!prop)
      return {
        error: `the attribute ${JSON.stringify(key)} has no Okta profile property a group rule can test`,
      };
    // Okta's expression language documents no escape for quotes inside a string literal, so a
    // value holding one (or a backslash, a control character) is refused, never spliced in.
    if (UNQUOTABLE.test(value) || value.length > 200)
      return {
        error: `the value ${JSON.stringify(value)} of ${key} cannot be quoted safely in an Okta expression`,
      };
    parts.push(`user.${prop} == "${value}"`);
  }
  if (parts.length === 0) return { error: 'the role has no attribute pattern' };
  return { expression: parts.join(' AND ') };
}

export function checkOktaRole(r: RoleToCreate): string | null {
  if (Object.keys(r.pattern).length === 0)
    return 'an Okta role group needs an attribute pattern for its group rule; this role has none';
  const e = oktaRuleExpression(r.pattern);
  if ('error' in e) return e.error;
  if (r.name.length > NAME_MAX) return `an Okta group name holds at most ${NAME_MAX} characters`;
  return null;
}

const ruleNameOf = (r: RoleToCreate) => `Attest ${r.idempotency_key}`.slice(0, RULE_NAME_MAX);

export function planOktaRole(r: RoleToCreate): string[] {
  const e = oktaRuleExpression(r.pattern);
  const lines = [
    `Okta group ${JSON.stringify(r.name)} (OKTA_GROUP)`,
    `group rule ${JSON.stringify(ruleNameOf(r))}, activated: ${'expression' in e ? e.expression : `(refused: ${e.error})`}`,
  ];
  for (const x of r.entitlements) {
    const p = parseEntitlementId(x.external_id);
    lines.push(
      p.kind === 'app'
        ? `assign app ${JSON.stringify(x.name)} (${p.appId}) to the group`
        : `not granted through the group (${p.kind === 'group' ? 'Okta groups do not nest' : 'admin roles are assigned by an admin'}): ${JSON.stringify(x.name)}`,
    );
  }
  return lines;
}

/**
 * Creates the group, its rule (activated) and the app assignments, each step finding what
 * an earlier attempt made first: the group by its name and marker, the rule by its name
 * (which carries the change id); app assignments are PUTs, idempotent by nature.
 */
export async function createOktaRole(
  raw: RawApi,
  r: RoleToCreate,
  secrets: readonly string[],
): Promise<CreateOutcome> {
  const e = oktaRuleExpression(r.pattern);
  if ('error' in e) return { status: 'failed', retryable: false, error: e.error };
  let groupId: string | null = null;
  let existed = false;
  try {
    for await (const page of raw.pages('/api/v1/groups', { q: r.name, limit: '200' })) {
      const g = page.find((x) => hasMarker(field(field(x, 'profile'), 'description'), r.idempotency_key));
      if (g) groupId = String(field(g, 'id'));
      if (groupId) break;
    }
  } catch (err) {
    return asCreateFailure(failedOutcome(err, OPS.findGroup, secrets));
  }
  if (groupId) existed = true;
  else {
    try {
      const g = await raw.send('/api/v1/groups', 'POST', {
        profile: { name: r.name, description: withMarker(r.description, r.idempotency_key, DESCRIPTION_MAX) },
      });
      groupId = typeof field(g, 'id') === 'string' ? String(field(g, 'id')) : null;
    } catch (err) {
      return asCreateFailure(failedOutcome(err, OPS.createGroup, secrets));
    }
    if (!groupId)
      return { status: 'failed', retryable: false, error: 'Okta answered the group creation without an id.' };
  }
  const ruleName = ruleNameOf(r);
  let ruleId: string | null = null;
  let ruleStatus = 'INACTIVE';
  try {
    for await (const page of raw.pages('/api/v1/groups/rules', { search: ruleName, limit: '200' })) {
      const rule = page.find((x) => field(x, 'name') === ruleName);
      if (rule) {
        ruleId = String(field(rule, 'id'));
        ruleStatus = String(field(rule, 'status') ?? 'INACTIVE');
        break;
      }
    }
    if (!ruleId) {
      const rule = await raw.send('/api/v1/groups/rules', 'POST', {
        type: 'group_rule',
        name: ruleName,
        conditions: { expression: { type: 'urn:okta:expression:1.0', value: e.expression } },
        actions: { assignUserToGroups: { groupIds: [groupId] } },
      });
      ruleId = String(field(rule, 'id'));
    }
    if (ruleStatus !== 'ACTIVE')
      await raw.send(`/api/v1/groups/rules/${encodeURIComponent(ruleId)}/lifecycle/activate`, 'POST');
  } catch (err) {
    return asCreateFailure(failedOutcome(err, OPS.rule, secrets));
  }
  const apps: string[] = [];
  for (const x of r.entitlements) {
    const p = parseEntitlementId(x.external_id);
    if (p.kind !== 'app') continue;
    try {
      await raw.send(
        `/api/v1/apps/${encodeURIComponent(p.appId)}/groups/${encodeURIComponent(groupId)}`,
        'PUT',
        {},
      );
      apps.push(p.appId);
    } catch (err) {
      return asCreateFailure(failedOutcome(err, OPS.assignApp, secrets));
    }
  }
  return {
    status: 'done',
    platform_id: groupId,
    existed,
    details: {
      okta_group_id: groupId,
      okta_group_rule_id: ruleId,
      okta_app_ids: apps,
      marker: markerOf(r.idempotency_key),
    },
  };
}

function asCreateFailure(o: ReturnType<typeof failedOutcome>): CreateOutcome {
  return o.status === 'failed'
    ? { status: 'failed', retryable: o.retryable, error: o.error }
    : { status: 'failed', retryable: false, error: 'unexpected outcome' };
}
