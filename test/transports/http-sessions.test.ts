import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/domain/principal.js';
import { createLogger } from '../../src/log.js';
import { createServer } from '../../src/server.js';
import { type HttpHandle, serveHttp } from '../../src/transports/http.js';
import { testConfig, tinyStore } from '../helpers/harness.js';

/** Tokens of one person: an admin token and a reviewer token, and one of someone else. */
const TOKENS: Record<string, Principal> = {
  'tok-fay-admin': { id: 'fay@example.com', role: 'admin', reviewer_ids: [] },
  'tok-fay-reviewer': { id: 'fay@example.com', role: 'reviewer', reviewer_ids: ['u2'] },
  'tok-bob': { id: 'bob@example.com', role: 'admin', reviewer_ids: [] },
};

let http: HttpHandle | undefined;
let clock = 1_000_000;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close().catch(() => {});
  await http?.close();
  http = undefined;
});

async function serve(options: { idleMs?: number; maxMs?: number; perPrincipal?: number } = {}) {
  const config = testConfig();
  const store = await tinyStore(config);
  http = await serveHttp({
    host: '127.0.0.1',
    port: 0,
    allowedHosts: [],
    allowedOrigins: [],
    authenticate: (token) => TOKENS[token] ?? { error: 'token is not valid' },
    logger: createLogger('silent'),
    sessionIdleMs: options.idleMs,
    sessionMaxMs: options.maxMs,
    sessionsPerPrincipal: options.perPrincipal,
    now: () => clock,
    createSession: (principal, sessionId) =>
      createServer({
        store,
        config,
        logger: createLogger('silent'),
        principal,
        transport: 'http',
        sessionId,
      }),
  });
  return http;
}

async function open(token: string) {
  const transport = new StreamableHTTPClientTransport(new URL(http!.url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client({ name: 'sessions', version: '1' });
  await client.connect(transport);
  clients.push(client);
  return { client, sessionId: transport.sessionId! };
}

/** A raw tools/call on an existing session with any bearer token. */
async function rawCall(token: string, sessionId: string) {
  const r = await fetch(http!.url, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'mcp-session-id': sessionId,
      'mcp-protocol-version': '2025-11-25',
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 7,
      method: 'tools/call',
      params: { name: 'list_campaigns', arguments: {} },
    }),
  });
  return { status: r.status, body: await r.text() };
}

describe('HTTP sessions', () => {
  it('are bound to the whole principal: the same person with a reviewer token cannot use an admin session', async () => {
    await serve();
    const { sessionId } = await open('tok-fay-admin');
    expect((await rawCall('tok-fay-admin', sessionId)).status).toBe(200);
    const other = await rawCall('tok-fay-reviewer', sessionId);
    expect(other.status).toBe(403);
    expect(other.body).toMatch(/opened with other credentials/);
    expect((await rawCall('tok-bob', sessionId)).status).toBe(403);
  });

  it('close when idle, and when too old however busy', async () => {
    await serve({ idleMs: 60_000, maxMs: 600_000 });
    const idle = await open('tok-bob');
    clock += 60_001;
    const late = await rawCall('tok-bob', idle.sessionId);
    expect(late.status).toBe(404);
    expect(late.body).toMatch(/not found or expired/);

    const busy = await open('tok-bob');
    for (let i = 0; i < 11; i++) {
      clock += 50_000;
      expect((await rawCall('tok-bob', busy.sessionId)).status).toBe(200);
    }
    clock += 50_000;
    expect((await rawCall('tok-bob', busy.sessionId)).status).toBe(404);
  });

  it('are capped per principal: one more closes the least recently used', async () => {
    await serve({ perPrincipal: 3 });
    const opened = [];
    for (let i = 0; i < 5; i++) {
      clock += 1;
      opened.push(await open('tok-bob'));
    }
    expect(http!.sessionCount()).toBe(3);
    expect((await rawCall('tok-bob', opened[0]!.sessionId)).status).toBe(404);
    expect((await rawCall('tok-bob', opened[1]!.sessionId)).status).toBe(404);
    expect((await rawCall('tok-bob', opened[4]!.sessionId)).status).toBe(200);
    // Another principal's sessions are not counted against this one.
    await open('tok-fay-admin');
    expect(http!.sessionCount()).toBe(4);
  });
});
