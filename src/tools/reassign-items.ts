import { z } from 'zod';
import { ToolError } from '../errors.js';
import { canSeeItem, idArg } from './common.js';
import { defineTool } from './define.js';
import { cell, renderCompact } from './text.js';

export const reassignItems = defineTool({
  name: 'reassign_items',
  title: 'Reassign or delegate review items to another reviewer',
  description:
    'Moves review items to another reviewer (an admin: any item; a reviewer: delegates their own), with a note that is ' +
    'kept with each move and in the audit log. Items already decided cannot move. Nobody is given their own access to ' +
    'review. It changes Attest’s queue, not the platform’s own review. Next: the new reviewer lists them with ' +
    'list_campaign_items.',
  kind: 'propose',
  input: z.object({
    item_ids: z
      .array(idArg('item_ids[]'))
      .min(1, 'item_ids must hold at least 1 id')
      .max(500, 'item_ids may hold at most 500 ids')
      .describe('Review item ids from list_campaign_items'),
    to_reviewer_id: idArg('to_reviewer_id').describe('The reviewer (a user id) the items go to'),
    note: z
      .string()
      .trim()
      .min(1, 'note must not be empty')
      .max(1000, 'note is longer than 1000 characters')
      .describe('Why, for the new reviewer (kept with the move)'),
  }),
  output: z.object({
    moved: z.array(z.object({ item_id: z.string(), from_reviewer: z.string().nullable() })),
    to_reviewer_id: z.string(),
    unchanged: z.array(z.string()).describe('Items already with that reviewer'),
  }),
  handle({ item_ids, to_reviewer_id, note }, ctx) {
    if (!ctx.store.getUser(to_reviewer_id)) {
      throw new ToolError(
        `to_reviewer_id: no user "${to_reviewer_id}". Nothing was moved. Reviewers are user ids of the store.`,
        'not_found',
      );
    }
    const ids = [...new Set(item_ids)];
    for (const id of ids) {
      const item = ctx.store.getItem(id);
      if (!item || !canSeeItem(ctx, item.reviewer_id)) {
        throw new ToolError(
          `item_ids: no review item "${id}" that you may reassign. Nothing was moved.`,
          'not_found',
        );
      }
      if (item.status === 'decided') {
        throw new ToolError(`item_ids: item ${id} is already decided. Nothing was moved.`, 'conflict');
      }
      if (item.user.id === to_reviewer_id && !ctx.config.allowSelfReview) {
        throw new ToolError(
          `to_reviewer_id: item ${id} is the access of ${to_reviewer_id}, and nobody reviews their own access. Nothing was moved.`,
          'forbidden',
        );
      }
    }
    const repo = ctx.store.decisions;
    const moved = ctx.commitWithAudit(() => {
      const m = repo.reassign(ids, to_reviewer_id, note, ctx.principal.id, ctx.now());
      ctx.auditDetail({ reassigned: m, to_reviewer_id });
      return m;
    });
    const movedIds = new Set(moved.map((m) => m.item_id));
    return { moved, to_reviewer_id, unchanged: ids.filter((i) => !movedIds.has(i)) };
  },
  text: (r) =>
    `${r.moved.length} item(s) moved to ${cell(r.to_reviewer_id)}${r.unchanged.length ? `; ${r.unchanged.length} already there` : ''}.\n${renderCompact(r)}`,
});
