import { spawnSync } from 'node:child_process';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { createLogger } from '../../src/log.js';
import { createServer } from '../../src/server.js';
import { runOutbox } from '../../src/services/outbox.js';
import { Store } from '../../src/store/store.js';
import { TINY, tempDir, testConfig } from '../helpers/harness.js';
import { runCli } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

/** Proposes revokes for items and submits them without elicitation; returns the pending confirmation id. */
async function pendingBatch(db: string, items: string[]): Promise<string> {
  const store = Store.open(db);
  const server = createServer({
    store,
    config: testConfig({ db }),
    logger: createLogger('silent'),
    principal: { id: 'agent-user@example.com', role: 'admin', reviewer_ids: [] },
    transport: 'memory',
    applyOutbox: async () => {
      await runOutbox(store, createConnectorRegistry({}));
    },
  });
  const client = new Client({ name: 'e2e', version: '1' });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(b), client.connect(a)]);
  const ids: string[] = [];
  for (const item of items) {
    const r = await client.callTool({
      name: 'propose_decision',
      arguments: { item_id: item, decision: 'revoke', rationale: `revoke ${item}` },
    });
    ids.push((r.structuredContent as { proposal_id: string }).proposal_id);
  }
  const s = await client.callTool({ name: 'submit_decision', arguments: { proposal_ids: ids } });
  await client.close();
  store.close();
  return (s.structuredContent as { confirmation: { id: string } }).confirmation.id;
}

function counts(db: string) {
  const store = Store.open(db);
  const q = (sql: string) => (store.db.prepare(sql).get() as { n: number }).n;
  const r = {
    decisions: q('SELECT count(*) AS n FROM item_decisions'),
    remediations: q('SELECT count(*) AS n FROM remediations'),
    training: q("SELECT count(*) AS n FROM past_decisions WHERE source = 'tool'"),
    outboxDone: q("SELECT count(*) AS n FROM outbox WHERE status = 'done'"),
    assignments: q('SELECT count(*) AS n FROM assignments'),
  };
  store.close();
  return r;
}

describe('attest CLI (built)', () => {
  it('import reports every bad row with file, line and column, and changes nothing', () => {
    const db = join(tmp.dir, 'bad.db');
    const dir = join(tmp.dir, 'bad-snapshot');
    cpSync(TINY, dir, { recursive: true });
    writeFileSync(
      join(dir, 'assignments.csv'),
      `user_id,entitlement_id,granted_at\n${Array.from({ length: 25 }, (_, i) => `u2,x${i},2026-01-01`).join('\n')}\n`,
    );
    const r = runCli(['import', dir, '--db', db]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Import failed: 25 problem\(s\)\. Nothing was changed/);
    expect(r.stderr).toMatch(/assignments\.csv:2 column entitlement_id: unknown entitlement_id "x0"/);
    expect(r.stderr).toMatch(/\.\.\. and 5 more/);
    expect(r.stdout).toBe('');
  });

  it('refuses bad configuration with the name of the key', () => {
    const r = runCli(['import', TINY, '--db', join(tmp.dir, 'x.db')], { ATTEST_DORMANT_DAYS: 'soon' });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/ATTEST_DORMANT_DAYS/);
  });

  it('confirm applies a pending batch once; reject applies nothing', async () => {
    const db = join(tmp.dir, 'confirm.db');
    expect(runCli(['import', TINY, '--db', db]).code).toBe(0);
    const rejectId = await pendingBatch(db, ['i5']);
    const rej = runCli(['reject', rejectId, '--db', db, '--as', 'boss@example.com', '--yes']);
    expect(rej.code).toBe(0);
    expect(rej.stdout).toMatch(/Rejected by boss@example.com/);
    expect(counts(db).decisions).toBe(0);

    const id = await pendingBatch(db, ['i8', 'i7']);
    const ok = runCli(['confirm', id, '--db', db, '--as', 'boss@example.com', '--yes']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toMatch(/REVOKE · risk \d+ \w+.*\n.*\n\s+access:\s+"LedgerOne Users"/);
    expect(ok.stdout).toMatch(/2 applied/);
    const again = runCli(['confirm', id, '--db', db, '--yes']);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/is used/);
    expect(counts(db)).toMatchObject({ decisions: 2, remediations: 2, training: 2 });

    const csv = runCli(['export', 'remediation', '--db', db]).stdout;
    expect(csv.split('\n')[0]).toMatch(/^item_id,user_id,user_email,entitlement_id/);
    expect(csv).toMatch(/i8,u6,gone@example.com,e-ledger/);
  });

  it.each(['after-platform', 'after-commit'])(
    'a process killed mid-batch (%s) applies every confirmed decision exactly once after restart',
    async (stage) => {
      const db = join(tmp.dir, `kill-${stage}.db`);
      expect(runCli(['import', TINY, '--db', db]).code).toBe(0);
      const before = counts(db);
      const id = await pendingBatch(db, ['i3', 'i5', 'i7', 'i8', 'i9']);
      const killed = runCli(['confirm', id, '--db', db, '--as', 'boss@example.com', '--yes'], {
        ATTEST_FAULT_KILL: `${stage}:3`,
      });
      expect(killed.signal).toBe('SIGKILL');
      const mid = counts(db);
      expect(mid.outboxDone).toBe(stage === 'after-commit' ? 3 : 2);
      const resumed = runCli(['outbox', '--db', db]);
      expect(resumed.code, resumed.stderr).toBe(0);
      const after = counts(db);
      expect(after).toEqual({
        decisions: 5,
        remediations: 5,
        training: 5,
        outboxDone: 5,
        assignments: before.assignments - 5,
      });
      // Running the worker again changes nothing.
      expect(runCli(['outbox', '--db', db]).stdout).toMatch(/0 applied/);
      expect(counts(db)).toEqual(after);
    },
  );

  it('audit verify passes on a fresh log and export writes CSV and JSON Lines', () => {
    const db = join(tmp.dir, 'confirm.db');
    const v = runCli(['audit', 'verify', '--db', db]);
    expect(v.code).toBe(0);
    expect(v.stdout).toMatch(/Audit log OK: \d+ entries/);
    const out = join(tmp.dir, 'audit.csv');
    expect(runCli(['audit', 'export', '--db', db, '--format', 'csv', '--out', out]).code).toBe(0);
    const csv = readFileSync(out, 'utf8');
    expect(csv.split('\n')[0]).toBe(
      'seq,at,principal,client_name,client_version,session_id,transport,tool,kind,outcome,error,duration_ms,arguments,details,prev_hash,hash',
    );
    const later = runCli(['audit', 'export', '--db', db, '--since', '2999-01-01']);
    expect(later.stdout).toBe('');
    expect(runCli(['audit', 'export', '--db', db, '--since', 'yesterday']).code).toBe(2);
  });
});

describe('start-up', () => {
  it('loads the Okta SDK only when an Okta connector is built', () => {
    const dist = join(import.meta.dirname, '..', '..', 'dist');
    const script = `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('okta-sdk-nodejs'));
      await import(${JSON.stringify(join(dist, 'app.js'))});
      const { createConnectorRegistry } = await import(${JSON.stringify(join(dist, 'connectors', 'registry.js'))});
      const before = loaded();
      createConnectorRegistry({})('okta');
      const unconfigured = loaded();
      createConnectorRegistry({ OKTA_ORG_URL: 'https://example.okta.com', OKTA_API_TOKEN: 'x'.repeat(40) })('okta');
      console.log(JSON.stringify({ before, unconfigured, configured: loaded() }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ before: false, unconfigured: false, configured: true });
  });
});
