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
});
