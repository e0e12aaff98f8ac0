import { request } from 'node:http';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../src/store/store.js';
import { TokenStore } from '../../src/store/tokens.js';
import { TINY, tempDir } from '../helpers/harness.js';
import { runCli, startHttp } from './helpers.js';

const tmp = tempDir();
const db = join(tmp.dir, 'http.db');
let server: ReturnType<typeof startHttp>;
let url: string;
let adminToken: string;
let reviewerToken: string;
let expiredToken: string;

const init = {
  jsonrpc: '2.0',
  id: 1,
  method: 'initialize',
  params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
};

function post(headers: Record<string, string>, body: unknown = init) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...headers,
    },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  expect(runCli(['import', TINY, '--db', db]).code).toBe(0);
  adminToken = runCli([
    'token',
    'create',
    '--db',
    db,
    '--principal',
    'admin@example.com',
    '--role',
    'admin',
  ]).stdout.trim();
  reviewerToken = runCli(['token', 'create', '--db', db, '--principal', 'fay@example.com']).stdout.trim();
  const store = Store.open(db);
  expiredToken = new TokenStore(store.db).create('late@example.com', 'admin', new Date(Date.now() - 1000));
  store.close();
  server = startHttp(['--db', db], {
    ATTEST_PRINCIPALS: JSON.stringify({ 'fay@example.com': { role: 'reviewer', reviewer_ids: ['u2'] } }),
  });
  url = await server.url;
});
afterAll(async () => {
  await server?.stop();
  tmp.cleanup();
});

async function connect(token: string) {
  const client = new Client({ name: 'e2e-http', version: '2.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

describe('attest serve --http (built CLI)', () => {
  it('binds to loopback and serves /mcp', () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mcp$/);
  });

  it.each([
    ['no token', {}],
    ['a bad token', { authorization: 'Bearer att_not-a-real-token' }],
    ['a malformed header', { authorization: 'Basic Zm9vOmJhcg==' }],
  ])('answers 401 to %s and runs nothing', async (_n, headers) => {
    const r = await post(headers);
    expect(r.status).toBe(401);
    expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
  });

  it('answers 401 to an expired token', async () => {
    const r = await post({ authorization: `Bearer ${expiredToken}` });
    expect(r.status).toBe(401);
    expect(await r.text()).toMatch(/expired/);
  });

  it('refuses a foreign Origin or Host with 403', async () => {
    expect(
      (await post({ authorization: `Bearer ${adminToken}`, origin: 'http://evil.example.com' })).status,
    ).toBe(403);
    const port = new URL(url).port;
    // fetch may not set Host; a raw request can, as a DNS-rebinding page's browser would.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: Number(port),
          path: '/mcp',
          method: 'POST',
          headers: { host: `evil.example.com:${port}`, authorization: `Bearer ${adminToken}` },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end('{}');
    });
    expect(status).toBe(403);
    expect(
      (await post({ authorization: `Bearer ${adminToken}`, origin: `http://localhost:${port}` })).status,
    ).toBe(200);
  });

  it('answers a body that is not JSON with 400', async () => {
    const r = await fetch(url, {
      method: 'POST',
      headers: {
        authorization: `Bearer ${adminToken}`,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: '{not json',
    });
    expect(r.status).toBe(400);
    // Refused after authentication: the refusal is in the audit log.
    const refusals = runCli(['audit', 'export', '--db', db])
      .stdout.trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { tool: string; outcome: string; error: string | null; principal: string })
      .filter((e) => e.tool === 'protocol:http');
    expect(refusals.at(-1)).toMatchObject({ principal: 'admin@example.com', outcome: 'refused' });
    expect(refusals.at(-1)!.error).toMatch(/not valid JSON/);
  });

  it('serves a real SDK client with a valid token, one session each, scoped by role', async () => {
    const admin = await connect(adminToken);
    const all = await admin.callTool({
      name: 'list_campaign_items',
      arguments: { campaign_id: 'c1', limit: 500 },
    });
    expect((all.structuredContent as { total: number }).total).toBe(10);
    const reviewer = await connect(reviewerToken);
    const mine = await reviewer.callTool({
      name: 'list_campaign_items',
      arguments: { campaign_id: 'c1', limit: 500 },
    });
    expect((mine.structuredContent as { total: number }).total).toBe(7);
    await admin.close();
    await reviewer.close();
    const audit = runCli(['audit', 'export', '--db', db])
      .stdout.trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as { principal: string; session_id: string | null; transport: string; tool: string },
      )
      .filter((a) => !a.tool.startsWith('protocol:'));
    expect(audit.map((a) => a.principal)).toEqual(['admin@example.com', 'fay@example.com']);
    expect(audit.every((a) => a.transport === 'http' && typeof a.session_id === 'string')).toBe(true);
    expect(audit[0]!.session_id).not.toBe(audit[1]!.session_id);
    const everything = runCli(['audit', 'export', '--db', db, '--format', 'csv']).stdout + server.stderr();
    for (const t of [adminToken, reviewerToken, expiredToken]) expect(everything).not.toContain(t);
  });
});

describe('attest serve --http for 2026-07-28 clients (built CLI)', () => {
  const meta = (version = '2026-07-28') => ({
    'io.modelcontextprotocol/protocolVersion': version,
    'io.modelcontextprotocol/clientInfo': { name: 'raw-2026', version: '0' },
    'io.modelcontextprotocol/clientCapabilities': {},
  });
  function post2026(method: string, params: Record<string, unknown>, version = '2026-07-28', id = 31) {
    return post(
      { authorization: `Bearer ${adminToken}`, 'mcp-protocol-version': version, 'mcp-method': method },
      { jsonrpc: '2.0', id, method, params: { ...params, _meta: meta(version) } },
    );
  }
  const audit = () =>
    runCli(['audit', 'export', '--db', db])
      .stdout.trim()
      .split('\n')
      .map(
        (l) =>
          JSON.parse(l) as {
            tool: string;
            outcome: string;
            principal: string;
            session_id: string | null;
            client_name: string | null;
            error: string | null;
          },
      );

  it('serves a real v2 client pinned to 2026-07-28: stateless, audited per request, no session', async () => {
    const client = new Client(
      { name: 'e2e-http-2026', version: '3.0.0' },
      { versionNegotiation: { mode: { pin: '2026-07-28' } } },
    );
    await client.connect(
      new StreamableHTTPClientTransport(new URL(url), {
        requestInit: { headers: { authorization: `Bearer ${reviewerToken}` } },
      }),
    );
    expect(client.getProtocolEra()).toBe('modern');
    const r = await client.callTool({
      name: 'list_campaign_items',
      arguments: { campaign_id: 'c1', limit: 500 },
    });
    expect((r.structuredContent as { total: number }).total).toBe(7);
    await client.close();
    const entry = audit().findLast((e) => e.tool === 'list_campaign_items')!;
    expect(entry).toMatchObject({
      principal: 'fay@example.com',
      session_id: null,
      client_name: 'e2e-http-2026',
      outcome: 'ok',
    });
  });

  it('answers server/discover with both the version it speaks and the caching fields', async () => {
    const r = await post2026('server/discover', {});
    expect(r.status).toBe(200);
    const body = (await r.json()) as { result: Record<string, unknown> };
    expect(body.result).toMatchObject({
      supportedVersions: ['2026-07-28'],
      ttlMs: 300_000,
      cacheScope: 'private',
    });
  });

  it('audits requests refused before or by the protocol layer: an unsupported version, an unknown method', async () => {
    const unsupported = await post2026('tools/list', {}, '2099-01-01', 41);
    expect(unsupported.status).toBe(400);
    const unknown = await post2026('no/such/method', {}, '2026-07-28', 42);
    expect(unknown.status).toBe(404);
    const refused = audit().filter(
      (e) => e.tool.startsWith('protocol:') && e.principal === 'admin@example.com',
    );
    expect(refused.map((e) => [e.tool, e.outcome, e.error?.split(':')[0]])).toEqual(
      expect.arrayContaining([
        ['protocol:tools/list', 'refused', '-32022'],
        ['protocol:no/such/method', 'refused', '-32601'],
      ]),
    );
  });

  it('serves no protected-resource metadata while OAuth is off', async () => {
    expect((await fetch(new URL('/.well-known/oauth-protected-resource/mcp', url))).status).toBe(404);
  });
});

describe('attest serve --conformance-fixtures', () => {
  it.each([
    ['off loopback', ['--http', '0', '--host', '0.0.0.0']],
    ['over stdio', []],
  ])('is refused %s', (_n, args) => {
    const r = runCli(['serve', '--db', db, ...args, '--conformance-fixtures']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /--conformance-fixtures is for the MCP conformance suite only: it needs --http on a loopback host/,
    );
  });
});
