import { z } from 'zod';
import { campaignStatusSchema, campaignSummarySchema } from '../domain/index.js';
import { reviewerScope } from './common.js';
import { defineTool } from './define.js';

export const listCampaigns = defineTool({
  name: 'list_campaigns',
  title: 'List access review campaigns',
  description:
    'Lists access review (certification) campaigns with their item counts by status (pending, proposed, decided). ' +
    'Read-only. A reviewer sees the campaigns holding their items, with the counts of those items. Start here to find a campaign_id, then call list_campaign_items to work through its queue.',
  kind: 'read',
  input: z.object({
    status: campaignStatusSchema
      .optional()
      .describe('Only campaigns in this status: active or closed. Default: all.'),
  }),
  output: z.object({ campaigns: z.array(campaignSummarySchema) }),
  async handle({ status }, ctx) {
    // A reviewer sees the campaigns holding items assigned to them, with the counts of those items.
    return { campaigns: await ctx.shared.review.listCampaigns(status, reviewerScope(ctx)) };
  },
});
