/**
 * Set-up the platform end-to-end tests share (Okta, Entra ID, Ping): the built CLI run against
 * an emulator in this process, copies of one synced store, the variables that point at each
 * emulator, real MCP clients (in process and over stdio) and a change confirmed by a human.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { InMemoryTransport } from '@modelcontextprotocol/sdk/inMemory.js';
import { ElicitRequestSchema } from '@modelcontextprotocol/sdk/types.js';
import { expect } from 'vitest';
import { PING_VARIABLES } from '../../src/connectors/ping/config.js';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import { createLogger } from '../../src/log.js';
import { Auditor } from '../../src/policy/audit.js';
import { createServer } from '../../src/server.js';
import { answerChangeConfirmation, runChangeOutbox } from '../../src/services/changes.js';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import type { EntraEmulator } from '../emulators/entra.js';
import type { OktaEmulator } from '../emulators/okta.js';
import { type Harness, startServer, testConfig } from '../helpers/harness.js';
import { BASE_ENV, CLI } from './helpers.js';

export type Env = Record<string, string>;

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI asynchronously (the emulator lives in this process, so no spawnSync). */
export function runCliAsync(args: string[], env: Env): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...BASE_ENV, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += String(d);
    });
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    child.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The OKTA_* variables that point at the emulator. */
export const oktaEnv = (emu: OktaEmulator): Env => ({ OKTA_ORG_URL: emu.url, OKTA_API_TOKEN: emu.token });

/** The AZURE_* and GRAPH_BASE_URL variables that point at the emulator. */
export const entraEnv = (emu: EntraEmulator): Env => ({
  AZURE_TENANT_ID: emu.tenant.tenantId,
  AZURE_CLIENT_ID: emu.clientId,
  AZURE_CLIENT_SECRET: emu.clientSecret,
  AZURE_AUTHORITY_HOST: emu.url,
  GRAPH_BASE_URL: emu.url,
});

/** Every PINGONE_* / PINGAIC_* variable unset, so only the test's own reach the child. */
export const NO_PING_ENV: Env = Object.fromEntries(PING_VARIABLES.map((v) => [v.name, '']));

/** One store synced once (`base`), and a fresh copy of it for each test that changes it. */
export function storeCopies(dir: string) {
  const base = join(dir, 'base.db');
  let n = 0;
  return {
    base,
    async fresh(): Promise<string> {
      const db = join(dir, `copy-${++n}.db`);
      const src = Store.open(base);
      try {
        await src.db.backup(db);
      } finally {
        src.close();
      }
      return db;
    },
  };
}

/** `attest campaign create … --on-platform <platform>`, confirmed on the command line by boss. */
export function createCampaignArgs(options: {
  db: string;
  name: string;
  /** `--entitlement <id>` pairs. */
  access: string[];
  platform: string;
  reviewers: { by: 'manager' } | { by: 'named'; reviewer: string };
  fallback: string;
}): string[] {
  const { db, name, access, platform, reviewers, fallback } = options;
  return [
    'campaign',
    'create',
    '--db',
    db,
    '--name',
    name,
    ...access,
    '--on-platform',
    platform,
    '--reviewers',
    ...(reviewers.by === 'named' ? ['named', '--reviewer', reviewers.reviewer] : ['manager']),
    '--fallback',
    fallback,
    '--yes',
    '--as',
    'boss',
  ];
}

/** `attest roles propose <role> --platform <platform>`, confirmed on the command line by boss. */
export function proposeRoleArgs(roleId: string, platform: string, db: string, name: string): string[] {
  return [
    'roles',
    'propose',
    roleId,
    '--platform',
    platform,
    '--db',
    db,
    '--name',
    name,
    '--yes',
    '--as',
    'boss',
  ];
}

export interface MinedRole {
  role_id: string;
  pattern?: Record<string, string>;
  entitlement_ids: string[];
  user_ids: string[];
}

/** The roles mine_roles finds on one platform of the store, asked through an in-process client. */
export async function mineRoles(store: Store, env: Env, platform: string): Promise<MinedRole[]> {
  const h = await startServer({ store, deps: { connectorFor: createConnectorRegistry(env) } });
  const mined = await h.ok<{ roles: MinedRole[] }>('mine_roles', { platform, limit: 200 });
  await h.close();
  return mined.roles;
}

/** An in-process server on the platforms of `env` whose client accepts every confirmation it is asked. */
export const startConfirmingServer = (store: Store, env: Env) =>
  startServer({
    store,
    elicit: { action: 'accept', content: { confirm: true } },
    deps: { connectorFor: createConnectorRegistry(env) },
  });

/** The ids of the users of one department, in id order. */
export const usersInDepartment = (store: Store, department: string) =>
  store.db
    .prepare('SELECT id FROM users WHERE department = ? ORDER BY id')
    .pluck()
    .all(department) as string[];

/** One of the platform's admin roles in the store. */
export const aRoleEntitlement = (store: Store, platform: string) =>
  store.db
    .prepare("SELECT id FROM entitlements WHERE platform = ? AND type = 'role' LIMIT 1")
    .pluck()
    .get(platform) as string;

/** The changes recorded in the store, by any channel. */
export const changeCount = (store: Store) => store.db.prepare('SELECT count(*) FROM changes').pluck().get();

/** The audit entries of applied campaign creations. */
export const campaignCreationAudit = (store: Store) =>
  [...new AuditLog(store.db).entries()].filter((e) => e.tool === 'change:create_campaign');

/**
 * An in-process server whose outbox applies confirmed changes on the platforms of `env`, with
 * its auditor, so a test can answer the confirmation as a human would (`answerAsBoss`).
 */
export async function startChangeServer(store: Store, env: Env): Promise<{ h: Harness; auditor: Auditor }> {
  const connectorFor = createConnectorRegistry(env);
  const auditor = new Auditor(new AuditLog(store.db));
  const h = await startServer({
    store,
    deps: {
      transport: 'http',
      connectorFor,
      applyOutbox: async () => {
        await runChangeOutbox(store, { connectorFor, auditor });
      },
    },
  });
  return { h, auditor };
}

/** Answers a change's confirmation on the command line, as boss. */
export function answerAsBoss(
  store: Store,
  confirmationId: string,
  answer: 'confirm' | 'reject',
  auditor: Auditor,
) {
  const who = { principal: 'boss', client: null, session_id: null, transport: 'cli' as const };
  return answerChangeConfirmation(store, confirmationId, answer, 'boss', new Date(), {
    recordEvent: auditor.events(who),
  });
}

export type CallTool = <T>(name: string, args: Record<string, unknown>) => Promise<T>;

/** Calls a tool and returns its structured content; throws when the result is an error. */
export function toolCaller(client: Client): CallTool {
  return async <T>(name: string, args: Record<string, unknown>) => {
    const r = await client.callTool({ name, arguments: args });
    if (r.isError) throw new Error(JSON.stringify(r.content));
    return r.structuredContent as T;
  };
}

/** A client that declares form elicitation and confirms every request. */
export function confirmingClient(name: string): Client {
  const client = new Client({ name, version: '1' }, { capabilities: { elicitation: { form: {} } } });
  client.setRequestHandler(ElicitRequestSchema, async () => ({
    action: 'accept',
    content: { confirm: true },
  }));
  return client;
}

/** Connects the client to a server in this process, serving the store as analyst@example.com. */
export async function connectInProcess(store: Store, client: Client, applyOutbox: () => Promise<void>) {
  const server = createServer({
    store,
    config: testConfig({ db: 'x' }),
    logger: createLogger('silent'),
    principal: { id: 'analyst@example.com', role: 'admin', reviewer_ids: [] },
    transport: 'memory',
    applyOutbox,
  });
  const [a, b] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(b), client.connect(a)]);
  return { client, call: toolCaller(client) };
}

/** `attest serve` over stdio as analyst@example.com, the client connected to the child. */
export async function serveStdio(db: string, env: Env, client: Client) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [CLI, 'serve', '--db', db, '--principal', 'analyst@example.com'],
    env: { ...BASE_ENV, ...env },
    stderr: 'pipe',
  });
  let stderr = '';
  transport.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  await client.connect(transport);
  return { client, call: toolCaller(client), stderr: () => stderr };
}

/** One item of list_campaign_items, as these tests read it. */
export interface ListedItem {
  item_id: string;
  user: { id: string };
  entitlement: { id: string; type: string };
}

/** Proposes revoking `n` items of the first active campaign `isCampaign` picks, of those `pick` keeps. */
export async function proposeCampaignRevokes(
  call: CallTool,
  options: {
    isCampaign: (c: { name: string; platform: string }) => boolean;
    n: number;
    pick: (items: ListedItem[]) => ListedItem[];
    rationale: string;
  },
) {
  const { campaigns } = await call<{ campaigns: Array<{ id: string; name: string; platform: string }> }>(
    'list_campaigns',
    { status: 'active' },
  );
  const campaign = campaigns.find(options.isCampaign)!;
  expect(campaign).toBeDefined();
  const page = await call<{ items: ListedItem[] }>('list_campaign_items', {
    campaign_id: campaign.id,
    limit: 500,
  });
  const items = options.pick(page.items).slice(0, options.n);
  expect(items).toHaveLength(options.n);
  const ids: string[] = [];
  for (const i of items)
    ids.push(
      (
        await call<{ proposal_id: string }>('propose_decision', {
          item_id: i.item_id,
          decision: 'revoke',
          rationale: options.rationale,
        })
      ).proposal_id,
    );
  return { items, ids };
}

/** How many outbox entries of the store at `db` are done. */
export function outboxDone(db: string): number {
  const store = Store.open(db);
  try {
    return (store.db.prepare("SELECT count(*) AS n FROM outbox WHERE status = 'done'").get() as { n: number })
      .n;
  } finally {
    store.close();
  }
}

/**
 * `attest serve --http 0 --sync 60` on the store at `db`, logging at info: `saw(text)` waits for
 * a line of its log, and fails when the platform's sync fails or the server exits.
 */
export function serveWithSync(db: string, env: Env, platform: string) {
  const child = spawn(process.execPath, [CLI, 'serve', '--db', db, '--http', '0', '--sync', '60'], {
    env: { ...BASE_ENV, ...env, ATTEST_LOG_LEVEL: 'info' },
  });
  let stderr = '';
  const waiting: Array<() => void> = [];
  child.stderr.on('data', (d) => {
    stderr += String(d);
    for (const w of waiting) w();
  });
  const saw = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const check = () => {
        if (stderr.includes(text)) resolve();
        else if (stderr.includes(`${platform} sync failed`)) reject(new Error(stderr));
      };
      waiting.push(check);
      check();
      child.once('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
  const stop = () => {
    child.kill('SIGTERM');
    return new Promise((r) => child.once('exit', r));
  };
  return { saw, stop, stderr: () => stderr };
}
