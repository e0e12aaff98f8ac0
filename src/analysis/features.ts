import type { Entitlement, User } from '../domain/index.js';

/**
 * The categorical features the learned model sees for a (user, entitlement) pair:
 * the user's attributes, the entitlement, its app and sensitivity, and whether the
 * user works in the entitlement's home department.
 */
/**
 * The department an entitlement belongs to: its own `department` (or `owner_department`)
 * attribute when the data has one, else the department most of its holders work in.
 */
export function entitlementDepartment(
  ent: { attributes?: Record<string, string> },
  holdersMode: string | null,
): string | null {
  const a = ent.attributes ?? {};
  return a.department ?? a.owner_department ?? holdersMode;
}

export function decisionFeatures(
  user: Pick<
    User,
    'department' | 'title' | 'manager_id' | 'location' | 'employee_type' | 'status' | 'attributes'
  >,
  ent: Pick<Entitlement, 'id' | 'app' | 'sensitivity' | 'privileged' | 'type'> & {
    attributes?: Record<string, string>;
  },
  homeDepartment: string | null,
  /** Who decides: the past decision's reviewer, or the item's reviewer. */
  reviewer: string | null = null,
  /** Days since the app was last used, as of the decision (null: never; undefined: unknown). */
  idleDays?: number | null,
  dormantDays = 90,
): Record<string, string | null> {
  const f: Record<string, string | null> = {
    department: user.department,
    title: user.title,
    manager: user.manager_id,
    location: user.location,
    employee_type: user.employee_type,
    entitlement: ent.id,
    app: ent.app,
    sensitivity: ent.sensitivity,
    privileged: ent.privileged ? 'yes' : 'no',
    reviewer,
    usage:
      ent.app === null || idleDays === undefined
        ? null
        : idleDays === null
          ? 'never'
          : idleDays > dormantDays
            ? 'dormant'
            : 'recent',
    dept_match:
      homeDepartment === null || user.department === null
        ? null
        : user.department === homeDepartment
          ? 'yes'
          : 'no',
  };
  for (const [k, v] of Object.entries(user.attributes)) {
    if (!(k in f)) f[`attr:${k}`] = v;
  }
  for (const [k, v] of Object.entries(ent.attributes ?? {})) f[`ent:${k}`] = v;
  return f;
}
