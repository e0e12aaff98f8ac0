import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import type { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { isInitializeRequest } from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import type { Principal } from '../tools/define.js';

export interface HttpOptions {
  host: string;
  port: number;
  allowedOrigins: string[];
  allowedHosts: string[];
  /** Maps a bearer token to a principal; null means authentication is off (loopback fixtures only). */
  authenticate: ((token: string) => Principal | { error: string }) | null;
  /** Builds a fresh MCP server for a new session. */
  createSession: (principal: Principal, sessionId: () => string | null) => McpServer;
  logger: Logger;
  maxBodyBytes?: number;
  /** A session idle this long is closed (default 30 minutes). */
  sessionIdleMs?: number;
  /** A session is closed this long after it opened, however busy (default 12 hours). */
  sessionMaxMs?: number;
  /** Open sessions per principal; one more closes that principal's least recently used (default 16). */
  sessionsPerPrincipal?: number;
  /** Called for a request refused after authentication (a body that is not JSON), so it can be audited. */
  onRefused?: (principal: Principal, reason: string) => void;
  /** The clock sessions are timed with (tests move it). */
  now?: () => number;
  /** Other routes on the same server (the console): true when the request was answered. */
  routes?: (req: IncomingMessage, res: ServerResponse, url: URL) => Promise<boolean>;
  /** True when a request carries credentials of another surface (the console's cookie): refused on /mcp. */
  foreignCredentials?: (req: IncomingMessage) => boolean;
}

export interface HttpHandle {
  server: Server;
  url: string;
  port: number;
  /** Open sessions (all principals). */
  sessionCount: () => number;
  close: () => Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  principal: Principal;
  /** The principal's identity and rights when the session opened: a request must match all of it. */
  binding: string;
  opened: number;
  lastUsed: number;
}

/** Everything about a principal that decides what a session may do. */
function bindingOf(p: Principal): string {
  return JSON.stringify([p.id, p.role, [...p.reviewer_ids].sort(), p.interactive_host === true]);
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function rpcError(
  res: ServerResponse,
  status: number,
  code: number,
  message: string,
  headers?: Record<string, string>,
) {
  sendJson(res, status, { jsonrpc: '2.0', error: { code, message }, id: null }, headers);
}

async function readBody(
  req: IncomingMessage,
  limit: number,
): Promise<{ body?: unknown; error?: [number, string] }> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) return { error: [413, `request body exceeds ${limit} bytes`] };
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { error: [400, 'request body is empty; expected a JSON-RPC message'] };
  try {
    return { body: JSON.parse(text) };
  } catch {
    return { error: [400, 'request body is not valid JSON'] };
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * Streamable HTTP at /mcp: Host and Origin checks on every request (DNS rebinding),
 * a bearer token on every request, and one MCP server instance per session, bound
 * to the principal that opened it.
 */
export async function serveHttp(opts: HttpOptions): Promise<HttpHandle> {
  const sessions = new Map<string, Session>();
  const limit = opts.maxBodyBytes ?? 4 * 1024 * 1024;
  const idleMs = opts.sessionIdleMs ?? 30 * 60_000;
  const maxMs = opts.sessionMaxMs ?? 12 * 3600_000;
  const perPrincipal = opts.sessionsPerPrincipal ?? 16;
  const clock = opts.now ?? Date.now;
  const closeSession = (id: string, why: string) => {
    const s = sessions.get(id);
    if (!s) return;
    sessions.delete(id);
    opts.logger.debug({ principal: s.principal.id, why }, 'HTTP session closed');
    void s.transport.close().catch(() => {});
    void s.server.close().catch(() => {});
  };
  const sweep = () => {
    const now = clock();
    for (const [id, s] of sessions) {
      if (now - s.lastUsed >= idleMs) closeSession(id, 'idle');
      else if (now - s.opened >= maxMs) closeSession(id, 'expired');
    }
  };
  const sweeper = setInterval(sweep, Math.max(1000, Math.min(60_000, idleMs / 4)));
  sweeper.unref();
  /** The session for a request: it must exist, be live, and belong to exactly this principal. */
  const sessionFor = (sid: string, principal: Principal, res: ServerResponse): Session | null => {
    const s = sessions.get(sid);
    const now = clock();
    if (s && (now - s.lastUsed >= idleMs || now - s.opened >= maxMs)) {
      closeSession(sid, now - s.opened >= maxMs ? 'expired' : 'idle');
    }
    const live = sessions.get(sid);
    if (!live) {
      rpcError(res, 404, -32001, 'Session not found or expired; initialize a new session');
      return null;
    }
    if (live.binding !== bindingOf(principal)) {
      rpcError(
        res,
        403,
        -32000,
        'Forbidden: this session was opened with other credentials (principal or role)',
      );
      return null;
    }
    live.lastUsed = now;
    return live;
  };
  let allowedHosts = new Set<string>();
  let allowedOrigins = new Set<string>();

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowedHosts.has(host)) {
      return rpcError(res, 403, -32000, `Forbidden: Host header "${host.slice(0, 100)}" is not allowed`);
    }
    const origin = req.headers.origin;
    if (origin !== undefined && !allowedOrigins.has(origin.toLowerCase())) {
      return rpcError(res, 403, -32000, 'Forbidden: Origin is not allowed');
    }
    if (opts.routes && (await opts.routes(req, res, url))) return;
    if (url.pathname !== '/mcp') {
      return sendJson(res, 404, { error: 'not found; the MCP endpoint is /mcp' });
    }
    if (opts.foreignCredentials?.(req)) {
      return rpcError(
        res,
        403,
        -32000,
        'Forbidden: the console session cookie is not an MCP credential; send a bearer token',
      );
    }
    let principal: Principal | null = null;
    if (opts.authenticate) {
      const auth = req.headers.authorization ?? '';
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      const challenge = { 'www-authenticate': 'Bearer realm="attest"' };
      if (!m)
        return rpcError(res, 401, -32001, 'Unauthorized: send Authorization: Bearer <token>', challenge);
      const who = opts.authenticate(m[1]!);
      if ('error' in who) {
        return rpcError(res, 401, -32001, `Unauthorized: ${who.error}`, {
          'www-authenticate': `Bearer realm="attest", error="invalid_token"`,
        });
      }
      principal = who;
    } else {
      principal = { id: 'anonymous-loopback', role: 'admin', reviewer_ids: [] };
    }

    const sessionId = req.headers['mcp-session-id'];
    const sid = Array.isArray(sessionId) ? sessionId[0] : sessionId;
    try {
      if (req.method === 'POST') {
        const parsed = await readBody(req, limit);
        if (parsed.error) {
          opts.onRefused?.(principal, `HTTP ${parsed.error[0]}: ${parsed.error[1]}`);
          return rpcError(res, parsed.error[0], -32700, `Parse error: ${parsed.error[1]}`);
        }
        if (sid) {
          const s = sessionFor(sid, principal, res);
          if (!s) return;
          return await s.transport.handleRequest(req, res, parsed.body);
        }
        if (!isInitializeRequest(parsed.body)) {
          return rpcError(
            res,
            400,
            -32000,
            'Bad Request: no Mcp-Session-Id header; the first request must be initialize',
          );
        }
        let id: string | null = null;
        const transport = new StreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: (newId) => {
            id = newId;
            const who = principal!;
            const binding = bindingOf(who);
            // A principal holding too many sessions loses its least recently used one.
            const own = [...sessions.entries()].filter(([, s]) => s.principal.id === who.id);
            if (own.length >= perPrincipal) {
              own.sort((a, b) => a[1].lastUsed - b[1].lastUsed);
              for (const [oldId] of own.slice(0, own.length - perPrincipal + 1))
                closeSession(oldId, 'too many sessions');
            }
            const t = clock();
            sessions.set(newId, { transport, server, principal: who, binding, opened: t, lastUsed: t });
          },
          onsessionclosed: (closedId) => {
            sessions.delete(closedId);
          },
        });
        transport.onclose = () => {
          if (id) sessions.delete(id);
        };
        const server = opts.createSession(principal, () => id);
        await server.connect(transport);
        return await transport.handleRequest(req, res, parsed.body);
      }
      if (req.method === 'GET' || req.method === 'DELETE') {
        if (!sid) return rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
        const s = sessionFor(sid, principal, res);
        if (!s) return;
        return await s.transport.handleRequest(req, res);
      }
      res.writeHead(405, { allow: 'GET, POST, DELETE' }).end();
    } catch (e) {
      opts.logger.error({ err: e }, 'HTTP request failed');
      rpcError(res, 500, -32603, 'Internal error');
    }
  };

  const server = createHttpServer((req, res) => {
    handler(req, res).catch((e) => {
      opts.logger.error({ err: e }, 'HTTP handler crashed');
      if (!res.headersSent) rpcError(res, 500, -32603, 'Internal error');
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const hostNames = LOOPBACK.has(opts.host) ? ['127.0.0.1', 'localhost', '[::1]'] : [opts.host];
  allowedHosts = new Set([
    ...hostNames.map((h) => `${h}:${port}`),
    ...opts.allowedHosts.map((h) => h.toLowerCase()),
  ]);
  allowedOrigins = new Set([
    ...hostNames.flatMap((h) => [`http://${h}:${port}`, `https://${h}:${port}`]),
    ...opts.allowedOrigins.map((o) => o.toLowerCase()),
  ]);
  const displayHost = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return {
    server,
    port,
    url: `http://${displayHost}:${port}/mcp`,
    sessionCount: () => sessions.size,
    close: async () => {
      clearInterval(sweeper);
      for (const s of sessions.values()) await s.transport.close().catch(() => {});
      sessions.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}
