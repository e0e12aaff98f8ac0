import { durationDays, hasMarker, markerOf, UNQUOTABLE, withMarker } from '../markers.js';
import type { ApplyOutcome, CampaignToCreate, CreateOutcome, RoleToCreate } from '../types.js';
import { failedOutcome, type Operation } from './errors.js';
import type { GraphApi } from './graph.js';
import { field, parseEntitlementId } from './mapping.js';

const AR = '/identityGovernance/accessReviews/definitions';

const OPS = {
  findReview: { action: 'looking for an access review made earlier', permission: 'AccessReview.Read.All' },
  createReview: { action: 'creating an access review', permission: 'AccessReview.ReadWrite.All' },
  findGroup: { action: 'looking for a group made earlier', permission: 'Group.ReadWrite.All' },
  createGroup: { action: 'creating a dynamic group', permission: 'Group.ReadWrite.All' },
  addMember: { action: "adding a member to the role's group", permission: 'GroupMember.ReadWrite.All' },
  assignApp: {
    action: "assigning an app role to the role's group",
    permission: 'AppRoleAssignment.ReadWrite.All',
  },
} satisfies Record<string, Operation>;

export const ENTRA_CAMPAIGN_PERMISSIONS = ['AccessReview.ReadWrite.All'] as const;
export const ENTRA_ROLE_PERMISSIONS = [
  'Group.ReadWrite.All',
  'AppRoleAssignment.ReadWrite.All',
  'GroupMember.ReadWrite.All (a role without an attribute pattern: its members are added)',
] as const;
/** More members than this are not added one by one: such a role wants an attribute pattern. */
const ASSIGNED_MAX = 500;

/** Store attribute → Entra user property a dynamic membership rule can test. */
const RULE_PROPERTY: Record<string, string> = {
  department: 'department',
  title: 'jobTitle',
  'attributes.employee_id': 'employeeId',
  'attributes.entra_employee_type': 'employeeType',
  'attributes.entra_user_type': 'userType',
};

// The display name limit (256) is Graph's for groups; for access review definitions it is
// unconfirmed and assumed the same. descriptionForAdmins' limit is unconfirmed: 256 is assumed.
const NAME_MAX = 256;
const DESCRIPTION_MAX = 256;
/** Graph documents 3072 characters as the longest membership rule. */
const RULE_MAX = 3072;

/** Why Entra cannot take this access review, or null. */
export function checkEntraCampaign(r: CampaignToCreate): string | null {
  const kinds = r.resources.map((x) => parseEntitlementId(x.external_id));
  const roles = kinds.filter((k) => k.kind === 'role').length;
  if (roles > 0)
    return `an Entra access review definition here covers groups and apps, not directory roles (${roles} role entitlement(s) in scope; those are reviewed through Privileged Identity Management); narrow the scope`;
  if (kinds.some((k) => k.kind === 'unknown')) return 'an entitlement in scope is not an Entra group or app';
  if (r.resources.length === 0) return 'no Entra group or app is in scope';
  if (r.user_external_ids.length === 0)
    return 'none of the people in scope has an Entra account in the store';
  if (r.reviewers.by === 'named' && !r.reviewers.reviewer_external_id)
    return 'the named reviewer has no Entra account in the store';
  if (r.reviewers.by === 'owner' && r.resources.length !== 1)
    return `an owner review names one resource's owners as reviewers; ${r.resources.length} groups/apps are in scope (review them one campaign each, or by manager or a named reviewer)`;
  if (r.name.length > NAME_MAX) return `an Entra access review name holds at most ${NAME_MAX} characters`;
  return null;
}

const userQuery = (id: string) => ({ query: `/users/${id}`, queryType: 'MicrosoftGraph' });

/** The resource an entitlement is, as a Graph query (a group, or the app's service principal). */
function resourceQuery(externalId: string): string {
  const e = parseEntitlementId(externalId);
  return e.kind === 'appRole'
    ? `/servicePrincipals/${e.spId}`
    : `/groups/${e.kind === 'group' ? e.groupId : ''}`;
}

/**
 * The access review definition of exactly these people's access to these groups and apps:
 * a principalResourceMembershipsScope (documented in v1.0) with one `/users/{id}` principal
 * scope per person and one resource scope per group or service principal. Whether Graph
 * accepts per-user principal scopes (its examples use `/users` or a group's members) is
 * unconfirmed. An app role entitlement is reviewed as its app: Graph's resource scopes name
 * the service principal, not one of its roles.
 */
export function entraReviewBody(r: CampaignToCreate): Record<string, unknown> {
  const resources = [...new Set(r.resources.map((x) => resourceQuery(x.external_id)))];
  const reviewers =
    r.reviewers.by === 'named'
      ? [userQuery(r.reviewers.reviewer_external_id!)]
      : r.reviewers.by === 'manager'
        ? [{ query: './manager', queryType: 'MicrosoftGraph', queryRoot: 'decisions' }]
        : // The owners of the one resource in scope (/servicePrincipals/{id}/owners for an app is unconfirmed).
          [{ query: `${resources[0]}/owners`, queryType: 'MicrosoftGraph' }];
  const fallback = r.reviewers.fallback_external_id;
  const days = durationDays(r.start_at, r.due_at);
  return {
    displayName: r.name,
    descriptionForAdmins: withMarker(r.description, r.idempotency_key, DESCRIPTION_MAX),
    descriptionForReviewers: r.description.slice(0, DESCRIPTION_MAX),
    scope: {
      '@odata.type': '#microsoft.graph.principalResourceMembershipsScope',
      principalScopes: r.user_external_ids.map((id) => ({
        '@odata.type': '#microsoft.graph.accessReviewQueryScope',
        ...userQuery(id),
      })),
      resourceScopes: resources.map((query) => ({
        '@odata.type': '#microsoft.graph.accessReviewQueryScope',
        query,
        queryType: 'MicrosoftGraph',
      })),
    },
    reviewers,
    fallbackReviewers: fallback && fallback !== r.reviewers.reviewer_external_id ? [userQuery(fallback)] : [],
    settings: {
      mailNotificationsEnabled: true,
      reminderNotificationsEnabled: true,
      justificationRequiredOnApproval: true,
      defaultDecisionEnabled: false,
      defaultDecision: 'None',
      instanceDurationInDays: days,
      // Attest removes revoked access itself, through its own outbox.
      autoApplyDecisionsEnabled: false,
      recommendationsEnabled: true,
      // A one-time review: the recurrence shape Graph's examples use for it (numbered, 0 occurrences) is assumed.
      recurrence: {
        pattern: { type: 'weekly', interval: 1 },
        range: {
          type: 'numbered',
          numberOfOccurrences: 0,
          startDate: r.start_at.slice(0, 10),
          endDate: new Date(Date.parse(r.start_at) + days * 86_400_000).toISOString().slice(0, 10),
        },
      },
    },
  };
}

/**
 * Creates (or finds, after a crash) the access review definition. The one an earlier
 * attempt made is found by the change marker in descriptionForAdmins, reading every
 * definition page by page (whether $filter can test descriptionForAdmins is unconfirmed).
 */
export async function createEntraReview(
  graph: GraphApi,
  r: CampaignToCreate,
  secrets: readonly string[],
): Promise<CreateOutcome> {
  let found: unknown = null;
  try {
    await graph.list(AR, { $top: '100', $select: 'id,displayName,descriptionForAdmins,status' }, (page) => {
      found ??= page.find((d) => hasMarker(field(d, 'descriptionForAdmins'), r.idempotency_key)) ?? null;
    });
  } catch (e) {
    return asCreateFailure(failedOutcome(e, OPS.findReview, secrets));
  }
  let made = found;
  if (!made) {
    try {
      made = await graph.post(AR, entraReviewBody(r));
    } catch (e) {
      return asCreateFailure(failedOutcome(e, OPS.createReview, secrets));
    }
  }
  const id = field(made, 'id');
  if (typeof id !== 'string')
    return {
      status: 'failed',
      retryable: false,
      error: 'Graph answered the access review creation without an id.',
    };
  return {
    status: 'done',
    platform_id: id,
    existed: found !== null,
    details: { entra_review_definition_id: id, entra_status: String(field(made, 'status') ?? 'NotStarted') },
  };
}

/** The dynamic membership rule for a pattern, or why it cannot be written safely. */
export function entraMembershipRule(pattern: Record<string, string>): { rule: string } | { error: string } {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(pattern).sort(([a], [b]) => a.localeCompare(b))) {
    const prop = RULE_PROPERTY[key];
    if (!prop)
      return {
        error: `the attribute ${JSON.stringify(key)} has no Entra user property a dynamic membership rule can test`,
      };
    // Graph's rule syntax is said to escape a double quote inside a value with a backtick; the
    // docs at hand do not confirm it, so a value with a quote, backtick, backslash or control
    // character is refused, never spliced in.
    if (UNQUOTABLE.test(value) || value === '' || value.length > 200)
      return {
        error: `the value ${JSON.stringify(value)} of ${key} cannot be quoted safely in an Entra membership rule`,
      };
    parts.push(`(user.${prop} -eq "${value}")`);
  }
  if (parts.length === 0) return { error: 'the role has no attribute pattern' };
  const rule = parts.join(' and ');
  if (rule.length > RULE_MAX)
    return { error: `the membership rule would exceed Graph's ${RULE_MAX} characters` };
  return { rule };
}

/** mailNickname: required even for a security group; the change id makes it unique and findable. */
const nicknameOf = (r: RoleToCreate) =>
  `attest-${r.idempotency_key.replace(/[^A-Za-z0-9_-]/g, '')}`.slice(0, 64);

/** A role with an attribute pattern becomes a dynamic group; one without, a group of its mined members. */
const isAssigned = (r: RoleToCreate) => Object.keys(r.pattern).length === 0;

export function checkEntraRole(r: RoleToCreate): string | null {
  if (isAssigned(r)) {
    if (r.member_external_ids.length === 0)
      return 'the role has no attribute pattern and none of its members has an Entra account in the store';
    if (r.member_external_ids.length > ASSIGNED_MAX)
      return `the role has no attribute pattern and ${r.member_external_ids.length} members (at most ${ASSIGNED_MAX} are added one by one)`;
    if (r.name.length > NAME_MAX) return `an Entra group name holds at most ${NAME_MAX} characters`;
    return null;
  }
  const e = entraMembershipRule(r.pattern);
  if ('error' in e) return e.error;
  if (r.name.length > NAME_MAX) return `an Entra group name holds at most ${NAME_MAX} characters`;
  return null;
}

export function planEntraRole(r: RoleToCreate): string[] {
  const e = entraMembershipRule(r.pattern);
  const lines = isAssigned(r)
    ? [
        `Entra security group ${JSON.stringify(r.name)} (assigned membership, mailNickname ${nicknameOf(r)})`,
        `add the role's ${r.member_external_ids.length} mined member(s) to it: ${r.member_external_ids.join(', ')}`,
      ]
    : [
        `Entra security group ${JSON.stringify(r.name)} (dynamic membership, processing On, mailNickname ${nicknameOf(r)})`,
        `membership rule: ${'rule' in e ? e.rule : `(refused: ${e.error})`}`,
      ];
  for (const x of r.entitlements) {
    const p = parseEntitlementId(x.external_id);
    lines.push(
      p.kind === 'appRole'
        ? `assign app role ${JSON.stringify(x.name)} (${p.appRoleId} of ${p.spId}) to the group`
        : `not granted through the group (${p.kind === 'group' ? 'a nested group does not pass on what the outer group grants in Entra' : p.kind === 'role' ? 'directory roles need a role-assignable group, which cannot be dynamic' : 'not Entra access'}): ${JSON.stringify(x.name)}`,
    );
  }
  return lines;
}

/**
 * Creates the dynamic group (or, for a role without a pattern, an assigned group and its mined
 * members) and assigns it the role's app roles, each step finding what an earlier attempt made
 * first: the group by its mailNickname (which carries the change id) and the marker in its
 * description; a member or an app role the group already has is not added again.
 */
export async function createEntraRole(
  graph: GraphApi,
  r: RoleToCreate,
  secrets: readonly string[],
): Promise<CreateOutcome> {
  const assigned = isAssigned(r);
  const e = assigned ? { rule: null } : entraMembershipRule(r.pattern);
  if ('error' in e) return { status: 'failed', retryable: false, error: e.error };
  const nickname = nicknameOf(r);
  let groupId: string | null = null;
  try {
    await graph.list(
      '/groups',
      { $filter: `mailNickname eq '${nickname}'`, $select: 'id,description,mailNickname' },
      (page) => {
        const g = page.find((x) => hasMarker(field(x, 'description'), r.idempotency_key));
        if (g && !groupId) groupId = String(field(g, 'id'));
      },
    );
  } catch (err) {
    return asCreateFailure(failedOutcome(err, OPS.findGroup, secrets));
  }
  const existed = groupId !== null;
  if (!groupId) {
    try {
      const g = await graph.post('/groups', {
        displayName: r.name,
        description: withMarker(r.description, r.idempotency_key, 1024),
        mailEnabled: false,
        mailNickname: nickname,
        securityEnabled: true,
        ...(e.rule === null
          ? { groupTypes: [] }
          : {
              groupTypes: ['DynamicMembership'],
              membershipRule: e.rule,
              membershipRuleProcessingState: 'On',
            }),
      });
      groupId = typeof field(g, 'id') === 'string' ? String(field(g, 'id')) : null;
    } catch (err) {
      return asCreateFailure(failedOutcome(err, OPS.createGroup, secrets));
    }
    if (!groupId)
      return {
        status: 'failed',
        retryable: false,
        error: 'Graph answered the group creation without an id.',
      };
  }
  if (assigned) {
    const g = encodeURIComponent(groupId);
    try {
      // Members an earlier attempt added are read first and not added again (Graph refuses a duplicate).
      const present = new Set<string>();
      await graph.list(`/groups/${g}/members`, { $select: 'id', $top: '999' }, (page) => {
        for (const m of page) present.add(String(field(m, 'id')));
      });
      for (const id of r.member_external_ids)
        if (!present.has(id))
          await graph.post(`/groups/${g}/members/$ref`, {
            '@odata.id': `${graph.baseUrl}/v1.0/directoryObjects/${encodeURIComponent(id)}`,
          });
    } catch (err) {
      return asCreateFailure(failedOutcome(err, OPS.addMember, secrets));
    }
  }
  const appRoles: string[] = [];
  for (const x of r.entitlements) {
    const p = parseEntitlementId(x.external_id);
    if (p.kind !== 'appRole') continue;
    const sp = `/servicePrincipals/${encodeURIComponent(p.spId)}/appRoleAssignedTo`;
    try {
      let held = false;
      await graph.list(sp, { $top: '999' }, (page) => {
        if (page.some((a) => field(a, 'principalId') === groupId && field(a, 'appRoleId') === p.appRoleId))
          held = true;
      });
      if (!held) await graph.post(sp, { principalId: groupId, resourceId: p.spId, appRoleId: p.appRoleId });
      appRoles.push(`${p.spId}:${p.appRoleId}`);
    } catch (err) {
      return asCreateFailure(failedOutcome(err, OPS.assignApp, secrets));
    }
  }
  return {
    status: 'done',
    platform_id: groupId,
    existed,
    details: {
      entra_group_id: groupId,
      ...(e.rule === null ? { members_added: r.member_external_ids.length } : { membership_rule: e.rule }),
      entra_app_roles: appRoles,
      marker: markerOf(r.idempotency_key),
    },
  };
}

function asCreateFailure(o: ApplyOutcome): CreateOutcome {
  return o.status === 'failed'
    ? { status: 'failed', retryable: o.retryable, error: o.error }
    : { status: 'failed', retryable: false, error: 'unexpected outcome' };
}
