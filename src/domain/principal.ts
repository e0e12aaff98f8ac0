import { z } from 'zod';

/** How a principal is allowed to act. */
export const roleSchema = z.enum(['admin', 'reviewer']);
export type Role = z.infer<typeof roleSchema>;

/** The caller, as established by the transport. */
export interface Principal {
  id: string;
  role: Role;
  /** Reviewer ids this principal reviews as (for role reviewer). */
  reviewer_ids: string[];
  /** Over HTTP: the operator marked this token's client as an interactive host (it shows forms to a person). */
  interactive_host?: boolean;
}
