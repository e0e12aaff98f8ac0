import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { looksLikeJwt, OAuthVerifier, scopesSupported } from './auth/oauth.js';
import { type Config, ConfigError } from './config.js';
import { conformanceFixtures } from './conformance/fixtures.js';
import {
  configuredForSync,
  createConnectorRegistry,
  type RegistryOptions,
  secretValues,
} from './connectors/registry.js';
import { createConsole, hasConsoleCookie } from './console/app.js';
import { generateDemo } from './demo/generate.js';
import type { Principal } from './domain/principal.js';
import type { Logger } from './log.js';
import { Auditor } from './policy/audit.js';
import { CheckpointWriter } from './policy/checkpoints.js';
import { createServer, recordRefusal } from './server.js';
import { analyzeCampaigns } from './services/analyze.js';
import { evaluateAutomation } from './services/automation.js';
import { eventsOf, runAutomation } from './services/automation-run.js';
import { runChangeOutbox } from './services/changes.js';
import { loadSnapshot } from './services/load.js';
import { type ConnectorFor, runOutbox } from './services/outbox.js';
import { runSync } from './services/sync.js';
import { isPostgresUrl } from './store/pg/db.js';
import { Store } from './store/store.js';
import { type TokenRecord, TokenStore } from './store/tokens.js';
import { type HttpHandle, serveHttp } from './transports/http.js';
import { serveStdio } from './transports/stdio.js';

/** The principal for a name, with the role and reviewer mapping from configuration. */
export function principalFor(
  config: Config,
  id: string,
  tokenRole?: 'admin' | 'reviewer',
  interactiveHost = false,
): Principal {
  const entry = config.principals[id];
  return {
    id,
    role: entry?.role ?? tokenRole ?? 'admin',
    reviewer_ids: entry?.reviewer_ids ?? [],
    ...(interactiveHost ? { interactive_host: true } : {}),
  };
}

/**
 * How a human on this machine runs this very CLI: `attest` when it was started from a
 * command of that name on the PATH, otherwise `node <absolute path of cli.js>`, with the
 * store's absolute path, so a command printed for the human works as written.
 */
export function cliInvocation(config: Config): (answer: 'confirm' | 'reject', id: string) => string {
  const script = process.argv[1] ?? '';
  const base = /(^|\/)cli\.js$/.test(script)
    ? `${quoteArg(process.execPath)} ${quoteArg(resolve(script))}`
    : 'attest';
  // A PostgreSQL store is named by ATTEST_DB on the human's side: its URL may hold a password,
  // which must not reach the agent in this command.
  const db =
    config.db === ':memory:' || isPostgresUrl(config.db) ? '' : ` --db ${quoteArg(resolve(config.db))}`;
  return (answer, id) => `${base} ${answer} ${quoteArg(id)}${db}`;
}

function quoteArg(a: string): string {
  return /^[A-Za-z0-9_./:@=+-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

/** The audit checkpoint writer from the configuration, or null when checkpoints are off. */
export function checkpointsFrom(config: Config, logger: Logger): CheckpointWriter | null {
  if (!config.auditCheckpoints) return null;
  return CheckpointWriter.fromSettings(config.auditCheckpoints, (message) => logger.error(message));
}

/**
 * Secret values the process holds, redacted wherever they might appear: every connector's
 * secret settings (from its registration) and the server's own token.
 */
export function secretsFromEnv(env: Record<string, string | undefined>, config?: Config): string[] {
  const own = env.ATTEST_TOKEN?.trim();
  return [
    ...new Set([
      ...secretValues(env, config?.connectors),
      ...(own !== undefined && own.length >= 6 ? [own] : []),
    ]),
  ];
}

/** How the server and the CLI build connectors: settings from the environment over the config file. */
export function connectorOptions(config: Config, logger: Logger): RegistryOptions {
  return {
    files: config.connectors as RegistryOptions['files'],
    context: { log: (level, message, data) => logger[level](data ?? {}, message) },
  };
}

export function demoDir(config: Config): string {
  return join(dirname(resolve(config.db)), '.attest', 'demo-snapshot');
}

export function analysisDate(config: Config): Date {
  return config.asOf ? new Date(config.asOf) : new Date();
}

/** Builds the demo tenant into the store: generate the snapshot folder, then import it like any snapshot. */
export async function buildDemo(
  store: Store,
  config: Config,
  logger: Logger,
  options: { users: number; dir?: string; onProgress?: (done: number, total: number, file: string) => void },
) {
  const dir = options.dir ?? demoDir(config);
  mkdirSync(dir, { recursive: true });
  const gen = await generateDemo(dir, { users: options.users });
  logger.info({ dir, counts: gen.counts }, 'demo snapshot written');
  const { report, analysis } = await loadSnapshot(store, dir, {
    asOf: analysisDate(config),
    dormantDays: config.dormantDays,
    onProgress: options.onProgress,
  });
  if (!report.ok) {
    throw new Error(
      `the generated demo snapshot did not import: ${JSON.stringify(report.issues.slice(0, 3))}`,
    );
  }
  store.setMeta(
    'demo',
    JSON.stringify({ users: options.users, generated_at: new Date().toISOString(), dir }),
  );
  return { dir, report, analysis };
}

export function readTokensFile(path: string): Array<{ token_hash: string } & TokenRecord> {
  const text = readFileSync(path, 'utf8');
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l, i) => {
      try {
        const v = JSON.parse(l) as {
          token_hash?: string;
          principal?: string;
          role?: string;
          expires_at?: string | null;
          interactive_host?: boolean;
        };
        if (!v.token_hash || !v.principal) throw new Error('missing token_hash or principal');
        return {
          token_hash: v.token_hash,
          principal: v.principal,
          role: v.role === 'reviewer' ? 'reviewer' : 'admin',
          expires_at: v.expires_at ?? null,
          interactive_host: v.interactive_host === true,
        };
      } catch (e) {
        throw new Error(`tokens file ${path} line ${i + 1}: ${(e as Error).message}`);
      }
    });
}

/** This process's name as a holder of fleet-wide leases (host, pid and a random part). */
export const LEASE_HOLDER = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;

/** How long the refit lease lasts: a refit of a large store takes minutes; a dead holder's ends. */
const REFIT_LEASE_MS = 15 * 60_000;

/**
 * When the last item of a campaign is decided, its decisions become training data: refit
 * the learned model and re-score the other active campaigns with it. Once across every
 * process on the store: the refit runs under the `refit` lease, and a campaign is marked
 * refitted only after its refit, so when the holder dies mid-refit the lease runs out and the
 * next process to apply a decision refits instead.
 */
export function refitWhenCampaignDone(
  store: Store,
  config: Config,
  logger: Logger,
  holder: string = LEASE_HOLDER,
): boolean {
  const pending = () =>
    store
      .listCampaigns('active')
      .filter(
        (c) =>
          c.counts.total > 0 && c.counts.decided === c.counts.total && !store.getMeta(`refit_after:${c.id}`),
      );
  if (pending().length === 0) return false;
  const { leases } = store;
  if (!leases.tryLead('refit', holder, REFIT_LEASE_MS)) {
    logger.info({ holder: leases.holder('refit') }, 'campaign fully decided: another process is refitting');
    return false;
  }
  try {
    // Read again under the lease: another process may have refitted meanwhile.
    const done = pending();
    if (done.length === 0) return false;
    const r = analyzeCampaigns(store, { asOf: analysisDate(config), dormantDays: config.dormantDays });
    const at = new Date().toISOString();
    store.transaction(() => {
      for (const c of done) store.setMeta(`refit_after:${c.id}`, at);
    });
    logger.info(
      { campaigns: done.map((c) => c.id), model: r.model },
      'campaign fully decided: model refitted',
    );
    return true;
  } finally {
    leases.resign('refit', holder);
  }
}

/**
 * Phased automation in a serving process, at start-up and after every refit: the bar check
 * (demotions and promotions audited), then, with `run: after_refit` and not read-only, the
 * classes in effect `auto` decide every active campaign. A failure is logged; serving goes on.
 */
export async function automationPass(
  store: Store,
  config: Config,
  logger: Logger,
  auditor: Auditor,
  connectorFor: ConnectorFor,
  why: string,
): Promise<void> {
  const policy = config.automation;
  if (!policy || policy.classes.length === 0) return;
  try {
    const state = evaluateAutomation(
      store,
      policy,
      { ...config, asOf: analysisDate(config).toISOString() },
      eventsOf(auditor),
    );
    logger.info(
      { fit_id: state.fit_id, classes: state.classes.map((c) => `${c.name}:${c.effective_mode}`) },
      `automation bar checked (${why})`,
    );
    if (policy.run !== 'after_refit' || config.readOnly) return;
    for (const c of store.listCampaigns('active')) {
      const r = await runAutomation(store, config, c.id, { auditor, connectorFor });
      if (r.queued.length > 0)
        logger.info({ campaign: c.id, queued: r.queued, outbox: r.outbox }, 'automatic decisions applied');
    }
  } catch (e) {
    logger.error(
      { err: e instanceof Error ? e.message : String(e) },
      `automation pass failed (${why}); nothing more was decided`,
    );
  }
}

/**
 * `serve --sync N`: pull every configured platform every N minutes, one after the other;
 * a failed sync is logged and the store keeps that platform's last good one.
 */
function scheduleSync(
  store: Store,
  config: Config,
  logger: Logger,
  applyOutbox: () => Promise<void>,
): () => void {
  if (config.syncIntervalMinutes <= 0) return () => {};
  const platforms = configuredForSync(process.env, connectorOptions(config, logger));
  if (platforms.length === 0) logger.warn('--sync: no platform is configured; nothing will be synced');
  let running = false;
  // One process syncs at a time across the store: the holder renews the lease on each tick
  // and before each platform; when it dies, another takes over within 1.5 intervals.
  const { leases } = store;
  const ttl = Math.max(60_000, config.syncIntervalMinutes * 90_000);
  const lead = () => leases.tryLead('sync', LEASE_HOLDER, ttl);
  const tick = async () => {
    if (running) return;
    if (!lead()) {
      logger.info({ holder: leases.holder('sync') }, 'sync skipped: another process holds the sync lease');
      return;
    }
    running = true;
    try {
      for (const p of platforms) {
        if (!lead()) {
          logger.warn({ platform: p.name }, 'sync stopped: the sync lease passed to another process');
          break;
        }
        if ('error' in p) {
          logger.error({ platform: p.name }, `${p.name} sync skipped: ${p.error}`);
          continue;
        }
        try {
          const r = await runSync(store, p.connector, { now: new Date(), dormantDays: config.dormantDays });
          logger.info(
            { counts: r.summary.counts, removed: r.summary.removed, requests: r.requests, ms: r.durationMs },
            `${p.name} sync done`,
          );
          for (const w of r.warnings) logger.warn({ platform: p.name }, w);
        } catch (e) {
          logger.error(
            { err: e instanceof Error ? e.message : String(e) },
            `${p.name} sync failed; keeping the last good sync`,
          );
        }
      }
      await applyOutbox().catch((e: unknown) =>
        logger.error({ err: e instanceof Error ? e.message : String(e) }, 'outbox run after sync failed'),
      );
    } finally {
      running = false;
    }
  };
  void tick();
  const timer = setInterval(() => void tick(), config.syncIntervalMinutes * 60_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    leases.resign('sync', LEASE_HOLDER);
  };
}

/** The console page of a pending confirmation. */
export function consolePage(base: string, id: string): string {
  return `${base.replace(/\/$/, '')}/confirmations/${encodeURIComponent(id)}`;
}

export interface Serving {
  store: Store;
  http: HttpHandle | null;
  /** The console's base URL, when this process serves it. */
  consoleUrl: string | null;
  done: Promise<void>;
  close: () => Promise<void>;
}

/** The client a 2026-07-28 request names in its `_meta`, if any. */
export function clientInfoOf(params: unknown): { name: string; version: string } | null {
  const info = (params as { _meta?: Record<string, { name?: unknown; version?: unknown }> } | null)?._meta?.[
    'io.modelcontextprotocol/clientInfo'
  ];
  return typeof info?.name === 'string' && typeof info.version === 'string'
    ? { name: info.name, version: info.version }
    : null;
}

/** Opens the store and serves MCP over stdio or HTTP. */
export async function serve(
  config: Config,
  logger: Logger,
  options: {
    insecureNoAuth?: boolean;
    extraTools?: import('./tools/define.js').AnyTool[];
    /** Registers the MCP conformance suite's fixtures (test-only; HTTP on loopback only). */
    conformanceFixtures?: boolean;
    connectorFor?: ConnectorFor;
  } = {},
): Promise<Serving> {
  const loopback = ['127.0.0.1', 'localhost', '::1'].includes(config.httpHost);
  if (options.conformanceFixtures && (config.httpPort === undefined || !loopback)) {
    throw new ConfigError(
      '--conformance-fixtures is for the MCP conformance suite only: it needs --http on a loopback host',
    );
  }
  const fixtures = options.conformanceFixtures ? conformanceFixtures() : null;
  const extraTools = [...(options.extraTools ?? []), ...(fixtures?.tools ?? [])];
  const extras = {
    extraTools,
    extraResources: fixtures?.resources ?? [],
    extraPrompts: fixtures?.prompts ?? [],
  };
  if (!config.demo && config.syncIntervalMinutes <= 0 && config.db !== ':memory:' && !existsSync(config.db)) {
    throw new ConfigError(
      `no store at ${resolve(config.db)} (--db or ATTEST_DB). Nothing is served. Build one with "attest demo", "attest import DIR" or "attest sync PLATFORM", pass the right --db, or serve the demo tenant with --demo.`,
    );
  }
  const store = Store.open(config.db);
  if (config.demo && store.isEmpty()) {
    logger.info({ users: config.demoUsers }, 'building the demo tenant (first run)');
    await buildDemo(store, config, logger, { users: config.demoUsers });
  }
  if (store.isEmpty()) {
    logger.warn(
      `the store ${config.db} holds no identity data. Load some first: "attest demo" builds a demo tenant, ` +
        '"attest import DIR" loads a CSV snapshot, "attest sync okta" pulls from Okta; or run "attest serve --demo".',
    );
  }
  const connectorFor: ConnectorFor =
    options.connectorFor ?? createConnectorRegistry(process.env, connectorOptions(config, logger));
  const secrets = secretsFromEnv(process.env, config);
  const checkpoints = checkpointsFrom(config, logger);
  const auditor = new Auditor(store.audit, () => secrets, checkpoints);
  const confirmCommand = cliInvocation(config);
  // One worker at a time drains the outbox in this process (rows are claimed with a lease,
  // so a CLI run beside it never applies the same row); a restart finishes what a killed run left.
  // Read-only means no platform writes: confirmed rows wait until a server that may write runs.
  let draining: Promise<void> = Promise.resolve();
  const applyOutbox = () => {
    if (config.readOnly) return draining;
    draining = draining.then(async () => {
      const r = await runOutbox(store, connectorFor, {
        auditor,
        leaseMs: config.outboxLeaseSeconds * 1000,
        escalationReviewer: config.escalationReviewer ?? null,
      });
      if (r.applied + r.failed + r.retry > 0) logger.info(r, 'outbox run');
      if (r.applied > 0 && refitWhenCampaignDone(store, config, logger))
        await automationPass(store, config, logger, auditor, connectorFor, 'refit');
      const changes = await runChangeOutbox(store, {
        auditor,
        connectorFor,
        asOf: analysisDate(config),
        dormantDays: config.dormantDays,
        leaseMs: config.outboxLeaseSeconds * 1000,
      });
      if (changes.applied + changes.failed > 0) logger.info(changes, 'changes applied');
    });
    return draining;
  };
  if (config.readOnly) {
    const waiting = store.decisions.pendingCount();
    if (waiting > 0)
      logger.warn(
        { waiting },
        'read-only: confirmed decisions wait in the outbox and are not applied to the platform by this server',
      );
  }
  await applyOutbox();
  await automationPass(store, config, logger, auditor, connectorFor, 'start-up');
  const stopSync = scheduleSync(store, config, logger, applyOutbox);
  if (config.httpPort === undefined) {
    const principal = principalFor(config, config.principal);
    const factory = (requestsSeen: Set<string | number>) =>
      createServer({
        store,
        config,
        logger,
        principal,
        transport: 'stdio',
        ...extras,
        requestsSeen,
        applyOutbox,
        connectorFor,
        secrets: () => secrets,
        checkpoints,
        confirmCommand,
        confirmUrl: config.consoleUrl ? (id) => consolePage(config.consoleUrl!, id) : undefined,
      });
    const stdio = serveStdio(factory, {
      logger,
      onRefused: (request, error) =>
        recordRefusal(
          auditor,
          {
            principal: principal.id,
            client: clientInfoOf(request.params),
            session_id: null,
            transport: 'stdio',
          },
          request,
          error,
        ),
    });
    const done = stdio.done.finally(() => {
      stopSync();
      checkpoints?.writeHead(auditor.log);
      store.close();
    });
    return { store, http: null, consoleUrl: null, done, close: stdio.close };
  }

  if (options.insecureNoAuth && !loopback) {
    throw new Error('--insecure-no-auth is allowed only on a loopback host');
  }
  const tokens = store.tokens;
  const fileTokens =
    config.tokensFile && existsSync(config.tokensFile) ? readTokensFile(config.tokensFile) : [];
  // JWT access tokens from the organisation's IdP, besides the static tokens; a JWT is never
  // looked up as a static token, nor passed on to anything.
  const oauth =
    config.oauth && !options.insecureNoAuth ? new OAuthVerifier(config.oauth, config.principals) : null;
  const authenticate = options.insecureNoAuth
    ? null
    : async (token: string, context: { resource: string }) => {
        if (oauth && looksLikeJwt(token)) return oauth.verify(token, context.resource);
        const now = new Date();
        const fromFile =
          fileTokens.length > 0 ? TokenStore.verifyAgainst(token, fileTokens, now) : { error: '' };
        const found = 'error' in fromFile ? tokens.lookup(token, now) : fromFile;
        if ('error' in found) return found;
        return principalFor(config, found.principal, found.role, found.interactive_host === true);
      };
  const consoleHandler = createConsole({
    store,
    config,
    logger,
    auditor,
    principalFor: (id) => principalFor(config, id),
    applyOutbox,
  });
  // The console's own address is known once the server listens.
  let consoleBase: string | null = config.consoleUrl ?? null;
  const http = await serveHttp({
    host: config.httpHost,
    port: config.httpPort,
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
    routes: consoleHandler,
    foreignCredentials: hasConsoleCookie,
    sessionIdleMs: config.httpSessionIdleMinutes * 60_000,
    sessionMaxMs: config.httpSessionMaxHours * 3600_000,
    sessionsPerPrincipal: config.httpSessionsPerPrincipal,
    // Sessions live in the store: every `attest serve --http` on this store serves every session.
    sessionStore: store.httpSessions,
    onRefused: (principal, reason) =>
      auditor.record({
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
      }),
    onProtocolRefusal: (principal, request, error) =>
      recordRefusal(
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
        config,
        logger,
        principal,
        transport: 'http',
        sessionId,
        ...extras,
        applyOutbox,
        connectorFor,
        secrets: () => secrets,
        checkpoints,
        confirmCommand,
        confirmUrl: (id) => (consoleBase ? consolePage(consoleBase, id) : null),
      }),
  });
  consoleBase ??= http.url.replace(/\/mcp$/, '/console');
  let stop!: () => void;
  const done = new Promise<void>((r) => {
    stop = r;
  });
  return {
    store,
    http,
    consoleUrl: consoleBase,
    done,
    close: async () => {
      stopSync();
      await http.close();
      checkpoints?.writeHead(auditor.log);
      store.close();
      stop();
    },
  };
}
