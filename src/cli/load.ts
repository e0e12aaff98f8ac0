import { resolve } from 'node:path';
import type { Command } from 'commander';
import { analysisDate, buildDemo, connectorOptions } from '../app.js';
import { ConfigError } from '../config.js';
import { connectorForSync, syncablePlatforms } from '../connectors/registry.js';
import { ConnectorError } from '../connectors/types.js';
import { createLogger } from '../log.js';
import { analyzeCampaigns } from '../services/analyze.js';
import { evaluateAutomation } from '../services/automation.js';
import { eventsOf } from '../services/automation-run.js';
import { loadSnapshot } from '../services/load.js';
import { runSync } from '../services/sync.js';

import {
  type Common,
  cliAuditor,
  configFrom,
  configOption,
  dbOption,
  err,
  intArg,
  out,
  progressBar,
  withStore,
} from './common.js';

export function registerDemo(program: Command): void {
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
      await withStore(
        config,
        async (store) => {
          const bar = progressBar('import');
          const r = await buildDemo(store, config, logger, {
            users: opts.users,
            dir: opts.dir ? resolve(opts.dir) : undefined,
            onProgress: bar.update,
          });
          bar.done();
          out(`Demo tenant built in ${config.db}: ${JSON.stringify(store.counts())}`);
          out(`Snapshot folder: ${r.dir}`);
        },
        { create: true },
      );
    });
}

export function registerImport(program: Command): void {
  program
    .command('import')
    .description('Load a tenant snapshot folder of CSV files (all-or-nothing, idempotent)')
    .argument('<dir>', 'snapshot folder (see the snapshot format)')
    .addOption(dbOption())
    .addOption(configOption())
    .action(async (dir: string, opts: Common) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      await withStore(
        config,
        async (store) => {
          const bar = progressBar('import');
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
        },
        { create: true },
      );
    });
}

export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('Re-score every item of the active campaigns (risk score and signals)')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--campaign <id>', 'only this campaign')
    .action(async (opts: Common & { campaign?: string }) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      await withStore(config, async (store) => {
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
      });
    });
}

export function registerSync(program: Command): void {
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
      await withStore(
        config,
        async (store) => {
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
          }
        },
        { create: true },
      );
    });
}
