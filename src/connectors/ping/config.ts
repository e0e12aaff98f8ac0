import { createPrivateKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isLoopback } from '../okta/config.js';
import { ConnectorError, type SettingSpec, type SettingsSource } from '../types.js';

/** PingOne regions and the top-level domain of their hosts (api.pingone.<tld>, auth.pingone.<tld>). */
export const PINGONE_REGIONS = ['com', 'eu', 'ca', 'asia', 'com.au'] as const;
export type PingOneRegion = (typeof PINGONE_REGIONS)[number];

/** The user fields Attest reads from a PingOne user, and the attribute path (or paths) each comes from. */
export const MAPPED_FIELDS = [
  'department',
  'title',
  'manager',
  'employee_type',
  'location',
  'hired_at',
  'terminated_at',
  'contract_end',
] as const;
export type MappedField = (typeof MAPPED_FIELDS)[number];
/** Field → attribute paths (dot-separated, e.g. `address.locality`); several paths are joined with ", ". */
export type AttributeMap = Record<MappedField, string[]>;

/**
 * Where each field comes from by default: `title` and `type` are PingOne standard attributes;
 * `department` and `manager` are custom attributes most environments add under these names
 * (PingOne has no standard department or manager attribute); the location is the standard address.
 */
export const DEFAULT_ATTRIBUTES: AttributeMap = {
  department: ['department'],
  title: ['title'],
  manager: ['manager'],
  employee_type: ['type'],
  location: ['address.locality', 'address.countryCode'],
  hired_at: [],
  terminated_at: [],
  contract_end: [],
};

/** The PingOne directory (Platform API), read with a Worker app's client credentials. */
export interface PingOneConfig {
  /** PINGONE_ENVIRONMENT_ID. */
  environmentId: string;
  /** The Worker app's client id (PINGONE_CLIENT_ID). */
  clientId: string;
  /** The Worker app's client secret (PINGONE_CLIENT_SECRET). Secret. */
  clientSecret: string;
  /** The Platform API's base, e.g. https://api.pingone.eu/v1 (PINGONE_REGION, or PINGONE_API_URL). */
  apiBase: string;
  /** The auth host, e.g. https://auth.pingone.eu; tokens come from `{authBase}/{environmentId}/as/token`. */
  authBase: string;
  /** Where department, title, manager and the rest come from (PINGONE_ATTRIBUTES, JSON). */
  attributes: AttributeMap;
  /**
   * Whether the sync makes an Attest campaign of the directory's direct access, for
   * environments reviewed in Attest rather than in Advanced Identity Cloud (PINGONE_REVIEW_CAMPAIGN):
   * `auto` (default) when no PINGAIC_* set is configured, `on`, `off`.
   */
  reviewCampaign: 'auto' | 'on' | 'off';
  /** Days of audit activities (sign-ons) a first sync reads (PINGONE_AUDIT_DAYS, 1–90, default 14). */
  auditDays: number;
}

/** PingOne Advanced Identity Cloud governance, read and decided with a service account. */
export interface PingAicConfig {
  /** https://<tenant-fqdn> (PINGAIC_TENANT_URL), without a trailing slash. */
  tenantUrl: string;
  /** The service account's id (PINGAIC_SERVICE_ACCOUNT_ID): the assertion's issuer and subject. */
  serviceAccountId: string;
  /** The service account's private key (PINGAIC_SERVICE_ACCOUNT_KEY, a JWK or PEM). Secret. */
  key: KeyObject;
  /** The JWK's `kid`, sent in the assertion header when there is one. */
  keyId: string | null;
  /** Scopes asked for (PINGAIC_SCOPES, default `fr:iga:* fr:idm:*`). */
  scopes: string[];
  /**
   * How an item's user is matched to a PingOne user when both sets are configured
   * (PINGAIC_JOIN): `username` (default: AIC `userName` = PingOne `username`) or `email`
   * (AIC `mail` = PingOne `email`), compared without case.
   */
  joinKey: 'username' | 'email';
  /**
   * Who removes revoked access of a certification item (PINGAIC_REMEDIATION): `certification`
   * (default), the certification's own remediation; `direct`, Attest in PingOne, for items
   * joined to the PingOne directory.
   */
  remediation: 'certification' | 'direct';
  /** The key as given, and its private members, only so they can be redacted. Secret. */
  raw: string[];
}

/** Ping settings: each surface is configured in full or not at all; at least one is. */
export interface PingConfig {
  pingone: PingOneConfig | null;
  aic: PingAicConfig | null;
}

export const PING_VARIABLES: SettingSpec[] = [
  { name: 'PINGONE_ENVIRONMENT_ID', key: 'environmentId', secret: false, describe: "the environment's id" },
  { name: 'PINGONE_CLIENT_ID', key: 'clientId', secret: false, describe: "a Worker app's client id" },
  { name: 'PINGONE_CLIENT_SECRET', key: 'clientSecret', secret: true, describe: "the Worker app's secret" },
  {
    name: 'PINGONE_REGION',
    key: 'region',
    secret: false,
    describe: 'com (default), eu, ca, asia or com.au',
  },
  { name: 'PINGONE_API_URL', key: 'apiUrl', secret: false, describe: 'instead of a region: the API host' },
  {
    name: 'PINGONE_AUTH_URL',
    key: 'authUrl',
    secret: false,
    describe: 'with PINGONE_API_URL: the auth host',
  },
  {
    name: 'PINGONE_ATTRIBUTES',
    key: 'attributes',
    secret: false,
    describe: 'JSON: which user attributes hold department, title, manager, employee_type, location…',
  },
  {
    name: 'PINGONE_AUDIT_DAYS',
    key: 'auditDays',
    secret: false,
    describe: 'days of sign-ons a first sync reads from the audit log (default 14)',
  },
  {
    name: 'PINGONE_REVIEW_CAMPAIGN',
    key: 'reviewCampaign',
    secret: false,
    describe: 'auto (default), on or off: an Attest campaign of the directory’s direct access',
  },
  { name: 'PINGAIC_TENANT_URL', key: 'tenantUrl', secret: false, describe: 'https://<tenant-fqdn>' },
  {
    name: 'PINGAIC_SERVICE_ACCOUNT_ID',
    key: 'serviceAccountId',
    secret: false,
    describe: "a service account's id",
  },
  {
    name: 'PINGAIC_SERVICE_ACCOUNT_KEY',
    key: 'serviceAccountKey',
    secret: true,
    describe: "the service account's private key (JWK or PEM)",
  },
  { name: 'PINGAIC_SCOPES', key: 'scopes', secret: false, describe: 'scopes (default fr:iga:* fr:idm:*)' },
  {
    name: 'PINGAIC_JOIN',
    key: 'join',
    secret: false,
    describe: 'username (default) or email: how items match PingOne users',
  },
  {
    name: 'PINGAIC_REMEDIATION',
    key: 'remediation',
    secret: false,
    describe: 'certification (default) or direct: who removes revoked access',
  },
];

const PINGONE_REQUIRED = ['PINGONE_ENVIRONMENT_ID', 'PINGONE_CLIENT_ID', 'PINGONE_CLIENT_SECRET'];
const AIC_REQUIRED = ['PINGAIC_TENANT_URL', 'PINGAIC_SERVICE_ACCOUNT_ID', 'PINGAIC_SERVICE_ACCOUNT_KEY'];
export const DEFAULT_AIC_SCOPES = ['fr:iga:*', 'fr:idm:*'];

const fail = (message: string): never => {
  throw new ConnectorError(message, 'config');
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Whether any variable of the PINGONE_* or PINGAIC_* set is given. */
export function pingConfigured(env: SettingsSource): boolean {
  return PING_VARIABLES.some((v) => env[v.name]?.trim());
}

/**
 * Reads the PINGONE_* and PINGAIC_* variables. Each set is complete or absent: a set with
 * some of its variables but not its three required ones is refused, naming what is missing.
 * Throws ConnectorError('config') naming the variable at fault, never its value.
 */
export function parsePingConfig(env: SettingsSource): PingConfig {
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? null : v;
  };
  const has = (prefix: string) =>
    PING_VARIABLES.some((v) => v.name.startsWith(prefix) && get(v.name) !== null);
  const pingone = has('PINGONE_') ? parsePingOne(get) : null;
  const aic = has('PINGAIC_') ? parseAic(get) : null;
  if (pingone === null && aic === null)
    fail(
      `Ping is not configured: set ${PINGONE_REQUIRED.join(', ')} (the PingOne directory) or ${AIC_REQUIRED.join(', ')} (Advanced Identity Cloud certifications).`,
    );
  return { pingone, aic };
}

type Get = (name: string) => string | null;

function requireAll(get: Get, names: string[], what: string): void {
  const missing = names.filter((n) => get(n) === null);
  if (missing.length > 0)
    fail(
      `${missing.join(' and ')} ${missing.length === 1 ? 'is' : 'are'} not set: ${what} needs ${names.join(', ')} together (or none of its variables).`,
    );
}

function parsePingOne(get: Get): PingOneConfig {
  requireAll(get, PINGONE_REQUIRED, 'the PingOne directory');
  const environmentId = get('PINGONE_ENVIRONMENT_ID')!;
  if (!UUID.test(environmentId)) fail("PINGONE_ENVIRONMENT_ID must be the environment's id, a UUID.");
  const clientId = get('PINGONE_CLIENT_ID')!;
  if (!UUID.test(clientId)) fail("PINGONE_CLIENT_ID must be the Worker app's client id, a UUID.");
  const clientSecret = get('PINGONE_CLIENT_SECRET')!;
  if (/\s/.test(clientSecret)) fail('PINGONE_CLIENT_SECRET contains spaces: paste only the secret value.');
  const region = get('PINGONE_REGION');
  const apiUrl = get('PINGONE_API_URL');
  const authUrl = get('PINGONE_AUTH_URL');
  let apiBase: string;
  let authBase: string;
  if (apiUrl !== null || authUrl !== null) {
    if (apiUrl === null || authUrl === null)
      fail(
        'PINGONE_API_URL and PINGONE_AUTH_URL go together: set both hosts, or neither and PINGONE_REGION.',
      );
    if (region !== null)
      fail('PINGONE_REGION and PINGONE_API_URL are both set: keep one way of naming the hosts.');
    apiBase = `${parseBase(apiUrl!, 'PINGONE_API_URL', ['', '/v1'])}/v1`;
    authBase = parseBase(authUrl!, 'PINGONE_AUTH_URL', ['']);
  } else {
    const r = (region ?? 'com').toLowerCase();
    if (!(PINGONE_REGIONS as readonly string[]).includes(r))
      fail(`PINGONE_REGION must be one of ${PINGONE_REGIONS.join(', ')}.`);
    apiBase = `https://api.pingone.${r}/v1`;
    authBase = `https://auth.pingone.${r}`;
  }
  const mode = (get('PINGONE_REVIEW_CAMPAIGN') ?? 'auto').toLowerCase();
  if (mode !== 'auto' && mode !== 'on' && mode !== 'off')
    fail('PINGONE_REVIEW_CAMPAIGN must be auto, on or off.');
  const days = get('PINGONE_AUDIT_DAYS') ?? '14';
  if (!/^\d{1,2}$/.test(days) || Number(days) < 1 || Number(days) > 90)
    fail('PINGONE_AUDIT_DAYS must be a whole number of days from 1 to 90.');
  return {
    environmentId,
    clientId,
    clientSecret,
    apiBase,
    authBase,
    attributes: parseAttributes(get('PINGONE_ATTRIBUTES')),
    reviewCampaign: mode as PingOneConfig['reviewCampaign'],
    auditDays: Number(days),
  };
}

const PATH = /^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$/;

function parseAttributes(raw: string | null): AttributeMap {
  const out: AttributeMap = { ...DEFAULT_ATTRIBUTES };
  if (raw === null) return out;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail('PINGONE_ATTRIBUTES is not valid JSON: give an object such as {"department": "costCenter"}.');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    fail('PINGONE_ATTRIBUTES must be a JSON object of field to attribute path.');
  for (const [k, v] of Object.entries(parsed as Record<string, unknown>)) {
    if (!(MAPPED_FIELDS as readonly string[]).includes(k))
      fail(`PINGONE_ATTRIBUTES names an unknown field "${k.slice(0, 40)}": use ${MAPPED_FIELDS.join(', ')}.`);
    const paths = v === null ? [] : Array.isArray(v) ? v : [v];
    if (!paths.every((p) => typeof p === 'string' && PATH.test(p)))
      fail(
        `PINGONE_ATTRIBUTES.${k} must be an attribute path such as "department" or "address.locality" (or a list of them, or null).`,
      );
    out[k as MappedField] = paths as string[];
  }
  return out;
}

function parseAic(get: Get): PingAicConfig {
  requireAll(get, AIC_REQUIRED, 'Advanced Identity Cloud');
  const tenantUrl = parseBase(get('PINGAIC_TENANT_URL')!, 'PINGAIC_TENANT_URL', ['']);
  const serviceAccountId = get('PINGAIC_SERVICE_ACCOUNT_ID')!;
  if (!/^[A-Za-z0-9._-]{1,128}$/.test(serviceAccountId))
    fail("PINGAIC_SERVICE_ACCOUNT_ID must be the service account's id (letters, digits, - and _).");
  const rawKey = get('PINGAIC_SERVICE_ACCOUNT_KEY')!;
  const { key, keyId, secrets } = parseKey(rawKey);
  const scopesText = get('PINGAIC_SCOPES');
  const scopes = scopesText === null ? [...DEFAULT_AIC_SCOPES] : scopesText.split(/[\s,]+/).filter(Boolean);
  if (scopes.length === 0 || scopes.some((s) => !/^[A-Za-z0-9:*._-]+$/.test(s)))
    fail('PINGAIC_SCOPES must list scopes separated by spaces, e.g. "fr:iga:* fr:idm:*".');
  if (!scopes.some((s) => s === 'fr:iga:*' || s.startsWith('fr:iga:')))
    fail('PINGAIC_SCOPES must include fr:iga:* (or an fr:iga: scope): certifications are read with it.');
  const join = (get('PINGAIC_JOIN') ?? 'username').toLowerCase();
  if (join !== 'username' && join !== 'email') fail('PINGAIC_JOIN must be username or email.');
  const remediation = (get('PINGAIC_REMEDIATION') ?? 'certification').toLowerCase();
  if (remediation !== 'certification' && remediation !== 'direct')
    fail('PINGAIC_REMEDIATION must be certification or direct.');
  return {
    tenantUrl,
    serviceAccountId,
    key,
    keyId,
    scopes,
    joinKey: join as PingAicConfig['joinKey'],
    remediation: remediation as PingAicConfig['remediation'],
    raw: secrets,
  };
}

/** The key as a KeyObject, from a JWK (JSON) or a PEM block (PKCS#8 or PKCS#1; `\n` escapes allowed). */
function parseKey(raw: string): { key: KeyObject; keyId: string | null; secrets: string[] } {
  const secrets = [raw];
  let key: KeyObject;
  let keyId: string | null = null;
  if (raw.startsWith('{')) {
    let jwk: JsonWebKey & { kid?: unknown };
    try {
      jwk = JSON.parse(raw) as JsonWebKey & { kid?: unknown };
    } catch {
      return fail(
        'PINGAIC_SERVICE_ACCOUNT_KEY looks like JSON but does not parse: give the JWK as downloaded.',
      );
    }
    for (const k of ['d', 'p', 'q', 'dp', 'dq', 'qi'] as const) {
      const v = jwk[k];
      if (typeof v === 'string' && v.length >= 16) secrets.push(v);
    }
    if (jwk.kty !== 'RSA' || typeof jwk.d !== 'string')
      fail(
        'PINGAIC_SERVICE_ACCOUNT_KEY must be an RSA private key (a JWK with "d"): the public key cannot sign.',
      );
    try {
      key = createPrivateKey({ key: jwk, format: 'jwk' });
    } catch {
      return fail('PINGAIC_SERVICE_ACCOUNT_KEY is not a usable RSA private JWK.');
    }
    keyId = typeof jwk.kid === 'string' && jwk.kid !== '' ? jwk.kid : null;
  } else {
    const pem = raw.replace(/\\n/g, '\n');
    if (pem !== raw) secrets.push(pem);
    for (const line of pem.split('\n'))
      if (line.trim().length >= 16 && !line.startsWith('-----')) secrets.push(line.trim());
    if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(pem))
      fail(
        'PINGAIC_SERVICE_ACCOUNT_KEY must be a JWK or a PEM private key (BEGIN PRIVATE KEY); encrypted keys are not supported.',
      );
    try {
      key = createPrivateKey(pem);
    } catch {
      return fail('PINGAIC_SERVICE_ACCOUNT_KEY holds a PEM block that is not a readable private key.');
    }
  }
  if (key.asymmetricKeyType !== 'rsa')
    fail('PINGAIC_SERVICE_ACCOUNT_KEY must be an RSA key (the assertion is RS256).');
  return { key, keyId, secrets: [...new Set(secrets)] };
}

/** An https:// origin (http:// only for loopback), optionally followed by one of the allowed paths. */
function parseBase(value: string, name: string, paths: string[]): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`${name} is not a valid URL: give an address such as https://example.com.`);
  }
  if (url.username !== '' || url.password !== '') fail(`${name} must not contain a user name or password.`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(`${name} must start with https://.`);
  if (url.protocol === 'http:' && !isLoopback(url.hostname))
    fail(`${name} uses http:// for a host that is not loopback: use https://.`);
  const path = url.pathname.replace(/\/+$/, '');
  if (!paths.includes(path) || url.search !== '' || url.hash !== '')
    fail(
      `${name} must be the bare address${paths.includes('/v1') ? ' (optionally ending in /v1)' : ''}, without another path or a query.`,
    );
  return url.origin;
}

/** Every secret value in a config, in each form it could appear, for redaction. */
export function pingSecrets(config: PingConfig): string[] {
  const out: string[] = [];
  if (config.pingone) out.push(config.pingone.clientSecret);
  if (config.aic) out.push(...config.aic.raw);
  return [...new Set(out)];
}
