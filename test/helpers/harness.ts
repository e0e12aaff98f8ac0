import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, InMemoryTransport, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { createMcpHandler } from '@modelcontextprotocol/server';
import { type Config, resolveConfig } from '../../src/config.js';
import { createConnectorRegistry } from '../../src/connectors/registry.js';
import type { Principal } from '../../src/domain/principal.js';
import { createLogger } from '../../src/log.js';
import { createServer, type ServerDeps } from '../../src/server.js';
import { loadSnapshot } from '../../src/services/load.js';
import { runOutbox } from '../../src/services/outbox.js';
import { Store } from '../../src/store/store.js';

export const FIXTURES = join(import.meta.dirname, '..', 'fixtures');
export const TINY = join(FIXTURES, 'tiny');
/** The fixed analysis date of the tiny fixture tenant. */
export const TINY_AS_OF = '2026-11-28T00:00:00.000Z';

export function tempDir(prefix = 'attest-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  return resolveConfig({ db: ':memory:', logLevel: 'silent', asOf: TINY_AS_OF, ...overrides }, {});
}

/** A store with the tiny fixture tenant imported. */
export async function tinyStore(config: Config = testConfig()): Promise<Store> {
  const store = Store.open(config.db);
  const { report } = await loadSnapshot(store, TINY, {
    asOf: new Date(config.asOf ?? TINY_AS_OF),
    dormantDays: config.dormantDays,
  });
  if (!report.ok) throw new Error(`tiny fixture did not import: ${JSON.stringify(report.issues)}`);
  return store;
}

export type ElicitAnswer =
  | { action: 'accept'; content: Record<string, unknown> }
  | { action: 'decline' }
  | { action: 'cancel' };

export interface Harness {
  client: Client;
  store: Store;
  config: Config;
  /** Calls a tool and returns the raw result. */
  call: (
    name: string,
    args?: Record<string, unknown>,
  ) => Promise<{
    isError?: boolean;
    structuredContent?: Record<string, unknown>;
    content: Array<{ type: string; text?: string }>;
  }>;
  /** Calls a tool and returns its structured content; throws when the result is an error. */
  ok: <T = Record<string, unknown>>(name: string, args?: Record<string, unknown>) => Promise<T>;
  /** Calls a tool expecting an error; returns its text. */
  fail: (name: string, args?: Record<string, unknown>) => Promise<string>;
  elicitations: Array<{ message: string; requestedSchema: unknown; url?: string }>;
  close: () => Promise<void>;
}

/**
 * A real SDK client connected in process to a server: over a linked in-memory transport for
 * 2025-11-25 (the default, one server for the connection), or for 2026-07-28 through the
 * SDK's HTTP entry in process (a server per request, the client pinned to 2026-07-28).
 */
export async function startServer(
  options: {
    store?: Store;
    config?: Partial<Config>;
    principal?: Principal;
    /** Declare form elicitation and answer with this (or a function computing the answer). */
    elicit?: ElicitAnswer | ((req: { message: string }) => Promise<ElicitAnswer> | ElicitAnswer);
    /** Also declare URL-mode elicitation; URL requests are recorded and answered with accept. */
    elicitUrl?: boolean;
    clientName?: string;
    deps?: Partial<ServerDeps>;
    era?: 'legacy' | 'modern';
  } = {},
): Promise<Harness> {
  const config = testConfig(options.config);
  const store = options.store ?? (await tinyStore(config));
  const build = () =>
    createServer({
      store,
      config,
      logger: createLogger('silent'),
      principal: options.principal ?? { id: 'tester@example.com', role: 'admin', reviewer_ids: [] },
      transport: 'memory',
      applyOutbox: async () => {
        await runOutbox(store, createConnectorRegistry({}));
      },
      ...options.deps,
    });
  const elicitation = {
    ...(options.elicit ? { form: {} } : {}),
    ...(options.elicitUrl ? { url: {} } : {}),
  };
  const client = new Client(
    { name: options.clientName ?? 'test-client', version: '1.2.3' },
    {
      capabilities: options.elicit || options.elicitUrl ? { elicitation } : {},
      ...(options.era === 'modern' ? { versionNegotiation: { mode: { pin: '2026-07-28' } } } : {}),
    },
  );
  const elicitations: Harness['elicitations'] = [];
  if (options.elicit || options.elicitUrl) {
    const answer = options.elicit;
    client.setRequestHandler('elicitation/create', async (req) => {
      const params = req.params as {
        message: string;
        requestedSchema?: unknown;
        mode?: string;
        url?: string;
      };
      elicitations.push({
        message: params.message,
        requestedSchema: params.requestedSchema,
        ...(params.mode === 'url' ? { url: params.url } : {}),
      });
      if (params.mode === 'url' || !answer) return { action: 'accept' };
      return (typeof answer === 'function' ? await answer({ message: params.message }) : answer) as never;
    });
  }
  let closeServer: () => Promise<void>;
  if (options.era === 'modern') {
    const handler = createMcpHandler(() => build(), { legacy: 'reject' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL('http://attest.test/mcp'), {
        fetch: (url, init) => handler.fetch(new Request(url, init)),
      }),
    );
    closeServer = () => handler.close();
  } else {
    const server = build();
    const [ct, st] = InMemoryTransport.createLinkedPair();
    await Promise.all([server.connect(st), client.connect(ct)]);
    closeServer = () => server.close();
  }
  const call: Harness['call'] = async (name, args = {}) =>
    (await client.callTool({ name, arguments: args })) as Awaited<ReturnType<Harness['call']>>;
  return {
    client,
    store,
    config,
    call,
    elicitations,
    ok: async <T>(name: string, args: Record<string, unknown> = {}) => {
      const r = await call(name, args);
      if (r.isError) throw new Error(`${name} failed: ${r.content.map((c) => c.text).join(' ')}`);
      return r.structuredContent as T;
    },
    fail: async (name, args = {}) => {
      const r = await call(name, args);
      if (!r.isError)
        throw new Error(
          `${name} unexpectedly succeeded: ${JSON.stringify(r.structuredContent).slice(0, 300)}`,
        );
      return r.content.map((c) => c.text ?? '').join(' ');
    },
    close: async () => {
      await client.close();
      await closeServer();
      if (!options.store) store.close();
    },
  };
}
