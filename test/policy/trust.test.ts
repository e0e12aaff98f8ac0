import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import { SnapshotConnector } from '../../src/connectors/snapshot/connector.js';
import type { IdentityConnector } from '../../src/connectors/types.js';
import type { Principal } from '../../src/domain/principal.js';
import { createLogger } from '../../src/log.js';
import { Auditor } from '../../src/policy/audit.js';
import {
  CheckpointWriter,
  generateSigningKey,
  readVerifyKey,
  verifyCheckpoints,
} from '../../src/policy/checkpoints.js';
import { createServer } from '../../src/server.js';
import { answerConfirmation } from '../../src/services/decisions.js';
import { loadSnapshot } from '../../src/services/load.js';
import { runOutbox } from '../../src/services/outbox.js';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import {
  type Harness,
  startServer,
  TINY,
  TINY_AS_OF,
  tempDir,
  testConfig,
  tinyStore,
} from '../helpers/harness.js';

const harnesses: Harness[] = [];
const cleanups: Array<() => void> = [];
afterEach(async () => {
  for (const h of harnesses.splice(0)) await h.close();
  for (const c of cleanups.splice(0)) c();
});
async function start(options: Parameters<typeof startServer>[0] = {}) {
  const h = await startServer(options);
  harnesses.push(h);
  return h;
}

interface Submit {
  status: string;
  results: Array<{ proposal_id: string; item_id: string; status: string }>;
  confirmation: {
    id: string;
    channel: string;
    assurance?: string;
    required_assurance?: string;
    command?: string;
    instructions?: string;
  } | null;
  message: string;
}

const ACCEPT = { action: 'accept' as const, content: { confirm: true } };

async function propose(h: Harness, item_id: string, decision = 'revoke', rationale = `Because ${item_id}`) {
  return (await h.ok<{ proposal_id: string }>('propose_decision', { item_id, decision, rationale }))
    .proposal_id;
}

function decisions(store: Store) {
  return store.db
    .prepare(
      'SELECT item_id, decision, decided_by, proposed_by, submitted_by, channel, confirmed_by, assurance FROM item_decisions ORDER BY item_id',
    )
    .all() as Array<Record<string, unknown>>;
}

function entries(store: Store) {
  return [...new AuditLog(store.db).entries()];
}

describe('confirmation channels and their assurance', () => {
  it('over HTTP a client that accepts its own elicitation gets nothing applied under the default policy', async () => {
    const h = await start({ elicit: ACCEPT, deps: { transport: 'http' } });
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(r.status).toBe('awaiting_confirmation');
    expect(h.elicitations).toHaveLength(0);
    expect(r.confirmation).toMatchObject({ channel: 'cli', required_assurance: 'human-verified' });
    expect(r.confirmation!.command).toContain(`confirm ${r.confirmation!.id}`);
    expect(r.message).toMatch(/human-verified/);
    expect(r.message).toMatch(/host-attested and would not count/);
    expect(decisions(h.store)).toEqual([]);
    expect(h.store.db.prepare('SELECT count(*) AS n FROM outbox').get()).toEqual({ n: 0 });
    // Asking again does not turn the agent's own answer into an approval either.
    const again = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(again.status).toBe('awaiting_confirmation');
    expect(again.confirmation!.id).toBe(r.confirmation!.id);
    expect(decisions(h.store)).toEqual([]);
  });

  it('over HTTP with a token that marks an interactive host, elicitation applies and is recorded as host-attested', async () => {
    const h = await start({
      elicit: ACCEPT,
      deps: { transport: 'http' },
      principal: { id: 'ide@example.com', role: 'admin', reviewer_ids: [], interactive_host: true },
    });
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    expect(r.status).toBe('applied');
    expect(r.confirmation).toMatchObject({ channel: 'elicitation', assurance: 'host-attested' });
    expect(decisions(h.store)).toEqual([
      expect.objectContaining({ item_id: 'i8', channel: 'elicitation', assurance: 'host-attested' }),
    ]);
    const confirmed = entries(h.store).find((e) => e.tool === 'policy:confirmed')!;
    expect(confirmed.details).toMatchObject({
      confirmation: { channel: 'elicitation', assurance: 'host-attested', confirmed_by: 'ide@example.com' },
    });
    const call = entries(h.store).findLast((e) => e.tool === 'submit_decision')!;
    expect(call.details).toMatchObject({ confirmation: { assurance: 'host-attested' } });
  });

  it('a policy that allows host-attested over HTTP applies an elicitation answer, and says so in the audit', async () => {
    const h = await start({
      elicit: ACCEPT,
      deps: { transport: 'http' },
      config: {
        confirmation: { http: 'host-attested', stdio: 'host-attested', principals: {}, roles: {}, rules: [] },
      },
    });
    const a = await propose(h, 'i7');
    expect((await h.ok<Submit>('submit_decision', { proposal_ids: [a] })).status).toBe('applied');
    expect(decisions(h.store)[0]).toMatchObject({ assurance: 'host-attested' });
  });

  it('a rule can require human-verified for revokes of privileged access even over stdio', async () => {
    const h = await start({
      elicit: ACCEPT,
      config: {
        confirmation: {
          stdio: 'host-attested',
          http: 'human-verified',
          principals: {},
          roles: {},
          rules: [{ decision: ['revoke'], privileged: true, require: 'human-verified' }],
        },
      },
    });
    // i7 is not privileged: the form is enough.
    expect((await h.ok<Submit>('submit_decision', { proposal_ids: [await propose(h, 'i7')] })).status).toBe(
      'applied',
    );
    // i3 (LedgerOne Admins) is privileged: the same client's form does not count.
    const priv = await propose(h, 'i3');
    const r = await h.ok<Submit>('submit_decision', {
      proposal_ids: [priv, await propose(h, 'i2', 'approve')],
    });
    expect(r.status).toBe('awaiting_confirmation');
    expect(r.message).toMatch(
      /revoke decisions on privileged access need human-verified \(1 item, e\.g\. i3\)/,
    );
    expect(h.elicitations).toHaveLength(1);
    // The human answers at the terminal; the agent's next call applies it, as human-verified.
    expect(
      (await answerConfirmation(h.store, r.confirmation!.id, 'confirm', 'boss@example.com', new Date())).ok,
    ).toBe(true);
    const applied = await h.ok<Submit>('submit_decision', {
      proposal_ids: [priv, r.results[1]!.proposal_id],
    });
    expect(applied.status).toBe('applied');
    expect(decisions(h.store).find((d) => d.item_id === 'i3')).toMatchObject({
      channel: 'cli',
      assurance: 'human-verified',
      decided_by: 'boss@example.com',
    });
  });

  it('records proposer, submitter and confirmer separately', async () => {
    const store = await tinyStore();
    cleanups.push(() => store.close());
    const agent = await start({ store, principal: { id: 'agent-a', role: 'admin', reviewer_ids: [] } });
    const p = await propose(agent, 'i8');
    const submitter = await start({
      store,
      principal: { id: 'analyst-b', role: 'admin', reviewer_ids: [] },
      deps: { transport: 'http' },
    });
    const r = await submitter.ok<Submit>('submit_decision', { proposal_ids: [p] });
    expect(r.status).toBe('awaiting_confirmation');
    expect((await answerConfirmation(store, r.confirmation!.id, 'confirm', 'human-c', new Date())).ok).toBe(
      true,
    );
    await runOutbox(store, () => new SnapshotConnector());
    expect(decisions(store)).toEqual([
      {
        item_id: 'i8',
        decision: 'revoke',
        decided_by: 'human-c',
        proposed_by: 'agent-a',
        submitted_by: 'analyst-b',
        channel: 'cli',
        confirmed_by: 'human-c',
        assurance: 'human-verified',
      },
    ]);
    const item = await agent.ok<{ item: { decision: Record<string, unknown> } }>('explain_item', {
      item_id: 'i8',
    });
    expect(item.item.decision).toMatchObject({
      decided_by: 'human-c',
      proposed_by: 'agent-a',
      submitted_by: 'analyst-b',
      confirmation: { channel: 'cli', assurance: 'human-verified' },
    });
  });

  it('answers a second accepted form of the same batch as already applied, not as an internal error', async () => {
    const store = await tinyStore();
    cleanups.push(() => store.close());
    let waiting = 0;
    let release!: () => void;
    const both = new Promise<void>((r) => {
      release = r;
    });
    const elicit = async () => {
      waiting++;
      if (waiting === 2) release();
      await both;
      return ACCEPT;
    };
    const one = await start({ store, elicit });
    const two = await start({ store, elicit });
    const ids = [await propose(one, 'i7'), await propose(one, 'i8')];
    const [r1, r2] = await Promise.all([
      one.call('submit_decision', { proposal_ids: ids }),
      two.call('submit_decision', { proposal_ids: ids }),
    ]);
    for (const r of [r1, r2]) {
      expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
      expect((r.structuredContent as unknown as Submit).status).toBe('applied');
    }
    expect(decisions(store)).toHaveLength(2);
    expect(store.db.prepare("SELECT count(*) AS n FROM outbox WHERE status = 'done'").get()).toEqual({
      n: 2,
    });
    expect(new AuditLog(store.db).verify().ok).toBe(true);
  });
});

describe('text shown to the human', () => {
  const HOSTILE = [
    'Eve\n2. APPROVE Wiki for Admin <admin@example.com>; risk 0 (none)',
    'NOTE FROM SECURITY: tick the box\r\n[2/2] APPROVE · risk 0 low',
    '\u001b[2J\u001b[1;1HAll items APPROVED\u001b[0m',
    'Mallory \u202e kcik\u202c \u2066x\u2069',
    'line\u2028[1/1] APPROVE\u2029para',
    'zero\u200bwidth\u00adsoft\ufeff',
    'quote " backslash \\ end',
    `long ${'x'.repeat(500)}`,
  ];
  const UNSAFE =
    // biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
    /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u00ad\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff]/;

  async function hostileStore(): Promise<Store> {
    const t = tempDir();
    cleanups.push(t.cleanup);
    cpSync(TINY, t.dir, { recursive: true });
    const csv = (v: string) => `"${v.replace(/"/g, '""')}"`;
    const h = (i: number) => csv(HOSTILE[i]!);
    // Every text field of the users and entitlements under review holds something hostile.
    writeFileSync(
      join(t.dir, 'users.csv'),
      readFileSync(join(TINY, 'users.csv'), 'utf8')
        .replace(
          'u6,gone@example.com,Gina Gone,Finance,Treasury Analyst',
          `u6,${h(0)},${h(3)},${h(2)},${h(1)}`,
        )
        .replace(
          'u3,ana@example.com,Ana Analyst,Finance,Treasury Analyst',
          `u3,${h(1)},${h(2)},${h(4)},${h(5)}`,
        ),
    );
    writeFileSync(
      join(t.dir, 'entitlements.csv'),
      readFileSync(join(TINY, 'entitlements.csv'), 'utf8').replace(
        'e-ledger,LedgerOne Users,group,LedgerOne,false,high,u2,General ledger access',
        `e-ledger,${csv(`${HOSTILE[4]!} ${HOSTILE[6]!}`)},group,${h(5)},false,high,u2,${h(0)}`,
      ),
    );
    const store = Store.open(':memory:');
    const { report } = await loadSnapshot(store, t.dir, { asOf: new Date(TINY_AS_OF), dormantDays: 90 });
    expect(report.issues).toEqual([]);
    return store;
  }

  function checkRendered(text: string, decisionsInOrder: string[]) {
    expect(text).not.toMatch(UNSAFE);
    const lines = text.split('\n');
    const heads = lines.filter((l) => /^\[\d+\/\d+\] /.test(l));
    // One head per item (the order is the batch's, by proposal id at the terminal).
    expect(heads.map((l) => /^\[\d+\/\d+\] (\w+)/.exec(l)![1]).sort()).toEqual([...decisionsInOrder].sort());
    // Every line of the batch is a head written by Attest or an indented, labelled field.
    const start = lines.findIndex((l) => /^\[1\//.test(l));
    for (const l of lines.slice(start))
      expect(l).toMatch(
        /^(\[\d+\/\d+\] (APPROVE|REVOKE|ESCALATE) · risk \d+ \w+| {4}(user|access|rationale|proposed by): )/,
      );
  }

  it('escapes every directory and agent field in the elicitation form', async () => {
    const store = await hostileStore();
    cleanups.push(() => store.close());
    const h = await start({ store, elicit: { action: 'decline' } });
    const ids = [
      await propose(h, 'i8', 'revoke', HOSTILE[7]!),
      await propose(h, 'i2', 'approve', `${HOSTILE[0]!} ${HOSTILE[2]!}`),
    ];
    expect((await h.ok<Submit>('submit_decision', { proposal_ids: ids })).status).toBe('rejected');
    const message = h.elicitations[0]!.message;
    checkRendered(message, ['REVOKE', 'APPROVE']);
    expect(message).toContain('\\n2. APPROVE Wiki');
    expect(message).toContain('\\u001b[2J');
    expect(message).toContain('\\u202e');
    expect(message).toContain('\\u2028');
    expect(message).toContain('quote \\" backslash \\\\ end');
    expect(message).toMatch(/x{100}… \(\+\d+ chars\)/);
  });

  it('quotes every field in what the terminal shows', async () => {
    const store = await hostileStore();
    cleanups.push(() => store.close());
    const h = await start({ store });
    const ids = [
      await propose(h, 'i8', 'revoke', HOSTILE[1]!),
      await propose(h, 'i10', 'escalate', HOSTILE[3]!),
    ];
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: ids });
    const shown = await answerConfirmation(store, r.confirmation!.id, 'reject', 'boss', new Date());
    expect(shown.ok).toBe(true);
    checkRendered((shown as { batchText: string }).batchText, ['REVOKE', 'ESCALATE']);
  });
});

describe('the audit log', () => {
  it('verifies after lone surrogates in a tool name, an id and a client name', async () => {
    const h = await start({ clientName: 'client\ud800name' });
    await h.fail('get_user_activity', { user_id: 'u\udc00x' });
    await h.fail('no_such_tool\ud83d', {});
    await h.ok('list_campaigns');
    const log = new AuditLog(h.store.db);
    expect(log.verify()).toMatchObject({ ok: true, entries: 3 });
    const stored = entries(h.store);
    expect(stored[0]!.client_name).toBe('client\ufffdname');
    expect(stored[1]!.tool).toBe('no_such_tool\ufffd');
  });

  it('reports every broken entry, not only the first', async () => {
    const h = await start();
    for (let i = 0; i < 6; i++) await h.ok('list_campaigns');
    h.store.db.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
    h.store.db.exec("UPDATE audit_log SET principal = 'mallory' WHERE seq IN (2, 5)");
    const v = new AuditLog(h.store.db).verify();
    expect(v.ok).toBe(false);
    expect((v as { broken: Array<{ seq: number }> }).broken.map((b) => b.seq)).toEqual([2, 5]);
  });

  it('keeps a capped, redacted copy of huge arguments with the digest of the full ones', async () => {
    const h = await start();
    const huge = 'A'.repeat(1_000_000);
    await h.fail('propose_decision', { item_id: 'i8', decision: 'revoke', rationale: huge });
    await h.fail('check_sod', {
      user_id: 'u3',
      add_entitlement_ids: Array.from({ length: 5000 }, (_, i) => `e${i}`),
    });
    const rows = h.store.db
      .prepare("SELECT length(arguments) + length(coalesce(details, '')) AS n FROM audit_log")
      .all() as Array<{ n: number }>;
    for (const r of rows) expect(r.n).toBeLessThan(16_000);
    const [first, second] = entries(h.store);
    expect(first!.details).toMatchObject({
      arguments_cut: { bytes: expect.any(Number), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect((first!.details as { arguments_cut: { bytes: number } }).arguments_cut.bytes).toBeGreaterThan(
      1_000_000,
    );
    expect(String((first!.arguments as { rationale: string }).rationale)).toMatch(/…\[\+997952 chars\]$/);
    expect((second!.arguments as { add_entitlement_ids: string[] }).add_entitlement_ids).toHaveLength(201);
  });

  it('redacts secrets in the tool name and in resource reads, and keeps __proto__ keys as data', async () => {
    const token = 'att_abcdefghijklmnopqrstuvwxyz012345';
    const h = await start({ deps: { secrets: () => [token] } });
    await h.fail(`steal_${token}`, {});
    await h.client.readResource({ uri: `attest://campaigns/${token}/summary` }).catch(() => {});
    const withProto = JSON.parse('{"campaign_id":"c1","__proto__":{"polluted":true}}') as Record<
      string,
      unknown
    >;
    const refused = await h.fail('list_campaign_items', withProto);
    expect(refused).toMatch(/unknown argument "__proto__"/);
    const log = entries(h.store);
    expect(JSON.stringify(log)).not.toContain(token);
    expect(log[0]!.tool).toBe('steal_[REDACTED]');
    expect(log[1]!.tool).toMatch(/^resource:attest:\/\/campaigns\/\[REDACTED\]\/summary$/);
    const args = log[2]!.arguments as Record<string, unknown>;
    expect(Object.hasOwn(args, '__proto__')).toBe(true);
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(new AuditLog(h.store.db).verify().ok).toBe(true);
  });

  it('audits protocol-level bad input that never reaches a tool', async () => {
    const config = testConfig();
    const store = await tinyStore(config);
    cleanups.push(() => store.close());
    const server = createServer({
      store,
      config,
      logger: createLogger('silent'),
      principal: { id: 'raw@example.com', role: 'admin', reviewer_ids: [] },
      transport: 'memory',
    });
    const [ct, st] = InMemoryTransport.createLinkedPair();
    const client = new Client({ name: 'raw', version: '1' });
    await Promise.all([server.connect(st), client.connect(ct)]);
    const answers: Array<{ id: number; error?: unknown }> = [];
    const prior = ct.onmessage;
    ct.onmessage = (m) => {
      if ((m as { id?: number }).id !== undefined && (m as { id: number }).id >= 900)
        answers.push(m as never);
      else prior?.(m);
    };
    await ct.send({ jsonrpc: '2.0', id: 901, method: 'tools/call', params: { name: 42, arguments: {} } });
    await ct.send({
      jsonrpc: '2.0',
      id: 902,
      method: 'tools/call',
      params: { name: 'list_campaigns', arguments: 'x' },
    });
    await ct.send({ jsonrpc: '2.0', id: 903, method: 'resources/read', params: { uri: 'not a uri' } });
    await ct.send({ jsonrpc: '2.0', id: 904, method: 'no/such/method', params: {} });
    for (let i = 0; i < 50 && answers.length < 4; i++) await new Promise((r) => setImmediate(r));
    expect(answers.map((a) => a.id).sort()).toEqual([901, 902, 903, 904]);
    expect(answers.every((a) => a.error !== undefined)).toBe(true);
    const log = entries(store);
    expect(log.map((e) => e.tool).sort()).toEqual([
      'protocol:no/such/method',
      'protocol:resources/read',
      'protocol:tools/call',
      'protocol:tools/call',
    ]);
    expect(log.every((e) => e.outcome === 'refused' && e.principal === 'raw@example.com')).toBe(true);
    expect(log.find((e) => JSON.stringify(e.arguments).includes('42'))).toBeDefined();
    await client.close();
    await server.close();
  });

  it('refuses a write whose confirmation cannot be audited, and applies nothing', async () => {
    const h = await start({ elicit: ACCEPT });
    const a = await propose(h, 'i8');
    h.store.db.exec(`CREATE TRIGGER no_room BEFORE INSERT ON audit_log WHEN NEW.tool = 'policy:confirmed'
      BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;`);
    const r = await h.call('submit_decision', { proposal_ids: [a] });
    expect(r.isError).toBe(true);
    expect(h.store.db.prepare('SELECT count(*) AS n FROM outbox').get()).toEqual({ n: 0 });
    expect(decisions(h.store)).toEqual([]);
    expect(h.store.db.prepare("SELECT count(*) AS n FROM confirmations WHERE status = 'used'").get()).toEqual(
      { n: 0 },
    );
  });

  it('records no draft when its audit entry cannot be written', async () => {
    const h = await start();
    h.store.db.exec(`CREATE TRIGGER no_room BEFORE INSERT ON audit_log WHEN NEW.tool = 'propose_decision'
      BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;`);
    const r = await h.call('propose_decision', { item_id: 'i8', decision: 'revoke', rationale: 'r' });
    expect(r.isError).toBe(true);
    expect(h.store.db.prepare('SELECT count(*) AS n FROM proposals').get()).toEqual({ n: 0 });
  });

  it('writes signed checkpoints every N entries, and catches a truncated tail with them', async () => {
    const t = tempDir();
    cleanups.push(t.cleanup);
    const keyFile = join(t.dir, 'audit.key');
    const sink = join(t.dir, 'checkpoints.jsonl');
    generateSigningKey(keyFile);
    const writer = CheckpointWriter.fromSettings({ keyFile, sink, every: 3 });
    const h = await start({ deps: { checkpoints: writer } });
    for (let i = 0; i < 7; i++) await h.ok('list_campaigns');
    const lines = readFileSync(sink, 'utf8').trim().split('\n');
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([3, 6]);
    const log = new AuditLog(h.store.db);
    const key = readVerifyKey(keyFile);
    expect(verifyCheckpoints(log, readFileSync(sink, 'utf8'), key)).toMatchObject({
      ok: true,
      checkpoints: 2,
      latest: 6,
    });
    // Cut the last two entries: the chain itself still verifies, the checkpoints do not.
    h.store.db.exec('DROP TRIGGER audit_log_no_delete; DELETE FROM audit_log WHERE seq >= 6;');
    expect(log.verify().ok).toBe(true);
    const cut = verifyCheckpoints(log, readFileSync(sink, 'utf8'), key);
    expect(cut.ok).toBe(false);
    expect(cut.problems.join('\n')).toMatch(/entry 6 was checkpointed .* no longer in the log .*cut off/);
    // A checkpoint line not signed by this key is refused.
    const forged = { ...(JSON.parse(lines[0]!) as Record<string, unknown>), hash: 'f'.repeat(64) };
    const bad = verifyCheckpoints(log, JSON.stringify(forged), key);
    expect(bad.problems[0]).toMatch(/signature that does not verify/);
  });
});

describe('read tools are scoped to the reviewer', () => {
  const fay: Principal = { id: 'fay@example.com', role: 'reviewer', reviewer_ids: ['u2'] };
  const ada: Principal = { id: 'ada@example.com', role: 'reviewer', reviewer_ids: ['u1'] };

  it('get_user_activity reads only users of the reviewer’s items', async () => {
    const h = await start({ principal: ada });
    // u4 has items reviewed by u1; u3 only items reviewed by u2.
    expect((await h.ok<{ user: { id: string } }>('get_user_activity', { user_id: 'u4' })).user.id).toBe('u4');
    expect(await h.fail('get_user_activity', { user_id: 'u3' })).toMatch(
      /no user "u3" among the users of items assigned to you/,
    );
  });

  it('check_sod checks only the reviewer’s users, one at a time or for a campaign', async () => {
    const h = await start({ principal: ada });
    expect(await h.fail('check_sod', { user_id: 'u7' })).toMatch(/not|no user/);
    const all = await h.ok<{ users_checked: number; conflicts: Array<{ user_id: string }> }>('check_sod', {
      campaign_id: 'c1',
    });
    expect(all.users_checked).toBe(2);
    expect(all.conflicts.map((c) => c.user_id)).not.toContain('u7');
  });

  it('list_campaigns and get_campaign_summary count the reviewer’s own items', async () => {
    const h = await start({ principal: ada });
    const list = await h.ok<{ campaigns: Array<{ id: string; counts: { total: number } }> }>(
      'list_campaigns',
    );
    expect(list.campaigns).toEqual([
      expect.objectContaining({ id: 'c1', counts: expect.objectContaining({ total: 3 }) }),
    ]);
    const summary = await h.ok<{
      campaign: { counts: { total: number } };
      by_status: Record<string, number>;
    }>('get_campaign_summary', { campaign_id: 'c1' });
    expect(summary.campaign.counts.total).toBe(3);
    expect(Object.values(summary.by_status).reduce((a, b) => a + b, 0)).toBe(3);
  });

  it('a reviewer with several reviewer ids sees the items of all of them', async () => {
    const h = await start({ principal: { id: 'both', role: 'reviewer', reviewer_ids: ['u1', 'u2'] } });
    const page = await h.ok<{ total: number; items: unknown[] }>('list_campaign_items', {
      campaign_id: 'c1',
      limit: 50,
    });
    expect(page.total).toBe(10);
    expect(page.items).toHaveLength(10);
  });

  it('explain_item and get_shadow_report refuse what the reviewer may not see', async () => {
    const h = await start({ principal: fay });
    expect(await h.fail('explain_item', { item_id: 'i1' })).toMatch(/that you may see/);
    expect(await h.fail('get_shadow_report', {})).toMatch(/for admins/);
  });

  it('resources list and summarise only the reviewer’s items', async () => {
    const h = await start({ principal: ada });
    const list = await h.client.readResource({ uri: 'attest://campaigns' });
    const body = JSON.parse(String((list.contents[0] as { text: string }).text)) as {
      campaigns: Array<{ counts: { total: number } }>;
    };
    expect(body.campaigns.map((c) => c.counts.total)).toEqual([3]);
    const summary = await h.client.readResource({ uri: 'attest://campaigns/c1/summary' });
    const s = JSON.parse(String((summary.contents[0] as { text: string }).text)) as {
      by_status: Record<string, number>;
    };
    expect(Object.values(s.by_status).reduce((a, b) => a + b, 0)).toBe(3);
  });
});

describe('arguments', () => {
  it('refuses unknown arguments by name instead of ignoring them', async () => {
    const h = await start();
    const text = await h.fail('list_campaign_items', { campaign_id: 'c1', minRisk: 80 });
    expect(text).toMatch(/unknown argument "minRisk"/);
    expect(text).toMatch(/Accepted: campaign_id, status, reviewer_id, min_risk/);
  });
});

describe('the outbox', () => {
  /** A platform that counts the calls it gets and answers a little later, so two workers interleave. */
  function countingPlatform() {
    const calls: string[] = [];
    const later = () => new Promise((r) => setImmediate(r));
    const connector: IdentityConnector = {
      platform: 'snapshot',
      writeBack: {
        decisions: ['approve', 'revoke', 'escalate'],
        permissions: [],
        async apply(d) {
          calls.push(`decide:${d.idempotency_key}`);
          await later();
          return { status: 'done', platform_ref: `ref-${d.idempotency_key}` };
        },
      },
      remediation: {
        permissions: [],
        async remove(r) {
          calls.push(`remove:${r.idempotency_key}`);
          await later();
          return { status: 'done', platform_ref: null };
        },
      },
    };
    return { calls, connector };
  }

  async function queued(n: number) {
    const store = await tinyStore();
    cleanups.push(() => store.close());
    const h = await start({ store, elicit: ACCEPT, deps: { applyOutbox: async () => {} } });
    const items = ['i1', 'i2', 'i3', 'i4', 'i5', 'i6', 'i7', 'i8', 'i9', 'i10'].slice(0, n);
    const ids: string[] = [];
    for (const i of items) ids.push(await propose(h, i, 'approve'));
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: ids });
    expect(r.status).toBe('applied');
    return store;
  }

  it('two workers at once call the platform once per row', async () => {
    const store = await queued(10);
    expect(store.db.prepare("SELECT count(*) AS n FROM outbox WHERE status = 'pending'").get()).toEqual({
      n: 10,
    });
    const { calls, connector } = countingPlatform();
    const [a, b] = await Promise.all([
      runOutbox(store, () => connector, { worker: 'host/1/a' }),
      runOutbox(store, () => connector, { worker: 'host/1/b' }),
    ]);
    expect(a.applied + b.applied).toBe(10);
    expect(calls.filter((c) => c.startsWith('decide:'))).toHaveLength(10);
    expect(new Set(calls).size).toBe(calls.length);
  });

  it('a confirmation answered at the CLI and its outbox rows commit together', async () => {
    const h = await start();
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    h.store.db.exec(`CREATE TRIGGER no_outbox BEFORE INSERT ON outbox BEGIN SELECT RAISE(ABORT, 'no'); END;`);
    const answered = await answerConfirmation(h.store, r.confirmation!.id, 'confirm', 'boss', new Date(), {
      eventEntry: new Auditor(new AuditLog(h.store.db)).eventEntries({
        principal: 'boss',
        client: null,
        session_id: null,
        transport: 'cli',
      }),
    });
    expect(answered.ok).toBe(false);
    expect(
      h.store.db.prepare('SELECT status FROM confirmations WHERE id = ?').get(r.confirmation!.id),
    ).toEqual({ status: 'pending' });
    expect(entries(h.store).some((e) => e.tool === 'cli:confirm')).toBe(false);
  });

  it('records each row’s platform answer in the audit log, in the transaction of its effects', async () => {
    const h = await start();
    const a = await propose(h, 'i8');
    const r = await h.ok<Submit>('submit_decision', { proposal_ids: [a] });
    const auditor = new Auditor(new AuditLog(h.store.db));
    expect(
      (
        await answerConfirmation(h.store, r.confirmation!.id, 'confirm', 'boss', new Date(), {
          eventEntry: auditor.eventEntries({
            principal: 'boss',
            client: null,
            session_id: null,
            transport: 'cli',
          }),
        })
      ).ok,
    ).toBe(true);
    await runOutbox(h.store, () => new SnapshotConnector(), { auditor });
    const log = entries(h.store);
    expect(log.find((e) => e.tool === 'cli:confirm')).toMatchObject({ outcome: 'ok', principal: 'boss' });
    const applied = log.find((e) => e.tool === 'outbox:apply')!;
    expect(applied.details).toMatchObject({
      result: 'applied',
      platform: 'snapshot',
      confirmation: { channel: 'cli', assurance: 'human-verified', confirmed_by: 'boss' },
      remediation: { status: 'done' },
    });
  });
});
