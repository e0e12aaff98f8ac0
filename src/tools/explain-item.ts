import { z } from 'zod';
import { campaignItemSchema, evidenceSchema } from '../domain/index.js';
import { ToolError } from '../errors.js';
import { canSeeItem, idArg, toCampaignItem } from './common.js';
import { defineTool, UNTRUSTED_NOTE } from './define.js';

export const explainItem = defineTool({
  name: 'explain_item',
  title: "Explain a review item's recommendation",
  description:
    "Returns one review item with the engine's recommendation, its confidence and rationale, every risk signal, and " +
    'the evidence behind them (last use, peer prevalence, HR changes, learned revoke probability), each with its ' +
    'source and time. Read-only. Use it before propose_decision to check the reasoning.',
  kind: 'read',
  input: z.object({ item_id: idArg('item_id').describe('Review item id from list_campaign_items') }),
  output: z.object({ item: campaignItemSchema, evidence: z.array(evidenceSchema), note: z.string() }),
  handle({ item_id }, ctx) {
    const row = ctx.store.getItem(item_id);
    if (!row || !canSeeItem(ctx, row.reviewer_id)) {
      throw new ToolError(
        `item_id: no review item "${item_id}" that you may see. Nothing was read.`,
        'not_found',
      );
    }
    const item = toCampaignItem(row);
    return { item, evidence: row.recommendation?.evidence ?? [], note: UNTRUSTED_NOTE };
  },
});
