import type { Sensitivity } from '../../domain/index.js';
import type { EntitlementRecord, UserRecord } from '../../domain/sync.js';
import { field, isoOf, mapEmployeeType } from '../okta/mapping.js';

export { field, isoOf };

/**
 * External ids in the store (which prefixes each with `entra:`):
 * - user: the object id
 * - group: `group:<objectId>`
 * - app role: `app:<servicePrincipalId>:<appRoleId>` (the all-zero role id is the app's default access)
 * - directory role: `role:<roleDefinitionId>`, with `@<directoryScopeId>` when not tenant-wide
 * - eligible (PIM) directory role: the same with `:eligible`
 * - campaign: the access review instance id; review item: `<instanceId>:<decisionId>`
 */
export const entitlementIds = {
  group: (id: string) => `group:${id}`,
  appRole: (spId: string, appRoleId: string) => `app:${spId}:${appRoleId}`,
  role: (definitionId: string, scope: string, eligible = false) =>
    `role:${definitionId}${scope && scope !== '/' ? `@${scope}` : ''}${eligible ? ':eligible' : ''}`,
};

export type ParsedEntitlement =
  | { kind: 'group'; groupId: string }
  | { kind: 'appRole'; spId: string; appRoleId: string }
  | { kind: 'role'; definitionId: string; scope: string; eligible: boolean }
  | { kind: 'unknown' };

export function parseEntitlementId(id: string): ParsedEntitlement {
  if (id.startsWith('group:')) return { kind: 'group', groupId: id.slice(6) };
  const app = /^app:([^:]+):([^:]+)$/.exec(id);
  if (app) return { kind: 'appRole', spId: app[1]!, appRoleId: app[2]! };
  const role = /^role:([^@:]+)(?:@([^:]+))?(:eligible)?$/.exec(id);
  if (role)
    return { kind: 'role', definitionId: role[1]!, scope: role[2] ?? '/', eligible: role[3] !== undefined };
  return { kind: 'unknown' };
}

export const DEFAULT_ACCESS = '00000000-0000-0000-0000-000000000000';
export const INTEGRATED_APP_TAG = 'WindowsAzureActiveDirectoryIntegratedApp';
/**
 * Roles that control the whole tenant, whoever holds them: Global Administrator and the
 * roles that can grant it or take over its holders (Privileged Role Administrator,
 * Privileged Authentication Administrator, Partner Tier2 Support). By template id.
 */
export const CRITICAL_ROLES = new Set([
  '62e90394-69f5-4237-9190-012177145e10',
  'e8611ab8-c189-46e8-94e1-60213ab1f814',
  '7be44c8a-adaf-4e2a-84d6-ab2649e08a13',
  'e00e864a-17c5-4a4b-9c06-f5b95a8d5bd8',
]);
/**
 * Directory roles are used through the admin portals; their sign-ins are recorded under this
 * application name (unconfirmed: "Azure Portal" is the name the sign-in log is known to show).
 */
export const ADMIN_PORTAL_APP = 'Azure Portal';

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v : null);

/** A zero date (`0001-01-01…`) or an empty value means never. */
export function signInDate(v: unknown): string | null {
  const s = text(v);
  if (s === null || s.startsWith('0001-01-01')) return null;
  return isoOf(s);
}

const latest = (...xs: Array<string | null>) =>
  xs.reduce<string | null>((a, b) => (b === null ? a : a === null || b > a ? b : a), null);

export const USER_SELECT = [
  'id',
  'displayName',
  'userPrincipalName',
  'mail',
  'accountEnabled',
  'userType',
  'externalUserState',
  'createdDateTime',
  'department',
  'jobTitle',
  'employeeType',
  'employeeId',
  'employeeHireDate',
  'onPremisesSyncEnabled',
  'officeLocation',
  'city',
  'country',
];

export function userRecord(u: unknown): UserRecord | null {
  const id = text(field(u, 'id'));
  if (id === null) return null;
  const s = field(u, 'signInActivity');
  const success = signInDate(field(s, 'lastSuccessfulSignInDateTime'));
  const interactive = signInDate(field(s, 'lastSignInDateTime'));
  const nonInteractive = signInDate(field(s, 'lastNonInteractiveSignInDateTime'));
  const guest = field(u, 'userType') === 'Guest';
  const attributes: Record<string, string> = { entra_user_type: guest ? 'Guest' : 'Member' };
  const put = (k: string, v: unknown) => {
    if (typeof v === 'string' && v !== '') attributes[k] = v;
    else if (typeof v === 'boolean') attributes[k] = String(v);
  };
  put('upn', field(u, 'userPrincipalName'));
  put('external_user_state', field(u, 'externalUserState'));
  put('employee_id', field(u, 'employeeId'));
  put('entra_employee_type', field(u, 'employeeType'));
  put('on_premises_sync', field(u, 'onPremisesSyncEnabled') === true);
  put('account_enabled', field(u, 'accountEnabled') !== false);
  if (s !== undefined && s !== null) {
    attributes.last_sign_in_interactive = interactive ?? 'never';
    attributes.last_sign_in_non_interactive = nonInteractive ?? 'never';
    attributes.last_successful_sign_in =
      success ?? (field(s, 'lastSuccessfulSignInDateTime') === undefined ? 'unknown' : 'never');
  }
  const location = [text(field(u, 'officeLocation')), text(field(u, 'city')), text(field(u, 'country'))]
    .filter(Boolean)
    .join(', ');
  return {
    external_id: id,
    email: text(field(u, 'mail')) ?? text(field(u, 'userPrincipalName')),
    name: text(field(u, 'displayName')),
    department: text(field(u, 'department')),
    title: text(field(u, 'jobTitle')),
    manager_external_id: text(field(field(u, 'manager'), 'id')),
    location: location || null,
    status: field(u, 'accountEnabled') === false ? 'suspended' : 'active',
    employee_type:
      guest && !text(field(u, 'employeeType')) ? 'contractor' : mapEmployeeType(field(u, 'employeeType')),
    hired_at: isoOf(field(u, 'employeeHireDate')),
    // Use, not attempts: the last successful sign-in (interactive or not, from December 2023); where Entra
    // has not filled it, the later of the interactive attempt and the non-interactive sign-in.
    last_sign_in:
      s === undefined || s === null
        ? undefined
        : field(s, 'lastSuccessfulSignInDateTime') !== undefined
          ? success
          : latest(interactive, nonInteractive),
    attributes,
    src: { file: 'entra:users', line: 0 },
  } as UserRecord;
}

export const GROUP_SELECT = [
  'id',
  'displayName',
  'description',
  'groupTypes',
  'securityEnabled',
  'mailEnabled',
  'membershipRule',
  'isAssignableToRole',
  'onPremisesSyncEnabled',
];

export function groupKind(
  g: unknown,
): 'microsoft365' | 'security' | 'distribution' | 'mail-enabled security' {
  const types = field(g, 'groupTypes');
  if (Array.isArray(types) && types.includes('Unified')) return 'microsoft365';
  const sec = field(g, 'securityEnabled') === true;
  const mail = field(g, 'mailEnabled') === true;
  return sec ? (mail ? 'mail-enabled security' : 'security') : 'distribution';
}

export function isDynamic(g: unknown): boolean {
  const types = field(g, 'groupTypes');
  return Array.isArray(types) && types.includes('DynamicMembership');
}

export function groupRecord(g: unknown, app: string | null, grantsRole: boolean): EntitlementRecord | null {
  const id = text(field(g, 'id'));
  if (id === null) return null;
  const attributes: Record<string, string> = {
    entra_kind: 'group',
    entra_id: id,
    group_kind: groupKind(g),
    dynamic: String(isDynamic(g)),
    role_assignable: String(field(g, 'isAssignableToRole') === true),
    on_premises_sync: String(field(g, 'onPremisesSyncEnabled') === true),
  };
  const rule = text(field(g, 'membershipRule'));
  if (rule) attributes.membership_rule = rule;
  return {
    external_id: entitlementIds.group(id),
    name: text(field(g, 'displayName')) ?? id,
    type: 'group',
    app,
    privileged: grantsRole,
    sensitivity: grantsRole ? 'high' : 'medium',
    description: text(field(g, 'description')),
    attributes,
    src: { file: 'entra:groups', line: 0 },
  };
}

export interface AppRole {
  id: string;
  displayName: string;
  value: string | null;
}

export function appRolesOf(sp: unknown): AppRole[] {
  const roles = field(sp, 'appRoles');
  const out: AppRole[] = [{ id: DEFAULT_ACCESS, displayName: 'Default Access', value: null }];
  if (!Array.isArray(roles)) return out;
  for (const r of roles) {
    const id = text(field(r, 'id'));
    if (id === null || id === DEFAULT_ACCESS) continue;
    out.push({ id, displayName: text(field(r, 'displayName')) ?? id, value: text(field(r, 'value')) });
  }
  return out;
}

export function appRoleRecord(spId: string, appId: string, app: string, role: AppRole): EntitlementRecord {
  const admin = /admin|owner|manage|write/i.test(`${role.displayName} ${role.value ?? ''}`);
  return {
    external_id: entitlementIds.appRole(spId, role.id),
    name: role.id === DEFAULT_ACCESS ? app : `${app}: ${role.displayName}`,
    type: 'app',
    app,
    privileged: admin,
    sensitivity: admin ? 'high' : 'medium',
    description:
      role.id === DEFAULT_ACCESS ? `Access to ${app}` : `${app} app role ${role.value ?? role.displayName}`,
    attributes: {
      entra_kind: 'app_role',
      service_principal_id: spId,
      app_id: appId,
      app_role_id: role.id,
      ...(role.value ? { app_role_value: role.value } : {}),
    },
    src: { file: 'entra:app-roles', line: 0 },
  };
}

export function roleRecord(def: unknown, scope: string, eligible: boolean): EntitlementRecord | null {
  const id = text(field(def, 'id'));
  if (id === null) return null;
  const template = text(field(def, 'templateId')) ?? id;
  const name = text(field(def, 'displayName')) ?? id;
  const sensitivity: Sensitivity = CRITICAL_ROLES.has(template)
    ? 'critical'
    : field(def, 'isPrivileged') === true
      ? 'high'
      : 'medium';
  return {
    external_id: entitlementIds.role(id, scope, eligible),
    name: `${name}${scope !== '/' ? ` (${scope})` : ''}${eligible ? ' (eligible)' : ''}`,
    type: 'role',
    app: ADMIN_PORTAL_APP,
    privileged: true,
    sensitivity,
    description: text(field(def, 'description')),
    attributes: {
      entra_kind: 'directory_role',
      role_definition_id: id,
      template_id: template,
      directory_scope_id: scope,
      assignment: eligible ? 'eligible' : 'active',
    },
    src: { file: 'entra:roles', line: 0 },
  };
}
