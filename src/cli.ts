#!/usr/bin/env node
import { createWriteStream, existsSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { formatShadowTable } from './analysis/shadow.js';
import {
  analysisDate,
  buildDemo,
  checkpointsFrom,
  connectorOptions,
  principalFor,
  secretsFromEnv,
  serve,
} from './app.js';
import { type Config, ConfigError, describeZodError, resolveConfig } from './config.js';
import { connectorForSync, createConnectorRegistry, syncablePlatforms } from './connectors/registry.js';
import { ConnectorError } from './connectors/types.js';
import { createConsole, signInLink } from './console/app.js';
import { serveConsoleHttp } from './console/serve.js';
import { createLogger } from './log.js';
import { Auditor } from './policy/audit.js';
import {
  CheckpointError,
  generateSigningKey,
  readVerifyKey,
  verifyCheckpoints,
} from './policy/checkpoints.js';
import { escapeUnsafe, quoteField } from './policy/human-text.js';
import { analyzeCampaigns } from './services/analyze.js';
import { evaluateAutomation } from './services/automation.js';
import {
  AutomationRefused,
  automationPlan,
  eventsOf,
  formatPlan,
  runAutomation,
} from './services/automation-run.js';
import { campaignSpecSchema, campaignSummary, resolveCampaign } from './services/campaigns.js';
import { answerChangeConfirmation, pendingChanges, runChangeOutbox } from './services/changes.js';
import { answerConfirmation, pendingBatch } from './services/decisions.js';
import { buildEvidence, htmlToPdf, renderEvidenceHtml } from './services/evidence.js';
import { loadSnapshot } from './services/load.js';
import { runOutbox } from './services/outbox.js';
import {
  campaignRequest,
  findMinedRole,
  type RoleSpec,
  refuseCampaignOn,
  refuseRoleOn,
  roleRequest,
  roleSummary,
} from './services/platform-changes.js';
import { mineRolesFromStore, rememberRoleReport, roleReportCsv } from './services/roles.js';
import { runShadow, ShadowInputError } from './services/shadow.js';
import { runSync } from './services/sync.js';
import { AuditLog, type VerifyResult } from './store/audit.js';
import { ChangesRepo } from './store/changes.js';
import { DecisionsRepo } from './store/decisions.js';
import { PgAuditLog } from './store/pg/audit.js';
import { copySqliteToPg } from './store/pg/copy.js';
import { isPostgresUrl, openPg, safeUrl, storeError } from './store/pg/db.js';
import { Store } from './store/store.js';
import { TokenStore } from './store/tokens.js';

/** Output of the CLI itself (never used while serving stdio). */
const out = (line: string) => process.stdout.write(`${line}\n`);
const err = (line: string) => process.stderr.write(`${line}\n`);

function intArg(name: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** A one-line progress bar on stderr, only when stderr is a terminal. */
function progressBar(label: string) {
  if (!process.stderr.isTTY) return { update: (_d: number, _t: number, _n?: string) => {}, done: () => {} };
  let last = 0;
  return {
    update(done: number, total: number, note = '') {
      const now = Date.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const pct = total > 0 ? Math.min(1, done / total) : 0;
      const width = 30;
      const fill = Math.round(pct * width);
      process.stderr.write(
        `\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(pct * 100).toFixed(0).padStart(3)}% ${note.padEnd(20).slice(0, 20)}`,
      );
    },
    done() {
      process.stderr.write('\r\x1b[K');
    },
  };
}

interface Common {
  db?: string;
  config?: string;
}

function configFrom(opts: Common & Partial<Config>): Config {
  return resolveConfig(opts, process.env);
}

/**
 * Opens the store for a command that needs one that exists: a mistyped --db must not
 * silently create an empty store and report on it.
 */
function openExisting(config: Config): Store {
  if (isPostgresUrl(config.db)) {
    throw new ConfigError(
      `--db / ATTEST_DB: ${safeUrl(config.db)} is a PostgreSQL store; this command runs on the SQLite store only so far (attest migrate-store and attest audit verify run on PostgreSQL). Nothing was done.`,
    );
  }
  if (config.db !== ':memory:' && !existsSync(config.db)) {
    throw new ConfigError(
      `no store at ${resolve(config.db)} (--db or ATTEST_DB). Nothing was done. Build one with "attest demo", "attest import DIR" or "attest sync PLATFORM", or pass the right --db.`,
    );
  }
  return Store.open(config.db);
}

/** The connectors a CLI command applies decisions with (settings from the environment over the config file). */
function registryFor(config: Config) {
  return createConnectorRegistry(process.env, connectorOptions(config, createLogger(config.logLevel)));
}

/** An audit writer for a CLI command, redacting the platform secrets the environment holds. */
function cliAuditor(store: Store, config: Config): Auditor {
  const logger = createLogger(config.logLevel);
  const secrets = secretsFromEnv(process.env, config);
  return new Auditor(new AuditLog(store.db), () => secrets, checkpointsFrom(config, logger));
}

/** Prints an audit chain check (the first 100 broken entries); a broken chain exits 1. */
function reportVerify(r: VerifyResult): void {
  if (r.ok) {
    out(`Audit log OK: ${r.entries} entries, chain intact.`);
    return;
  }
  err(
    `Audit log BROKEN: ${r.broken.length} entr${r.broken.length === 1 ? 'y does' : 'ies do'} not verify (of ${r.entries} checked):`,
  );
  for (const b of r.broken.slice(0, 100)) err(`  entry ${b.seq}: ${b.reason}`);
  if (r.broken.length > 100) err(`  ... and ${r.broken.length - 100} more`);
  process.exitCode = 1;
}

/** Asks y/N on the terminal; true only for an explicit yes. */
async function askYesNo(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

export function buildCli(): Command {
  const program = new Command();
  program
    .name('attest')
    .description('MCP server for identity access reviews (Okta, Entra ID, Ping Identity, CSV snapshots)')
    .version('0.1.0')
    .showHelpAfterError();

  const dbOption = () => new Option('--db <file>', 'SQLite store (default attest.db; env ATTEST_DB)');
  const configOption = () => new Option('--config <file>', 'JSON config file (env ATTEST_CONFIG)');

  program
    .command('demo')
    .description(
      'Build the demo tenant (deterministic) into the store: writes a snapshot folder and imports it',
    )
    .addOption(dbOption())
    .addOption(configOption())
    .option('--users <n>', 'number of users (1-200000)', intArg('--users', 1, 200_000), 2000)
    .option(
      '--dir <dir>',
      'where to write the snapshot folder (default .attest/demo-snapshot beside the store)',
    )
    .action(async (opts: Common & { users: number; dir?: string }) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      const logger = createLogger(config.logLevel);
      const store = Store.open(config.db);
      const bar = progressBar('import');
      try {
        const r = await buildDemo(store, config, logger, {
          users: opts.users,
          dir: opts.dir ? resolve(opts.dir) : undefined,
          onProgress: bar.update,
        });
        bar.done();
        out(`Demo tenant built in ${config.db}: ${JSON.stringify(store.counts())}`);
        out(`Snapshot folder: ${r.dir}`);
      } finally {
        store.close();
      }
    });

  program
    .command('import')
    .description('Load a tenant snapshot folder of CSV files (all-or-nothing, idempotent)')
    .argument('<dir>', 'snapshot folder (see the snapshot format)')
    .addOption(dbOption())
    .addOption(configOption())
    .action(async (dir: string, opts: Common) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      const store = Store.open(config.db);
      const bar = progressBar('import');
      try {
        const started = performance.now();
        const { report, analysis } = await loadSnapshot(store, dir, {
          asOf: analysisDate(config),
          dormantDays: config.dormantDays,
          onProgress: bar.update,
        });
        bar.done();
        if (!report.ok) {
          err(`Import failed: ${report.totalIssues} problem(s). Nothing was changed in ${config.db}.`);
          for (const i of report.issues) {
            err(`  ${i.file}:${i.line}${i.column ? ` column ${i.column}` : ''}: ${i.reason}`);
          }
          if (report.totalIssues > report.issues.length)
            err(`  ... and ${report.totalIssues - report.issues.length} more`);
          process.exitCode = 1;
          return;
        }
        const secs = ((performance.now() - started) / 1000).toFixed(1);
        out(`Imported ${dir} into ${config.db} in ${secs}s.`);
        out(`Rows read: ${JSON.stringify(report.rows)}`);
        out(`Store now holds: ${JSON.stringify(store.counts())}`);
        if (analysis)
          out(`Scored ${analysis.items} review items; signals: ${JSON.stringify(analysis.bySignal)}`);
      } finally {
        store.close();
      }
    });

  program
    .command('analyze')
    .description('Re-score every item of the active campaigns (risk score and signals)')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--campaign <id>', 'only this campaign')
    .action((opts: Common & { campaign?: string }) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      const store = openExisting(config);
      try {
        const r = analyzeCampaigns(store, {
          asOf: analysisDate(config),
          dormantDays: config.dormantDays,
          campaignIds: opts.campaign ? [opts.campaign] : undefined,
        });
        out(`Scored ${r.items} items of ${r.users} users; signals: ${JSON.stringify(r.bySignal)}`);
        if (config.automation && config.automation.classes.length > 0) {
          // A refit: the automation classes are checked against their bars again.
          const state = evaluateAutomation(
            store,
            config.automation,
            { ...config, asOf: analysisDate(config).toISOString() },
            eventsOf(cliAuditor(store, config)),
          );
          out(
            `Automation: ${state.classes.map((c) => `${c.name} ${c.effective_mode}`).join(', ')} (fit ${state.fit_id})`,
          );
        }
      } finally {
        store.close();
      }
    });

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
            const token = new TokenStore(serving.store.db).create(
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
                      args: [fileURLToPath(import.meta.url), 'serve', '--demo', '--db', resolve(config.db)],
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

  program
    .command('sync')
    .description(
      `Pull a platform into the store (${syncablePlatforms().join(', ')}); credentials come from the environment`,
    )
    .argument('<platform>', syncablePlatforms().join(' or '))
    .addOption(dbOption())
    .addOption(configOption())
    .option('--full', 'ignore the saved state and read everything again')
    .action(async (platform: string, opts: Common & { full?: boolean }) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      const logger = createLogger(config.logLevel);
      let connector: ReturnType<typeof connectorForSync>;
      try {
        connector = connectorForSync(platform, process.env, connectorOptions(config, logger));
      } catch (e) {
        if (e instanceof ConnectorError) throw new ConfigError(e.message);
        throw e;
      }
      const store = Store.open(config.db);
      const bar = progressBar(`sync ${platform}`);
      try {
        const r = await runSync(store, connector, {
          now: new Date(),
          dormantDays: config.dormantDays,
          full: opts.full,
          onProgress: (e) => bar.update(e.done, e.total ?? Math.max(e.done, 1), e.phase),
        });
        bar.done();
        for (const w of r.warnings) logger.warn({ platform }, w);
        out(
          `Synced ${platform} in ${(r.durationMs / 1000).toFixed(1)}s with ${r.requests} requests: ${JSON.stringify(r.summary.counts)}` +
            (Object.keys(r.summary.removed).length > 0
              ? `; removed ${JSON.stringify(r.summary.removed)}`
              : ''),
        );
      } catch (e) {
        bar.done();
        err(
          `attest sync ${platform}: ${e instanceof Error ? e.message : String(e)}. The store keeps the last good sync.`,
        );
        process.exitCode = 1;
      } finally {
        store.close();
      }
    });

  program
    .command('shadow')
    .description('Compare recommendations with past human decisions by K-fold cross-validation')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--campaign <id>', 'only past decisions of this campaign')
    .option('--decisions <file>', 'a decisions.csv to evaluate instead of the decisions in the store')
    .option('--folds <k>', 'number of folds (2-20)', intArg('--folds', 2, 20), 5)
    .option('--seed <n>', 'fold assignment seed', intArg('--seed', 0, 2 ** 31), 1)
    .option('--json', 'print one JSON object')
    .action(
      async (
        opts: Common & { campaign?: string; decisions?: string; folds: number; seed: number; json?: boolean },
      ) => {
        if (opts.campaign && opts.decisions)
          throw new InvalidArgumentError('pass --campaign or --decisions, not both');
        const config = configFrom({ db: opts.db, config: opts.config });
        const store = openExisting(config);
        try {
          const started = performance.now();
          const report = await runShadow(store, {
            folds: opts.folds,
            seed: opts.seed,
            campaignId: opts.campaign,
            decisionsFile: opts.decisions,
            asOf: analysisDate(config),
            dormantDays: config.dormantDays,
          });
          const seconds = Math.round(performance.now() - started) / 1000;
          if (opts.json) out(JSON.stringify({ ...report, seconds }));
          else {
            out(formatShadowTable(report));
            out(`(${seconds}s)`);
          }
        } catch (e) {
          if (e instanceof ShadowInputError) {
            err(`attest shadow: ${e.message}`);
            process.exitCode = 2;
            return;
          }
          throw e;
        } finally {
          store.close();
        }
      },
    );

  program
    .command('automate')
    .description(
      'Phased automation: check each policy class against its bar, then let the classes in effect auto decide a campaign',
    )
    .requiredOption('--campaign <id>', 'the campaign to decide')
    .option('--dry-run', 'print what each class would do, and decide nothing')
    .option(
      '--policy <file>',
      'the automation policy file (default: automation in the config, or policy.json beside it)',
    )
    .option('--json', 'print one JSON object')
    .addOption(dbOption())
    .addOption(configOption())
    .action(
      async (opts: Common & { campaign: string; dryRun?: boolean; policy?: string; json?: boolean }) => {
        const config = configFrom({ db: opts.db, config: opts.config, policyFile: opts.policy });
        const store = openExisting(config);
        try {
          const auditor = cliAuditor(store, config);
          if (opts.dryRun) {
            const plan = automationPlan(store, config, opts.campaign, eventsOf(auditor));
            out(opts.json ? JSON.stringify(plan) : formatPlan(plan, true));
            return;
          }
          const run = await runAutomation(store, config, opts.campaign, {
            auditor,
            connectorFor: registryFor(config),
          });
          if (opts.json) out(JSON.stringify(run));
          else {
            out(formatPlan(run.plan, false));
            out('');
            for (const q of run.queued)
              out(
                `Class ${q.class}: ${q.proposals} decision(s) queued under confirmation ${q.confirmation_id} (channel policy).`,
              );
            if (run.queued.length === 0) out('No class in effect auto had anything to decide.');
            if (run.skipped > 0)
              out(`${run.skipped} item(s) were taken by someone else meanwhile and left alone.`);
            out(
              `Outbox: ${run.outbox.applied} applied, ${run.outbox.failed} failed, ${run.outbox.retry} to retry.`,
            );
          }
        } catch (e) {
          if (e instanceof AutomationRefused) {
            err(`attest automate: ${e.message}`);
            process.exitCode = 2;
            return;
          }
          throw e;
        } finally {
          store.close();
        }
      },
    );

  const token = program.command('token').description('HTTP bearer tokens');
  token
    .command('create')
    .description('Create a bearer token for a principal; prints it once (only its hash is stored)')
    .addOption(dbOption())
    .addOption(configOption())
    .requiredOption('--principal <name>', 'who the token identifies, e.g. an e-mail')
    .addOption(
      new Option('--role <role>', 'admin or reviewer').choices(['admin', 'reviewer']).default('reviewer'),
    )
    .option(
      '--ttl-hours <n>',
      'hours until it expires (default 720)',
      intArg('--ttl-hours', 1, 24 * 366),
      720,
    )
    .option(
      '--interactive-host',
      "the token's client is an interactive host that shows forms to a person: its elicitation answers count as host-attested confirmations",
    )
    .action(
      (
        opts: Common & {
          principal: string;
          role: 'admin' | 'reviewer';
          ttlHours: number;
          interactiveHost?: boolean;
        },
      ) => {
        const config = configFrom({ db: opts.db, config: opts.config });
        const store = openExisting(config);
        try {
          const t = new TokenStore(store.db).create(
            opts.principal,
            opts.role,
            new Date(Date.now() + opts.ttlHours * 3600_000),
            new Date(),
            { interactiveHost: opts.interactiveHost === true },
          );
          out(t);
        } finally {
          store.close();
        }
      },
    );

  for (const answer of ['confirm', 'reject'] as const) {
    program
      .command(answer)
      .description(
        answer === 'confirm'
          ? "A human's confirmation of a pending batch: shows it, asks y/N, then applies it"
          : "A human's rejection of a pending batch: shows it, asks y/N; nothing is applied",
      )
      .argument('<id>', 'confirmation id from submit_decision')
      .addOption(dbOption())
      .addOption(configOption())
      .option('--as <name>', 'who is answering (default ATTEST_PRINCIPAL or the OS user)')
      .option('--yes', 'answer without asking (for scripts); the batch is still printed first')
      .action(async (id: string, opts: Common & { as?: string; yes?: boolean }) => {
        const config = configFrom({ db: opts.db, config: opts.config });
        if (answer === 'confirm' && config.readOnly) {
          err(
            `attest confirm: read-only mode (readOnly / ATTEST_READ_ONLY) allows no platform writes. Nothing was confirmed or applied.`,
          );
          process.exitCode = 2;
          return;
        }
        const store = openExisting(config);
        try {
          const by = opts.as ?? process.env.ATTEST_PRINCIPAL ?? userInfo().username;
          const auditor = cliAuditor(store, config);
          const base = {
            principal: by,
            client: { name: 'attest-cli', version: '0.1.0' },
            session_id: null,
            transport: 'cli',
          };
          const refuse = (error: string) => {
            auditor.record({
              ...base,
              at: new Date().toISOString(),
              tool: `cli:${answer}`,
              kind: 'write',
              arguments: { confirmation_id: id },
              outcome: 'refused',
              error,
              duration_ms: 0,
              details: null,
            });
            err(`attest ${answer}: ${error}.`);
            process.exitCode = 1;
          };
          if (new DecisionsRepo(store.db).confirmation(id)?.subject === 'changes') {
            // A change (a campaign to create): shown, asked, queued, applied once.
            const pending = pendingChanges(store, id, new Date());
            if (!pending.ok) return refuse(pending.error);
            out(
              `Confirmation ${quoteField(id, 80)} for ${quoteField(pending.principal, 120)}, expires ${pending.expires_at}:`,
            );
            out(pending.text);
            if (!opts.yes) {
              if (!process.stdin.isTTY)
                return refuse(
                  'standard input is not a terminal, so nobody can be asked; pass --yes to answer from a script. Nothing was changed',
                );
              if (
                !(await askYesNo(
                  answer === 'confirm' ? 'Apply this change? [y/N] ' : 'Reject this change? [y/N] ',
                ))
              ) {
                out('Nothing was changed.');
                return;
              }
            }
            const r = answerChangeConfirmation(store, id, answer, by, new Date(), {
              channel: 'cli',
              recordEvent: auditor.events(base),
            });
            if (!r.ok) return refuse(r.error);
            if (answer === 'reject') {
              out(`Rejected by ${by}. Nothing was created.`);
              return;
            }
            const run = await runChangeOutbox(store, {
              auditor,
              connectorFor: registryFor(config),
              asOf: analysisDate(config),
              dormantDays: config.dormantDays,
            });
            out(
              `Confirmed by ${by} (cli, human-verified): ${run.applied} change(s) applied, ${run.failed} failed.`,
            );
            if (run.failed > 0) process.exitCode = 1;
            return;
          }
          const shown = pendingBatch(store, id, new Date());
          if (!shown.ok) return refuse(shown.error);
          out(
            `Batch ${quoteField(id, 80)}: ${shown.items} decision(s) submitted by ${quoteField(shown.confirmation.principal, 120)}, expires ${shown.confirmation.expires_at}.`,
          );
          out(
            'Each item starts with the decision and risk; quoted fields are data from the directory or the agent.',
          );
          out(shown.batchText);
          if (!opts.yes) {
            if (!process.stdin.isTTY) {
              return refuse(
                'standard input is not a terminal, so nobody can be asked; pass --yes to answer from a script. Nothing was changed',
              );
            }
            const yes = await askYesNo(
              answer === 'confirm'
                ? `Apply these ${shown.items} decision(s) to the identity platform? [y/N] `
                : `Reject these ${shown.items} decision(s)? Nothing will be applied. [y/N] `,
            );
            if (!yes) {
              out('Nothing was changed.');
              return;
            }
          }
          const r = answerConfirmation(store, id, answer, by, new Date(), {
            channel: 'cli',
            recordEvent: auditor.events(base),
            confirmerReviewerIds: principalFor(config, by).reviewer_ids,
            allowSelfReview: config.allowSelfReview,
          });
          if (!r.ok) return refuse(r.error);
          if (answer === 'reject') {
            out(`Rejected by ${by}. Nothing was applied.`);
            return;
          }
          const run = await runOutbox(store, registryFor(config), {
            auditor,
            leaseMs: config.outboxLeaseSeconds * 1000,
            escalationReviewer: config.escalationReviewer ?? null,
          });
          out(
            `Confirmed by ${by} (cli, human-verified): ${run.applied} applied, ${run.failed} failed, ${run.retry} to retry.`,
          );
          if (run.failed + run.retry > 0) process.exitCode = 1;
        } finally {
          store.close();
        }
      });
  }

  program
    .command('outbox')
    .description(
      'Apply confirmed decisions still waiting in the outbox (after a crash, or a platform outage)',
    )
    .addOption(dbOption())
    .addOption(configOption())
    .action(async (opts: Common) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      if (config.readOnly) {
        err(
          'attest outbox: read-only mode (readOnly / ATTEST_READ_ONLY) allows no platform writes. Nothing was applied.',
        );
        process.exitCode = 2;
        return;
      }
      const store = openExisting(config);
      try {
        const run = await runOutbox(store, registryFor(config), {
          auditor: cliAuditor(store, config),
          leaseMs: config.outboxLeaseSeconds * 1000,
          escalationReviewer: config.escalationReviewer ?? null,
        });
        out(`Outbox: ${run.applied} applied, ${run.failed} failed, ${run.retry} to retry.`);
      } finally {
        store.close();
      }
    });

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
        const store = openExisting(config);
        if (opts.link) {
          try {
            const base = opts.url ?? config.consoleUrl;
            if (!base) throw new ConfigError('--link needs --url (or consoleUrl in the configuration)');
            out(signInLink(store, base, who));
          } finally {
            store.close();
          }
          return;
        }
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
        const stop = async () => {
          await served.close();
          store.close();
          process.exit(0);
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      },
    );

  program
    .command('evidence')
    .description(
      'Write the evidence pack of a campaign for auditors (SOX, SOC 2): HTML, or PDF through headless Chromium',
    )
    .argument('<campaign>', 'campaign id')
    .addOption(dbOption())
    .addOption(configOption())
    .addOption(new Option('--format <format>', 'html or pdf').choices(['html', 'pdf']).default('html'))
    .requiredOption('--out <file>', 'where to write it')
    .action(async (campaignId: string, opts: Common & { format: 'html' | 'pdf'; out: string }) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      const store = openExisting(config);
      try {
        const campaign = store.listCampaigns().find((c) => c.id === campaignId);
        if (!campaign)
          throw new ConfigError(
            `no campaign "${campaignId}"; attest shows them with list_campaigns or the console`,
          );
        const now = new Date();
        const pack = buildEvidence(store, campaign, now);
        const text = renderEvidenceHtml(store, pack, now);
        if (opts.format === 'pdf') await htmlToPdf(text, opts.out);
        else writeFileSync(opts.out, text);
        out(
          `Wrote the evidence pack of ${campaignId} to ${opts.out}: ${pack.decisions.length} decisions, ${pack.open_items} open; audit chain ${pack.audit.verified ? 'verified' : 'NOT verified'} up to entry ${pack.audit.head_seq} (${pack.audit.head_hash ?? 'empty'}).`,
        );
      } finally {
        store.close();
      }
    });

  const campaign = program.command('campaign').description('Campaigns of Attest’s own');
  const collect = (v: string, list: string[] = []) => [...list, v];
  campaign
    .command('create')
    .description(
      'Create a risk-triggered campaign: the access to review by risk, signal, app, department, entitlements or people; reviewers by manager, owner or a named person, with a fallback. Shows what it would create and asks y/N.',
    )
    .addOption(dbOption())
    .addOption(configOption())
    .requiredOption('--name <name>', 'the campaign name')
    .option('--min-risk <n>', 'only access scored at least this risk (0-100)', intArg('--min-risk', 0, 100))
    .option('--signal <code>', 'only access showing this signal (repeat for any of several)', collect)
    .option('--app <app>', 'only access to this app')
    .option('--department <d>', 'only people of this department')
    .option('--entitlement <id>', 'only this entitlement (repeatable)', collect)
    .option('--user <id>', 'only this person (repeatable)', collect)
    .addOption(
      new Option('--platform <p>', 'only access on this platform').choices([
        'snapshot',
        'okta',
        'entra',
        'ping',
      ]),
    )
    .option(
      '--changed-within-days <n>',
      'only people whose department or title changed within N days',
      intArg('--changed-within-days', 1, 3650),
    )
    .option('--max-items <n>', 'at most this many items (default 50000)', intArg('--max-items', 1, 1_000_000))
    .addOption(
      new Option('--reviewers <by>', 'who reviews each item')
        .choices(['manager', 'owner', 'named'])
        .default('manager'),
    )
    .option('--reviewer <id>', 'the reviewer, with --reviewers named')
    .requiredOption(
      '--fallback <id>',
      'who reviews when the chosen reviewer is missing or is the person themselves',
    )
    .option('--due <time>', 'due date (ISO 8601)')
    .addOption(
      new Option(
        '--on-platform <p>',
        "also create it on the platform (Okta Identity Governance campaign, Entra access review, AIC certification); only that platform's access is in scope",
      ).choices(['okta', 'entra', 'ping']),
    )
    .option('--as <name>', 'who confirms (default ATTEST_PRINCIPAL or the OS user)')
    .option('--yes', 'create without asking (for scripts); what it creates is still printed first')
    .action(
      async (
        opts: Common & {
          onPlatform?: 'okta' | 'entra' | 'ping';
          name: string;
          minRisk?: number;
          signal?: string[];
          app?: string;
          department?: string;
          entitlement?: string[];
          user?: string[];
          platform?: string;
          changedWithinDays?: number;
          maxItems?: number;
          reviewers: 'manager' | 'owner' | 'named';
          reviewer?: string;
          fallback: string;
          due?: string;
          as?: string;
          yes?: boolean;
        },
      ) => {
        const config = configFrom({ db: opts.db, config: opts.config });
        const parsed = campaignSpecSchema.safeParse({
          name: opts.name,
          ...(opts.due ? { due_at: opts.due } : {}),
          scope: {
            ...(opts.minRisk !== undefined ? { min_risk: opts.minRisk } : {}),
            ...(opts.signal ? { signals: opts.signal } : {}),
            ...(opts.app ? { app: opts.app } : {}),
            ...(opts.department ? { department: opts.department } : {}),
            ...(opts.entitlement ? { entitlement_ids: opts.entitlement } : {}),
            ...(opts.user ? { user_ids: opts.user } : {}),
            ...(opts.platform ? { platform: opts.platform } : {}),
            ...(opts.changedWithinDays ? { changed_within_days: opts.changedWithinDays } : {}),
            ...(opts.maxItems ? { max_items: opts.maxItems } : {}),
          },
          reviewers: {
            by: opts.reviewers,
            ...(opts.reviewer ? { reviewer_id: opts.reviewer } : {}),
            fallback_reviewer_id: opts.fallback,
          },
          ...(opts.onPlatform ? { on_platform: opts.onPlatform } : {}),
        });
        if (!parsed.success) throw new ConfigError(`campaign create: ${describeZodError(parsed.error)}`);
        const spec = parsed.data;
        const store = openExisting(config);
        try {
          const now = new Date();
          const resolved = resolveCampaign(store, spec, now);
          const { preview } = resolved;
          const summary = campaignSummary(spec, preview);
          out(quoteField(summary, 2000));
          out(
            `Reviewers: ${preview.reviewers
              .slice(0, 10)
              .map((r) => `${r.reviewer_id ?? 'unassigned'} ${r.items}`)
              .join(
                ', ',
              )}${preview.reviewers.length > 10 ? ` and ${preview.reviewers.length - 10} more` : ''}; ${preview.fallback} to the fallback; ${preview.unassigned} unassigned${preview.unscored ? `; ${preview.unscored} assignments without a score left out` : ''}${preview.truncated ? '; cut at max-items' : ''}.`,
          );
          if (preview.items === 0) {
            err('attest campaign create: no access matches this scope. Nothing was created.');
            process.exitCode = 1;
            return;
          }
          const connectors = registryFor(config);
          if (spec.on_platform) {
            const refused = refuseCampaignOn(
              connectors(spec.on_platform),
              spec.on_platform,
              campaignRequest(store, spec, 'preview', spec.on_platform, resolved.items, now),
            );
            if (refused) {
              err(
                `attest campaign create: this campaign cannot be created on ${spec.on_platform}: ${escapeUnsafe(refused)}. Nothing was created.`,
              );
              process.exitCode = 1;
              return;
            }
          }
          if (!opts.yes) {
            if (!process.stdin.isTTY) {
              err(
                'attest campaign create: standard input is not a terminal; pass --yes to create from a script. Nothing was created.',
              );
              process.exitCode = 1;
              return;
            }
            if (!(await askYesNo('Create this campaign? [y/N] '))) {
              out('Nothing was created.');
              return;
            }
          }
          const by = opts.as ?? process.env.ATTEST_PRINCIPAL ?? userInfo().username;
          const auditor = cliAuditor(store, config);
          const repo = new ChangesRepo(store.db);
          const change = repo.create({
            kind: 'create_campaign',
            platform: spec.on_platform ?? 'snapshot',
            spec: spec as unknown as Record<string, unknown>,
            summary,
            proposed_by: by,
            proposed_at: now.toISOString(),
          });
          repo.confirmIntoOutbox({
            pendingId: null,
            principal: by,
            batchHash: repo.batchHash([change.id]),
            ids: [change.id],
            confirmedBy: by,
            channel: 'cli',
            assurance: 'human-verified',
            now,
            inTransaction: (cid) =>
              auditor.events({
                principal: by,
                client: { name: 'attest-cli', version: '0.1.0' },
                session_id: null,
                transport: 'cli',
              })({
                tool: 'cli:create_campaign',
                kind: 'write',
                arguments: { change_id: change.id },
                outcome: 'ok',
                details: {
                  spec,
                  preview,
                  confirmation: { id: cid, channel: 'cli', assurance: 'human-verified', confirmed_by: by },
                },
              }),
          });
          const run = await runChangeOutbox(store, {
            auditor,
            connectorFor: connectors,
            asOf: analysisDate(config),
            dormantDays: config.dormantDays,
          });
          const created = repo.get(change.id)!;
          if (run.applied === 1 && created.result) {
            out(
              `Created campaign ${String(created.result.campaign_id)} with ${String(created.result.items)} item(s); scored.${created.result.platform_campaign_id ? ` On ${spec.on_platform}: ${String(created.result.platform_campaign_id)}.` : ''}`,
            );
          } else if (run.retry > 0) {
            err(
              `attest campaign create: confirmed, but ${spec.on_platform ?? 'the platform'} did not finish: ${escapeUnsafe(String(new ChangesRepo(store.db).state(change.id).error ?? 'unknown error'))}. It stays queued (change ${change.id}) and is applied once by the next run (attest serve, or attest confirm).`,
            );
            process.exitCode = 1;
          } else {
            err(
              `attest campaign create: the campaign was not created: ${String(created.result?.error ?? 'unknown error')}.`,
            );
            process.exitCode = 1;
          }
        } finally {
          store.close();
        }
      },
    );

  const roles = program.command('roles').description('Role mining: the roles that explain the assignments');
  roles
    .command('mine')
    .description(
      'Mine candidate roles from the current assignments (all platforms, or --platform): entitlements held together, who holds them, the attributes that predict it, and what no role explains',
    )
    .addOption(dbOption())
    .addOption(configOption())
    .addOption(
      new Option('--platform <p>', 'only this platform').choices(['snapshot', 'okta', 'entra', 'ping']),
    )
    .option(
      '--min-users <n>',
      'members a role needs at least (default 5, or 0.1% of users)',
      intArg('--min-users', 1, 1_000_000),
    )
    .option('--json', 'print one JSON object')
    .option(
      '--out <file>',
      'write the whole report: .json (every leftover assignment included) or .csv (one row per role and entitlement)',
    )
    .option('--leftover <file>', 'write the assignments no role explains as CSV (the natural review scope)')
    .action(
      (
        opts: Common & {
          platform?: 'snapshot' | 'okta' | 'entra' | 'ping';
          minUsers?: number;
          json?: boolean;
          out?: string;
          leftover?: string;
        },
      ) => {
        const config = configFrom({ db: opts.db, config: opts.config });
        const store = openExisting(config);
        try {
          const full = Boolean(opts.leftover || opts.out?.endsWith('.json'));
          const report = mineRolesFromStore(store, {
            platform: opts.platform,
            minUsers: opts.minUsers,
            leftoverLimit: full ? Number.POSITIVE_INFINITY : 1000,
          });
          rememberRoleReport(store, report);
          if (opts.out) {
            if (opts.out.endsWith('.csv')) writeFileSync(opts.out, roleReportCsv(report));
            else writeFileSync(opts.out, `${JSON.stringify(report, null, 2)}\n`);
            err(`Wrote ${report.roles.length} roles to ${opts.out}.`);
          }
          if (opts.leftover) {
            writeFileSync(
              opts.leftover,
              stringify(report.leftover, { header: true, columns: ['user_id', 'entitlement_id', 'source'] }),
            );
            err(`Wrote ${report.leftover.length} leftover assignments to ${opts.leftover}.`);
          }
          if (opts.json) {
            out(JSON.stringify(full ? { ...report, leftover: report.leftover.slice(0, 1000) } : report));
            return;
          }
          out(
            `${report.roles.length} roles explain ${report.covered_assignments} of ${report.total_assignments} assignments (${(report.coverage * 100).toFixed(1)}%); ${report.distinct_entitlement_sets} distinct entitlement sets among ${report.users} users; ${report.leftover_assignments} assignments left (${report.leftover_direct} direct, ${report.leftover_inherited} inherited). ${report.seconds}s.`,
          );
          for (const r of report.roles.slice(0, 50)) {
            const pattern = r.pattern
              ? Object.entries(r.pattern)
                  .map(([k, v]) => `${k}=${quoteField(v, 60)}`)
                  .join(' & ')
              : 'no attribute pattern';
            out(
              `  ${r.role_id}: ${r.entitlement_ids.length} entitlements, ${r.users} users, ${(r.coverage * 100).toFixed(1)}% of assignments; ${pattern}${r.pattern_fit ? ` (precision ${r.pattern_fit.precision}, recall ${r.pattern_fit.recall})` : ''}`,
            );
          }
          if (report.roles.length > 50)
            out(`  ... and ${report.roles.length - 50} more (--json or --out for all)`);
          for (const sgn of report.suggestions.slice(0, 20))
            out(`  suggestion (${sgn.kind}): ${escapeUnsafe(sgn.detail)}`);
        } finally {
          store.close();
        }
      },
    );

  roles
    .command('propose <role-id>')
    .description(
      'Create a mined role on its platform through a confirmed change: on Okta a group, a group rule from the role’s attribute pattern and its apps (Entra and Ping are refused: not supported yet). Shows exactly what it creates and asks y/N.',
    )
    .addOption(dbOption())
    .addOption(configOption())
    .addOption(
      new Option('--platform <p>', 'the platform to create it on')
        .choices(['okta', 'entra', 'ping'])
        .makeOptionMandatory(),
    )
    .option('--name <name>', 'the group name (default: Attest <role-id>)')
    .option('--as <name>', 'who confirms (default ATTEST_PRINCIPAL or the OS user)')
    .option('--yes', 'create without asking (for scripts); what it creates is still printed first')
    .action(
      async (
        roleId: string,
        opts: Common & { platform: 'okta' | 'entra' | 'ping'; name?: string; as?: string; yes?: boolean },
      ) => {
        const config = configFrom({ db: opts.db, config: opts.config });
        const store = openExisting(config);
        try {
          const role = findMinedRole(store, opts.platform, roleId);
          if (!role) {
            err(
              `attest roles propose: no mined role ${quoteField(roleId, 80)} on ${opts.platform} (run attest roles mine --platform ${opts.platform}). Nothing was created.`,
            );
            process.exitCode = 1;
            return;
          }
          const spec: RoleSpec = {
            role_id: role.role_id,
            name: opts.name ?? `Attest ${role.role_id}`,
            platform: opts.platform,
            entitlement_ids: role.entitlement_ids,
            pattern: role.pattern ?? {},
            member_ids: role.user_ids,
          };
          const connectors = registryFor(config);
          const connector = connectors(opts.platform);
          const request = roleRequest(store, spec, 'preview');
          const refused = refuseRoleOn(connector, opts.platform, request);
          if (refused) {
            err(
              `attest roles propose: this role cannot be created on ${opts.platform}: ${escapeUnsafe(refused)}. Nothing was created.`,
            );
            process.exitCode = 1;
            return;
          }
          const plan = connector!.roles!.plan(request);
          const summary = roleSummary(spec, plan);
          out(
            `Role ${role.role_id}: ${role.users} member(s), ${role.entitlement_ids.length} entitlement(s). On ${opts.platform} this creates (quoted values are data):`,
          );
          for (const line of plan) out(`  ${escapeUnsafe(line)}`);
          if (!opts.yes) {
            if (!process.stdin.isTTY) {
              err(
                'attest roles propose: standard input is not a terminal; pass --yes to create from a script. Nothing was created.',
              );
              process.exitCode = 1;
              return;
            }
            if (!(await askYesNo('Create this role? [y/N] '))) {
              out('Nothing was created.');
              return;
            }
          }
          const by = opts.as ?? process.env.ATTEST_PRINCIPAL ?? userInfo().username;
          const auditor = cliAuditor(store, config);
          const repo = new ChangesRepo(store.db);
          const now = new Date();
          const change = repo.create({
            kind: 'create_role',
            platform: opts.platform,
            spec: { ...spec, plan } as unknown as Record<string, unknown>,
            summary,
            proposed_by: by,
            proposed_at: now.toISOString(),
          });
          repo.confirmIntoOutbox({
            pendingId: null,
            principal: by,
            batchHash: repo.batchHash([change.id]),
            ids: [change.id],
            confirmedBy: by,
            channel: 'cli',
            assurance: 'human-verified',
            now,
            inTransaction: (cid) =>
              auditor.events({
                principal: by,
                client: { name: 'attest-cli', version: '0.1.0' },
                session_id: null,
                transport: 'cli',
              })({
                tool: 'cli:propose_role',
                kind: 'write',
                arguments: { change_id: change.id, role_id: role.role_id, platform: opts.platform },
                outcome: 'ok',
                details: {
                  plan,
                  confirmation: { id: cid, channel: 'cli', assurance: 'human-verified', confirmed_by: by },
                },
              }),
          });
          const run = await runChangeOutbox(store, { auditor, connectorFor: connectors });
          const done = repo.get(change.id)!;
          if (run.applied === 1 && done.result) {
            out(
              `Created role ${role.role_id} on ${opts.platform}: ${String(done.result.platform_id)} (change ${change.id}).`,
            );
          } else if (run.retry > 0) {
            err(
              `attest roles propose: confirmed, but ${opts.platform} did not finish: ${escapeUnsafe(String(repo.state(change.id).error ?? 'unknown error'))}. It stays queued (change ${change.id}) and is applied once by the next run.`,
            );
            process.exitCode = 1;
          } else {
            err(
              `attest roles propose: the role was not created: ${escapeUnsafe(String(done.result?.error ?? 'unknown error'))}.`,
            );
            process.exitCode = 1;
          }
        } finally {
          store.close();
        }
      },
    );

  const exp = program.command('export').description('Reports for operators and auditors');
  exp
    .command('remediation')
    .description('Write the remediation list (revoked access and its removal status) as CSV')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--out <file>', 'write here instead of stdout')
    .action((opts: Common & { out?: string }) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      const store = openExisting(config);
      try {
        const rows = new DecisionsRepo(store.db).remediations();
        const columns = [
          'item_id',
          'user_id',
          'user_email',
          'entitlement_id',
          'entitlement_name',
          'app',
          'platform',
          'status',
          'detail',
          'requested_at',
          'completed_at',
          'confirmed_by',
          'confirmation_id',
        ];
        const text = stringify(rows, { header: true, columns });
        if (opts.out) {
          writeFileSync(opts.out, text);
          err(`Wrote ${rows.length} remediation rows to ${opts.out}.`);
        } else process.stdout.write(text);
      } finally {
        store.close();
      }
    });

  program
    .command('migrate-store')
    .description(
      'Copy a SQLite store into an empty PostgreSQL store (every table, in one transaction; the audit chain verified on the copy)',
    )
    .addOption(dbOption())
    .addOption(configOption())
    .requiredOption(
      '--to <url>',
      'the PostgreSQL store, postgres://user:password@host:port/database (must be empty)',
    )
    .action(async (opts: Common & { to: string }) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      if (!isPostgresUrl(opts.to)) {
        throw new ConfigError(
          `--to: expected a postgres:// connection string, got ${JSON.stringify(safeUrl(opts.to))}. Nothing was done.`,
        );
      }
      const store = openExisting(config);
      let pool: Awaited<ReturnType<typeof openPg>> | null = null;
      try {
        pool = await openPg(opts.to);
        const sourceHead = new AuditLog(store.db).head();
        const r = await copySqliteToPg(store.db, pool, (t, n) => err(`  ${t}: ${n} rows`)).catch(
          (e: unknown) => {
            throw storeError(opts.to, e);
          },
        );
        const v = await new PgAuditLog(pool).verify();
        if (!v.ok || (sourceHead?.hash ?? null) !== (r.auditHead?.hash ?? null)) {
          err(
            `attest migrate-store: the copy's audit chain does not match the source (${v.ok ? 'head differs' : v.reason}).`,
          );
          process.exitCode = 1;
          return;
        }
        out(
          `Copied ${r.rows} rows in ${r.tables.length} tables to ${safeUrl(opts.to)} in ${r.seconds.toFixed(1)} s; audit chain verified (${v.entries} entries, head ${r.auditHead?.hash.slice(0, 16) ?? 'empty'}).`,
        );
      } finally {
        store.close();
        await pool?.end();
      }
    });

  const audit = program.command('audit').description('The tamper-evident audit log');
  audit
    .command('verify')
    .description(
      'Check the hash chain of the whole audit log and list every broken entry; with --checkpoints, also that the log still reaches every signed checkpoint',
    )
    .addOption(dbOption())
    .addOption(configOption())
    .option('--checkpoints <file>', 'checkpoint lines to check against (default: the configured file sink)')
    .option('--key <file>', 'the Ed25519 public key, or the private key file (default: the configured key)')
    .action(async (opts: Common & { checkpoints?: string; key?: string }) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      if (isPostgresUrl(config.db)) {
        if (opts.checkpoints)
          throw new ConfigError('--checkpoints: checked on the SQLite store only so far. Nothing was done.');
        const pool = await openPg(config.db);
        try {
          const r = await new PgAuditLog(pool).verify();
          reportVerify(r);
        } finally {
          await pool.end();
        }
        return;
      }
      const store = openExisting(config);
      try {
        const log = new AuditLog(store.db);
        const r = log.verify();
        reportVerify(r);
        const sink = config.auditCheckpoints?.sink;
        const file = opts.checkpoints ?? (sink && !/^https?:/i.test(sink) ? sink : undefined);
        if (opts.checkpoints || file) {
          const keyFile = opts.key ?? config.auditCheckpoints?.keyFile;
          if (!file || !keyFile) {
            err('attest audit verify: --checkpoints needs --key (or auditCheckpoints in the configuration).');
            process.exitCode = 2;
            return;
          }
          let text: string;
          try {
            text = readFileSync(file, 'utf8');
          } catch (e) {
            err(
              `attest audit verify: checkpoints file ${file} cannot be read (${(e as NodeJS.ErrnoException).code ?? 'error'}).`,
            );
            process.exitCode = 2;
            return;
          }
          const c = verifyCheckpoints(log, text, readVerifyKey(keyFile));
          if (c.ok) {
            out(
              `Checkpoints OK: ${c.checkpoints} checked; the log reaches the latest (entry ${c.latest ?? 0}) and ${r.head ? `ends at entry ${r.head.seq}` : 'is empty'}.`,
            );
          } else {
            err(`Checkpoints FAILED (${c.checkpoints} checked):`);
            for (const p of c.problems.slice(0, 100)) err(`  ${p}`);
            process.exitCode = 1;
          }
        }
      } finally {
        store.close();
      }
    });
  audit
    .command('keygen')
    .description(
      'Create the Ed25519 key that signs audit checkpoints (keep it outside the store); prints the public key',
    )
    .requiredOption('--key <file>', 'where to write the private key (never overwritten)')
    .action((opts: { key: string }) => {
      const k = generateSigningKey(opts.key);
      out(`Wrote ${opts.key} (key id ${k.keyId}). Public key, for verifiers:`);
      process.stdout.write(k.publicKeyPem);
    });
  audit
    .command('checkpoint')
    .description("Write a signed checkpoint of the audit log's current head to the configured sink now")
    .addOption(dbOption())
    .addOption(configOption())
    .action((opts: Common) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      const writer = checkpointsFrom(config, createLogger(config.logLevel));
      if (!writer) {
        err('attest audit checkpoint: no auditCheckpoints in the configuration (keyFile, sink, every).');
        process.exitCode = 2;
        return;
      }
      const store = openExisting(config);
      try {
        const c = writer.writeHead(new AuditLog(store.db));
        out(c ? `Checkpoint of entry ${c.seq} written.` : 'The audit log is empty; nothing to checkpoint.');
      } finally {
        store.close();
      }
    });
  audit
    .command('export')
    .description('Write the audit log for auditors as JSON Lines or CSV')
    .addOption(dbOption())
    .addOption(configOption())
    .addOption(new Option('--format <format>', 'jsonl or csv').choices(['jsonl', 'csv']).default('jsonl'))
    .option('--since <time>', 'only entries at or after this ISO 8601 time')
    .option('--out <file>', 'write here instead of stdout')
    .action(async (opts: Common & { format: 'jsonl' | 'csv'; since?: string; out?: string }) => {
      if (opts.since !== undefined && Number.isNaN(Date.parse(opts.since))) {
        throw new InvalidArgumentError(`--since: "${opts.since}" is not an ISO 8601 time`);
      }
      const config = configFrom({ db: opts.db, config: opts.config });
      const store = openExisting(config);
      const sink = opts.out ? createWriteStream(opts.out) : process.stdout;
      const { writeAuditExport } = await import('./services/audit-export.js');
      try {
        const n = await writeAuditExport(new AuditLog(store.db), sink, {
          format: opts.format,
          since: opts.since ? new Date(opts.since).toISOString() : undefined,
        });
        if (opts.out) {
          await new Promise<void>((r) => (sink as ReturnType<typeof createWriteStream>).end(r));
          err(`Wrote ${n} audit entries to ${opts.out}.`);
        }
      } finally {
        store.close();
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof InvalidArgumentError || e instanceof CheckpointError) {
      err(`attest: ${e.message}`);
      process.exitCode = 2;
      return;
    }
    err(`attest: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}

const isMain = (() => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();
if (isMain) {
  // A reader that stops early (attest audit export | head) closes the pipe: that ends the output, quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  void main(process.argv);
}
