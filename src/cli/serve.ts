import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Command, Option } from 'commander';
import { principalFor, serve } from '../app.js';
import { ConfigError } from '../config.js';
import { syncablePlatforms } from '../connectors/registry.js';
import { createConsole, signInLink } from '../console/app.js';
import { serveConsoleHttp } from '../console/serve.js';
import { servePostgres } from '../fleet.js';
import { createLogger } from '../log.js';
import { runOutbox } from '../services/outbox.js';
import { isPostgresUrl } from '../store/pg/db.js';

import {
  type Common,
  cliAuditor,
  configFrom,
  configOption,
  dbOption,
  intArg,
  out,
  registryFor,
  withStore,
} from './common.js';

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('Serve MCP over stdio (default) or Streamable HTTP at /mcp')
    .addOption(dbOption())
    .addOption(configOption())
    .option(
      '--http <port>',
      'serve Streamable HTTP on this port (0 = any free port)',
      intArg('--http', 0, 65535),
    )
    .option('--host <host>', 'interface for HTTP (default 127.0.0.1)')
    .option('--demo', 'serve the demo tenant, building it when the store is empty')
    .option(
      '--demo-users <n>',
      'users in the demo tenant when it is built',
      intArg('--demo-users', 1, 200_000),
    )
    .option('--read-only', 'no write tools: they are not listed and refuse if called')
    .option(
      '--principal <name>',
      'who is running the server (stdio), e.g. your e-mail (env ATTEST_PRINCIPAL)',
    )
    .option(
      '--print-token',
      'HTTP: create a token for the principal and print it with the endpoint and client snippets',
    )
    .option(
      '--sync <minutes>',
      `refresh every configured platform (${syncablePlatforms().join(', ')}) every this many minutes`,
      intArg('--sync', 1, 24 * 60),
    )
    .option('--insecure-no-auth', 'HTTP on loopback without bearer tokens (conformance testing only)')
    .addOption(
      new Option(
        '--conformance-fixtures',
        'register the MCP conformance suite fixtures (HTTP on loopback, testing only)',
      ).hideHelp(),
    )
    .action(
      async (
        opts: Common & {
          http?: number;
          host?: string;
          demo?: boolean;
          demoUsers?: number;
          readOnly?: boolean;
          principal?: string;
          printToken?: boolean;
          insecureNoAuth?: boolean;
          conformanceFixtures?: boolean;
          sync?: number;
        },
      ) => {
        const config = configFrom({
          db: opts.db,
          config: opts.config,
          httpPort: opts.http,
          httpHost: opts.host,
          demo: opts.demo,
          demoUsers: opts.demoUsers,
          readOnly: opts.readOnly,
          principal: opts.principal,
          syncIntervalMinutes: opts.sync,
        });
        const logger = createLogger(config.logLevel);
        if (isPostgresUrl(config.db)) {
          // A replica of a fleet on a PostgreSQL store (src/fleet.ts): the review path over HTTP.
          const replica = await servePostgres(config, logger, {
            insecureNoAuth: opts.insecureNoAuth,
            conformanceFixtures: opts.conformanceFixtures,
          });
          logger.info({ url: replica.http.url }, 'serving MCP over Streamable HTTP (PostgreSQL store)');
          out(`Attest MCP endpoint: ${replica.http.url}`);
          if (opts.printToken && !opts.insecureNoAuth) {
            const token = await replica.shared.tokens.create(
              config.principal,
              'admin',
              new Date(Date.now() + 12 * 3600_000),
            );
            out(`Bearer token for ${config.principal} (valid 12 h, shown once): ${token}`);
          }
          const stop = async () => {
            await replica.close();
            process.exit(0);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
          await replica.done;
          return;
        }
        const serving = await serve(config, logger, {
          insecureNoAuth: opts.insecureNoAuth,
          conformanceFixtures: opts.conformanceFixtures,
        });
        if (serving.http) {
          logger.info({ url: serving.http.url }, 'serving MCP over Streamable HTTP');
          out(`Attest MCP endpoint: ${serving.http.url}`);
          if (serving.consoleUrl) {
            out(
              `Console sign-in for ${config.principal} (one-time link, valid 15 minutes; never give it to an agent): ${signInLink(serving.store, serving.consoleUrl, config.principal)}`,
            );
          }
          if (opts.printToken && !opts.insecureNoAuth) {
            const token = serving.store.tokens.create(
              config.principal,
              'admin',
              new Date(Date.now() + 12 * 3600_000),
            );
            out(`Bearer token for ${config.principal} (valid 12 h, shown once): ${token}`);
            out('');
            out('Client configuration (VS Code .vscode/mcp.json):');
            out(
              JSON.stringify(
                {
                  servers: {
                    attest: {
                      type: 'http',
                      url: serving.http.url,
                      headers: { Authorization: `Bearer ${token}` },
                    },
                  },
                },
                null,
                2,
              ),
            );
            out('');
            out('Claude Desktop (stdio, no token needed):');
            out(
              JSON.stringify(
                {
                  mcpServers: {
                    attest: {
                      command: process.execPath,
                      args: [
                        fileURLToPath(new URL('../cli.js', import.meta.url)),
                        'serve',
                        '--demo',
                        '--db',
                        resolve(config.db),
                      ],
                    },
                  },
                },
                null,
                2,
              ),
            );
          }
          const stop = async () => {
            await serving.close();
            process.exit(0);
          };
          process.once('SIGINT', stop);
          process.once('SIGTERM', stop);
        }
        await serving.done;
      },
    );
}

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description(
      'Serve the review console (confirmations, dashboards, audit, evidence) over HTTP and print a one-time sign-in link; with --link, only print a link for a console already running',
    )
    .addOption(dbOption())
    .addOption(configOption())
    .option('--port <port>', 'HTTP port (0 = any free port)', intArg('--port', 0, 65535), 3334)
    .option('--host <host>', 'interface (default 127.0.0.1)')
    .option('--as <name>', 'who signs in (default ATTEST_PRINCIPAL, the configured principal)')
    .option('--link', 'print a new sign-in link for the console at --url (or consoleUrl) and exit')
    .option('--url <url>', 'the console base URL for --link')
    .action(
      async (opts: Common & { port: number; host?: string; as?: string; link?: boolean; url?: string }) => {
        const config = configFrom({ db: opts.db, config: opts.config, httpHost: opts.host });
        const who = opts.as ?? config.principal;
        if (opts.link) {
          await withStore(config, (store) => {
            const base = opts.url ?? config.consoleUrl;
            if (!base) throw new ConfigError('--link needs --url (or consoleUrl in the configuration)');
            out(signInLink(store, base, who));
          });
          return;
        }
        await withStore(config, async (store) => {
          const logger = createLogger(config.logLevel);
          const auditor = cliAuditor(store, config);
          const handle = createConsole({
            store,
            config,
            logger,
            auditor,
            principalFor: (id) => principalFor(config, id),
            applyOutbox: async () => {
              if (config.readOnly) return;
              await runOutbox(store, registryFor(config), {
                auditor,
                leaseMs: config.outboxLeaseSeconds * 1000,
                escalationReviewer: config.escalationReviewer ?? null,
              });
            },
          });
          const served = await serveConsoleHttp({
            host: config.httpHost,
            port: opts.port,
            allowedHosts: config.allowedHosts,
            allowedOrigins: config.allowedOrigins,
            logger,
            handle,
          });
          out(`Attest console: ${served.url}`);
          out(
            `Sign-in link for ${who} (one-time, valid 15 minutes; never give it to an agent): ${signInLink(store, served.url, who)}`,
          );
          out(`For a stdio server to link its confirmations here, set ATTEST_CONSOLE_URL=${served.url}`);
          // Serves until a signal; the store closes after the console does.
          await new Promise<void>((stopped) => {
            process.once('SIGINT', stopped);
            process.once('SIGTERM', stopped);
          });
          await served.close();
        });
        process.exit(0);
      },
    );
}
