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
    expect(list.resources.map((r) => r.uri)).toEqual([
      'ui://attest/approval-card.html',
      'attest://roles',
      'attest://campaigns',
      'attest://campaigns/c1/summary',
    ]);
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

  it("completes review_campaign's campaign_id with the caller's campaigns only", async () => {
    h = await startServer();
    const all = await h.client.complete({
      ref: { type: 'ref/prompt', name: 'review_campaign' },
      argument: { name: 'campaign_id', value: 'c' },
    });
    expect(all.completion.values.sort()).toEqual(['c0', 'c1']);
    await h.close();
    // u2 reviews items of c1 only: c0 is not offered to them, and asking for it is refused.
    h = await startServer({ principal: { id: 'fay@example.com', role: 'reviewer', reviewer_ids: ['u2'] } });
    const mine = await h.client.complete({
      ref: { type: 'ref/prompt', name: 'review_campaign' },
      argument: { name: 'campaign_id', value: '' },
    });
    expect(mine.completion.values).toEqual(['c1']);
    await expect(
      h.client.getPrompt({ name: 'review_campaign', arguments: { campaign_id: 'c0' } }),
    ).rejects.toThrow(/No campaign "c0"\. Nothing was read\./);
  });

  it('refuses the review prompt for an unknown campaign by name, audited', async () => {
    h = await startServer();
    await expect(
      h.client.getPrompt({ name: 'review_campaign', arguments: { campaign_id: 'c-404' } }),
    ).rejects.toThrow(
      /No campaign "c-404"\. Nothing was read\. Read attest:\/\/campaigns \(or call list_campaigns\) for the valid ids\./,
    );
    const entries = [...new AuditLog(h.store.db).entries()].map((e) => [e.tool, e.outcome, e.arguments]);
    expect(entries).toEqual([['prompt:review_campaign', 'error', { campaign_id: 'c-404' }]]);
  });

  it('serves the same resources and prompt to a 2026-07-28 client, list results with their caching fields', async () => {
    h = await startServer({ era: 'modern' });
    const list = await h.client.listResources();
    expect(list.resources.map((r) => r.uri)).toEqual([
      'ui://attest/approval-card.html',
      'attest://roles',
      'attest://campaigns',
      'attest://campaigns/c1/summary',
    ]);
    const read = await h.client.readResource({ uri: 'attest://campaigns/c1/summary' });
    expect(JSON.parse(String((read.contents[0] as { text: string }).text)).by_status).toEqual({
      pending: 10,
    });
    await expect(h.client.readResource({ uri: 'attest://campaigns/nope/summary' })).rejects.toThrow(
      /No campaign/,
    );
    const prompt = await h.client.getPrompt({ name: 'review_campaign', arguments: { campaign_id: 'c1' } });
    expect(JSON.stringify(prompt.messages)).toMatch(/Never try to confirm it yourself/);
    // Raw list results: the tool, prompt and template lists are cacheable for 5 minutes, the campaign list never.
    const raw = async (method: string) =>
      (await h!.client.request(
        { method, params: {} } as never,
        { allowInputRequired: false } as never,
      )) as Record<string, unknown>;
    expect(await raw('tools/list')).toMatchObject({ ttlMs: 300_000, cacheScope: 'private' });
    expect(await raw('prompts/list')).toMatchObject({ ttlMs: 300_000, cacheScope: 'private' });
    expect(await raw('resources/templates/list')).toMatchObject({ ttlMs: 300_000, cacheScope: 'private' });
    expect(await raw('resources/list')).toMatchObject({ ttlMs: 0, cacheScope: 'private' });
    const tools = [...new AuditLog(h.store.db).entries()].map((e) => [e.tool, e.outcome]);
    expect(tools).toEqual([
      ['resource:attest://campaigns/c1/summary', 'ok'],
      ['resource:attest://campaigns/nope/summary', 'error'],
      ['prompt:review_campaign', 'ok'],
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
