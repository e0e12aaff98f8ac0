import { afterEach, describe, expect, it } from 'vitest';
import { AuditLog } from '../src/store/audit.js';
import { type Harness, startServer } from './helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('resources and prompts', () => {
  it('lists and reads the campaign resources, audited', async () => {
    h = await startServer();
    const list = await h.client.listResources();
    expect(list.resources.map((r) => r.uri)).toEqual(['attest://campaigns', 'attest://campaigns/c1/summary']);
    const read = await h.client.readResource({ uri: 'attest://campaigns/c1/summary' });
    const body = JSON.parse(String((read.contents[0] as { text: string }).text)) as {
      by_status: Record<string, number>;
    };
    expect(body.by_status).toEqual({ pending: 10 });
    await expect(h.client.readResource({ uri: 'attest://campaigns/nope/summary' })).rejects.toThrow(
      /No campaign/,
    );
    const tools = [...new AuditLog(h.store.db).entries()].map((e) => [e.tool, e.outcome]);
    expect(tools).toEqual([
      ['resource:attest://campaigns/c1/summary', 'ok'],
      ['resource:attest://campaigns/nope/summary', 'error'],
    ]);
  });

  it('completes campaign ids and serves the review prompt', async () => {
    h = await startServer();
    const c = await h.client.complete({
      ref: { type: 'ref/resource', uri: 'attest://campaigns/{campaign_id}/summary' },
      argument: { name: 'campaign_id', value: 'c' },
    });
    expect(c.completion.values.sort()).toEqual(['c0', 'c1']);
    const p = await h.client.getPrompt({ name: 'review_campaign', arguments: { campaign_id: 'c1' } });
    expect(JSON.stringify(p.messages)).toMatch(/Never try to confirm it yourself/);
  });
});
