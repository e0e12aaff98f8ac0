import { randomUUID, sign } from 'node:crypto';
import type { EntraConfig } from './config.js';

/**
 * The token endpoint refused: the OAuth error and the AADSTS code and first sentence (no
 * secret in either). Not named `error`: the SDK would take an `error` field for a Graph
 * error body and drop everything else.
 */
export class TokenRequestError extends Error {
  override name = 'TokenRequestError';
  constructor(
    readonly status: number,
    readonly oauthError: string,
    readonly description: string,
  ) {
    super(`token request refused: HTTP ${status} ${oauthError}`);
  }
}

/**
 * Client-credentials tokens for Microsoft Graph from the Microsoft identity platform
 * (`POST {authority}/{tenant}/oauth2/v2.0/token`, scope `{graph}/.default`), with a client
 * secret or a certificate assertion (an RS256 JWT with the certificate's `x5t`). A token is
 * reused until five minutes before it expires.
 */
export class TokenClient {
  /** Token requests sent. */
  requests = 0;
  /** The last refusal: the SDK wraps errors from the auth provider in a GraphError, losing their fields. */
  lastError: TokenRequestError | null = null;
  private cached: { token: string; until: number } | null = null;
  private pending: Promise<string> | null = null;
  private readonly url: string;

  constructor(private readonly config: EntraConfig) {
    this.url = `${config.authorityHost}/${encodeURIComponent(config.tenantId)}/oauth2/v2.0/token`;
  }

  token(): Promise<string> {
    if (this.cached && Date.now() < this.cached.until) return Promise.resolve(this.cached.token);
    this.pending ??= this.request().finally(() => {
      this.pending = null;
    });
    return this.pending;
  }

  /** Forgets the cached token (after Graph rejected it). */
  reset(): void {
    this.cached = null;
  }

  private async request(): Promise<string> {
    const form = new URLSearchParams({
      client_id: this.config.clientId,
      scope: `${this.config.graphBaseUrl}/.default`,
      grant_type: 'client_credentials',
    });
    const c = this.config.credential;
    if (c.kind === 'secret') form.set('client_secret', c.secret);
    else {
      form.set('client_assertion_type', 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer');
      form.set('client_assertion', this.assertion(c));
    }
    this.requests++;
    const res = await fetch(this.url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' },
      body: form.toString(),
    });
    const text = await res.text();
    let body: Record<string, unknown> = {};
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      // Not JSON: the status says enough.
    }
    if (!res.ok || typeof body.access_token !== 'string') {
      const description = typeof body.error_description === 'string' ? body.error_description : '';
      // "AADSTS7000215: Invalid client secret provided. Ensure…": the code and first sentence only.
      this.lastError = new TokenRequestError(
        res.status,
        typeof body.error === 'string' ? body.error : 'no_token',
        (description.split(/\r?\n/)[0] ?? '').replace(/(\.)\s.*$/, '$1').slice(0, 200),
      );
      throw this.lastError;
    }
    const ttl = typeof body.expires_in === 'number' ? body.expires_in : Number(body.expires_in ?? 3600);
    this.cached = { token: body.access_token, until: Date.now() + Math.max(60, ttl - 300) * 1000 };
    return body.access_token;
  }

  private assertion(c: Extract<EntraConfig['credential'], { kind: 'certificate' }>): string {
    const now = Math.floor(Date.now() / 1000);
    const head = { alg: 'RS256', typ: 'JWT', x5t: c.x5t, ...(c.x5c ? { x5c: [c.x5c] } : {}) };
    const claims = {
      aud: this.url,
      iss: this.config.clientId,
      sub: this.config.clientId,
      jti: randomUUID(),
      nbf: now,
      iat: now,
      exp: now + 600,
    };
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const data = `${enc(head)}.${enc(claims)}`;
    return `${data}.${sign('sha256', Buffer.from(data), c.key).toString('base64url')}`;
  }
}
