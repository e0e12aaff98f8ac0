import type { Config } from '../config.js';
import { ToolError } from '../errors.js';
import { checkSod } from './check-sod.js';
import { createCampaign } from './create-campaign.js';
import type { AnyTool } from './define.js';
import { explainItem } from './explain-item.js';
import { getAutomationPlan } from './get-automation-plan.js';
import { getCampaignSummary } from './get-campaign-summary.js';
import { getShadowReport } from './get-shadow-report.js';
import { getUserActivity } from './get-user-activity.js';
import { listCampaignItems } from './list-campaign-items.js';
import { listCampaigns } from './list-campaigns.js';
import { mineRoles } from './mine-roles.js';
import { proposeDecision } from './propose-decision.js';
import { proposeRole } from './propose-role.js';
import { reassignItems } from './reassign-items.js';
import { submitDecision } from './submit-decision.js';

/** Every tool, in the order they are listed. */
export const allTools: AnyTool[] = [
  listCampaigns,
  listCampaignItems,
  getUserActivity,
  checkSod,
  getCampaignSummary,
  explainItem,
  getShadowReport,
  getAutomationPlan,
  mineRoles,
  proposeDecision,
  reassignItems,
  submitDecision,
  createCampaign,
  proposeRole,
] as unknown as AnyTool[];

/** The tools a server with this configuration exposes: read-only mode removes every non-read tool. */
export function selectTools(config: Pick<Config, 'readOnly'>, tools: AnyTool[] = allTools): AnyTool[] {
  return tools.filter((t) => !config.readOnly || t.kind === 'read');
}

/** The tools a PostgreSQL store serves so far: the review path (they use only ToolContext.shared). */
export const POSTGRES_TOOLS: ReadonlySet<string> = new Set([
  'list_campaigns',
  'list_campaign_items',
  'propose_decision',
  'submit_decision',
]);

/**
 * The tools as a store of this kind serves them. Every tool is listed on both, so clients see
 * one surface; on PostgreSQL a tool not served there yet is refused before it runs, naming the
 * tool and the backend, and nothing is read or changed.
 */
export function servedOn(kind: 'sqlite' | 'postgres', tools: AnyTool[]): AnyTool[] {
  if (kind === 'sqlite') return tools;
  return tools.map((t) =>
    POSTGRES_TOOLS.has(t.name)
      ? t
      : {
          ...t,
          handle: () => {
            throw new ToolError(
              `${t.name} is not served on the PostgreSQL store yet: this server's store is PostgreSQL, where only ${[...POSTGRES_TOOLS].join(', ')} are served so far. Nothing was read or changed. Use one of those, or run ${t.name} against a SQLite store (see the README, "Running several replicas").`,
              'unavailable',
            );
          },
        },
  );
}
