import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, Option } from 'commander';
import { checkpointsFrom, connectorOptions, secretsFromEnv } from '../app.js';
import { type Config, ConfigError, resolveConfig } from '../config.js';
import { createConnectorRegistry } from '../connectors/registry.js';
import { createLogger } from '../log.js';
import { Auditor } from '../policy/audit.js';
import type { VerifyResult } from '../store/audit.js';
import { openSharedState, type SharedState, storeState } from '../store/backend.js';
import type { ChangeRow } from '../store/changes.js';
import { isPostgresUrl, safeUrl } from '../store/pg/db.js';
import { Store } from '../store/store.js';

/** Output of the CLI itself (never used while serving stdio). */
export const out = (line: string) => process.stdout.write(`${line}\n`);
export const err = (line: string) => process.stderr.write(`${line}\n`);

export function intArg(name: string, min: number, max: number) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${min} to ${max}.`);
    }
    return n;
  };
}

/** A one-line progress bar on stderr, only when stderr is a terminal. */
export function progressBar(label: string) {
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

export interface Common {
  db?: string;
  config?: string;
}

export function configFrom(opts: Common & Partial<Config>): Config {
  return resolveConfig(opts, process.env);
}

/**
 * Opens the store for a command that needs one that exists: a mistyped --db must not
 * silently create an empty store and report on it.
 */
function openExisting(config: Config): Store {
  if (isPostgresUrl(config.db)) {
    throw new ConfigError(
      `--db / ATTEST_DB: ${safeUrl(config.db)} is a PostgreSQL store; this command runs on the SQLite store only so far (on PostgreSQL: attest serve --http, confirm, reject, token create, audit verify and migrate-store). Nothing was done.`,
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
export function registryFor(config: Config) {
  return createConnectorRegistry(process.env, connectorOptions(config, createLogger(config.logLevel)));
}

/** An audit writer for a CLI command, redacting the platform secrets the environment holds. */
export function cliAuditor(store: Store, config: Config): Auditor {
  const logger = createLogger(config.logLevel);
  const secrets = secretsFromEnv(process.env, config);
  return new Auditor(store.audit, () => secrets, checkpointsFrom(config, logger));
}

/**
 * Opens either store for a command that runs on both: a SQLite file (which must exist) or
 * `postgres://…`. `store` is the SQLite store, null on PostgreSQL. Closed however `fn` ends.
 */
export async function withShared<T>(
  config: Config,
  fn: (shared: SharedState, store: Store | null) => Promise<T> | T,
): Promise<T> {
  if (isPostgresUrl(config.db)) {
    if (config.auditCheckpoints)
      throw new ConfigError(
        'auditCheckpoints: signed audit checkpoints run on the SQLite store only so far; remove them from the configuration to use a PostgreSQL store. Nothing was done.',
      );
    const shared = await openSharedState(config.db);
    try {
      return await fn(shared, null);
    } finally {
      await shared.close();
    }
  }
  return withStore(config, (store) => fn(storeState(store), store));
}

/** An audit writer for a CLI command on either store (checkpoints on SQLite, as cliAuditor). */
export function sharedAuditor(shared: SharedState, store: Store | null, config: Config): Auditor {
  if (store) return cliAuditor(store, config);
  return new Auditor(shared.audit, () => secretsFromEnv(process.env, config), null);
}

/** Prints an audit chain check (the first 100 broken entries); a broken chain exits 1. */
export function reportVerify(r: VerifyResult): void {
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
export async function askYesNo(question: string): Promise<boolean> {
  const { createInterface } = await import('node:readline/promises');
  const rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
  try {
    const answer = await rl.question(question);
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}
export const dbOption = () =>
  new Option(
    '--db <file>',
    'the store: a SQLite file (default attest.db) or postgres://… where the command runs on PostgreSQL (env ATTEST_DB)',
  );
export const configOption = () => new Option('--config <file>', 'JSON config file (env ATTEST_CONFIG)');
/** Collects a repeatable option's values. */
export const collect = (v: string, list: string[] = []) => [...list, v];

/**
 * The one way a command opens and closes the store: `create` opens (or creates) the file, as
 * the commands that load data do; otherwise the store must exist. Closed however `fn` ends.
 */
export async function withStore<T>(
  config: Config,
  fn: (store: Store) => Promise<T> | T,
  opts: { create?: boolean } = {},
): Promise<T> {
  const store = opts.create ? Store.open(config.db) : openExisting(config);
  try {
    return await fn(store);
  } finally {
    store.close();
  }
}

/**
 * Queues a change the person at the terminal has just confirmed: the confirmation and its
 * audit entry (`tool`, with `args` and `details` beside the confirmation) in one transaction.
 */
export function confirmChangeFromCli(
  store: Store,
  auditor: Auditor,
  change: Pick<ChangeRow, 'id'>,
  by: string,
  now: Date,
  tool: string,
  args: Record<string, unknown>,
  details: Record<string, unknown>,
): void {
  const repo = store.changes;
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
        tool,
        kind: 'write',
        arguments: args,
        outcome: 'ok',
        details: {
          ...details,
          confirmation: { id: cid, channel: 'cli', assurance: 'human-verified', confirmed_by: by },
        },
      }),
  });
}
