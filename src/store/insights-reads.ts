import type { Store } from './store.js';

/** One decided item of a campaign, as the dashboard and the evidence pack need it. */
export interface DecidedRow {
  item_id: string;
  reviewer_id: string | null;
  user_id: string;
  user_name: string | null;
  entitlement_id: string;
  entitlement_name: string;
  app: string | null;
  privileged: boolean;
  risk_score: number;
  risk_level: string;
  signals: string[];
  recommendation: string | null;
  recommendation_confidence: number | null;
  recommendation_rationale: string | null;
  decision: string;
  decided_by: string;
  decided_at: string;
  channel: string | null;
  assurance: string | null;
  confirmation_id: string | null;
  confirmed_at: string | null;
  proposed_by: string | null;
  submitted_by: string | null;
  rationale: string | null;
  proposed_at: string | null;
  platform_ref: string | null;
  remediation_status: string | null;
  remediation_detail: string | null;
}

/** Aggregates over one campaign's items. */
export interface CampaignAggregates {
  by_status: Record<string, number>;
  by_level: Record<string, number>;
  by_recommendation: Record<string, number>;
  by_signal: Record<string, number>;
  /** Risk score histogram, buckets of 10 points (index 0: 0-9 ... 9: 90-100). */
  risk_histogram: number[];
  by_reviewer: Array<{
    reviewer_id: string | null;
    total: number;
    pending: number;
    proposed: number;
    decided: number;
  }>;
}

const count = (rows: Array<{ k: string | null; n: number }>) =>
  Object.fromEntries(rows.map((r) => [r.k ?? 'none', r.n]));

/** The reads behind the console's dashboards and the evidence pack. */
export class InsightsReader {
  constructor(private readonly store: Store) {}

  aggregates(campaignId: string, reviewerIds?: string[]): CampaignAggregates {
    const scope = reviewerIds === undefined ? null : JSON.stringify(reviewerIds);
    const where =
      "campaign_id = ? AND (? IS NULL OR reviewer_id IN (SELECT value FROM json_each(coalesce(?, '[]'))))";
    const args = [campaignId, scope, scope];
    const q = (sql: string) => this.store.stmt(sql).all(...args) as Array<{ k: string | null; n: number }>;
    const hist = new Array<number>(10).fill(0);
    for (const r of q(
      `SELECT min(9, risk_score / 10) AS k, count(*) AS n FROM review_items WHERE ${where} GROUP BY k`,
    ))
      hist[Number(r.k)] = r.n;
    const reviewers = this.store
      .stmt(
        `SELECT reviewer_id, count(*) AS total, sum(status = 'pending') AS pending, sum(status = 'proposed') AS proposed,
           sum(status = 'decided') AS decided
         FROM review_items WHERE ${where} GROUP BY reviewer_id ORDER BY total DESC, reviewer_id`,
      )
      .all(...args) as CampaignAggregates['by_reviewer'];
    return {
      by_status: count(
        q(`SELECT status AS k, count(*) AS n FROM review_items WHERE ${where} GROUP BY k ORDER BY k`),
      ),
      by_level: count(
        q(`SELECT risk_level AS k, count(*) AS n FROM review_items WHERE ${where} GROUP BY k ORDER BY k`),
      ),
      by_recommendation: count(
        q(
          `SELECT json_extract(recommendation, '$.decision') AS k, count(*) AS n FROM review_items WHERE ${where} GROUP BY k ORDER BY k`,
        ),
      ),
      by_signal: count(
        q(
          `SELECT j.value ->> '$.code' AS k, count(*) AS n FROM review_items, json_each(review_items.signals) j WHERE ${where} GROUP BY k ORDER BY k`,
        ),
      ),
      risk_histogram: hist,
      by_reviewer: reviewers.map((r) => ({
        reviewer_id: r.reviewer_id,
        total: Number(r.total),
        pending: Number(r.pending),
        proposed: Number(r.proposed),
        decided: Number(r.decided),
      })),
    };
  }

  /** Every decided item of a campaign with who decided it, through which channel, and its remediation. */
  decided(campaignId: string, reviewerIds?: string[]): DecidedRow[] {
    const scope = reviewerIds === undefined ? null : JSON.stringify(reviewerIds);
    const rows = this.store
      .stmt(
        `SELECT i.id AS item_id, i.reviewer_id, i.user_id, u.name AS user_name, i.entitlement_id, e.name AS entitlement_name,
           e.app, e.privileged, i.risk_score, i.risk_level, i.signals,
           json_extract(i.recommendation, '$.decision') AS recommendation,
           json_extract(i.recommendation, '$.confidence') AS recommendation_confidence,
           json_extract(i.recommendation, '$.rationale') AS recommendation_rationale,
           d.decision, d.decided_by, d.decided_at, d.channel, d.assurance, d.confirmation_id, d.confirmed_at,
           d.proposed_by, d.submitted_by, p.rationale, p.proposed_at, d.platform_ref,
           r.status AS remediation_status, r.detail AS remediation_detail
         FROM item_decisions d
         JOIN review_items i ON i.id = d.item_id
         JOIN users u ON u.id = i.user_id
         JOIN entitlements e ON e.id = i.entitlement_id
         LEFT JOIN proposals p ON p.id = d.proposal_id
         LEFT JOIN remediations r ON r.item_id = d.item_id
         WHERE i.campaign_id = ? AND (? IS NULL OR i.reviewer_id IN (SELECT value FROM json_each(coalesce(?, '[]'))))
         ORDER BY d.decided_at, i.id`,
      )
      .all(campaignId, scope, scope) as Array<Record<string, unknown>>;
    return rows.map((r) => ({
      ...(r as unknown as DecidedRow),
      privileged: r.privileged === 1,
      signals: (JSON.parse(String(r.signals ?? '[]')) as Array<{ code: string }>).map((s) => s.code),
    }));
  }

  /** Pending items of reviewers, per reviewer (for "overdue"). */
  openItems(campaignId: string): Array<{ item_id: string; reviewer_id: string | null; status: string }> {
    return this.store
      .stmt(
        `SELECT id AS item_id, reviewer_id, status FROM review_items WHERE campaign_id = ? AND status != 'decided'
         ORDER BY reviewer_id, id`,
      )
      .all(campaignId) as Array<{ item_id: string; reviewer_id: string | null; status: string }>;
  }
}
