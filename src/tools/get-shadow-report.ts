import { z } from 'zod';
import { ToolError } from '../errors.js';
import { runShadow, ShadowInputError } from '../services/shadow.js';
import { idArg } from './common.js';
import { defineTool } from './define.js';

const rate = z.number().nullable();

export const getShadowReport = defineTool({
  name: 'get_shadow_report',
  title: 'Measure recommendations against past human decisions',
  description:
    "Shadow mode: K-fold cross-validation of the engine's recommendations against past human decisions (a decision " +
    'never predicts itself). Returns AUC (and the per-entitlement baseline AUC), revoke precision and recall, ' +
    'agreement, a reliability table, the share of items that could be auto-approved at 99% precision and the live ' +
    "queue's recommendation mix; with campaign_id, only the decisions made in that campaign. Read-only; " +
    'takes a few seconds on tens of thousands of decisions. Use it to judge how far to trust recommendations.',
  kind: 'read',
  input: z.object({
    folds: z.number().int().min(2).max(20).default(5).describe('Number of folds, 2-20 (default 5)'),
    campaign_id: idArg('campaign_id').optional().describe('Only past decisions of this campaign'),
  }),
  output: z.object({
    n: z.number().int(),
    revokes: z.number().int(),
    folds: z.number().int(),
    auc: rate,
    baseline_auc: rate,
    revoke_precision: rate,
    revoke_recall: rate,
    agreement: rate,
    escalation_rate: z.number(),
    reliability: z.array(
      z.object({
        bucket_low: z.number(),
        bucket_high: z.number(),
        n: z.number().int(),
        mean_confidence: z.number(),
        observed_agreement: z.number(),
      }),
    ),
    auto_approve_coverage_at_99: z.number(),
    revoke_recall_at_80_precision: rate,
    live_queue: z
      .object({
        campaign_id: z.string().nullable(),
        items: z.number().int(),
        approve: z.number().int(),
        revoke: z.number().int(),
        escalate: z.number().int(),
        escalation_rate: z.number(),
      })
      .describe("The live queue's recommendation mix now, beside the backtest"),
  }),
  async handle({ folds, campaign_id }, ctx) {
    if (ctx.principal.role !== 'admin') {
      throw new ToolError(
        "The shadow report covers every reviewer's decisions and is for admins. Nothing was read.",
        'forbidden',
      );
    }
    try {
      return await runShadow(ctx.store, {
        folds,
        campaignId: campaign_id,
        asOf: ctx.config.asOf ? new Date(ctx.config.asOf) : ctx.now(),
        dormantDays: ctx.config.dormantDays,
      });
    } catch (e) {
      if (e instanceof ShadowInputError)
        throw new ToolError(`${e.message}. Nothing was computed.`, 'bad_input');
      throw e;
    }
  },
});
