/**
 * The latency phase: one loaded store, every layer from the raw SQL query up to the real
 * stdio server, each measured with the same plan (warm-up, then several timed runs).
 *
 * Layers, from the bottom:
 *   raw-sql    one prepared statement: the keyset page joined with users and entitlements, with the
 *              store's keyset predicate (risk_score < k0 OR (risk_score = k0 AND id > k1));
 *   raw-seek   the same page as two index range seeks (risk_score = k0 AND id > k1, then
 *              risk_score < k0): what the storage can do when the predicate is sargable;
 *   store      Store.campaignItemsPage() (and Store.countItems(), which the tool also runs);
 *   handler    the tool's handle() called directly, arguments parsed by its schema;
 *   no-policy  in process through the SDK: the handler registered with registerTool;
 *   no-audit   in process: the policy pipeline without its audit stage;
 *   attest     in process: createServer(), the full pipeline with audit;
 *   stdio      the built CLI (dist/cli.js serve) spawned and driven over stdio;
 *   replay     the page floor: a bare SDK server over stdio returning results of exactly the same
 *              bytes as ours (the same content blocks and structuredContent), interleaved with ours;
 *   echo       a bare SDK server with one echo tool, in process and over stdio (the small-call floor);
 *   audit      the audit append alone (Auditor.record) against the audit floor, interleaved.
 */
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/client';
import { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { resolveConfig } from '../src/config.js';
import { Auditor } from '../src/policy/audit.js';
import { AuditLog } from '../src/store/audit.js';
import type { ItemQuery } from '../src/store/store.js';
import { Store } from '../src/store/store.js';
import { AS_OF, CAMPAIGN_ID } from './dataset.js';
import { auditFloor } from './floors.js';
import { CLI, ECHO_SERVER } from './paths.js';
import { type Connected, connectInProcess, directHandler, PRINCIPAL, type ServerKind } from './servers.js';
import { type LatencyFigure, type LatencyPlan, measure, measureGroup } from './stats.js';
import { type ResultBytes, resultBytes } from './tokens.js';

export type Layer =
  | 'raw-sql'
  | 'raw-seek'
  | 'store'
  | 'store-count'
  | 'handler'
  | 'no-policy'
  | 'no-audit'
  | 'attest'
  | 'replay'
  | 'echo'
  | 'audit'
  | 'audit-floor';
export type Transport = 'none' | 'memory' | 'stdio';
export type Page = 'first' | 'middle' | 'last';

export interface LatencyCase {
  tool: string;
  page: Page | null;
  layer: Layer;
  transport: Transport;
  /** Size of one result as JSON (for MCP layers: the CallToolResult), bytes. */
  resultBytes: number | null;
  figure: LatencyFigure;
}

export interface LatencyInput {
  db: string;
  plan: LatencyPlan;
  stdio: boolean;
  /** Users the per-user tools rotate through. */
  sampleUsers: number;
  /** Run the spawned stdio server with --cpu-prof, writing its profile here. */
  cpuProfDir?: string;
  /** Cursors found by an earlier walk of the same store (checked against SQL before use). */
  walked?: Walked;
}

/** The cursors of the middle and last pages, found by walking the campaign once. */
export interface Walked {
  items: number;
  middle: string | undefined;
  last: string | undefined;
}

export interface LatencyResult {
  items: number;
  pages: number;
  pageSize: number;
  /** Item offsets where the measured middle and last pages start. */
  offsets: Record<Page, number>;
  /** Walking the campaign once (limit 500 pages, then 50) to find the middle and last cursors. */
  walk: { seconds: number; calls: number; cached: boolean };
  walked: Walked;
  cases: LatencyCase[];
  /** Peak RSS of the spawned stdio servers (VmHWM), MB. */
  stdioServerPeakRssMB: { attest: number | null; echo: number | null };
  /** Peak RSS of this process (client side, all in-process servers and the store), MB. */
  maxRssMB: number;
  /** Bytes and tokens of one result of each case (first call of its rotation), keyed `tool` or `tool page`. */
  sizes: Record<string, ResultBytes>;
  /** Every case's result was checked by an SDK client that listed the tools (outputSchema validation on). */
  validatedByClient: string[];
  /** Size of the audit entry the audit figures append (its stored columns), bytes. */
  auditEntryBytes: number;
}

interface McpCase {
  tool: string;
  page: Page | null;
  args: (i: number) => Record<string, unknown>;
  /** Also measured over stdio against the page floor. */
  stdio: boolean;
}

/** The key of a case in `sizes` and in the page floor server. */
export const caseKey = (tool: string, page: Page | null) => (page ? `${tool} ${page}` : tool);

const PAGE = 50;
const WALK_PAGE = 500;

type CallToolResult = {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content: Array<{ type: string; text?: string }>;
};

async function call(client: Client, name: string, args: Record<string, unknown>): Promise<CallToolResult> {
  return (await client.callTool({ name, arguments: args })) as CallToolResult;
}

function peakRssOf(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

async function connectStdio(
  args: string[],
  env: Record<string, string>,
): Promise<Connected & { pid: () => number | null }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args,
    env: { ...env, PATH: process.env.PATH ?? '' },
    stderr: 'inherit',
  });
  const client = new Client({ name: 'attest-bench', version: '0.0.0' });
  await client.connect(transport);
  return { client, pid: () => transport.pid, close: () => client.close() };
}

export async function runLatency(input: LatencyInput): Promise<LatencyResult> {
  const { plan } = input;
  const store = Store.open(input.db);
  const config = resolveConfig(
    { db: input.db, logLevel: 'silent', asOf: AS_OF, principal: PRINCIPAL.id },
    {},
  );
  const cases: LatencyCase[] = [];
  const record = (c: Omit<LatencyCase, 'figure'>, figure: LatencyFigure) => {
    cases.push({ ...c, figure });
    const where = c.page ? `${c.tool} ${c.page}` : c.tool;
    console.error(
      `    ${c.layer.padEnd(11)} ${c.transport.padEnd(6)} ${where.padEnd(28)} p50 ${figure.p50.toFixed(3)} ms  p99 ${figure.p99.toFixed(3)} ms`,
    );
  };

  const inProc = new Map<ServerKind, Connected>();
  for (const kind of ['attest', 'no-audit', 'no-policy', 'echo'] as const) {
    inProc.set(kind, await connectInProcess(kind, store, config));
  }
  const noPolicy = inProc.get('no-policy')!.client;

  // ---- the campaign, its pages, and the cursors of the middle and last pages -------------
  const listArgs = { campaign_id: CAMPAIGN_ID, sort: 'risk', limit: PAGE };
  const first = await call(noPolicy, 'list_campaign_items', listArgs);
  if (first.isError) throw new Error(`list_campaign_items failed: ${JSON.stringify(first.content)}`);
  const items = Number(first.structuredContent?.total);
  const pages = Math.max(1, Math.ceil(items / PAGE));
  const offsets: Record<Page, number> = {
    first: 0,
    middle: Math.floor(pages / 2) * PAGE,
    last: (pages - 1) * PAGE,
  };
  const cursors: Record<Page, string | undefined> = { first: undefined, middle: undefined, last: undefined };
  // The keys of the same pages straight from SQL, to check the cursors and to drive the storage floor.
  const keyBefore = (offset: number): [number, string] | undefined => {
    if (offset === 0) return undefined;
    const r = store.db
      .prepare(
        `SELECT risk_score, id FROM review_items WHERE campaign_id = ? AND status = 'pending'
         ORDER BY risk_score DESC, id ASC LIMIT 1 OFFSET ?`,
      )
      .get(CAMPAIGN_ID, offset - 1) as { risk_score: number; id: string };
    return [r.risk_score, r.id];
  };
  const keys: Record<Page, [number, string] | undefined> = {
    first: undefined,
    middle: keyBefore(offsets.middle),
    last: keyBefore(offsets.last),
  };
  const pageArgs = (page: Page) => ({ ...listArgs, ...(cursors[page] ? { cursor: cursors[page] } : {}) });
  /** Whether each cursor's page starts where SQL says it should. */
  const cursorsHold = async (): Promise<string | null> => {
    for (const page of ['middle', 'last'] as const) {
      const r = await call(noPolicy, 'list_campaign_items', pageArgs(page));
      const got = (r.structuredContent?.items as Array<{ item_id: string }> | undefined)?.[0]?.item_id;
      const want = store.campaignItemsPage({
        campaign_id: CAMPAIGN_ID,
        status: 'pending',
        sort: 'risk',
        limit: 1,
        after: keys[page],
      }).items[0]?.item_id;
      if (got !== want) return `the ${page} page starts at ${got} through MCP but at ${want} in SQL`;
    }
    return null;
  };

  const walkStart = performance.now();
  let walkCalls = 0;
  let cached = false;
  if (input.walked?.items === items) {
    cursors.middle = input.walked.middle;
    cursors.last = input.walked.last;
    cached = (await cursorsHold()) === null;
  }
  if (!cached) {
    // Walk once: pages of 500 while they fit, then pages of 50 (cursors do not depend on the limit).
    let pos = 0;
    let cursor: string | undefined;
    for (const page of ['middle', 'last'] as const) {
      const target = offsets[page];
      while (pos < target) {
        const limit = target - pos >= WALK_PAGE ? WALK_PAGE : PAGE;
        const r = await call(noPolicy, 'list_campaign_items', {
          ...listArgs,
          limit,
          ...(cursor ? { cursor } : {}),
        });
        walkCalls++;
        const next = r.structuredContent?.next_cursor;
        if (r.isError || typeof next !== 'string') throw new Error(`walk stopped at item ${pos} of ${items}`);
        cursor = next;
        pos += limit;
      }
      cursors[page] = cursor;
    }
    const problem = await cursorsHold();
    if (problem) throw new Error(problem);
  }
  const walkSeconds = (performance.now() - walkStart) / 1000;

  // Users for the per-user tools: evenly spread over the id order.
  const allUsers = (store.db.prepare('SELECT id FROM users ORDER BY id').all() as Array<{ id: string }>).map(
    (r) => r.id,
  );
  const k = Math.min(input.sampleUsers, allUsers.length);
  const users = Array.from(
    { length: k },
    (_, i) => allUsers[Math.floor((i * allUsers.length) / k)] as string,
  );
  const userArgs = (i: number) => ({ user_id: users[i % users.length] as string });

  // ---- storage floor ----------------------------------------------------------------------
  const userCols =
    'u.id AS u_id, u.name AS u_name, u.email AS u_email, u.department AS u_department, u.title AS u_title';
  const entCols = 'e.id AS e_id, e.name AS e_name, e.app AS e_app, e.sensitivity AS e_sensitivity';
  const rawSelect = `SELECT i.id, i.risk_score, i.risk_level, i.signals, i.recommendation, i.reviewer_id, ${userCols}, ${entCols}
    FROM review_items i JOIN users u ON u.id = i.user_id JOIN entitlements e ON e.id = i.entitlement_id
    WHERE i.campaign_id = ? AND i.status = 'pending'`;
  const rawFirst = store.db.prepare(`${rawSelect} ORDER BY i.risk_score DESC, i.id ASC LIMIT ${PAGE + 1}`);
  const rawAfter = store.db.prepare(
    `${rawSelect} AND (i.risk_score < ? OR (i.risk_score = ? AND i.id > ?)) ORDER BY i.risk_score DESC, i.id ASC LIMIT ${PAGE + 1}`,
  );
  for (const page of ['first', 'middle', 'last'] as const) {
    const key = keys[page];
    const run = key
      ? () => rawAfter.all(CAMPAIGN_ID, key[0], key[0], key[1])
      : () => rawFirst.all(CAMPAIGN_ID);
    record(
      {
        tool: 'list_campaign_items',
        page,
        layer: 'raw-sql',
        transport: 'none',
        resultBytes: JSON.stringify(run()).length,
      },
      await measure(plan, run),
    );
  }
  const seekEq = store.db.prepare(
    `${rawSelect} AND i.risk_score = ? AND i.id > ? ORDER BY i.id ASC LIMIT ${PAGE + 1}`,
  );
  const seekLt = store.db.prepare(
    `${rawSelect} AND i.risk_score < ? ORDER BY i.risk_score DESC, i.id ASC LIMIT ?`,
  );
  for (const page of ['first', 'middle', 'last'] as const) {
    const key = keys[page];
    const run = key
      ? () => {
          const same = seekEq.all(CAMPAIGN_ID, key[0], key[1]);
          return same.length > PAGE
            ? same
            : same.concat(seekLt.all(CAMPAIGN_ID, key[0], PAGE + 1 - same.length));
        }
      : () => rawFirst.all(CAMPAIGN_ID);
    const a = JSON.stringify(run());
    if (key && a !== JSON.stringify(rawAfter.all(CAMPAIGN_ID, key[0], key[0], key[1]))) {
      throw new Error(`raw-seek and raw-sql disagree on the ${page} page`);
    }
    record(
      { tool: 'list_campaign_items', page, layer: 'raw-seek', transport: 'none', resultBytes: a.length },
      await measure(plan, run),
    );
  }
  for (const page of ['first', 'middle', 'last'] as const) {
    const q: ItemQuery = {
      campaign_id: CAMPAIGN_ID,
      status: 'pending',
      sort: 'risk',
      limit: PAGE,
      after: keys[page],
    };
    const run = () => store.campaignItemsPage(q);
    record(
      {
        tool: 'list_campaign_items',
        page,
        layer: 'store',
        transport: 'none',
        resultBytes: JSON.stringify(run()).length,
      },
      await measure(plan, run),
    );
  }
  record(
    { tool: 'list_campaign_items', page: null, layer: 'store-count', transport: 'none', resultBytes: null },
    await measure(plan, () => store.countItems({ campaign_id: CAMPAIGN_ID, status: 'pending' })),
  );

  // ---- the handlers, then in process through the SDK ------------------------------------
  // Item ids of the first page, for explain_item.
  const firstItems = ((first.structuredContent?.items as Array<{ item_id: string }> | undefined) ?? []).map(
    (i) => i.item_id,
  );
  const itemArgs = (i: number) => ({ item_id: firstItems[i % firstItems.length] as string });
  const mcpCases: McpCase[] = [
    ...(['first', 'middle', 'last'] as const).map((page) => ({
      tool: 'list_campaign_items',
      page,
      args: () => pageArgs(page),
      stdio: true,
    })),
    { tool: 'get_user_activity', page: null, args: userArgs, stdio: true },
    { tool: 'check_sod', page: null, args: userArgs, stdio: true },
    // The other cheap read tools, for the pipeline's overhead (in process only).
    { tool: 'list_campaigns', page: null, args: () => ({}), stdio: false },
    { tool: 'explain_item', page: null, args: itemArgs, stdio: false },
  ];
  const sizes: Record<string, ResultBytes> = {};
  for (const c of mcpCases) {
    // The handler and the three in-process servers are measured interleaved, run by run.
    const handler = directHandler(store, config, c.tool);
    const layers: Array<{
      layer: Layer;
      transport: Transport;
      bytes: number;
      fn: (i: number) => Promise<unknown>;
    }> = [
      {
        layer: 'handler',
        transport: 'none',
        bytes: JSON.stringify(await handler(c.args(0))).length,
        fn: async (i) => handler(c.args(i)),
      },
    ];
    for (const kind of ['no-policy', 'no-audit', 'attest'] as const) {
      const client = inProc.get(kind)!.client;
      const probe = await call(client, c.tool, c.args(0));
      if (probe.isError) throw new Error(`${c.tool} via ${kind} failed: ${JSON.stringify(probe.content)}`);
      if (kind === 'attest') sizes[caseKey(c.tool, c.page)] = resultBytes(c.tool, probe);
      layers.push({
        layer: kind,
        transport: 'memory',
        bytes: JSON.stringify(probe).length,
        fn: (i) => call(client, c.tool, c.args(i)),
      });
    }
    const figures = await measureGroup(
      plan,
      layers.map((L) => L.fn),
    );
    layers.forEach((L, j) => {
      record(
        { tool: c.tool, page: c.page, layer: L.layer, transport: L.transport, resultBytes: L.bytes },
        figures[j]!,
      );
    });
  }
  const echo = inProc.get('echo')!.client;
  {
    const probe = await call(echo, 'echo', { text: 'ping' });
    record(
      {
        tool: 'echo',
        page: null,
        layer: 'echo',
        transport: 'memory',
        resultBytes: JSON.stringify(probe).length,
      },
      await measure(plan, () => call(echo, 'echo', { text: 'ping' })),
    );
  }
  for (const c of inProc.values()) await c.close();

  // ---- a client that validates structuredContent against each tool's outputSchema ----------
  const validatedByClient: string[] = [];
  {
    const checking = await connectInProcess('attest', store, config);
    try {
      await checking.client.listTools();
      for (const c of mcpCases) {
        for (let i = 0; i < 4; i++) {
          const r = await call(checking.client, c.tool, c.args(i));
          if (r.isError)
            throw new Error(`${c.tool} failed under outputSchema validation: ${JSON.stringify(r.content)}`);
        }
        validatedByClient.push(caseKey(c.tool, c.page));
      }
    } finally {
      await checking.close();
    }
  }

  // ---- the audit append against the audit floor -----------------------------------------
  // The entry one list_campaign_items call appends, appended again and again by a fresh Auditor
  // on the same connection, against a plain insert of a row of the same size.
  const auditor = new Auditor(new AuditLog(store.db));
  const facts = {
    at: new Date().toISOString(),
    principal: PRINCIPAL.id,
    client: { name: 'attest-bench', version: '0.0.0' },
    session_id: null,
    transport: 'memory',
    tool: 'list_campaign_items',
    kind: 'read',
    arguments: pageArgs('middle'),
    outcome: 'ok' as const,
    error: null,
    duration_ms: 1.234,
    details: null,
  };
  const stored = auditor.entry(facts);
  // The stored row: its text columns, the two hashes, seq and duration.
  const auditEntryBytes =
    Object.values(stored).reduce<number>(
      (n, v) => n + (v === null ? 0 : typeof v === 'string' ? v.length : JSON.stringify(v).length),
      0,
    ) +
    2 * 64 +
    16;
  const floor = auditFloor(store.db, auditEntryBytes);
  try {
    const [a, f] = await measureGroup(plan, [() => auditor.record(facts), () => floor.insert()]);
    record(
      { tool: 'audit', page: null, layer: 'audit', transport: 'none', resultBytes: auditEntryBytes },
      a!,
    );
    record(
      { tool: 'audit', page: null, layer: 'audit-floor', transport: 'none', resultBytes: auditEntryBytes },
      f!,
    );
  } finally {
    floor.drop();
  }

  // ---- over stdio, each case interleaved with its page floor ------------------------------
  const stdioServerPeakRssMB: LatencyResult['stdioServerPeakRssMB'] = { attest: null, echo: null };
  if (input.stdio) {
    const prof = input.cpuProfDir
      ? ['--cpu-prof', `--cpu-prof-dir=${input.cpuProfDir}`, '--cpu-prof-name=stdio-server.cpuprofile']
      : [];
    const attest = await connectStdio([...prof, CLI, 'serve', '--db', input.db], {
      ATTEST_LOG_LEVEL: 'warn',
      ATTEST_AS_OF: AS_OF,
      ATTEST_PRINCIPAL: PRINCIPAL.id,
    });
    const echoStdio = await connectStdio([ECHO_SERVER], {});
    try {
      for (const c of mcpCases.filter((x) => x.stdio)) {
        // Our results for every argument of the rotation, stored in the floor server to replay.
        const rotation = c.tool === 'list_campaign_items' ? 1 : users.length;
        const results: CallToolResult[] = [];
        for (let i = 0; i < rotation; i++) {
          const r = await call(attest.client, c.tool, c.args(i));
          if (r.isError) throw new Error(`${c.tool} over stdio failed: ${JSON.stringify(r.content)}`);
          results.push(r);
        }
        const name = caseKey(c.tool, c.page);
        await call(echoStdio.client, 'load', { name, results });
        const replayed = await call(echoStdio.client, 'replay', { name, i: 0 });
        if (JSON.stringify(replayed) !== JSON.stringify(results[0]))
          throw new Error(`the page floor does not return the same bytes as ${name}`);
        const [ours, replay] = await measureGroup(plan, [
          (i) => call(attest.client, c.tool, c.args(i)),
          (i) => call(echoStdio.client, 'replay', { name, i }),
        ]);
        const bytes = JSON.stringify(results[0]).length;
        record(
          { tool: c.tool, page: c.page, layer: 'attest', transport: 'stdio', resultBytes: bytes },
          ours!,
        );
        record(
          { tool: c.tool, page: c.page, layer: 'replay', transport: 'stdio', resultBytes: bytes },
          replay!,
        );
      }
      const probe = await call(echoStdio.client, 'echo', { text: 'ping' });
      record(
        {
          tool: 'echo',
          page: null,
          layer: 'echo',
          transport: 'stdio',
          resultBytes: JSON.stringify(probe).length,
        },
        await measure(plan, () => call(echoStdio.client, 'echo', { text: 'ping' })),
      );
      stdioServerPeakRssMB.attest = peakRssOf(attest.pid());
      stdioServerPeakRssMB.echo = peakRssOf(echoStdio.pid());
    } finally {
      await attest.close();
      await echoStdio.close();
    }
  }
  store.close();
  return {
    items,
    pages,
    pageSize: PAGE,
    offsets,
    walk: { seconds: walkSeconds, calls: walkCalls, cached },
    walked: { items, middle: cursors.middle, last: cursors.last },
    cases,
    stdioServerPeakRssMB,
    maxRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
    sizes,
    validatedByClient,
    auditEntryBytes,
  };
}
