import type { ApplyOutcome, RemediationRequest } from '../types.js';
import type { PingOneApi } from './api.js';
import { failedOutcome, type Operation, statusOf } from './errors.js';
import { parseEntitlementId } from './mapping.js';
import { type P1Group, p1Group, p1Membership, p1Nesting, p1RoleAssignment } from './schemas.js';

const op = (action: string, need: string): Operation => ({ surface: 'pingone', action, need });
export const REMEDIATION_OPS = {
  member: op('removing the group membership', 'the Identity Data Admin role'),
  role: op(
    'removing the admin role assignment',
    'the Environment Admin role (or one that can assign this role)',
  ),
  appRole: op('removing the application role', 'the Identity Data Admin role and PingOne Authorize'),
};

const refuse = (error: string): ApplyOutcome => ({ status: 'failed', retryable: false, error });
const gone = (ref: string): ApplyOutcome => ({
  status: 'done',
  platform_ref: ref,
  detail: 'the access was already removed in PingOne',
});

/**
 * Removes revoked access in the PingOne directory: a direct group membership
 * (`DELETE …/users/{id}/memberOfGroups/{groupId}`), an admin role assignment
 * (`DELETE …/users/{id}/roleAssignments/{id}`) or a PingOne Authorize application role
 * (`DELETE …/users/{id}/applicationRoles/{id}`). Access already gone (a 404) counts as done.
 * What Attest cannot remove is refused for good, saying what to change: a dynamic group (its
 * filter), an external group (its source), access through a nested group or a group's role or
 * an application's access control, and access that is Advanced Identity Cloud's own.
 */
export class DirectoryRemediation {
  constructor(
    private readonly api: PingOneApi | null,
    private readonly secrets: readonly string[],
  ) {}

  async remove(r: RemediationRequest): Promise<ApplyOutcome> {
    const ent = parseEntitlementId(r.entitlement_external_id);
    if (ent.kind === 'aic' || r.user_external_id.startsWith('aic:'))
      return refuse(
        'This access is held in Advanced Identity Cloud, not in the PingOne directory: the certification removes it when it processes its revocations, or remove it in Advanced Identity Cloud.',
      );
    if (this.api === null)
      return refuse(
        'The PingOne directory is not configured (PINGONE_*): Attest cannot remove this access; remove it in PingOne.',
      );
    const u = encodeURIComponent(r.user_external_id);
    if (ent.kind === 'group') return this.membership(r.user_external_id, ent.groupId);
    if (ent.kind === 'role') {
      const ref = `ping:role:${ent.roleId}:${r.user_external_id}`;
      try {
        const held: Array<{ id: string; readOnly: boolean }> = [];
        await this.api.list(
          `/users/${u}/roleAssignments`,
          {},
          ['roleAssignments'],
          p1RoleAssignment,
          "the user's role assignments",
          (p) => {
            for (const a of p)
              if (
                a.role.id === ent.roleId &&
                a.scope.type.toUpperCase() === ent.scopeType &&
                a.scope.id === ent.scopeId
              )
                held.push({ id: a.id, readOnly: a.readOnly === true });
          },
        );
        if (held.some((a) => a.readOnly))
          return refuse(
            'PingOne marks this role assignment read-only for the Worker app (it may not remove roles it could not assign): remove it as an administrator who can.',
          );
        if (held.length === 0) {
          const group = await this.groupGrantingRole(r.user_external_id, ent);
          return group === null
            ? gone(ref)
            : refuse(
                `The role is assigned to the group ${group}: remove the user from that group, or remove the group's role assignment.`,
              );
        }
        for (const a of held) {
          try {
            await this.api.delete(`/users/${u}/roleAssignments/${encodeURIComponent(a.id)}`);
          } catch (e) {
            if (statusOf(e) !== 404) throw e;
          }
        }
      } catch (e) {
        return failedOutcome(e, REMEDIATION_OPS.role, this.secrets);
      }
      return { status: 'done', platform_ref: ref };
    }
    if (ent.kind === 'appRole') {
      const ref = `ping:application-role:${ent.appRoleId}:${r.user_external_id}`;
      try {
        await this.api.delete(`/users/${u}/applicationRoles/${encodeURIComponent(ent.appRoleId)}`);
      } catch (e) {
        if (statusOf(e) === 404) return gone(ref);
        return failedOutcome(e, REMEDIATION_OPS.appRole, this.secrets);
      }
      return { status: 'done', platform_ref: ref };
    }
    if (ent.kind === 'app') {
      const groups = (r.entitlement_attributes.access_groups ?? '').split(';').filter(Boolean).length;
      return refuse(
        `Access to this application comes from its access control (${groups} group${groups === 1 ? '' : 's'} in accessControl.group): remove the user from the group that grants it, or change the application's access control.`,
      );
    }
    return refuse(`${r.entitlement_external_id} is not access Attest can remove in PingOne.`);
  }

  private async membership(user: string, groupId: string): Promise<ApplyOutcome> {
    const api = this.api!;
    const ref = `ping:membership:${groupId}:${user}`;
    const u = encodeURIComponent(user);
    try {
      let group: P1Group;
      try {
        group = await api.get(`/groups/${encodeURIComponent(groupId)}`, {}, p1Group, 'a group');
      } catch (e) {
        if (statusOf(e) === 404) return gone(ref);
        throw e;
      }
      if (group.userFilter)
        return refuse(
          `${group.name} is a dynamic group (filter ${JSON.stringify(group.userFilter)}): PingOne adds and removes its members itself. ` +
            "Change the group's filter, or the user's attributes it reads, so the user no longer matches.",
        );
      if (group.sourceType)
        return refuse(
          `${group.name} is an external group (source ${group.sourceType}): its members come from its source. Remove the user from the group there; the change reaches PingOne with the next synchronisation.`,
        );
      const memberships: Array<{ id: string; name: string | null; direct: boolean }> = [];
      await api.list(
        `/users/${u}/memberOfGroups`,
        { limit: 1000 },
        ['groupMemberships', 'groups'],
        p1Membership,
        "the user's group memberships",
        (p) => {
          for (const m of p)
            memberships.push({ id: m.id, name: m.name ?? null, direct: m.type !== 'INDIRECT' });
        },
      );
      const held = memberships.find((m) => m.id === groupId);
      if (!held) return gone(ref);
      if (!held.direct) {
        const via = await this.nestedVia(
          groupId,
          memberships.filter((m) => m.direct && m.id !== groupId),
        );
        return refuse(
          `The membership of ${group.name} comes through the nested group ${via}: remove the user from that group instead.`,
        );
      }
      try {
        await api.delete(`/users/${u}/memberOfGroups/${encodeURIComponent(groupId)}`);
      } catch (e) {
        if (statusOf(e) !== 404) throw e;
        return gone(ref);
      }
    } catch (e) {
      return failedOutcome(e, REMEDIATION_OPS.member, this.secrets);
    }
    return { status: 'done', platform_ref: ref };
  }

  /** The user's direct group that is nested straight in `groupId`, by name; otherwise "another group". */
  private async nestedVia(
    groupId: string,
    direct: Array<{ id: string; name: string | null }>,
  ): Promise<string> {
    for (const g of direct) {
      let found = false;
      await this.api!.list(
        `/groups/${encodeURIComponent(g.id)}/memberOfGroups`,
        {},
        ['groupMemberships', 'groups'],
        p1Nesting,
        'group nesting',
        (p) => {
          if (p.some((n) => n.id === groupId)) found = true;
        },
      );
      if (found) return g.name ?? g.id;
    }
    return 'another group';
  }

  /** When a group the user is in holds the role: that group's name. */
  private async groupGrantingRole(
    user: string,
    ent: { roleId: string; scopeType: string; scopeId: string },
  ): Promise<string | null> {
    const groups: Array<{ id: string; name: string | null }> = [];
    await this.api!.list(
      `/users/${encodeURIComponent(user)}/memberOfGroups`,
      { limit: 1000 },
      ['groupMemberships', 'groups'],
      p1Membership,
      "the user's group memberships",
      (p) => {
        for (const m of p) groups.push({ id: m.id, name: m.name ?? null });
      },
    );
    for (const g of groups) {
      let found = false;
      await this.api!.list(
        `/groups/${encodeURIComponent(g.id)}/roleAssignments`,
        {},
        ['roleAssignments'],
        p1RoleAssignment,
        "a group's role assignments",
        (p) => {
          if (
            p.some(
              (a) =>
                a.role.id === ent.roleId &&
                a.scope.type.toUpperCase() === ent.scopeType &&
                a.scope.id === ent.scopeId,
            )
          )
            found = true;
        },
      );
      if (found) return g.name ?? g.id;
    }
    return null;
  }
}
