import type { Command } from 'commander';
import { ConfigError } from '../config.js';
import { PgAuditLog } from '../store/pg/audit.js';
import { copyStoreToPg } from '../store/pg/copy.js';
import { isPostgresUrl, openPg, safeUrl, storeError } from '../store/pg/db.js';

import { type Common, configFrom, configOption, dbOption, err, out, withStore } from './common.js';

export function registerMigrateStore(program: Command): void {
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
      await withStore(config, async (store) => {
        let pool: Awaited<ReturnType<typeof openPg>> | null = null;
        try {
          pool = await openPg(opts.to);
          const sourceHead = store.audit.head();
          const r = await copyStoreToPg(store, pool, (t, n) => err(`  ${t}: ${n} rows`)).catch(
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
          await pool?.end();
        }
      });
    });
}
