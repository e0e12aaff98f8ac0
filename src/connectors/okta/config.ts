import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import { ConnectorError } from '../types.js';

/** Scopes the read-only sync needs; also the default for OKTA_SCOPES. */
export const OKTA_SYNC_SCOPES = [
  'okta.users.read',
  'okta.groups.read',
  'okta.apps.read',
  'okta.roles.read',
  'okta.logs.read',
  'okta.governance.accessCertifications.read',
];

/** How the connector authenticates to the org. */
export type OktaAuth =
  | {
      mode: 'SSWS';
      /** The API token (OKTA_API_TOKEN). Secret. */
      token: string;
    }
  | {
      mode: 'PrivateKey';
      /** The service app's client id (OKTA_CLIENT_ID). */
      clientId: string;
      /** The private key as a JWK, whatever form OKTA_PRIVATE_KEY used. Secret. */
      privateJwk: JsonWebKey;
      /** The key id registered on the service app (OKTA_KEY_ID, or the JWK's `kid`). */
      keyId: string;
      /** Scopes requested for the access token (OKTA_SCOPES). */
      scopes: string[];
      /** The value of OKTA_PRIVATE_KEY as given, kept only so it can be redacted. Secret. */
      raw: string;
    };

/**
 * How decisions reach reviews that belong to someone else. Okta records a decision only
 * as the review's own reviewer (the `/my/` endpoints), so Attest first reassigns the
 * review to its own Okta identity, with a note naming the human who confirmed.
 */
export interface OktaReviewSettings {
  /**
   * `reassign` (default): any confirmed decision is recorded, reassigning the review first.
   * `mapped`: only when the confirming principal is the review's reviewer, by `map`.
   * (OKTA_REVIEWER_MODE)
   */
  mode: 'reassign' | 'mapped';
  /** Confirming principal → the Okta user (id or login) they review as (OKTA_REVIEWER_MAP, JSON). */
  map: Record<string, string>;
  /**
   * Attest's own Okta user (id or login), whom reviews are reassigned to; null: the user the
   * API token belongs to (`/api/v1/users/me`). (OKTA_ACTOR_ID)
   */
  actor: string | null;
}

/** Okta settings, validated. */
export interface OktaConfig {
  /** The org's base URL without a trailing slash, e.g. https://example.okta.com (OKTA_ORG_URL). */
  orgUrl: string;
  auth: OktaAuth;
  reviews: OktaReviewSettings;
}

type Env = Record<string, string | undefined>;

const fail = (message: string): never => {
  throw new ConnectorError(message, 'config');
};

/**
 * Reads OKTA_ORG_URL, OKTA_API_TOKEN, OKTA_CLIENT_ID, OKTA_PRIVATE_KEY,
 * OKTA_KEY_ID and OKTA_SCOPES from an env-like record. Throws a
 * ConnectorError('config') that names the variable at fault; messages never
 * contain a secret value.
 */
export function parseOktaConfig(env: Env): OktaConfig {
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? null : v;
  };
  const orgUrl = parseOrgUrl(get('OKTA_ORG_URL'));
  const reviews = parseReviewSettings(get);
  const token = get('OKTA_API_TOKEN');
  const key = get('OKTA_PRIVATE_KEY');
  const clientId = get('OKTA_CLIENT_ID');

  if (token !== null && key !== null) {
    fail('Both OKTA_API_TOKEN and OKTA_PRIVATE_KEY are set: keep only one way of signing in to Okta.');
  }
  if (token !== null) {
    if (/\s/.test(token)) fail('OKTA_API_TOKEN contains spaces: paste only the token value, without "SSWS".');
    return { orgUrl, auth: { mode: 'SSWS', token }, reviews };
  }
  if (key === null) {
    fail(
      'Neither OKTA_API_TOKEN nor OKTA_PRIVATE_KEY is set: set OKTA_API_TOKEN, or OKTA_CLIENT_ID, OKTA_PRIVATE_KEY, ' +
        'OKTA_KEY_ID and OKTA_SCOPES for an OAuth service app.',
    );
  }
  if (clientId === null)
    fail("OKTA_CLIENT_ID is not set: it is required with OKTA_PRIVATE_KEY (the service app's client id).");
  const { jwk, kid } = parsePrivateKey(key!);
  const keyId = get('OKTA_KEY_ID') ?? kid;
  if (keyId === null)
    fail('OKTA_KEY_ID is not set: give the key id (kid) registered for this key on the service app.');
  return {
    orgUrl,
    auth: {
      mode: 'PrivateKey',
      clientId: clientId!,
      privateJwk: jwk,
      keyId: keyId!,
      scopes: parseScopes(get('OKTA_SCOPES')),
      raw: key!,
    },
    reviews,
  };
}

function parseReviewSettings(get: (name: string) => string | null): OktaReviewSettings {
  const given = get('OKTA_REVIEWER_MODE') ?? 'reassign';
  if (given !== 'reassign' && given !== 'mapped') fail('OKTA_REVIEWER_MODE must be reassign or mapped.');
  const mode = given as OktaReviewSettings['mode'];
  const rawMap = get('OKTA_REVIEWER_MAP');
  let map: Record<string, string> = {};
  if (rawMap !== null) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(rawMap);
    } catch {
      fail('OKTA_REVIEWER_MAP is not valid JSON: give an object of principal to Okta user id or login.');
    }
    if (
      parsed === null ||
      typeof parsed !== 'object' ||
      Array.isArray(parsed) ||
      Object.values(parsed as object).some((v) => typeof v !== 'string' || v.trim() === '')
    ) {
      fail('OKTA_REVIEWER_MAP must be a JSON object of principal to Okta user id or login (strings).');
    }
    map = Object.fromEntries(
      Object.entries(parsed as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v.trim()]),
    );
  }
  if (mode === 'mapped' && Object.keys(map).length === 0 && rawMap !== null) {
    fail(
      'OKTA_REVIEWER_MAP is empty: with OKTA_REVIEWER_MODE=mapped, map each confirming principal to an Okta reviewer.',
    );
  }
  return { mode, map, actor: get('OKTA_ACTOR_ID') };
}

/** Every secret value in a config (token, private key in each form), for redaction by callers. */
export function oktaSecrets(config: OktaConfig): string[] {
  const a = config.auth;
  if (a.mode === 'SSWS') return [a.token];
  const parts = [a.raw, a.raw.replace(/\\n/g, '\n')];
  for (const k of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) {
    const v = a.privateJwk[k];
    if (typeof v === 'string') parts.push(v);
  }
  return [...new Set(parts)];
}

function parseOrgUrl(value: string | null): string {
  if (value === null)
    return fail("OKTA_ORG_URL is not set: set it to your org's address, e.g. https://example.okta.com.");
  let url: URL;
  try {
    url = new URL(value!);
  } catch {
    return fail("OKTA_ORG_URL is not a valid URL: use the org's address, e.g. https://example.okta.com.");
  }
  if (url.username !== '' || url.password !== '')
    fail('OKTA_ORG_URL must not contain a user name or password.');
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail('OKTA_ORG_URL must start with https://.');
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    fail('OKTA_ORG_URL uses http:// for a host that is not loopback: use https://.');
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') {
    fail(
      "OKTA_ORG_URL must be the org's base address, without a path or query (e.g. https://example.okta.com).",
    );
  }
  if (/-admin\.(okta|oktapreview|okta-emea)\.com$/i.test(url.hostname)) {
    fail('OKTA_ORG_URL points at the admin console: drop "-admin" from the host name.');
  }
  return url.origin;
}

/** Loopback hosts: localhost, 127.0.0.0/8 and ::1. */
export function isLoopback(hostname: string): boolean {
  const h = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1' || h === '0:0:0:0:0:0:0:1';
}

function parseScopes(value: string | null): string[] {
  if (value === null) return [...OKTA_SYNC_SCOPES];
  const scopes = value.split(/[\s,]+/).filter((s) => s !== '');
  if (scopes.length === 0 || scopes.some((s) => !/^[A-Za-z0-9._:-]+$/.test(s))) {
    fail('OKTA_SCOPES must list scope names separated by spaces, e.g. "okta.users.read okta.groups.read".');
  }
  return [...new Set(scopes)];
}

/**
 * Accepts a PEM (PKCS#1 or PKCS#8 RSA; literal "\n" sequences from a
 * one-line env value are turned back into newlines) or a JWK as JSON. The key
 * is handed to the SDK as a JWK so its own PEM parsing never sees odd formats.
 */
function parsePrivateKey(value: string): { jwk: JsonWebKey; kid: string | null } {
  let key: KeyObject;
  let kid: string | null = null;
  if (value.startsWith('{')) {
    let jwk: JsonWebKey & { kid?: unknown };
    try {
      jwk = JSON.parse(value) as JsonWebKey & { kid?: unknown };
    } catch {
      return fail('OKTA_PRIVATE_KEY looks like a JWK but is not valid JSON.');
    }
    if (typeof jwk.d !== 'string')
      fail('OKTA_PRIVATE_KEY is a public JWK: give the private key (with its "d" member).');
    try {
      key = createPrivateKey({ key: jwk, format: 'jwk' });
    } catch {
      return fail('OKTA_PRIVATE_KEY is not a usable private JWK.');
    }
    kid = typeof jwk.kid === 'string' && jwk.kid !== '' ? jwk.kid : null;
  } else {
    const pem = value.replace(/\\n/g, '\n');
    if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
      fail('OKTA_PRIVATE_KEY is neither a PEM private key (-----BEGIN PRIVATE KEY-----) nor a JWK.');
    }
    if (/ENCRYPTED/.test(pem))
      fail('OKTA_PRIVATE_KEY is an encrypted PEM key: give the key without a passphrase.');
    try {
      key = createPrivateKey({ key: pem, format: 'pem' });
    } catch {
      return fail('OKTA_PRIVATE_KEY is not a readable PEM private key.');
    }
  }
  // The SDK signs the DPoP proof on every token request with RS256, so an EC key cannot work.
  if (key.asymmetricKeyType !== 'rsa') fail('OKTA_PRIVATE_KEY must be an RSA key.');
  return { jwk: key.export({ format: 'jwk' }), kid };
}
