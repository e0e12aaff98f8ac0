/**
 * `attest sync entra` at scale: starts the HTTPS Graph emulator with a generated tenant
 * (default 20,000 users and 200,000 assignments), runs the built CLI as a child process
 * (it trusts the emulator through NODE_EXTRA_CA_CERTS, read when Node starts) for a full
 * sync into a temporary store, then an incremental one after a few changes, and prints
 * time, HTTP requests per endpoint and what was stored.
 *
 *   npm run build && npx tsc -p tsconfig.bench.json && node dist-bench/bench/entra-sync.js
 *   BENCH_USERS=5000 BENCH_ASSIGNMENTS=50000 node dist-bench/bench/entra-sync.js
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Store } from '../src/store/store.js';
import { generateEntraTenant, type RequestLogEntry, startEntraEmulator } from '../test/emulators/entra.js';
import { emulatorTls } from '../test/emulators/tls.js';

const users = Number(process.env.BENCH_USERS ?? 20_000);
const assignments = Number(process.env.BENCH_ASSIGNMENTS ?? 200_000);
const reviews = Number(process.env.BENCH_REVIEWS ?? 5_000);
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

async function main(): Promise<void> {
  const now = new Date();
  let t = performance.now();
  const tenant = generateEntraTenant({ users, assignments, now, reviews });
  console.log(`Generated tenant in ${ms(performance.now() - t)}:`, tenant.stats());
  const emu = await startEntraEmulator({ tenant });
  const dir = mkdtempSync(join(tmpdir(), 'attest-bench-entra-'));
  const db = join(dir, 'bench.db');
  const env = {
    AZURE_TENANT_ID: tenant.tenantId,
    AZURE_CLIENT_ID: emu.clientId,
    AZURE_CLIENT_SECRET: emu.clientSecret,
    AZURE_AUTHORITY_HOST: emu.url,
    GRAPH_BASE_URL: emu.url,
    NODE_EXTRA_CA_CERTS: (await emulatorTls()).certPath,
    ATTEST_LOG_LEVEL: 'warn',
  };
  try {
    t = performance.now();
    const full = await run(['sync', 'entra', '--db', db], env);
    console.log(`\nFull sync (attest sync entra, child process): exit ${full.code}, ${ms(full.ms)} wall`);
    console.log(full.out.trim());
    console.log(`  requests the emulator saw: ${emu.requests.length}`);
    for (const [k, n] of byEndpoint(emu.requests).slice(0, 12))
      console.log(`    ${String(n).padStart(6)}  ${k}`);
    const store = Store.open(db);
    console.log('  stored:', store.counts());
    store.close();

    // An incremental sync a minute later: one membership removed, one added, one user deleted.
    const g = tenant.groups.find(
      (x) =>
        !x.groupTypes.includes('DynamicMembership') &&
        !x.onPremisesSyncEnabled &&
        (tenant.members.get(x.id)?.length ?? 0) > 1,
    )!;
    tenant.removeMember(g.id, tenant.members.get(g.id)!.find((id) => tenant.user(id))!);
    tenant.addMember(g.id, tenant.users[5]!.id);
    tenant.deleteUser(tenant.users[tenant.users.length - 1]!.id);
    emu.clearLog();
    const inc = await run(['sync', 'entra', '--db', db], env);
    console.log(`\nIncremental sync: exit ${inc.code}, ${ms(inc.ms)} wall`);
    console.log(inc.out.trim());
    console.log(`  requests the emulator saw: ${emu.requests.length}`);
    for (const [k, n] of byEndpoint(emu.requests).slice(0, 12))
      console.log(`    ${String(n).padStart(6)}  ${k}`);
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
