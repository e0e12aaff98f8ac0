/**
 * Okta sync at scale: starts the loopback emulator with a generated org
 * (default 20,000 users and 200,000 assignments), runs a full sync into a
 * temporary file store, then an incremental one, and prints time, HTTP
 * requests per endpoint and the page sizes used.
 *
 *   npx tsc -p tsconfig.bench.json && node dist-bench/bench/okta-sync.js
 *   BENCH_USERS=5000 BENCH_ASSIGNMENTS=50000 node dist-bench/bench/okta-sync.js
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PAGE_SIZES, OktaConnector } from '../src/connectors/okta/connector.js';
import { runSync } from '../src/services/sync.js';
import { Store } from '../src/store/store.js';
import { generateOktaOrg, type RequestLogEntry, startOktaEmulator } from '../test/emulators/okta.js';

const users = Number(process.env.BENCH_USERS ?? 20_000);
const assignments = Number(process.env.BENCH_ASSIGNMENTS ?? 200_000);
const reviews = Number(process.env.BENCH_REVIEWS ?? 5_000);

const ms = (t: number) => `${(t / 1000).toFixed(2)} s`;

/** Requests per endpoint, ids folded: /api/v1/groups/{id}/users. */
function byEndpoint(log: RequestLogEntry[]): Array<[string, number]> {
  const counts = new Map<string, number>();
  for (const r of log) {
    const key = `${r.method} ${r.path.replace(/\/(00u|00g|0oa|ici|icr)[0-9A-Za-z]{17}/g, '/{id}')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]);
}

async function main(): Promise<void> {
  const now = new Date();
  let t = performance.now();
  const org = generateOktaOrg({ users, assignments, now, reviews });
  const stats = org.stats();
  console.log(`Generated org in ${ms(performance.now() - t)}:`, stats);

  const emu = await startOktaEmulator({ org });
  const dir = mkdtempSync(join(tmpdir(), 'attest-bench-okta-'));
  const store = Store.open(join(dir, 'bench.db'));
  const connector = OktaConnector.fromEnv({ OKTA_ORG_URL: emu.url, OKTA_API_TOKEN: emu.token });
  try {
    const phases: Array<[string, number]> = [];
    let phase = '';
    const onProgress = (e: { phase: string }) => {
      if (e.phase !== phase) {
        phase = e.phase;
        phases.push([phase, performance.now()]);
      }
    };
    t = performance.now();
    const full = await runSync(store, connector, { now, dormantDays: 90, onProgress });
    const end = performance.now();
    console.log(`\nFull sync: ${ms(full.durationMs)}, ${full.requests} HTTP requests`);
    phases.forEach(([name, at], i) => {
      console.log(`  ${name.padEnd(16)} ${ms((phases[i + 1]?.[1] ?? end) - at)}`);
    });
    console.log('  stored:', store.counts());
    if (full.warnings.length > 0) console.log('  warnings:', full.warnings);
    console.log('  requests by endpoint:');
    for (const [k, n] of byEndpoint(emu.requests)) console.log(`    ${String(n).padStart(6)}  ${k}`);

    // An incremental sync a minute later, after 50 profile edits and one membership change.
    const later = new Date(now.getTime() + 60_000);
    for (const u of org.users.slice(0, 50))
      org.updateUser(u.id, { title: 'Bench Title' }, new Date(now.getTime() + 1_000));
    const g = org.groups.find((x) => x.type === 'OKTA_GROUP' && (org.members.get(x.id)?.length ?? 0) > 0)!;
    org.removeMember(g.id, org.members.get(g.id)![0]!, new Date(now.getTime() + 2_000));
    emu.clearLog();
    const incremental = await runSync(store, connector, { now: later, dormantDays: 90 });
    console.log(`\nIncremental sync: ${ms(incremental.durationMs)}, ${incremental.requests} HTTP requests`);
    for (const [k, n] of byEndpoint(emu.requests)) console.log(`    ${String(n).padStart(6)}  ${k}`);

    console.log('\nPage sizes (limit per list):', DEFAULT_PAGE_SIZES);
    console.log(
      `Peak RSS ${(process.memoryUsage().rss / 1024 / 1024).toFixed(0)} MB (emulator and sync in one process)`,
    );
  } finally {
    store.close();
    await emu.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
