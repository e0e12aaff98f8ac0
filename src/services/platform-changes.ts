import type { CampaignToCreate, IdentityConnector, RoleToCreate } from '../connectors/types.js';
import type { Platform } from '../domain/index.js';
import type { Store } from '../store/store.js';
import type { CampaignSpec } from './campaigns.js';
import { mineRolesFromStore, type ReportedRole } from './roles.js';

/** Platforms a confirmed change can create something on. */
export const CREATABLE_PLATFORMS = ['okta', 'entra', 'ping'] as const;
export type CreatablePlatform = (typeof CREATABLE_PLATFORMS)[number];

export type ConnectorLookup = (platform: Platform) => IdentityConnector | null;

/** The ids on one platform of the users that are on it (one query for the set), in the order given. */
function usersOn(store: Store, platform: string, ids: string[]): string[] {
  const refs = store.userRefs(ids);
  return ids.flatMap((id) => {
    const r = refs.get(id);
    return r && r.platform === platform ? [r.external_id] : [];
  });
}

/** A user's id on one platform (null when they are not on it). */
function userOn(store: Store, platform: string, id: string | null | undefined): string | null {
  if (!id) return null;
  const r = store.userRefs([id]).get(id);
  return r && r.platform === platform ? r.external_id : null;
}

/** The request a campaign's items make on the platform: its people, its groups/apps/roles, its reviewers. */
export function campaignRequest(
  store: Store,
  spec: CampaignSpec,
  changeId: string,
  platform: Platform,
  items: Array<{ user_id: string; entitlement_id: string }>,
  now: Date,
): CampaignToCreate {
  const users = [...new Set(items.map((i) => i.user_id))].sort();
  const ents = [...new Set(items.map((i) => i.entitlement_id))].sort();
  const refs = store.entitlementRefs(ents);
  const resources = ents.map((id) => {
    const e = refs.get(id)!;
    return { external_id: e.external_id, type: e.type, name: e.name };
  });
  return {
    idempotency_key: changeId,
    name: spec.name,
    description: `Risk-triggered review created by Attest: ${items.length} item(s) of ${users.length} person(s).`,
    start_at: now.toISOString(),
    due_at: spec.due_at ? new Date(spec.due_at).toISOString() : null,
    reviewers: {
      by: spec.reviewers.by,
      reviewer_external_id: userOn(store, platform, spec.reviewers.reviewer_id),
      fallback_external_id: userOn(store, platform, spec.reviewers.fallback_reviewer_id),
    },
    user_external_ids: usersOn(store, platform, users),
    resources,
  };
}

/** Why a campaign cannot be created on this platform (said before the human is asked), or null. */
export function refuseCampaignOn(
  connector: IdentityConnector | null,
  platform: Platform,
  request: CampaignToCreate,
): string | null {
  if (!connector)
    return `${platform} is not configured in this process (see attest sync ${platform} for its variables)`;
  if (!connector.campaigns)
    return connector.withheld?.campaigns ?? `the ${platform} connector cannot create campaigns`;
  return connector.campaigns.check(request);
}

/** What a role change holds (validated when proposed; the human confirms its summary). */
export interface RoleSpec {
  role_id: string;
  name: string;
  platform: CreatablePlatform;
  entitlement_ids: string[];
  /** Store attribute names and values (manager_id a store user id). */
  pattern: Record<string, string>;
  member_ids: string[];
}

/** The mined role of this id on this platform, mined afresh from the store. */
export function findMinedRole(store: Store, platform: Platform, roleId: string): ReportedRole | null {
  const report = mineRolesFromStore(store, { platform, leftoverLimit: 0, exceptionLimit: 0 });
  return report.roles.find((r) => r.role_id === roleId) ?? null;
}

/** The platform request of a role: attribute values and members in the platform's ids. */
export function roleRequest(store: Store, spec: RoleSpec, changeId: string): RoleToCreate {
  const pattern: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.pattern)) {
    // A manager is a store user; the platform knows them by its own id.
    pattern[k] = k === 'manager_id' ? (userOn(store, spec.platform, v) ?? `unknown manager ${v}`) : v;
  }
  const refs = store.entitlementRefs(spec.entitlement_ids);
  const entitlements = spec.entitlement_ids.map((id) => {
    const e = refs.get(id);
    return e
      ? { external_id: e.external_id, type: e.type, name: e.name }
      : { external_id: id, type: 'group' as const, name: id };
  });
  return {
    idempotency_key: changeId,
    name: spec.name,
    description: `Role mined by Attest (${spec.role_id}): ${spec.entitlement_ids.length} entitlement(s) held together by ${spec.member_ids.length} people.`,
    pattern,
    member_external_ids: usersOn(store, spec.platform, spec.member_ids),
    entitlements,
  };
}

export function refuseRoleOn(
  connector: IdentityConnector | null,
  platform: Platform,
  request: RoleToCreate,
): string | null {
  if (!connector)
    return `${platform} is not configured in this process (see attest sync ${platform} for its variables)`;
  if (!connector.roles) return connector.withheld?.roles ?? `the ${platform} connector cannot create roles`;
  return connector.roles.check(request);
}

/** One line for the human: the role and exactly what will be made (identity data JSON-quoted). */
export function roleSummary(spec: RoleSpec, plan: string[]): string {
  const pattern = Object.entries(spec.pattern)
    .map(([k, v]) => `${k} = ${JSON.stringify(v)}`)
    .join(' and ');
  return `Create role ${JSON.stringify(spec.name)} on ${spec.platform} (${spec.role_id}: ${spec.entitlement_ids.length} entitlement(s), ${spec.member_ids.length} member(s)${pattern ? `, members where ${pattern}` : ''}): ${plan.join('; ')}`;
}
