import { z } from 'zod';
import { describeZodError } from '../config.js';
import { ToolError } from '../errors.js';
import {
  type CampaignPreview,
  campaignSpecSchema,
  campaignSummary,
  resolveCampaign,
} from '../services/campaigns.js';
import { submitChange } from '../services/changes.js';
import { campaignRequest, refuseCampaignOn } from '../services/platform-changes.js';
import { idArg } from './common.js';
import { defineTool } from './define.js';
import { renderCompact } from './text.js';

const shape = campaignSpecSchema.shape;

export const createCampaign = defineTool({
  name: 'create_campaign',
  title: 'Create a risk-triggered review campaign (needs human confirmation)',
  description:
    'Creates an access review campaign scoped by risk instead of the calendar: access above a risk score, showing a ' +
    'signal (e.g. mover with changed_within_days 30, dormant + privileged, sod_conflict), of an app, a department, ' +
    'some entitlements or people; reviewed by each person’s manager, the entitlement’s owner or a named person, with a ' +
    'fallback (nobody reviews their own access). It is a write: it ALWAYS needs the human’s confirmation, given as for ' +
    'submit_decision (a form where the policy allows it, otherwise awaiting_confirmation with the command or console ' +
    'page). Call again with change_id to learn the result. The result carries a preview (items, people, reviewers). ' +
    'With on_platform okta it is also created and launched as an Okta Identity Governance campaign, with entra as an ' +
    'Entra access review definition, with ping as an Advanced Identity Cloud certification (a template, then run), ' +
    'exactly once; a campaign the platform cannot take is refused before anyone is asked.',
  kind: 'write',
  input: z.object({
    change_id: idArg('change_id')
      .optional()
      .describe(
        'A change returned earlier: reports whether it is applied (the other arguments are then ignored)',
      ),
    name: shape.name.optional().describe('The campaign name'),
    due_at: shape.due_at,
    scope: shape.scope.optional().describe('Which access to review: every given filter must hold'),
    reviewers: shape.reviewers
      .optional()
      .describe('Who reviews each item (manager, owner or a named reviewer) and the fallback'),
    on_platform: shape.on_platform,
  }),
  output: z.object({
    status: z.enum(['applied', 'awaiting_confirmation', 'rejected', 'failed']),
    change_id: z.string(),
    campaign_id: z.string().nullable(),
    platform: z
      .string()
      .describe('Where it is created besides Attest: okta, entra, ping, or snapshot (Attest only)'),
    platform_campaign_id: z
      .string()
      .nullable()
      .describe("The platform's own id of the campaign, once created there"),
    preview: z
      .object({
        items: z.number().int(),
        users: z.number().int(),
        entitlements: z.number().int(),
        reviewers: z.array(z.object({ reviewer_id: z.string().nullable(), items: z.number().int() })),
        fallback: z.number().int(),
        unassigned: z.number().int(),
        by_signal: z.record(z.string(), z.number().int()),
        unscored: z.number().int(),
        truncated: z.boolean(),
      })
      .nullable(),
    confirmation: z
      .object({
        id: z.string(),
        channel: z.string(),
        assurance: z.enum(['host-attested', 'human-verified']).optional(),
        required_assurance: z.enum(['host-attested', 'human-verified']).optional(),
        command: z.string().optional(),
        url: z.string().optional(),
        expires_at: z.string().optional(),
      })
      .nullable(),
    message: z.string(),
  }),
  async handle(args, ctx) {
    const deps = {
      store: ctx.store,
      config: ctx.config,
      now: ctx.now,
      principal: ctx.principal,
      transport: ctx.session.transport,
      askHuman: ctx.askHuman,
      recordEvent: ctx.recordEvent,
      confirmCommand: ctx.confirmCommand,
      confirmUrl: ctx.confirmUrl,
      applyChanges: ctx.applyOutbox,
      auditDetail: ctx.auditDetail,
    };
    if (ctx.principal.role !== 'admin') {
      throw new ToolError('Creating campaigns is for admins. Nothing was created.', 'forbidden');
    }
    let changeId = args.change_id;
    let preview: CampaignPreview | null = null;
    if (changeId === undefined) {
      const parsed = campaignSpecSchema.safeParse({
        name: args.name,
        due_at: args.due_at,
        scope: args.scope,
        reviewers: args.reviewers,
        ...(args.on_platform ? { on_platform: args.on_platform } : {}),
      });
      if (!parsed.success) {
        throw new ToolError(
          `Invalid arguments for create_campaign: ${describeZodError(parsed.error)}. Nothing was created. Pass name, scope and reviewers (or change_id).`,
          'bad_input',
        );
      }
      const spec = parsed.data;
      for (const who of [spec.reviewers.fallback_reviewer_id, spec.reviewers.reviewer_id])
        if (who !== undefined && !ctx.store.getUser(who))
          throw new ToolError(
            `reviewers: no user "${who}". Nothing was created. Reviewers are user ids of the store.`,
            'not_found',
          );
      const resolved = resolveCampaign(ctx.store, spec, ctx.now());
      preview = resolved.preview;
      if (preview.items === 0) {
        throw new ToolError(
          `No access matches this scope${preview.unscored > 0 ? ` (${preview.unscored} assignment(s) match the other filters but have no risk score yet: run an analysis, or drop min_risk/signals)` : ''}. Nothing was created.`,
          'not_found',
        );
      }
      if (spec.on_platform) {
        // Refused now, before anyone is asked, rather than half-done after the confirmation.
        const request = campaignRequest(
          ctx.store,
          spec,
          'preview',
          spec.on_platform,
          resolved.items,
          ctx.now(),
        );
        const refused = refuseCampaignOn(
          ctx.connectorFor?.(spec.on_platform) ?? null,
          spec.on_platform,
          request,
        );
        if (refused)
          throw new ToolError(
            `This campaign cannot be created on ${spec.on_platform}: ${refused}. Nothing was created and nobody was asked.`,
            'bad_input',
          );
      }
      const repo = ctx.store.changes;
      const summary = campaignSummary(spec, preview);
      // The draft's audit entry is this call's, written when the call ends with what became of it.
      changeId = ctx.store.transaction(() => {
        const c = repo.create({
          kind: 'create_campaign',
          platform: spec.on_platform ?? 'snapshot',
          spec: spec as unknown as Record<string, unknown>,
          summary,
          proposed_by: ctx.principal.id,
          proposed_at: ctx.now().toISOString(),
        });
        ctx.auditDetail({ change: { id: c.id, kind: c.kind, summary }, preview });
        return c.id;
      });
    }
    const r = await submitChange(deps, changeId);
    return {
      status: r.status,
      change_id: r.change_id,
      campaign_id: (r.result?.campaign_id as string | undefined) ?? null,
      platform: ctx.store.changes.get(r.change_id)?.platform ?? 'snapshot',
      platform_campaign_id: (r.result?.platform_campaign_id as string | null | undefined) ?? null,
      preview: preview ?? (r.result?.preview as never) ?? null,
      confirmation: r.confirmation,
      message: r.message,
    };
  },
  text: ({ status, message, ...rest }) => `${status}: ${message}\n${renderCompact(rest)}`,
});
