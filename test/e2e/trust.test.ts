import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, describe, expect, it } from 'vitest';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import { TINY, tempDir } from '../helpers/harness.js';
import { BASE_ENV, CLI, runCli, startHttp } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function freshStore(name: string): string {
  const db = join(tmp.dir, `${name}.db`);
  const r = runCli(['import', TINY, '--db', db]);
  expect(r.code, r.stderr).toBe(0);
  return db;
}

function audit(db: string) {
  return runCli(['audit', 'export', '--db', db])
    .stdout.trim()
    .split('\n')
    .filter((l) => l !== '')
    .map(
      (l) =>
        JSON.parse(l) as {
          tool: string;
          outcome: string;
          principal: string;
          details: Record<string, unknown> | null;
        },
    );
}

function counts(db: string) {
  const store = Store.open(db);
  try {
    const n = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
    return {
      decisions: n('SELECT count(*) AS n FROM item_decisions'),
      outboxPending: n("SELECT count(*) AS n FROM outbox WHERE status = 'pending'"),
      outboxDone: n("SELECT count(*) AS n FROM outbox WHERE status = 'done'"),
    };
  } finally {
    store.close();
  }
}

type Submit = {
  status: string;
  confirmation: { id: string; command?: string; required_assurance?: string } | null;
};

/** An SDK client over HTTP that declares elicitation and accepts every form itself. */
async function selfConfirmingClient(url: string, token: string) {
  const client = new Client(
    { name: 'auto-accept', version: '1' },
    { capabilities: { elicitation: { form: {} } } },
  );
  let forms = 0;
  client.setRequestHandler('elicitation/create', async () => {
    forms++;
    return { action: 'accept', content: { confirm: true } };
  });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  const call = async <T>(name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(JSON.stringify(r.content));
    return r.structuredContent as T;
  };
  return { client, call, forms: () => forms };
}

describe('a client that confirms its own writes (built CLI over HTTP)', () => {
  it('gets nothing applied under the default policy; the human confirms with the printed command, as written', async () => {
    const db = freshStore('self-confirm');
    const token = runCli([
      'token',
      'create',
      '--principal',
      'agent@example.com',
      '--role',
      'admin',
      '--db',
      db,
    ]).stdout.trim();
    const server = startHttp(['--db', db]);
    try {
      const agent = await selfConfirmingClient(await server.url, token);
      const ids = [];
      for (const item_id of ['i7', 'i8'])
        ids.push(
          (
            await agent.call<{ proposal_id: string }>('propose_decision', {
              item_id,
              decision: 'revoke',
              rationale: 'r',
            })
          ).proposal_id,
        );
      const r = await agent.call<Submit>('submit_decision', { proposal_ids: ids });
      expect(r.status).toBe('awaiting_confirmation');
      expect(agent.forms()).toBe(0);
      expect(r.confirmation!.required_assurance).toBe('human-verified');
      expect(counts(db).decisions).toBe(0);

      // The printed command names this build and this store by absolute path: it works from any directory.
      const command = r.confirmation!.command!;
      expect(command).toContain(CLI);
      expect(command).toContain(`--db ${db}`);
      const ran = spawnSync('sh', ['-c', `${command} --yes --as human@example.com`], {
        cwd: '/',
        env: BASE_ENV,
        encoding: 'utf8',
      });
      expect(ran.status, ran.stderr).toBe(0);
      expect(ran.stdout).toMatch(/2 applied/);
      const after = await agent.call<Submit>('submit_decision', { proposal_ids: ids });
      expect(after.status).toBe('applied');
      await agent.client.close();
    } finally {
      await server.stop();
    }
    const log = audit(db);
    const confirmed = log.find((e) => e.tool === 'cli:confirm')!;
    expect(confirmed).toMatchObject({ principal: 'human@example.com', outcome: 'ok' });
    expect(confirmed.details).toMatchObject({
      confirmation: { channel: 'cli', assurance: 'human-verified' },
    });
    // The CLI path records the platform's answer for each row.
    const applied = log.filter((e) => e.tool === 'outbox:apply');
    expect(applied).toHaveLength(2);
    for (const a of applied)
      expect(a.details).toMatchObject({
        result: 'applied',
        platform: 'snapshot',
        remediation: { status: 'done' },
      });
    expect(runCli(['audit', 'verify', '--db', db]).code).toBe(0);
  });

  it('with a token marked as an interactive host, the form applies the batch as host-attested', async () => {
    const db = freshStore('interactive');
    const token = runCli([
      'token',
      'create',
      '--principal',
      'ide@example.com',
      '--role',
      'admin',
      '--interactive-host',
      '--db',
      db,
    ]).stdout.trim();
    const server = startHttp(['--db', db]);
    try {
      const agent = await selfConfirmingClient(await server.url, token);
      const p = await agent.call<{ proposal_id: string }>('propose_decision', {
        item_id: 'i8',
        decision: 'revoke',
        rationale: 'r',
      });
      const r = await agent.call<Submit & { confirmation: { assurance?: string } }>('submit_decision', {
        proposal_ids: [p.proposal_id],
      });
      expect(r.status).toBe('applied');
      expect(r.confirmation!.assurance).toBe('host-attested');
      expect(agent.forms()).toBe(1);
      await agent.client.close();
    } finally {
      await server.stop();
    }
  });
});

describe('attest confirm on a terminal', () => {
  async function pending(db: string, items: string[]): Promise<string> {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'serve', '--db', db],
      env: BASE_ENV,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'no-forms', version: '1' });
    await client.connect(transport);
    const ids = [];
    for (const item_id of items) {
      const r = await client.callTool({
        name: 'propose_decision',
        arguments: { item_id, decision: 'revoke', rationale: 'r' },
      });
      ids.push((r.structuredContent as { proposal_id: string }).proposal_id);
    }
    const s = await client.callTool({ name: 'submit_decision', arguments: { proposal_ids: ids } });
    await client.close();
    return (s.structuredContent as Submit).confirmation!.id;
  }

  /** Runs the CLI under a pseudo-terminal (util-linux script) and types `answer`. */
  function onTerminal(args: string[], answer: string) {
    const line = [process.execPath, CLI, ...args].map((a) => `'${a}'`).join(' ');
    return spawnSync('script', ['-qec', line, '/dev/null'], {
      input: `${answer}\n`,
      env: BASE_ENV,
      encoding: 'utf8',
      timeout: 60_000,
    });
  }

  it('shows the batch and asks; no applies nothing, yes applies it', async () => {
    const db = freshStore('tty');
    const id = await pending(db, ['i8']);
    const no = onTerminal(['confirm', id, '--db', db, '--as', 'boss'], 'n');
    expect(no.stdout).toMatch(/\[1\/1\] REVOKE · risk/);
    expect(no.stdout).toMatch(/Apply these 1 decision\(s\) to the identity platform\? \[y\/N\]/);
    expect(no.stdout).toMatch(/Nothing was changed/);
    expect(counts(db)).toMatchObject({ decisions: 0, outboxDone: 0 });
    const yes = onTerminal(['confirm', id, '--db', db, '--as', 'boss'], 'y');
    expect(yes.stdout).toMatch(/1 applied/);
    expect(counts(db)).toMatchObject({ decisions: 1, outboxDone: 1 });
  });

  it('refuses to answer from a script without --yes, and applies nothing', async () => {
    const db = freshStore('no-tty');
    const id = await pending(db, ['i7']);
    const r = runCli(['confirm', id, '--db', db]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/not a terminal.*--yes/);
    expect(counts(db).decisions).toBe(0);
  });
});

describe('read-only means no platform writes', () => {
  it('serve --read-only leaves confirmed rows waiting, and attest outbox refuses in read-only mode', async () => {
    const db = freshStore('read-only');
    const { answerConfirmation } = await import('../../src/services/decisions.js');
    const store = Store.open(db);
    const { DecisionsRepo } = await import('../../src/store/decisions.js');
    const repo = new DecisionsRepo(store.db);
    const p = repo.propose({
      item_id: 'i8',
      decision: 'revoke',
      rationale: 'r',
      confidence: null,
      engine_decision: null,
      proposed_by: 'a',
      proposed_at: new Date().toISOString(),
    });
    const c = repo.createPending('a', repo.batchHash([p.id]), [p.id], new Date(), 3600_000);
    expect((await answerConfirmation(store, c.id, 'confirm', 'boss', new Date())).ok).toBe(true);
    store.close();
    expect(counts(db).outboxPending).toBe(1);

    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'serve', '--db', db, '--read-only'],
      env: BASE_ENV,
      stderr: 'pipe',
    });
    const client = new Client({ name: 'ro', version: '1' });
    await client.connect(transport);
    await client.callTool({ name: 'list_campaigns', arguments: {} });
    await client.close();
    expect(counts(db)).toMatchObject({ outboxPending: 1, decisions: 0 });

    const refused = runCli(['outbox', '--db', db], { ATTEST_READ_ONLY: 'true' });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/read-only/);
    expect(counts(db).outboxPending).toBe(1);
    expect(runCli(['outbox', '--db', db]).stdout).toMatch(/1 applied/);
  });
});

describe('command-line defects', () => {
  it('attest audit export | head ends quietly', () => {
    const db = freshStore('epipe');
    // Far more than a pipe holds (~2 MB), so the writer is still writing when head has gone.
    const store = Store.open(db);
    const log = new AuditLog(store.db);
    for (let i = 0; i < 4000; i++)
      log.append({
        at: new Date().toISOString(),
        principal: 'filler',
        client_name: null,
        client_version: null,
        session_id: null,
        transport: 'memory',
        tool: 'list_campaigns',
        kind: 'read',
        arguments: { note: 'x'.repeat(500) },
        outcome: 'ok',
        error: null,
        duration_ms: 0,
        details: null,
      });
    store.close();
    const r = spawnSync(
      'sh',
      ['-c', `'${process.execPath}' '${CLI}' audit export --db '${db}' --format csv | head -1`],
      {
        env: BASE_ENV,
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    expect(r.stdout.split('\n')[0]).toMatch(/^seq,at,principal/);
    expect(r.stderr).not.toMatch(/EPIPE|Error/);
  });

  it.each([
    ['analyze', []],
    ['audit', ['verify']],
    ['confirm', ['cf_x', '--yes']],
    ['outbox', []],
    ['token', ['create', '--principal', 'x']],
    ['shadow', []],
  ])('%s refuses a --db that does not exist instead of creating it', (command, rest) => {
    const missing = join(tmp.dir, `typo-${command}.db`);
    const args =
      command === 'audit' || command === 'token'
        ? [command, ...rest, '--db', missing]
        : [command, ...rest, '--db', missing];
    const r = runCli(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no store at ${missing}`);
    expect(existsSync(missing)).toBe(false);
  });
});
