import { type Command, Option } from 'commander';

import { type Common, configFrom, configOption, dbOption, intArg, out, withShared } from './common.js';

export function registerToken(program: Command): void {
  const token = program.command('token').description('HTTP bearer tokens');
  token
    .command('create')
    .description('Create a bearer token for a principal; prints it once (only its hash is stored)')
    .addOption(dbOption())
    .addOption(configOption())
    .requiredOption('--principal <name>', 'who the token identifies, e.g. an e-mail')
    .addOption(
      new Option('--role <role>', 'admin or reviewer').choices(['admin', 'reviewer']).default('reviewer'),
    )
    .option(
      '--ttl-hours <n>',
      'hours until it expires (default 720)',
      intArg('--ttl-hours', 1, 24 * 366),
      720,
    )
    .option(
      '--interactive-host',
      "the token's client is an interactive host that shows forms to a person: its elicitation answers count as host-attested confirmations",
    )
    .action(
      async (
        opts: Common & {
          principal: string;
          role: 'admin' | 'reviewer';
          ttlHours: number;
          interactiveHost?: boolean;
        },
      ) => {
        const config = configFrom({ db: opts.db, config: opts.config });
        await withShared(config, async (shared) => {
          const t = await shared.tokens.create(
            opts.principal,
            opts.role,
            new Date(Date.now() + opts.ttlHours * 3600_000),
            new Date(),
            { interactiveHost: opts.interactiveHost === true },
          );
          out(t);
        });
      },
    );
}
