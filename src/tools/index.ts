import type { Config } from '../config.js';
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
