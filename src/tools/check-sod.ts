import { z } from 'zod';
import { findSodConflicts } from '../analysis/sod.js';
import { sodConflictSchema } from '../domain/index.js';
import { ToolError } from '../errors.js';
import { idArg, requireCampaign, requireVisibleUser, reviewerScope } from './common.js';
import { defineTool, UNTRUSTED_NOTE } from './define.js';

export const checkSod = defineTool({
  name: 'check_sod',
  title: 'Check separation-of-duties conflicts',
  description:
    'Lists separation-of-duties (SoD) rule conflicts. For a user: counts current access, plus add_entitlement_ids ' +
    'treated as held and minus remove_entitlement_ids (a what-if: would revoking X resolve the conflict?), and says ' +
    'whether the result is compliant. With campaign_id alone: every conflict among the users of that campaign. ' +
    'Read-only. A reviewer checks only the users of items assigned to them. Call before propose_decision when an item would keep or grant access.',
  kind: 'read',
  input: z.object({
    user_id: idArg('user_id').optional().describe('User to check (omit when passing campaign_id)'),
    add_entitlement_ids: z
      .array(idArg('add_entitlement_ids[]'))
      .max(500)
      .default([])
      .describe('Entitlements to treat as held (what-if grant)'),
    remove_entitlement_ids: z
      .array(idArg('remove_entitlement_ids[]'))
      .max(500)
      .default([])
      .describe('Entitlements to treat as removed (what-if revoke)'),
    campaign_id: idArg('campaign_id')
      .optional()
      .describe('Check every user in this campaign instead of one user'),
  }),
  output: z.object({
    conflicts: z.array(sodConflictSchema),
    compliant: z.boolean().optional().describe('For a user: true when no rule is violated'),
    users_checked: z.number().int(),
    note: z.string(),
  }),
  handle(args, ctx) {
    const rules = ctx.store.sodRules();
    if (args.campaign_id !== undefined) {
      if (
        args.user_id !== undefined ||
        args.add_entitlement_ids.length > 0 ||
        args.remove_entitlement_ids.length > 0
      ) {
        throw new ToolError(
          'campaign_id: pass campaign_id alone, or user_id with optional add/remove lists, not both. Nothing was checked.',
          'bad_input',
        );
      }
      requireCampaign(ctx, args.campaign_id);
      const conflicts = [];
      // A reviewer checks the users of their own items only.
      const scope = reviewerScope(ctx);
      const users =
        scope === undefined
          ? ctx.store.campaignUserIds(args.campaign_id)
          : ctx.store.campaignUserIdsOf(args.campaign_id, scope);
      if (rules.length > 0) {
        for (const u of users) conflicts.push(...findSodConflicts(u, rules, ctx.store.entitlementIdsOf(u)));
      }
      return { conflicts, users_checked: users.length, note: UNTRUSTED_NOTE };
    }
    if (args.user_id === undefined) {
      throw new ToolError('user_id: required unless campaign_id is given. Nothing was checked.', 'bad_input');
    }
    requireVisibleUser(ctx, args.user_id);
    const asked = [...args.add_entitlement_ids, ...args.remove_entitlement_ids];
    const known = ctx.store.existingEntitlementIds(asked);
    const unknown = asked.filter((id) => !known.has(id));
    if (unknown.length > 0) {
      throw new ToolError(
        `add_entitlement_ids/remove_entitlement_ids: unknown entitlement id(s) ${unknown
          .slice(0, 5)
          .map((u) => JSON.stringify(u))
          .join(', ')}. Nothing was checked.`,
        'not_found',
      );
    }
    const held = new Set(ctx.store.entitlementIdsOf(args.user_id));
    for (const id of args.add_entitlement_ids) held.add(id);
    for (const id of args.remove_entitlement_ids) held.delete(id);
    const conflicts = findSodConflicts(args.user_id, rules, held);
    return { conflicts, compliant: conflicts.length === 0, users_checked: 1, note: UNTRUSTED_NOTE };
  },
});
