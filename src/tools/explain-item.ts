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
    "source and time, and the platform's own view of the item where it has one (e.g. Entra's recommendation and " +
    'insights). Read-only. Use it before propose_decision to check the reasoning.',
  kind: 'read',
  input: z.object({ item_id: idArg('item_id').describe('Review item id from list_campaign_items') }),
  output: z.object({
    item: campaignItemSchema,
    evidence: z.array(evidenceSchema),
    platform: z
      .object({
        coordinates: z
          .record(z.string(), z.string())
          .describe("The item's place in the platform's own review"),
        attributes: z
          .record(z.string(), z.string())
          .describe(
            "What the platform itself says about the item (e.g. Entra's recommendation and insights)",
          ),
      })
      .nullable()
      .describe("The platform's own view of the item, beside Attest's (null for snapshot data)"),
    note: z.string(),
  }),
  handle({ item_id }, ctx) {
    const row = ctx.store.getItem(item_id);
    if (!row || !canSeeItem(ctx, row.reviewer_id)) {
      throw new ToolError(
        `item_id: no review item "${item_id}" that you may see. Nothing was read.`,
        'not_found',
      );
    }
    const item = toCampaignItem(row);
    const platform = ctx.store.itemPlatformDetails(item_id);
    const shown =
      platform &&
      (Object.keys(platform.coordinates).length > 0 || Object.keys(platform.attributes).length > 0)
        ? platform
        : null;
    return { item, evidence: row.recommendation?.evidence ?? [], platform: shown, note: UNTRUSTED_NOTE };
  },
});
