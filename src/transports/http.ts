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
}

export interface HttpHandle {
  server: Server;
  url: string;
  port: number;
  close: () => Promise<void>;
}

interface Session {
  transport: StreamableHTTPServerTransport;
  server: McpServer;
  principal: Principal;
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
    if (url.pathname !== '/mcp') {
      return sendJson(res, 404, { error: 'not found; the MCP endpoint is /mcp' });
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
        if (parsed.error) return rpcError(res, parsed.error[0], -32700, `Parse error: ${parsed.error[1]}`);
        if (sid) {
          const s = sessions.get(sid);
          if (!s) return rpcError(res, 404, -32001, 'Session not found; initialize a new session');
          if (s.principal.id !== principal.id)
            return rpcError(res, 403, -32000, 'Forbidden: session belongs to another principal');
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
            sessions.set(newId, { transport, server, principal: principal! });
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
        const s = sessions.get(sid);
        if (!s) return rpcError(res, 404, -32001, 'Session not found');
        if (s.principal.id !== principal.id)
          return rpcError(res, 403, -32000, 'Forbidden: session belongs to another principal');
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
    close: async () => {
      for (const s of sessions.values()) await s.transport.close().catch(() => {});
      sessions.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}
