import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { TINY, tempDir } from '../helpers/harness.js';
import { BASE_ENV, CLI, runCli } from './helpers.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

function campaigns(db: string) {
  const store = Store.open(db);
  try {
    return store.db
      .prepare(
        "SELECT c.id, c.name, count(i.id) AS items FROM campaigns c LEFT JOIN review_items i ON i.campaign_id = c.id WHERE c.id LIKE 'cmp-%' GROUP BY c.id",
      )
      .all() as Array<{ id: string; name: string; items: number }>;
  } finally {
    store.close();
  }
}

describe('attest campaign create (built CLI)', () => {
  it('shows what it creates, and creates it once', () => {
    const db = join(tmp.dir, 'cli.db');
    expect(runCli(['import', TINY, '--db', db]).code).toBe(0);
    const noTty = runCli([
      'campaign',
      'create',
      '--db',
      db,
      '--name',
      'Ledger',
      '--entitlement',
      'e-ledger',
      '--fallback',
      'u1',
    ]);
    expect(noTty.code).toBe(1);
    expect(noTty.stderr).toMatch(/not a terminal.*Nothing was created/);
    expect(campaigns(db)).toEqual([]);
    const r = runCli([
      'campaign',
      'create',
      '--db',
      db,
      '--name',
      'Ledger',
      '--entitlement',
      'e-ledger',
      '--reviewers',
      'manager',
      '--fallback',
      'u1',
      '--yes',
      '--as',
      'boss',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/Create campaign \\"Ledger\\": 5 item\(s\) of 5 person\(s\)/);
    expect(r.stdout).toMatch(/Created campaign cmp-[0-9a-f]{12} with 5 item\(s\)/);
    expect(campaigns(db)).toEqual([expect.objectContaining({ name: 'Ledger', items: 5 })]);
    const audit = runCli(['audit', 'export', '--db', db]).stdout;
    expect(audit).toMatch(/"tool":"cli:create_campaign"/);
    expect(audit).toMatch(/"tool":"change:create_campaign"/);
  });

  it('an agent asks over stdio without forms; attest confirm shows the change and applies it', async () => {
    const db = join(tmp.dir, 'mcp.db');
    expect(runCli(['import', TINY, '--db', db]).code).toBe(0);
    const client = new Client({ name: 'no-forms', version: '1' });
    await client.connect(
      new StdioClientTransport({
        command: process.execPath,
        args: [CLI, 'serve', '--db', db],
        env: BASE_ENV,
        stderr: 'pipe',
      }),
    );
    const call = async (args: Record<string, unknown>) =>
      (await client.callTool({ name: 'create_campaign', arguments: args })).structuredContent as {
        status: string;
        change_id: string;
        campaign_id: string | null;
        confirmation: { id: string; command: string } | null;
      };
    const r = await call({
      name: 'Movers',
      scope: { user_ids: ['u4'] },
      reviewers: { by: 'named', reviewer_id: 'u1', fallback_reviewer_id: 'u2' },
    });
    expect(r.status).toBe('awaiting_confirmation');
    expect(campaigns(db)).toEqual([]);
    const confirmed = runCli(['confirm', r.confirmation!.id, '--db', db, '--yes', '--as', 'boss']);
    expect(confirmed.code, confirmed.stderr).toBe(0);
    expect(confirmed.stdout).toMatch(/\[create_campaign\] "Create campaign \\"Movers\\"/);
    expect(confirmed.stdout).toMatch(/1 change\(s\) applied/);
    const again = await call({ change_id: r.change_id });
    expect(again.status).toBe('applied');
    expect(again.campaign_id).toMatch(/^cmp-/);
    expect(runCli(['confirm', r.confirmation!.id, '--db', db, '--yes']).code).toBe(1);
    expect(campaigns(db)).toEqual([expect.objectContaining({ name: 'Movers', items: 2 })]);
    await client.close();
  });
});
