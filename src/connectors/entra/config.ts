import { createHash, createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isLoopback } from '../okta/config.js';
import { ConnectorError, type SettingSpec, type SettingsSource } from '../types.js';

/** How the app signs in: a client secret, or a certificate whose private key signs an assertion. */
export type EntraCredential =
  | {
      kind: 'secret';
      /** AZURE_CLIENT_SECRET. Secret. */
      secret: string;
    }
  | {
      kind: 'certificate';
      /** The private key from AZURE_CLIENT_CERTIFICATE_PATH. Secret. */
      key: KeyObject;
      /** Base64url SHA-1 thumbprint of the certificate (the assertion's `x5t`). */
      x5t: string;
      /** The certificate (DER, base64) when AZURE_CLIENT_SEND_CERTIFICATE_CHAIN is true (the assertion's `x5c`). */
      x5c: string | null;
      /** The key's PEM block and the password as given, kept only so they can be redacted. Secret. */
      raw: string[];
    };

/** Entra settings, validated. */
export interface EntraConfig {
  /** The directory (tenant) id or a verified domain (AZURE_TENANT_ID). */
  tenantId: string;
  /** The app registration's application (client) id (AZURE_CLIENT_ID). */
  clientId: string;
  credential: EntraCredential;
  /** Where tokens come from, without a trailing slash (AZURE_AUTHORITY_HOST). */
  authorityHost: string;
  /** Microsoft Graph's origin (GRAPH_BASE_URL); tokens are asked for `{origin}/.default`. */
  graphBaseUrl: string;
  /**
   * Who removes revoked access of an Entra access review's items: `review` (default), the
   * review itself when it applies its decisions; `direct`, Attest at once (ENTRA_REMEDIATION).
   * Items of other campaigns are always removed by Attest.
   */
  remediation: 'review' | 'direct';
}

export const ENTRA_VARIABLES: SettingSpec[] = [
  { name: 'AZURE_TENANT_ID', key: 'tenantId', secret: false, describe: 'the directory (tenant) id' },
  { name: 'AZURE_CLIENT_ID', key: 'clientId', secret: false, describe: "the app registration's client id" },
  { name: 'AZURE_CLIENT_SECRET', key: 'clientSecret', secret: true, describe: 'a client secret' },
  {
    name: 'AZURE_CLIENT_CERTIFICATE_PATH',
    key: 'clientCertificatePath',
    secret: false,
    describe: 'instead of a secret: a PEM file with the private key and the certificate',
  },
  {
    name: 'AZURE_CLIENT_CERTIFICATE_PASSWORD',
    key: 'clientCertificatePassword',
    secret: true,
    describe: 'the password of an encrypted private key in that file',
  },
  {
    name: 'AZURE_CLIENT_SEND_CERTIFICATE_CHAIN',
    key: 'sendCertificateChain',
    secret: false,
    describe: 'true: send the certificate with each assertion (subject name / issuer authentication)',
  },
  { name: 'AZURE_AUTHORITY_HOST', key: 'authorityHost', secret: false, describe: 'the sign-in host' },
  { name: 'GRAPH_BASE_URL', key: 'graphBaseUrl', secret: false, describe: "Microsoft Graph's address" },
  {
    name: 'ENTRA_REMEDIATION',
    key: 'remediation',
    secret: false,
    describe: 'review (default: the access review applies its decisions) or direct (Attest removes access)',
  },
];

/** Variables whose presence means "Entra is meant to be configured". */
export const ENTRA_IDENTIFYING = [
  'AZURE_TENANT_ID',
  'AZURE_CLIENT_ID',
  'AZURE_CLIENT_SECRET',
  'AZURE_CLIENT_CERTIFICATE_PATH',
];

const fail = (message: string): never => {
  throw new ConnectorError(message, 'config');
};

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/**
 * Reads the AZURE_* variables, GRAPH_BASE_URL and ENTRA_REMEDIATION. Throws a
 * ConnectorError('config') that names the variable at fault; messages never contain a
 * secret value (nor the contents of the certificate file).
 */
export function parseEntraConfig(env: SettingsSource): EntraConfig {
  const get = (name: string) => {
    const v = env[name]?.trim();
    return v === undefined || v === '' ? null : v;
  };
  const tenantId =
    get('AZURE_TENANT_ID') ?? fail('AZURE_TENANT_ID is not set: give the directory (tenant) id.');
  if (!GUID.test(tenantId) && !DOMAIN.test(tenantId))
    fail(
      'AZURE_TENANT_ID must be a directory id (a GUID) or a verified domain such as contoso.onmicrosoft.com.',
    );
  const clientId =
    get('AZURE_CLIENT_ID') ??
    fail("AZURE_CLIENT_ID is not set: give the app registration's application (client) id.");
  if (!GUID.test(clientId)) fail('AZURE_CLIENT_ID must be the application (client) id, a GUID.');
  const secret = get('AZURE_CLIENT_SECRET');
  const certPath = get('AZURE_CLIENT_CERTIFICATE_PATH');
  if (secret !== null && certPath !== null)
    fail(
      'Both AZURE_CLIENT_SECRET and AZURE_CLIENT_CERTIFICATE_PATH are set: keep only one way of signing in.',
    );
  if (secret === null && certPath === null)
    fail(
      'Neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH is set: give the app a client secret or a certificate.',
    );
  if (secret !== null && /\s/.test(secret))
    fail('AZURE_CLIENT_SECRET contains spaces: paste only the secret value.');
  const credential: EntraCredential =
    secret !== null
      ? { kind: 'secret', secret }
      : readCertificate(
          certPath!,
          get('AZURE_CLIENT_CERTIFICATE_PASSWORD'),
          parseBool(get('AZURE_CLIENT_SEND_CERTIFICATE_CHAIN'), 'AZURE_CLIENT_SEND_CERTIFICATE_CHAIN'),
        );
  const mode = get('ENTRA_REMEDIATION') ?? 'review';
  if (mode !== 'review' && mode !== 'direct') fail('ENTRA_REMEDIATION must be review or direct.');
  return {
    tenantId,
    clientId,
    credential,
    authorityHost: parseBase(
      get('AZURE_AUTHORITY_HOST') ?? 'https://login.microsoftonline.com',
      'AZURE_AUTHORITY_HOST',
    ),
    graphBaseUrl: parseBase(get('GRAPH_BASE_URL') ?? 'https://graph.microsoft.com', 'GRAPH_BASE_URL'),
    remediation: mode as EntraConfig['remediation'],
  };
}

/** Every secret value in a config, in each form it could appear, for redaction. */
export function entraSecrets(config: EntraConfig): string[] {
  const c = config.credential;
  if (c.kind === 'secret') return [c.secret];
  return [
    ...new Set(
      c.raw.flatMap((r) => [
        r,
        ...r
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l.length >= 16),
      ]),
    ),
  ];
}

function parseBool(value: string | null, name: string): boolean {
  if (value === null) return false;
  if (['true', '1'].includes(value.toLowerCase())) return true;
  if (['false', '0'].includes(value.toLowerCase())) return false;
  return fail(`${name} must be true or false.`);
}

function parseBase(value: string, name: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail(`${name} is not a valid URL: use an address such as https://graph.microsoft.com.`);
  }
  if (url.username !== '' || url.password !== '') fail(`${name} must not contain a user name or password.`);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') fail(`${name} must start with https://.`);
  if (url.protocol === 'http:' && !isLoopback(url.hostname))
    fail(`${name} uses http:// for a host that is not loopback: use https://.`);
  // The Graph SDK sends the token only over https (and mangles http:// next links).
  if (url.protocol === 'http:' && name === 'GRAPH_BASE_URL')
    fail('GRAPH_BASE_URL must use https://, also on loopback: the Graph SDK sends no token over http.');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '')
    fail(`${name} must be the bare address, without a path or query.`);
  return url.origin;
}

function readCertificate(path: string, password: string | null, sendChain: boolean): EntraCredential {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    return fail(
      `AZURE_CLIENT_CERTIFICATE_PATH cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}): give a PEM file with the private key and the certificate.`,
    );
  }
  const keyBlock =
    /-----BEGIN (?:ENCRYPTED |RSA )?PRIVATE KEY-----[\s\S]+?-----END (?:ENCRYPTED |RSA )?PRIVATE KEY-----/.exec(
      text,
    )?.[0];
  const certBlock = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(text)?.[0];
  if (!keyBlock)
    fail(
      'AZURE_CLIENT_CERTIFICATE_PATH holds no PEM private key: the file needs the key and the certificate.',
    );
  if (!certBlock)
    fail(
      'AZURE_CLIENT_CERTIFICATE_PATH holds no PEM certificate: the file needs the key and the certificate.',
    );
  if (/ENCRYPTED/.test(keyBlock!) && password === null)
    fail('The key in AZURE_CLIENT_CERTIFICATE_PATH is encrypted: set AZURE_CLIENT_CERTIFICATE_PASSWORD.');
  let key: KeyObject;
  try {
    key = createPrivateKey(password === null ? keyBlock! : { key: keyBlock!, passphrase: password });
  } catch {
    return fail(
      'The private key in AZURE_CLIENT_CERTIFICATE_PATH cannot be read' +
        (password === null ? '.' : ': check AZURE_CLIENT_CERTIFICATE_PASSWORD.'),
    );
  }
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certBlock!);
  } catch {
    return fail('The certificate in AZURE_CLIENT_CERTIFICATE_PATH cannot be read.');
  }
  if (key.asymmetricKeyType !== 'rsa') fail('The key in AZURE_CLIENT_CERTIFICATE_PATH must be an RSA key.');
  if (!cert.checkPrivateKey(key))
    fail('The private key in AZURE_CLIENT_CERTIFICATE_PATH does not belong to its certificate.');
  return {
    kind: 'certificate',
    key,
    x5t: createHash('sha1').update(cert.raw).digest('base64url'),
    x5c: sendChain ? cert.raw.toString('base64') : null,
    raw: [keyBlock!, ...(password === null ? [] : [password])],
  };
}
