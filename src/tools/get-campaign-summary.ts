import { z } from 'zod';
import { campaignSummarySchema } from '../domain/index.js';
import { idArg, requireCampaign } from './common.js';
import { defineTool } from './define.js';

const counts = z.record(z.string(), z.number().int());

export const getCampaignSummary = defineTool({
  name: 'get_campaign_summary',
  title: "Summarize a campaign's queue",
  description:
    "Counts a campaign's items by engine recommendation (approve, revoke, escalate), by risk signal, by risk level and " +
    'by status, so the obvious items can be cleared in bulk and time spent on the rest. Read-only. Reviewers see counts ' +
    'of their own items. Next: list_campaign_items with min_risk to work through the high-risk ones.',
  kind: 'read',
  input: z.object({ campaign_id: idArg('campaign_id').describe('Campaign id from list_campaigns') }),
  output: z.object({
    campaign: campaignSummarySchema,
    by_recommendation: counts,
    by_signal: counts,
    by_level: counts,
    by_status: counts,
  }),
  handle({ campaign_id }, ctx) {
    requireCampaign(ctx, campaign_id);
    const campaign = ctx.store.listCampaigns().find((c) => c.id === campaign_id)!;
    const reviewer =
      ctx.principal.role === 'admin' ? undefined : (ctx.principal.reviewer_ids[0] ?? '\u0000none');
    return { campaign, ...ctx.store.campaignBreakdown(campaign_id, reviewer) };
  },
});
