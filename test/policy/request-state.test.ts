import { afterEach, describe, expect, it } from 'vitest';
import { answerConfirmation } from '../../src/services/decisions.js';
import { AuditLog } from '../../src/store/audit.js';
import type { Store } from '../../src/store/store.js';
import { type Harness, startServer, tinyStore } from '../helpers/harness.js';

/** submit_decision on MCP 2026-07-28: the confirmation rides input_required and a retry. */

const harnesses: Harness[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
  for (const c of cleanups.splice(0)) c();
});
async function start(options: Parameters<typeof startServer>[0] = {}) {
  const h = await startServer({ era: 'modern', ...options });
  harnesses.push(h);
  return h;
}

interface Submit {
  status: string;
  results: Array<{ proposal_id: string; item_id: string; status: string }>;
  confirmation: { id: string; channel: string; assurance?: string; url?: string; command?: string } | null;
  message: string;
}
interface InputRequired {
  resultType: 'input_required';
  inputRequests: Record<string, { method: string; params: { mode?: string; message: string; url?: string } }>;
  requestState?: string;
}

const ACCEPT = { action: 'accept' as const, content: { confirm: true } };

async function propose(h: Harness, item_id: string, decision = 'revoke') {
  return (
    await h.ok<{ proposal_id: string }>('propose_decision', {
      item_id,
      decision,
      rationale: `Because ${item_id}`,
    })
  ).proposal_id;
}

function decisions(store: Store) {
  return store.db
    .prepare(
      'SELECT item_id, decision, channel, confirmed_by, assurance FROM item_decisions ORDER BY item_id',
    )
    .all() as Array<Record<string, unknown>>;
}
const outboxRows = (store: Store) =>
  (store.db.prepare('SELECT count(*) AS n FROM outbox').get() as { n: number }).n;
const audit = (store: Store) => [...new AuditLog(store.db).entries()];

/** The first round only: the input_required answer, as a client that drives the rounds itself sees it. */
async function firstRound(h: Harness, proposal_ids: string[]): Promise<InputRequired> {
  const r = (await h.client.callTool(
    { name: 'submit_decision', arguments: { proposal_ids } },
    { allowInputRequired: true },
  )) as unknown as InputRequired;
  expect(r.resultType).toBe('input_required');
  return r;
}

/** A retry with this answer and this requestState. */
function retry(h: Harness, proposal_ids: string[], requestState: string, answer: unknown = ACCEPT) {
  return h.client.callTool(
    {
      name: 'submit_decision',
      arguments: { proposal_ids },
      inputResponses: { confirm: answer },
      requestState,
    } as never,
    { allowInputRequired: true },
  );
}

describe('submit_decision on 2026-07-28 (input_required)', () => {
  it('a real v2 client confirms the batch through the round trip; it is applied once, as an elicitation', async () => {
    const h = await start({ elicit: ACCEPT });
    const ids = [await propose(h, 'i8'), await propose(h, 'i2', 'approve')];
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: ids });
    expect(r.status).toBe('applied');
    expect(r.confirmation).toMatchObject({ channel: 'elicitation', assurance: 'host-attested' });
    expect(h.elicitations).toHaveLength(1);
    expect(h.elicitations[0]!.message).toMatch(
      /^Apply 2 access review decision\(s\) submitted by "tester@example.com"/,
    );
    expect(decisions(h.store)).toEqual([
      {
        item_id: 'i2',
        decision: 'approve',
        channel: 'elicitation',
        confirmed_by: 'tester@example.com',
        assurance: 'host-attested',
      },
      {
        item_id: 'i8',
        decision: 'revoke',
        channel: 'elicitation',
        confirmed_by: 'tester@example.com',
        assurance: 'host-attested',
      },
    ]);
    const calls = audit(h.store).filter((e) => e.tool === 'submit_decision');
    expect(calls.map((e) => e.outcome)).toEqual(['ok', 'ok']);
    expect(calls[0]!.details).toMatchObject({ input_required: { confirm: 'form' } });
    expect(calls[1]!.details).toMatchObject({
      request_state: 'accepted',
      via: 'input_required',
      confirmation: { channel: 'elicitation', assurance: 'host-attested' },
    });
    // Repeating the call applies nothing twice.
    expect((await h.ok<Submit>('submit_decision', { proposal_ids: ids })).status).toBe('applied');
    expect(outboxRows(h.store)).toBe(2);
  });

  it('a decline applies nothing and leaves the drafts', async () => {
    const h = await start({ elicit: { action: 'decline' } });
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [await propose(h, 'i8')] });
    expect(r.status).toBe('rejected');
    expect(r.message).toMatch(/The human declined\. No decision was recorded or applied/);
    expect(decisions(h.store)).toEqual([]);
    expect(outboxRows(h.store)).toBe(0);
  });

  it('over HTTP under the default policy, a client that accepts its own form gets nothing applied', async () => {
    const h = await start({ elicit: ACCEPT, deps: { transport: 'http' } });
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [await propose(h, 'i8')] });
    expect(r.status).toBe('awaiting_confirmation');
    expect(h.elicitations).toHaveLength(0);
    expect(r.message).toMatch(/host-attested and would not count/);
    expect(decisions(h.store)).toEqual([]);
  });

  it('over HTTP with a token marking an interactive host, the answer applies, recorded as host-attested', async () => {
    const h = await start({
      elicit: ACCEPT,
      deps: { transport: 'http' },
      principal: { id: 'ide@example.com', role: 'admin', reviewer_ids: [], interactive_host: true },
    });
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [await propose(h, 'i8')] });
    expect(r.status).toBe('applied');
    expect(decisions(h.store)).toEqual([
      {
        item_id: 'i8',
        decision: 'revoke',
        channel: 'elicitation',
        confirmed_by: 'ide@example.com',
        assurance: 'host-attested',
      },
    ]);
  });

  it('a forged requestState is refused as a protocol error, audited, and applies nothing', async () => {
    const h = await start({ elicit: ACCEPT });
    const ids = [await propose(h, 'i8')];
    const first = await firstRound(h, ids);
    const [head, body, mac] = first.requestState!.split('.');
    // The payload edited (another batch hash), the MAC kept: the MAC no longer matches.
    const payload = JSON.parse(Buffer.from(body!, 'base64url').toString()) as { b: { batch_hash: string } };
    payload.b.batch_hash = '0'.repeat(64);
    const forged = `${head}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`;
    await expect(retry(h, ids, forged)).rejects.toThrow(
      /Invalid requestState: the requestState was not issued by this server/,
    );
    await expect(retry(h, ids, 'as1.e30.AAAA')).rejects.toThrow(/not issued by this server/);
    expect(decisions(h.store)).toEqual([]);
    expect(outboxRows(h.store)).toBe(0);
    const refused = audit(h.store).filter((e) => e.tool === 'submit_decision' && e.outcome === 'refused');
    expect(refused.map((e) => e.error)).toEqual([
      'request_state signature: the requestState was not issued by this server',
      'request_state signature: the requestState was not issued by this server',
    ]);
    expect(JSON.stringify(refused)).not.toContain(forged);
  });

  it('a replayed requestState is refused: each one is used once', async () => {
    const h = await start({ elicit: ACCEPT });
    const ids = [await propose(h, 'i8')];
    const first = await firstRound(h, ids);
    // The human declines; the same state with an accept is then a replay.
    const declined = (await retry(h, ids, first.requestState!, { action: 'decline' })) as {
      structuredContent: Submit;
    };
    expect(declined.structuredContent.status).toBe('rejected');
    await expect(retry(h, ids, first.requestState!)).rejects.toThrow(/the requestState was already used/);
    expect(decisions(h.store)).toEqual([]);
  });

  it('an expired requestState is refused', async () => {
    let now = new Date('2026-11-28T10:00:00.000Z');
    const h = await start({
      elicit: ACCEPT,
      config: { requestStateTtlSeconds: 60 },
      deps: { now: () => now },
    });
    const ids = [await propose(h, 'i8')];
    const first = await firstRound(h, ids);
    now = new Date(now.getTime() + 61_000);
    await expect(retry(h, ids, first.requestState!)).rejects.toThrow(
      /the requestState expired at 2026-11-28T10:01:00.000Z/,
    );
    expect(decisions(h.store)).toEqual([]);
  });

  it("another batch's requestState is refused, and so is one whose batch changed after it was issued", async () => {
    const h = await start({ elicit: ACCEPT });
    const a = [await propose(h, 'i8')];
    const b = [await propose(h, 'i7')];
    const forA = await firstRound(h, a);
    await expect(retry(h, b, forA.requestState!)).rejects.toThrow(/issued for another call/);
    // Same proposal ids, but the rationale the human would approve is no longer what was shown.
    const forB = await firstRound(h, b);
    h.store.db.prepare("UPDATE proposals SET rationale = 'changed behind the form' WHERE id = ?").run(b[0]);
    await expect(retry(h, b, forB.requestState!)).rejects.toThrow(
      /issued for this batch before its proposals changed/,
    );
    expect(decisions(h.store)).toEqual([]);
  });

  it('a requestState issued to another principal is refused', async () => {
    const store = await tinyStore();
    cleanups.push(() => store.close());
    const alice = await start({
      store,
      elicit: ACCEPT,
      principal: { id: 'alice', role: 'admin', reviewer_ids: [] },
    });
    const mallory = await start({
      store,
      elicit: ACCEPT,
      principal: { id: 'mallory', role: 'admin', reviewer_ids: [] },
    });
    const ids = [await propose(alice, 'i8')];
    const first = await firstRound(alice, ids);
    await expect(retry(mallory, ids, first.requestState!)).rejects.toThrow(/issued to another principal/);
    // The same person with another role is another principal too.
    const aliceReviewer = await start({
      store,
      elicit: ACCEPT,
      principal: { id: 'alice', role: 'reviewer', reviewer_ids: ['u2'] },
    });
    await expect(retry(aliceReviewer, ids, first.requestState!)).rejects.toThrow(
      /issued to another principal/,
    );
    expect(decisions(store)).toEqual([]);
  });

  it('a retry without the answer is asked again, with a fresh state', async () => {
    const h = await start({ elicit: ACCEPT });
    const ids = [await propose(h, 'i8')];
    const first = await firstRound(h, ids);
    const again = (await h.client.callTool(
      {
        name: 'submit_decision',
        arguments: { proposal_ids: ids },
        inputResponses: { confirm: 42 },
        requestState: first.requestState,
      } as never,
      { allowInputRequired: true },
    )) as unknown as InputRequired;
    expect(again.resultType).toBe('input_required');
    expect(again.requestState).not.toBe(first.requestState);
    expect(decisions(h.store)).toEqual([]);
  });

  it('a client without forms gets awaiting_confirmation and the CLI command, as on 2025-11-25', async () => {
    const h = await start();
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [await propose(h, 'i8')] });
    expect(r.status).toBe('awaiting_confirmation');
    expect(r.message).toMatch(/This client cannot ask the human directly/);
    expect(r.confirmation!.command).toContain(`confirm ${r.confirmation!.id}`);
  });
});

describe('URL-mode elicitation to the human-verified channel', () => {
  const confirmationUrl = 'https://attest.example.com/confirmations/{id}';

  it.each(['modern', 'legacy'] as const)(
    'on %s, a batch that needs human-verified sends a URL-capable host to the confirmation page; the CLI answer applies it',
    async (era) => {
      const h = await startServer({
        era,
        elicitUrl: true,
        config: { confirmationUrl },
        deps: { transport: 'http' },
      });
      harnesses.push(h);
      const ids = [await propose(h, 'i8')];
      const r = await h.ok<Submit>('submit_decision', { proposal_ids: ids });
      expect(r.status).toBe('awaiting_confirmation');
      const url = `https://attest.example.com/confirmations/${r.confirmation!.id}`;
      expect(r.confirmation!.url).toBe(url);
      expect(r.message).toContain(url);
      expect(h.elicitations).toEqual([expect.objectContaining({ url })]);
      expect(h.elicitations[0]!.message).toMatch(
        /on Attest's confirmation page .* it asks you to sign in there/,
      );
      // Opening the page confirms nothing: the human confirms through a human-verified channel.
      expect(decisions(h.store)).toEqual([]);
      expect(
        (await answerConfirmation(h.store, r.confirmation!.id, 'confirm', 'boss@example.com', new Date())).ok,
      ).toBe(true);
      const applied = await h.ok<Submit>('submit_decision', { proposal_ids: ids });
      expect(applied.status).toBe('applied');
      expect(decisions(h.store)).toEqual([
        {
          item_id: 'i8',
          decision: 'revoke',
          channel: 'cli',
          confirmed_by: 'boss@example.com',
          assurance: 'human-verified',
        },
      ]);
    },
  );

  it('without a confirmation page configured, no URL is sent', async () => {
    const h = await start({ elicitUrl: true, deps: { transport: 'http' } });
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [await propose(h, 'i8')] });
    expect(r.status).toBe('awaiting_confirmation');
    expect(r.confirmation!.url).toBeUndefined();
    expect(h.elicitations).toEqual([]);
  });
});
