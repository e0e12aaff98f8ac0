/**
 * `attest serve --http` on a PostgreSQL store (the built CLI against a real server from
 * Debian's `postgresql` package; see test/helpers/postgres.ts for running it locally): the
 * review path through real SDK clients, a confirmation answered with `attest confirm` against
 * the store, and every other tool refused with a message naming it and the backend.
 */
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/harness.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { runCli, startHttp } from './helpers.js';

const available = postgresAvailable();
if (!available.ok && process.env.CI === 'true') throw new Error(`CI needs PostgreSQL: ${available.why}`);

type Result = {
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  content: Array<{ text?: string }>;
};

describe.runIf(available.ok)('attest serve --http on a PostgreSQL store', () => {
  const tmp = tempDir();
  let pgServer: TestPostgres;
  let url = '';
  let token = '';
  let http: ReturnType<typeof startHttp>;
  let endpoint = '';

  beforeAll(async () => {
    pgServer = await startPostgres();
    const db = join(tmp.dir, 'demo.db');
    const built = runCli(['demo', '--db', db, '--users', '60', '--dir', join(tmp.dir, 'demo')]);
    expect(built.code, built.stderr).toBe(0);
    url = await pgServer.createDatabase(`serve_${process.pid}`);
    const copied = runCli(['migrate-store', '--db', db, '--to', url]);
    expect(copied.code, copied.stderr).toBe(0);
    const made = runCli([
      'token',
      'create',
      '--db',
      url,
      '--principal',
      'agent@example.com',
      '--role',
      'admin',
    ]);
    expect(made.code, made.stderr).toBe(0);
    token = made.stdout.trim();
    http = startHttp(['--db', url]);
    endpoint = await http.url;
  }, 180_000);

  afterAll(async () => {
    await http?.stop();
    await pgServer?.stop();
    tmp.cleanup();
  });

  async function connect(): Promise<Client> {
    const client = new Client({ name: 'pg-e2e', version: '1.0.0' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(endpoint), {
        requestInit: { headers: { authorization: `Bearer ${token}` } },
      }),
    );
    return client;
  }
  const call = async (c: Client, name: string, args: Record<string, unknown>) =>
    (await c.callTool({ name, arguments: args })) as Result;

  it('lists, pages, proposes and submits; attest confirm on the store applies the batch once', async () => {
    const c = await connect();
    try {
      const campaigns = (await call(c, 'list_campaigns', { status: 'active' })).structuredContent!
        .campaigns as Array<{ id: string; counts: { total: number } }>;
      expect(campaigns.length).toBeGreaterThan(0);
      const campaign = campaigns[0]!;
      // Every page, each item once, the total carried in the cursor.
      const seen: string[] = [];
      let cursor: string | undefined;
      for (;;) {
        const r = await call(c, 'list_campaign_items', {
          campaign_id: campaign.id,
          status: 'all',
          limit: 40,
          ...(cursor ? { cursor } : {}),
        });
        expect(r.isError, r.content[0]?.text).toBeFalsy();
        const page = r.structuredContent as {
          items: Array<{ item_id: string }>;
          next_cursor: string | null;
          total: number;
        };
        expect(page.total).toBe(campaign.counts.total);
        seen.push(...page.items.map((i) => i.item_id));
        if (!page.next_cursor) break;
        cursor = page.next_cursor;
      }
      expect(seen).toHaveLength(campaign.counts.total);
      expect(new Set(seen).size).toBe(seen.length);

      const pending = (await call(c, 'list_campaign_items', { campaign_id: campaign.id, limit: 2 }))
        .structuredContent!.items as Array<{ item_id: string }>;
      const ids: string[] = [];
      for (const item of pending) {
        const p = await call(c, 'propose_decision', {
          item_id: item.item_id,
          decision: 'approve',
          rationale: 'Used every week; the manager confirmed the need.',
        });
        expect(p.isError, p.content[0]?.text).toBeFalsy();
        ids.push(String(p.structuredContent!.proposal_id));
      }
      const asked = await call(c, 'submit_decision', { proposal_ids: ids });
      expect(asked.structuredContent).toMatchObject({ status: 'awaiting_confirmation' });
      const confirmation = asked.structuredContent!.confirmation as { id: string; command: string };
      // The command shown to the agent never carries the store's URL (it may hold a password).
      expect(confirmation.command).not.toContain('postgres://');
      const confirmed = runCli([
        'confirm',
        confirmation.id,
        '--yes',
        '--as',
        'boss@example.com',
        '--db',
        url,
      ]);
      expect(confirmed.code, confirmed.stderr).toBe(0);
      expect(confirmed.stdout).toMatch(
        /Confirmed by boss@example\.com \(cli, human-verified\): 2 applied, 0 failed/,
      );
      const again = await call(c, 'submit_decision', { proposal_ids: ids });
      expect(again.structuredContent).toMatchObject({ status: 'applied' });
      const decided = (await call(c, 'list_campaign_items', { campaign_id: campaign.id, status: 'decided' }))
        .structuredContent!.items as Array<{ item_id: string; decision: { decided_by: string } }>;
      expect(decided.map((i) => i.item_id).sort()).toEqual(pending.map((i) => i.item_id).sort());
      expect(decided.every((i) => i.decision.decided_by === 'boss@example.com')).toBe(true);
    } finally {
      await c.close();
    }
    const v = runCli(['audit', 'verify', '--db', url]);
    expect(v.code, v.stderr).toBe(0);
    expect(v.stdout).toMatch(/^Audit log OK: \d+ entries, chain intact\./);
  }, 120_000);

  it('refuses a tool it does not serve yet, naming the tool and the backend, and audits the refusal', async () => {
    const c = await connect();
    try {
      const listed = (await c.listTools()).tools.map((t) => t.name);
      expect(listed).toContain('check_sod');
      const r = await call(c, 'check_sod', { user_id: 'u1' });
      expect(r.isError).toBe(true);
      expect(r.content[0]?.text).toMatch(/^check_sod is not served on the PostgreSQL store yet/);
      expect(r.content[0]?.text).toMatch(/Nothing was read or changed/);
    } finally {
      await c.close();
    }
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      const rows = (
        await db.query(
          "SELECT outcome, error FROM audit_log WHERE tool = 'check_sod' ORDER BY seq DESC LIMIT 1",
        )
      ).rows;
      expect(rows[0]).toMatchObject({
        outcome: 'refused',
        error: expect.stringMatching(/^unavailable: check_sod/),
      });
    } finally {
      await db.end();
    }
  });

  it('says what it cannot serve on PostgreSQL instead of starting: stdio, --demo', () => {
    const stdio = runCli(['serve', '--db', url]);
    expect(stdio.code).not.toBe(0);
    expect(stdio.stderr).toMatch(/serves Streamable HTTP only so far: pass --http PORT/);
    const demo = runCli(['serve', '--db', url, '--http', '0', '--demo']);
    expect(demo.code).not.toBe(0);
    expect(demo.stderr).toMatch(/--demo builds the demo tenant into a SQLite store only/);
  });
});
