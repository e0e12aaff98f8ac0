#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { registerAudit } from './cli/audit.js';
import { registerAutomate, registerShadow } from './cli/automate.js';
import { registerCampaign } from './cli/campaigns.js';
import { err } from './cli/common.js';
import { registerConfirm } from './cli/confirm.js';
import { registerAnalyze, registerDemo, registerImport, registerSync } from './cli/load.js';
import { registerMigrateStore } from './cli/migrate-store.js';
import { registerOutbox } from './cli/outbox.js';
import { registerEvidence, registerExport } from './cli/reports.js';
import { registerRoles } from './cli/roles.js';
import { registerConsole, registerServe } from './cli/serve.js';
import { registerToken } from './cli/tokens.js';
import { ConfigError } from './config.js';
import { CheckpointError } from './policy/checkpoints.js';

/** The command line: each command group is a module under src/cli/, registered in help order. */
export function buildCli(): Command {
  const program = new Command();
  program
    .name('attest')
    .description('MCP server for identity access reviews (Okta, Entra ID, Ping Identity, CSV snapshots)')
    .version('0.1.0')
    .showHelpAfterError();

  registerDemo(program);
  registerImport(program);
  registerAnalyze(program);
  registerServe(program);
  registerSync(program);
  registerShadow(program);
  registerAutomate(program);
  registerToken(program);
  registerConfirm(program);
  registerOutbox(program);
  registerConsole(program);
  registerEvidence(program);
  registerCampaign(program);
  registerRoles(program);
  registerExport(program);
  registerMigrateStore(program);
  registerAudit(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildCli().parseAsync(argv);
  } catch (e) {
    if (e instanceof ConfigError || e instanceof InvalidArgumentError || e instanceof CheckpointError) {
      err(`attest: ${e.message}`);
      process.exitCode = 2;
      return;
    }
    err(`attest: ${e instanceof Error ? e.message : String(e)}`);
    process.exitCode = 1;
  }
}

const isMain = (() => {
  try {
    return realpathSync(process.argv[1] ?? '') === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();
if (isMain) {
  // A reader that stops early (attest audit export | head) closes the pipe: that ends the output, quietly.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  void main(process.argv);
}
