import { z } from 'zod';
import { type CampaignItem, campaignItemSchema } from '../domain/index.js';
import { ToolError } from '../errors.js';
import { quoteField } from '../policy/human-text.js';
import { canSeeItem, idArg, missingCampaign, reviewerScope, toCampaignItem } from './common.js';
import { defineTool, UNTRUSTED_NOTE } from './define.js';
import { cell } from './text.js';

export const listCampaignItems = defineTool({
  name: 'list_campaign_items',
  title: 'List review items in a campaign',
  description:
    "Returns one page of a campaign's review items (user x entitlement pairs), highest risk first by default, each with " +
    'its risk score, signals (dormant, never_used, mover, peer_outlier, redundant, privileged, sod_conflict, orphaned, ' +
    'contractor_expired, use_after_end, self_review), recommendation, proposal and decision. Read-only. Pass next_cursor back as cursor with the ' +
    'same filters to get the next page; next_cursor is null on the last page. Reviewers see only their own items. ' +
    'Next: get_user_activity or check_sod for evidence, then propose_decision.',
  kind: 'read',
  input: z.object({
    campaign_id: idArg('campaign_id').describe('Campaign id from list_campaigns'),
    status: z
      .enum(['pending', 'proposed', 'decided', 'all', 'escalated'])
      .default('pending')
      .describe(
        'Which items: pending (default), proposed, decided, all, or escalated (open escalations waiting for the second-level reviewer)',
      ),
    reviewer_id: idArg('reviewer_id').optional().describe('Only items assigned to this reviewer'),
    min_risk: z
      .number()
      .int()
      .min(0)
      .max(100)
      .optional()
      .describe('Only items with risk score at least this (0-100)'),
    sort: z
      .enum(['risk', 'user'])
      .default('risk')
      .describe('risk (highest first, default) or user (by user id)'),
    limit: z.number().int().min(1).max(500).default(50).describe('Items per page, 1-500 (default 50)'),
    cursor: z.string().max(2048).optional().describe('next_cursor from the previous page'),
  }),
  output: z.object({
    items: z.array(campaignItemSchema),
    next_cursor: z.string().nullable(),
    total: z
      .number()
      .int()
      .describe('Items matching the filters, across all pages (counted when the first page was read)'),
    note: z.string(),
  }),
  async handle(args, ctx) {
    const { review } = ctx.shared;
    if (!(await review.campaign(args.campaign_id))) throw missingCampaign(args.campaign_id);
    // A reviewer sees only their own items: the filter is forced, not trusted.
    const scope = reviewerScope(ctx);
    if (scope !== undefined && args.reviewer_id !== undefined && !canSeeItem(ctx, args.reviewer_id)) {
      throw new ToolError(
        `reviewer_id: you may only list your own items. Nothing was read. Call again without reviewer_id.`,
        'forbidden',
      );
    }
    const filters = {
      campaign_id: args.campaign_id,
      status: args.status,
      reviewer_ids: args.reviewer_id !== undefined ? [args.reviewer_id] : scope,
      min_risk: args.min_risk,
    };
    const fingerprint = JSON.stringify([filters, args.sort, ctx.principal.id]);
    let after: Array<string | number> | undefined;
    if (args.cursor !== undefined) {
      const decoded = (await ctx.shared.cursors()).decode(fingerprint, args.cursor);
      if ('error' in decoded) {
        throw new ToolError(
          `cursor: ${decoded.error}. Nothing was read. Omit cursor to start from the first page.`,
          'bad_input',
        );
      }
      after = decoded.key;
    }
    const page = await review.itemsPage({ ...filters, sort: args.sort, limit: args.limit, after });
    // Counting the whole range costs O(campaign): do it on the first page and carry it in the cursor.
    const carried = after?.[2];
    const total = typeof carried === 'number' ? carried : await review.countItems(filters);
    return {
      items: page.items.map(toCampaignItem),
      next_cursor:
        page.hasMore && page.last
          ? (await ctx.shared.cursors()).encode(fingerprint, [...page.last, total])
          : null,
      total,
      note: UNTRUSTED_NOTE,
    };
  },
  text: (r) => {
    const head =
      `${r.items.length} of ${r.total} items. ` +
      (r.next_cursor ? `next_cursor: ${r.next_cursor}` : 'next_cursor: null (last page)');
    if (r.items.length === 0) return `${head}\n${r.note}`;
    return [
      head,
      'items: item_id | risk | signals | recommendation | status | reviewer_id | user | entitlement | proposal or decision',
      ...r.items.map(itemLine),
      'Signal details, rationales and evidence: explain_item.',
      r.note,
    ].join('\n');
  },
});

/** One item on one line: names quoted and cut, everything else a token. */
function itemLine(i: CampaignItem): string {
  const rec = i.recommendation ? `${i.recommendation.decision} ${i.recommendation.confidence}` : '-';
  const user = `${cell(i.user.id)} ${quoteField(i.user.name, 40)}${i.user.status === 'active' ? '' : ` ${i.user.status}`}`;
  const ent = `${cell(i.entitlement.id)} ${quoteField(i.entitlement.name, 40)} in ${cell(i.entitlement.app, 30)}${
    i.entitlement.privileged ? ' privileged' : ''
  }`;
  const state = i.decision
    ? `decided ${i.decision.decision} by ${cell(i.decision.decided_by, 60)}`
    : i.proposal
      ? `proposed ${i.proposal.decision} by ${cell(i.proposal.proposed_by, 60)}`
      : i.escalation
        ? `escalated to ${cell(i.escalation.to_reviewer, 60)}`
        : '-';
  const signals = i.risk.signals.map((s) => s.code).join(',') || 'none';
  return `- ${cell(i.item_id)} | ${i.risk.score} ${i.risk.level} | ${signals} | ${rec} | ${i.status} | ${cell(i.reviewer_id)} | ${user} | ${ent} | ${state}`;
}
