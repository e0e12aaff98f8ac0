import { z } from 'zod';
import { APPROVAL_CARD_URI } from '../resources/approval-card.js';
import { submitBatch } from '../services/decisions.js';
import { idArg } from './common.js';
import { defineTool } from './define.js';
import { renderCompact } from './text.js';

export const submitDecision = defineTool({
  name: 'submit_decision',
  title: 'Submit proposed decisions (needs human confirmation)',
  description:
    'Submits a batch of proposals (1-500 proposal_ids from propose_decision) to be applied to the identity platform: the ' +
    "review decision is recorded and revoked access is removed. It ALWAYS needs the human's own confirmation of exactly " +
    'this batch, through a channel the policy accepts: where a form shown by your client is enough, the human is asked ' +
    'now (elicitation); otherwise the result is awaiting_confirmation with a confirmation id and the command the human ' +
    'runs on the machine that runs Attest, after which you call submit_decision again with the same proposal_ids. ' +
    "You cannot confirm on the human's behalf, and answering the form yourself is not a confirmation. Safe to repeat: " +
    'applied decisions are never applied twice.',
  kind: 'write',
  // Hosts that render MCP Apps show the approval card with the result (it links to the console; it confirms nothing).
  meta: { ui: { resourceUri: APPROVAL_CARD_URI }, 'ui/resourceUri': APPROVAL_CARD_URI },
  input: z.object({
    proposal_ids: z
      .array(idArg('proposal_ids[]'))
      .min(1, 'proposal_ids must hold at least 1 id')
      .max(500, 'proposal_ids may hold at most 500 ids')
      .describe('Proposal ids from propose_decision'),
  }),
  output: z.object({
    status: z.enum(['applied', 'awaiting_confirmation', 'rejected']),
    results: z.array(
      z.object({
        proposal_id: z.string(),
        item_id: z.string(),
        status: z.enum(['applied', 'awaiting_confirmation', 'rejected', 'failed', 'pending']),
        platform_ref: z.string().nullable().optional(),
        error: z.string().optional(),
      }),
    ),
    confirmation: z
      .object({
        id: z.string(),
        channel: z.string(),
        url: z.string().optional(),
        expires_at: z.string().optional(),
        instructions: z.string().optional(),
        assurance: z
          .enum(['host-attested', 'human-verified'])
          .optional()
          .describe('What the confirming channel proved'),
        required_assurance: z
          .enum(['host-attested', 'human-verified'])
          .optional()
          .describe('What this batch needs before it is applied'),
        command: z
          .string()
          .optional()
          .describe('The command the human runs on the machine that runs Attest to confirm'),
      })
      .nullable(),
    message: z.string(),
  }),
  handle({ proposal_ids }, ctx) {
    return submitBatch(
      {
        review: ctx.shared.review,
        config: ctx.config,
        now: ctx.now,
        principal: ctx.principal,
        transport: ctx.session.transport,
        askHuman: ctx.askHuman,
        applyOutbox: ctx.applyOutbox,
        auditDetail: ctx.auditDetail,
        eventEntry: ctx.eventEntry,
        confirmCommand: ctx.confirmCommand,
        confirmUrl: ctx.confirmUrl,
        sendHumanTo: ctx.sendHumanTo,
        era: ctx.era,
        input: ctx.input,
      },
      proposal_ids,
    );
  },
  text: ({ status, message, ...rest }) => `${status}: ${message}\n${renderCompact(rest)}`,
});
