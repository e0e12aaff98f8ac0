import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalJson } from '../../src/store/audit.js';
import { startHttp } from '../e2e/helpers.js';
import { TINY, tempDir } from '../helpers/harness.js';
import { cli, inParallel, report } from './helpers.js';

/**
 * Tampering with a real audit log: a store written by `attest serve --http` (tool calls of
 * every outcome over a real SDK client), `attest confirm` and the outbox, with signed
 * checkpoints every 5 entries. Each change is made on a copy with the append-only triggers
 * dropped, and `attest audit verify` must report it.
 */

const tmp = tempDir('attest-tamper-');
const db = join(tmp.dir, 'audit.db');
const key = join(tmp.dir, 'checkpoint-key.pem');
const sink = join(tmp.dir, 'checkpoints.jsonl');
const config = join(tmp.dir, 'attest.json');
let entries: Array<Record<string, unknown>> = [];

const COLUMNS = [
  'at',
  'principal',
  'client_name',
  'client_version',
  'session_id',
  'transport',
  'tool',
  'kind',
  'arguments',
  'outcome',
  'error',
  'duration_ms',
  'details',
  'prev_hash',
  'hash',
] as const;

beforeAll(async () => {
  expect((await cli(['import', TINY, '--db', db])).code).toBe(0);
  const keygen = await cli(['audit', 'keygen', '--key', key]);
  expect(keygen.code, keygen.stderr).toBe(0);
  writeFileSync(config, JSON.stringify({ auditCheckpoints: { keyFile: key, sink, every: 5 } }));
  const token = (
    await cli(['token', 'create', '--db', db, '--principal', 'analyst@example.com', '--role', 'admin'])
  ).stdout.trim();
  const server = startHttp(['--db', db, '--config', config]);
  const client = new Client({ name: 'tamper-client', version: '3.1.4' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(await server.url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  const call = (name: string, args: Record<string, unknown>) => client.callTool({ name, arguments: args });
  await call('list_campaigns', {});
  await call('list_campaign_items', { campaign_id: 'c1', status: 'all' });
  await call('explain_item', { item_id: 'i2' });
  await call('list_campaign_items', { campaign_id: 'c1', minRisk: 80 });
  await call('get_user_activity', { user_id: 'no-such-user' });
  const proposals: string[] = [];
  for (const [item, decision] of [
    ['i1', 'approve'],
    ['i2', 'revoke'],
  ] as const) {
    const r = await call('propose_decision', { item_id: item, decision, rationale: `Reviewed ${item}` });
    proposals.push((r.structuredContent as { proposal_id: string }).proposal_id);
  }
  const submitted = await call('submit_decision', { proposal_ids: proposals });
  const confirmation = (submitted.structuredContent as { confirmation: { id: string } }).confirmation.id;
  await call('check_sod', { user_id: 'u3' });
  await call('get_campaign_summary', { campaign_id: 'c1' });
  await client.close();
  await server.stop();
  const confirmed = await cli([
    'confirm',
    confirmation,
    '--db',
    db,
    '--config',
    config,
    '--as',
    'boss@example.com',
    '--yes',
  ]);
  expect(confirmed.code, confirmed.stderr).toBe(0);
  // The CLI's entries since the server's last checkpoint get one of the head, as an operator's
  // `attest audit checkpoint` (or the next server shutdown) writes.
  const head = await cli(['audit', 'checkpoint', '--db', db, '--config', config]);
  expect(head.code, head.stderr).toBe(0);
  const d = new Database(db, { readonly: true });
  entries = d.prepare('SELECT * FROM audit_log ORDER BY seq').all() as Array<Record<string, unknown>>;
  d.close();
});

afterAll(() => tmp.cleanup());

let copies = 0;
/** A copy of the store with the append-only triggers dropped and `edit` applied to it. */
function tampered(edit: (d: Database.Database) => void): string {
  const path = join(tmp.dir, `copy-${++copies}.db`);
  copyFileSync(db, path);
  if (existsSync(`${db}-wal`)) copyFileSync(`${db}-wal`, `${path}-wal`);
  const d = new Database(path);
  d.exec('DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;');
  edit(d);
  d.close();
  return path;
}

/** The entry's hash as an attacker who knows the scheme (but not the checkpoint key) recomputes it. */
function rehash(r: Record<string, unknown>, prevHash: string): string {
  const body = {
    arguments: JSON.parse(String(r.arguments)),
    at: r.at,
    client_name: r.client_name,
    client_version: r.client_version,
    details: r.details === null ? null : JSON.parse(String(r.details)),
    duration_ms: r.duration_ms,
    error: r.error,
    kind: r.kind,
    outcome: r.outcome,
    principal: r.principal,
    seq: r.seq,
    session_id: r.session_id,
    tool: r.tool,
    transport: r.transport,
  };
  return createHash('sha256')
    .update(`${prevHash}\n${canonicalJson(body)}`)
    .digest('hex');
}

/** Rewrites every hash from `fromSeq` on so that the chain verifies again. */
function rechain(d: Database.Database, fromSeq: number): void {
  const rows = d.prepare('SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq').all(fromSeq) as Array<
    Record<string, unknown>
  >;
  let prev =
    (d
      .prepare('SELECT hash FROM audit_log WHERE seq = ?')
      .pluck()
      .get(fromSeq - 1) as string) ?? '0'.repeat(64);
  const set = d.prepare('UPDATE audit_log SET prev_hash = ?, hash = ? WHERE seq = ?');
  for (const r of rows) {
    const hash = rehash(r, prev);
    set.run(prev, hash, r.seq);
    prev = hash;
  }
}

const flipHex = (h: string) => (h[0] === '0' ? '1' : '0') + h.slice(1);

/** A changed value of the column, of the same kind. */
function changed(column: (typeof COLUMNS)[number], v: unknown): unknown {
  switch (column) {
    case 'at':
      return new Date(Date.parse(String(v)) + 1).toISOString();
    case 'principal':
      return 'someone-else@example.com';
    case 'client_name':
      return `${v}-x`;
    case 'client_version':
      return '9.9.9';
    case 'session_id':
      return '00000000-0000-4000-8000-000000000000';
    case 'transport':
      return v === 'http' ? 'stdio' : 'http';
    case 'tool':
      return v === 'list_campaigns' ? 'explain_item' : 'list_campaigns';
    case 'kind':
      return v === 'read' ? 'write' : 'read';
    case 'arguments':
    case 'details':
      return JSON.stringify({ ...(JSON.parse(String(v)) as object), campaign_id: 'c0' });
    case 'outcome':
      return v === 'ok' ? 'refused' : 'ok';
    case 'error':
      return `${v} (edited)`;
    case 'duration_ms':
      return Number(v) + 0.5;
    case 'prev_hash':
    case 'hash':
      return flipHex(String(v));
  }
}

async function verify(path: string, withCheckpoints: boolean) {
  return cli(['audit', 'verify', '--db', path, ...(withCheckpoints ? ['--config', config] : [])]);
}

describe('tampering with the audit log', () => {
  it('starts from a log that verifies, checkpoints included, with every column filled somewhere', async () => {
    expect(entries.length).toBeGreaterThanOrEqual(12);
    for (const c of COLUMNS)
      expect(
        entries.some((e) => e[c] !== null),
        c,
      ).toBe(true);
    expect(new Set(entries.map((e) => e.transport))).toEqual(new Set(['http', 'cli', 'outbox']));
    const r = await verify(db, true);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Audit log OK/);
    expect(r.stdout).toMatch(/Checkpoints OK: \d+ checked/);
    report(
      `tampering: a log of ${entries.length} entries from serve --http, confirm and the outbox, ${readFileSync(sink, 'utf8').trim().split('\n').length} signed checkpoints`,
    );
  });

  it('detects an edit of each column of an entry', async () => {
    const middle = Math.floor(entries.length / 2);
    const results = await inParallel(
      2,
      COLUMNS.map((column) => async () => {
        // The first entry from the middle on where the column holds something.
        const target =
          entries.slice(middle).find((e) => e[column] !== null) ?? entries.find((e) => e[column] !== null)!;
        const seq = Number(target.seq);
        const path = tampered((d) =>
          d
            .prepare(`UPDATE audit_log SET ${column} = ? WHERE seq = ?`)
            .run(changed(column, target[column]) as never, seq),
        );
        const r = await verify(path, false);
        return { column, seq, r };
      }),
    );
    for (const { column, seq, r } of results) {
      expect(r.code, `${column} edit of entry ${seq} went unnoticed: ${r.stdout}`).toBe(1);
      expect(r.stderr, column).toMatch(/Audit log BROKEN/);
      expect(r.stderr, column).toContain(`entry ${seq}:`);
    }
    report(`tampering: ${results.length} column edits (${COLUMNS.join(', ')}), each detected at its entry`);
  });

  it('detects a deleted entry, two reordered, one inserted, and names where', async () => {
    const k = Math.floor(entries.length / 2);
    const cases: Array<[string, (d: Database.Database) => void, RegExp]> = [
      [
        'delete',
        (d) => d.prepare('DELETE FROM audit_log WHERE seq = ?').run(k),
        new RegExp(`entry ${k + 1}: entry ${k} is missing`),
      ],
      [
        'reorder (swap sequence numbers)',
        (d) => {
          d.prepare('UPDATE audit_log SET seq = -1 WHERE seq = ?').run(k);
          d.prepare('UPDATE audit_log SET seq = ? WHERE seq = ?').run(k, k + 1);
          d.prepare('UPDATE audit_log SET seq = ? WHERE seq = -1').run(k + 1);
        },
        new RegExp(`entry ${k}: `),
      ],
      [
        'reorder (swap contents)',
        (d) => {
          const cols = COLUMNS.join(', ');
          const a = d.prepare(`SELECT ${cols} FROM audit_log WHERE seq = ?`).get(k) as Record<
            string,
            unknown
          >;
          const b = d.prepare(`SELECT ${cols} FROM audit_log WHERE seq = ?`).get(k + 2) as Record<
            string,
            unknown
          >;
          const set = d.prepare(
            `UPDATE audit_log SET ${COLUMNS.map((c) => `${c} = @${c}`).join(', ')} WHERE seq = @seq`,
          );
          set.run({ ...b, seq: k });
          set.run({ ...a, seq: k + 2 });
        },
        new RegExp(`entry ${k}: `),
      ],
      [
        'insert (a well-formed, correctly hashed entry in the middle)',
        (d) => {
          d.prepare('UPDATE audit_log SET seq = -(seq + 1) WHERE seq >= ?').run(k);
          d.prepare('UPDATE audit_log SET seq = -seq WHERE seq < 0').run();
          const prev = d
            .prepare('SELECT hash FROM audit_log WHERE seq = ?')
            .pluck()
            .get(k - 1) as string;
          const forged: Record<string, unknown> = {
            ...entries[k - 1],
            seq: k,
            tool: 'list_campaigns',
            arguments: '{}',
            outcome: 'ok',
            error: null,
            details: null,
            prev_hash: prev,
          };
          forged.hash = rehash(forged, prev);
          d.prepare(
            `INSERT INTO audit_log (seq, ${COLUMNS.join(', ')}) VALUES (@seq, ${COLUMNS.map((c) => `@${c}`).join(', ')})`,
          ).run(forged);
        },
        new RegExp(`entry ${k + 1}: `),
      ],
    ];
    const results = await inParallel(
      2,
      cases.map(([name, edit, where]) => async () => ({
        name,
        where,
        r: await verify(tampered(edit), false),
      })),
    );
    for (const { name, where, r } of results) {
      expect(r.code, `${name} went unnoticed: ${r.stdout}`).toBe(1);
      expect(r.stderr, name).toMatch(where);
    }
    report(`tampering: ${results.map((x) => x.name).join('; ')}: each detected`);
  });

  it('detects a cut-off tail and a rewritten chain only against the signed checkpoints', async () => {
    const head = entries.length;
    const cut = tampered((d) => d.prepare('DELETE FROM audit_log WHERE seq > ?').run(head - 3));
    const chainOnly = await verify(cut, false);
    // The hash chain alone cannot tell a cut-off log from a shorter one.
    expect(chainOnly.code, chainOnly.stderr).toBe(0);
    const checked = await verify(cut, true);
    expect(checked.code, checked.stdout).toBe(1);
    expect(checked.stderr).toMatch(new RegExp(`entry ${head} was checkpointed .* entries were cut off`));

    // An edit with every later hash recomputed: the chain verifies, the checkpoints do not.
    const k = Math.floor(head / 2);
    const rewritten = tampered((d) => {
      d.prepare('UPDATE audit_log SET principal = ? WHERE seq = ?').run('someone-else@example.com', k);
      rechain(d, k);
    });
    const rewrittenChain = await verify(rewritten, false);
    expect(rewrittenChain.code, rewrittenChain.stderr).toBe(0);
    const rewrittenChecked = await verify(rewritten, true);
    expect(rewrittenChecked.code).toBe(1);
    expect(rewrittenChecked.stderr).toMatch(
      /no longer has the hash checkpointed .*: the chain was rewritten/,
    );

    // A checkpoint line edited to claim a shorter log no longer verifies with the key.
    const lines = readFileSync(sink, 'utf8').trim().split('\n');
    const forgedSink = join(tmp.dir, 'forged-checkpoints.jsonl');
    const last = JSON.parse(lines.at(-1)!) as { seq: number };
    writeFileSync(
      forgedSink,
      `${[...lines.slice(0, -1), JSON.stringify({ ...last, seq: last.seq - 3 })].join('\n')}\n`,
    );
    const forged = await cli(['audit', 'verify', '--db', cut, '--checkpoints', forgedSink, '--key', key]);
    expect(forged.code).toBe(1);
    expect(forged.stderr).toMatch(/signature that does not verify/);
    report(
      'tampering: tail cut by 3 entries (chain alone: passes; with checkpoints: detected), chain rewritten after an edit (detected by checkpoints), a forged checkpoint line (detected)',
    );
  });
});
