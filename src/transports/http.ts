import { randomUUID } from 'node:crypto';
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { NodeStreamableHTTPServerTransport, toNodeHandler } from '@modelcontextprotocol/node';
import {
  type AuthInfo,
  classifyInboundRequest,
  createMcpHandler,
  getOAuthProtectedResourceMetadataUrl,
  isInitializeRequest,
  type McpServer,
  type WebStandardStreamableHTTPServerTransport,
} from '@modelcontextprotocol/server';
import type { Logger } from 'pino';
import type { Principal } from '../domain/principal.js';

/** Credentials refused: 401 invalid token (or none), 403 insufficient scope, 503 the IdP is unreachable. */
export interface AuthFailure {
  error: string;
  status?: 401 | 403 | 503;
  code?: 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable';
  /** For 403: the scopes that would be enough. */
  scope?: string;
}

/** OAuth 2.1 resource server: what the protected-resource metadata (RFC 9728) says. */
export interface ProtectedResource {
  /** This server's resource URL (RFC 8707); default the URL it serves. */
  resource?: string;
  authorizationServers: string[];
  scopesSupported: string[];
}

/** A 2025-11-25 session as every replica sees it (times in ms since the epoch). */
export interface SessionRecord {
  id: string;
  principal: string;
  binding: string;
  /** The client's initialize parameters. */
  init: unknown;
  opened: number;
  lastUsed: number;
}

/**
 * Where sessions live so that any replica serves any session: a replica that has not seen a
 * session rebuilds it from its record; one closed by DELETE on any replica ends everywhere.
 */
export interface SessionStore {
  /** Records a new session; the principal's least recently used beyond `perPrincipal` end. */
  open(r: SessionRecord, perPrincipal: number): Promise<void>;
  find(id: string): Promise<SessionRecord | null>;
  touch(id: string, at: number): Promise<void>;
  close(id: string): Promise<void>;
  prune(idleBefore: number, openedBefore: number): Promise<number>;
}

export interface HttpOptions {
  host: string;
  port: number;
  allowedOrigins: string[];
  allowedHosts: string[];
  /**
   * Maps a bearer token to a principal; `resource` is this server's resource URL (the
   * audience a JWT must name). Null means authentication is off (loopback fixtures only).
   */
  authenticate:
    | ((
        token: string,
        context: { resource: string },
      ) => Principal | AuthFailure | Promise<Principal | AuthFailure>)
    | null;
  /** When set, protected-resource metadata is served and every challenge points to it. */
  protectedResource?: ProtectedResource | null;
  /**
   * Builds a fresh MCP server: for a new 2025-11-25 session, or for one 2026-07-28 request
   * (then `sessionId` is always null).
   */
  createSession: (principal: Principal, sessionId: () => string | null) => McpServer;
  logger: Logger;
  maxBodyBytes?: number;
  /** A session idle this long is closed (default 30 minutes). */
  sessionIdleMs?: number;
  /** A session is closed this long after it opened, however busy (default 12 hours). */
  sessionMaxMs?: number;
  /** Open sessions per principal; one more closes that principal's least recently used (default 16). */
  sessionsPerPrincipal?: number;
  /** Sessions shared with the other replicas (the store's); without it they live in this process. */
  sessionStore?: SessionStore | null;
  /** Called for a request refused after authentication (a body that is not JSON), so it can be audited. */
  onRefused?: (principal: Principal, reason: string) => void;
  /**
   * Called for a 2026-07-28 request the SDK's entry refuses before any server instance sees
   * it (an unsupported version, a bad envelope, a missing capability), so it can be audited.
   */
  onProtocolRefusal?: (
    principal: Principal,
    request: { method: string; params: unknown },
    error: { code: number; message: string },
  ) => void;
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
  transport: NodeStreamableHTTPServerTransport;
  server: McpServer;
  principal: Principal;
  /** The principal's identity and rights when the session opened: a request must match all of it. */
  binding: string;
  opened: number;
  lastUsed: number;
  /** When this process last moved the stored record's last use. */
  lastStored: number;
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

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A quoted RFC 6750 auth-param value. */
function quoted(v: string): string {
  return `"${v.replace(/["\\\r\n]/g, ' ')}"`;
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);
const PRINCIPAL = Symbol('attest.principal');

/**
 * Streamable HTTP at /mcp for both protocol eras: Host and Origin checks on every request
 * (DNS rebinding) and a bearer token on every request; 2025-11-25 clients get one MCP
 * server instance per session, bound to the principal that opened it; 2026-07-28 requests
 * (stateless, per-request `_meta`) are each served by a fresh instance through the SDK's
 * entry. With OAuth on, the protected-resource metadata (RFC 9728) is served and every
 * 401/403 challenge points to it.
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
  const stored = opts.sessionStore ?? null;
  // A replica writes a session's last use at most this often, so a busy session costs one
  // read per request and a write per interval; another replica may see it idle that much early.
  const touchMs = Math.max(1, Math.min(60_000, idleMs / 10));
  const sweep = () => {
    const now = clock();
    for (const [id, s] of sessions) {
      if (now - s.lastUsed >= idleMs) closeSession(id, 'idle');
      else if (now - s.opened >= maxMs) closeSession(id, 'expired');
    }
    // The fleet's expired sessions: whichever replica sweeps first removes them.
    stored?.prune(now - idleMs, now - maxMs).catch((e) => {
      opts.logger.warn({ err: e }, 'HTTP session sweep failed');
    });
  };
  const sweeper = setInterval(sweep, Math.max(1000, Math.min(60_000, idleMs / 4)));
  sweeper.unref();
  /** Keeps this process's sessions of one principal within the cap (the least recently used go). */
  const capLocal = (principalId: string) => {
    const own = [...sessions.entries()].filter(([, s]) => s.principal.id === principalId);
    if (own.length < perPrincipal) return;
    own.sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [oldId] of own.slice(0, own.length - perPrincipal + 1))
      closeSession(oldId, 'too many sessions');
  };
  /**
   * Another replica's session, rebuilt here from its record: a fresh server instance for the
   * same principal, initialized by replaying the client's initialize parameters (the SDK has
   * no public way to restore a session, so the replay goes through its Web-standard
   * transport; a test checks it on every SDK upgrade).
   */
  const rebuild = async (rec: SessionRecord, principal: Principal): Promise<Session> => {
    const transport = new NodeStreamableHTTPServerTransport({
      sessionIdGenerator: () => rec.id,
      onsessionclosed: (closedId) => {
        sessions.delete(closedId);
        return stored?.close(closedId);
      },
    });
    const server = opts.createSession(principal, () => rec.id);
    await server.connect(transport);
    const web = (transport as unknown as { _webStandardTransport?: WebStandardStreamableHTTPServerTransport })
      ._webStandardTransport;
    if (!web) throw new Error('this MCP SDK version offers no way to rebuild a session');
    const replay = async (body: unknown, headers: Record<string, string> = {}) => {
      const r = await web.handleRequest(
        new Request('http://replica.invalid/mcp', {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
          },
          body: JSON.stringify(body),
        }),
      );
      await r.text();
      if (r.status >= 400) throw new Error(`rebuilding session ${rec.id} failed with HTTP ${r.status}`);
    };
    await replay({ jsonrpc: '2.0', id: 'attest-rebuild', method: 'initialize', params: rec.init });
    await replay({ jsonrpc: '2.0', method: 'notifications/initialized' }, { 'mcp-session-id': rec.id });
    capLocal(principal.id);
    const s: Session = {
      transport,
      server,
      principal,
      binding: rec.binding,
      opened: rec.opened,
      lastUsed: clock(),
      // As stored, so this request's use is written when it is due.
      lastStored: rec.lastUsed,
    };
    transport.onclose = () => {
      if (sessions.get(rec.id) === s) sessions.delete(rec.id);
    };
    sessions.set(rec.id, s);
    opts.logger.debug({ principal: principal.id }, 'HTTP session rebuilt from the store');
    return s;
  };
  const notFound = (res: ServerResponse) => {
    rpcError(res, 404, -32001, 'Session not found or expired; initialize a new session');
    return null;
  };
  const forbidden = (res: ServerResponse) => {
    rpcError(
      res,
      403,
      -32000,
      'Forbidden: this session was opened with other credentials (principal or role)',
    );
    return null;
  };
  /** The session for a request: it must exist, be live, and belong to exactly this principal. */
  const sessionFor = async (
    sid: string,
    principal: Principal,
    res: ServerResponse,
  ): Promise<Session | null> => {
    const s = sessions.get(sid);
    const now = clock();
    if (s && (now - s.lastUsed >= idleMs || now - s.opened >= maxMs)) {
      closeSession(sid, now - s.opened >= maxMs ? 'expired' : 'idle');
    }
    let live = sessions.get(sid);
    if (stored) {
      // The store decides: a session closed or expired on any replica ends here too.
      const rec = await stored.find(sid);
      if (!rec) {
        if (live) closeSession(sid, 'closed by another replica');
        return notFound(res);
      }
      if (now - Math.max(rec.lastUsed, live?.lastUsed ?? 0) >= idleMs || now - rec.opened >= maxMs) {
        if (live) closeSession(sid, 'expired');
        await stored.close(sid);
        return notFound(res);
      }
      if (rec.binding !== bindingOf(principal)) return forbidden(res);
      live ??= await rebuild(rec, principal);
    }
    if (!live) return notFound(res);
    if (live.binding !== bindingOf(principal)) return forbidden(res);
    live.lastUsed = now;
    if (stored && now - live.lastStored >= touchMs) {
      live.lastStored = now;
      await stored.touch(sid, now);
    }
    return live;
  };

  // 2026-07-28: one server instance per request, for the principal its authInfo carries. The
  // entry answers some malformed requests before any instance exists; those are audited here.
  const served = new WeakSet<AuthInfo>();
  const modern = createMcpHandler(
    ({ authInfo }) => {
      const principal = (authInfo as (AuthInfo & { [PRINCIPAL]?: Principal }) | undefined)?.[PRINCIPAL];
      if (!principal || !authInfo)
        throw new Error('a 2026-07-28 request reached the entry without a principal');
      served.add(authInfo);
      return opts.createSession(principal, () => null);
    },
    {
      legacy: 'reject',
      maxRequestBodySize: limit,
      onerror: (e) => opts.logger.debug({ err: e.message }, '2026-07-28 request refused or failed'),
    },
  );
  const modernNode = toNodeHandler(
    {
      fetch: async (request, options) => {
        const response = await modern.fetch(request, options);
        const authInfo = options?.authInfo as (AuthInfo & { [PRINCIPAL]?: Principal }) | undefined;
        if (authInfo && !served.has(authInfo) && response.status >= 400) {
          await auditEntryRefusal(response, authInfo[PRINCIPAL]!, options?.parsedBody);
        }
        return response;
      },
    },
    { maxRequestBodySize: limit, onerror: (e) => opts.logger.error({ err: e }, 'HTTP request failed') },
  );
  const auditEntryRefusal = async (response: Response, principal: Principal, body: unknown) => {
    if (!opts.onProtocolRefusal) return;
    let error = { code: 0, message: `HTTP ${response.status}` };
    try {
      const parsed = (await response.clone().json()) as { error?: { code?: unknown; message?: unknown } };
      if (typeof parsed.error?.code === 'number') {
        error = { code: parsed.error.code, message: String(parsed.error.message ?? '') };
      }
    } catch {
      // Not a JSON-RPC error body: the status says enough.
    }
    const m = body as { method?: unknown; params?: unknown } | undefined;
    opts.onProtocolRefusal(
      principal,
      { method: typeof m?.method === 'string' ? m.method : 'unknown', params: m?.params ?? null },
      error,
    );
  };

  let allowedHosts = new Set<string>();
  let allowedOrigins = new Set<string>();
  let resource = '';
  let metadataPaths = new Set<string>();
  let resourceMetadataUrl = '';

  const challenge = (failure?: AuthFailure): string => {
    const parts = ['realm="attest"'];
    if (resourceMetadataUrl) parts.push(`resource_metadata=${quoted(resourceMetadataUrl)}`);
    if (failure?.code && failure.code !== 'temporarily_unavailable')
      parts.push(`error=${quoted(failure.code)}`);
    if (failure?.error) parts.push(`error_description=${quoted(failure.error)}`);
    const scope =
      failure?.scope ?? (!failure ? opts.protectedResource?.scopesSupported.join(' ') : undefined);
    if (scope) parts.push(`scope=${quoted(scope)}`);
    return `Bearer ${parts.join(', ')}`;
  };

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://placeholder');
    const host = (req.headers.host ?? '').toLowerCase();
    if (!allowedHosts.has(host)) {
      return rpcError(res, 403, -32000, `Forbidden: Host header "${host.slice(0, 100)}" is not allowed`);
    }
    // The metadata is public (clients read it before they hold a token), from any origin.
    if (opts.protectedResource && metadataPaths.has(url.pathname)) {
      const cors = { 'access-control-allow-origin': '*', 'access-control-allow-methods': 'GET, OPTIONS' };
      if (req.method === 'OPTIONS') return void res.writeHead(204, cors).end();
      if (req.method !== 'GET') return void res.writeHead(405, { allow: 'GET, OPTIONS', ...cors }).end();
      return sendJson(
        res,
        200,
        {
          resource,
          authorization_servers: opts.protectedResource.authorizationServers,
          scopes_supported: opts.protectedResource.scopesSupported,
          bearer_methods_supported: ['header'],
          resource_name: 'Attest access reviews',
        },
        { ...cors, 'cache-control': 'max-age=300' },
      );
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
      if (!m) {
        return rpcError(res, 401, -32001, 'Unauthorized: send Authorization: Bearer <token>', {
          'www-authenticate': challenge(),
        });
      }
      const who = await opts.authenticate(m[1]!, { resource });
      if ('error' in who) {
        const status = who.status ?? 401;
        const failure = {
          ...who,
          code: who.code ?? (status === 403 ? 'insufficient_scope' : 'invalid_token'),
        };
        return rpcError(
          res,
          status,
          status === 503 ? -32603 : -32001,
          `${status === 403 ? 'Forbidden' : status === 503 ? 'Unavailable' : 'Unauthorized'}: ${who.error}`,
          status === 503 ? { 'retry-after': '30' } : { 'www-authenticate': challenge(failure) },
        );
      }
      principal = who;
    } else {
      principal = { id: 'anonymous-loopback', role: 'admin', reviewer_ids: [] };
    }

    const sid = header(req, 'mcp-session-id');
    try {
      if (req.method === 'POST') {
        const parsed = await readBody(req, limit);
        if (parsed.error) {
          opts.onRefused?.(principal, `HTTP ${parsed.error[0]}: ${parsed.error[1]}`);
          return rpcError(res, parsed.error[0], -32700, `Parse error: ${parsed.error[1]}`);
        }
        const era = classifyInboundRequest({
          httpMethod: 'POST',
          protocolVersionHeader: header(req, 'mcp-protocol-version'),
          mcpMethodHeader: header(req, 'mcp-method'),
          body: parsed.body,
        });
        if (era.kind !== 'legacy') {
          // The token never travels further: the instance sees only the principal it stands for.
          const authInfo: AuthInfo & { [PRINCIPAL]?: Principal } = {
            token: '[verified]',
            clientId: principal.id,
            scopes: [],
            [PRINCIPAL]: principal,
          };
          (req as IncomingMessage & { auth?: AuthInfo }).auth = authInfo;
          return await modernNode(req, res, parsed.body);
        }
        if (sid) {
          const s = await sessionFor(sid, principal, res);
          if (!s) return;
          return await s.transport.handleRequest(req, res, parsed.body);
        }
        if (!isInitializeRequest(parsed.body)) {
          return rpcError(
            res,
            400,
            -32000,
            'Bad Request: no Mcp-Session-Id header; the first request must be initialize (or send a 2026-07-28 request with its _meta)',
          );
        }
        let id: string | null = null;
        const init = (parsed.body as { params?: unknown }).params ?? {};
        const transport = new NodeStreamableHTTPServerTransport({
          sessionIdGenerator: () => randomUUID(),
          onsessioninitialized: async (newId) => {
            id = newId;
            const who = principal!;
            const binding = bindingOf(who);
            // A principal holding too many sessions loses its least recently used one.
            capLocal(who.id);
            const t = clock();
            await stored?.open(
              { id: newId, principal: who.id, binding, init, opened: t, lastUsed: t },
              perPrincipal,
            );
            sessions.set(newId, {
              transport,
              server,
              principal: who,
              binding,
              opened: t,
              lastUsed: t,
              lastStored: t,
            });
          },
          onsessionclosed: (closedId) => {
            sessions.delete(closedId);
            return stored?.close(closedId);
          },
        });
        transport.onclose = () => {
          if (id && sessions.get(id)?.transport === transport) sessions.delete(id);
        };
        const server = opts.createSession(principal, () => id);
        await server.connect(transport);
        return await transport.handleRequest(req, res, parsed.body);
      }
      if (req.method === 'GET' || req.method === 'DELETE') {
        if (!sid) return rpcError(res, 400, -32000, 'Bad Request: Mcp-Session-Id header is required');
        const s = await sessionFor(sid, principal, res);
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
  const servedUrl = `http://${displayHost}:${port}/mcp`;
  resource = opts.protectedResource?.resource ?? servedUrl;
  if (opts.protectedResource) {
    resourceMetadataUrl = getOAuthProtectedResourceMetadataUrl(new URL(resource));
    // The path-aware location (RFC 9728 §3.1) and the root one some clients try first.
    metadataPaths = new Set([new URL(resourceMetadataUrl).pathname, '/.well-known/oauth-protected-resource']);
  }
  return {
    server,
    port,
    url: servedUrl,
    sessionCount: () => sessions.size,
    close: async () => {
      clearInterval(sweeper);
      for (const s of sessions.values()) await s.transport.close().catch(() => {});
      sessions.clear();
      await modern.close().catch(() => {});
      await new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
    },
  };
}
