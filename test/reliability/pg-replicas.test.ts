/**
 * Three `attest serve --http` replicas on one PostgreSQL store, behind a round-robin balancer
 * with no affinity, and twenty MCP sessions (real SDK clients) proposing and submitting
 * decisions at once. A human confirms each batch with `attest confirm` against the store; the
 * replicas apply them to Okta (the loopback emulator). The first write to reach Okta is held
 * there (an event, not a timer): the replica that sent it is killed with SIGKILL while it waits,
 * then the write is let through, so Okta has recorded a decision the dead replica never did.
 *
 * Shown: every confirmed decision applied exactly once on Okta and once in the store, none lost;
 * the audit chain verifies and holds every call; no session sees an error except on connections
 * that were open to the killed replica.
 *
 * Needs PostgreSQL: Debian's `postgresql` package, or ATTEST_TEST_POSTGRES (test/helpers/postgres.ts).
 */
import type { ChildProcess } from 'node:child_process';
import { createServer as createHttpServer, type IncomingMessage, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSharedState } from '../../src/store/backend.js';
import { startHttp } from '../e2e/helpers.js';
import { generateOktaOrg, type OktaEmulator, startOktaEmulator } from '../emulators/okta.js';
import { tempDir } from '../helpers/harness.js';
import { postgresAvailable, startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { cli, inParallel, report } from './helpers.js';

const available = postgresAvailable();
if (!available.ok && process.env.CI === 'true') throw new Error(`CI needs PostgreSQL: ${available.why}`);

const SESSIONS = 20;
const PER_SESSION = 2;
const REPLICAS = 3;
const now = new Date('2026-11-28T00:00:00.000Z');
/** Each replica calls Okta with a token of its own, so the held write names its sender. */
const replicaToken = (k: number) => `00replica${k}-token-0123456789abcdefghijklmnopq`;

type Result = {
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  content: Array<{ text?: string }>;
};

/** Polls `check` until it holds or the deadline passes (the replicas drain on their own timers). */
async function until<T>(what: string, check: () => Promise<T | null>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== null) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe.runIf(available.ok)('three replicas on one PostgreSQL store, one killed mid-apply', () => {
  const tmp = tempDir();
  let pgServer: TestPostgres;
  let emu: OktaEmulator;
  let url = '';
  const replicas: Array<ReturnType<typeof startHttp>> = [];
  const endpoints: string[] = [];
  const live = new Set<number>();
  let balancer: Server;
  let balancerUrl = '';
  let turn = 0;
  /** Requests that reached the killed replica and were cut when it died (the only errors allowed). */
  const cut: Array<{ replica: number; method: string; session: string }> = [];
  const sessionOf = (req: IncomingMessage) => String(req.headers['mcp-session-id'] ?? '');
  let killed = -1;
  let killedAt = Number.POSITIVE_INFINITY;

  /** Forwards one request; false when the replica refused the connection (nothing reached it). */
  function forward(to: number, req: IncomingMessage, body: Buffer, res: import('node:http').ServerResponse) {
    const target = new URL(endpoints[to]!);
    return new Promise<boolean>((resolve) => {
      let answered = false;
      const up = request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: req.method,
          headers: { ...req.headers, host: target.host },
        },
        (r) => {
          answered = true;
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
          // A response stream (an open SSE stream) cut off by the replica's death.
          r.on('close', () => {
            if (r.complete || to !== killed) return;
            cut.push({ replica: to, method: String(req.method), session: sessionOf(req) });
            res.destroy();
          });
          resolve(true);
        },
      );
      up.on('error', (e: NodeJS.ErrnoException) => {
        if (answered) return;
        if (e.code === 'ECONNREFUSED') return resolve(false);
        // The request reached the replica, which died before answering.
        cut.push({ replica: to, method: String(req.method), session: sessionOf(req) });
        res.writeHead(502).end();
        resolve(true);
      });
      up.end(body);
    });
  }

  beforeAll(async () => {
    pgServer = await startPostgres();
    emu = await startOktaEmulator({
      org: generateOktaOrg({ users: 60, assignments: 360, now, reviews: 120 }),
      extraTokens: Array.from({ length: REPLICAS }, (_, k) => replicaToken(k)),
    });
    const lite = join(tmp.dir, 'okta.db');
    const synced = await cli(['sync', 'okta', '--db', lite], {
      OKTA_ORG_URL: emu.url,
      OKTA_API_TOKEN: emu.token,
    });
    expect(synced.code, synced.stderr).toBe(0);
    url = await pgServer.createDatabase(`replicas_${process.pid}`);
    const copied = await cli(['migrate-store', '--db', lite, '--to', url]);
    expect(copied.code, copied.stderr).toBe(0);
    for (let k = 0; k < REPLICAS; k++) {
      const r = startHttp(['--db', url], {
        OKTA_ORG_URL: emu.url,
        OKTA_API_TOKEN: replicaToken(k),
        // Long enough that a live replica finishes what it claimed; short enough to wait out once.
        ATTEST_OUTBOX_LEASE_SECONDS: '8',
      });
      replicas.push(r);
    }
    endpoints.push(...(await Promise.all(replicas.map((r) => r.url))));
    for (let k = 0; k < REPLICAS; k++) live.add(k);
    balancer = createHttpServer(async (req, res) => {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const body = Buffer.concat(chunks);
      for (let tries = 0; tries < REPLICAS; tries++) {
        const to = turn++ % REPLICAS;
        if (!live.has(to)) continue;
        if (await forward(to, req, body, res)) return;
        live.delete(to);
      }
      res.writeHead(502).end();
    });
    await new Promise<void>((r) => balancer.listen(0, '127.0.0.1', () => r()));
    balancerUrl = `http://127.0.0.1:${(balancer.address() as AddressInfo).port}/mcp`;
  }, 240_000);

  afterAll(async () => {
    if (balancer) {
      balancer.closeAllConnections();
      await new Promise<void>((r) => balancer.close(() => r()));
    }
    await Promise.all(replicas.filter((_, k) => k !== killed).map((r) => r.stop()));
    await emu?.close();
    await pgServer?.stop();
    tmp.cleanup();
  });

  it('applies every confirmed decision exactly once, loses none, and keeps one verified audit chain', async () => {
    // The pending Okta items, split among the sessions: each proposes and submits its own.
    const shared = await openSharedState(url);
    const [campaign] = await shared.review.listCampaigns('active');
    const queue = await shared.review.itemsPage({
      campaign_id: campaign!.id,
      status: 'pending',
      sort: 'user',
      limit: SESSIONS * PER_SESSION,
    });
    expect(queue.items).toHaveLength(SESSIONS * PER_SESSION);
    const tokens: string[] = [];
    for (let s = 0; s < SESSIONS; s++)
      tokens.push(
        await shared.tokens.create(`agent-${s}@example.com`, 'admin', new Date(Date.now() + 3600_000)),
      );
    await shared.close();

    /** What each session sent and what came back, per tool: the audit log must hold every answered call. */
    const sent = new Map<string, number>();
    const answered = new Map<string, number>();
    /** Every error a session saw: its session id (to tie it to a cut connection), what failed, and when. */
    const errors: Array<{ session: string; what: string; at: number }> = [];
    /** Set once the test closes its clients: closing aborts their streams, which is no session error. */
    let closing = false;
    const sessions = await Promise.all(
      tokens.map(async (token, s) => {
        const client = new Client({ name: 'fleet-agent', version: '1.0.0' });
        const transport = new StreamableHTTPClientTransport(new URL(balancerUrl), {
          requestInit: { headers: { authorization: `Bearer ${token}` } },
        });
        const mine = () => transport.sessionId ?? `session ${s}`;
        client.onerror = (e) => {
          if (closing) return;
          errors.push({
            session: mine(),
            what: `transport: ${e.message} (${String((e as { cause?: unknown }).cause)})`,
            at: Date.now(),
          });
        };
        await client.connect(transport);
        const principal = `agent-${s}@example.com`;
        const call = async (name: string, args: Record<string, unknown>): Promise<Result | null> => {
          const key = `${principal} ${name}`;
          sent.set(key, (sent.get(key) ?? 0) + 1);
          try {
            const r = (await client.callTool({ name, arguments: args })) as Result;
            answered.set(key, (answered.get(key) ?? 0) + 1);
            return r;
          } catch (e) {
            errors.push({ session: mine(), what: `${name}: ${(e as Error).message}`, at: Date.now() });
            return null;
          }
        };
        return {
          s,
          client,
          call,
          principal,
          items: queue.items.slice(s * PER_SESSION, (s + 1) * PER_SESSION),
        };
      }),
    );

    // Twenty sessions at once: read their queue, propose, submit (each batch waits for the human).
    const asked = await Promise.all(
      sessions.map(async ({ call, items }) => {
        const page = await call('list_campaign_items', {
          campaign_id: campaign!.id,
          sort: 'user',
          limit: 50,
        });
        expect(page?.isError, page?.content[0]?.text).toBeFalsy();
        const ids: string[] = [];
        for (const item of items) {
          const p = await call('propose_decision', {
            item_id: item.item_id,
            decision: 'approve',
            rationale: `Still needed by ${item.user.id}: used this month.`,
          });
          expect(p?.isError, p?.content[0]?.text).toBeFalsy();
          ids.push(String(p!.structuredContent!.proposal_id));
        }
        const r = await call('submit_decision', { proposal_ids: ids });
        expect(r?.structuredContent).toMatchObject({ status: 'awaiting_confirmation' });
        return { ids, confirmation: (r!.structuredContent!.confirmation as { id: string }).id };
      }),
    );

    // The first decision to reach Okta is held there; its sender is killed while it waits.
    let orphaned: string[] = [];
    const held = emu.hold({
      method: 'POST',
      path: /^\/governance\/api\/v1\/my\/campaigns\/[^/]+\/reviews\/actions$/,
    });
    const kill = held.arrived.then(async (h) => {
      killed = [...Array(REPLICAS).keys()].find((k) => replicaToken(k) === h.token)!;
      expect(killed).toBeGreaterThanOrEqual(0);
      live.delete(killed);
      const child = replicas[killed]!.child as ChildProcess;
      const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, sig) => r(sig)));
      killedAt = Date.now();
      child.kill('SIGKILL');
      expect(await exited).toBe('SIGKILL');
      // The rows the dead replica had claimed: pending under its lease, to be finished by another.
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      try {
        orphaned = (
          await db.query("SELECT proposal_id FROM outbox WHERE status = 'pending' AND claimed_by LIKE $1", [
            `%/${child.pid}/%`,
          ])
        ).rows.map((r) => String(r.proposal_id));
      } finally {
        await db.end();
      }
      // Okta records the dead replica's write after all; the store never heard of it.
      held.release();
    });

    // The human confirms every batch at the terminal, against the store; the replicas apply them.
    const confirmed = await inParallel(
      4,
      asked.map(
        ({ confirmation }) =>
          () =>
            cli(['confirm', confirmation, '--yes', '--queue-only', '--as', 'boss@example.com', '--db', url]),
      ),
    );
    for (const r of confirmed) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/decision\(s\) queued; the servers on this store apply them/);
    }
    await kill;

    // Each agent submits its batch again until it reads applied: the replicas left finish the dead one's rows.
    await Promise.all(
      sessions.map(({ call }, s) =>
        until(`session ${s}'s batch`, async () => {
          const r = await call('submit_decision', { proposal_ids: asked[s]!.ids });
          const results = (r?.structuredContent?.results ?? []) as Array<{ status: string }>;
          return r?.structuredContent?.status === 'applied' && results.every((x) => x.status === 'applied')
            ? true
            : null;
        }),
      ),
    );
    closing = true;
    await Promise.all(sessions.map(({ client }) => client.close()));

    const ids = asked.flatMap((a) => a.ids);
    const db = new pg.Client({ connectionString: url });
    await db.connect();
    try {
      // None lost, none twice: every proposal's row done, one decision per item, one Okta action per review.
      const outbox = (await db.query('SELECT status, count(*)::int AS n FROM outbox GROUP BY status')).rows;
      expect(outbox).toEqual([{ status: 'done', n: ids.length }]);
      // What the dead replica held was taken over once its lease ran out, and finished by another.
      expect(orphaned.length).toBeGreaterThan(0);
      const takenOver = (
        await db.query('SELECT claimed_by FROM outbox WHERE proposal_id = ANY ($1::text[])', [orphaned])
      ).rows;
      const deadPid = replicas[killed]!.child.pid;
      expect(takenOver.every((r) => !String(r.claimed_by).includes(`/${deadPid}/`))).toBe(true);
      const decisions = (
        await db.query(
          `SELECT d.item_id, d.decision, d.confirmed_by, i.external_id FROM item_decisions d JOIN review_items i ON i.id = d.item_id
           WHERE d.proposal_id = ANY ($1::text[])`,
          [ids],
        )
      ).rows;
      expect(decisions).toHaveLength(ids.length);
      expect(decisions.every((d) => d.decision === 'approve' && d.confirmed_by === 'boss@example.com')).toBe(
        true,
      );
      for (const d of decisions) {
        const actions = emu.org.reviewActions.filter((a) => a.reviewId === d.external_id);
        expect(
          actions.map((a) => a.action),
          d.external_id,
        ).toEqual(['APPROVE']);
      }
      const applied = (
        await db.query(
          "SELECT arguments::jsonb ->> 'proposal_id' AS p, count(*)::int AS n FROM audit_log WHERE tool = 'outbox:apply' AND outcome = 'ok' GROUP BY 1",
        )
      ).rows;
      expect(applied.map((a) => a.p).sort()).toEqual([...ids].sort());
      expect(applied.every((a) => a.n === 1)).toBe(true);

      // The audit log holds every call that was answered (and none that was never sent).
      const logged = new Map(
        (
          await db.query(
            "SELECT principal || ' ' || tool AS k, count(*)::int AS n FROM audit_log WHERE principal LIKE 'agent-%' GROUP BY 1",
          )
        ).rows.map((r) => [String(r.k), Number(r.n)]),
      );
      for (const [k, n] of answered) {
        expect(logged.get(k) ?? 0, k).toBeGreaterThanOrEqual(n);
        expect(logged.get(k) ?? 0, k).toBeLessThanOrEqual(sent.get(k)!);
      }
      const cliConfirms = Number(
        (await db.query("SELECT count(*) AS n FROM audit_log WHERE tool = 'cli:confirm' AND outcome = 'ok'"))
          .rows[0].n,
      );
      expect(cliConfirms).toBe(SESSIONS);
    } finally {
      await db.end();
    }
    const verify = await cli(['audit', 'verify', '--db', url]);
    expect(verify.code, verify.stderr).toBe(0);
    expect(verify.stdout).toMatch(/^Audit log OK: \d+ entries, chain intact\./);

    // Errors only on connections that were open to the killed replica when it died: none before
    // the kill, only in sessions that had a connection cut, and no more failed calls than cut
    // requests (the SDK reports one cut stream more than once, so stream errors aren't counted).
    expect(cut.every((c) => c.replica === killed)).toBe(true);
    expect(errors.every((e) => e.at >= killedAt)).toBe(true);
    const failing = new Set(errors.map((e) => e.session));
    for (const session of failing) {
      const mine = errors.filter((e) => e.session === session);
      expect(
        cut.some((c) => c.session === session),
        mine.map((e) => e.what).join('; '),
      ).toBe(true);
      const calls = mine.filter((e) => !e.what.startsWith('transport:')).length;
      expect(calls).toBeLessThanOrEqual(
        cut.filter((c) => c.session === session && c.method === 'POST').length,
      );
    }
    report(
      `pg replicas: ${SESSIONS} sessions, ${ids.length} decisions applied once across ${REPLICAS} replicas (replica ${killed} killed mid-apply holding ${orphaned.length} row(s), finished by the others); ${cut.length} open connection(s) cut, ${failing.size} session(s) saw an error on one`,
    );
  }, 240_000);
});
