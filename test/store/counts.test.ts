import { describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../src/services/load.js';
import { startServer, TINY } from '../helpers/harness.js';

describe('item counts kept by triggers', () => {
  it('match a real count after import, proposals, decisions, rejections and a re-import', async () => {
    const h = await startServer({ elicit: { action: 'accept', content: { confirm: true } } });
    const exact = () =>
      h.store.db
        .prepare('SELECT campaign_id, status, count(*) AS n FROM review_items GROUP BY 1, 2 ORDER BY 1, 2')
        .all();
    const kept = () =>
      h.store.db
        .prepare('SELECT campaign_id, status, n FROM review_item_counts WHERE n != 0 ORDER BY 1, 2')
        .all();
    expect(kept()).toEqual(exact());
    const a = await h.ok<{ proposal_id: string }>('propose_decision', {
      item_id: 'i8',
      decision: 'revoke',
      rationale: 'r',
    });
    await h.ok('propose_decision', { item_id: 'i2', decision: 'approve', rationale: 'r' });
    expect(kept()).toEqual(exact());
    await h.ok('submit_decision', { proposal_ids: [a.proposal_id] });
    expect(kept()).toEqual(exact());
    await loadSnapshot(h.store, TINY, { asOf: new Date('2026-11-28T00:00:00Z'), dormantDays: 90 });
    expect(kept()).toEqual(exact());
    const page = await h.ok<{ total: number }>('list_campaign_items', { campaign_id: 'c1', status: 'all' });
    expect(page.total).toBe(10);
    await h.close();
  });
});
