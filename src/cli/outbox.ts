import type { Command } from 'commander';
import { runOutbox } from '../services/outbox.js';

import {
  type Common,
  cliAuditor,
  configFrom,
  configOption,
  dbOption,
  err,
  out,
  registryFor,
  withStore,
} from './common.js';

export function registerOutbox(program: Command): void {
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
      await withStore(config, async (store) => {
        const run = await runOutbox(store, registryFor(config), {
          auditor: cliAuditor(store, config),
          leaseMs: config.outboxLeaseSeconds * 1000,
          escalationReviewer: config.escalationReviewer ?? null,
        });
        out(`Outbox: ${run.applied} applied, ${run.failed} failed, ${run.retry} to retry.`);
      });
    });
}
