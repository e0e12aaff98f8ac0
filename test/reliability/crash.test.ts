import { copyFileSync, cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/analysis/stats.js';
import { AuditLog } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import { startHttp } from '../e2e/helpers.js';
import { generateOktaOrg, type OktaEmulator, startOktaEmulator } from '../emulators/okta.js';
import { startServer, TINY, tempDir } from '../helpers/harness.js';
import { type CliRun, cli, inParallel, report, seedFor, tableDumper } from './helpers.js';

/**
 * Crashes: the built CLI killed (SIGKILL, by its own crash points) at seeded random points
 * of an apply, an import and a sync, then the work finished by the next run; and two
 * appliers racing on one store. Decisions are checked in the store and at the Okta
 * emulator: applied exactly once, no platform write made twice; an import or sync leaves
 * the store exactly as before or converges to what an uninterrupted run gives.
 */

const RUNS = Number(process.env.RELIABILITY_CRASH_RUNS ?? 100);
const RACES = Number(process.env.RELIABILITY_RACES ?? 10);
const PARALLEL = 2;
const ORG = { users: 12, assignments: 60, now: new Date('2026-11-28T00:00:00.000Z'), reviews: 15 };

const tmp = tempDir('attest-crash-');
let files = 0;
const file = (name: string) => join(tmp.dir, `${++files}-${name}`);
afterAll(() => tmp.cleanup());

const oktaEnv = (emu: { url: string; token: string }) => ({
  OKTA_ORG_URL: emu.url,
  OKTA_API_TOKEN: emu.token,
});

/** A copy of a store file (and its WAL, if a killed process left one). */
function copyStore(from: string, name: string): string {
  const to = file(name);
  copyFileSync(from, to);
  if (existsSync(`${from}-wal`)) copyFileSync(`${from}-wal`, `${to}-wal`);
  return to;
}

/** The store's data tables; `exact` keeps the columns that say when a row was written. */
function dump(path: string, exact = false): Record<string, unknown[]> {
  const d = new Database(path);
  try {
    return tableDumper(d, exact ? { keepWriteTimes: true } : {})();
  } finally {
    d.close();
  }
}

/**
 * What two runs started at different moments may differ in: each new store's own cursor
 * secret, and the times a sync records for when it ran (not what it read): its state's
 * run times and the time on the peer evidence of each recommendation.
 */
function normalized(d: Record<string, unknown[]>): Record<string, unknown[]> {
  const items = (d.review_items as Array<Record<string, unknown>>).map((r) => {
    if (typeof r.recommendation !== 'string') return r;
    const rec = JSON.parse(r.recommendation) as { evidence?: Array<{ source?: string; at?: unknown }> };
    for (const e of rec.evidence ?? []) if (e.source === 'peers') e.at = '(analysis time)';
    return { ...r, recommendation: rec };
  });
  const meta = (d.meta as Array<{ key: string; value: string }>)
    .filter((r) => r.key !== 'cursor_secret')
    .map((r) => {
      if (!r.key.startsWith('sync_state:')) return r;
      const { lastFullSync: _l, logsUntil: _u, ...rest } = JSON.parse(r.value) as Record<string, unknown>;
      return { key: r.key, value: rest };
    });
  return { ...d, meta, review_items: items };
}

/** How many crash points a command passes when it runs to the end. */
async function crashPoints(args: string[], env: Record<string, string>): Promise<number> {
  const countFile = file('count');
  const r = await cli(args, { ...env, ATTEST_CRASH_COUNT: countFile });
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  const n = Number(readFileSync(countFile, 'utf8'));
  expect(n).toBeGreaterThan(0);
  return n;
}

/** `runs` kills as runs of 1, 2, 3, 1, 2, 3… kills each (a killed recovery is a crash too). */
function chains(runs: number): number[] {
  const out: number[] = [];
  for (let left = runs, i = 0; left > 0; i++) {
    const k = Math.min(left, 1 + (i % 3));
    out.push(k);
    left -= k;
  }
  return out;
}

function pendingRows(db: string): number {
  const d = new Database(db);
  try {
    return d.prepare("SELECT count(*) FROM outbox WHERE status = 'pending'").pluck().get() as number;
  } finally {
    d.close();
  }
}

function expectKilled(r: CliRun, what: string): void {
  expect(r.signal, `${what} was not killed: exit ${r.code} ${r.stderr.slice(0, 300)}`).toBe('SIGKILL');
}

// ---- apply: a confirmed batch written back to Okta

interface BatchItem {
  item_id: string;
  external_id: string;
  decision: 'approve' | 'revoke' | 'escalate';
  /** The removal a revoke makes at Okta. */
  delete_path: string | null;
}

interface ApplyBase {
  db: string;
  confirmation: string;
  batch: BatchItem[];
}

/** A store synced from a fresh emulated org, with a batch of decisions submitted and waiting for a human. */
async function applyBase(): Promise<ApplyBase> {
  const emu = await startOktaEmulator({ org: generateOktaOrg(ORG) });
  const db = file('apply-base.db');
  const synced = await cli(['sync', 'okta', '--db', db], oktaEnv(emu));
  await emu.close();
  expect(synced.code, synced.stderr).toBe(0);
  const store = Store.open(db);
  const rows = store.db
    .prepare(
      `SELECT i.id AS item_id, i.external_id, e.type, e.attributes, u.external_id AS user_ext
       FROM review_items i JOIN entitlements e ON e.id = i.entitlement_id JOIN users u ON u.id = i.user_id
       JOIN campaigns c ON c.id = i.campaign_id WHERE c.status = 'active' ORDER BY i.id`,
    )
    .all() as Array<{
    item_id: string;
    external_id: string;
    type: string;
    attributes: string;
    user_ext: string;
  }>;
  const removable = (r: (typeof rows)[number]) => {
    const a = JSON.parse(r.attributes) as Record<string, string>;
    if (r.type === 'group' && a.okta_group_type === 'OKTA_GROUP')
      return `/api/v1/groups/${a.okta_id}/users/${r.user_ext}`;
    if (r.type === 'app') return `/api/v1/apps/${a.okta_id}/users/${r.user_ext}`;
    return null;
  };
  const groups = rows.filter((r) => removable(r)?.startsWith('/api/v1/groups/'));
  const apps = rows.filter((r) => removable(r)?.startsWith('/api/v1/apps/'));
  const picks: Array<[(typeof rows)[number] | undefined, BatchItem['decision']]> = [
    [groups[0], 'revoke'],
    [groups[1], 'revoke'],
    [apps[0], 'revoke'],
    [groups[2], 'approve'],
    [apps[1], 'approve'],
    [apps[2], 'escalate'],
  ];
  const batch: BatchItem[] = picks.map(([r, decision]) => {
    expect(r, `the emulated org has too few reviews for a ${decision}`).toBeDefined();
    return {
      item_id: r!.item_id,
      external_id: r!.external_id,
      decision,
      delete_path: decision === 'revoke' ? removable(r!) : null,
    };
  });
  const h = await startServer({ store, config: { db } });
  const ids: string[] = [];
  for (const b of batch) {
    const p = await h.ok<{ proposal_id: string }>('propose_decision', {
      item_id: b.item_id,
      decision: b.decision,
      rationale: `Reliability run: ${b.decision}`,
    });
    ids.push(p.proposal_id);
  }
  const submitted = await h.ok<{ status: string; confirmation: { id: string } }>('submit_decision', {
    proposal_ids: ids,
  });
  expect(submitted.status).toBe('awaiting_confirmation');
  await h.close();
  store.close();
  return { db, confirmation: submitted.confirmation.id, batch };
}

/**
 * Everything a finished apply must show: in the store every decision once (decision in
 * force, outbox row done, a removal for each revoke, one applied outbox entry) and at the
 * emulator one review action per approve or revoke and one successful removal per revoke.
 */
function checkApplied(db: string, emu: OktaEmulator, base: ApplyBase): { writes: number; repeated: number } {
  const d = new Database(db);
  try {
    const outbox = d.prepare('SELECT item_id, status FROM outbox').all() as Array<{
      item_id: string;
      status: string;
    }>;
    expect(outbox).toHaveLength(base.batch.length);
    expect(
      outbox.every((o) => o.status === 'done'),
      JSON.stringify(outbox),
    ).toBe(true);
    const decided = new Map(
      (
        d.prepare('SELECT item_id, decision FROM item_decisions').all() as Array<{
          item_id: string;
          decision: string;
        }>
      ).map((r) => [r.item_id, r.decision]),
    );
    const remediations = d.prepare('SELECT item_id, status FROM remediations').all() as Array<{
      item_id: string;
      status: string;
    }>;
    const applied = d
      .prepare("SELECT arguments FROM audit_log WHERE tool = 'outbox:apply' AND outcome = 'ok'")
      .pluck()
      .all() as string[];
    expect(applied).toHaveLength(base.batch.length);
    const verified = new AuditLog(d).verify();
    expect(verified.ok, JSON.stringify(verified).slice(0, 300)).toBe(true);
    // An escalation is not an end state: the item goes to a second-level reviewer and stays open.
    const escalations = d.prepare('SELECT item_id, resolved_at FROM escalations').all() as Array<{
      item_id: string;
      resolved_at: string | null;
    }>;
    let writes = 0;
    let repeated = 0;
    for (const b of base.batch) {
      if (b.decision === 'escalate') {
        expect(decided.has(b.item_id), `${b.item_id} has no decision in force`).toBe(false);
        expect(
          escalations.filter((e) => e.item_id === b.item_id).map((e) => e.resolved_at),
          `one open escalation of ${b.item_id}`,
        ).toEqual([null]);
      } else {
        expect(decided.get(b.item_id), b.item_id).toBe(b.decision);
      }
      const actions = emu.org.reviewActions.filter((a) => a.reviewId === b.external_id);
      expect(
        actions.map((a) => a.action),
        `review actions for ${b.item_id}`,
      ).toEqual(b.decision === 'escalate' ? [] : [b.decision.toUpperCase()]);
      writes += actions.length;
      // Recording a decision on a review owned by someone else reassigns it to Attest first, once.
      const reassigned = emu.org.reassignments.filter((r) => r.reviewId === b.external_id);
      expect(reassigned, `reassignments of ${b.item_id}`).toHaveLength(b.decision === 'escalate' ? 0 : 1);
      writes += reassigned.length;
      const deletes = emu.requests.filter((q) => q.method === 'DELETE' && q.path === b.delete_path);
      const removed = deletes.filter((q) => q.status === 204);
      expect(removed, `successful removals for ${b.item_id}`).toHaveLength(b.delete_path ? 1 : 0);
      writes += removed.length;
      repeated += deletes.length - removed.length;
      const rem = remediations.filter((r) => r.item_id === b.item_id);
      expect(
        rem.map((r) => r.status),
        `remediation of ${b.item_id}`,
      ).toEqual(b.decision === 'revoke' ? ['done'] : []);
    }
    // No write the batch does not call for.
    const writesSeen = emu.requests.filter((q) => q.method !== 'GET' && q.status < 300).length;
    expect(writesSeen).toBe(writes);
    return { writes, repeated };
  } finally {
    d.close();
  }
}

let apply: ApplyBase;

beforeAll(async () => {
  apply = await applyBase();
});

describe('crashes', () => {
  it(`apply: ${RUNS} kills of attest confirm and attest outbox at seeded crash points, then attest outbox`, async () => {
    const confirm = (db: string) => [
      'confirm',
      apply.confirmation,
      '--db',
      db,
      '--as',
      'boss@example.com',
      '--yes',
    ];
    const counting = await startOktaEmulator({ org: generateOktaOrg(ORG) });
    const points = await crashPoints(confirm(copyStore(apply.db, 'apply-count.db')), oktaEnv(counting));
    await counting.close();
    // Each outbox row passes two crash points (after its platform call, after its local commit).
    expect(points).toBe(2 * apply.batch.length);
    const rng = createRng(seedFor('crash apply', 101));
    const killedAt: string[] = [];
    const runChain = async (draws: number[]) => {
      const emu = await startOktaEmulator({ org: generateOktaOrg(ORG) });
      try {
        const db = copyStore(apply.db, 'apply-run.db');
        for (const [k, u] of draws.entries()) {
          // The first kill stops the human's confirm; later ones its recovery, within the rows still pending.
          const range = k === 0 ? points : 2 * pendingRows(db);
          if (range === 0) break;
          const n = 1 + Math.floor(u * range);
          const args = k === 0 ? confirm(db) : ['outbox', '--db', db];
          expectKilled(
            await cli(args, { ...oktaEnv(emu), ATTEST_CRASH_AT: String(n) }),
            `${args[0]} (crash point ${n})`,
          );
          killedAt.push(`${args[0]}:${n}`);
        }
        const finished = await cli(['outbox', '--db', db], oktaEnv(emu));
        expect(finished.code, finished.stderr).toBe(0);
        expect(finished.stdout).toMatch(/0 failed, 0 to retry/);
        return checkApplied(db, emu, apply);
      } finally {
        await emu.close();
      }
    };
    // A recovery that finds every row done has no crash point left: further runs make up the count.
    const results: Array<{ writes: number; repeated: number }> = [];
    let runs = 0;
    while (killedAt.length < RUNS) {
      const plan = chains(RUNS - killedAt.length).map((kills) => Array.from({ length: kills }, () => rng()));
      runs += plan.length;
      results.push(
        ...(await inParallel(
          PARALLEL,
          plan.map((draws) => () => runChain(draws)),
        )),
      );
    }
    const writes = results.reduce((n, r) => n + r.writes, 0);
    const repeated = results.reduce((n, r) => n + r.repeated, 0);
    report(
      `crash apply: ${killedAt.length} kills in ${runs} runs of a ${apply.batch.length}-decision batch (1-3 kills each: the confirm at one of its ${points} crash points, then its recovery by attest outbox), ${new Set(killedAt).size} distinct points; 0 decisions lost, ${writes} platform writes, each made once (${repeated} removals retried after a kill were answered 404 and changed nothing)`,
    );
  });

  it(`import: ${RUNS} kills at seeded crash points leave the store as before; a finished run converges`, async () => {
    const v2 = file('tiny-v2');
    cpSync(TINY, v2, { recursive: true });
    const edit = (name: string, fn: (text: string) => string) =>
      writeFileSync(join(v2, name), fn(readFileSync(join(v2, name), 'utf8')));
    edit(
      'users.csv',
      (t) =>
        `${t.replace('u3,ana@example.com,Ana Analyst,Finance,Treasury Analyst', 'u3,ana@example.com,Ana Analyst,Finance,Senior Treasury Analyst')}u8,new@example.com,Nia New,Finance,Accountant,u2,HQ,active,employee,2026-10-01,,,CC2\n`,
    );
    edit(
      'assignments.csv',
      (t) => `${t.replace('u4,e-crm,2026-09-01,direct\n', '')}u8,e-ledger,2026-10-02,direct\n`,
    );
    edit('review_items.csv', (t) => `${t.replace('i6,c1,u4,e-crm,u1\n', '')}i11,c1,u8,e-ledger,u2\n`);
    edit('activity.csv', (t) => `${t}u8,LedgerOne,2026-11-27T09:00:00Z,success\n`);

    // Two starting points: an empty store (a first import) and one holding the tiny tenant (v1 → v2).
    const fresh = file('import-empty.db');
    Store.open(fresh).close();
    const held = file('import-v1.db');
    expect((await cli(['import', TINY, '--db', held])).code).toBe(0);
    const bases = [fresh, held];
    const before = bases.map((b) => dump(b, true));
    const reference = await Promise.all(
      bases.map(async (b) => {
        const db = copyStore(b, 'import-ref.db');
        const r = await cli(['import', v2, '--db', db]);
        expect(r.code, r.stderr).toBe(0);
        return normalized(dump(db));
      }),
    );
    const points = await Promise.all(
      bases.map((b) => crashPoints(['import', v2, '--db', copyStore(b, 'import-count.db')], {})),
    );
    const rng = createRng(seedFor('crash import', 202));
    const plan = chains(RUNS).map((kills, i) => ({
      base: i % 2,
      at: Array.from({ length: kills }, () => 1 + Math.floor(rng() * points[i % 2]!)),
    }));
    await inParallel(
      PARALLEL,
      plan.map(({ base, at }) => async () => {
        const db = copyStore(bases[base]!, 'import-run.db');
        for (const n of at) {
          expectKilled(
            await cli(['import', v2, '--db', db], { ATTEST_CRASH_AT: String(n) }),
            `import (crash point ${n})`,
          );
          const after = dump(db, true);
          if (base === 0)
            expect(normalized(after), `first import killed at ${n}`).toEqual(normalized(before[0]!));
          else expect(after, `v1 → v2 import killed at ${n}`).toEqual(before[1]);
        }
        const again = await cli(['import', v2, '--db', db]);
        expect(again.code, again.stderr).toBe(0);
        expect(normalized(dump(db)), `import after kills at ${at.join(', ')}`).toEqual(reference[base]);
      }),
    );
    report(
      `crash import: ${RUNS} kills in ${plan.length} runs (1-3 kills each; half into an empty store, half v1 → v2) at points of 1-${points[0]} / 1-${points[1]}: the store exactly as before after each kill, and the same as an uninterrupted import once a run finished`,
    );
  });

  it(`sync: ${RUNS} kills of attest sync okta at seeded crash points leave the store as before; a finished run converges`, async () => {
    const org = generateOktaOrg(ORG);
    const emu = await startOktaEmulator({ org });
    try {
      const env = oktaEnv(emu);
      const fresh = file('sync-empty.db');
      Store.open(fresh).close();
      const held = file('sync-held.db');
      expect((await cli(['sync', 'okta', '--db', held], env)).code).toBe(0);
      // The org changes after the last sync: a profile edit, a membership gone, one added.
      const user = org.users[0]!;
      org.updateUser(user.id, { title: 'Principal Engineer' });
      const group = org.groups.find(
        (g) => g.type === 'OKTA_GROUP' && (org.members.get(g.id)?.length ?? 0) > 1,
      )!;
      const [gone] = org.members.get(group.id)!;
      org.removeMember(group.id, gone!);
      const newcomer = org.users.find((u) => !org.isMember(group.id, u.id))!;
      org.addMember(group.id, newcomer.id);

      const bases = [fresh, held];
      const before = bases.map((b) => dump(b, true));
      // A sync scores as of the time it runs: the uninterrupted run to compare with is made
      // once per UTC day (age-in-days figures change only at midnight).
      const references = new Map<string, Promise<Record<string, unknown[]>>>();
      const referenceFor = (base: number) => {
        const key = `${base}|${new Date().toISOString().slice(0, 10)}`;
        if (!references.has(key)) {
          references.set(
            key,
            (async () => {
              const db = copyStore(bases[base]!, 'sync-ref.db');
              const r = await cli(['sync', 'okta', '--db', db], env);
              expect(r.code, r.stderr).toBe(0);
              return normalized(dump(db));
            })(),
          );
        }
        return references.get(key)!;
      };
      const changed = ((await referenceFor(1)).users as Array<{ title: string }>).some(
        (u) => u.title === 'Principal Engineer',
      );
      expect(changed, 'the second sync saw the profile edit').toBe(true);
      const points = await Promise.all(
        bases.map((b) => crashPoints(['sync', 'okta', '--db', copyStore(b, 'sync-count.db')], env)),
      );
      const rng = createRng(seedFor('crash sync', 303));
      const plan = chains(RUNS).map((kills, i) => ({
        base: i % 2,
        at: Array.from({ length: kills }, () => 1 + Math.floor(rng() * points[i % 2]!)),
      }));
      await inParallel(
        PARALLEL,
        plan.map(({ base, at }) => async () => {
          const db = copyStore(bases[base]!, 'sync-run.db');
          for (const n of at) {
            expectKilled(
              await cli(['sync', 'okta', '--db', db], { ...env, ATTEST_CRASH_AT: String(n) }),
              `sync (crash point ${n})`,
            );
            const after = dump(db, true);
            if (base === 0)
              expect(normalized(after), `first sync killed at ${n}`).toEqual(normalized(before[0]!));
            else expect(after, `incremental sync killed at ${n}`).toEqual(before[1]);
          }
          const again = await cli(['sync', 'okta', '--db', db], env);
          expect(again.code, again.stderr).toBe(0);
          expect(normalized(dump(db)), `sync after kills at ${at.join(', ')}`).toEqual(
            await referenceFor(base),
          );
        }),
      );
      report(
        `crash sync: ${RUNS} kills in ${plan.length} runs (1-3 kills each; half a first sync, half an incremental one) at points of 1-${points[0]} / 1-${points[1]}: the store exactly as before after each kill, and the same as an uninterrupted sync once a run finished`,
      );
    } finally {
      await emu.close();
    }
  });
});

// ---- two appliers at once

/** A loopback proxy that holds each request a few milliseconds, so two appliers' platform calls overlap. */
async function slowProxy(
  target: string,
  delayMs: number,
): Promise<{ url: string; close: () => Promise<void> }> {
  const to = new URL(target);
  const server: Server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c as Buffer));
    req.on('end', () => {
      setTimeout(() => {
        const out = httpRequest(
          {
            host: to.hostname,
            port: to.port,
            method: req.method,
            path: req.url,
            headers: { ...req.headers, host: to.host },
          },
          (up) => {
            res.writeHead(up.statusCode ?? 502, up.headers);
            up.pipe(res);
          },
        );
        out.on('error', () => res.destroy());
        out.end(Buffer.concat(chunks));
      }, delayMs);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}

describe('two appliers racing', () => {
  let confirmed: string;

  beforeAll(async () => {
    // Confirmed by a human while no Okta connection was configured: every row waits in the outbox.
    confirmed = copyStore(apply.db, 'race-base.db');
    const r = await cli([
      'confirm',
      apply.confirmation,
      '--db',
      confirmed,
      '--as',
      'boss@example.com',
      '--yes',
    ]);
    expect(r.stdout, r.stderr).toMatch(/to retry/);
  });

  const variants: Array<[string, (db: string, env: Record<string, string>) => Promise<number[]>]> = [
    [
      'two attest outbox processes',
      async (db, env) => {
        const runs = await Promise.all([cli(['outbox', '--db', db], env), cli(['outbox', '--db', db], env)]);
        return runs.map((r) => {
          expect(r.code, r.stderr).toBe(0);
          return Number(/Outbox: (\d+) applied/.exec(r.stdout)?.[1] ?? Number.NaN);
        });
      },
    ],
    [
      'attest serve draining while attest outbox runs',
      async (db, env) => {
        const server = startHttp(['--db', db], { ...env, ATTEST_LOG_LEVEL: 'info' });
        const outbox = cli(['outbox', '--db', db], env);
        // serve drains the outbox before it listens, so its endpoint line comes after its run.
        await server.url;
        const r = await outbox;
        await server.stop();
        expect(r.code, r.stderr).toBe(0);
        const served = /"applied":(\d+)/.exec(server.stderr())?.[1];
        return [Number(served ?? 0), Number(/Outbox: (\d+) applied/.exec(r.stdout)?.[1] ?? Number.NaN)];
      },
    ],
  ];

  it.each(variants)(
    `%s: each row applied once, each platform write made once (${RACES} rounds)`,
    async (name, race) => {
      let both = 0;
      const splits: string[] = [];
      for (let round = 0; round < RACES; round++) {
        const emu = await startOktaEmulator({ org: generateOktaOrg(ORG) });
        const proxy = await slowProxy(emu.url, 15);
        try {
          const db = copyStore(confirmed, 'race-run.db');
          const applied = await race(db, { OKTA_ORG_URL: proxy.url, OKTA_API_TOKEN: emu.token });
          const { repeated } = checkApplied(db, emu, apply);
          // Without a kill nothing is retried: not even a removal answered 404.
          expect(repeated).toBe(0);
          if (applied.every((n) => n > 0)) both++;
          splits.push(applied.join('+'));
        } finally {
          await proxy.close();
          await emu.close();
        }
      }
      report(
        `race (${name}): ${RACES} rounds, every row applied once and every platform write made once; rows applied per worker ${splits.join(', ')} (both applied some in ${both} rounds)`,
      );
    },
  );
});
