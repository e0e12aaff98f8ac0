import type { DecisionValue } from '../domain/index.js';
import type { Db } from './db.js';
import { DecisionsRepo } from './decisions.js';

/** The figures of a class's backtest an automatic decision was taken under. */
export interface AutomationFigures {
  class: string;
  precision: number;
  decisions: number;
  min_precision: number;
  min_decisions: number;
  fit_id: string;
  [extra: string]: unknown;
}

/** One automatic decision as recorded (for the evidence pack and the plan). */
export interface AutomaticDecisionRow {
  proposal_id: string;
  item_id: string;
  campaign_id: string;
  class: string;
  decision: 'approve' | 'revoke';
  precision: number;
  decisions: number;
  min_precision: number;
  min_decisions: number;
  fit_id: string;
  figures: string;
  queued_at: string;
  /** pending, done or failed (the outbox row). */
  outbox_status: string | null;
  platform_ref: string | null;
  user_id: string;
  entitlement_id: string;
}

/** Automatic decisions: queued through the same proposals, confirmations and outbox as every decision. */
export class AutomationRepo {
  constructor(private readonly db: Db) {}

  /**
   * Queues one class's automatic decisions in one transaction: for each item still open
   * (pending, no draft proposal, no decision, campaign active) a proposal by `policy:<class>`,
   * then one confirmation on the `policy` channel and the outbox rows, the automatic-decision
   * records and (through `inTransaction`) the audit entry; if any part fails nothing is queued.
   * Items that were taken meanwhile are skipped and returned as such.
   */
  queue(args: {
    principal: string;
    campaignId: string;
    items: Array<{
      item_id: string;
      decision: 'approve' | 'revoke';
      rationale: string;
      confidence: number | null;
    }>;
    figures: AutomationFigures;
    now: Date;
    inTransaction: (
      confirmationId: string,
      proposals: Array<{ proposal_id: string; item_id: string }>,
    ) => void;
  }): {
    confirmation_id: string | null;
    queued: Array<{ proposal_id: string; item_id: string }>;
    skipped: string[];
  } {
    const repo = new DecisionsRepo(this.db);
    const open = this.db.prepare(
      `SELECT 1 FROM review_items i JOIN campaigns c ON c.id = i.campaign_id
       WHERE i.id = ? AND i.campaign_id = ? AND i.status = 'pending' AND c.status = 'active'
         AND NOT EXISTS (SELECT 1 FROM proposals p WHERE p.item_id = i.id AND p.status = 'draft')
         AND NOT EXISTS (SELECT 1 FROM item_decisions d WHERE d.item_id = i.id)
         AND NOT EXISTS (SELECT 1 FROM escalations e WHERE e.item_id = i.id AND e.resolved_at IS NULL)`,
    );
    const record = this.db.prepare(
      `INSERT INTO automatic_decisions (proposal_id, item_id, campaign_id, class, decision, precision, decisions,
         min_precision, min_decisions, fit_id, figures, queued_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    return this.db
      .transaction(() => {
        const at = args.now.toISOString();
        const queued: Array<{ proposal_id: string; item_id: string; decision: DecisionValue }> = [];
        const skipped: string[] = [];
        for (const it of args.items) {
          if (open.get(it.item_id, args.campaignId) === undefined) {
            skipped.push(it.item_id);
            continue;
          }
          const p = repo.propose({
            item_id: it.item_id,
            decision: it.decision,
            rationale: it.rationale,
            confidence: it.confidence,
            engine_decision: it.decision,
            proposed_by: args.principal,
            proposed_at: at,
          });
          queued.push({ proposal_id: p.id, item_id: it.item_id, decision: it.decision });
        }
        if (queued.length === 0) return { confirmation_id: null, queued: [], skipped };
        const ids = queued.map((q) => q.proposal_id);
        const f = args.figures;
        const done = repo.confirmIntoOutbox({
          pendingId: null,
          principal: args.principal,
          batchHash: repo.batchHash(ids),
          proposalIds: ids,
          confirmedBy: args.principal,
          channel: 'policy',
          assurance: 'policy',
          now: args.now,
          inTransaction: (cid) => {
            for (const q of queued)
              record.run(
                q.proposal_id,
                q.item_id,
                args.campaignId,
                f.class,
                q.decision,
                f.precision,
                f.decisions,
                f.min_precision,
                f.min_decisions,
                f.fit_id,
                JSON.stringify(f),
                at,
              );
            args.inTransaction(
              cid,
              queued.map(({ proposal_id, item_id }) => ({ proposal_id, item_id })),
            );
          },
        });
        if ('already' in done) throw new Error('automatic proposals were queued twice');
        return {
          confirmation_id: done.id,
          queued: queued.map(({ proposal_id, item_id }) => ({ proposal_id, item_id })),
          skipped,
        };
      })
      .immediate();
  }

  /** The automatic decisions of a campaign, with their outbox state, in the order they were queued. */
  forCampaign(campaignId: string): AutomaticDecisionRow[] {
    return this.db
      .prepare(
        `SELECT a.*, o.status AS outbox_status, o.platform_ref, i.user_id, i.entitlement_id
         FROM automatic_decisions a JOIN review_items i ON i.id = a.item_id
         LEFT JOIN outbox o ON o.proposal_id = a.proposal_id
         WHERE a.campaign_id = ? ORDER BY a.queued_at, a.rowid`,
      )
      .all(campaignId) as AutomaticDecisionRow[];
  }
}
