/**
 * A loopback Microsoft Entra tenant behind Microsoft Graph v1.0, for connector tests, the
 * end-to-end test and the sync benchmark. It speaks what the real
 * `@microsoft/microsoft-graph-client` expects (see ../shared/reference/entra.md §7):
 * HTTPS with the test certificate (tls.ts), `/v1.0/...` routes, `{value, @odata.nextLink}`
 * collections whose absolute next links repeat every query parameter, `$skip` paging on
 * access reviews, `$top` caps (500 with signInActivity), `$select` honoured, `$count`
 * refused without `ConsistencyLevel: eventual` (on every page), delta queries with
 * `@removed` (and `$deltatoken=latest`), Graph error bodies, 204 writes, and the
 * client-credentials token endpoint (client secret or certificate assertion). Writes for
 * confirmed changes: access review definitions (POST, validated, an instance with decisions
 * made at once), security groups with a dynamic membership rule (parsed and evaluated
 * against the users; a quote ends a value, so an injected clause changes the rule as it
 * would in Entra), `$filter=mailNickname eq '…'` on groups, and app role assignments to
 * groups; validation failures answer in Graph's error body.
 *
 * Test hooks: `injectFault` (429 / 503 with Retry-After, 500), `revokeCredentialAfter`,
 * `expireDeltaLinks`, per-app `permissions`, the request log `requests`, and the mutable
 * tenant `tenant` (entra-tenant.ts).
 */
import { createHash, createPublicKey, randomBytes, randomUUID, verify, X509Certificate } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  type EmuDecision,
  type EmuGroup,
  type EmuUser,
  type EntraTenant,
  generateEntraTenant,
  INTEGRATED_APP_TAG,
  ZERO_GUID,
} from './entra-tenant.js';
import { emulatorTls } from './tls.js';

export * from './entra-tenant.js';

/** Every application permission the connector may ask for. */
export const ALL_PERMISSIONS = [
  'User.Read.All',
  'GroupMember.Read.All',
  'Application.Read.All',
  'RoleManagement.Read.Directory',
  'RoleEligibilitySchedule.Read.Directory',
  'AuditLog.Read.All',
  'Directory.Read.All',
  'AccessReview.Read.All',
  'AccessReview.ReadWrite.All',
  'GroupMember.ReadWrite.All',
  'AppRoleAssignment.ReadWrite.All',
  'RoleManagement.ReadWrite.Directory',
  'Group.ReadWrite.All',
];

export interface EmuApp {
  clientId: string;
  /** The client secret accepted (absent: certificate only). */
  secret?: string;
  /** A certificate (PEM) whose key signs client assertions. */
  certificate?: string;
  /** Application permissions granted to the app (default all). */
  permissions?: string[];
  displayName?: string;
}

export interface RequestLogEntry {
  seq: number;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
  consistencyLevel: string | null;
  retryAttempt: number | null;
  auth: 'bearer' | 'none';
  /** The JSON body sent, for writes. */
  body: unknown;
}

export interface GraphFault {
  status: 429 | 500 | 503;
  /** Let this many matching requests through first (default 0). */
  after?: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Only requests whose path (after /v1.0) starts with this. */
  path?: string;
  method?: string;
  /** Retry-After seconds (default 1). */
  retryAfter?: number;
}

export interface EntraEmulatorOptions {
  tenant?: EntraTenant;
  apps?: EmuApp[];
  /** Caps every page below Graph's maxima, to force paging in small tenants. */
  maxPageSize?: number;
  /** Access reviews: licensed (default), 403, or 404. */
  governance?: 'enabled' | 'forbidden' | 'absent';
  /** PIM eligibility lists: readable (default), 403 (no licence). */
  pim?: 'enabled' | 'forbidden';
  /** Entra ID P1/P2: without it, selecting signInActivity is refused (403). */
  premium?: boolean;
}

export interface EntraEmulator {
  /** https://127.0.0.1:PORT: both the Graph base URL and the authority host. */
  url: string;
  tenant: EntraTenant;
  /** The default app: client id and secret. */
  clientId: string;
  clientSecret: string;
  requests: RequestLogEntry[];
  injectFault(fault: GraphFault): void;
  /** Lets `n` more requests through, then refuses the apps' credentials and every token issued. */
  revokeCredentialAfter(n: number): void;
  /** Delta links issued so far stop working (400 syncStateNotFound), as after seven days. */
  expireDeltaLinks(): void;
  setPermissions(clientId: string, permissions: string[]): void;
  /** Access review definitions created through the API: id → the body as sent. */
  reviewBodies: Map<string, Record<string, unknown>>;
  clearLog(): void;
  close(): Promise<void>;
}

class GraphFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const fail = (status: number, code: string, message: string): never => {
  throw new GraphFailure(status, code, message);
};
const notFound = (id: string): never =>
  fail(
    404,
    'Request_ResourceNotFound',
    `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
  );

/** Application permissions that allow each route; any one of them will do. */
const READ = {
  users: ['User.Read.All', 'Directory.Read.All'],
  groups: ['GroupMember.Read.All', 'Directory.Read.All'],
  apps: ['Application.Read.All', 'Directory.Read.All'],
  roles: ['RoleManagement.Read.Directory', 'Directory.Read.All'],
  pim: ['RoleEligibilitySchedule.Read.Directory', 'RoleManagement.Read.Directory'],
  reviews: ['AccessReview.Read.All', 'AccessReview.ReadWrite.All'],
};

interface Route {
  method: string;
  re: RegExp;
  name: string;
  allow: string[];
  /** All of these are needed besides one of `allow`. */
  also?: string[];
}

const AR = '/identityGovernance/accessReviews/definitions';
const ROUTES: Route[] = [
  { method: 'GET', re: /^\/users\/delta$/, name: 'usersDelta', allow: READ.users },
  { method: 'GET', re: /^\/users$/, name: 'users', allow: READ.users },
  { method: 'GET', re: /^\/users\/([^/]+)$/, name: 'user', allow: READ.users },
  { method: 'GET', re: /^\/users\/([^/]+)\/appRoleAssignments$/, name: 'userAppRoles', allow: READ.users },
  {
    method: 'GET',
    re: /^\/users\/([^/]+)\/transitiveMemberOf(?:\/microsoft\.graph\.group)?$/,
    name: 'transitiveMemberOf',
    allow: READ.groups,
  },
  {
    method: 'DELETE',
    re: /^\/users\/([^/]+)\/appRoleAssignments\/([^/]+)$/,
    name: 'deleteUserAppRole',
    allow: ['AppRoleAssignment.ReadWrite.All'],
  },
  { method: 'GET', re: /^\/groups\/delta$/, name: 'groupsDelta', allow: READ.groups },
  { method: 'GET', re: /^\/groups$/, name: 'groups', allow: READ.groups },
  { method: 'GET', re: /^\/groups\/([^/]+)$/, name: 'group', allow: READ.groups },
  { method: 'GET', re: /^\/groups\/([^/]+)\/members$/, name: 'members', allow: READ.groups },
  {
    method: 'DELETE',
    re: /^\/groups\/([^/]+)\/members\/([^/]+)\/\$ref$/,
    name: 'removeMember',
    allow: ['GroupMember.ReadWrite.All'],
  },
  {
    // Without /$ref this deletes the member object itself, as Graph does for an app allowed to.
    method: 'DELETE',
    re: /^\/groups\/([^/]+)\/members\/([^/]+)$/,
    name: 'deleteMemberObject',
    allow: ['GroupMember.ReadWrite.All'],
  },
  { method: 'GET', re: /^\/servicePrincipals$/, name: 'servicePrincipals', allow: READ.apps },
  {
    method: 'GET',
    re: /^\/servicePrincipals\/([^/]+)\/appRoleAssignedTo$/,
    name: 'appRoleAssignedTo',
    allow: READ.apps,
  },
  {
    method: 'DELETE',
    re: /^\/servicePrincipals\/([^/]+)\/appRoleAssignedTo\/([^/]+)$/,
    name: 'deleteAppRoleAssignedTo',
    allow: ['AppRoleAssignment.ReadWrite.All'],
  },
  {
    method: 'POST',
    re: /^\/servicePrincipals\/([^/]+)\/appRoleAssignedTo$/,
    name: 'assignAppRole',
    allow: ['AppRoleAssignment.ReadWrite.All'],
  },
  {
    method: 'POST',
    re: /^\/groups\/([^/]+)\/members\/\$ref$/,
    name: 'addMember',
    allow: ['GroupMember.ReadWrite.All'],
  },
  {
    method: 'POST',
    re: /^\/groups$/,
    name: 'createGroup',
    allow: ['Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  },
  {
    method: 'POST',
    re: new RegExp(`^${AR}$`),
    name: 'createDefinition',
    allow: ['AccessReview.ReadWrite.All'],
  },
  {
    method: 'GET',
    re: /^\/roleManagement\/directory\/roleDefinitions$/,
    name: 'roleDefinitions',
    allow: READ.roles,
  },
  {
    method: 'GET',
    re: /^\/roleManagement\/directory\/roleAssignments$/,
    name: 'roleAssignments',
    allow: READ.roles,
  },
  {
    method: 'DELETE',
    re: /^\/roleManagement\/directory\/roleAssignments\/([^/]+)$/,
    name: 'deleteRoleAssignment',
    allow: ['RoleManagement.ReadWrite.Directory'],
  },
  {
    method: 'GET',
    re: /^\/roleManagement\/directory\/roleEligibilityScheduleInstances$/,
    name: 'eligibilities',
    allow: READ.pim,
  },
  {
    method: 'GET',
    re: /^\/auditLogs\/signIns$/,
    name: 'signIns',
    allow: ['AuditLog.Read.All'],
    also: ['Directory.Read.All'],
  },
  { method: 'GET', re: new RegExp(`^${AR}$`), name: 'definitions', allow: READ.reviews },
  { method: 'GET', re: new RegExp(`^${AR}/([^/]+)/instances$`), name: 'instances', allow: READ.reviews },
  {
    method: 'GET',
    re: new RegExp(`^${AR}/([^/]+)/instances/([^/]+)$`),
    name: 'instance',
    allow: READ.reviews,
  },
  {
    method: 'GET',
    re: new RegExp(`^${AR}/([^/]+)/instances/([^/]+)/decisions$`),
    name: 'decisions',
    allow: READ.reviews,
  },
  {
    method: 'GET',
    re: new RegExp(`^${AR}/([^/]+)/instances/([^/]+)/stages$`),
    name: 'stages',
    allow: READ.reviews,
  },
  {
    method: 'GET',
    re: new RegExp(`^${AR}/([^/]+)/instances/([^/]+)/stages/([^/]+)/decisions$`),
    name: 'stageDecisions',
    allow: READ.reviews,
  },
  {
    method: 'GET',
    re: new RegExp(`^${AR}/([^/]+)/instances/([^/]+)/stages/([^/]+)/decisions/([^/]+)$`),
    name: 'stageDecision',
    allow: READ.reviews,
  },
  {
    method: 'GET',
    re: new RegExp(`^${AR}/([^/]+)/instances/([^/]+)/decisions/([^/]+)$`),
    name: 'decision',
    allow: READ.reviews,
  },
  {
    method: 'PATCH',
    re: new RegExp(`^${AR}/([^/]+)/instances/([^/]+)/decisions/([^/]+)$`),
    name: 'patchDecision',
    allow: ['AccessReview.ReadWrite.All'],
  },
  {
    method: 'POST',
    re: new RegExp(`^${AR}/([^/]+)/instances/([^/]+)/batchRecordDecisions$`),
    name: 'batchRecordDecisions',
    allow: ['AccessReview.ReadWrite.All'],
  },
];

/** Default and maximum `$top` per collection (Graph's documented values). */
const PAGE: Record<string, [number, number]> = {
  users: [100, 999],
  usersSignIn: [100, 500],
  groups: [100, 999],
  members: [100, 999],
  servicePrincipals: [100, 999],
  appRoleAssignedTo: [100, 999],
  roleAssignments: [100, 999],
  signIns: [1000, 1000],
  reviews: [100, 100],
  delta: [100, 200],
};

const USER_DEFAULT = [
  'businessPhones',
  'displayName',
  'givenName',
  'id',
  'jobTitle',
  'mail',
  'mobilePhone',
  'officeLocation',
  'preferredLanguage',
  'surname',
  'userPrincipalName',
];

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const unb64 = <T>(s: string): T | null => {
  try {
    return JSON.parse(Buffer.from(s, 'base64url').toString()) as T;
  } catch {
    return null;
  }
};

/** Picks the selected properties (and id, and the OData type) of an object. */
function pick(obj: Record<string, unknown>, select: string[] | null): Record<string, unknown> {
  if (select === null) return obj;
  const out: Record<string, unknown> = {};
  for (const k of ['@odata.type', 'id', ...select]) if (k in obj) out[k] = obj[k];
  return out;
}

export async function startEntraEmulator(options: EntraEmulatorOptions = {}): Promise<EntraEmulator> {
  const tls = await emulatorTls();
  const tenant = options.tenant ?? generateEntraTenant({ users: 30, assignments: 150 });
  const apps = new Map<string, EmuApp & { permissions: string[] }>();
  const defaultApp: EmuApp = {
    clientId: 'a1b2c3d4-0000-4000-8000-00000000a77e',
    secret: `emu~${randomBytes(18).toString('base64url')}`,
    displayName: 'Attest',
  };
  for (const a of [defaultApp, ...(options.apps ?? [])])
    apps.set(a.clientId, { ...a, permissions: a.permissions ?? [...ALL_PERMISSIONS] });
  const issued = new Map<string, string>(); // token → client id
  const requests: RequestLogEntry[] = [];
  const faults: Array<
    Required<Pick<GraphFault, 'status' | 'after' | 'times' | 'retryAfter'>> & GraphFault & { seen: number }
  > = [];
  let seq = 0;
  let revokeAt = Number.POSITIVE_INFINITY;
  let revoked = false;
  let deltaFloor = 0;
  let origin = '';
  const reviewBodies = new Map<string, Record<string, unknown>>();
  const governance = options.governance ?? 'enabled';
  const pim = options.pim ?? 'enabled';
  const premium = options.premium ?? true;

  const server: Server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handle(req, res, Buffer.concat(chunks).toString('utf8')));
  });

  function handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? '/', origin);
    const method = (req.method ?? 'GET').toUpperCase();
    const n = ++seq;
    let parsedBody: unknown = null;
    try {
      parsedBody = body === '' ? null : JSON.parse(body);
    } catch {
      parsedBody = body;
    }
    const entry: RequestLogEntry = {
      seq: n,
      method,
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      status: 0,
      consistencyLevel: header(req, 'consistencylevel'),
      retryAttempt: header(req, 'retry-attempt') === null ? null : Number(header(req, 'retry-attempt')),
      auth: String(req.headers.authorization ?? '').startsWith('Bearer ') ? 'bearer' : 'none',
      body: method === 'GET' || url.pathname.endsWith('/token') ? null : parsedBody,
    };
    requests.push(entry);
    const requestId = `${randomBytes(4).toString('hex')}-emu-${n}`;
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      entry.status = status;
      const h: Record<string, string> = {
        'request-id': requestId,
        'client-request-id': requestId,
        ...headers,
      };
      if (payload === undefined) {
        res.writeHead(status, h);
        res.end();
        return;
      }
      const text = JSON.stringify(payload);
      res.writeHead(status, {
        ...h,
        'Content-Type': 'application/json; odata.metadata=minimal',
        'Content-Length': String(Buffer.byteLength(text)),
      });
      res.end(text);
    };
    const graphError = (
      status: number,
      code: string,
      message: string,
      headers: Record<string, string> = {},
    ) =>
      send(
        status,
        {
          error: {
            code,
            message,
            innerError: {
              date: new Date().toISOString().slice(0, 19),
              'request-id': requestId,
              'client-request-id': requestId,
            },
          },
        },
        headers,
      );
    try {
      const path = url.pathname.replace(/^\/v1\.0/, '');
      const fault = faults.find(
        (f) => f.times > 0 && (!f.path || path.startsWith(f.path)) && (!f.method || f.method === method),
      );
      if (fault && fault.seen++ >= fault.after) {
        fault.times--;
        const after = { 'Retry-After': String(fault.retryAfter) };
        if (fault.status === 429)
          return graphError(429, 'TooManyRequests', 'Too many requests. Retry after some time.', after);
        if (fault.status === 503)
          return graphError(503, 'serviceNotAvailable', 'The service is temporarily unavailable.', after);
        return graphError(500, 'generalException', 'An unspecified error has occurred.');
      }
      if (n > revokeAt && !revoked) {
        revoked = true;
        issued.clear();
      }
      if (method === 'POST' && /^\/[^/]+\/oauth2\/v2\.0\/token$/.test(url.pathname))
        return tokenEndpoint(url, body, send);
      if (!url.pathname.startsWith('/v1.0/')) return graphError(400, 'BadRequest', 'Invalid version.');
      const token = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      const clientId = issued.get(token);
      if (!clientId)
        return graphError(
          401,
          'InvalidAuthenticationToken',
          'Access token validation failure. Invalid audience.',
        );
      const app = apps.get(clientId)!;
      const route = ROUTES.find((r) => r.method === method && r.re.test(path));
      if (!route)
        return graphError(400, 'BadRequest', `Resource not found for the segment '${path.split('/')[1]}'.`);
      if (
        !route.allow.some((p) => app.permissions.includes(p)) ||
        !(route.also ?? []).every((p) => app.permissions.includes(p))
      ) {
        return graphError(
          403,
          'Authorization_RequestDenied',
          'Insufficient privileges to complete the operation.',
        );
      }
      if (url.searchParams.get('$count') === 'true' && entry.consistencyLevel !== 'eventual') {
        return graphError(
          400,
          'Request_UnsupportedQuery',
          "The request uses a filter or count that requires the 'ConsistencyLevel: eventual' header.",
        );
      }
      const params = route.re.exec(path)!.slice(1).map(decodeURIComponent);
      const out = dispatch(route.name, params, url, parsedBody, app);
      send(out.status ?? 200, out.body);
    } catch (e) {
      if (e instanceof GraphFailure) return graphError(e.status, e.code, e.message);
      graphError(500, 'generalException', `An unspecified error has occurred: ${(e as Error).message}`);
    }
  }

  function tokenEndpoint(url: URL, body: string, send: (s: number, p: unknown) => void) {
    const form = new URLSearchParams(body);
    const err = (status: number, error: string, description: string) =>
      send(status, {
        error,
        error_description: description,
        error_codes: [Number(description.slice(5, 12)) || 0],
      });
    const tenantInPath = url.pathname.split('/')[1];
    if (tenantInPath !== tenant.tenantId)
      return err(400, 'invalid_request', `AADSTS90002: Tenant '${tenantInPath}' not found.`);
    if (form.get('grant_type') !== 'client_credentials')
      return err(400, 'unsupported_grant_type', 'AADSTS70003: The app requested an unsupported grant type.');
    const app = apps.get(form.get('client_id') ?? '');
    if (!app) return err(400, 'unauthorized_client', `AADSTS700016: Application not found in the directory.`);
    if (form.get('scope') !== `${origin}/.default`)
      return err(400, 'invalid_scope', 'AADSTS1002012: The provided value for scope is not valid.');
    if (revoked)
      return err(401, 'invalid_client', 'AADSTS7000222: The provided client credentials are expired.');
    const secret = form.get('client_secret');
    const assertion = form.get('client_assertion');
    if (secret !== null) {
      if (app.secret === undefined || secret !== app.secret)
        return err(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    } else if (assertion !== null) {
      if (form.get('client_assertion_type') !== 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer')
        return err(400, 'invalid_request', 'AADSTS50027: client_assertion_type is invalid.');
      const problem = checkAssertion(assertion, app, `${origin}/${tenant.tenantId}/oauth2/v2.0/token`);
      if (problem) return err(401, 'invalid_client', problem);
    } else {
      return err(
        401,
        'invalid_client',
        'AADSTS7000218: The request body must contain client_secret or client_assertion.',
      );
    }
    const access = randomBytes(24).toString('base64url');
    issued.set(access, app.clientId);
    send(200, { token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: access });
  }

  /** Next link: the same path and every query parameter, with the new page position. */
  function nextLink(url: URL, set: Record<string, string>): string {
    const q = new URLSearchParams(url.searchParams);
    for (const k of ['$skiptoken', '$skip', '$deltatoken']) q.delete(k);
    for (const [k, v] of Object.entries(set)) q.set(k, v);
    const parts = [...q.entries()].map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
    return `${origin}${url.pathname}?${parts.join('&')}`;
  }

  function topOf(url: URL, kind: string): number {
    const [def, max] = PAGE[kind]!;
    const asked = Number(url.searchParams.get('$top') ?? def);
    const cap = Math.min(max, options.maxPageSize ?? max);
    return Math.max(1, Math.min(cap, Number.isFinite(asked) && asked > 0 ? asked : def));
  }

  /** One page of a collection, paged with $skiptoken (directory objects) or $skip (reviews). */
  function collection<T>(
    url: URL,
    kind: string,
    items: T[],
    render: (t: T) => unknown,
    style: 'skiptoken' | 'skip' = 'skiptoken',
  ): { body: unknown } {
    const top = topOf(url, kind);
    let offset = 0;
    if (style === 'skip') offset = Number(url.searchParams.get('$skip') ?? 0) || 0;
    else {
      const t = url.searchParams.get('$skiptoken');
      if (t !== null) offset = unb64<{ o: number }>(t)?.o ?? fail(400, 'BadRequest', 'Invalid skip token.');
    }
    const page = items.slice(offset, offset + top);
    const body: Record<string, unknown> = {
      '@odata.context': `${origin}/v1.0/$metadata#${kind}`,
      value: page.map(render),
    };
    if (offset === 0 && url.searchParams.get('$count') === 'true') body['@odata.count'] = items.length;
    if (offset + top < items.length) {
      body['@odata.nextLink'] = nextLink(
        url,
        style === 'skip'
          ? { $skip: String(offset + top), $top: String(top) }
          : { $skiptoken: b64({ o: offset + top }) },
      );
    }
    return { body };
  }

  const selectOf = (url: URL) => {
    const s = url.searchParams.get('$select');
    return s === null
      ? null
      : s
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
  };

  function renderUser(
    u: EmuUser,
    select: string[] | null,
    expandManager: boolean,
    app: EmuApp & { permissions: string[] },
  ) {
    const { managerId, signInActivity, ...rest } = u;
    const all: Record<string, unknown> = {
      ...rest,
      businessPhones: [],
      givenName: u.displayName.split(' ')[0],
      surname: u.displayName.split(' ')[1] ?? null,
      mobilePhone: null,
      preferredLanguage: null,
    };
    if (select?.includes('signInActivity')) {
      if (!premium)
        fail(
          403,
          'Authentication_RequestFromNonPremiumTenantOrB2CTenant',
          "Neither tenant is B2C or tenant doesn't have premium license",
        );
      if (!app.permissions.includes('AuditLog.Read.All'))
        fail(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      all.signInActivity = signInActivity;
    }
    const out = pick(all, select ?? USER_DEFAULT);
    if (expandManager && managerId && tenant.user(managerId))
      out.manager = { '@odata.type': '#microsoft.graph.user', id: managerId };
    return out;
  }

  const renderGroup = (g: EmuGroup, select: string[] | null) =>
    pick({ '@odata.type': '#microsoft.graph.group', ...g } as Record<string, unknown>, select);

  const directoryObject = (id: string, select: string[] | null) => {
    const g = tenant.group(id);
    if (g) return renderGroup(g, select);
    const u = tenant.user(id)!;
    return pick(
      { '@odata.type': '#microsoft.graph.user', ...u } as unknown as Record<string, unknown>,
      select,
    );
  };

  function renderDecision(d: EmuDecision, expandInsights: boolean) {
    const u = tenant.user(d.principalId);
    const out: Record<string, unknown> = {
      id: d.id,
      accessReviewId: d.instanceId,
      decision: d.decision,
      recommendation: d.recommendation,
      justification: d.justification,
      reviewedDateTime: d.reviewedDateTime,
      reviewedBy: d.reviewedBy,
      appliedDateTime: null,
      appliedBy: { id: ZERO_GUID, displayName: '', userPrincipalName: '' },
      applyResult: 'New',
      principal: {
        '@odata.type': '#microsoft.graph.userIdentity',
        id: d.principalId,
        displayName: u?.displayName ?? '',
        userPrincipalName: u?.userPrincipalName ?? '',
      },
      principalLink: `${origin}/v1.0/users/${d.principalId}`,
      resource: d.resource,
      resourceLink: `${origin}/v1.0/${d.resource.type === 'group' ? 'groups' : 'servicePrincipals'}/${d.resource.id}`,
    };
    if (expandInsights) {
      out.insights = [
        {
          '@odata.type': '#microsoft.graph.userSignInInsight',
          id: ZERO_GUID,
          insightCreatedDateTime: null,
          lastSignInDateTime: d.lastSignIn,
        },
        ...(d.outlier
          ? [
              {
                '@odata.type': '#microsoft.graph.membershipOutlierInsight',
                id: `${d.id.slice(0, 8)}-outlier`,
                insightCreatedDateTime: new Date().toISOString(),
                memberId: d.principalId,
                containerId: d.resource.id,
                outlierMemberType: 'user',
                outlierContainerType: 'group',
              },
            ]
          : []),
      ];
    }
    return out;
  }

  function reviewsAvailable() {
    if (governance === 'forbidden')
      fail(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
    if (governance === 'absent')
      fail(403, 'Forbidden', 'The tenant does not have a valid Microsoft Entra ID Governance or P2 license.');
  }

  /** Users or groups changed since a delta token's version; removed ones as @removed. */
  function delta(
    url: URL,
    kind: 'user' | 'group',
    app: EmuApp & { permissions: string[] },
  ): { body: unknown } {
    const token = url.searchParams.get('$deltatoken');
    const skip = url.searchParams.get('$skiptoken');
    const select = selectOf(url);
    const path = url.pathname;
    if (token === 'latest') {
      return {
        body: {
          value: [],
          '@odata.deltaLink': `${origin}${path}?$deltatoken=${b64({ v: tenant.version, s: select })}`,
        },
      };
    }
    let state: { v: number; upto: number; o: number; s: string[] | null };
    if (skip !== null) state = unb64(skip) ?? fail(400, 'BadRequest', 'Invalid skip token.');
    else if (token !== null) {
      const t =
        unb64<{ v: number; s: string[] | null }>(token) ?? fail(400, 'BadRequest', 'Invalid delta token.');
      state = { v: t.v, upto: tenant.version, o: 0, s: t.s };
    } else state = { v: 0, upto: tenant.version, o: 0, s: select };
    if (state.v > 0 && state.v < deltaFloor)
      fail(
        400,
        'syncStateNotFound',
        'The sync state generation is not found. The delta token is expired and data must be synchronized again.',
      );
    const changes = tenant.changes.filter((c) => c.v > state.v && c.v <= state.upto);
    let items: Array<Record<string, unknown>>;
    if (kind === 'user') {
      const ids =
        state.v === 0
          ? tenant.users.map((u) => u.id)
          : [...new Set(changes.filter((c) => c.kind === 'user').map((c) => (c as { id: string }).id))];
      items = ids.map((id) => {
        const u = tenant.user(id);
        return u ? renderUser(u, state.s, false, app) : { id, '@removed': { reason: 'deleted' } };
      });
    } else {
      const touched = new Map<string, Map<string, { type: string; removed: boolean }>>();
      const removedGroups = new Set<string>();
      if (state.v === 0) {
        for (const g of tenant.groups) {
          const m = new Map<string, { type: string; removed: boolean }>();
          for (const id of tenant.members.get(g.id) ?? [])
            m.set(id, { type: tenant.group(id) ? 'group' : 'user', removed: false });
          touched.set(g.id, m);
        }
      } else {
        for (const c of changes) {
          if (c.kind === 'group') {
            if (c.removed) removedGroups.add(c.id);
            if (!touched.has(c.id)) touched.set(c.id, new Map());
          } else if (c.kind === 'member') {
            const m = touched.get(c.groupId) ?? new Map();
            m.set(c.memberId, { type: c.memberType, removed: c.removed });
            touched.set(c.groupId, m);
          }
        }
      }
      items = [...touched].map(([id, m]) => {
        const g = tenant.group(id);
        if (!g || removedGroups.has(id)) return { id, '@removed': { reason: 'deleted' } };
        const out = renderGroup(g, state.s);
        if (m.size > 0)
          out['members@delta'] = [...m].map(([mid, x]) => ({
            '@odata.type': `#microsoft.graph.${x.type}`,
            id: mid,
            ...(x.removed ? { '@removed': { reason: 'deleted' } } : {}),
          }));
        return out;
      });
    }
    const top = Math.min(PAGE.delta![1], options.maxPageSize ?? PAGE.delta![1]);
    const page = items.slice(state.o, state.o + top);
    const body: Record<string, unknown> = { value: page };
    if (state.o + top < items.length)
      body['@odata.nextLink'] = `${origin}${path}?$skiptoken=${b64({ ...state, o: state.o + top })}`;
    else body['@odata.deltaLink'] = `${origin}${path}?$deltatoken=${b64({ v: state.upto, s: state.s })}`;
    return { body };
  }

  const badRequest = (message: string): never => fail(400, 'BadRequest', message);
  const invalidProperty = (prop: string, resource: string): never =>
    fail(
      400,
      'Request_BadRequest',
      `Invalid value specified for property '${prop}' of resource '${resource}'.`,
    );

  /**
   * A dynamic membership rule: `(user.<property> -eq "<value>")` clauses joined by `and` or
   * `or` (one kind per rule here). A value runs to the next double quote (a backtick escapes
   * the next character), so a quote inside a value ends it and what follows must parse as
   * rule syntax, as in Entra. Returns a predicate over users, or null when it does not parse.
   */
  function parseRule(rule: string): ((u: EmuUser) => boolean) | null {
    const clauses: Array<[string, string]> = [];
    const joins = new Set<string>();
    let i = 0;
    const ws = () => {
      while (rule[i] === ' ') i++;
    };
    for (;;) {
      ws();
      const head = /^\(user\.([A-Za-z]+) -eq "/.exec(rule.slice(i));
      if (!head) return null;
      i += head[0].length;
      let value = '';
      while (i < rule.length && rule[i] !== '"') {
        if (rule[i] === '`') i++;
        value += rule[i] ?? '';
        i++;
      }
      if (rule[i] !== '"' || rule[i + 1] !== ')') return null;
      i += 2;
      clauses.push([head[1]!, value]);
      ws();
      if (i >= rule.length) break;
      const join = /^(and|or) /i.exec(rule.slice(i));
      if (!join) return null;
      joins.add(join[1]!.toLowerCase());
      i += join[0].length;
    }
    if (joins.size > 1) return null;
    const known = new Set([
      'department',
      'jobTitle',
      'employeeId',
      'employeeType',
      'userType',
      'city',
      'country',
      'officeLocation',
    ]);
    if (clauses.some(([p]) => !known.has(p))) return null;
    const test =
      ([p, v]: [string, string]) =>
      (u: EmuUser) =>
        String((u as unknown as Record<string, unknown>)[p] ?? '').toLowerCase() === v.toLowerCase();
    const tests = clauses.map(test);
    return joins.has('or') ? (u) => tests.some((t) => t(u)) : (u) => tests.every((t) => t(u));
  }

  function createGroup(body: unknown): EmuGroup {
    const v = (body ?? {}) as Record<string, unknown>;
    if (typeof v.displayName !== 'string' || v.displayName.trim() === '' || v.displayName.length > 256)
      invalidProperty('displayName', 'Group');
    const nick = v.mailNickname;
    if (
      typeof nick !== 'string' ||
      nick === '' ||
      nick.length > 64 ||
      /[@()\\[\]";:<>,\s]/.test(nick) ||
      /[^\x21-\x7e]/.test(nick)
    )
      invalidProperty('mailNickname', 'Group');
    if (typeof v.mailEnabled !== 'boolean') invalidProperty('mailEnabled', 'Group');
    if (typeof v.securityEnabled !== 'boolean') invalidProperty('securityEnabled', 'Group');
    const types = Array.isArray(v.groupTypes) ? (v.groupTypes as unknown[]).map(String) : [];
    if (v.mailEnabled === true && !types.includes('Unified'))
      fail(
        400,
        'Request_BadRequest',
        'Creating mail-enabled security groups is not supported through Graph.',
      );
    const dynamic = types.includes('DynamicMembership');
    let match: ((u: EmuUser) => boolean) | null = null;
    if (dynamic) {
      if (typeof v.membershipRule !== 'string' || v.membershipRule.length > 3072)
        invalidProperty('membershipRule', 'Group');
      match = parseRule(v.membershipRule as string);
      // The code and message Graph gives a rule that does not parse are unconfirmed.
      if (!match)
        fail(
          400,
          'Request_BadRequest',
          'Invalid membershipRule: the dynamic membership rule could not be parsed.',
        );
      if (!['On', 'Paused'].includes(String(v.membershipRuleProcessingState)))
        invalidProperty('membershipRuleProcessingState', 'Group');
    } else if (v.membershipRule !== undefined && v.membershipRule !== null) {
      fail(400, 'Request_BadRequest', "A membership rule needs 'DynamicMembership' in groupTypes.");
    }
    if (tenant.groups.some((g) => g.mailNickname === nick))
      fail(
        400,
        'Request_BadRequest',
        'Another object with the same value for property mailNickname already exists.',
      );
    const g: EmuGroup = {
      id: randomUUID(),
      displayName: v.displayName as string,
      description: typeof v.description === 'string' ? v.description : null,
      groupTypes: types,
      securityEnabled: v.securityEnabled as boolean,
      mailEnabled: v.mailEnabled as boolean,
      mailNickname: nick as string,
      membershipRule: dynamic ? (v.membershipRule as string) : null,
      membershipRuleProcessingState: dynamic ? String(v.membershipRuleProcessingState) : null,
      isAssignableToRole: false,
      onPremisesSyncEnabled: null,
      createdDateTime: new Date().toISOString(),
    };
    tenant.groups.push(g);
    // Entra evaluates the rule in the background; here it is evaluated at once.
    if (match && g.membershipRuleProcessingState === 'On')
      for (const u of tenant.users) if (match(u)) tenant.addMember(g.id, u.id);
    return g;
  }

  function assignAppRole(spId: string, body: unknown) {
    const sp = tenant.sp(spId) ?? notFound(spId);
    const v = (body ?? {}) as Record<string, unknown>;
    if (v.resourceId !== spId) invalidProperty('resourceId', 'AppRoleAssignment');
    const principalId = String(v.principalId ?? '');
    const user = tenant.user(principalId);
    const group = tenant.group(principalId);
    if (!user && !group) notFound(principalId);
    const appRoleId = String(v.appRoleId ?? '');
    if (appRoleId !== ZERO_GUID && !sp.appRoles.some((r) => r.id === appRoleId && r.isEnabled))
      fail(400, 'Request_BadRequest', 'Permission being assigned was not found on application.');
    if (
      tenant.appRoleAssignments.some(
        (x) => x.resourceId === spId && x.principalId === principalId && x.appRoleId === appRoleId,
      )
    )
      fail(400, 'Request_BadRequest', 'Permission being assigned already exists on the object');
    const assignment = {
      id: randomBytes(24).toString('base64url'),
      appRoleId,
      principalId,
      principalType: (group ? 'Group' : 'User') as 'Group' | 'User',
      principalDisplayName: group?.displayName ?? user!.displayName,
      resourceId: spId,
      resourceDisplayName: sp.displayName,
      createdDateTime: new Date().toISOString(),
    };
    tenant.appRoleAssignments.push(assignment);
    return { ...assignment, deletedDateTime: null };
  }

  /** Which object a scope query names: `/users/{id}`, `/groups/{id}`, `/servicePrincipals/{id}`. */
  const queried = (q: unknown, kind: 'users' | 'groups' | 'servicePrincipals'): string | null => {
    const m = new RegExp(`^/${kind}/([0-9A-Za-z-]+)$`).exec(String(q ?? ''));
    return m ? m[1]! : null;
  };

  /**
   * A definition over chosen people and resources (principalResourceMembershipsScope) or one
   * group's members (accessReviewQueryScope /groups/{id}/transitiveMembers), started at once:
   * one instance in progress with a NotReviewed decision per person and resource they hold.
   */
  function createDefinition(body: unknown) {
    const v = (body ?? {}) as Record<string, any>;
    if (typeof v.displayName !== 'string' || v.displayName.trim() === '')
      badRequest("The property 'displayName' is required.");
    const scope = v.scope ?? {};
    let principals: string[] = [];
    let resources: Array<{ id: string; type: 'group' | 'servicePrincipal' }> = [];
    if (scope['@odata.type'] === '#microsoft.graph.principalResourceMembershipsScope') {
      if (!Array.isArray(scope.principalScopes) || scope.principalScopes.length === 0)
        badRequest('principalScopes must contain at least one scope.');
      if (!Array.isArray(scope.resourceScopes) || scope.resourceScopes.length === 0)
        badRequest('resourceScopes must contain at least one scope.');
      for (const p of scope.principalScopes) {
        const id = queried(p?.query, 'users');
        if (!id || !tenant.user(id)) badRequest(`Invalid principal scope query '${String(p?.query)}'.`);
        principals.push(id!);
      }
      for (const r of scope.resourceScopes) {
        const g = queried(r?.query, 'groups');
        const sp = queried(r?.query, 'servicePrincipals');
        if (g && tenant.group(g)) resources.push({ id: g, type: 'group' });
        else if (sp && tenant.sp(sp)) resources.push({ id: sp, type: 'servicePrincipal' });
        else badRequest(`Invalid resource scope query '${String(r?.query)}'.`);
      }
    } else if (scope['@odata.type'] === '#microsoft.graph.accessReviewQueryScope') {
      const g = /^\/groups\/([0-9A-Za-z-]+)\/(?:transitiveMembers|members)$/.exec(
        String(scope.query ?? ''),
      )?.[1];
      if (!g || !tenant.group(g)) badRequest(`Invalid scope query '${String(scope.query)}'.`);
      resources = [{ id: g!, type: 'group' }];
      principals = tenant.users.filter((u) => tenant.transitiveGroupsOf(u.id).includes(g!)).map((u) => u.id);
    } else badRequest(`Invalid scope type '${String(scope['@odata.type'])}'.`);
    const checkReviewer = (r: any, what: string) => {
      const q = String(r?.query ?? '');
      if (q === './manager') {
        if (r.queryRoot !== 'decisions') badRequest(`A manager ${what} needs queryRoot 'decisions'.`);
        return;
      }
      const u = queried(q, 'users');
      if (u) {
        if (!tenant.user(u)) badRequest(`The ${what} '${u}' was not found.`);
        return;
      }
      const owners = /^\/(groups|servicePrincipals)\/([0-9A-Za-z-]+)\/owners$/.exec(q);
      if (owners && (tenant.group(owners[2]!) || tenant.sp(owners[2]!))) return;
      badRequest(`Invalid ${what} query '${q}'.`);
    };
    if (!Array.isArray(v.reviewers) || v.reviewers.length === 0)
      badRequest('At least one reviewer is required.');
    for (const r of v.reviewers) checkReviewer(r, 'reviewer');
    for (const r of v.fallbackReviewers ?? []) {
      if (String(r?.query ?? '') === './manager')
        badRequest('A fallback reviewer must be a user or a group.');
      checkReviewer(r, 'fallback reviewer');
    }
    const settings = v.settings ?? {};
    const days = settings.instanceDurationInDays;
    if (!Number.isInteger(days) || days < 1)
      badRequest('settings.instanceDurationInDays must be a positive integer.');
    const start = String(settings.recurrence?.range?.startDate ?? '');
    if (!/^\d{4}-\d{2}-\d{2}$/.test(start)) badRequest('settings.recurrence.range.startDate is required.');
    const def = {
      id: randomUUID(),
      displayName: v.displayName as string,
      status: 'InProgress',
      descriptionForAdmins: typeof v.descriptionForAdmins === 'string' ? v.descriptionForAdmins : '',
      descriptionForReviewers: typeof v.descriptionForReviewers === 'string' ? v.descriptionForReviewers : '',
      createdDateTime: new Date().toISOString(),
      scope,
      reviewers: v.reviewers,
      settings: {
        justificationRequiredOnApproval: settings.justificationRequiredOnApproval === true,
        autoApplyDecisionsEnabled: settings.autoApplyDecisionsEnabled === true,
        recommendationsEnabled: settings.recommendationsEnabled !== false,
        defaultDecisionEnabled: settings.defaultDecisionEnabled === true,
        defaultDecision: String(settings.defaultDecision ?? 'None'),
        instanceDurationInDays: days as number,
      },
      stageSettings: [],
    };
    tenant.definitions.push(def as never);
    reviewBodies.set(def.id, v);
    const startAt = `${start}T00:00:00Z`;
    const instance = {
      id: randomUUID(),
      definitionId: def.id,
      startDateTime: startAt,
      endDateTime: new Date(Date.parse(startAt) + (days as number) * 86_400_000).toISOString(),
      status: 'InProgress' as const,
    };
    tenant.instances.push(instance);
    for (const p of principals) {
      for (const r of resources) {
        const holds =
          r.type === 'group'
            ? tenant.transitiveGroupsOf(p).includes(r.id)
            : tenant.appRoleAssignments.some(
                (x) =>
                  x.resourceId === r.id &&
                  (x.principalId === p || tenant.transitiveGroupsOf(p).includes(x.principalId)),
              );
        if (!holds) continue;
        const name = r.type === 'group' ? tenant.group(r.id)!.displayName : tenant.sp(r.id)!.displayName;
        tenant.decisions.push({
          id: randomUUID(),
          instanceId: instance.id,
          decision: 'NotReviewed',
          recommendation: 'NoInfoAvailable',
          justification: '',
          reviewedDateTime: null,
          reviewedBy: { id: ZERO_GUID, displayName: '', userPrincipalName: '' },
          principalId: p,
          resource: { id: r.id, displayName: name, type: r.type },
          lastSignIn: null,
          outlier: false,
        });
      }
    }
    return def;
  }

  function dispatch(
    name: string,
    params: string[],
    url: URL,
    body: unknown,
    app: EmuApp & { permissions: string[] },
  ): { status?: number; body?: unknown } {
    const [a = '', b = '', c = '', d4 = ''] = params;
    const select = selectOf(url);
    const filter = url.searchParams.get('$filter') ?? '';
    switch (name) {
      case 'users': {
        const kind = select?.includes('signInActivity') ? 'usersSignIn' : 'users';
        const manager = /manager/.test(url.searchParams.get('$expand') ?? '');
        return collection(url, kind, tenant.users, (u) => renderUser(u, select, manager, app));
      }
      case 'usersDelta':
        return delta(url, 'user', app);
      case 'groupsDelta':
        return delta(url, 'group', app);
      case 'user':
        return { body: renderUser(tenant.user(a) ?? notFound(a), select, false, app) };
      case 'userAppRoles': {
        if (!tenant.user(a)) notFound(a);
        return collection(
          url,
          'appRoleAssignedTo',
          tenant.appRoleAssignments.filter((x) => x.principalId === a),
          (x) => x,
        );
      }
      case 'transitiveMemberOf': {
        if (!tenant.user(a)) notFound(a);
        return collection(url, 'members', tenant.transitiveGroupsOf(a), (id) =>
          renderGroup(tenant.group(id)!, select),
        );
      }
      case 'groups': {
        const nick = /^mailNickname eq '((?:[^']|'')*)'$/.exec(filter.trim());
        if (filter.trim() !== '' && !nick)
          fail(400, 'Request_UnsupportedQuery', 'Unsupported or invalid query filter clause specified.');
        const items = nick
          ? tenant.groups.filter((g) => g.mailNickname === nick[1]!.replace(/''/g, "'"))
          : tenant.groups;
        return collection(url, 'groups', items, (g) => renderGroup(g, select));
      }
      case 'addMember': {
        const g = tenant.group(a) ?? notFound(a);
        const ref = String((body as Record<string, unknown> | null)?.['@odata.id'] ?? '');
        const id = /\/directoryObjects\/([0-9A-Za-z-]+)$/.exec(ref)?.[1];
        if (!id) fail(400, 'Request_BadRequest', "Invalid value specified for property '@odata.id'.");
        if (!tenant.user(id!) && !tenant.group(id!)) notFound(id!);
        if (g.groupTypes.includes('DynamicMembership'))
          fail(
            400,
            'Request_BadRequest',
            'Insufficient privileges to complete the operation on a dynamic group.',
          );
        if (tenant.isMember(a, id!))
          fail(
            400,
            'Request_BadRequest',
            "One or more added object references already exist for the following modified properties: 'members'.",
          );
        tenant.addMember(a, id!);
        return { status: 204 };
      }
      case 'createGroup':
        return { status: 201, body: renderGroup(createGroup(body), null) };
      case 'assignAppRole':
        return { status: 201, body: assignAppRole(a, body) };
      case 'createDefinition': {
        reviewsAvailable();
        return { status: 201, body: createDefinition(body) };
      }
      case 'group':
        return { body: renderGroup(tenant.group(a) ?? notFound(a), select) };
      case 'members': {
        if (!tenant.group(a)) notFound(a);
        const ids = (tenant.members.get(a) ?? []).filter((id) => tenant.user(id) || tenant.group(id));
        return collection(url, 'members', ids, (id) => directoryObject(id, select));
      }
      case 'removeMember': {
        const g = tenant.group(a) ?? notFound(a);
        if (g.groupTypes.includes('DynamicMembership'))
          fail(
            400,
            'Request_BadRequest',
            'Insufficient privileges to complete the operation. Cannot update membership of a dynamic group.',
          );
        if (g.onPremisesSyncEnabled)
          fail(
            400,
            'Request_BadRequest',
            'Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration.',
          );
        if (g.isAssignableToRole && !app.permissions.includes('RoleManagement.ReadWrite.Directory'))
          fail(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
        if (!tenant.removeMember(a, b)) notFound(b);
        return { status: 204 };
      }
      case 'deleteMemberObject': {
        if (!tenant.group(a)) notFound(a);
        if (!tenant.user(b)) notFound(b);
        tenant.deleteUser(b);
        return { status: 204 };
      }
      case 'servicePrincipals': {
        const tag = /tags\/any\(\w+:\s*\w+\s+eq\s+'([^']+)'\)/.exec(filter)?.[1];
        const items = tag
          ? tenant.servicePrincipals.filter((s) => s.tags.includes(tag))
          : tenant.servicePrincipals;
        return collection(url, 'servicePrincipals', items, (s) =>
          pick(
            { '@odata.type': '#microsoft.graph.servicePrincipal', ...s } as unknown as Record<
              string,
              unknown
            >,
            select,
          ),
        );
      }
      case 'appRoleAssignedTo': {
        if (!tenant.sp(a)) notFound(a);
        return collection(
          url,
          'appRoleAssignedTo',
          tenant.appRoleAssignments.filter((x) => x.resourceId === a),
          (x) => pick({ ...x, deletedDateTime: null } as unknown as Record<string, unknown>, select),
        );
      }
      case 'deleteAppRoleAssignedTo':
      case 'deleteUserAppRole': {
        const i = tenant.appRoleAssignments.findIndex(
          (x) =>
            x.id === b && (name === 'deleteAppRoleAssignedTo' ? x.resourceId === a : x.principalId === a),
        );
        if (i < 0) notFound(b);
        tenant.appRoleAssignments.splice(i, 1);
        return { status: 204 };
      }
      case 'roleDefinitions':
        return collection(url, 'roleAssignments', tenant.roleDefinitions, (d) =>
          pick(d as unknown as Record<string, unknown>, select),
        );
      case 'roleAssignments': {
        const principal = /principalId eq '([^']+)'/.exec(filter)?.[1];
        const items = principal
          ? tenant.roleAssignments.filter((x) => x.principalId === principal)
          : tenant.roleAssignments;
        return collection(url, 'roleAssignments', items, (x) => ({
          ...x,
          resourceScope: x.directoryScopeId,
          appScopeId: null,
        }));
      }
      case 'deleteRoleAssignment': {
        const i = tenant.roleAssignments.findIndex((x) => x.id === a);
        if (i < 0) notFound(a);
        tenant.roleAssignments.splice(i, 1);
        return { status: 204 };
      }
      case 'eligibilities': {
        if (pim !== 'enabled')
          fail(403, 'AadPremiumLicenseRequired', 'The tenant needs an Entra ID P2 or Governance license.');
        return collection(url, 'roleAssignments', tenant.roleEligibilities, (x) => ({
          ...x,
          memberType: 'Direct',
          startDateTime: '2026-01-01T00:00:00Z',
          endDateTime: null,
          roleEligibilityScheduleId: x.id,
        }));
      }
      case 'signIns': {
        const ge = /createdDateTime ge (\S+)/.exec(filter)?.[1];
        const lt = /createdDateTime lt (\S+)/.exec(filter)?.[1];
        const items = tenant.signIns.filter(
          (s) =>
            (!ge || Date.parse(s.createdDateTime) >= Date.parse(ge)) &&
            (!lt || Date.parse(s.createdDateTime) < Date.parse(lt)),
        );
        return collection(url, 'signIns', items, (s) => s);
      }
      case 'definitions':
        reviewsAvailable();
        return collection(url, 'reviews', tenant.definitions, (d) => d, 'skip');
      case 'instances': {
        reviewsAvailable();
        if (!tenant.definitions.some((d) => d.id === a)) notFound(a);
        return collection(
          url,
          'reviews',
          tenant.instances.filter((i) => i.definitionId === a),
          ({ definitionId: _d, ...i }) => i,
          'skip',
        );
      }
      case 'instance': {
        reviewsAvailable();
        const i = tenant.instances.find((x) => x.id === b && x.definitionId === a) ?? notFound(b);
        const { definitionId: _d, ...rest } = i;
        return { body: rest };
      }
      case 'decisions': {
        reviewsAvailable();
        if (!tenant.instances.some((x) => x.id === b && x.definitionId === a)) notFound(b);
        const expand = /insights/.test(url.searchParams.get('$expand') ?? '');
        // A multi-stage instance lists its decisions per stage (instance level: the current stage's, assumed).
        const current = tenant.stages.find((st) => st.instanceId === b && st.status === 'InProgress');
        const items = tenant.decisions.filter(
          (d) => d.instanceId === b && (d.stageId === undefined || d.stageId === current?.id),
        );
        return collection(url, 'reviews', items, (d) => renderDecision(d, expand), 'skip');
      }
      case 'stages': {
        reviewsAvailable();
        if (!tenant.instances.some((x) => x.id === b && x.definitionId === a)) notFound(b);
        return collection(
          url,
          'reviews',
          tenant.stages.filter((st) => st.instanceId === b),
          ({ instanceId: _i, ...st }) => st,
          'skip',
        );
      }
      case 'stageDecisions': {
        reviewsAvailable();
        if (!tenant.stages.some((st) => st.id === c && st.instanceId === b)) notFound(c);
        const expand = /insights/.test(url.searchParams.get('$expand') ?? '');
        return collection(
          url,
          'reviews',
          tenant.decisions.filter((d) => d.stageId === c),
          (d) => renderDecision(d, expand),
          'skip',
        );
      }
      case 'stageDecision': {
        reviewsAvailable();
        const d = tenant.decisions.find((x) => x.id === d4 && x.stageId === c) ?? notFound(d4);
        return { body: renderDecision(d, false) };
      }
      case 'decision': {
        reviewsAvailable();
        const d = tenant.decisions.find((x) => x.id === c && x.instanceId === b) ?? notFound(c);
        return { body: renderDecision(d, false) };
      }
      case 'patchDecision':
        // Documented for delegated permission only: an application token is refused.
        return fail(403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.');
      case 'batchRecordDecisions': {
        reviewsAvailable();
        const inst = tenant.instances.find((x) => x.id === b && x.definitionId === a) ?? notFound(b);
        const def = tenant.definitions.find((x) => x.id === a)!;
        const v = (body ?? {}) as {
          decision?: unknown;
          justification?: unknown;
          principalId?: unknown;
          resourceId?: unknown;
        };
        if (!['Approve', 'Deny', 'NotReviewed', 'DontKnow'].includes(String(v.decision)))
          fail(400, 'BadRequest', `Invalid value '${String(v.decision)}' for decision.`);
        // The code Graph uses for these two refusals is unconfirmed.
        if (inst.status !== 'InProgress')
          fail(
            400,
            'BadRequest',
            `The access review instance is ${inst.status}; decisions can't be recorded.`,
          );
        const justification = typeof v.justification === 'string' ? v.justification : '';
        if (
          def.settings.justificationRequiredOnApproval &&
          v.decision === 'Approve' &&
          justification.trim() === ''
        )
          fail(400, 'BadRequest', 'Justification is required when approving access.');
        // In a multi-stage review: the decisions of the stage in progress (the likeliest reading of the docs).
        const stage = tenant.stages.find((st) => st.instanceId === inst.id && st.status === 'InProgress');
        const hit = tenant.decisions.filter(
          (d) =>
            d.instanceId === inst.id &&
            (d.stageId === undefined || d.stageId === stage?.id) &&
            (v.principalId === undefined || d.principalId === v.principalId) &&
            (v.resourceId === undefined || d.resource.id === v.resourceId),
        );
        const at = new Date().toISOString();
        for (const d of hit) {
          d.decision = v.decision as EmuDecision['decision'];
          d.justification = justification;
          d.reviewedDateTime = at;
          d.reviewedBy = { id: app.clientId, displayName: app.displayName ?? 'app', userPrincipalName: '' };
        }
        tenant.decisionWrites.push({
          instanceId: inst.id,
          decisionIds: hit.map((d) => d.id),
          decision: String(v.decision),
          justification,
          via: 'batchRecordDecisions',
          at,
        });
        return { status: 204 };
      }
    }
    return fail(400, 'BadRequest', 'Unsupported request.');
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: origin,
    tenant,
    clientId: defaultApp.clientId,
    clientSecret: defaultApp.secret!,
    requests,
    reviewBodies,
    injectFault(fault) {
      faults.push({ after: 0, times: 1, retryAfter: 1, ...fault, seen: 0 });
    },
    revokeCredentialAfter(n) {
      revokeAt = seq + n;
    },
    expireDeltaLinks() {
      deltaFloor = tenant.version + 1;
    },
    setPermissions(clientId, permissions) {
      apps.get(clientId)!.permissions = permissions;
    },
    clearLog() {
      requests.length = 0;
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function header(req: IncomingMessage, name: string): string | null {
  const v = req.headers[name];
  return v === undefined ? null : Array.isArray(v) ? v.join(',') : v;
}

/**
 * Checks a certificate client assertion: a JWT signed with the certificate's key (RS256
 * with `x5t`, the SHA-1 thumbprint, or PS256 with `x5t#S256`), issuer and subject the
 * client id, audience the token endpoint, not expired. Returns the AADSTS refusal, or null.
 */
function checkAssertion(jwt: string, app: EmuApp, audience: string): string | null {
  if (!app.certificate)
    return 'AADSTS700027: Client assertion contains an invalid signature (no certificate).';
  const [h, p, s] = jwt.split('.');
  if (!h || !p || !s) return 'AADSTS50027: JWT token is invalid or malformed.';
  const head = JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, string>;
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  const cert = new X509Certificate(app.certificate);
  const der = cert.raw;
  const sha1 = createHash('sha1').update(der).digest('base64url');
  const sha256 = createHash('sha256').update(der).digest('base64url');
  if (head.x5t !== sha1 && head['x5t#S256'] !== sha256)
    return 'AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application.';
  if (claims.iss !== app.clientId || claims.sub !== app.clientId)
    return 'AADSTS700023: Invalid issuer or subject.';
  if (claims.aud !== audience) return 'AADSTS700016: Invalid audience.';
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now())
    return 'AADSTS700024: Client assertion is expired.';
  const key = createPublicKey(cert.publicKey.export({ type: 'spki', format: 'pem' }));
  const data = Buffer.from(`${h}.${p}`);
  const sig = Buffer.from(s, 'base64url');
  const ok =
    head.alg === 'RS256'
      ? verify('sha256', data, key, sig)
      : head.alg === 'PS256'
        ? verify('sha256', data, { key, padding: 6, saltLength: 32 }, sig)
        : false;
  return ok ? null : 'AADSTS700027: Client assertion contains an invalid signature.';
}

export { INTEGRATED_APP_TAG };
