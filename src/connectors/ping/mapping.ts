import type { Sensitivity } from '../../domain/index.js';
import type { EntitlementRecord, UserRecord } from '../../domain/sync.js';
import { isoOf, mapEmployeeType } from '../okta/mapping.js';
import type { AttributeMap } from './config.js';
import type { AicItem, P1Application, P1Group, P1User } from './schemas.js';

/**
 * External ids in the store (which prefixes each with `ping:`):
 * - PingOne user: its id; a user known only to Advanced Identity Cloud: `aic:user:<id>`
 * - group: `group:<id>`; admin role assignment: `role:<roleId>:<scope type>:<scope id>`
 * - PingOne Authorize application role: `approle:<id>`; access to an application: `app:<id>`
 * - AIC access not in the directory: `aic:app:<applicationId>`, `aic:entitlement:<id>`, `aic:role:<id>`
 * - campaign: `aic:<certificationId>`, or `directory:<environmentId>` for Attest's own review;
 *   review item: `aic:<certificationId>:<itemId>`
 */
export const ids = {
  group: (id: string) => `group:${id}`,
  role: (roleId: string, scopeType: string, scopeId: string) =>
    `role:${roleId}:${scopeType.toLowerCase()}:${scopeId}`,
  appRole: (id: string) => `approle:${id}`,
  app: (id: string) => `app:${id}`,
  aicUser: (id: string) => `aic:user:${id}`,
  aicApp: (id: string) => `aic:app:${id}`,
  aicEntitlement: (id: string) => `aic:entitlement:${id}`,
  aicRole: (id: string) => `aic:role:${id}`,
  aicCampaign: (id: string) => `aic:${id}`,
  aicItem: (cert: string, item: string) => `aic:${cert}:${item}`,
  directoryCampaign: (env: string) => `directory:${env}`,
};

export type ParsedEntitlement =
  | { kind: 'group'; groupId: string }
  | { kind: 'role'; roleId: string; scopeType: string; scopeId: string }
  | { kind: 'appRole'; appRoleId: string }
  | { kind: 'app'; appId: string }
  | { kind: 'aic' }
  | { kind: 'unknown' };

export function parseEntitlementId(id: string): ParsedEntitlement {
  if (id.startsWith('group:')) return { kind: 'group', groupId: id.slice(6) };
  const role = /^role:([^:]+):([^:]+):(.+)$/.exec(id);
  if (role) return { kind: 'role', roleId: role[1]!, scopeType: role[2]!.toUpperCase(), scopeId: role[3]! };
  if (id.startsWith('approle:')) return { kind: 'appRole', appRoleId: id.slice(8) };
  if (id.startsWith('app:')) return { kind: 'app', appId: id.slice(4) };
  if (id.startsWith('aic:')) return { kind: 'aic' };
  return { kind: 'unknown' };
}

/** Admin roles are used through the admin console; its sign-ons are recorded under this client name. */
export const ADMIN_CONSOLE_APP = 'PingOne Admin Console';
/** Roles that control the organization or the environment, whoever holds them. */
const CRITICAL_ROLES = new Set(['Organization Admin', 'Environment Admin', 'Custom Role Admin']);

const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() !== '' ? v.trim() : null);

/** A value at a dot path of a user (`address.locality`, a custom attribute `costCenter`). */
export function at(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

function scalar(v: unknown): string | null {
  if (typeof v === 'string') return text(v);
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  if (Array.isArray(v)) return v.map(scalar).filter(Boolean).join(', ') || null;
  return null;
}

/** The mapped field's value: each path's scalar value, joined with ", ". */
export function mapped(u: unknown, paths: readonly string[]): string | null {
  return (
    paths
      .map((p) => scalar(at(u, p)))
      .filter(Boolean)
      .join(', ') || null
  );
}

/** What a manager attribute holds: an id, username or email as text, or an object with an `id` or `value`. */
export function managerRef(u: unknown, paths: readonly string[]): string | null {
  for (const p of paths) {
    const v = at(u, p);
    const s =
      text(v) ?? text((v as { id?: unknown } | null)?.id) ?? text((v as { value?: unknown } | null)?.value);
    if (s !== null) return s;
  }
  return null;
}

/** A PingOne user; `manager_external_id` still holds the raw reference, resolved by the caller. */
export function userRecord(
  u: P1User,
  attrs: AttributeMap,
  populations: ReadonlyMap<string, string>,
): UserRecord {
  const name =
    text(u.name?.formatted) ??
    ([text(u.name?.given), text(u.name?.family)].filter(Boolean).join(' ') || null) ??
    text(u.username);
  const attributes: Record<string, string> = { enabled: String(u.enabled !== false) };
  const put = (k: string, v: unknown) => {
    const s = scalar(v);
    if (s !== null) attributes[k] = s;
  };
  put('username', u.username);
  put('population_id', u.population?.id);
  if (u.population?.id) put('population', populations.get(u.population.id));
  put('account_status', u.account?.status);
  put('lifecycle_status', u.lifecycle?.status);
  put('identity_provider', u.identityProvider?.type);
  put('pingone_type', at(u, 'type'));
  put('external_id', u.externalId);
  if (u.account?.canAuthenticate === false) attributes.can_authenticate = 'false';
  return {
    external_id: u.id,
    email: text(u.email),
    name,
    department: mapped(u, attrs.department),
    title: mapped(u, attrs.title),
    manager_external_id: managerRef(u, attrs.manager),
    location: mapped(u, attrs.location),
    // PingOne keeps no deleted users: a disabled account is the closest to "off".
    status: u.enabled === false ? 'suspended' : 'active',
    employee_type: mapEmployeeType(mapped(u, attrs.employee_type)),
    hired_at: isoOf(mapped(u, attrs.hired_at)),
    terminated_at: isoOf(mapped(u, attrs.terminated_at)),
    contract_end: isoOf(mapped(u, attrs.contract_end)),
    last_sign_in: isoOf(u.lastSignOn?.at ?? null),
    attributes,
    src: { file: 'ping:users', line: 0 },
  };
}

export function groupRecord(
  g: P1Group,
  o: { app: string | null; grantsRole: boolean; includes: string[] },
): EntitlementRecord {
  const attributes: Record<string, string> = {
    ping_kind: 'group',
    dynamic: String(text(g.userFilter) !== null),
    external: String(text(g.sourceType) !== null),
  };
  if (text(g.userFilter)) attributes.user_filter = g.userFilter!;
  if (text(g.sourceType)) attributes.source_type = g.sourceType!;
  if (g.population?.id) attributes.population_id = g.population.id;
  return {
    external_id: ids.group(g.id),
    name: text(g.displayName) ?? g.name,
    type: 'group',
    app: o.app,
    privileged: o.grantsRole,
    sensitivity: o.grantsRole ? 'high' : 'medium',
    description: text(g.description),
    includes: o.includes,
    attributes,
    src: { file: 'ping:groups', line: 0 },
  };
}

export function roleRecord(
  roleId: string,
  roleName: string,
  scope: { type: string; id: string; name: string | null },
): EntitlementRecord {
  const sensitivity: Sensitivity = CRITICAL_ROLES.has(roleName) ? 'critical' : 'high';
  const where =
    scope.type === 'ENVIRONMENT' ? '' : ` (${scope.type.toLowerCase()} ${scope.name ?? scope.id})`;
  return {
    external_id: ids.role(roleId, scope.type, scope.id),
    name: `${roleName}${where}`,
    type: 'role',
    app: ADMIN_CONSOLE_APP,
    privileged: true,
    sensitivity,
    description: `PingOne admin role ${roleName}, scoped to the ${scope.type.toLowerCase()} ${scope.name ?? scope.id}`,
    attributes: { ping_kind: 'admin_role', role_id: roleId, scope_type: scope.type, scope_id: scope.id },
    src: { file: 'ping:role-assignments', line: 0 },
  };
}

export function appRoleRecord(r: {
  id: string;
  name: string;
  description?: string | null;
}): EntitlementRecord {
  const admin = /admin|owner|manage|write|approve/i.test(r.name);
  return {
    external_id: ids.appRole(r.id),
    name: r.name,
    type: 'role',
    app: null,
    privileged: admin,
    sensitivity: admin ? 'high' : 'medium',
    description: text(r.description) ?? `PingOne Authorize application role ${r.name}`,
    attributes: { ping_kind: 'application_role', application_role_id: r.id },
    src: { file: 'ping:application-roles', line: 0 },
  };
}

export function appRecord(a: P1Application): EntitlementRecord {
  const group = a.accessControl?.group;
  return {
    external_id: ids.app(a.id),
    name: a.name,
    type: 'app',
    app: a.name,
    privileged: a.accessControl?.role?.type === 'ADMIN_USERS_ONLY',
    sensitivity: a.accessControl?.role?.type === 'ADMIN_USERS_ONLY' ? 'high' : 'medium',
    description: `Access to ${a.name} (granted through its groups)`,
    attributes: {
      ping_kind: 'application',
      application_id: a.id,
      enabled: String(a.enabled !== false),
      group_access: group?.type ?? 'NONE',
      access_groups: (group?.groups ?? []).map((g) => g.id).join(';'),
    },
    src: { file: 'ping:applications', line: 0 },
  };
}

/** What an AIC certification item is about: a role, an entitlement, or an application account. */
export function aicEntitlementOf(item: AicItem): EntitlementRecord | null {
  const appName = text(item.application?.name);
  const descriptor = (key: string) => text(item.descriptor?.idx?.[key]?.displayName);
  const base = { src: { file: 'ping:aic-items', line: 0 } };
  if (text(item.role?.id)) {
    const name = text(item.role?.name) ?? descriptor('/role') ?? item.role!.id!;
    return {
      ...base,
      external_id: ids.aicRole(item.role!.id!),
      name,
      type: 'role',
      app: appName,
      privileged: /admin|owner|privileg/i.test(name),
      sensitivity: 'medium',
      attributes: { ping_kind: 'aic_role', aic_role_id: item.role!.id! },
    };
  }
  if (text(item.entitlement?.id)) {
    const name = text(item.entitlement?.displayName) ?? descriptor('/entitlement') ?? item.entitlement!.id!;
    return {
      ...base,
      external_id: ids.aicEntitlement(item.entitlement!.id!),
      name,
      type: 'group',
      app: appName,
      privileged: /admin|owner|privileg/i.test(name),
      sensitivity: 'medium',
      attributes: {
        ping_kind: 'aic_entitlement',
        aic_entitlement_id: item.entitlement!.id!,
        ...(item.application?.id ? { aic_application_id: item.application.id } : {}),
      },
    };
  }
  if (text(item.application?.id)) {
    return {
      ...base,
      external_id: ids.aicApp(item.application!.id!),
      name: appName ?? descriptor('/account') ?? item.application!.id!,
      type: 'app',
      app: appName,
      privileged: false,
      sensitivity: 'medium',
      attributes: { ping_kind: 'aic_application', aic_application_id: item.application!.id! },
    };
  }
  return null;
}

/** The name a certification item's access goes by, for matching a PingOne group. */
export function aicAccessName(item: AicItem): string | null {
  return (
    text(item.entitlement?.displayName) ??
    text(item.descriptor?.idx?.['/entitlement']?.displayName) ??
    text(item.role?.name) ??
    null
  );
}

/** AIC decisions → Attest's: certify keeps, revoke removes, an exception is the review's "not now". */
export const FROM_AIC = { certify: 'approve', revoke: 'revoke', exception: 'escalate' } as const;
export const TO_AIC = { approve: 'certify', revoke: 'revoke', escalate: 'exception' } as const;
