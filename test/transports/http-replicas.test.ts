import { createServer as createHttpServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '../../src/domain/principal.js';
import { createLogger } from '../../src/log.js';
import { createServer } from '../../src/server.js';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import { type HttpHandle, serveHttp } from '../../src/transports/http.js';
import { tempDir, testConfig, tinyStore } from '../helpers/harness.js';

// Two replicas of the HTTP server, each on its own connection to one store file (as two
// `attest serve --http` processes would be), behind a round-robin balancer with no affinity.

const TOKENS: Record<string, Principal> = {
  'tok-fay-admin': { id: 'fay@example.com', role: 'admin', reviewer_ids: [] },
  'tok-fay-reviewer': { id: 'fay@example.com', role: 'reviewer', reviewer_ids: ['u2'] },
  'tok-bob': { id: 'bob@example.com', role: 'admin', reviewer_ids: [] },
};
const IDLE_MS = 10 * 60_000;

const tmp = tempDir();
const file = join(tmp.dir, 'replicas.db');
const config = testConfig({ db: file });
let clock = 1_000_000;
const stores: Store[] = [];
const replicas: HttpHandle[] = [];
let balancer: Server;
let balancerUrl: string;
/** Upstreams the balancer sends to, in turn; a replica that refuses connections is skipped. */
const live = new Set<number>();
let turn = 0;
/** Which replica served each forwarded request. */
const servedBy: number[] = [];

async function replica(): Promise<HttpHandle> {
  const store = Store.open(file);
  stores.push(store);
  return serveHttp({
    host: '127.0.0.1',
    port: 0,
    allowedHosts: [],
    allowedOrigins: [],
    authenticate: (token) => TOKENS[token] ?? { error: 'token is not valid' },
    logger: createLogger('silent'),
    sessionIdleMs: IDLE_MS,
    now: () => clock,
    sessionStore: store.httpSessions,
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
}

function forward(
  to: number,
  req: import('node:http').IncomingMessage,
  body: Buffer,
  res: import('node:http').ServerResponse,
) {
  const target = new URL(replicas[to]!.url);
  return new Promise<boolean>((resolve) => {
    const up = request(
      {
        host: target.hostname,
        port: target.port,
        path: target.pathname,
        method: req.method,
        headers: { ...req.headers, host: target.host },
      },
      (r) => {
        servedBy.push(to);
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
        resolve(true);
      },
    );
    up.on('error', () => resolve(false));
    up.end(body);
  });
}

beforeAll(async () => {
  (await tinyStore(config)).close();
  replicas.push(await replica(), await replica());
  live.add(0).add(1);
  balancer = createHttpServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    for (let tries = 0; tries < replicas.length; tries++) {
      const to = turn++ % replicas.length;
      if (!live.has(to)) continue;
      if (await forward(to, req, body, res)) return;
    }
    res.writeHead(502).end();
  });
  await new Promise<void>((r) => balancer.listen(0, '127.0.0.1', () => r()));
  balancerUrl = `http://127.0.0.1:${(balancer.address() as AddressInfo).port}/mcp`;
});
afterAll(async () => {
  await new Promise<void>((r) => balancer.close(() => r()));
  balancer.closeAllConnections();
  for (const h of replicas) await h.close().catch(() => {});
  for (const s of stores) s.close();
  tmp.cleanup();
});

async function open(token: string, url = balancerUrl) {
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { authorization: `Bearer ${token}` } },
  });
  const client = new Client(
    { name: 'replica-client', version: '3.1' },
    { capabilities: { elicitation: {} } },
  );
  await client.connect(transport);
  return { client, transport, sessionId: transport.sessionId! };
}

async function rawCall(to: number, token: string, sessionId: string) {
  const r = await fetch(replicas[to]!.url, {
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

describe('HTTP sessions shared through the store', () => {
  it('are served by every replica, each request to whichever the balancer picks, with one audit chain', async () => {
    const before = servedBy.length;
    const { client, sessionId } = await open('tok-fay-admin');
    for (let i = 0; i < 6; i++) {
      const r = await client.callTool({ name: 'list_campaigns', arguments: {} });
      expect(r.isError ?? false).toBe(false);
    }
    // Initialize, the initialized notification and six calls went to both replicas in turn.
    expect(new Set(servedBy.slice(before))).toEqual(new Set([0, 1]));
    expect(replicas.map((h) => h.sessionCount())).toEqual([1, 1]);
    const audit = new AuditLog(stores[0]!.db);
    const calls = [...audit.entries()].filter((e) => e.session_id === sessionId);
    expect(calls).toHaveLength(6);
    // The replica that rebuilt the session knows the client from its replayed initialize.
    expect(new Set(calls.map((e) => `${e.client_name}/${e.client_version}`))).toEqual(
      new Set(['replica-client/3.1']),
    );
    expect(audit.verify().ok).toBe(true);
    await client.close();
  });

  it('keep the principal binding on the replica that rebuilds them', async () => {
    const { client, sessionId } = await open('tok-fay-admin', replicas[0]!.url);
    // Replica 1 has never seen the session: the same person with a reviewer token, or someone
    // else, is refused, and the refusals do not make the session unusable for its owner.
    expect((await rawCall(1, 'tok-fay-reviewer', sessionId)).status).toBe(403);
    expect((await rawCall(1, 'tok-bob', sessionId)).status).toBe(403);
    expect((await rawCall(1, 'tok-nobody', sessionId)).status).toBe(401);
    const ok = await rawCall(1, 'tok-fay-admin', sessionId);
    expect(ok.status).toBe(200);
    expect(ok.body).toContain('c1');
    await client.close();
  });

  it('end on every replica when the client closes them on one', async () => {
    const { client, transport, sessionId } = await open('tok-fay-admin', replicas[0]!.url);
    expect((await rawCall(1, 'tok-fay-admin', sessionId)).status).toBe(200);
    await transport.terminateSession();
    expect((await rawCall(1, 'tok-fay-admin', sessionId)).status).toBe(404);
    expect((await rawCall(0, 'tok-fay-admin', sessionId)).status).toBe(404);
    await client.close();
  });

  it('stay open while used on any replica, and expire fleet-wide when idle', async () => {
    const { client, sessionId } = await open('tok-fay-admin', replicas[0]!.url);
    // Used only on replica 1 for longer than the idle time: replica 0 still serves it.
    for (let i = 0; i < 4; i++) {
      clock += IDLE_MS / 3;
      expect((await rawCall(1, 'tok-fay-admin', sessionId)).status).toBe(200);
    }
    expect((await rawCall(0, 'tok-fay-admin', sessionId)).status).toBe(200);
    clock += IDLE_MS + 1;
    expect((await rawCall(1, 'tok-fay-admin', sessionId)).status).toBe(404);
    expect((await rawCall(0, 'tok-fay-admin', sessionId)).status).toBe(404);
    expect(await stores[0]!.httpSessions.find(sessionId)).toBeNull();
    await client.close();
  });

  it('survive the loss of the replica that opened them', async () => {
    const { client, sessionId } = await open('tok-fay-admin');
    await client.callTool({ name: 'list_campaigns', arguments: {} });
    // Replica 0 goes away; the balancer sends everything to replica 1, which has the session.
    live.delete(0);
    await replicas[0]!.close();
    for (let i = 0; i < 3; i++) {
      const r = await client.callTool({
        name: 'list_campaign_items',
        arguments: { campaign_id: 'c1', limit: 2 },
      });
      expect(r.isError ?? false).toBe(false);
    }
    expect(servedBy.slice(-3)).toEqual([1, 1, 1]);
    const audit = new AuditLog(stores[1]!.db);
    expect(
      [...audit.entries()].filter((e) => e.session_id === sessionId && e.tool === 'list_campaign_items'),
    ).toHaveLength(3);
    await client.close();
  });
});
