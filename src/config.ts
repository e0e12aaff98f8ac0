import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { z } from 'zod';
import { roleSchema } from './domain/principal.js';
import { automationPolicySchema } from './policy/automation.js';

/**
 * How much a confirmation channel proves. `human-verified`: a human authenticated apart from
 * the agent's credentials answered (the terminal on the server's machine, the console's own
 * sign-in). `host-attested`: the MCP host says it showed the form to a person (elicitation).
 */
export const assuranceSchema = z.enum(['host-attested', 'human-verified']);
export type Assurance = z.infer<typeof assuranceSchema>;

/** A rule that raises the assurance a batch needs when any of its items matches. */
export const confirmationRuleSchema = z
  .object({
    /** Decisions the rule applies to (any when left out). */
    decision: z.array(z.enum(['approve', 'revoke', 'escalate'])).optional(),
    /** Only items of privileged entitlements (true) or only unprivileged ones (false). */
    privileged: z.boolean().optional(),
    /** Platforms the rule applies to (any when left out). */
    platform: z.array(z.enum(['snapshot', 'okta', 'entra', 'ping'])).optional(),
    /** Only items with at least this risk score. */
    min_risk: z.number().min(0).max(100).optional(),
    /** Only entitlements of these sensitivities. */
    sensitivity: z.array(z.enum(['low', 'medium', 'high', 'critical'])).optional(),
    /** What a matching batch needs. */
    require: assuranceSchema,
  })
  .strict();
export type ConfirmationRule = z.infer<typeof confirmationRuleSchema>;

/** Which confirmation channels a write accepts. */
export const confirmationPolicySchema = z
  .object({
    /** Over stdio, started by a local host: elicitation is accepted by default. */
    stdio: assuranceSchema.default('host-attested'),
    /** Over HTTP: only a human-verified channel unless the token marks an interactive host. */
    http: assuranceSchema.default('human-verified'),
    /** Per principal, instead of the transport's default. */
    principals: z.record(z.string(), assuranceSchema).default({}),
    /** Per role, instead of the transport's default (a principal's own setting wins). */
    roles: z.partialRecord(z.enum(['admin', 'reviewer']), assuranceSchema).default({}),
    /** Rules that raise what a batch needs (e.g. revokes of privileged access need human-verified). */
    rules: z.array(confirmationRuleSchema).default([]),
  })
  .strict();
export type ConfirmationPolicy = z.infer<typeof confirmationPolicySchema>;

/** Signed checkpoints of the audit chain's head. */
export const auditCheckpointSchema = z
  .object({
    /** Ed25519 private key (PEM), kept outside the store (attest audit keygen). */
    keyFile: z.string().min(1),
    /** A file the server appends to, or an https:// URL that receives each checkpoint as JSON. */
    sink: z.string().min(1),
    /** A checkpoint every this many entries. */
    every: z.number().int().min(1).max(1_000_000).default(1000),
  })
  .strict();

/** http:// is accepted only for loopback hosts (tests, a local IdP); everything else must be https://. */
function httpsOrLoopback(u: string): boolean {
  try {
    const url = new URL(u);
    if (url.protocol === 'https:') return true;
    return url.protocol === 'http:' && ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
  } catch {
    return false;
  }
}
const secureUrl = z
  .string()
  .refine(httpsOrLoopback, 'must be an https:// URL (http:// only for a loopback host)');

/** Which scopes or groups of an access token grant a role. Any one of them is enough. */
export const roleGrantSchema = z
  .object({
    /** Scopes (the `scope` or `scp` claim), e.g. `attest.review`. */
    scopes: z.array(z.string().min(1)).default([]),
    /** Group names or ids in the groups claim (Okta group names, Entra group object ids or app roles). */
    groups: z.array(z.string().min(1)).default([]),
  })
  .strict();

/**
 * OAuth 2.1 for HTTP: Attest as a resource server accepting JWT access tokens from the
 * organisation's identity provider (Okta, Entra ID, PingOne, any OIDC issuer), besides the
 * static tokens of `attest token create`.
 */
export const oauthSchema = z
  .object({
    /** The issuer exactly as the IdP writes it in `iss` (e.g. https://acme.okta.com/oauth2/default). */
    issuer: secureUrl,
    /**
     * This server's public MCP URL, its RFC 8707 resource identifier (e.g. https://attest.example.com/mcp).
     * Default: the URL the server listens on.
     */
    resource: secureUrl.optional(),
    /** `aud` values accepted; default: the resource URL alone. A token for any other audience is refused. */
    audience: z.array(z.string().min(1)).min(1).optional(),
    /** The IdP's key set; default: `jwks_uri` from the issuer's OpenID Connect or OAuth metadata. */
    jwksUri: secureUrl.optional(),
    /** Signature algorithms accepted (never `none`, never HMAC). */
    algorithms: z
      .array(
        z.enum(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']),
      )
      .min(1)
      .default(['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA']),
    /** The claim naming the principal (audit, policy, `principals`): `sub`, `email`, `preferred_username`, `upn`… */
    principalClaim: z.string().min(1).default('sub'),
    /** The claim listing the user's groups (or Entra app roles: `roles`). */
    groupsClaim: z.string().min(1).default('groups'),
    /** Which scopes or groups make a token an admin or a reviewer; admin wins when both match. */
    roles: z
      .object({
        admin: roleGrantSchema.default({ scopes: [], groups: [] }),
        reviewer: roleGrantSchema.default({ scopes: [], groups: [] }),
      })
      .strict()
      .default({ admin: { scopes: [], groups: [] }, reviewer: { scopes: [], groups: [] } }),
    /**
     * The claim holding the reviewer ids the store knows the user by (e.g. Okta `uid`, Entra `oid`),
     * for reviewers. A `principals` entry for the principal wins over it.
     */
    reviewerIdsClaim: z.string().min(1).optional(),
    /** OAuth client ids (`client_id`, `azp`, `appid` or `cid`) whose tokens come from an interactive host. */
    interactiveClients: z.array(z.string().min(1)).default([]),
    /** Clock skew tolerated on `exp` and `nbf`, in seconds. */
    clockToleranceSeconds: z.number().int().min(0).max(300).default(30),
    /** How long the IdP's keys are cached, in minutes. */
    jwksCacheMinutes: z
      .number()
      .min(1)
      .max(24 * 60)
      .default(10),
    /**
     * A token signed by a key not in the cache refetches the keys (a rotation), at most once
     * in this many seconds, so unknown key ids cannot make Attest hammer the IdP.
     */
    jwksCooldownSeconds: z.number().min(0).max(3600).default(30),
  })
  .strict()
  .refine(
    (o) =>
      o.roles.admin.scopes.length +
        o.roles.admin.groups.length +
        o.roles.reviewer.scopes.length +
        o.roles.reviewer.groups.length >
      0,
    { message: 'map at least one scope or group to admin or reviewer', path: ['roles'] },
  );
export type OAuthConfig = z.infer<typeof oauthSchema>;

export const principalEntrySchema = z.object({
  /** admin sees and decides every item; reviewer only the items whose reviewer_id is one of `reviewer_ids`. */
  role: roleSchema,
  /** Store user ids (or reviewer ids as imported) this principal reviews as. */
  reviewer_ids: z.array(z.string()).default([]),
});
export type PrincipalEntry = z.infer<typeof principalEntrySchema>;

export const configSchema = z
  .object({
    /** Path of the SQLite store. */
    db: z.string().min(1).default('attest.db'),
    /** Serve the generated demo tenant, building it when the store is empty. */
    demo: z.boolean().default(false),
    /** Users in the generated demo tenant. */
    demoUsers: z.number().int().min(1).max(200_000).default(2000),
    /** Streamable HTTP port; unset means stdio. 0 picks a free port. */
    httpPort: z.number().int().min(0).max(65535).optional(),
    /** Interface to bind the HTTP transport to. Loopback unless you really mean otherwise. */
    httpHost: z.string().default('127.0.0.1'),
    /** Extra Origin values accepted on HTTP (the server's own loopback origins are always accepted). */
    allowedOrigins: z.array(z.string()).default([]),
    /** Extra Host header values accepted on HTTP. */
    allowedHosts: z.array(z.string()).default([]),
    /** Write tools are not listed and their handlers refuse. Nothing overrides it. */
    readOnly: z.boolean().default(false),
    /** Who runs the server over stdio (e.g. their e-mail); recorded in every audit entry. */
    principal: z.string().min(1).default('local-analyst'),
    /** Roles and reviewer mapping per principal; a principal not listed is an admin over stdio. */
    principals: z.record(z.string(), principalEntrySchema).default({}),
    /** File of HTTP bearer tokens (JSON lines written by `attest token create`), in addition to tokens in the store. */
    tokensFile: z.string().optional(),
    /** Days without use after which access is dormant. */
    dormantDays: z.number().int().min(1).max(3650).default(90),
    /** The analysis date (ISO 8601); default now. */
    asOf: z.string().optional(),
    /** How long a pending confirmation stays valid, in hours. */
    confirmationTtlHours: z
      .number()
      .min(0.001)
      .max(24 * 30)
      .default(24),
    /** How long to wait for a human to answer an elicitation, in seconds. */
    elicitationTimeoutSeconds: z.number().min(0.01).max(3600).default(600),
    /** pino log level on stderr. */
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Refresh from the configured platform every this many minutes while serving (0 = off). */
    syncIntervalMinutes: z.number().min(0).default(0),
    /** Which confirmation channels writes accept, per transport, principal, role and item. */
    confirmation: confirmationPolicySchema.default(() => confirmationPolicySchema.parse({})),
    /** Signed checkpoints of the audit log (off unless set). */
    auditCheckpoints: auditCheckpointSchema.optional(),
    /** An HTTP session closes after this many idle minutes. */
    httpSessionIdleMinutes: z
      .number()
      .min(0.01)
      .max(24 * 60)
      .default(30),
    /** An HTTP session closes this many hours after it opened, however busy. */
    httpSessionMaxHours: z
      .number()
      .min(0.001)
      .max(24 * 7)
      .default(12),
    /** Open HTTP sessions per principal; opening one more closes that principal's least recently used. */
    httpSessionsPerPrincipal: z.number().int().min(1).max(1000).default(16),
    /**
     * The console's base URL (e.g. http://127.0.0.1:3334/console) when it is served by another
     * process (attest console beside a stdio server); `serve --http` serves its own at /console.
     */
    consoleUrl: z.string().url().optional(),
    /** The reviewer an escalated item goes to when neither its entitlement nor its app has an owner. */
    escalationReviewer: z.string().min(1).optional(),
    /** Let a reviewer decide on their own access (refused by default: nobody certifies themselves). */
    allowSelfReview: z.boolean().default(false),
    /**
     * How long a 2026-07-28 client has to bring the human's answer back (the requestState's
     * lifetime), in seconds.
     */
    requestStateTtlSeconds: z.number().min(1).max(3600).default(600),
    /**
     * Where a human confirms a pending batch through a human-verified channel, `{id}` standing
     * for the confirmation id (e.g. the console's page). Unset: hosts are sent to no URL and the
     * result names the `attest confirm` command.
     */
    confirmationUrl: secureUrl
      .refine((u) => u.includes('{id}'), 'must contain {id} (the confirmation id)')
      .optional(),
    /** OAuth 2.1 resource server for HTTP: tokens from the organisation's identity provider. */
    oauth: oauthSchema.optional(),
    /** How long an outbox worker holds a claimed row before another worker may take it over. */
    outboxLeaseSeconds: z
      .number()
      .min(1)
      .max(24 * 3600)
      .default(300),
    /**
     * Connector settings per platform (e.g. `{"entra": {"remediation": "direct"}}`), by the
     * setting's key or its environment variable's name; the environment wins.
     */
    connectors: z.record(z.string(), z.record(z.string(), z.unknown())).default({}),
    /**
     * Phased automation: classes of review items and the mode of each (shadow, suggest, auto).
     * Unset: read from `policyFile`, else from a `policy.json` next to the config file, else none.
     */
    automation: automationPolicySchema.optional(),
    /** A JSON file holding the automation policy (the same shape as `automation`). */
    policyFile: z.string().min(1).optional(),
  })
  .strict();

/** The resolved configuration. */
export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Turns a zod error into one line per bad field. */
export function describeZodError(err: z.ZodError, prefix = ''): string {
  return err.issues
    .map((i) => {
      const path = [prefix, ...i.path.map(String)].filter((s) => s !== '').join('.');
      return `${path || '(input)'}: ${i.message}`;
    })
    .join('; ');
}

const envMap: Array<[string, keyof Config, 'string' | 'int' | 'bool' | 'number' | 'list' | 'json']> = [
  ['ATTEST_DB', 'db', 'string'],
  ['ATTEST_PRINCIPAL', 'principal', 'string'],
  ['ATTEST_READ_ONLY', 'readOnly', 'bool'],
  ['ATTEST_HTTP_HOST', 'httpHost', 'string'],
  ['ATTEST_ALLOWED_ORIGINS', 'allowedOrigins', 'list'],
  ['ATTEST_ALLOWED_HOSTS', 'allowedHosts', 'list'],
  ['ATTEST_TOKENS_FILE', 'tokensFile', 'string'],
  ['ATTEST_DORMANT_DAYS', 'dormantDays', 'int'],
  ['ATTEST_AS_OF', 'asOf', 'string'],
  ['ATTEST_CONFIRMATION_TTL_HOURS', 'confirmationTtlHours', 'number'],
  ['ATTEST_ELICITATION_TIMEOUT_SECONDS', 'elicitationTimeoutSeconds', 'number'],
  ['ATTEST_LOG_LEVEL', 'logLevel', 'string'],
  ['ATTEST_PRINCIPALS', 'principals', 'json'],
  ['ATTEST_CONFIRMATION', 'confirmation', 'json'],
  ['ATTEST_AUDIT_CHECKPOINTS', 'auditCheckpoints', 'json'],
  ['ATTEST_HTTP_SESSION_IDLE_MINUTES', 'httpSessionIdleMinutes', 'number'],
  ['ATTEST_HTTP_SESSION_MAX_HOURS', 'httpSessionMaxHours', 'number'],
  ['ATTEST_HTTP_SESSIONS_PER_PRINCIPAL', 'httpSessionsPerPrincipal', 'int'],
  ['ATTEST_OUTBOX_LEASE_SECONDS', 'outboxLeaseSeconds', 'number'],
  ['ATTEST_CONSOLE_URL', 'consoleUrl', 'string'],
  ['ATTEST_ESCALATION_REVIEWER', 'escalationReviewer', 'string'],
  ['ATTEST_ALLOW_SELF_REVIEW', 'allowSelfReview', 'bool'],
  ['ATTEST_REQUEST_STATE_TTL_SECONDS', 'requestStateTtlSeconds', 'number'],
  ['ATTEST_CONFIRMATION_URL', 'confirmationUrl', 'string'],
  ['ATTEST_OAUTH', 'oauth', 'json'],
  ['ATTEST_POLICY', 'policyFile', 'string'],
];

function fromEnv(env: Record<string, string | undefined>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, key, type] of envMap) {
    const raw = env[name];
    if (raw === undefined || raw === '') continue;
    switch (type) {
      case 'string':
        out[key] = raw;
        break;
      case 'int':
      case 'number': {
        const n = Number(raw);
        if (!Number.isFinite(n)) throw new ConfigError(`${name}: "${raw}" is not a number`);
        out[key] = n;
        break;
      }
      case 'bool':
        if (!['true', 'false', '1', '0'].includes(raw))
          throw new ConfigError(`${name}: "${raw}" is not true or false`);
        out[key] = raw === 'true' || raw === '1';
        break;
      case 'list':
        out[key] = raw
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        break;
      case 'json':
        try {
          out[key] = JSON.parse(raw);
        } catch {
          throw new ConfigError(`${name}: not valid JSON`);
        }
        break;
    }
  }
  return out;
}

/**
 * Resolves the configuration: defaults < config file < environment < flags.
 * Pure apart from reading the named config file; `env` is passed in.
 */
export function resolveConfig(
  flags: Partial<Config> & { config?: string | undefined },
  env: Record<string, string | undefined>,
): Config {
  const { config: file, ...rest } = flags;
  let fileValues: Record<string, unknown> = {};
  const path = file ?? env.ATTEST_CONFIG;
  if (path) {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      throw new ConfigError(
        `config file ${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
      );
    }
    try {
      fileValues = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new ConfigError(`config file ${path}: not valid JSON`);
    }
    if (typeof fileValues !== 'object' || fileValues === null || Array.isArray(fileValues)) {
      throw new ConfigError(`config file ${path}: must hold a JSON object`);
    }
  }
  const definedFlags = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
  const merged = { ...fileValues, ...fromEnv(env), ...definedFlags };
  const parsed = configSchema.safeParse(merged);
  if (!parsed.success) throw new ConfigError(`invalid configuration: ${describeZodError(parsed.error)}`);
  if (parsed.data.asOf !== undefined && Number.isNaN(Date.parse(parsed.data.asOf))) {
    throw new ConfigError(`invalid configuration: asOf: "${parsed.data.asOf}" is not an ISO 8601 time`);
  }
  if (parsed.data.automation !== undefined && parsed.data.policyFile !== undefined) {
    throw new ConfigError(
      'invalid configuration: automation and policyFile are both set; keep the policy in one place',
    );
  }
  if (parsed.data.automation === undefined) {
    const beside = path ? join(dirname(path), 'policy.json') : undefined;
    const policyPath = parsed.data.policyFile ?? (beside && existsSync(beside) ? beside : undefined);
    if (policyPath) return { ...parsed.data, automation: readPolicyFile(policyPath) };
  }
  return parsed.data;
}

/** Reads and checks an automation policy file; every error names the file and the bad field. */
export function readPolicyFile(path: string): z.infer<typeof automationPolicySchema> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(
      `policy file ${path}: cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'})`,
    );
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new ConfigError(`policy file ${path}: not valid JSON`);
  }
  const parsed = automationPolicySchema.safeParse(value);
  if (!parsed.success) throw new ConfigError(`policy file ${path}: ${describeZodError(parsed.error)}`);
  return parsed.data;
}
