import { z } from 'zod';
import type { CampaignItem } from '../domain/index.js';
import { ToolError } from '../errors.js';
import type { ItemRow } from '../store/store.js';
import type { ToolContext } from './define.js';

/** An id argument: an opaque string, bounded, no control characters. */
export const idArg = (what: string) =>
  z
    .string()
    .min(1, `${what} must not be empty`)
    .max(256, `${what} is longer than 256 characters`)
    // biome-ignore lint/suspicious/noControlCharactersInRegex: rejecting control characters is the point
    .regex(/^[^\u0000-\u001f\u007f]+$/, `${what} contains control characters`);

export function toCampaignItem(r: ItemRow): CampaignItem {
  return {
    item_id: r.item_id,
    campaign_id: r.campaign_id,
    status: r.status,
    reviewer_id: r.reviewer_id,
    user: {
      id: r.user.id,
      name: r.user.name,
      email: r.user.email,
      department: r.user.department,
      title: r.user.title,
      manager_id: r.user.manager_id,
      status: r.user.status,
      employee_type: r.user.employee_type,
    },
    entitlement: {
      id: r.entitlement.id,
      name: r.entitlement.name,
      type: r.entitlement.type,
      app: r.entitlement.app,
      privileged: r.entitlement.privileged,
      sensitivity: r.entitlement.sensitivity,
    },
    risk: { score: r.risk_score, level: r.risk_level, signals: r.signals },
    // Evidence is listed by explain_item; list pages stay small for the model's context.
    recommendation:
      r.recommendation === null
        ? null
        : {
            decision: r.recommendation.decision,
            confidence: r.recommendation.confidence,
            rationale: r.recommendation.rationale,
          },
    proposal: r.proposal,
    decision: r.decision,
    ...(r.escalation ? { escalation: r.escalation } : {}),
  };
}

/**
 * The reviewer ids whose items the principal may see: undefined for an admin (every item),
 * the principal's own reviewer ids for a reviewer (possibly none: then nothing).
 */
export function reviewerScope(ctx: ToolContext): string[] | undefined {
  return ctx.principal.role === 'admin' ? undefined : ctx.principal.reviewer_ids;
}

/** A user the principal may read about: an admin any; a reviewer those of items assigned to them. */
export function requireVisibleUser(ctx: ToolContext, userId: string) {
  const scope = reviewerScope(ctx);
  if (scope !== undefined && !ctx.store.reviewsUser(scope, userId)) {
    throw new ToolError(
      `user_id: no user "${userId}" among the users of items assigned to you. Nothing was read. Use the user.id of one of your items from list_campaign_items.`,
      'not_found',
    );
  }
  return requireUser(ctx, userId);
}

/** Whether the principal may see (and decide) an item. */
export function canSeeItem(ctx: ToolContext, reviewerId: string | null): boolean {
  if (ctx.principal.role === 'admin') return true;
  return reviewerId !== null && ctx.principal.reviewer_ids.includes(reviewerId);
}

export function requireCampaign(ctx: ToolContext, campaignId: string) {
  const c = ctx.store.getCampaign(campaignId);
  if (!c) throw missingCampaign(campaignId);
  return c;
}

/** The refusal of a campaign id that is not in the store. */
export function missingCampaign(campaignId: string): ToolError {
  return new ToolError(
    `campaign_id: no campaign "${campaignId}". Nothing was read. Call list_campaigns for the valid ids.`,
    'not_found',
  );
}

export function requireUser(ctx: ToolContext, userId: string) {
  const u = ctx.store.getUser(userId);
  if (!u) {
    throw new ToolError(
      `user_id: no user "${userId}". Nothing was read. Use the user.id field of an item from list_campaign_items.`,
      'not_found',
    );
  }
  return u;
}

export function asOf(ctx: ToolContext): Date {
  return ctx.config.asOf ? new Date(ctx.config.asOf) : ctx.now();
}
