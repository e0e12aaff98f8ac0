import { z } from 'zod';
import { platformSchema } from '../domain/index.js';
import { ToolError } from '../errors.js';
import { mineRolesFromStore, rememberRoleReport, summarizeRoleReport } from '../services/roles.js';
import { defineTool, UNTRUSTED_NOTE } from './define.js';
import { renderCompact } from './text.js';

const roleSchema = z.object({
  role_id: z.string(),
  entitlement_ids: z.array(z.string()),
  user_ids: z.array(z.string()).describe('The first members (users counts them all)'),
  users: z.number().int(),
  pattern: z.record(z.string(), z.string()).optional().describe('Attribute values that predict membership'),
  pattern_fit: z.object({ precision: z.number(), recall: z.number() }).nullable(),
  coverage: z.number().describe('Share of all assignments this role covers'),
  covered_assignments: z.number().int(),
  entitlements: z.array(z.object({ id: z.string(), name: z.string(), app: z.string().nullable() })),
  exceptions: z.object({
    lacking: z.array(z.string()),
    lacking_count: z.number().int(),
    outside: z.array(z.string()),
    outside_count: z.number().int(),
  }),
  unused_entitlements: z.array(z.object({ id: z.string(), used_by_share: z.number() })),
  source: z.enum(['set', 'intersection', 'cohort']),
});

export const mineRoles = defineTool({
  name: 'mine_roles',
  title: 'Mine roles from the current access',
  description:
    'Role mining: finds candidate roles (entitlements held together) in the current assignments, with the users each ' +
    'covers, the attribute pattern that predicts membership (department, title, location, extra attributes) and its ' +
    'exceptions, how much of all access the roles explain, the leftover direct grants no role explains (the natural ' +
    'review scope), and suggested changes to existing groups. Read-only and admin-only; it reads everyone. Can take ' +
    'seconds on a large tenant.',
  kind: 'read',
  input: z.object({
    platform: platformSchema.optional().describe('Only this platform (default: every platform)'),
    min_users: z.number().int().min(1).max(1_000_000).optional().describe('Members a role needs at least'),
    limit: z
      .number()
      .int()
      .min(1)
      .max(200)
      .default(20)
      .describe('Roles returned, largest first (default 20)'),
  }),
  output: z.object({
    roles: z.array(roleSchema),
    roles_found: z.number().int(),
    covered_assignments: z.number().int(),
    total_assignments: z.number().int(),
    leftover_assignments: z.number().int(),
    leftover_direct: z.number().int(),
    leftover_inherited: z.number().int(),
    coverage: z.number(),
    distinct_entitlement_sets: z.number().int(),
    leftover: z.array(
      z.object({ user_id: z.string(), entitlement_id: z.string(), source: z.enum(['direct', 'inherited']) }),
    ),
    suggestions: z.array(
      z.object({
        kind: z.enum(['add_to_group', 'remove_from_group']),
        group_id: z.string(),
        group_name: z.string(),
        entitlement_id: z.string(),
        entitlement_name: z.string(),
        share: z.number(),
        members: z.number().int(),
        detail: z.string(),
      }),
    ),
    note: z.string(),
  }),
  handle({ platform, min_users, limit }, ctx) {
    if (ctx.principal.role !== 'admin') {
      throw new ToolError(
        'Role mining reads every user’s access and is for admins. Nothing was read.',
        'forbidden',
      );
    }
    const report = mineRolesFromStore(ctx.store, { platform, minUsers: min_users });
    rememberRoleReport(ctx.store, report);
    const s = summarizeRoleReport(report, limit, 20);
    return {
      roles: s.roles.map(
        ({
          role_id,
          entitlement_ids,
          user_ids,
          users,
          pattern,
          pattern_fit,
          coverage,
          covered_assignments,
          entitlements,
          exceptions,
          unused_entitlements,
          source,
        }) => ({
          role_id,
          entitlement_ids,
          user_ids,
          users,
          ...(pattern ? { pattern } : {}),
          pattern_fit,
          coverage,
          covered_assignments,
          entitlements,
          exceptions: {
            ...exceptions,
            lacking: exceptions.lacking.slice(0, 20),
            outside: exceptions.outside.slice(0, 20),
          },
          unused_entitlements,
          source,
        }),
      ),
      roles_found: report.roles.length,
      covered_assignments: report.covered_assignments,
      total_assignments: report.total_assignments,
      leftover_assignments: report.leftover_assignments,
      leftover_direct: report.leftover_direct,
      leftover_inherited: report.leftover_inherited,
      coverage: report.coverage,
      distinct_entitlement_sets: report.distinct_entitlement_sets,
      leftover: s.leftover,
      suggestions: s.suggestions,
      note: UNTRUSTED_NOTE,
    };
  },
  text: ({ note, ...r }) =>
    `${r.roles_found} roles explain ${r.covered_assignments} of ${r.total_assignments} assignments (${(r.coverage * 100).toFixed(1)}%); ${r.leftover_assignments} left (${r.leftover_direct} direct).\n` +
    renderCompact({ ...r, note }),
});
