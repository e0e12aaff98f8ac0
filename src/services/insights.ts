import type { CampaignSummary } from '../domain/index.js';
import { type CampaignAggregates, type DecidedRow, InsightsReader } from '../store/insights-reads.js';
import type { Store } from '../store/store.js';

/** Where a campaign stands, as the console's dashboard shows it. */
export interface CampaignDashboard {
  campaign: CampaignSummary;
  aggregates: CampaignAggregates;
  /** Reviewers with items still open after the due date. */
  overdue: Array<{ reviewer_id: string | null; open: number; items: string[] }>;
  recommendations: {
    /** Decided items that had a recommendation. */
    compared: number;
    accepted: number;
    overridden: number;
    acceptance_rate: number | null;
    override_rate: number | null;
    /** The overridden items. */
    overrides: string[];
  };
  time_to_decide: {
    decisions: number;
    /** Hours from the campaign's start to each decision. */
    median_hours: number | null;
    p90_hours: number | null;
    /** Seconds from the proposal to the human's confirmation. */
    median_confirm_seconds: number | null;
  };
}

/** How one person decided in a campaign. */
export interface ReviewerBehaviour {
  decided_by: string;
  decisions: number;
  approvals: number;
  revokes: number;
  escalations: number;
  approval_rate: number;
  /** Median seconds between their consecutive decisions within one sitting. */
  median_seconds_per_item: number | null;
  /** Approvals of items the engine recommended revoking. */
  approved_against_revoke: string[];
  /** Those of them with no rationale worth the name. */
  approved_against_revoke_without_rationale: string[];
  flags: Array<'rubber_stamping' | 'never_revokes'>;
  items: string[];
}

/** Thresholds for the reviewer flags; each is stated on the page next to the figure. */
export const BEHAVIOUR = {
  /** Decisions a reviewer needs before any flag is raised. */
  minDecisions: 10,
  /** Approval share at or above which fast approving is rubber-stamping. */
  rubberStampApproval: 0.95,
  /** Median seconds per item below which approving is too fast to have been looked at. */
  rubberStampSeconds: 15,
  /** A gap longer than this between two decisions starts a new sitting. */
  sittingGapSeconds: 1800,
  /** A rationale shorter than this says nothing. */
  minRationale: 12,
} as const;

function quantile(sorted: number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

const rate = (a: number, b: number) => (b === 0 ? null : Math.round((a / b) * 10_000) / 10_000);
const hours = (ms: number) => Math.round((ms / 3600_000) * 100) / 100;

export function campaignDashboard(
  store: Store,
  campaign: CampaignSummary,
  now: Date,
  reviewerIds?: string[],
): CampaignDashboard {
  const reader = new InsightsReader(store);
  const aggregates = reader.aggregates(campaign.id, reviewerIds);
  const decided = reader.decided(campaign.id, reviewerIds);
  const compared = decided.filter((d) => d.recommendation !== null && d.channel !== 'platform');
  const overrides = compared.filter((d) => d.recommendation !== d.decision);
  const start = Date.parse(campaign.created_at);
  const toDecide = decided
    .map((d) => Date.parse(d.decided_at) - start)
    .filter((x) => Number.isFinite(x) && x >= 0);
  toDecide.sort((a, b) => a - b);
  const confirmSeconds = decided
    .filter((d) => d.proposed_at && d.confirmed_at)
    .map((d) => (Date.parse(d.confirmed_at!) - Date.parse(d.proposed_at!)) / 1000)
    .filter((x) => Number.isFinite(x) && x >= 0)
    .sort((a, b) => a - b);
  const overdue: CampaignDashboard['overdue'] = [];
  if (campaign.due_at && Date.parse(campaign.due_at) < now.getTime()) {
    const open = new Map<string | null, string[]>();
    const scope = reviewerIds ? new Set(reviewerIds) : null;
    for (const o of reader.openItems(campaign.id)) {
      if (scope && (o.reviewer_id === null || !scope.has(o.reviewer_id))) continue;
      const list = open.get(o.reviewer_id);
      if (list) list.push(o.item_id);
      else open.set(o.reviewer_id, [o.item_id]);
    }
    for (const [reviewer_id, items] of open) overdue.push({ reviewer_id, open: items.length, items });
    overdue.sort((a, b) => b.open - a.open);
  }
  const median = quantile(toDecide, 0.5);
  const p90 = quantile(toDecide, 0.9);
  return {
    campaign,
    aggregates,
    overdue,
    recommendations: {
      compared: compared.length,
      accepted: compared.length - overrides.length,
      overridden: overrides.length,
      acceptance_rate: rate(compared.length - overrides.length, compared.length),
      override_rate: rate(overrides.length, compared.length),
      overrides: overrides.map((d) => d.item_id),
    },
    time_to_decide: {
      decisions: decided.length,
      median_hours: median === null ? null : hours(median),
      p90_hours: p90 === null ? null : hours(p90),
      median_confirm_seconds: quantile(confirmSeconds, 0.5),
    },
  };
}

/** Per person who decided: how fast, how often they approved, what they approved against the engine. */
export function reviewerBehaviour(
  store: Store,
  campaignId: string,
  reviewerIds?: string[],
): ReviewerBehaviour[] {
  const decided = new InsightsReader(store).decided(campaignId, reviewerIds);
  const by = new Map<string, DecidedRow[]>();
  for (const d of decided) {
    const list = by.get(d.decided_by);
    if (list) list.push(d);
    else by.set(d.decided_by, [d]);
  }
  const out: ReviewerBehaviour[] = [];
  for (const [who, rows] of [...by.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
    const times = rows
      .map((r) => Date.parse(r.confirmed_at ?? r.decided_at))
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    const gaps: number[] = [];
    for (let i = 1; i < times.length; i++) {
      const g = (times[i]! - times[i - 1]!) / 1000;
      if (g <= BEHAVIOUR.sittingGapSeconds) gaps.push(g);
    }
    gaps.sort((a, b) => a - b);
    const approvals = rows.filter((r) => r.decision === 'approve');
    const revokes = rows.filter((r) => r.decision === 'revoke').length;
    const against = approvals.filter((r) => r.recommendation === 'revoke');
    const bare = against.filter((r) => (r.rationale ?? '').trim().length < BEHAVIOUR.minRationale);
    const approvalRate = approvals.length / rows.length;
    const secondsPerItem = quantile(gaps, 0.5);
    const flags: ReviewerBehaviour['flags'] = [];
    if (rows.length >= BEHAVIOUR.minDecisions) {
      if (
        approvalRate >= BEHAVIOUR.rubberStampApproval &&
        secondsPerItem !== null &&
        secondsPerItem < BEHAVIOUR.rubberStampSeconds
      )
        flags.push('rubber_stamping');
      if (revokes === 0) flags.push('never_revokes');
    }
    out.push({
      decided_by: who,
      decisions: rows.length,
      approvals: approvals.length,
      revokes,
      escalations: rows.filter((r) => r.decision === 'escalate').length,
      approval_rate: Math.round(approvalRate * 10_000) / 10_000,
      median_seconds_per_item: secondsPerItem,
      approved_against_revoke: against.map((r) => r.item_id),
      approved_against_revoke_without_rationale: bare.map((r) => r.item_id),
      flags,
      items: rows.map((r) => r.item_id),
    });
  }
  return out;
}
