import { z } from 'zod';
import { campaignSummarySchema } from '../domain/index.js';
import { idArg, requireCampaign, reviewerScope } from './common.js';
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
    const found = requireCampaign(ctx, campaign_id);
    const scope = reviewerScope(ctx);
    // A reviewer's counts are those of their own items.
    const campaign = ctx.store.listCampaigns(undefined, scope).find((c) => c.id === campaign_id) ?? {
      id: found.id,
      name: found.name,
      platform: found.platform,
      status: found.status,
      created_at: found.created_at,
      due_at: found.due_at,
      counts: { total: 0, pending: 0, proposed: 0, decided: 0 },
    };
    return { campaign, ...ctx.store.campaignBreakdown(campaign_id, scope) };
  },
});
