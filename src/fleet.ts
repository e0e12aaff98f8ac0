/**
 * `attest serve --http` on a PostgreSQL store: one replica of a fleet sharing the store. It
 * serves the review path (list_campaigns, list_campaign_items, propose_decision,
 * submit_decision) through the store's asynchronous interface; every other tool is listed and
 * refused with a message naming it and the backend. HTTP sessions, tokens, confirmations, the
 * cursor key, the outbox and the audit chain live in the store, so any replica serves any
 * request, and a row a dead replica held is finished by another once its lease runs out.
 */
import { existsSync } from 'node:fs';
import {
  clientInfoOf,
  cliInvocation,
  connectorOptions,
  principalFor,
  readTokensFile,
  secretsFromEnv,
} from './app.js';
import { looksLikeJwt, OAuthVerifier, scopesSupported } from './auth/oauth.js';
import { type Config, ConfigError } from './config.js';
import { createConnectorRegistry } from './connectors/registry.js';
import { hasConsoleCookie } from './console/app.js';
import type { Logger } from './log.js';
import { Auditor } from './policy/audit.js';
import { createServer, recordRefusal } from './server.js';
import { type ConnectorFor, runOutbox } from './services/outbox.js';
import { openSharedState, type SharedState, sqliteStoreAbsent } from './store/backend.js';
import { TokenStore } from './store/tokens.js';
import { type HttpHandle, serveHttp } from './transports/http.js';

export interface FleetServing {
  shared: SharedState;
  http: HttpHandle;
  done: Promise<void>;
  close: () => Promise<void>;
}

/** What a PostgreSQL store does not run yet, refused at start with what to do instead. */
function refuseUnsupported(config: Config, options: { conformanceFixtures?: boolean }): void {
  const no = (what: string) => {
    throw new ConfigError(`${what} Nothing is served. See the README, "Running several replicas".`);
  };
  if (config.httpPort === undefined)
    no('attest serve on a PostgreSQL store serves Streamable HTTP only so far: pass --http PORT.');
  if (config.demo)
    no(
      '--demo builds the demo tenant into a SQLite store only: run "attest demo", then "attest migrate-store --to postgres://…".',
    );
  if (config.syncIntervalMinutes > 0)
    no('--sync runs on the SQLite store only so far: sync into SQLite and migrate, or serve without --sync.');
  if (config.auditCheckpoints)
    no('auditCheckpoints: signed audit checkpoints run on the SQLite store only so far.');
  if (config.automation && config.automation.classes.length > 0)
    no('automation: phased automation runs on the SQLite store only so far.');
  if (options.conformanceFixtures) no('--conformance-fixtures runs on the SQLite store only.');
}

/** How often a replica looks for outbox rows left by a dead replica: half a lease, 1 s to 60 s. */
function drainInterval(config: Config): number {
  return Math.min(60_000, Math.max(1000, (config.outboxLeaseSeconds * 1000) / 2));
}

/** Serves MCP over Streamable HTTP from a PostgreSQL store, as one replica of a fleet. */
export async function servePostgres(
  config: Config,
  logger: Logger,
  options: { insecureNoAuth?: boolean; conformanceFixtures?: boolean; connectorFor?: ConnectorFor } = {},
): Promise<FleetServing> {
  refuseUnsupported(config, options);
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(config.httpHost);
  if (options.insecureNoAuth && !loopback) {
    throw new Error('--insecure-no-auth is allowed only on a loopback host');
  }
  const shared = await openSharedState(config.db);
  const store = sqliteStoreAbsent();
  const connectorFor: ConnectorFor =
    options.connectorFor ?? createConnectorRegistry(process.env, connectorOptions(config, logger));
  const secrets = secretsFromEnv(process.env, config);
  const auditor = new Auditor(shared.audit, () => secrets, null);
  const confirmCommand = cliInvocation(config);
  logger.info(
    'PostgreSQL store: serving list_campaigns, list_campaign_items, propose_decision and submit_decision; other tools, resources, the console, the refit after a campaign and automation are not served on PostgreSQL yet',
  );

  // One drain at a time in this process; rows are claimed with a lease, so replicas never apply one row twice.
  let draining: Promise<void> = Promise.resolve();
  const applyOutbox = () => {
    if (config.readOnly) return draining;
    draining = draining.then(async () => {
      const r = await runOutbox(shared, connectorFor, {
        auditor,
        leaseMs: config.outboxLeaseSeconds * 1000,
        escalationReviewer: config.escalationReviewer ?? null,
      });
      if (r.applied + r.failed + r.retry > 0) logger.info(r, 'outbox run');
    });
    return draining;
  };
  const tick = () =>
    void applyOutbox().catch((e: unknown) =>
      logger.error({ err: e instanceof Error ? e.message : String(e) }, 'outbox run failed; retried later'),
    );
  tick();
  // A replica that died mid-apply left rows under a lease: when it runs out, a live replica finishes them.
  const timer = setInterval(tick, drainInterval(config));
  timer.unref();

  const fileTokens =
    config.tokensFile && existsSync(config.tokensFile) ? readTokensFile(config.tokensFile) : [];
  const oauth =
    config.oauth && !options.insecureNoAuth ? new OAuthVerifier(config.oauth, config.principals) : null;
  const authenticate = options.insecureNoAuth
    ? null
    : async (token: string, context: { resource: string }) => {
        if (oauth && looksLikeJwt(token)) return oauth.verify(token, context.resource);
        const now = new Date();
        const fromFile =
          fileTokens.length > 0 ? TokenStore.verifyAgainst(token, fileTokens, now) : { error: '' };
        const found = 'error' in fromFile ? await shared.tokens.lookup(token, now) : fromFile;
        if ('error' in found) return found;
        return principalFor(config, found.principal, found.role, found.interactive_host === true);
      };
  const http = await serveHttp({
    host: config.httpHost,
    port: config.httpPort!,
    allowedHosts: config.allowedHosts,
    allowedOrigins: config.allowedOrigins,
    authenticate,
    protectedResource: oauth
      ? {
          ...(config.oauth!.resource ? { resource: config.oauth!.resource } : {}),
          authorizationServers: [config.oauth!.issuer],
          scopesSupported: scopesSupported(config.oauth!),
        }
      : null,
    logger,
    foreignCredentials: hasConsoleCookie,
    sessionIdleMs: config.httpSessionIdleMinutes * 60_000,
    sessionMaxMs: config.httpSessionMaxHours * 3600_000,
    sessionsPerPrincipal: config.httpSessionsPerPrincipal,
    sessionStore: shared.sessions,
    onRefused: (principal, reason) =>
      void auditor
        .recordAsync({
          at: new Date().toISOString(),
          principal: principal.id,
          client: null,
          session_id: null,
          transport: 'http',
          tool: 'protocol:http',
          kind: 'protocol',
          arguments: {},
          outcome: 'refused',
          error: reason,
          duration_ms: 0,
          details: null,
        })
        .catch((e: unknown) => logger.error({ err: e }, 'the audit entry could not be written')),
    onProtocolRefusal: (principal, request, error) =>
      void recordRefusal(
        auditor,
        {
          principal: principal.id,
          client: clientInfoOf(request.params),
          session_id: null,
          transport: 'http',
        },
        { ...request, at: new Date().toISOString() },
        error,
      ),
    createSession: (principal, sessionId) =>
      createServer({
        store,
        shared,
        config,
        logger,
        principal,
        transport: 'http',
        sessionId,
        applyOutbox,
        connectorFor,
        secrets: () => secrets,
        checkpoints: null,
        confirmCommand,
        confirmUrl: () => null,
      }),
  });
  let stop!: () => void;
  const done = new Promise<void>((r) => {
    stop = r;
  });
  return {
    shared,
    http,
    done,
    close: async () => {
      clearInterval(timer);
      await http.close();
      await draining.catch(() => {});
      await shared.close();
      stop();
    },
  };
}
