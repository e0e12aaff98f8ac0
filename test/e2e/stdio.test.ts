import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { TINY, tempDir } from '../helpers/harness.js';
import { BASE_ENV, CLI, runCli } from './helpers.js';

const tmp = tempDir();
const db = join(tmp.dir, 'e2e.db');

beforeAll(() => {
  const r = runCli(['import', TINY, '--db', db]);
  expect(r.code, r.stderr).toBe(0);
});
afterAll(() => tmp.cleanup());

/** Sends raw JSON-RPC lines to `attest serve` over stdio; resolves with the answers to the requests. */
async function rawStdio(
  principal: string,
  messages: Array<Record<string, unknown>>,
): Promise<Array<{ id: number; error?: { code: number }; result?: unknown }>> {
  const child = spawn(process.execPath, [CLI, 'serve', '--db', db, '--principal', principal], {
    env: BASE_ENV,
    stdio: ['pipe', 'pipe', 'ignore'],
  });
  const expected = messages.filter((m) => m.id !== undefined).length;
  const answers: Array<{ id: number; error?: { code: number }; result?: unknown }> = [];
  let buffer = '';
  const done = new Promise<void>((resolve) => {
    child.stdout.on('data', (d) => {
      buffer += String(d);
      for (let i = buffer.indexOf('\n'); i >= 0; i = buffer.indexOf('\n')) {
        answers.push(JSON.parse(buffer.slice(0, i)));
        buffer = buffer.slice(i + 1);
      }
      if (answers.length === expected) resolve();
    });
  });
  for (const m of messages) child.stdin.write(`${JSON.stringify({ jsonrpc: '2.0', ...m })}\n`);
  await done;
  child.stdin.end();
  await new Promise((r) => child.once('exit', r));
  return answers;
}

describe('attest serve over stdio (built CLI)', () => {
  it('serves the tools to a real SDK client and keeps stdout for the protocol', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'serve', '--db', db, '--principal', 'analyst@example.com'],
      env: BASE_ENV,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    const client = new Client({ name: 'e2e-stdio', version: '1.0.0' });
    await client.connect(transport);
    const tools = await client.listTools();
    expect(tools.tools.map((t) => t.name)).toContain('list_campaign_items');
    const r = await client.callTool({
      name: 'list_campaign_items',
      arguments: { campaign_id: 'c1', limit: 500 },
    });
    expect(r.isError).toBeFalsy();
    expect((r.structuredContent as { total: number }).total).toBe(10);
    const bad = await client.callTool({ name: 'get_user_activity', arguments: { user_id: 'u3', days: -1 } });
    expect(bad.isError).toBe(true);
    await client.close();
    expect(stderr).not.toMatch(/jsonrpc/);
    const audit = runCli(['audit', 'export', '--db', db, '--format', 'jsonl']);
    const entries = audit.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { principal: string; client_name: string; tool: string; outcome: string });
    expect(entries.map((e) => [e.tool, e.outcome])).toEqual([
      ['list_campaign_items', 'ok'],
      ['get_user_activity', 'error'],
    ]);
    expect(entries.every((e) => e.principal === 'analyst@example.com' && e.client_name === 'e2e-stdio')).toBe(
      true,
    );
  });

  it('serves a 2026-07-28 client over stdio too: the opening pins the era', async () => {
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'serve', '--db', db, '--principal', 'modern@example.com'],
      env: BASE_ENV,
      stderr: 'pipe',
    });
    const client = new Client(
      { name: 'e2e-stdio-2026', version: '1.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(transport);
    expect(client.getProtocolEra()).toBe('modern');
    const r = await client.callTool({
      name: 'list_campaign_items',
      arguments: { campaign_id: 'c1', limit: 500 },
    });
    expect((r.structuredContent as { total: number }).total).toBe(10);
    await client.close();
    const entries = runCli(['audit', 'export', '--db', db, '--format', 'jsonl'])
      .stdout.trim()
      .split('\n')
      .map(
        (l) => JSON.parse(l) as { principal: string; client_name: string; tool: string; transport: string },
      );
    expect(entries.filter((e) => e.principal === 'modern@example.com')).toEqual([
      expect.objectContaining({
        tool: 'list_campaign_items',
        client_name: 'e2e-stdio-2026',
        transport: 'stdio',
      }),
    ]);
  });

  it('audits 2026-07-28 requests refused before or by the protocol layer, each once', async () => {
    const meta = (version: string, caps = true) => ({
      'io.modelcontextprotocol/protocolVersion': version,
      'io.modelcontextprotocol/clientInfo': { name: 'raw-stdio', version: '0' },
      ...(caps ? { 'io.modelcontextprotocol/clientCapabilities': {} } : {}),
    });
    const answers = await rawStdio('raw@example.com', [
      { id: 1, method: 'server/discover', params: { _meta: meta('2099-01-01') } },
      { id: 2, method: 'tools/list', params: { _meta: meta('2026-07-28', false) } },
      { id: 3, method: 'tools/call', params: { name: 42, arguments: {}, _meta: meta('2026-07-28') } },
    ]);
    expect(answers.map((a) => [a.id, a.error?.code])).toEqual([
      [1, -32022],
      [2, -32602],
      [3, -32602],
    ]);
    const refused = runCli(['audit', 'export', '--db', db])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { principal: string; tool: string; outcome: string; client_name: string })
      .filter((e) => e.principal === 'raw@example.com');
    expect(refused.map((e) => [e.tool, e.outcome, e.client_name])).toEqual([
      ['protocol:server/discover', 'refused', 'raw-stdio'],
      ['protocol:tools/list', 'refused', 'raw-stdio'],
      ['protocol:tools/call', 'refused', 'raw-stdio'],
    ]);
  });

  it('falls back to 2025-11-25 when a host probes with server/discover and then sends initialize', async () => {
    const answers = await rawStdio('probing@example.com', [
      {
        id: 1,
        method: 'server/discover',
        params: {
          _meta: {
            'io.modelcontextprotocol/protocolVersion': '2026-07-28',
            'io.modelcontextprotocol/clientInfo': { name: 'prober', version: '0' },
            'io.modelcontextprotocol/clientCapabilities': { elicitation: {} },
          },
        },
      },
      {
        id: 2,
        method: 'initialize',
        params: {
          protocolVersion: '2025-11-25',
          capabilities: {},
          clientInfo: { name: 'prober', version: '0' },
        },
      },
      { method: 'notifications/initialized' },
      { id: 3, method: 'tools/call', params: { name: 'list_campaigns', arguments: {} } },
    ]);
    expect(answers.map((a) => [a.id, a.error === undefined])).toEqual([
      [1, true],
      [2, true],
      [3, true],
    ]);
    expect((answers[1] as { result?: { protocolVersion?: string } }).result?.protocolVersion).toBe(
      '2025-11-25',
    );
  });

  it('keeps platform secrets from the environment out of the audit log and the logs', async () => {
    const token = '00Zz9SecretOktaToken1234567890abcdef';
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'serve', '--db', db],
      env: {
        ...BASE_ENV,
        ATTEST_LOG_LEVEL: 'debug',
        OKTA_ORG_URL: 'http://127.0.0.1:9',
        OKTA_API_TOKEN: token,
      },
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    const client = new Client({ name: 'e2e-secrets', version: '1' });
    await client.connect(transport);
    await client.callTool({ name: 'get_user_activity', arguments: { user_id: token } });
    await client.callTool({
      name: 'propose_decision',
      arguments: { item_id: 'i1', decision: 'approve', rationale: `see ${token}` },
    });
    await client.close();
    const exported = runCli(['audit', 'export', '--db', db, '--format', 'csv']).stdout;
    expect(exported).toContain('[REDACTED]');
    expect(exported + stderr).not.toContain(token);
  });

  it('refuses a store that does not exist instead of creating an empty one', () => {
    const missing = join(tmp.dir, 'typo.db');
    const r = runCli(['serve', '--db', missing]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no store at ${missing}`);
    expect(r.stderr).toMatch(/attest demo/);
    expect(existsSync(missing)).toBe(false);
  });

  it('says on stderr how to load data when the store is empty', async () => {
    const empty = join(tmp.dir, 'empty.db');
    Store.open(empty).close();
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [CLI, 'serve', '--db', empty],
      env: BASE_ENV,
      stderr: 'pipe',
    });
    let stderr = '';
    transport.stderr?.on('data', (d) => {
      stderr += String(d);
    });
    const client = new Client({ name: 'e2e', version: '1' });
    await client.connect(transport);
    const r = await client.callTool({ name: 'list_campaigns', arguments: {} });
    expect((r.structuredContent as { campaigns: unknown[] }).campaigns).toEqual([]);
    await client.close();
    expect(stderr).toMatch(/attest demo/);
    expect(stderr).toMatch(/attest import DIR/);
  });
});
