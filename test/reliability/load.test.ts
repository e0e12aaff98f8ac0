import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CallToolResultSchema, McpError } from '@modelcontextprotocol/sdk/types.js';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { createRng } from '../../src/analysis/stats.js';
import { AuditLog } from '../../src/store/audit.js';
import { startHttp } from '../e2e/helpers.js';
import { tempDir } from '../helpers/harness.js';
import { cli, inParallel, percentile, report, seedFor } from './helpers.js';

/**
 * Load: 50 concurrent Streamable HTTP sessions, each a real SDK client with its own bearer
 * token's principal mix (admins and reviewers), 1,000 mixed calls each against the built
 * `attest serve --http 0` on a 100-user demo tenant. No call may fail, latency is printed,
 * and the server's resident memory must not grow with the calls.
 */

const SESSIONS = Number(process.env.RELIABILITY_LOAD_SESSIONS ?? 50);
const CALLS = Number(process.env.RELIABILITY_LOAD_CALLS ?? 1000);

const tmp = tempDir('attest-load-');
afterAll(() => tmp.cleanup());

/** The server's resident set size in MiB, from /proc. */
function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : Number.NaN;
}

interface Item {
  item_id: string;
  campaign_id: string;
  user: { id: string };
  entitlement: { id: string };
}

describe('load', () => {
  it(`${SESSIONS} concurrent HTTP sessions × ${CALLS} mixed calls: no error, latency printed, memory flat`, async () => {
    const db = join(tmp.dir, 'load.db');
    const built = await cli(['demo', '--db', db, '--users', '100', '--dir', join(tmp.dir, 'demo')]);
    expect(built.code, built.stderr).toBe(0);
    const d = new Database(db, { readonly: true });
    const campaign = d
      .prepare('SELECT campaign_id FROM review_items GROUP BY campaign_id ORDER BY count(*) DESC LIMIT 1')
      .pluck()
      .get() as string;
    const reviewers = d
      .prepare(
        'SELECT reviewer_id FROM review_items WHERE campaign_id = ? GROUP BY reviewer_id ORDER BY count(*) DESC, reviewer_id LIMIT 2',
      )
      .pluck()
      .all(campaign) as string[];
    d.close();
    const principals = [
      { id: 'admin-1@example.com', role: 'admin' },
      { id: 'admin-2@example.com', role: 'admin' },
      { id: 'admin-3@example.com', role: 'admin' },
      { id: 'reviewer-1@example.com', role: 'reviewer', reviewer_ids: [reviewers[0]!] },
      { id: 'reviewer-2@example.com', role: 'reviewer', reviewer_ids: [reviewers[1]!] },
    ];
    const config = join(tmp.dir, 'attest.json');
    writeFileSync(
      config,
      JSON.stringify({
        // Ten sessions per principal here; the default cap (16) would close a principal's oldest beyond it.
        httpSessionsPerPrincipal: 64,
        principals: Object.fromEntries(
          principals
            .filter((p) => p.role === 'reviewer')
            .map((p) => [p.id, { role: p.role, reviewer_ids: p.reviewer_ids }]),
        ),
      }),
    );
    const tokens = await inParallel(
      2,
      principals.map((p) => async () => {
        const r = await cli(['token', 'create', '--db', db, '--principal', p.id, '--role', p.role]);
        expect(r.code, r.stderr).toBe(0);
        return r.stdout.trim();
      }),
    );
    const server = startHttp(['--db', db, '--config', config]);
    const url = new URL(await server.url);
    const pid = server.child.pid!;
    try {
      const clients = await inParallel(
        10,
        Array.from({ length: SESSIONS }, (_, i) => async () => {
          const client = new Client({ name: `load-${i}`, version: '1.0.0' });
          await client.connect(
            new StreamableHTTPClientTransport(url, {
              requestInit: { headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } },
            }),
          );
          return client;
        }),
      );

      // What each session may see (a reviewer its own items only), read once before the load.
      const visible = await Promise.all(
        clients.map(async (c) => {
          const r = await c.callTool({
            name: 'list_campaign_items',
            arguments: { campaign_id: campaign, status: 'all', limit: 500 },
          });
          expect(r.isError, JSON.stringify(r.content)).toBeFalsy();
          const items = (r.structuredContent as { items: Item[] }).items;
          expect(items.length).toBeGreaterThan(0);
          return items;
        }),
      );
      const entriesBefore = auditCount(db);
      const rssBefore = rssMiB(pid);
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, rssMiB(pid));
      }, 500);

      const latencies: number[] = [];
      const errors: string[] = [];
      const byTool = new Map<string, number>();
      const perTool = new Map<string, number[]>();
      const rng = createRng(seedFor('load', 404));
      const seeds = clients.map(() => Math.floor(rng() * 2 ** 31));
      const started = performance.now();
      let rssWarm = Number.NaN;
      let rssHalf = Number.NaN;
      let done = 0;
      await Promise.all(
        clients.map(async (client, s) => {
          const r = createRng(seeds[s]!);
          const items = visible[s]!;
          // A reviewer's own access is refused (nobody reviews their own access), so none is proposed.
          const own = new Set(principals[s % principals.length]!.reviewer_ids ?? []);
          const proposable = items.filter((it) => !own.has(it.user.id));
          const pick = <T>(xs: T[]) => xs[Math.floor(r() * xs.length)]!;
          // The next page of the last listing, asked with the same filters (a cursor is bound to them).
          let paging: { args: Record<string, unknown>; cursor: string } | null = null;
          const choose = (i: number): [string, Record<string, unknown>] => {
            const item = pick(items);
            const x = r();
            if (x < 0.3) {
              if (paging) return ['list_campaign_items', { ...paging.args, cursor: paging.cursor }];
              const sort = r() < 0.3 ? { sort: 'user' } : {};
              return [
                'list_campaign_items',
                { campaign_id: item.campaign_id, limit: 20 + Math.floor(r() * 31), ...sort },
              ];
            }
            if (x < 0.45) return ['explain_item', { item_id: item.item_id }];
            if (x < 0.6)
              return ['get_user_activity', { user_id: item.user.id, days: 30 + Math.floor(r() * 300) }];
            if (x < 0.7)
              return ['check_sod', { user_id: item.user.id, add_entitlement_ids: [item.entitlement.id] }];
            if (x < 0.75) return ['get_campaign_summary', { campaign_id: item.campaign_id }];
            if (x < 0.95) return ['list_campaigns', {}];
            const decision = pick(['approve', 'revoke', 'escalate']);
            const target = proposable.length > 0 ? pick(proposable) : item;
            return [
              'propose_decision',
              { item_id: target.item_id, decision, rationale: `Load run ${s}/${i}` },
            ];
          };
          for (let i = 0; i < CALLS; i++) {
            const [name, args] = choose(i);
            const t0 = performance.now();
            try {
              const res = await client.callTool({ name, arguments: args });
              const ms = performance.now() - t0;
              latencies.push(ms);
              perTool.set(name, [...(perTool.get(name) ?? []), ms]);
              if (res.isError) errors.push(`${name}: ${JSON.stringify(res.content).slice(0, 200)}`);
              if (name === 'list_campaign_items') {
                const next = (res.structuredContent as { next_cursor?: string | null } | undefined)
                  ?.next_cursor;
                const { cursor: _c, ...query } = args;
                paging = typeof next === 'string' && r() < 0.7 ? { args: query, cursor: next } : null;
              }
            } catch (e) {
              latencies.push(performance.now() - t0);
              errors.push(`${name}: ${String(e).slice(0, 200)}`);
            }
            byTool.set(name, (byTool.get(name) ?? 0) + 1);
            if (++done === Math.floor((SESSIONS * CALLS) / 10)) rssWarm = rssMiB(pid);
            if (done === Math.floor((SESSIONS * CALLS) / 2)) rssHalf = rssMiB(pid);
          }
        }),
      );
      const seconds = (performance.now() - started) / 1000;
      clearInterval(sampler);
      const rssAfter = rssMiB(pid);

      // Bad params over HTTP are refused as such, and audited like every other request.
      for (const c of clients.slice(0, 5)) {
        const e = await c
          .request(
            { method: 'tools/call', params: { name: 42, arguments: {} } } as never,
            CallToolResultSchema,
          )
          .then(
            () => null,
            (err: unknown) => err,
          );
        expect(e).toBeInstanceOf(McpError);
        expect((e as McpError).code).toBe(-32602);
      }
      await Promise.all(clients.map((c) => c.close()));

      latencies.sort((a, b) => a - b);
      const total = SESSIONS * CALLS;
      report(
        `load: ${SESSIONS} sessions × ${CALLS} calls = ${total} calls in ${seconds.toFixed(1)} s (${Math.round(total / seconds)} calls/s), ${errors.length} errors; ${[...byTool.entries()].map(([k, v]) => `${k} ${v}`).join(', ')}`,
      );
      report(
        `load: latency p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms`,
      );
      report(
        `load: p50 per tool ${[...perTool.entries()]
          .map(
            ([k, v]) =>
              `${k} ${percentile(
                v.sort((a, b) => a - b),
                50,
              ).toFixed(1)} ms`,
          )
          .join(', ')}`,
      );
      report(
        `load: server RSS ${rssBefore.toFixed(0)} MiB before, ${rssWarm.toFixed(0)} MiB after the first 10%, ${rssHalf.toFixed(0)} MiB at half, ${rssAfter.toFixed(0)} MiB after (peak ${rssPeak.toFixed(0)} MiB)`,
      );
      expect(errors.slice(0, 5)).toEqual([]);
      expect(latencies).toHaveLength(total);
      // Memory flat: 50,000 calls may fill caches (SQLite's page cache is 64 MiB) but not grow per call.
      expect(rssAfter - rssBefore).toBeLessThan(128);
      await server.stop();
      const entries = auditCount(db) - entriesBefore;
      // One entry per call (tool calls and the refused raw requests); proposals add no extra records.
      expect(entries).toBe(total + 5);
      const d2 = new Database(db);
      const verified = new AuditLog(d2).verify();
      d2.close();
      expect(verified.ok).toBe(true);
      report(`load: ${entries} audit entries for ${total + 5} requests, chain verified`);
    } finally {
      await server.stop();
    }
  });
});

function auditCount(db: string): number {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare('SELECT count(*) FROM audit_log').pluck().get() as number;
  } finally {
    d.close();
  }
}
