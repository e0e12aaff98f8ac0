import type { EmployeeType, UserStatus } from '../../domain/index.js';
import type {
  ActivityRecord,
  CampaignRecord,
  EntitlementRecord,
  ReviewItemRecord,
  UserRecord,
} from '../../domain/sync.js';

/**
 * External ids in the store (which prefixes each with `okta:`):
 * - user:  the Okta user id (`00u…`)
 * - group: the Okta group id (`00g…`), unchanged
 * - app:   `app:<appId>` (`app:0oa…`): an app assignment, direct or through a group
 * - role:  `role:<type>` for a standard admin role (`role:SUPER_ADMIN`), `role:<roleId>`
 *          for a custom role (`role:cr0…`); the resource set is not part of the id
 * - campaign / review item: the IGA campaign id (`ici…`) / review id (`icr…`)
 * remediate() and IGA resource mapping parse these back with `parseEntitlementId`.
 */
export const entitlementIds = {
  group: (groupId: string) => groupId,
  app: (appId: string) => `app:${appId}`,
  role: (key: string) => `role:${key}`,
};

export type ParsedEntitlement =
  | { kind: 'group'; groupId: string }
  | { kind: 'app'; appId: string }
  | { kind: 'role'; role: string };

export function parseEntitlementId(externalId: string): ParsedEntitlement {
  if (externalId.startsWith('app:')) return { kind: 'app', appId: externalId.slice(4) };
  if (externalId.startsWith('role:')) return { kind: 'role', role: externalId.slice(5) };
  return { kind: 'group', groupId: externalId };
}

/** Okta ids are a three-character type prefix and 17 more characters; used to trust ids not fetched this sync. */
export const looksLikeOktaId = (prefix: '00u' | '00g' | '0oa', id: string) =>
  id.startsWith(prefix) && /^[0-9A-Za-z]{20}$/.test(id);

/** The app label sign-ins to Okta itself are recorded under. */
export const OKTA_APP = 'Okta';
/**
 * Admin roles are "used" through the Admin Console, which Okta records as SSO to
 * its built-in app of this label (unconfirmed: the label is the one Okta shows).
 */
export const ADMIN_CONSOLE_APP = 'Okta Admin Console';

/** Reads a field of an SDK model or plain JSON object without trusting its type. */
export function field(obj: unknown, key: string): unknown {
  return obj !== null && typeof obj === 'object' ? (obj as Record<string, unknown>)[key] : undefined;
}

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/** SDK v8 turns date fields into Date objects; raw JSON keeps strings. Either way, canonical ISO or null. */
export function isoOf(v: unknown): string | null {
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
  if (typeof v === 'string' && v !== '') {
    const t = Date.parse(v);
    return Number.isNaN(t) ? null : new Date(t).toISOString();
  }
  return null;
}

export function mapUserStatus(status: unknown): UserStatus {
  if (status === 'SUSPENDED') return 'suspended';
  if (status === 'DEPROVISIONED') return 'deprovisioned';
  // STAGED, PROVISIONED, RECOVERY, LOCKED_OUT and PASSWORD_EXPIRED accounts still exist and keep their access.
  return 'active';
}

/** employeeType and userType are free text in Okta; map the usual words, default employee. */
export function mapEmployeeType(...values: unknown[]): EmployeeType {
  const v = values.map((x) => (typeof x === 'string' ? x.toLowerCase() : '')).join(' ');
  if (/contract|vendor|temp|extern|consult|partner|freelanc/.test(v)) return 'contractor';
  if (/service|system|bot|machine|non-?human/.test(v)) return 'service';
  return 'employee';
}

/** A user record; `manager_external_id` still holds the raw profile.managerId, resolved by the caller. */
export function userRecord(u: unknown): UserRecord | null {
  const id = text(field(u, 'id'));
  if (id === null) return null;
  const p = field(u, 'profile');
  const first = text(field(p, 'firstName'));
  const last = text(field(p, 'lastName'));
  const city = text(field(p, 'city'));
  const country = text(field(p, 'countryCode'));
  const attributes: Record<string, string> = { okta_status: String(field(u, 'status') ?? 'UNKNOWN') };
  for (const [k, name] of [
    ['login', 'login'],
    ['employeeNumber', 'employee_number'],
    ['costCenter', 'cost_center'],
    ['division', 'division'],
    ['organization', 'organization'],
    ['employeeType', 'okta_employee_type'],
    ['userType', 'okta_user_type'],
    ['managerId', 'okta_manager_id'],
  ] as const) {
    const v = text(field(p, k));
    if (v !== null) attributes[name] = v;
  }
  return {
    external_id: id,
    email: text(field(p, 'email')),
    name: text(field(p, 'displayName')) ?? ([first, last].filter(Boolean).join(' ') || null),
    department: text(field(p, 'department')),
    title: text(field(p, 'title')),
    manager_external_id: text(field(p, 'managerId')),
    location: [city, country].filter(Boolean).join(', ') || null,
    status: mapUserStatus(field(u, 'status')),
    employee_type: mapEmployeeType(field(p, 'employeeType'), field(p, 'userType')),
    last_sign_in: isoOf(field(u, 'lastLogin')),
    attributes,
    src: { file: 'okta:users', line: 0 },
  };
}

export function groupRecord(g: unknown, app: string | null): EntitlementRecord | null {
  const id = text(field(g, 'id'));
  if (id === null) return null;
  const p = field(g, 'profile');
  const type = String(field(g, 'type') ?? 'OKTA_GROUP');
  return {
    external_id: entitlementIds.group(id),
    name: text(field(p, 'name')) ?? id,
    type: 'group',
    app,
    privileged: false,
    sensitivity: 'medium',
    description: text(field(p, 'description')),
    attributes: { okta_kind: 'group', okta_id: id, okta_group_type: type },
    src: { file: 'okta:groups', line: 0 },
  };
}

export function appRecord(a: unknown): EntitlementRecord | null {
  const id = text(field(a, 'id'));
  if (id === null) return null;
  const label = appLabel(a);
  const attributes: Record<string, string> = { okta_kind: 'app', okta_id: id };
  for (const [k, name] of [
    ['name', 'okta_app_name'],
    ['status', 'okta_status'],
    ['signOnMode', 'okta_sign_on_mode'],
  ] as const) {
    const v = text(field(a, k));
    if (v !== null) attributes[name] = v;
  }
  return {
    external_id: entitlementIds.app(id),
    name: label,
    type: 'app',
    app: label,
    privileged: false,
    sensitivity: 'medium',
    description: null,
    attributes,
    src: { file: 'okta:apps', line: 0 },
  };
}

export const appLabel = (a: unknown) =>
  text(field(a, 'label')) ?? text(field(a, 'name')) ?? String(field(a, 'id'));

/** The id key of a role assignment: the type for standard roles, the custom role's id for CUSTOM. */
export function roleKey(r: unknown): string | null {
  const type = text(field(r, 'type'));
  if (type === 'CUSTOM') return text(field(r, 'role')) ?? text(field(r, 'label'));
  return type;
}

export function roleRecord(r: unknown): EntitlementRecord | null {
  const key = roleKey(r);
  if (key === null) return null;
  const type = String(field(r, 'type'));
  return {
    external_id: entitlementIds.role(key),
    name: text(field(r, 'label')) ?? key,
    type: 'role',
    app: ADMIN_CONSOLE_APP,
    privileged: true,
    sensitivity: 'critical',
    description: `Okta admin role ${type === 'CUSTOM' ? `(custom ${key})` : type}`,
    attributes: { okta_kind: 'role', okta_role_type: type, okta_id: key },
    src: { file: 'okta:roles', line: 0 },
  };
}

/**
 * A sign-in from the System Log: `user.session.start` is a sign-in to Okta,
 * `user.authentication.sso` a sign-in to the app in its target. The app target's
 * type is unconfirmed ("AppInstance" is assumed), so a target whose id is a known
 * app also counts.
 */
export function activityRecord(e: unknown, appLabels: ReadonlyMap<string, string>): ActivityRecord | null {
  const actor = field(e, 'actor');
  const userId = text(field(actor, 'id'));
  const at = isoOf(field(e, 'published'));
  if (userId === null || at === null || (field(actor, 'type') ?? 'User') !== 'User') return null;
  const result = String(field(field(e, 'outcome'), 'result') ?? '');
  const outcome =
    result === 'SUCCESS' || result === 'ALLOW'
      ? 'success'
      : result === 'FAILURE' || result === 'DENY'
        ? 'failure'
        : null;
  if (outcome === null) return null;
  const eventType = field(e, 'eventType');
  if (eventType === 'user.session.start')
    return { user_external_id: userId, app: OKTA_APP, at, outcome, src: { file: 'okta:logs', line: 0 } };
  if (eventType !== 'user.authentication.sso') return null;
  const targets = Array.isArray(field(e, 'target')) ? (field(e, 'target') as unknown[]) : [];
  const target =
    targets.find((t) => field(t, 'type') === 'AppInstance') ??
    targets.find((t) => appLabels.has(String(field(t, 'id'))));
  if (target === undefined) return null;
  const app = appLabels.get(String(field(target, 'id'))) ?? text(field(target, 'displayName'));
  return app === null
    ? null
    : { user_external_id: userId, app, at, outcome, src: { file: 'okta:logs', line: 0 } };
}

export function campaignRecord(c: unknown): CampaignRecord | null {
  const id = text(field(c, 'id'));
  const status = field(c, 'status');
  if (id === null || (status !== 'ACTIVE' && status !== 'COMPLETED')) return null;
  return {
    external_id: id,
    name: text(field(c, 'name')) ?? id,
    created_at: isoOf(field(c, 'startDate')) ?? isoOf(field(c, 'created')),
    due_at: isoOf(field(c, 'endDate')),
    status: status === 'ACTIVE' ? 'active' : 'closed',
    attributes: {
      okta_status: String(status),
      ...(text(field(c, 'scheduleType')) ? { okta_schedule_type: String(field(c, 'scheduleType')) } : {}),
    },
    src: { file: 'okta:campaigns', line: 0 },
  };
}

/**
 * A review → a review item. `entitlementFor` maps the IGA resource id onto the
 * entitlement scheme above (null: not something this connector syncs).
 */
export function reviewRecord(
  r: unknown,
  entitlementFor: (resourceId: string) => string | null,
): ReviewItemRecord | null {
  const id = text(field(r, 'id'));
  const campaignId = text(field(r, 'campaignId'));
  const principal = field(r, 'principalProfile');
  const userId = text(field(principal, 'id'));
  const resourceId = text(field(r, 'resourceId'));
  if (id === null || campaignId === null || userId === null || resourceId === null) return null;
  if ((field(principal, 'type') ?? 'USER') !== 'USER') return null;
  const entitlement = entitlementFor(resourceId);
  if (entitlement === null) return null;
  const reviewer = text(field(field(r, 'reviewerProfile'), 'id'));
  const decision = field(r, 'decision');
  return {
    external_id: id,
    campaign_external_id: campaignId,
    user_external_id: userId,
    entitlement_external_id: entitlement,
    reviewer_external_id: reviewer,
    decided:
      decision === 'APPROVE' || decision === 'REVOKE'
        ? {
            decision: decision === 'APPROVE' ? 'approve' : 'revoke',
            decided_by: reviewer === null ? null : `okta:${reviewer}`,
            decided_at: isoOf(field(r, 'decided')),
          }
        : null,
    src: { file: 'okta:reviews', line: 0 },
  };
}
