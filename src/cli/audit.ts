import { createWriteStream, readFileSync } from 'node:fs';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { checkpointsFrom } from '../app.js';
import { ConfigError } from '../config.js';
import { createLogger } from '../log.js';
import { generateSigningKey, readVerifyKey, verifyCheckpoints } from '../policy/checkpoints.js';
import { PgAuditLog } from '../store/pg/audit.js';
import { isPostgresUrl, openPg } from '../store/pg/db.js';

import {
  type Common,
  configFrom,
  configOption,
  dbOption,
  err,
  out,
  reportVerify,
  withStore,
} from './common.js';

export function registerAudit(program: Command): void {
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
      await withStore(config, async (store) => {
        const log = store.audit;
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
      });
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
    .action(async (opts: Common) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      const writer = checkpointsFrom(config, createLogger(config.logLevel));
      if (!writer) {
        err('attest audit checkpoint: no auditCheckpoints in the configuration (keyFile, sink, every).');
        process.exitCode = 2;
        return;
      }
      await withStore(config, async (store) => {
        const c = writer.writeHead(store.audit);
        out(c ? `Checkpoint of entry ${c.seq} written.` : 'The audit log is empty; nothing to checkpoint.');
      });
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
      await withStore(config, async (store) => {
        const sink = opts.out ? createWriteStream(opts.out) : process.stdout;
        const { writeAuditExport } = await import('../services/audit-export.js');
        const n = await writeAuditExport(store.audit, sink, {
          format: opts.format,
          since: opts.since ? new Date(opts.since).toISOString() : undefined,
        });
        if (opts.out) {
          await new Promise<void>((r) => (sink as ReturnType<typeof createWriteStream>).end(r));
          err(`Wrote ${n} audit entries to ${opts.out}.`);
        }
      });
    });
}
