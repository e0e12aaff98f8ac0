import { afterEach, describe, expect, it } from 'vitest';
import { APPROVAL_CARD_URI, MCP_APP_MIME } from '../src/resources/approval-card.js';
import { type Harness, startServer } from './helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('the MCP Apps approval card', () => {
  it('is named by submit_decision and served as an MCP App resource', async () => {
    h = await startServer();
    const { tools } = await h.client.listTools();
    const submit = tools.find((t) => t.name === 'submit_decision')!;
    expect(submit._meta).toMatchObject({
      ui: { resourceUri: APPROVAL_CARD_URI },
      'ui/resourceUri': APPROVAL_CARD_URI,
    });
    const listed = await h.client.listResources();
    expect(listed.resources.find((r) => r.uri === APPROVAL_CARD_URI)).toMatchObject({
      mimeType: MCP_APP_MIME,
    });
    const read = await h.client.readResource({ uri: APPROVAL_CARD_URI });
    const card = read.contents[0] as { mimeType: string; text: string; _meta?: { ui?: { csp?: unknown } } };
    expect(card.mimeType).toBe(MCP_APP_MIME);
    expect(card._meta?.ui?.csp).toEqual({ connectDomains: [], resourceDomains: [] });
    // It talks to its host only to initialise and to open the console link: it calls no tool.
    const methods = [...card.text.matchAll(/request\('([^']+)'/g)].map((m) => m[1]);
    expect(new Set(methods)).toEqual(new Set(['ui/initialize', 'ui/open-link']));
    expect(card.text).not.toMatch(/tools\/call|callServerTool|innerHTML/);
  });

  it('nothing the model can send confirms a batch: every tool called with the confirmation leaves it pending', async () => {
    h = await startServer();
    const p = await h.ok<{ proposal_id: string }>('propose_decision', {
      item_id: 'i8',
      decision: 'revoke',
      rationale: 'r',
    });
    const r = await h.ok<{ status: string; confirmation: { id: string } }>('submit_decision', {
      proposal_ids: [p.proposal_id],
    });
    expect(r.status).toBe('awaiting_confirmation');
    const id = r.confirmation.id;
    const { tools } = await h.client.listTools();
    for (const t of tools) {
      for (const args of [
        { confirmation_id: id },
        { change_id: id },
        { proposal_ids: [p.proposal_id], confirm: true },
        { id, confirm: true },
      ]) {
        await h.call(t.name, args);
      }
    }
    await h.call('submit_decision', { proposal_ids: [p.proposal_id] });
    expect(h.store.db.prepare('SELECT status FROM confirmations WHERE id = ?').get(id)).toEqual({
      status: 'pending',
    });
    expect(h.store.db.prepare('SELECT count(*) AS n FROM item_decisions').get()).toEqual({ n: 0 });
  });
});
