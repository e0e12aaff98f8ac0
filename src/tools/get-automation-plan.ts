import { z } from 'zod';
import { ToolError } from '../errors.js';
import { AutomationRefused, automationPlan } from '../services/automation-run.js';
import { idArg } from './common.js';
import { defineTool } from './define.js';

const mode = z.enum(['shadow', 'suggest', 'auto']);

export const getAutomationPlan = defineTool({
  name: 'get_automation_plan',
  title: 'Show what each automation policy class would do',
  description:
    'Phased automation dry run for one campaign: for each class of the automation policy (first match wins), the mode ' +
    'configured and the mode in effect (auto only when its backtest on past human decisions clears its bar, else ' +
    'suggest, with the reason), the backtest figures, and what the class would do to the open items now ' +
    '(approve/revoke counts, samples; quoted fields are directory data). Decides nothing; automatic decisions are made ' +
    'only by `attest automate` on the server machine. Items of a shadow class are not to be proposed; items of no ' +
    'class or a suggest class are proposed as usual (propose_decision, then a human confirms). Admins only; the first ' +
    'call after new decisions backtests them (seconds on tens of thousands).',
  kind: 'read',
  input: z.object({
    campaign_id: idArg('campaign_id').describe('The campaign to plan for'),
  }),
  output: z.object({
    campaign_id: z.string(),
    fit_id: z.string().describe('Digest of the past decisions the backtest scored'),
    evaluated_at: z.string(),
    scoring: z.string(),
    past_decisions: z.number().int(),
    items: z.number().int(),
    unclassified: z.number().int().describe('Items no class takes: suggest, as today'),
    classes: z.array(
      z.object({
        name: z.string(),
        configured_mode: mode,
        effective_mode: mode,
        reason: z.string(),
        allow_revoke: z.boolean(),
        bar: z.object({ min_precision: z.number(), min_decisions: z.number().int() }),
        backtest: z
          .object({
            class_decisions: z.number().int(),
            decisions: z.number().int(),
            agreed: z.number().int(),
            precision: z.number().nullable(),
            approvals: z.number().int(),
            revokes: z.number().int(),
          })
          .nullable(),
        items: z.number().int(),
        would_approve: z.number().int(),
        would_revoke: z.number().int(),
        left_to_humans: z.record(z.string(), z.number().int()),
        already_automatic: z.number().int(),
        samples: z.array(
          z.object({
            item_id: z.string(),
            decision: z.enum(['approve', 'revoke']),
            user: z.string(),
            entitlement: z.string(),
            app: z.string().nullable(),
            risk_score: z.number(),
          }),
        ),
      }),
    ),
  }),
  async handle({ campaign_id }, ctx) {
    if (ctx.principal.role !== 'admin') {
      throw new ToolError(
        "The automation plan covers every reviewer's items and is for admins. Nothing was read.",
        'forbidden',
      );
    }
    try {
      return automationPlan(ctx.store, ctx.config, campaign_id, ctx.recordEvent, ctx.now());
    } catch (e) {
      if (e instanceof AutomationRefused) throw new ToolError(e.message, 'bad_input');
      throw e;
    }
  },
});
