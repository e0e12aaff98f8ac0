import { z } from 'zod';
import { userSummarySchema } from '../domain/index.js';
import { ToolError } from '../errors.js';
import { asOf, idArg, requireVisibleUser } from './common.js';
import { defineTool, UNTRUSTED_NOTE } from './define.js';

const DAY = 86_400_000;

export const getUserActivity = defineTool({
  name: 'get_user_activity',
  title: "Get a user's sign-in and app usage",
  description:
    "Returns a user's last sign-in, per-app usage (last use, successful sign-ins and failures within the window) " +
    'and HR changes (department, title, manager). Read-only. A reviewer may read only the users of items assigned to them. Use it as evidence for an item: an app unused for ' +
    "months, or a department change after the grant. Pass entitlement_id to see only that entitlement's app.",
  kind: 'read',
  input: z.object({
    user_id: idArg('user_id').describe('User id (user.id of an item)'),
    days: z
      .number()
      .int()
      .min(1)
      .max(730)
      .default(90)
      .describe('Window in days for sign-in counts, 1-730 (default 90)'),
    entitlement_id: idArg('entitlement_id').optional().describe('Only the app this entitlement grants'),
  }),
  output: z.object({
    user: userSummarySchema,
    last_sign_in: z.string().nullable(),
    apps: z.array(
      z.object({
        app: z.string(),
        last_used: z.string().nullable(),
        sign_ins: z.number().int().describe('Successful sign-ins within the window'),
        failed: z.number().int().describe('Failed sign-ins within the window'),
        total_sign_ins: z.number().int().describe('Successful sign-ins ever recorded'),
      }),
    ),
    hr_changes: z.array(
      z.object({ field: z.string(), from: z.string().nullable(), to: z.string().nullable(), at: z.string() }),
    ),
    as_of: z.string(),
    window_days: z.number().int(),
    note: z.string(),
  }),
  handle({ user_id, days, entitlement_id }, ctx) {
    const user = requireVisibleUser(ctx, user_id);
    let app: string | undefined;
    if (entitlement_id !== undefined) {
      const ent = ctx.store.getEntitlement(entitlement_id);
      if (!ent) {
        throw new ToolError(
          `entitlement_id: no entitlement "${entitlement_id}". Nothing was read. Use entitlement.id from an item.`,
          'not_found',
        );
      }
      if (ent.app === null) {
        throw new ToolError(
          `entitlement_id: "${entitlement_id}" grants no app, so it has no usage to show. Nothing was read. Call again without entitlement_id.`,
          'bad_input',
        );
      }
      app = ent.app;
    }
    const now = asOf(ctx);
    const since = new Date(now.getTime() - days * DAY).toISOString();
    const usage = ctx.store.appUsage(user_id, since, app);
    const lastUsed = usage.map((u) => u.last_used).filter((x): x is string => x !== null);
    const candidates = [user.last_sign_in, ...lastUsed].filter((x): x is string => x !== null).sort();
    return {
      user: {
        id: user.id,
        name: user.name,
        email: user.email,
        department: user.department,
        title: user.title,
        manager_id: user.manager_id,
        status: user.status,
        employee_type: user.employee_type,
      },
      last_sign_in: candidates[candidates.length - 1] ?? null,
      apps: usage.map((u) => ({
        app: u.app,
        last_used: u.last_used,
        sign_ins: u.window_sign_ins,
        failed: u.window_failed,
        total_sign_ins: u.sign_ins,
      })),
      hr_changes: ctx.store
        .hrChanges(user_id)
        .map((h) => ({ field: h.field, from: h.from, to: h.to, at: h.at })),
      as_of: now.toISOString(),
      window_days: days,
      note: UNTRUSTED_NOTE,
    };
  },
});
