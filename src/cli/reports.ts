import { writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { ConfigError } from '../config.js';
import { buildEvidence, htmlToPdf, renderEvidenceHtml } from '../services/evidence.js';

import { type Common, configFrom, configOption, dbOption, err, out, withStore } from './common.js';

export function registerEvidence(program: Command): void {
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
      await withStore(config, async (store) => {
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
      });
    });
}

export function registerExport(program: Command): void {
  const exp = program.command('export').description('Reports for operators and auditors');
  exp
    .command('remediation')
    .description('Write the remediation list (revoked access and its removal status) as CSV')
    .addOption(dbOption())
    .addOption(configOption())
    .option('--out <file>', 'write here instead of stdout')
    .action(async (opts: Common & { out?: string }) => {
      const config = configFrom({ db: opts.db, config: opts.config });
      await withStore(config, async (store) => {
        const rows = store.decisions.remediations();
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
      });
    });
}
