/**
 * A loopback Ping Identity emulator over HTTP, for connector tests, the end-to-end tests and
 * the sync benchmark (see ../shared/reference/ping.md §D). One origin serves both surfaces:
 *
 * - PingOne: the Worker app token endpoint `POST /{env}/as/token` (client credentials by HTTP
 *   Basic or in the form, as the app's token auth method says), and `/v1/environments/{env}/…`:
 *   cursor-paged collections (`limit` 1–1000, `_links.next.href` absolute with `cursor`, no
 *   `next` on the last page, optionally fewer than asked), P1Error bodies `{id, code, message,
 *   details}`, the audit endpoint's required `recordedAt` range and its lower rate limit,
 *   membership and role removals (204; 404 when gone; 400 for dynamic and external groups),
 *   group creation (`POST /groups`: a unique name, and a `userFilter` parsed as SCIM, values
 *   JSON strings, and evaluated over the users; INVALID_DATA with details when not).
 * - Advanced Identity Cloud: the JWT bearer token endpoint `POST /am/oauth2/access_token`
 *   (RS256 assertion verified: iss = sub = the service account, aud = the token URL, fresh
 *   jti, short exp; scopes granted), and `/iga/governance/…`: certifications, item searches
 *   with `targetFilter` and 0-based `pageNumber` answering `{result, totalCount}`, single and
 *   bulk certify / revoke / exception, comments.
 *
 * Test hooks: `injectFault` (429 / 503 with Retry-After, 500), `revokeCredentialAfter`,
 * `forbid` (403 for a route), the request log `requests`, and the mutable `tenant`.
 */
import { generateKeyPairSync, type KeyObject, randomBytes, randomUUID, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type EmuCertification,
  type EmuItem,
  type EmuTemplate,
  type PingTenant,
  uuid,
} from './ping-tenant.js';

export * from './ping-tenant.js';

export interface RequestLogEntry {
  seq: number;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  /** How the request authenticated. */
  auth: 'basic' | 'form' | 'assertion' | 'bearer' | 'none';
  body: unknown;
}

export interface PingFault {
  status: 429 | 500 | 503;
  /** Let this many matching requests through first (default 0). */
  after?: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Only requests whose path contains this (default: every request but the token endpoints). */
  path?: string;
  method?: string;
  /** Retry-After seconds on 429 and 503 (default 1). */
  retryAfter?: number;
}

export interface PingEmulatorOptions {
  tenant: PingTenant;
  /** The Worker app's token endpoint auth method (default: both accepted). */
  tokenAuth?: 'basic' | 'post' | 'both';
  /** Access token lifetime in seconds (default 3600). */
  tokenTtl?: number;
  /** Pages hold at most this many items, whatever `limit` asks (PingOne may return fewer). */
  maxPageSize?: number;
  /** Audit requests allowed per second before a 429 (default: no limit). */
  auditRatePerSecond?: number;
  /** Scopes granted to the service account (default fr:iga:* fr:idm:*). */
  scopes?: string[];
  /** Revoke and exception need a comment (default true). */
  requireComment?: boolean;
  /** PingOne Authorize (application roles) licensed (default true). */
  authorize?: boolean;
}

export interface PingEmulator {
  url: string;
  tenant: PingTenant;
  clientId: string;
  clientSecret: string;
  serviceAccountId: string;
  /** The service account's private key, as a JWK (JSON) and as PKCS#8 PEM. */
  serviceAccountJwk: string;
  serviceAccountPem: string;
  requests: RequestLogEntry[];
  injectFault(fault: PingFault): void;
  /** Lets `n` more requests through, then refuses both credentials and every token issued. */
  revokeCredentialAfter(n: number): void;
  /** Answers 403 to a route by name (e.g. `groups`, `activities`, `applicationRoles`, `certifications`). */
  forbid(route: string): void;
  /** How `POST /certification` (run a template) answers: the new certification (default) or an empty body. */
  setRunAnswer(mode: 'certification' | 'empty'): void;
  clearLog(): void;
  close(): Promise<void>;
}

class Fail extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
  }
}
const fail = (status: number, code: string, message: string, details?: unknown[]): never => {
  throw new Fail(status, code, message, details);
};

/** A targetFilter condition over an item, as the AIC admin UI builds them. */
function matches(item: EmuItem, f: unknown): boolean {
  if (f === null || f === undefined) return true;
  const { operator, operand } = f as { operator?: string; operand?: unknown };
  const value = (path: string): unknown =>
    path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], item);
  switch (operator) {
    case 'AND':
      return (operand as unknown[]).every((x) => matches(item, x));
    case 'OR':
      return (operand as unknown[]).some((x) => matches(item, x));
    case 'NOT':
      return !(operand as unknown[]).every((x) => matches(item, x));
    case 'EXISTS':
      return value((operand as { targetName: string }).targetName) !== undefined;
    case 'EQUALS': {
      const o = operand as { targetName: string; targetValue: unknown };
      return value(o.targetName) === o.targetValue;
    }
    case 'IN': {
      const o = operand as { targetName: string; targetValue: unknown[] };
      return o.targetValue.includes(value(o.targetName));
    }
    default:
      return fail(400, 'Bad Request', `unsupported targetFilter operator ${String(operator)}`);
  }
}

/** One service-account key pair per process: RSA key generation is slow, and every emulator's key is its own test's. */
let keys: { privateKey: KeyObject; publicKey: KeyObject } | null = null;

export async function startPingEmulator(options: PingEmulatorOptions): Promise<PingEmulator> {
  const t = options.tenant;
  const clientId = '6d1c5b1e-7a7e-4c0b-9d3b-9a0e5c1f2a77';
  const clientSecret = `p1-secret-${randomBytes(12).toString('hex')}`;
  const serviceAccountId = 'f1e2d3c4-b5a6-4798-8a9b-0c1d2e3f4a5b';
  keys ??= generateKeyPairSync('rsa', { modulusLength: 2048 });
  const { privateKey, publicKey } = keys;
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: 'sa-key-1' };
  const tokens = new Map<string, { surface: 'pingone' | 'aic'; until: number; scopes: string[] }>();
  const jtis = new Set<string>();
  const faults: Array<Required<Omit<PingFault, 'path' | 'method'>> & Pick<PingFault, 'path' | 'method'>> = [];
  const forbidden = new Set<string>();
  const requests: RequestLogEntry[] = [];
  const auditTimes: number[] = [];
  let revokeIn: number | null = null;
  let revoked = false;
  let seq = 0;
  const granted = options.scopes ?? ['fr:iga:*', 'fr:idm:*'];
  let origin = '';

  const issue = (surface: 'pingone' | 'aic', scopes: string[]) => {
    const token = randomBytes(24).toString('base64url');
    const ttl = options.tokenTtl ?? 3600;
    tokens.set(token, { surface, until: Date.now() + ttl * 1000, scopes });
    return {
      access_token: token,
      token_type: 'Bearer',
      expires_in: ttl,
      ...(surface === 'aic' ? { scope: scopes.join(' ') } : {}),
    };
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', origin);
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const entry: RequestLogEntry = {
      seq: ++seq,
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      auth: 'none',
      body: null,
    };
    requests.push(entry);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      const text = body === null ? '' : JSON.stringify(body);
      res.writeHead(status, { ...(text ? { 'content-type': 'application/json' } : {}), ...headers });
      res.end(text);
    };
    try {
      const body =
        raw === ''
          ? null
          : req.headers['content-type']?.includes('json')
            ? JSON.parse(raw)
            : Object.fromEntries(new URLSearchParams(raw));
      entry.body = body;
      if (revokeIn !== null && --revokeIn < 0) {
        revoked = true;
        tokens.clear();
        revokeIn = null;
      }
      const isToken = url.pathname.endsWith('/as/token') || url.pathname === '/am/oauth2/access_token';
      const fault = faults.find(
        (f) =>
          (f.path ? url.pathname.includes(f.path) : !isToken) &&
          (!f.method || f.method === req.method) &&
          f.after-- <= 0,
      );
      if (fault) {
        if (--fault.times <= 0) faults.splice(faults.indexOf(fault), 1);
        const headers: Record<string, string> =
          fault.status === 500 ? {} : { 'retry-after': String(fault.retryAfter) };
        const code = fault.status === 429 ? 'REQUEST_LIMITED' : 'UNEXPECTED_ERROR';
        return send(
          fault.status,
          { id: uuid(Math.random), code, message: `Emulated ${fault.status}.` },
          headers,
        );
      }
      const r = await route(req.method ?? 'GET', url, req, body, entry);
      if (r === undefined) return send(204, null);
      return send(r.status ?? 200, r.body, r.headers);
    } catch (e) {
      if (e instanceof Fail) {
        if (url.pathname.startsWith('/iga/'))
          return send(e.status, { code: e.status, reason: e.code, message: e.message });
        if (url.pathname.endsWith('/as/token') || url.pathname === '/am/oauth2/access_token')
          return send(e.status, { error: e.code, error_description: e.message });
        return send(e.status, {
          id: uuid(Math.random),
          code: e.code,
          message: e.message,
          ...(e.details ? { details: e.details } : {}),
        });
      }
      return send(500, {
        id: uuid(Math.random),
        code: 'UNEXPECTED_ERROR',
        message: String((e as Error).message),
      });
    }
  }

  type Answer = { status?: number; body: unknown; headers?: Record<string, string> } | undefined;

  async function route(
    method: string,
    url: URL,
    req: IncomingMessage,
    body: unknown,
    entry: RequestLogEntry,
  ): Promise<Answer> {
    const p = url.pathname;
    if (method === 'POST' && p === `/${t.envId}/as/token`) return pingoneToken(req, body, entry);
    if (method === 'POST' && p === '/am/oauth2/access_token') return aicToken(body, entry);
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const tok = bearer ? tokens.get(bearer) : undefined;
    entry.auth = bearer ? 'bearer' : 'none';
    const base = `/v1/environments/${t.envId}`;
    const valid = (surface: 'pingone' | 'aic') =>
      tok !== undefined && tok.surface === surface && tok.until >= Date.now() && !revoked;
    if (p.startsWith(base)) {
      if (!valid('pingone'))
        fail(
          401,
          'INVALID_TOKEN',
          'The request could not be completed. The access token is invalid or expired.',
        );
      return directory(method, p.slice(base.length), url, body);
    }
    if (p.startsWith('/iga/governance/')) {
      if (!valid('aic')) fail(401, 'Unauthorized', 'Access token is invalid or expired');
      if (!tok!.scopes.some((s) => s === 'fr:iga:*' || s.startsWith('fr:iga:')))
        fail(403, 'Forbidden', 'Insufficient scope');
      return governance(method, p.slice('/iga/governance'.length), url, body);
    }
    return fail(404, 'NOT_FOUND', 'The requested resource was not found.');
  }

  function pingoneToken(req: IncomingMessage, body: unknown, entry: RequestLogEntry): Answer {
    const form = (body ?? {}) as Record<string, string>;
    const basic = /^Basic (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    let id: string | undefined;
    let secret: string | undefined;
    const mode = options.tokenAuth ?? 'both';
    if (basic) {
      entry.auth = 'basic';
      const [a, b] = Buffer.from(basic, 'base64').toString('utf8').split(':');
      id = decodeURIComponent(a ?? '');
      secret = decodeURIComponent(b ?? '');
      if (mode === 'post')
        fail(401, 'invalid_client', 'Unsupported authentication method. Please use client_secret_post.');
    } else if (form.client_secret) {
      entry.auth = 'form';
      id = form.client_id;
      secret = form.client_secret;
      if (mode === 'basic')
        fail(401, 'invalid_client', 'Unsupported authentication method. Please use client_secret_basic.');
    }
    if (form.grant_type !== 'client_credentials')
      fail(400, 'unsupported_grant_type', 'Only client_credentials is supported.');
    if (revoked || id !== clientId || secret !== clientSecret)
      fail(401, 'invalid_client', 'Request denied: Invalid client credentials (Correlation ID: x).');
    return { body: issue('pingone', []) };
  }

  function aicToken(body: unknown, entry: RequestLogEntry): Answer {
    entry.auth = 'assertion';
    const form = (body ?? {}) as Record<string, string>;
    if (form.grant_type !== 'urn:ietf:params:oauth:grant-type:jwt-bearer')
      fail(400, 'unsupported_grant_type', 'Grant type is not supported.');
    if (form.client_id !== 'service-account')
      fail(400, 'invalid_client', 'client_id must be service-account.');
    const parts = (form.assertion ?? '').split('.');
    if (parts.length !== 3) fail(400, 'invalid_grant', 'Malformed assertion.');
    const [h, c, s] = parts as [string, string, string];
    const head = JSON.parse(Buffer.from(h, 'base64url').toString()) as { alg?: string };
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as Record<string, unknown>;
    if (
      head.alg !== 'RS256' ||
      !verify('sha256', Buffer.from(`${h}.${c}`), publicKey as KeyObject, Buffer.from(s, 'base64url'))
    )
      fail(400, 'invalid_grant', 'JWT signature is invalid.');
    const now = Date.now() / 1000;
    if (claims.iss !== serviceAccountId || claims.sub !== serviceAccountId)
      fail(400, 'invalid_grant', 'Unknown issuer.');
    if (claims.aud !== `${origin}/am/oauth2/access_token`) fail(400, 'invalid_grant', 'Invalid audience.');
    const exp = Number(claims.exp);
    if (!(exp > now) || exp > now + 15 * 60) fail(400, 'invalid_grant', 'exp must be in the near future.');
    if (typeof claims.jti !== 'string' || jtis.has(claims.jti))
      fail(400, 'invalid_grant', 'jti was used before.');
    jtis.add(claims.jti as string);
    if (revoked) fail(400, 'invalid_grant', 'The service account is inactive or its key was revoked.');
    const scopes = (form.scope ?? '').split(' ').filter(Boolean);
    if (scopes.some((x) => !granted.includes(x))) fail(400, 'invalid_scope', 'Unknown/invalid scope(s).');
    return { body: issue('aic', scopes) };
  }

  function page(url: URL, items: unknown[], key: string): Answer {
    const limit = Number(url.searchParams.get('limit') ?? '100');
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000)
      fail(
        400,
        'INVALID_DATA',
        'The request could not be completed. One or more validation errors were in the request.',
        [{ code: 'INVALID_VALUE', target: 'limit', message: 'limit must be between 1 and 1000' }],
      );
    const size = Math.min(limit, options.maxPageSize ?? limit);
    const cursor = url.searchParams.get('cursor');
    let offset = 0;
    if (cursor !== null) {
      offset = Number(Buffer.from(cursor, 'base64url').toString());
      if (!Number.isInteger(offset) || offset < 0) fail(400, 'INVALID_DATA', 'Invalid cursor.');
    }
    const slice = items.slice(offset, offset + size);
    const self = `${origin}${url.pathname}${url.search}`;
    const links: Record<string, { href: string }> = { self: { href: self } };
    if (offset + size < items.length) {
      const next = new URL(self);
      next.searchParams.set('cursor', Buffer.from(String(offset + size)).toString('base64url'));
      next.searchParams.set('limit', String(limit));
      links.next = { href: next.toString() };
    }
    return { body: { _links: links, _embedded: { [key]: slice }, count: items.length, size: slice.length } };
  }

  const guard = (name: string) => {
    if (forbidden.has(name))
      fail(
        403,
        'ACCESS_FAILED',
        'The request could not be completed. You do not have access to this resource.',
      );
  };

  type Handler = (m: RegExpExecArray, url: URL, body: unknown) => Answer;
  const dispatch = (
    table: Array<[string, RegExp, Handler]>,
    method: string,
    p: string,
    url: URL,
    body: unknown,
  ) => {
    for (const [verb, re, handler] of table) {
      if (verb !== method) continue;
      const m = re.exec(p);
      if (m) return handler(m, url, body);
    }
    return fail(404, 'NOT_FOUND', 'The requested resource was not found.');
  };
  const user = (id: string) => t.user(id) ?? fail(404, 'NOT_FOUND', 'Unable to find user.');
  const group = (id: string) => t.group(id) ?? fail(404, 'NOT_FOUND', 'Unable to find group.');
  const list =
    (name: string, key: string, items: () => unknown[]): Handler =>
    (_m, url) => {
      guard(name);
      return page(url, items(), key);
    };
  const invalid = (target: string, message: string, code = 'INVALID_VALUE'): never =>
    fail(
      400,
      'INVALID_DATA',
      'The request could not be completed. One or more validation errors were in the request.',
      [{ code, target, message }],
    );
  /**
   * A SCIM user filter: `attr eq "value"` clauses, bare or parenthesised, joined by `and`; values
   * are JSON strings (a quote inside is written \"), so a stray quote ends the value and what
   * follows must parse. A predicate over users, or null when the filter does not parse.
   */
  function parseUserFilter(filter: string): ((u: Record<string, unknown>) => boolean) | null {
    const clause = /^\(?([A-Za-z][\w.]*) eq ("(?:[^"\\]|\\["\\/bfnrt]|\\u[0-9a-fA-F]{4})*")\)?/;
    const tests: Array<(u: Record<string, unknown>) => boolean> = [];
    let rest = filter.trim();
    for (;;) {
      const m = clause.exec(rest);
      if (!m) return null;
      const open = m[0].startsWith('(');
      if (open !== m[0].endsWith(')')) return null;
      let value: string;
      try {
        // JSON.parse refuses a raw control character inside the string, as SCIM's grammar does.
        value = JSON.parse(m[2]!) as string;
      } catch {
        return null;
      }
      const path = m[1]!;
      tests.push((u) => {
        const v = path
          .split('.')
          .reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], u);
        return typeof v === 'string' && v.toLowerCase() === value.toLowerCase();
      });
      rest = rest.slice(m[0].length).trim();
      if (rest === '') break;
      const join = /^and\s+/i.exec(rest);
      if (!join) return null;
      rest = rest.slice(join[0].length);
    }
    return (u) => tests.every((t) => t(u));
  }
  function createGroup(body: unknown): Answer {
    guard('groups');
    const v = (body ?? {}) as Record<string, unknown>;
    if (typeof v.name !== 'string' || v.name.trim() === '') invalid('name', 'name is required');
    if (t.groups.some((g) => g.name === v.name))
      invalid('name', 'A group with this name already exists.', 'UNIQUENESS_VIOLATION');
    let match: ((u: Record<string, unknown>) => boolean) | null = null;
    if (v.userFilter !== undefined && v.userFilter !== null) {
      if (typeof v.userFilter !== 'string') invalid('userFilter', 'userFilter must be a string');
      match = parseUserFilter(v.userFilter as string);
      if (!match) invalid('userFilter', 'userFilter is not a valid SCIM filter');
    }
    const g = {
      id: randomUUID(),
      name: v.name as string,
      ...(typeof v.description === 'string' ? { description: v.description } : {}),
      userFilter: (v.userFilter as string | undefined) ?? null,
      sourceType: null,
    };
    t.groups.push(g);
    t.members.set(g.id, new Set());
    // PingOne evaluates the filter itself; here at once.
    if (match)
      for (const u of t.users) if (match(u as unknown as Record<string, unknown>)) t.addMember(g.id, u.id);
    return { status: 201, body: { ...g, environment: { id: t.envId } } };
  }
  const DIRECTORY: Array<[string, RegExp, Handler]> = [
    ['POST', /^\/groups$/, (_m, _url, body) => createGroup(body)],
    ['GET', /^\/populations$/, list('populations', 'populations', () => t.populations)],
    ['GET', /^\/roles$/, list('roles', 'roles', () => t.roles)],
    ['GET', /^\/applications$/, list('applications', 'applications', () => t.apps)],
    ['GET', /^\/groups$/, list('groups', 'groups', () => t.groups)],
    [
      'GET',
      /^\/groups\/([^/]+)$/,
      (m) => {
        guard('groups');
        return { body: group(m[1]!) };
      },
    ],
    [
      'GET',
      /^\/groups\/([^/]+)\/memberOfGroups$/,
      (m, url) => {
        guard('groups');
        group(m[1]!);
        return page(
          url,
          [...(t.nesting.get(m[1]!) ?? [])].map((id) => ({ id, type: 'DIRECT' })),
          'groupMemberships',
        );
      },
    ],
    [
      'GET',
      /^\/groups\/([^/]+)\/roleAssignments$/,
      (m, url) => {
        guard('roleAssignments');
        group(m[1]!);
        return page(url, t.groupRoles.get(m[1]!) ?? [], 'roleAssignments');
      },
    ],
    [
      'GET',
      /^\/users$/,
      (_m, url) => {
        guard('users');
        const inGroup = /memberOfGroups\[id eq "([^"]+)"\]/.exec(url.searchParams.get('filter') ?? '');
        return page(url, inGroup ? t.users.filter((u) => t.isMember(inGroup[1]!, u.id)) : t.users, 'users');
      },
    ],
    [
      'GET',
      /^\/users\/([^/]+)$/,
      (m) => {
        guard('users');
        return { body: user(m[1]!) };
      },
    ],
    [
      'GET',
      /^\/users\/([^/]+)\/memberOfGroups$/,
      (m, url) => {
        guard('memberships');
        user(m[1]!);
        const items = [...t.membershipsOf(m[1]!)].sort().map(([id, direct]) => ({
          id,
          name: t.group(id)?.name,
          type: direct ? 'DIRECT' : 'INDIRECT',
          environment: { id: t.envId },
        }));
        return page(url, items, 'groupMemberships');
      },
    ],
    [
      'POST',
      /^\/users\/([^/]+)\/memberOfGroups$/,
      (m, _url, body) => {
        user(m[1]!);
        const g = group(String((body as { id?: unknown } | null)?.id ?? ''));
        t.addMember(g.id, m[1]!);
        return { status: 201, body: { id: g.id, name: g.name, type: 'DIRECT' } };
      },
    ],
    [
      'DELETE',
      /^\/users\/([^/]+)\/memberOfGroups\/([^/]+)$/,
      (m) => {
        guard('removeMembership');
        user(m[1]!);
        const g = group(m[2]!);
        if (g.userFilter || g.sourceType)
          fail(
            400,
            'INVALID_DATA',
            'The request could not be completed. One or more validation errors were in the request.',
            [
              {
                code: 'INVALID_VALUE',
                target: 'id',
                message: 'Membership of this group cannot be changed directly.',
              },
            ],
          );
        if (!t.members.get(g.id)?.has(m[1]!)) fail(404, 'NOT_FOUND', 'Unable to find group membership.');
        t.removeMember(g.id, m[1]!);
        t.removals.push({ kind: 'membership', userId: m[1]!, id: g.id });
        return undefined;
      },
    ],
    [
      'GET',
      /^\/users\/([^/]+)\/roleAssignments$/,
      (m, url) => {
        guard('roleAssignments');
        user(m[1]!);
        return page(url, t.userRoles.get(m[1]!) ?? [], 'roleAssignments');
      },
    ],
    [
      'DELETE',
      /^\/users\/([^/]+)\/roleAssignments\/([^/]+)$/,
      (m) => {
        user(m[1]!);
        const held = t.userRoles.get(m[1]!) ?? [];
        const a =
          held.find((x) => x.id === m[2]) ?? fail(404, 'NOT_FOUND', 'Unable to find role assignment.');
        if (a.readOnly) fail(403, 'ACCESS_FAILED', 'Role assignment is read only for this actor.');
        t.userRoles.set(
          m[1]!,
          held.filter((x) => x !== a),
        );
        t.removals.push({ kind: 'role', userId: m[1]!, id: a.id });
        return undefined;
      },
    ],
    [
      'DELETE',
      /^\/users\/([^/]+)\/applicationRoles\/([^/]+)$/,
      (m) => {
        user(m[1]!);
        if (!t.appRoleUsers.get(m[2]!)?.delete(m[1]!))
          fail(404, 'NOT_FOUND', 'Unable to find application role assignment.');
        t.removals.push({ kind: 'appRole', userId: m[1]!, id: m[2]! });
        return undefined;
      },
    ],
    [
      'GET',
      /^\/applicationRoles$/,
      (_m, url) => {
        if (options.authorize === false) fail(403, 'ACCESS_FAILED', 'Not licensed for PingOne Authorize.');
        return page(url, t.appRoles, 'applicationRoles');
      },
    ],
    [
      'GET',
      /^\/applicationRoles\/([^/]+)\/users$/,
      (m, url) => {
        const set = t.appRoleUsers.get(m[1]!) ?? fail(404, 'NOT_FOUND', 'Unable to find application role.');
        const expand = url.searchParams.get('expand') === 'user';
        const items = [...set]
          .sort()
          .map((id) => ({ id: `${m[1]}:${id}`, ...(expand ? { _embedded: { user: { id } } } : {}) }));
        return page(url, items, 'users');
      },
    ],
    [
      'GET',
      /^\/activities$/,
      (_m, url) => {
        guard('activities');
        const limit = options.auditRatePerSecond;
        if (limit !== undefined) {
          const now = Date.now();
          while (auditTimes.length > 0 && auditTimes[0]! < now - 1000) auditTimes.shift();
          if (auditTimes.length >= limit)
            return {
              status: 429,
              body: { id: uuid(Math.random), code: 'REQUEST_LIMITED', message: 'Too many audit requests.' },
              headers: { 'retry-after': '1' },
            };
          auditTimes.push(now);
        }
        return page(url, activities(url.searchParams.get('filter') ?? ''), 'activities');
      },
    ],
  ];

  function directory(method: string, p: string, url: URL, body: unknown): Answer {
    return dispatch(DIRECTORY, method, p, url, body);
  }

  function activities(filter: string) {
    const clauses = filter.split(/\s+and\s+/i);
    const range: Array<(at: string) => boolean> = [];
    let type: string | null = null;
    for (const c of clauses) {
      const r = /^\(?\s*recordedat\s+(gt|ge|lt|le)\s+"([^"]+)"\s*\)?$/i.exec(c.trim());
      const a = /^\(?\s*action\.type\s+eq\s+"([^"]+)"\s*\)?$/i.exec(c.trim());
      if (r) {
        const v = new Date(r[2]!).toISOString();
        const op = r[1]!.toLowerCase();
        range.push((at) => (op === 'gt' ? at > v : op === 'ge' ? at >= v : op === 'lt' ? at < v : at <= v));
      } else if (a) type = a[1]!;
      else fail(400, 'INVALID_FILTER', `The filter is not supported: ${c.slice(0, 60)}`);
    }
    if (range.length < 2) fail(400, 'INVALID_FILTER', 'The filter must include a recordedAt range.');
    return t.activities.filter(
      (e) => range.every((f) => f(e.recordedAt)) && (type === null || e.action.type === type),
    );
  }

  const itemOut = (i: EmuItem) => {
    const { certId: _c, ...rest } = i;
    return rest;
  };
  const cert = (id: string) => t.cert(id) ?? fail(404, 'Not Found', 'Certification not found');
  const paged = (url: URL, all: unknown[]) => {
    const pageNumber = Number(url.searchParams.get('pageNumber') ?? '0');
    const pageSize = Number(url.searchParams.get('pageSize') ?? '10');
    return {
      body: { result: all.slice(pageNumber * pageSize, (pageNumber + 1) * pageSize), totalCount: all.length },
    };
  };
  const act = (
    certId: string,
    ids: string[],
    action: string,
    comment: string | undefined,
    via: 'single' | 'bulk',
  ) => {
    const c = cert(certId);
    if (c.status !== 'in-progress') fail(400, 'Bad Request', 'Certification is not active');
    const items = ids.map(
      (id) =>
        t.item(certId, id) ??
        fail(
          via === 'bulk' ? 400 : 404,
          via === 'bulk' ? 'Bad Request' : 'Not Found',
          `Item ${id} not found`,
        ),
    );
    if (action === 'comment') {
      for (const i of items) t.comments.push({ certId, itemId: i.id, comment: String(comment ?? '') });
      return;
    }
    if ((action === 'revoke' || action === 'exception') && (options.requireComment ?? true) && !comment)
      fail(400, 'Bad Request', 'A comment is required');
    if (action === 'exception' && c.allowExceptions === false)
      fail(400, 'Bad Request', 'Exceptions are not allowed');
    for (const i of items) {
      const d = i.decision?.certification.decision;
      if (d && d !== action) fail(400, 'Bad Request', `Item ${i.id} already has a decision`);
    }
    for (const i of items) {
      const cur = i.decision?.certification ?? { status: 'in-progress', comments: [] };
      i.decision = {
        certification: {
          ...cur,
          decision: action as 'certify' | 'revoke' | 'exception',
          decisionDate: new Date().toISOString(),
          decisionBy: { id: `managed/user/${serviceAccountId}`, userName: 'service-account', mail: '' },
          status: 'complete',
          comments: comment
            ? [...cur.comments, { action, comment, timeStamp: new Date().toISOString() }]
            : cur.comments,
        },
      };
      t.decisionWrites.push({
        certId,
        itemId: i.id,
        decision: action as 'certify',
        comment: comment ?? null,
        via,
      });
    }
  };
  const commentOf = (body: unknown) => {
    const c = (body as { comment?: unknown } | null)?.comment;
    return typeof c === 'string' ? c : undefined;
  };
  const GOVERNANCE: Array<[string, RegExp, Handler]> = [
    [
      'GET',
      /^\/admin\/certification$/,
      (_m, url) => {
        guard('certifications');
        const status = url.searchParams.get('status') ?? 'active';
        const want = status === 'active' ? 'in-progress' : status === 'closed' ? 'signed-off' : status;
        return paged(
          url,
          t.certifications.filter((c) => c.status === want),
        );
      },
    ],
    [
      'POST',
      /^\/certification\/([^/]+)\/items\/search$/,
      (m, url, body) => {
        cert(m[1]!);
        const filter = (body as { targetFilter?: unknown } | null)?.targetFilter;
        const all = (t.items.get(m[1]!) ?? [])
          .filter((i) => matches(i, filter))
          .sort((a, b) => a.id.localeCompare(b.id));
        return paged(url, all.map(itemOut));
      },
    ],
    [
      'GET',
      /^\/certification\/([^/]+)\/items\/([^/]+)$/,
      (m) => {
        cert(m[1]!);
        return { body: itemOut(t.item(m[1]!, m[2]!) ?? fail(404, 'Not Found', 'Item not found')) };
      },
    ],
    [
      'POST',
      /^\/certification\/([^/]+)\/items\/([^/]+)\/(certify|revoke|exception|comment)$/,
      (m, _url, body) => {
        act(m[1]!, [m[2]!], m[3]!, commentOf(body), 'single');
        return { body: {} };
      },
    ],
    [
      'POST',
      /^\/certification\/([^/]+)\/items\/(certify|revoke|exception)$/,
      (m, _url, body) => {
        const ids = (body as { ids?: unknown } | null)?.ids;
        if (!Array.isArray(ids) || ids.length === 0) fail(400, 'Bad Request', 'ids is required');
        act(m[1]!, ids as string[], m[2]!, commentOf(body), 'bulk');
        return { body: {} };
      },
    ],
  ];

  /** A targetFilter clause over one object: ALL, AND, OR, NOT and EQUALS/IN on a field (`id`, `name`). */
  const passes = (f: unknown, obj: Record<string, unknown> | undefined): boolean => {
    const x = f as { operator?: string; operand?: unknown } | null | undefined;
    if (!x || x.operator === 'ALL') return true;
    if (!obj) return false;
    const ops = Array.isArray(x.operand) ? x.operand : [];
    const leaf = (x.operand ?? {}) as { targetName?: string; targetValue?: unknown };
    switch (x.operator) {
      case 'AND':
        return ops.every((o) => passes(o, obj));
      case 'OR':
        return ops.some((o) => passes(o, obj));
      case 'NOT':
        return !ops.every((o) => passes(o, obj));
      case 'EQUALS':
        return obj[leaf.targetName ?? ''] === leaf.targetValue;
      case 'IN':
        return Array.isArray(leaf.targetValue) && leaf.targetValue.includes(obj[leaf.targetName ?? '']);
      default:
        return false;
    }
  };
  const FILTER_OPERATORS = new Set(['ALL', 'AND', 'OR', 'NOT', 'EQUALS', 'IN', 'CONTAINS', 'EXISTS', 'LT']);
  const badFilter = (f: unknown, at: string): string | null => {
    const x = f as { operator?: unknown; operand?: unknown } | null;
    if (!x || typeof x !== 'object' || typeof x.operator !== 'string' || !FILTER_OPERATORS.has(x.operator))
      return `${at}: operator must be one of ${[...FILTER_OPERATORS].join(', ')}`;
    if (['AND', 'OR', 'NOT'].includes(x.operator)) {
      if (!Array.isArray(x.operand) || x.operand.length === 0)
        return `${at}: operand must be a non-empty array`;
      for (const [k, o] of x.operand.entries()) {
        const e = badFilter(o, `${at}.operand[${k}]`);
        if (e) return e;
      }
    } else if (x.operator !== 'ALL') {
      const leaf = x.operand as { targetName?: unknown } | null;
      if (!leaf || typeof leaf.targetName !== 'string') return `${at}: operand.targetName is required`;
    }
    return null;
  };
  const CERTIFIERS: Record<string, string[]> = {
    identity: ['user', 'authzGroup', 'manager', 'organization', 'custom'],
    entitlement: ['user', 'authzGroup', 'entitlementOwner'],
    roleMembership: ['user', 'authzGroup', 'roleOwner'],
    entitlementComposition: ['user', 'authzGroup', 'entitlementOwner', 'custom'],
  };
  const GRANTS = new Set(['accountGrant', 'entitlementGrant', 'roleMembership', 'entitlement']);
  const knownUserRef = (v: unknown) =>
    typeof v === 'string' && t.aicUsers.some((u) => v === `managed/user/${u.id}`);
  /** Why AIC would refuse this template (400 `{code, reason, message}`), or null. */
  const templateError = (b: Record<string, unknown>): string | null => {
    if (typeof b.name !== 'string' || b.name.trim() === '') return 'name is required';
    const type = b.certificationType;
    if (typeof type !== 'string' || !(type in CERTIFIERS))
      return `certificationType must be one of ${Object.keys(CERTIFIERS).join(', ')}`;
    if (typeof b.description !== 'string') return 'description must be a string';
    if (!Number.isInteger(b.stageDuration) || (b.stageDuration as number) < 1)
      return 'stageDuration must be a positive number of days';
    if (!knownUserRef(b.ownerId)) return 'ownerId must reference an existing user (managed/user/<id>)';
    const stages = b.stages;
    if (!Array.isArray(stages) || stages.length === 0) return 'stages must hold at least one stage';
    for (const [k, st] of stages.entries()) {
      const c = st as { certifierType?: unknown; certifierId?: unknown };
      if (typeof c.certifierType !== 'string' || !CERTIFIERS[type]!.includes(c.certifierType))
        return `stages[${k}].certifierType must be one of ${CERTIFIERS[type]!.join(', ')} for a ${type} certification`;
      if (c.certifierType === 'user' && !knownUserRef(c.certifierId))
        return `stages[${k}].certifierId must reference an existing user`;
    }
    if (b.defaultCertifierId != null && !knownUserRef(b.defaultCertifierId))
      return 'defaultCertifierId must reference an existing user';
    const tf = b.targetFilter as Record<string, unknown> | null;
    if (!tf || typeof tf !== 'object') return 'targetFilter is required';
    if (!Array.isArray(tf.type) || tf.type.length === 0 || tf.type.some((g) => !GRANTS.has(String(g))))
      return `targetFilter.type must list grant types (${[...GRANTS].join(', ')})`;
    for (const key of ['user', 'application', 'entitlement', 'role', 'account', 'decision'])
      if (tf[key] !== undefined) {
        const e = badFilter(tf[key], `targetFilter.${key}`);
        if (e) return e;
      }
    if (tf.user === undefined) return 'targetFilter.user is required';
    return null;
  };
  /** Every grant the tenant's items show (one per user and access), the source of a new certification's items. */
  const grants = () => {
    const out = new Map<string, EmuItem>();
    for (const list of t.items.values())
      for (const i of list) {
        const key = `${i.user.id}|${i.entitlement?.id ?? ''}|${i.role?.id ?? ''}|${i.application?.id ?? ''}`;
        if (!out.has(key)) out.set(key, i);
      }
    return [...out.values()];
  };
  let runAnswer: 'certification' | 'empty' = 'certification';
  const runTemplate = (tpl: EmuTemplate): EmuCertification => {
    const b = tpl.body as { stageDuration: number; targetFilter: Record<string, unknown> };
    const tf = b.targetFilter;
    const types = tf.type as string[];
    const now = Date.now();
    const c: EmuCertification = {
      id: randomUUID(),
      name: tpl.name,
      description: tpl.description,
      status: 'in-progress',
      certificationType: tpl.certificationType,
      deadline: new Date(now + b.stageDuration * 86_400_000).toISOString(),
      startDate: new Date(now).toISOString(),
      templateId: tpl.id,
    };
    const items = grants()
      .filter((g) => passes(tf.user, g.user as unknown as Record<string, unknown>))
      .filter((g) =>
        g.role
          ? types.includes('roleMembership') && passes(tf.role, g.role)
          : g.entitlement
            ? types.includes('entitlementGrant') && passes(tf.entitlement, g.entitlement)
            : types.includes('accountGrant') && passes(tf.application, g.application),
      )
      .map(
        (g): EmuItem => ({
          ...g,
          id: randomUUID(),
          certId: c.id,
          decision: { certification: { status: 'in-progress', comments: [] } },
        }),
      );
    t.certifications.push(c);
    t.items.set(c.id, items);
    tpl.status = 'active';
    return c;
  };
  GOVERNANCE.push(
    [
      'GET',
      /^\/certification\/template$/,
      (_m, url) => {
        const q = (url.searchParams.get('queryString') ?? '').toLowerCase();
        const pageNumber = Number(url.searchParams.get('pageNumber') ?? '0');
        const asked = Number(url.searchParams.get('pageSize') ?? '10');
        const size = Math.min(asked, options.maxPageSize ?? asked);
        const all = t.templates
          .filter((x) => x.name.toLowerCase().includes(q))
          .sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id))
          .map((x) => ({ ...x.body, id: x.id, status: x.status }));
        return {
          body: { result: all.slice(pageNumber * size, (pageNumber + 1) * size), totalHits: all.length },
        };
      },
    ],
    [
      'POST',
      /^\/certification\/template$/,
      (_m, _url, body) => {
        const b = (body ?? {}) as Record<string, unknown>;
        const error = templateError(b);
        if (error) fail(400, 'Bad Request', `Invalid certification template: ${error}`);
        const tpl: EmuTemplate = {
          id: randomUUID(),
          name: b.name as string,
          description: b.description as string,
          status: 'pending',
          certificationType: b.certificationType as string,
          body: b,
        };
        t.templates.push(tpl);
        return { body: { ...b, id: tpl.id, status: tpl.status } };
      },
    ],
    [
      'POST',
      /^\/certification$/,
      (_m, _url, body) => {
        const id = (body as { templateId?: unknown } | null)?.templateId;
        if (typeof id !== 'string' || id === '') fail(400, 'Bad Request', 'templateId is required');
        const tpl =
          t.templates.find((x) => x.id === id) ?? fail(404, 'Not Found', `Template ${id} not found`);
        const made = runTemplate(tpl);
        return { body: runAnswer === 'empty' ? {} : made };
      },
    ],
  );

  function governance(method: string, p: string, url: URL, body: unknown): Answer {
    return dispatch(GOVERNANCE, method, p, url, body);
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: origin,
    tenant: t,
    clientId,
    clientSecret,
    serviceAccountId,
    serviceAccountJwk: JSON.stringify(jwk),
    serviceAccountPem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(),
    requests,
    injectFault: (f) => faults.push({ after: 0, times: 1, retryAfter: 1, ...f }),
    revokeCredentialAfter: (n) => {
      revokeIn = n;
    },
    forbid: (name) => forbidden.add(name),
    setRunAnswer: (mode) => {
      runAnswer = mode;
    },
    clearLog: () => {
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
