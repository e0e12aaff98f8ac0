/**
 * `attest sync ping` at scale: starts the loopback Ping emulator with a generated
 * environment and tenant (default 20,000 users, 120,000 direct memberships, an active
 * certification of 5,000 items), runs the built CLI as a child process for a full sync into a
 * temporary store, then an incremental one after a few changes, and prints time, HTTP
 * requests per endpoint and what was stored.
 *
 *   npm run build && npx tsc -p tsconfig.bench.json && node scripts/copy-assets.mjs dist-bench/src
 *   node dist-bench/bench/ping-sync.js
 *   BENCH_USERS=5000 BENCH_MEMBERSHIPS=30000 BENCH_ITEMS=1000 node dist-bench/bench/ping-sync.js
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/store/store.js';
import { generatePingTenant, type RequestLogEntry, startPingEmulator } from '../test/emulators/ping.js';
import { pingEnv } from '../test/emulators/ping-env.js';

const users = Number(process.env.BENCH_USERS ?? 20_000);
const memberships = Number(process.env.BENCH_MEMBERSHIPS ?? users * 6);
const items = Number(process.env.BENCH_ITEMS ?? 5_000);
const CLI = join(import.meta.dirname, '..', '..', 'dist', 'cli.js');

const ms = (t: number) => `${(t / 1000).toFixed(2)} s`;

function byEndpoint(log: RequestLogEntry[]): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const r of log) {
    const key = `${r.method} ${r.path.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, '{id}')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]);
}

function run(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; out: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let out = '';
    child.stdout.on('data', (d) => {
      out += String(d);
    });
    child.stderr.on('data', (d) => {
      out += String(d);
    });
    child.on('exit', (code) => resolve({ code, out, ms: performance.now() - started }));
  });
}

function report(
  title: string,
  r: { code: number | null; out: string; ms: number },
  log: RequestLogEntry[],
): void {
  console.log(`\n${title}: exit ${r.code}, ${ms(r.ms)} wall`);
  console.log(
    r.out
      .split('\n')
      .filter((l) => !l.includes('\r') && l.trim() !== '')
      .slice(-6)
      .join('\n'),
  );
  console.log(`  requests the emulator saw: ${log.length}`);
  for (const [k, n] of byEndpoint(log).slice(0, 14)) console.log(`    ${String(n).padStart(6)}  ${k}`);
}

async function main(): Promise<void> {
  const now = new Date();
  let t = performance.now();
  const tenant = generatePingTenant({ users, memberships, items, now });
  console.log(`Generated environment and tenant in ${ms(performance.now() - t)}:`, tenant.stats());
  const emu = await startPingEmulator({ tenant });
  const dir = mkdtempSync(join(tmpdir(), 'attest-bench-ping-'));
  const db = join(dir, 'bench.db');
  const env = { ...pingEnv(emu, 'both'), ATTEST_LOG_LEVEL: 'warn' };
  try {
    t = performance.now();
    const full = await run(['sync', 'ping', '--db', db], env);
    report('Full sync (attest sync ping, both surfaces, child process)', full, emu.requests);
    const store = Store.open(db);
    console.log('  stored:', store.counts());
    store.close();

    // An incremental sync a minute later: a membership removed, one added, a user deleted, a decision made in AIC.
    const { group, user } = tenant.leafMemberships()[0]!;
    tenant.removeMember(group, user);
    tenant.addMember(group, tenant.users[5]!.id);
    tenant.deleteUser(tenant.users.at(-1)!.id);
    const live = tenant.certifications.find((c) => c.status === 'in-progress')!;
    const open = tenant.items.get(live.id)!.find((i) => !i.decision?.certification.decision)!;
    open.decision = {
      certification: {
        decision: 'certify',
        decisionDate: new Date().toISOString(),
        status: 'complete',
        comments: [],
      },
    };
    emu.clearLog();
    const inc = await run(['sync', 'ping', '--db', db], env);
    report('Incremental sync', inc, emu.requests);
    if (full.code !== 0 || inc.code !== 0) process.exitCode = 1;
  } finally {
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
