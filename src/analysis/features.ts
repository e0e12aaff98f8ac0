import type { Entitlement, User } from '../domain/index.js';

/**
 * The categorical features the learned model sees for a (user, entitlement) pair:
 * the user's attributes, the entitlement, its app and sensitivity, and whether the
 * user works in the entitlement's home department.
 */
export function decisionFeatures(
  user: Pick<User, 'department' | 'title' | 'manager_id' | 'location' | 'employee_type' | 'status' | 'attributes'>,
  ent: Pick<Entitlement, 'id' | 'app' | 'sensitivity' | 'privileged' | 'type'>,
  homeDepartment: string | null,
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
    dept_match: homeDepartment === null || user.department === null ? null : user.department === homeDepartment ? 'yes' : 'no',
  };
  for (const [k, v] of Object.entries(user.attributes)) {
    if (!(k in f)) f[`attr:${k}`] = v;
  }
  return f;
}
