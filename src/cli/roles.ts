import { writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { type Command, Option } from 'commander';
import { stringify } from 'csv-stringify/sync';
import { escapeUnsafe, quoteField } from '../policy/human-text.js';
import { runChangeOutbox } from '../services/changes.js';
import {
  findMinedRole,
  type RoleSpec,
  refuseRoleOn,
  roleRequest,
  roleSummary,
} from '../services/platform-changes.js';
import { mineRolesFromStore, rememberRoleReport, roleReportCsv } from '../services/roles.js';

import {
  askYesNo,
  type Common,
  cliAuditor,
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

export function registerRoles(program: Command): void {
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
      async (
        opts: Common & {
          platform?: 'snapshot' | 'okta' | 'entra' | 'ping';
          minUsers?: number;
          json?: boolean;
          out?: string;
          leftover?: string;
        },
      ) => {
        const config = configFrom({ db: opts.db, config: opts.config });
        await withStore(config, async (store) => {
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
        });
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
        await withStore(config, async (store) => {
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
          const repo = store.changes;
          const now = new Date();
          const change = repo.create({
            kind: 'create_role',
            platform: opts.platform,
            spec: { ...spec, plan } as unknown as Record<string, unknown>,
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
            'cli:propose_role',
            { change_id: change.id, role_id: role.role_id, platform: opts.platform },
            { plan },
          );
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
        });
      },
    );
}
