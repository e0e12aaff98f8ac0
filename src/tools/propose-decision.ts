import { z } from 'zod';
import { decisionValueSchema } from '../domain/index.js';
import { ToolError } from '../errors.js';
import { canSeeItem, idArg } from './common.js';
import { defineTool } from './define.js';

export const proposeDecision = defineTool({
  name: 'propose_decision',
  title: 'Propose a decision for a review item',
  description:
    'Records a draft decision (approve, revoke or escalate) with your rationale for one review item. It changes nothing ' +
    'on the identity platform and needs no confirmation; a newer proposal for the same item replaces the older draft. ' +
    "Returns the proposal_id and whether it agrees with the engine's recommendation. Next: collect proposal_ids and call " +
    'submit_decision, which asks the human to confirm the batch.',
  kind: 'propose',
  input: z.object({
    item_id: idArg('item_id').describe('Review item id from list_campaign_items'),
    decision: decisionValueSchema.describe(
      'approve keeps the access, revoke removes it, escalate hands it to a human',
    ),
    rationale: z
      .string()
      .trim()
      .min(1, 'rationale must not be empty')
      .max(2000, 'rationale is longer than 2000 characters')
      .describe('Why, in one or two sentences naming the evidence (shown to the human who confirms)'),
    confidence: z.number().min(0).max(1).optional().describe('Your confidence, 0-1'),
  }),
  output: z.object({
    proposal_id: z.string(),
    item_id: z.string(),
    decision: decisionValueSchema,
    engine_recommendation: decisionValueSchema.nullable(),
    agrees_with_engine: z.boolean().nullable(),
    superseded: z.array(z.string()).describe('Earlier drafts for this item that this one replaces'),
  }),
  async handle(args, ctx) {
    const { review } = ctx.shared;
    const item = await review.item(args.item_id);
    if (!item) {
      throw new ToolError(
        `item_id: no review item "${args.item_id}". Nothing was recorded. Use item_id from list_campaign_items.`,
        'not_found',
      );
    }
    if (!canSeeItem(ctx, item.reviewer_id)) {
      throw new ToolError(
        `item_id: item ${args.item_id} is not assigned to you. Nothing was recorded. List your own items with list_campaign_items.`,
        'forbidden',
      );
    }
    if (!ctx.config.allowSelfReview && ctx.principal.reviewer_ids.includes(item.user.id)) {
      throw new ToolError(
        `item_id: item ${args.item_id} is your own access (user ${item.user.id}), and nobody reviews their own access. Nothing was recorded. Ask an admin to reassign it (reassign_items) or to allow self-review in the policy.`,
        'forbidden',
      );
    }
    if ((await review.campaign(item.campaign_id))?.status !== 'active') {
      throw new ToolError(
        `Campaign ${item.campaign_id} is closed. Nothing was recorded. Use list_campaign_items on an active campaign.`,
        'conflict',
      );
    }
    if (item.decision !== null) {
      throw new ToolError(
        `item_id: item ${args.item_id} is already decided (${item.decision.decision} by ${item.decision.decided_by}). Nothing was recorded.`,
        'conflict',
      );
    }
    const before = await review.draftIdsOf(args.item_id);
    const engine = item.recommendation?.decision ?? null;
    // The draft and this call's audit entry commit together.
    const p = await ctx.commitWithAuditAsync(async (entry) => {
      const { proposal, seq } = await review.propose(
        {
          item_id: args.item_id,
          decision: args.decision,
          rationale: args.rationale,
          confidence: args.confidence ?? null,
          engine_decision: engine,
          proposed_by: ctx.principal.id,
          proposed_at: ctx.now().toISOString(),
        },
        (draft) => {
          ctx.auditDetail({ proposal: { id: draft.id, item_id: draft.item_id, decision: draft.decision } });
          return entry();
        },
      );
      return { value: proposal, seq };
    });
    return {
      proposal_id: p.id,
      item_id: p.item_id,
      decision: p.decision,
      engine_recommendation: engine,
      agrees_with_engine: engine === null ? null : engine === p.decision,
      superseded: before,
    };
  },
});
