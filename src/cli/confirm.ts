import { userInfo } from 'node:os';
import type { Command } from 'commander';
import { analysisDate, principalFor } from '../app.js';
import { quoteField } from '../policy/human-text.js';
import { answerChangeConfirmation, pendingChanges, runChangeOutbox } from '../services/changes.js';
import { answerConfirmation, pendingBatch } from '../services/decisions.js';
import { runOutbox } from '../services/outbox.js';

import {
  askYesNo,
  type Common,
  configFrom,
  configOption,
  dbOption,
  err,
  out,
  registryFor,
  sharedAuditor,
  withShared,
} from './common.js';

export function registerConfirm(program: Command): void {
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
      .option(
        '--queue-only',
        'queue the confirmed batch for the servers on this store to apply, without applying it here (this machine needs no platform credentials)',
      )
      .action(async (id: string, opts: Common & { as?: string; yes?: boolean; queueOnly?: boolean }) => {
        const config = configFrom({ db: opts.db, config: opts.config });
        if (answer === 'confirm' && config.readOnly) {
          err(
            `attest confirm: read-only mode (readOnly / ATTEST_READ_ONLY) allows no platform writes. Nothing was confirmed or applied.`,
          );
          process.exitCode = 2;
          return;
        }
        await withShared(config, async (shared, store) => {
          const by = opts.as ?? process.env.ATTEST_PRINCIPAL ?? userInfo().username;
          const auditor = sharedAuditor(shared, store, config);
          const base = {
            principal: by,
            client: { name: 'attest-cli', version: '0.1.0' },
            session_id: null,
            transport: 'cli',
          };
          const refuse = async (error: string) => {
            await auditor.recordAsync({
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
          const subject = (await shared.review.confirmation(id))?.subject;
          if (subject === 'changes' && !store)
            return refuse(
              `confirmation ${id} is of a platform change, which is confirmed on the SQLite store only so far (this store is PostgreSQL); nothing was changed`,
            );
          if (subject === 'changes' && store) {
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
          const shown = await pendingBatch(shared, id, new Date());
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
          const r = await answerConfirmation(shared, id, answer, by, new Date(), {
            channel: 'cli',
            eventEntry: auditor.eventEntries(base),
            audited: (seq) => auditor.afterCommit(seq),
            confirmerReviewerIds: principalFor(config, by).reviewer_ids,
            allowSelfReview: config.allowSelfReview,
          });
          if (!r.ok) return refuse(r.error);
          if (answer === 'reject') {
            out(`Rejected by ${by}. Nothing was applied.`);
            return;
          }
          if (opts.queueOnly) {
            out(
              `Confirmed by ${by} (cli, human-verified): ${shown.items} decision(s) queued; the servers on this store apply them.`,
            );
            return;
          }
          const run = await runOutbox(shared, registryFor(config), {
            auditor,
            leaseMs: config.outboxLeaseSeconds * 1000,
            escalationReviewer: config.escalationReviewer ?? null,
          });
          out(
            `Confirmed by ${by} (cli, human-verified): ${run.applied} applied, ${run.failed} failed, ${run.retry} to retry.`,
          );
          if (run.failed + run.retry > 0) process.exitCode = 1;
        });
      });
  }
}
