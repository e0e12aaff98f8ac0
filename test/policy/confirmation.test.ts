import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { answerConfirmation } from '../../src/services/decisions.js';
import { runOutbox } from '../../src/services/outbox.js';
import { AuditLog, canonicalJson } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import { auditEntry } from '../helpers/audit.js';
import { type Harness, startServer, tempDir, testConfig, tinyStore } from '../helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

interface Submit {
  status: string;
  results: Array<{ proposal_id: string; item_id: string; status: string; error?: string }>;
  confirmation: { id: string; channel: string } | null;
  message: string;
}

function snapshot(store: Store) {
  const q = (sql: string) => store.db.prepare(sql).all();
  return {
    decisions: q('SELECT item_id, decision, channel, confirmed_by FROM item_decisions ORDER BY item_id'),
    outbox: q('SELECT proposal_id, status FROM outbox ORDER BY id'),
    remediations: q('SELECT item_id, status FROM remediations ORDER BY item_id'),
    assignments: (store.db.prepare('SELECT count(*) AS n FROM assignments').get() as { n: number }).n,
    itemStatus: q("SELECT id, status FROM review_items WHERE status != 'pending' ORDER BY id"),
  };
}

async function propose(h: Harness, item_id: string, decision = 'revoke') {
  const p = await h.ok<{ proposal_id: string }>('propose_decision', {
    item_id,
    decision,
    rationale: `Because ${item_id}`,
  });
  return p.proposal_id;
}

describe('propose_decision', () => {
  it('records a draft and changes nothing on the platform', async () => {
    h = await startServer();
    const before = snapshot(h.store);
    const r = await h.ok<{
      proposal_id: string;
      engine_recommendation: unknown;
      agrees_with_engine: unknown;
    }>('propose_decision', {
      item_id: 'i8',
      decision: 'revoke',
      rationale: 'Deprovisioned user still holds LedgerOne.',
    });
    expect(r.proposal_id).toMatch(/^p_/);
    const after = snapshot(h.store);
    expect(after.decisions).toEqual(before.decisions);
    expect(after.assignments).toBe(before.assignments);
    expect(after.itemStatus).toEqual([{ id: 'i8', status: 'proposed' }]);
  });

  it('supersedes an earlier draft for the same item', async () => {
    h = await startServer();
    const first = await propose(h, 'i8');
    const second = await h.ok<{ superseded: string[] }>('propose_decision', {
      item_id: 'i8',
      decision: 'approve',
      rationale: 'x',
    });
    expect(second.superseded).toEqual([first]);
  });

  it.each([
    [{ item_id: 'i8', decision: 'delete', rationale: 'x' }, /decision/],
    [{ item_id: 'i8', decision: 'revoke', rationale: '   ' }, /rationale must not be empty/],
    [{ item_id: 'nope', decision: 'revoke', rationale: 'x' }, /item_id: no review item/],
    [{ item_id: 'i8', decision: 'revoke', rationale: 'x', confidence: 2 }, /confidence/],
  ])('rejects %j', async (args, expected) => {
    h = await startServer();
    expect(await h.fail('propose_decision', args)).toMatch(expected);
    expect(snapshot(h.store).itemStatus).toEqual([]);
  });
});

describe('submit_decision with elicitation', () => {
  it('applies the batch when the human accepts, exactly once', async () => {
    h = await startServer({ elicit: { action: 'accept', content: { confirm: true } } });
    const a = await propose(h, 'i8', 'revoke');
    const b = await propose(h, 'i2', 'approve');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a, b] });
    expect(r.status).toBe('applied');
    expect(r.results.map((x) => x.status)).toEqual(['applied', 'applied']);
    expect(h.elicitations).toHaveLength(1);
    expect(h.elicitations[0]!.message).toMatch(
      /REVOKE · risk \d+ \w+[^\n]*\n[^\n]*\n\s+access:\s+"LedgerOne Users"/,
    );
    expect(h.elicitations[0]!.message).toMatch(
      /APPROVE · risk \d+ \w+[^\n]*\n[^\n]*\n\s+access:\s+"LedgerOne Users"/,
    );
    const s = snapshot(h.store);
    expect(s.decisions).toEqual([
      { item_id: 'i2', decision: 'approve', channel: 'elicitation', confirmed_by: 'tester@example.com' },
      { item_id: 'i8', decision: 'revoke', channel: 'elicitation', confirmed_by: 'tester@example.com' },
    ]);
    expect(s.remediations).toEqual([{ item_id: 'i8', status: 'done' }]);
    expect(
      h.store.db
        .prepare("SELECT 1 FROM assignments WHERE user_id = 'u6' AND entitlement_id = 'e-ledger'")
        .get(),
    ).toBeUndefined();
    // Repeating the call applies nothing twice and asks nobody again.
    const again = await h.ok<Submit>('submit_decision', { proposal_ids: [a, b] });
    expect(again.status).toBe('applied');
    expect(h.elicitations).toHaveLength(1);
    expect(snapshot(h.store)).toEqual(s);
    expect(h.store.counts().past_decisions).toBe(5);
  });

  it.each([
    ['decline', { action: 'decline' as const }],
    ['cancel', { action: 'cancel' as const }],
    ['accept without the box ticked', { action: 'accept' as const, content: { confirm: false } }],
  ])('applies nothing when the human answers %s', async (_n, answer) => {
    h = await startServer({ elicit: answer });
    const before = snapshot(h.store);
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(r.status).toBe('rejected');
    expect(r.message).toMatch(/No decision was recorded/);
    const after = snapshot(h.store);
    expect(after.decisions).toEqual(before.decisions);
    expect(after.outbox).toEqual([]);
    expect(after.assignments).toBe(before.assignments);
  });

  it('applies nothing when the human does not answer in time', async () => {
    h = await startServer({
      config: { elicitationTimeoutSeconds: 0.05 },
      elicit: () => new Promise(() => {}),
    });
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(r.status).toBe('rejected');
    expect(r.message).toMatch(/timed out/);
    expect(snapshot(h.store).outbox).toEqual([]);
  });

  it('applies nothing when the elicitation fails', async () => {
    h = await startServer({
      elicit: () => {
        throw new Error('client exploded');
      },
    });
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(r.status).toBe('rejected');
    expect(snapshot(h.store).outbox).toEqual([]);
  });
});

describe('submit_decision without elicitation', () => {
  it('returns awaiting_confirmation, then applies after the CLI confirms', async () => {
    h = await startServer();
    const a = await propose(h, 'i8');
    const b = await propose(h, 'i7');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a, b] });
    expect(r.status).toBe('awaiting_confirmation');
    expect(r.confirmation?.channel).toBe('cli');
    expect(r.message).toMatch(/attest confirm cf_/);
    expect(snapshot(h.store).outbox).toEqual([]);
    // Asking again does not mint a second confirmation.
    const again = await h.ok<Submit>('submit_decision', { proposal_ids: [b, a] });
    expect(again.confirmation?.id).toBe(r.confirmation!.id);

    const answered = await answerConfirmation(
      h.store,
      r.confirmation!.id,
      'confirm',
      'human@example.com',
      new Date(),
    );
    expect(answered.ok).toBe(true);
    await runOutbox(h.store, createConnectorRegistry({}));
    const done = await h.ok<Submit>('submit_decision', { proposal_ids: [a, b] });
    expect(done.status).toBe('applied');
    expect(snapshot(h.store).decisions).toEqual([
      { item_id: 'i7', decision: 'revoke', channel: 'cli', confirmed_by: 'human@example.com' },
      { item_id: 'i8', decision: 'revoke', channel: 'cli', confirmed_by: 'human@example.com' },
    ]);
  });

  it("applies a CLI-confirmed batch on the agent's next submit when the CLI did not apply it", async () => {
    h = await startServer();
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    await answerConfirmation(h.store, r.confirmation!.id, 'confirm', 'human@example.com', new Date());
    const done = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(done.status).toBe('applied');
    expect(snapshot(h.store).decisions).toHaveLength(1);
  });

  it('applies nothing after the CLI rejects', async () => {
    h = await startServer();
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(
      (await answerConfirmation(h.store, r.confirmation!.id, 'reject', 'human@example.com', new Date())).ok,
    ).toBe(true);
    const after = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(after.status).toBe('rejected');
    expect(snapshot(h.store).decisions).toEqual([]);
    expect(snapshot(h.store).outbox).toEqual([]);
  });

  it('refuses an expired confirmation', async () => {
    let now = new Date('2026-11-28T10:00:00Z');
    h = await startServer({ config: { confirmationTtlHours: 1 }, deps: { now: () => now } });
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    now = new Date('2026-11-28T11:00:01Z');
    const answered = await answerConfirmation(
      h.store,
      r.confirmation!.id,
      'confirm',
      'human@example.com',
      now,
    );
    expect(answered).toMatchObject({ ok: false });
    expect((answered as { error: string }).error).toMatch(/expired/);
    const again = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(again.status).toBe('awaiting_confirmation');
    expect(again.confirmation?.id).not.toBe(r.confirmation!.id);
    expect(snapshot(h.store).decisions).toEqual([]);
  });

  it('does not let a confirmation of one batch apply a different batch', async () => {
    h = await startServer();
    const a = await propose(h, 'i8');
    const b = await propose(h, 'i7');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a, b] });
    await answerConfirmation(h.store, r.confirmation!.id, 'confirm', 'human@example.com', new Date());
    // The CLI queued exactly a and b. A batch of a alone, or a and c, is a different batch.
    const c = await propose(h, 'i5');
    const other = await h.ok<Submit>('submit_decision', { proposal_ids: [a, c] });
    expect(other.status).not.toBe('applied');
    expect(
      snapshot(h.store)
        .outbox.map((o) => (o as { proposal_id: string }).proposal_id)
        .sort(),
    ).toEqual([a, b].sort());
  });

  it('does not let a confirmation apply a batch whose content changed', async () => {
    h = await startServer();
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    // The agent changes its mind on the same item: the confirmed batch no longer exists as confirmed.
    await h.ok('propose_decision', { item_id: 'i8', decision: 'approve', rationale: 'changed' });
    const answered = await answerConfirmation(
      h.store,
      r.confirmation!.id,
      'confirm',
      'human@example.com',
      new Date(),
    );
    expect(answered.ok).toBe(false);
    expect(await h.fail('submit_decision', { proposal_ids: [a] })).toMatch(/superseded/);
    expect(snapshot(h.store).decisions).toEqual([]);
  });
});

describe('reviewer scope', () => {
  it("refuses another reviewer's item, recording nothing", async () => {
    const store = await tinyStore();
    const admin = await startServer({ store });
    const othersProposal = await propose(admin, 'i1');
    await admin.close();
    h = await startServer({
      store,
      principal: { id: 'fay@example.com', role: 'reviewer', reviewer_ids: ['u2'] },
    });
    expect(await h.fail('propose_decision', { item_id: 'i1', decision: 'revoke', rationale: 'x' })).toMatch(
      /not assigned to you/,
    );
    expect(await h.fail('submit_decision', { proposal_ids: [othersProposal] })).toMatch(
      /not assigned to you/,
    );
    const own = await propose(h, 'i8');
    expect(own).toMatch(/^p_/);
    expect(snapshot(store).outbox).toEqual([]);
    store.close();
  });
});

describe('read-only mode', () => {
  it('does not list write tools and refuses them anyway', async () => {
    h = await startServer({ config: { readOnly: true } });
    const names = (await h.client.listTools()).tools.map((t) => t.name);
    expect(names).not.toContain('submit_decision');
    expect(names).not.toContain('propose_decision');
    expect(await h.fail('propose_decision', { item_id: 'i8', decision: 'revoke', rationale: 'x' })).toMatch(
      /Unknown tool|read-only/,
    );
    expect(snapshot(h.store).itemStatus).toEqual([]);
  });
});

describe('audit log', () => {
  it('holds one entry per call with principal, client, session, tool, outcome and duration', async () => {
    h = await startServer({ clientName: 'audit-client' });
    const audit = new AuditLog(h.store.db);
    const start = audit.count();
    await h.ok('list_campaigns');
    await h.fail('list_campaign_items', { campaign_id: 'c1', limit: 0 });
    await h.fail('no_such_tool');
    const a = await propose(h, 'i8');
    await h.ok('submit_decision', { proposal_ids: [a] });
    const entries = [...audit.entries()].slice(start);
    expect(entries.map((e) => [e.tool, e.outcome])).toEqual([
      ['list_campaigns', 'ok'],
      ['list_campaign_items', 'error'],
      ['no_such_tool', 'error'],
      ['propose_decision', 'ok'],
      ['submit_decision', 'ok'],
    ]);
    for (const e of entries) {
      expect(e.principal).toBe('tester@example.com');
      expect(e.client_name).toBe('audit-client');
      expect(e.client_version).toBe('1.2.3');
      expect(e.duration_ms).toBeGreaterThanOrEqual(0);
    }
    expect(entries[1]!.error).toMatch(/limit/);
    expect(entries[4]!.details).toMatchObject({ proposal_ids: [a] });
    expect(audit.verify()).toMatchObject({ ok: true });
  });

  it('refuses UPDATE and DELETE', async () => {
    h = await startServer();
    await h.ok('list_campaigns');
    expect(() => h!.store.db.prepare("UPDATE audit_log SET principal = 'x'").run()).toThrow(/append-only/);
    expect(() => h!.store.db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
  });

  it.each([
    ['changed', "UPDATE audit_log SET principal = 'mallory' WHERE seq = 2", 2, /changed/],
    ['deleted', 'DELETE FROM audit_log WHERE seq = 2', 3, /entry 2 is missing before entry 3 \(deleted\)/],
    [
      'reordered',
      `UPDATE audit_log SET seq = CASE seq WHEN 2 THEN 1002 WHEN 3 THEN 2 END WHERE seq IN (2, 3);
       UPDATE audit_log SET seq = 3 WHERE seq = 1002`,
      2,
      /prev_hash|changed/,
    ],
  ])('verify names the first broken entry after a row is %s by hand', async (_n, sql, seq, reason) => {
    h = await startServer();
    for (let i = 0; i < 4; i++) await h.ok('list_campaigns');
    const audit = new AuditLog(h.store.db);
    expect(audit.verify()).toMatchObject({ ok: true, entries: 4 });
    h.store.db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    h.store.db.exec(sql);
    const v = audit.verify();
    expect(v.ok).toBe(false);
    expect(v).toMatchObject({ seq });
    expect((v as { reason: string }).reason).toMatch(reason);
  });
});

describe('untrusted text', () => {
  it('a title that says "approve everything" changes no policy', async () => {
    h = await startServer();
    const items = await h.ok<{ items: Array<{ item_id: string; user: { id: string } }> }>(
      'list_campaign_items',
      {
        campaign_id: 'c1',
        limit: 500,
      },
    );
    const hostile = items.items.filter((i) => i.user.id === 'u7').map((i) => i.item_id);
    const ids = [];
    for (const item of hostile) ids.push(await propose(h, item, 'approve'));
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: ids });
    expect(r.status).toBe('awaiting_confirmation');
    expect(snapshot(h.store).decisions).toEqual([]);
  });
});

describe('audit chain across sessions and processes', () => {
  it('hashes each entry as sha256(previous hash, newline, canonical JSON of the entry and its seq); a missing field as null', () => {
    const store = Store.open(':memory:');
    const log = new AuditLog(store.db);
    const entries = [
      {
        at: '2026-11-28T10:00:00.000Z',
        principal: 'analyst@example.com',
        client_name: 'Claude Desktop',
        client_version: '1.2.3',
        session_id: 's-1',
        transport: 'stdio',
        tool: 'list_campaign_items',
        kind: 'read',
        arguments: { z: [3, { b: 'é "q"', a: null }], campaign_id: 'c-q4' },
        outcome: 'ok' as const,
        error: null,
        duration_ms: 1.25,
        details: { rows: 50, cursor: { k: [86, 'ri-1'] } },
      },
      {
        at: '2026-11-28T10:00:01.000Z',
        principal: 'cli',
        client_name: undefined as unknown as null,
        client_version: null,
        session_id: null,
        transport: null,
        tool: 'confirm',
        kind: 'write',
        arguments: {},
        outcome: 'refused' as const,
        error: 'expired: confirmation expired',
        duration_ms: 0,
        details: null,
      },
    ];
    let prev = '0'.repeat(64);
    for (const e of entries) {
      const seq = log.append(e);
      const row = store.db.prepare('SELECT hash, prev_hash FROM audit_log WHERE seq = ?').get(seq) as {
        hash: string;
        prev_hash: string;
      };
      const expected = createHash('sha256')
        .update(prev)
        .update('\n')
        .update(canonicalJson({ ...e, client_name: e.client_name ?? null, seq }))
        .digest('hex');
      expect(row).toEqual({ hash: expected, prev_hash: prev });
      prev = expected;
    }
    expect(log.verify()).toMatchObject({ ok: true, entries: 2 });
  });

  it('stays intact when several sessions and another connection append', async () => {
    const tmp = tempDir();
    const path = join(tmp.dir, 'audit.db');
    const store = await tinyStore(testConfig({ db: path }));
    const a = await startServer({ store });
    const b = await startServer({ store });
    await a.ok('list_campaigns');
    await b.ok('list_campaigns');
    // Another connection (as the CLI would be) appends in between.
    const second = Store.open(path);
    const other = new AuditLog(second.db);
    other.append({
      at: new Date().toISOString(),
      principal: 'cli',
      client_name: null,
      client_version: null,
      session_id: null,
      transport: null,
      tool: 'x',
      kind: 'read',
      arguments: {},
      outcome: 'ok',
      error: null,
      duration_ms: 0,
      details: null,
    });
    await a.ok('list_campaigns');
    await b.ok('list_campaigns');
    expect(new AuditLog(store.db).verify()).toMatchObject({ ok: true, entries: 5 });
    await a.close();
    await b.close();
    second.close();
    store.close();
    tmp.cleanup();
  });

  it('stays unbroken when an entry is appended inside a transaction that rolls back', () => {
    const store = Store.open(':memory:');
    const log = new AuditLog(store.db);
    const entry = auditEntry();
    log.append(entry);
    expect(() =>
      store.db.transaction(() => {
        log.append(entry);
        throw new Error('rolled back');
      })(),
    ).toThrow('rolled back');
    expect(log.append(entry)).toBe(2);
    expect(log.verify()).toMatchObject({ ok: true, entries: 2 });
    store.close();
  });

  it('stays one unbroken chain when three processes append at the same time', async () => {
    const tmp = tempDir();
    const path = join(tmp.dir, 'race.db');
    Store.open(path).close();
    const dist = join(import.meta.dirname, '..', '..', 'dist', 'store');
    const script = `
      const { Store } = await import(${JSON.stringify(join(dist, 'store.js'))});
      const { AuditLog } = await import(${JSON.stringify(join(dist, 'audit.js'))});
      const store = Store.open(process.argv[1]);
      const log = new AuditLog(store.db);
      for (let i = 0; i < 300; i++) {
        log.append({ at: new Date().toISOString(), principal: 'p' + process.pid, client_name: null, client_version: null,
          session_id: null, transport: null, tool: 't', kind: 'read', arguments: { i }, outcome: 'ok', error: null,
          duration_ms: 0, details: null });
      }
      store.close();`;
    const run = () =>
      new Promise<number | null>((resolve) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, path], {
          stdio: 'inherit',
        });
        child.once('exit', resolve);
      });
    expect(await Promise.all([run(), run(), run()])).toEqual([0, 0, 0]);
    const store = Store.open(path);
    expect(new AuditLog(store.db).verify()).toMatchObject({ ok: true, entries: 900 });
    const perProcess = store.db
      .prepare('SELECT principal, count(*) AS n FROM audit_log GROUP BY principal')
      .all() as Array<{ n: number }>;
    expect(perProcess.map((r) => r.n)).toEqual([300, 300, 300]);
    store.close();
    tmp.cleanup();
  });
});
