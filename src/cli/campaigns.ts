import { userInfo } from 'node:os';
import { type Command, Option } from 'commander';
import { analysisDate } from '../app.js';
import { ConfigError, describeZodError } from '../config.js';
import { escapeUnsafe, quoteField } from '../policy/human-text.js';
import { campaignSpecSchema, campaignSummary, resolveCampaign } from '../services/campaigns.js';
import { runChangeOutbox } from '../services/changes.js';
import { campaignRequest, refuseCampaignOn } from '../services/platform-changes.js';

import {
  askYesNo,
  type Common,
  cliAuditor,
  collect,
  configFrom,
  configOption,
  confirmChangeFromCli,
  dbOption,
  err,
  intArg,
  out,
  registryFor,
  withStore,
} from './common.js';

export function registerCampaign(program: Command): void {
  const campaign = program.command('campaign').description('Campaigns of Attest’s own');
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
        await withStore(config, async (store) => {
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
          const repo = store.changes;
          const change = repo.create({
            kind: 'create_campaign',
            platform: spec.on_platform ?? 'snapshot',
            spec: spec as unknown as Record<string, unknown>,
            summary,
            proposed_by: by,
            proposed_at: now.toISOString(),
          });
          confirmChangeFromCli(
            store,
            auditor,
            change,
            by,
            now,
            'cli:create_campaign',
            { change_id: change.id },
            { spec, preview },
          );
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
              `attest campaign create: confirmed, but ${spec.on_platform ?? 'the platform'} did not finish: ${escapeUnsafe(String(store.changes.state(change.id).error ?? 'unknown error'))}. It stays queued (change ${change.id}) and is applied once by the next run (attest serve, or attest confirm).`,
            );
            process.exitCode = 1;
          } else {
            err(
              `attest campaign create: the campaign was not created: ${String(created.result?.error ?? 'unknown error')}.`,
            );
            process.exitCode = 1;
          }
        });
      },
    );
}
