import { randomUUID, sign } from 'node:crypto';
import type { PingAicConfig, PingOneConfig } from './config.js';
import { PingTokenError, type Surface } from './errors.js';
import { type PingTransport, type RawResponse, type TokenSource, validate } from './http.js';
import { tokenResponse } from './schemas.js';

/** Seconds before expiry a cached token is replaced: a minute, or a fifth of a short lifetime. */
const margin = (ttl: number) => Math.min(60, ttl / 5);

/** The cache and single-flight logic both token sources share. */
abstract class CachedToken implements TokenSource {
  private cached: { token: string; until: number } | null = null;
  private pending: Promise<string> | null = null;

  token(): Promise<string> {
    if (this.cached && Date.now() < this.cached.until) return Promise.resolve(this.cached.token);
    this.pending ??= this.fetch()
      .then(({ token, ttl }) => {
        this.cached = { token, until: Date.now() + (ttl - margin(ttl)) * 1000 };
        return token;
      })
      .finally(() => {
        this.pending = null;
      });
    return this.pending;
  }

  reset(): void {
    this.cached = null;
  }

  protected abstract fetch(): Promise<{ token: string; ttl: number }>;

  protected read(surface: Surface, res: RawResponse): { token: string; ttl: number } {
    if (res.status >= 400) {
      const body = (res.json ?? {}) as Record<string, unknown>;
      const description = typeof body.error_description === 'string' ? body.error_description : '';
      throw new PingTokenError(
        surface,
        res.status,
        typeof body.error === 'string' ? body.error.slice(0, 60) : 'no_token',
        (description.split(/\r?\n/)[0] ?? '').replace(/(\.)\s.*$/, '$1').slice(0, 200),
      );
    }
    const body = validate(tokenResponse, res.json, surface, 'the token request');
    return { token: body.access_token, ttl: body.expires_in ?? 3600 };
  }
}

/**
 * PingOne Worker-app tokens: client credentials at `{auth}/{environment}/as/token`. The app's
 * token endpoint authentication is CLIENT_SECRET_BASIC or CLIENT_SECRET_POST; like PingOne's
 * Go client, Basic is tried first and the form is used when Basic is refused as invalid_client,
 * and whichever works is kept.
 */
export class PingOneTokens extends CachedToken {
  private style: 'basic' | 'post' | null = null;
  private readonly url: string;

  constructor(
    private readonly config: PingOneConfig,
    private readonly transport: PingTransport,
  ) {
    super();
    this.url = `${config.authBase}/${encodeURIComponent(config.environmentId)}/as/token`;
  }

  protected async fetch(): Promise<{ token: string; ttl: number }> {
    const attempt = async (style: 'basic' | 'post') => {
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      const headers: Record<string, string> = { 'content-type': 'application/x-www-form-urlencoded' };
      if (style === 'basic') {
        const enc = (s: string) => encodeURIComponent(s);
        headers.authorization = `Basic ${Buffer.from(`${enc(this.config.clientId)}:${enc(this.config.clientSecret)}`).toString('base64')}`;
      } else {
        form.set('client_id', this.config.clientId);
        form.set('client_secret', this.config.clientSecret);
      }
      return this.transport.call(
        'pingone',
        { method: 'POST', url: this.url, headers, body: form.toString() },
        { idempotent: true, clientErrors: true },
      );
    };
    const first = this.style ?? 'basic';
    let res = await attempt(first);
    if (this.style === null && res.status === 401) {
      const second = await attempt('post');
      if (second.status < 400) {
        this.style = 'post';
        return this.read('pingone', second);
      }
      res = second;
    } else if (res.status < 400) this.style = first;
    return this.read('pingone', res);
  }
}

/**
 * Advanced Identity Cloud service-account tokens: the JWT bearer grant at
 * `/am/oauth2/access_token`, with an RS256 assertion signed by the account's key
 * (`iss` = `sub` = the account id, `aud` = the token URL, a fresh `jti`, a three-minute `exp`)
 * and the configured scopes.
 */
export class AicTokens extends CachedToken {
  readonly url: string;

  constructor(
    private readonly config: PingAicConfig,
    private readonly transport: PingTransport,
  ) {
    super();
    this.url = `${config.tenantUrl}/am/oauth2/access_token`;
  }

  protected async fetch(): Promise<{ token: string; ttl: number }> {
    const form = () =>
      new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:jwt-bearer',
        client_id: 'service-account',
        scope: this.config.scopes.join(' '),
        assertion: this.assertion(),
      }).toString();
    const res = await this.transport.call(
      'aic',
      {
        method: 'POST',
        url: this.url,
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form,
      },
      { idempotent: true, clientErrors: true },
    );
    return this.read('aic', res);
  }

  assertion(now = Date.now()): string {
    const t = Math.floor(now / 1000);
    const head = { alg: 'RS256', typ: 'JWT', ...(this.config.keyId ? { kid: this.config.keyId } : {}) };
    const claims = {
      iss: this.config.serviceAccountId,
      sub: this.config.serviceAccountId,
      aud: this.url,
      jti: randomUUID(),
      iat: t,
      exp: t + 180,
    };
    const enc = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const data = `${enc(head)}.${enc(claims)}`;
    return `${data}.${sign('sha256', Buffer.from(data), this.config.key).toString('base64url')}`;
  }
}
