import { describe, expect, it } from 'vitest';
import { refitWhenCampaignDone } from '../../src/app.js';
import { createLogger } from '../../src/log.js';
import { startServer } from '../helpers/harness.js';

describe('learning after a campaign', () => {
  it('refits once when the last item of a campaign is decided, and the decisions become training rows', async () => {
    const h = await startServer({ elicit: { action: 'accept', content: { confirm: true } } });
    const logger = createLogger('silent');
    const ids: string[] = [];
    for (let i = 1; i <= 10; i++) {
      const p = await h.ok<{ proposal_id: string }>('propose_decision', {
        item_id: `i${i}`,
        decision: i % 2 ? 'approve' : 'revoke',
        rationale: 'r',
      });
      ids.push(p.proposal_id);
    }
    expect(refitWhenCampaignDone(h.store, h.config, logger)).toBe(false);
    await h.ok('submit_decision', { proposal_ids: ids });
    expect(
      h.store.db.prepare("SELECT count(*) AS n FROM past_decisions WHERE source = 'tool'").get(),
    ).toEqual({ n: 10 });
    expect(refitWhenCampaignDone(h.store, h.config, logger)).toBe(true);
    expect(h.store.getMeta('refit_after:c1')).toBeTruthy();
    expect(refitWhenCampaignDone(h.store, h.config, logger)).toBe(false);
    await h.close();
  });

  it("refits once across processes: not while another holds the refit lease, and after a dead holder's lease runs out", async () => {
    const h = await startServer({ elicit: { action: 'accept', content: { confirm: true } } });
    const logger = createLogger('silent');
    const ids: string[] = [];
    for (let i = 1; i <= 10; i++) {
      const p = await h.ok<{ proposal_id: string }>('propose_decision', {
        item_id: `i${i}`,
        decision: 'approve',
        rationale: 'r',
      });
      ids.push(p.proposal_id);
    }
    await h.ok('submit_decision', { proposal_ids: ids });
    // Another replica is refitting (and may die doing it): this one leaves it alone.
    const { leases } = h.store;
    const now = new Date();
    expect(leases.tryLead('refit', 'replica-b', 60_000, now)).toBe(true);
    expect(refitWhenCampaignDone(h.store, h.config, logger, 'replica-a')).toBe(false);
    expect(h.store.getMeta('refit_after:c1')).toBeUndefined();
    // Replica b died without marking the campaign: once its lease has run out, a refits.
    h.store.db
      .prepare("UPDATE leader_leases SET lease_until = ? WHERE name = 'refit'")
      .run(now.toISOString());
    expect(refitWhenCampaignDone(h.store, h.config, logger, 'replica-a')).toBe(true);
    expect(h.store.getMeta('refit_after:c1')).toBeTruthy();
    // The lease is given back, and the campaign is not refitted a second time by anyone.
    expect(leases.holder('refit')).toBeNull();
    expect(refitWhenCampaignDone(h.store, h.config, logger, 'replica-b')).toBe(false);
    await h.close();
  });
});
