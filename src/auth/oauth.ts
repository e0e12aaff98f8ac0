import { createRemoteJWKSet, errors, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from 'jose';
import type { OAuthConfig, PrincipalEntry } from '../config.js';
import type { Principal } from '../domain/principal.js';

/** Why a request's credentials are refused, as HTTP and RFC 6750 put it. */
export interface AuthRefusal {
  error: string;
  /** 401 invalid_token (or no token), 403 insufficient_scope, 503 when the IdP cannot be reached. */
  status: 401 | 403 | 503;
  code: 'invalid_token' | 'insufficient_scope' | 'temporarily_unavailable';
  /** For 403: the scopes that would be enough. */
  scope?: string;
}

/** A JWS compact serialization (three base64url parts; `alg: none` tokens have an empty third). */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token);
}

function stringsOf(v: unknown): string[] {
  if (typeof v === 'string') return v.split(/\s+/).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string');
  return [];
}

/** The scopes an access token carries: `scope` (RFC 9068, space-separated) or `scp` (Okta, Entra). */
export function scopesOf(claims: JWTPayload): string[] {
  return [...new Set([...stringsOf(claims.scope), ...stringsOf(claims.scp)])];
}

/** The scopes to ask for when a token maps to no role: the reviewer's, else the admin's. */
export function scopesToAsk(cfg: OAuthConfig): string[] {
  return cfg.roles.reviewer.scopes.length > 0 ? cfg.roles.reviewer.scopes : cfg.roles.admin.scopes;
}

/** Every scope the roles mapping names (the protected-resource metadata's `scopes_supported`). */
export function scopesSupported(cfg: OAuthConfig): string[] {
  return [...new Set([...cfg.roles.reviewer.scopes, ...cfg.roles.admin.scopes])];
}

/**
 * The principal a verified token stands for: its id from `principalClaim`; its role from the
 * scopes or groups mapping (admin wins); a `principals` entry for that id refines role and
 * reviewer ids; otherwise the reviewer ids come from `reviewerIdsClaim`. A token that maps to
 * no role is refused with 403 insufficient_scope.
 */
export function principalFromClaims(
  cfg: OAuthConfig,
  claims: JWTPayload,
  principals: Record<string, PrincipalEntry>,
): Principal | AuthRefusal {
  const id = claims[cfg.principalClaim];
  if (typeof id !== 'string' || id.trim() === '') {
    return {
      status: 401,
      code: 'invalid_token',
      error: `the token has no "${cfg.principalClaim}" claim to name its principal`,
    };
  }
  const scopes = new Set(scopesOf(claims));
  const groups = new Set(stringsOf(claims[cfg.groupsClaim]));
  const grants = (g: OAuthConfig['roles']['admin']) =>
    g.scopes.some((s) => scopes.has(s)) || g.groups.some((x) => groups.has(x));
  const mapped = grants(cfg.roles.admin) ? 'admin' : grants(cfg.roles.reviewer) ? 'reviewer' : null;
  if (!mapped) {
    const ask = scopesToAsk(cfg);
    return {
      status: 403,
      code: 'insufficient_scope',
      error: `the token grants no Attest role (it needs ${ask.length > 0 ? `scope ${ask.join(' or ')}` : 'a mapped group'})`,
      ...(ask.length > 0 ? { scope: ask.join(' ') } : {}),
    };
  }
  const entry = principals[id];
  // RFC 9068 `client_id`; Entra `azp` (v2) or `appid` (v1); Okta `cid`.
  const client = [claims.client_id, claims.azp, claims.appid, claims.cid].find(
    (c) => typeof c === 'string',
  ) as string | undefined;
  return {
    id,
    role: entry?.role ?? mapped,
    reviewer_ids: entry
      ? entry.reviewer_ids
      : cfg.reviewerIdsClaim
        ? stringsOf(claims[cfg.reviewerIdsClaim])
        : [],
    ...(client !== undefined && cfg.interactiveClients.includes(client) ? { interactive_host: true } : {}),
  };
}

/** Why jose refused a token, in words for the 401 (never the token itself). */
function describeJoseError(e: unknown): string {
  if (e instanceof errors.JWTExpired) return 'the token has expired';
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === 'iss') return 'the token was issued by another issuer';
    if (e.claim === 'aud') return 'the token was issued for another audience (RFC 8707), not this server';
    if (e.claim === 'exp') return 'the token has no expiry';
    if (e.claim === 'nbf') return 'the token is not valid yet';
    return `the token's "${e.claim}" claim is not valid`;
  }
  if (e instanceof errors.JOSEAlgNotAllowed)
    return 'the token is signed with an algorithm that is not accepted';
  if (e instanceof errors.JWKSNoMatchingKey)
    return 'the token is signed by a key the issuer does not publish';
  if (e instanceof errors.JWSSignatureVerificationFailed) return 'the token signature does not verify';
  if (e instanceof errors.JOSENotSupported) return 'the token uses a signature scheme that is not supported';
  return 'the token is not a valid signed JWT';
}

/** Fetches a JSON document with a timeout; null when it is not there. */
async function fetchJson(url: string): Promise<Record<string, unknown> | null> {
  const r = await fetch(url, {
    headers: { accept: 'application/json' },
    signal: AbortSignal.timeout(10_000),
  });
  if (r.status === 404) return null;
  if (!r.ok) throw new Error(`${url} answered HTTP ${r.status}`);
  return (await r.json()) as Record<string, unknown>;
}

/**
 * Verifies JWT access tokens from one issuer: the signature against the issuer's JWKS
 * (discovered from its OpenID Connect or OAuth metadata unless configured; cached, and
 * refetched when a token names a key it does not hold, which is how rotation arrives),
 * the issuer, the audience (this server's resource URL unless configured otherwise), the
 * expiry and, through the roles mapping, the scopes or groups.
 */
export class OAuthVerifier {
  private keys: JWTVerifyGetKey | null = null;
  private discovering: Promise<JWTVerifyGetKey> | null = null;

  constructor(
    private readonly cfg: OAuthConfig,
    private readonly principals: Record<string, PrincipalEntry>,
  ) {}

  /** The JWKS URL: configured, or the metadata's `jwks_uri`, whose `issuer` must be exactly ours. */
  private async jwksUri(): Promise<string> {
    if (this.cfg.jwksUri) return this.cfg.jwksUri;
    const issuer = new URL(this.cfg.issuer);
    const path = issuer.pathname.replace(/\/$/, '');
    const candidates = [
      `${this.cfg.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`,
      `${issuer.origin}/.well-known/oauth-authorization-server${path}`,
    ];
    for (const url of candidates) {
      const doc = await fetchJson(url);
      if (!doc) continue;
      if (doc.issuer !== this.cfg.issuer) {
        throw new Error(`${url} names issuer ${String(doc.issuer)}, not ${this.cfg.issuer}`);
      }
      if (typeof doc.jwks_uri !== 'string') throw new Error(`${url} has no jwks_uri`);
      return doc.jwks_uri;
    }
    throw new Error(`no OpenID Connect or OAuth metadata for ${this.cfg.issuer}`);
  }

  private async keySet(): Promise<JWTVerifyGetKey> {
    if (this.keys) return this.keys;
    this.discovering ??= this.jwksUri()
      .then((uri) => {
        this.keys = createRemoteJWKSet(new URL(uri), {
          cacheMaxAge: this.cfg.jwksCacheMinutes * 60_000,
          cooldownDuration: this.cfg.jwksCooldownSeconds * 1000,
          timeoutDuration: 10_000,
        });
        return this.keys;
      })
      .finally(() => {
        this.discovering = null;
      });
    return this.discovering;
  }

  /** The principal a token stands for, or why it is refused. `resource` is this server's URL. */
  async verify(token: string, resource: string): Promise<Principal | AuthRefusal> {
    let keys: JWTVerifyGetKey;
    try {
      keys = await this.keySet();
    } catch (e) {
      return {
        status: 503,
        code: 'temporarily_unavailable',
        error: `the identity provider's keys could not be fetched (${e instanceof Error ? e.message : String(e)}); try again`,
      };
    }
    let claims: JWTPayload;
    try {
      ({ payload: claims } = await jwtVerify(token, keys, {
        issuer: this.cfg.issuer,
        audience: this.cfg.audience ?? [resource],
        algorithms: this.cfg.algorithms,
        clockTolerance: this.cfg.clockToleranceSeconds,
        requiredClaims: ['exp'],
      }));
    } catch (e) {
      if (e instanceof errors.JWKSTimeout || (e instanceof Error && e.name === 'TypeError')) {
        return {
          status: 503,
          code: 'temporarily_unavailable',
          error: "the identity provider's keys could not be fetched; try again",
        };
      }
      return { status: 401, code: 'invalid_token', error: describeJoseError(e) };
    }
    return principalFromClaims(this.cfg, claims, this.principals);
  }
}
