import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Serving, serve } from '../../src/app.js';
import { principalFromClaims } from '../../src/auth/oauth.js';
import { resolveConfig } from '../../src/config.js';
import { createLogger } from '../../src/log.js';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import { TokenStore } from '../../src/store/tokens.js';
import { TINY_AS_OF, tempDir, tinyStore } from '../helpers/harness.js';

/**
 * Attest as an OAuth 2.1 resource server against a loopback identity provider that signs real
 * RS256 access tokens and publishes its keys (JWKS) behind OpenID Connect discovery.
 */

type Key = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];
interface SigningKey {
  kid: string;
  privateKey: Key;
  jwk: JWK;
}

const tmp = tempDir();
let idp: Server;
let issuer: string;
let published: JWK[] = [];
let jwksFetches = 0;
let current: SigningKey;
let stranger: SigningKey;
let serving: Serving;
let url: string;
let staticToken: string;

async function signingKey(kid: string): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256');
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

async function token(
  claims: Record<string, unknown> = {},
  o: { key?: SigningKey; iss?: string; aud?: string; exp?: number } = {},
): Promise<string> {
  const key = o.key ?? current;
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scp: ['attest.admin'], ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, typ: 'at+jwt' })
    .setIssuer(o.iss ?? issuer)
    .setAudience(o.aud ?? url)
    .setSubject('ana@example.com')
    .setIssuedAt(now - 10)
    .setExpirationTime(o.exp ?? now + 600)
    .sign(key.privateKey);
}

function post(authorization?: string) {
  return fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/json, text/event-stream',
      ...(authorization ? { authorization } : {}),
    },
    body: JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'initialize',
      params: { protocolVersion: '2025-11-25', capabilities: {}, clientInfo: { name: 'raw', version: '0' } },
    }),
  });
}

async function connect(bearer: string, era: 'legacy' | 'modern' = 'legacy') {
  const client = new Client(
    { name: 'oauth-test', version: '1' },
    era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {},
  );
  await client.connect(
    new StreamableHTTPClientTransport(new URL(url), {
      requestInit: { headers: { authorization: `Bearer ${bearer}` } },
    }),
  );
  return client;
}

beforeAll(async () => {
  current = await signingKey('k1');
  stranger = await signingKey('not-published');
  published = [current.jwk];
  idp = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path === '/oauth2/default/.well-known/openid-configuration') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ issuer, jwks_uri: `${issuer}/v1/keys` }));
    }
    if (path === '/oauth2/default/v1/keys') {
      jwksFetches++;
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ keys: published }));
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => idp.listen(0, '127.0.0.1', () => r()));
  issuer = `http://127.0.0.1:${(idp.address() as AddressInfo).port}/oauth2/default`;

  const db = join(tmp.dir, 'oauth.db');
  const config = resolveConfig(
    {
      db,
      httpPort: 0,
      logLevel: 'silent',
      asOf: TINY_AS_OF,
      oauth: {
        issuer,
        roles: {
          admin: { scopes: ['attest.admin'], groups: [] },
          reviewer: { scopes: ['attest.review'], groups: ['Access Reviewers'] },
        },
        reviewerIdsClaim: 'uid',
        // Rotation is tested seconds after a refetch; production keeps the 30 s cooldown.
        jwksCooldownSeconds: 0,
      } as never,
    },
    {},
  );
  (await tinyStore({ ...config })).close();
  serving = await serve(config, createLogger('silent'));
  url = serving.http!.url;
  staticToken = new TokenStore(serving.store.db).create('ops@example.com', 'admin', null);
});

afterAll(async () => {
  await serving?.close();
  await new Promise<void>((r) => idp?.close(() => r()));
  tmp.cleanup();
});

describe('OAuth 2.1 resource server', () => {
  it('publishes its protected-resource metadata (RFC 9728) and points every challenge to it', async () => {
    const base = new URL(url).origin;
    const r = await fetch(`${base}/.well-known/oauth-protected-resource/mcp`);
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({
      resource: url,
      authorization_servers: [issuer],
      scopes_supported: ['attest.review', 'attest.admin'],
      bearer_methods_supported: ['header'],
      resource_name: 'Attest access reviews',
    });
    expect((await fetch(`${base}/.well-known/oauth-protected-resource`)).status).toBe(200);
    const none = await post();
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe(
      `Bearer realm="attest", resource_metadata="${base}/.well-known/oauth-protected-resource/mcp", scope="attest.review attest.admin"`,
    );
  });

  it('serves a client of either era with a valid token from the IdP, as the principal the token names', async () => {
    const before = jwksFetches;
    for (const era of ['legacy', 'modern'] as const) {
      const client = await connect(await token(), era);
      const r = await client.callTool({ name: 'list_campaigns', arguments: {} });
      expect(r.isError).toBeFalsy();
      await client.close();
    }
    const entries = [...new AuditLog(serving.store.db).entries()].filter((e) => e.tool === 'list_campaigns');
    expect(entries.map((e) => e.principal)).toEqual(['ana@example.com', 'ana@example.com']);
    // The keys are cached: fetched at most once for all of these requests.
    expect(jwksFetches - before).toBeLessThanOrEqual(1);
  });

  it('maps a group to the reviewer role and the uid claim to its reviewer ids', async () => {
    const client = await connect(
      await token({ scp: [], groups: ['Access Reviewers'], uid: 'u2', sub: 'fay@example.com' }),
    );
    const r = await client.callTool({
      name: 'list_campaign_items',
      arguments: { campaign_id: 'c1', limit: 500 },
    });
    expect((r.structuredContent as { total: number }).total).toBe(7);
    await client.close();
  });

  it.each([
    [
      'for another audience',
      () => token({}, { aud: 'https://other.example.com/mcp' }),
      /another audience \(RFC 8707\)/,
    ],
    [
      'from another issuer',
      () => token({}, { iss: 'https://evil.example.com/oauth2/default' }),
      /another issuer/,
    ],
    ['expired', () => token({}, { exp: Math.floor(Date.now() / 1000) - 3600 }), /has expired/],
    ['signed by an unknown key', () => token({}, { key: stranger }), /a key the issuer does not publish/],
    [
      'unsigned (alg: none)',
      async () => {
        const [, payload] = (await token()).split('.');
        return `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${payload}.`;
      },
      /algorithm that is not accepted/,
    ],
  ])('refuses a token %s with 401 invalid_token, and runs nothing', async (_n, make, why) => {
    const jwt = await make();
    const before = [...new AuditLog(serving.store.db).entries()].length;
    const r = await post(`Bearer ${jwt}`);
    expect(r.status).toBe(401);
    const challenge = r.headers.get('www-authenticate')!;
    expect(challenge).toMatch(
      /^Bearer realm="attest", resource_metadata="[^"]+", error="invalid_token", error_description="/,
    );
    expect(challenge).toMatch(why);
    expect(((await r.json()) as { error: { message: string } }).error.message).toMatch(why);
    expect([...new AuditLog(serving.store.db).entries()].length).toBe(before);
  });

  it('refuses a valid token that grants no Attest role with 403 insufficient_scope, naming the scope', async () => {
    const r = await post(`Bearer ${await token({ scp: ['profile', 'email'] })}`);
    expect(r.status).toBe(403);
    expect(r.headers.get('www-authenticate')).toMatch(/error="insufficient_scope"/);
    expect(r.headers.get('www-authenticate')).toMatch(/scope="attest.review"/);
  });

  it('follows a key rotation: a token signed with a newly published key is accepted', async () => {
    const next = await signingKey('k2');
    published = [current.jwk, next.jwk];
    const before = jwksFetches;
    const client = await connect(await token({}, { key: next }));
    expect((await client.callTool({ name: 'list_campaigns', arguments: {} })).isError).toBeFalsy();
    await client.close();
    expect(jwksFetches).toBe(before + 1);
  });

  it('still accepts the static tokens of attest token create', async () => {
    expect((await post(`Bearer ${staticToken}`)).status).toBe(200);
    expect((await post('Bearer att_not-a-real-token')).status).toBe(401);
  });

  it('keeps every token out of the store and the audit log', async () => {
    const jwt = await token();
    await post(`Bearer ${jwt}`);
    const store = Store.open(join(tmp.dir, 'oauth.db'));
    const dump =
      JSON.stringify([...new AuditLog(store.db).entries()]) +
      JSON.stringify(store.db.prepare('SELECT * FROM meta').all());
    store.close();
    expect(dump).not.toContain(jwt.split('.')[2]);
    expect(dump).not.toContain(staticToken);
  });
});

describe('OAuth configuration', () => {
  const roles = { admin: { scopes: ['attest.admin'], groups: [] }, reviewer: { scopes: [], groups: [] } };
  it.each([
    [{ issuer: 'http://idp.example.com/oauth2/default', roles }, /oauth\.issuer: must be an https:\/\/ URL/],
    [
      { issuer: 'https://idp.example.com', roles: { admin: { scopes: [] }, reviewer: {} } },
      /oauth\.roles: map at least one scope or group/,
    ],
    [{ issuer: 'https://idp.example.com', roles, audiences: ['x'] }, /oauth: Unrecognized key: "audiences"/],
  ])('refuses %j with the key at fault', (oauth, message) => {
    expect(() => resolveConfig({ oauth } as never, {})).toThrow(message);
  });

  it('takes the OAuth settings from ATTEST_OAUTH', () => {
    const c = resolveConfig(
      {},
      { ATTEST_OAUTH: JSON.stringify({ issuer: 'https://acme.okta.com/oauth2/default', roles }) },
    );
    expect(c.oauth).toMatchObject({
      issuer: 'https://acme.okta.com/oauth2/default',
      principalClaim: 'sub',
      groupsClaim: 'groups',
    });
  });
});

describe('claims to a principal', () => {
  const cfg = resolveConfig(
    {
      oauth: {
        issuer: 'https://login.microsoftonline.com/t-1/v2.0',
        principalClaim: 'preferred_username',
        groupsClaim: 'roles',
        roles: { admin: { groups: ['Attest.Admin'] }, reviewer: { scopes: ['attest.review'] } },
        reviewerIdsClaim: 'oid',
        interactiveClients: ['vscode-app-id'],
      },
    } as never,
    {},
  ).oauth!;
  it.each([
    [
      'an Entra v2 token with a scope string and an app client id marked interactive',
      { preferred_username: 'fay@acme.com', scp: 'openid attest.review', oid: 'o-7', azp: 'vscode-app-id' },
      { id: 'fay@acme.com', role: 'reviewer', reviewer_ids: ['o-7'], interactive_host: true },
    ],
    [
      'an app role that makes an admin (admin wins over reviewer)',
      { preferred_username: 'ops@acme.com', scp: 'attest.review', roles: ['Attest.Admin'], azp: 'cli-app' },
      { id: 'ops@acme.com', role: 'admin', reviewer_ids: [] },
    ],
    [
      'a principals entry, which wins over the token',
      { preferred_username: 'lee@acme.com', scp: 'attest.review', oid: 'o-9' },
      { id: 'lee@acme.com', role: 'reviewer', reviewer_ids: ['u2', 'u5'] },
    ],
  ])('maps %s', (_n, claims, principal) => {
    expect(
      principalFromClaims(cfg, claims, { 'lee@acme.com': { role: 'reviewer', reviewer_ids: ['u2', 'u5'] } }),
    ).toEqual(principal);
  });

  it('refuses a token without the principal claim, and one that grants no role', () => {
    expect(principalFromClaims(cfg, { scp: 'attest.review' }, {})).toMatchObject({
      status: 401,
      error: 'the token has no "preferred_username" claim to name its principal',
    });
    expect(principalFromClaims(cfg, { preferred_username: 'x@acme.com', scp: 'openid' }, {})).toMatchObject({
      status: 403,
      code: 'insufficient_scope',
      scope: 'attest.review',
    });
  });
});
