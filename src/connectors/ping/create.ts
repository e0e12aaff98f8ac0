import { hasMarker, markerOf, UNQUOTABLE, withMarker } from '../markers.js';
import type { CreateOutcome, RoleToCreate } from '../types.js';
import type { PingOneApi } from './api.js';
import type { AttributeMap } from './config.js';
import { failedOutcome, type Operation } from './errors.js';
import { parseEntitlementId } from './mapping.js';
import { p1Group } from './schemas.js';

const OPS = {
  findGroup: {
    surface: 'pingone',
    action: 'looking for a group made earlier',
    need: 'Identity Data Read-Only Admin',
  },
  createGroup: { surface: 'pingone', action: 'creating a dynamic group', need: 'Identity Data Admin' },
} satisfies Record<string, Operation>;

export const PING_ROLE_PERMISSIONS = [
  'PingOne: Identity Data Admin (creates groups) on the environment',
] as const;

// PingOne's limits on a group's name and description are unconfirmed; Okta's and Entra's are assumed.
const NAME_MAX = 256;
const DESCRIPTION_MAX = 1024;

/** Store attribute → the PingOne user attribute it is read from (one path only: a filter tests one attribute). */
function attributeOf(attributes: AttributeMap, key: string): string | null {
  const field = key === 'department' ? 'department' : key === 'title' ? 'title' : null;
  if (field === null) return null;
  const paths = attributes[field];
  return paths.length === 1 && /^[A-Za-z][\w.]*$/.test(paths[0]!) ? paths[0]! : null;
}

/**
 * The group's SCIM `userFilter` for a pattern (`department eq "Field Sales"`), or why it cannot
 * be written safely. SCIM string values are JSON strings (RFC 7644 §3.4.2.2), so a quote would be
 * written \"; whether PingOne's filter parser honours that escape is unconfirmed, so a value with a
 * quote, backslash, backtick or control character is refused instead.
 */
export function pingUserFilter(
  attributes: AttributeMap,
  pattern: Record<string, string>,
): { filter: string } | { error: string } {
  const parts: string[] = [];
  for (const [key, value] of Object.entries(pattern).sort(([a], [b]) => a.localeCompare(b))) {
    const attr = attributeOf(attributes, key);
    if (!attr)
      return {
        error: `the attribute ${JSON.stringify(key)} has no single PingOne user attribute a group's user filter can test`,
      };
    if (UNQUOTABLE.test(value) || value === '' || value.length > 200)
      return {
        error: `the value ${JSON.stringify(value)} of ${key} cannot be quoted safely in a PingOne user filter`,
      };
    parts.push(`${attr} eq ${JSON.stringify(value)}`);
  }
  if (parts.length === 0) return { error: 'the role has no attribute pattern' };
  return { filter: parts.length === 1 ? parts[0]! : parts.map((p) => `(${p})`).join(' and ') };
}

export function checkPingRole(
  attributes: AttributeMap,
  hasDirectory: boolean,
  r: RoleToCreate,
): string | null {
  if (!hasDirectory)
    return 'PingOne is not configured (PINGONE_*): a role group is made in the PingOne directory';
  if (Object.keys(r.pattern).length === 0)
    return 'a PingOne role group is a dynamic group made from the attribute pattern; this role has none';
  const f = pingUserFilter(attributes, r.pattern);
  if ('error' in f) return f.error;
  if (r.name.length > NAME_MAX) return `a PingOne group name holds at most ${NAME_MAX} characters here`;
  return null;
}

export function planPingRole(attributes: AttributeMap, r: RoleToCreate): string[] {
  const f = pingUserFilter(attributes, r.pattern);
  const lines = [
    `PingOne group ${JSON.stringify(r.name)} with user filter ${'filter' in f ? f.filter : `(refused: ${f.error})`}`,
  ];
  for (const x of r.entitlements) {
    const p = parseEntitlementId(x.external_id);
    const why =
      p.kind === 'app'
        ? "an application's access is set by its access-control groups: add the group there"
        : p.kind === 'group'
          ? 'nesting the group is not done by Attest'
          : p.kind === 'role'
            ? 'admin roles are assigned by an admin'
            : p.kind === 'appRole'
              ? 'PingOne Authorize application roles are assigned by an admin'
              : 'Advanced Identity Cloud access is granted there';
    lines.push(`not granted through the group (${why}): ${JSON.stringify(x.name)}`);
  }
  return lines;
}

/**
 * Creates the dynamic group, or finds the one an earlier attempt made by the marker in its
 * description (every group is read, page by page: a name filter cannot be trusted to quote
 * every name, and PingOne documents no filter on descriptions).
 */
export async function createPingRole(
  api: PingOneApi,
  attributes: AttributeMap,
  r: RoleToCreate,
  secrets: readonly string[],
): Promise<CreateOutcome> {
  const f = pingUserFilter(attributes, r.pattern);
  if ('error' in f) return { status: 'failed', retryable: false, error: f.error };
  let groupId: string | null = null;
  try {
    await api.list('/groups', { limit: 1000 }, ['groups'], p1Group, 'groups', (page) => {
      const g = page.find((x) => hasMarker(x.description, r.idempotency_key));
      if (g && !groupId) groupId = g.id;
    });
  } catch (e) {
    return asCreateFailure(failedOutcome(e, OPS.findGroup, secrets));
  }
  const existed = groupId !== null;
  if (!groupId) {
    try {
      const g = await api.post(
        '/groups',
        {
          name: r.name,
          description: withMarker(r.description, r.idempotency_key, DESCRIPTION_MAX),
          userFilter: f.filter,
        },
        p1Group,
        'the created group',
      );
      groupId = g.id;
    } catch (e) {
      return asCreateFailure(failedOutcome(e, OPS.createGroup, secrets));
    }
  }
  return {
    status: 'done',
    platform_id: groupId,
    existed,
    details: { pingone_group_id: groupId, user_filter: f.filter, marker: markerOf(r.idempotency_key) },
  };
}

function asCreateFailure(o: ReturnType<typeof failedOutcome>): CreateOutcome {
  return o.status === 'failed'
    ? { status: 'failed', retryable: o.retryable, error: o.error }
    : { status: 'failed', retryable: false, error: 'unexpected outcome' };
}
