import { type Command, InvalidArgumentError } from 'commander';
import { formatShadowTable } from '../analysis/shadow.js';
import { analysisDate } from '../app.js';
import {
  AutomationRefused,
  automationPlan,
  eventsOf,
  formatPlan,
  runAutomation,
} from '../services/automation-run.js';
import { runShadow, ShadowInputError } from '../services/shadow.js';

import {
  type Common,
  cliAuditor,
  configFrom,
  configOption,
  dbOption,
  err,
  intArg,
  out,
  registryFor,
  withStore,
} from './common.js';

export function registerShadow(program: Command): void {
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
        await withStore(config, async (store) => {
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
          }
        });
      },
    );
}

export function registerAutomate(program: Command): void {
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
        await withStore(config, async (store) => {
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
          }
        });
      },
    );
}
