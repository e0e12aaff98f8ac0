/**
 * The in-process servers the latency phase compares, each reached through a real SDK Client
 * over a linked InMemoryTransport pair:
 *   attest     createServer(): every call passes the policy pipeline (audit with hash chain,
 *              error handling, read-only guard, input validation, output validation);
 *   no-audit   the same pipeline stages without the audit stage (to split the policy cost);
 *   no-policy  the same tool handlers registered directly with registerTool, no pipeline, no audit;
 *   echo       a bare McpServer with one echo tool (the SDK floor).
 */
import { Client, InMemoryTransport } from '@modelcontextprotocol/client';
import { McpServer } from '@modelcontextprotocol/server';
import type { Config } from '../src/config.js';
import type { Principal } from '../src/domain/principal.js';
import { createLogger } from '../src/log.js';
import type { CallState } from '../src/policy/index.js';
import {
  compose,
  errorResult,
  errorStage,
  readOnlyStage,
  runStage,
  validateStage,
} from '../src/policy/index.js';
import { createServer } from '../src/server.js';
import { storeState } from '../src/store/backend.js';
import type { Store } from '../src/store/store.js';
import type { AnyTool, ToolContext } from '../src/tools/define.js';
import { allTools } from '../src/tools/index.js';
import { createEchoServer } from './echo.js';

export type ServerKind = 'attest' | 'no-audit' | 'no-policy' | 'echo';

export interface Connected {
  client: Client;
  close: () => Promise<void>;
}

/** The principal every server variant (and the stdio server, via ATTEST_PRINCIPAL) runs as, so cursors match. */
export const PRINCIPAL: Principal = { id: 'bench@example.com', role: 'admin', reviewer_ids: [] };

/** A hand-built tool context, as createServer builds one per call. */
export function benchContext(
  store: Store,
  config: Config,
  signal: AbortSignal = new AbortController().signal,
): ToolContext {
  return {
    store,
    shared: storeState(store),
    config,
    now: () => new Date(),
    principal: PRINCIPAL,
    session: { id: null, transport: 'memory', client: { name: 'attest-bench', version: '0.0.0' } },
    era: 'legacy',
    askHuman: null,
    sendHumanTo: null,
    input: { form: false, url: false, responses: null, state: null },
    progress: async () => {},
    auditDetail: () => {},
    commitWithAudit: (effect) => store.transaction(effect),
    commitWithAuditAsync: async () => {
      throw new Error('the bench context runs read tools only: it writes no audit entries');
    },
    recordEvent: () => 0,
    eventEntry: () => {
      throw new Error('the bench context runs read tools only: it writes no audit entries');
    },
    confirmCommand: (answer, id) => `attest ${answer} ${id}`,
    applyOutbox: async () => {},
    signal,
  };
}

function tool(name: string): AnyTool {
  const t = allTools.find((x) => x.name === name);
  if (!t) throw new Error(`no tool ${name}`);
  return t;
}

export const READ_TOOLS = [
  'list_campaign_items',
  'get_user_activity',
  'check_sod',
  'list_campaigns',
  'explain_item',
] as const;

/** The tool handlers registered straight on an McpServer: SDK input validation, the handler, nothing else. */
function noPolicyServer(store: Store, config: Config): McpServer {
  const server = new McpServer(
    { name: 'attest-no-policy', version: '0.0.0' },
    { capabilities: { tools: {} } },
  );
  for (const name of READ_TOOLS) {
    const t = tool(name);
    server.registerTool(t.name, { description: t.description, inputSchema: t.input }, async (args, ctx) => {
      const out = (await t.handle(args as never, benchContext(store, config, ctx.mcpReq.signal))) as Record<
        string,
        unknown
      >;
      const text = t.text ? t.text(out as never) : JSON.stringify(out);
      return { content: [{ type: 'text' as const, text }], structuredContent: out };
    });
  }
  return server;
}

/** The policy stages of createPipeline() without the audit stage, dispatched like createServer() does. */
function noAuditServer(store: Store, config: Config): McpServer {
  const server = new McpServer(
    { name: 'attest-no-audit', version: '0.0.0' },
    { capabilities: { tools: {} } },
  );
  const run = compose([errorStage(createLogger('silent')), readOnlyStage, validateStage, runStage(null)]);
  server.server.setRequestHandler('tools/call', async (request, extra) => {
    const t = tool(request.params.name);
    const ctx = benchContext(store, config, extra.mcpReq.signal);
    const call: CallState = {
      tool: t,
      rawArgs: request.params.arguments ?? {},
      ctx,
      outcome: 'error',
      error: null,
      details: {},
    };
    ctx.auditDetail = (d) => Object.assign(call.details, d);
    await run(call);
    return (call.result ?? errorResult('No result was produced.')) as never;
  });
  return server;
}

function build(kind: ServerKind, store: Store, config: Config): McpServer {
  switch (kind) {
    case 'attest':
      return createServer({
        store,
        config,
        logger: createLogger('silent'),
        principal: PRINCIPAL,
        transport: 'memory',
      });
    case 'no-audit':
      return noAuditServer(store, config);
    case 'no-policy':
      return noPolicyServer(store, config);
    case 'echo':
      return createEchoServer();
  }
}

/** Builds a server of this kind and connects a real SDK client to it in process. */
export async function connectInProcess(kind: ServerKind, store: Store, config: Config): Promise<Connected> {
  const server = build(kind, store, config);
  const client = new Client({ name: 'attest-bench', version: '0.0.0' });
  const [ct, st] = InMemoryTransport.createLinkedPair();
  await Promise.all([server.connect(st), client.connect(ct)]);
  return {
    client,
    close: async () => {
      await client.close();
      await server.close();
    },
  };
}

/** Calls the handler directly (arguments parsed by the tool's schema): no SDK, no pipeline. */
export function directHandler(store: Store, config: Config, name: string) {
  const t = tool(name);
  const ctx = benchContext(store, config);
  return (args: Record<string, unknown>) => t.handle(t.input.parse(args) as never, ctx);
}
