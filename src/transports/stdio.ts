import type { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio as serveStdioEntry } from '@modelcontextprotocol/server/stdio';
import type { Logger } from 'pino';

/** A request the stdio entry answered with an error before any server instance saw it. */
export type EntryRefusal = (
  request: { method: string; params: unknown; at: string },
  error: { code: number; message: string },
) => void;

/**
 * Serves MCP over stdin/stdout until stdin closes. The client's opening decides the era:
 * `initialize` pins a 2025-11-25 connection, a `server/discover` probe or a request with a
 * 2026-07-28 `_meta` envelope pins a 2026-07-28 one. The factory builds the instance that
 * serves it (once more for a probe the client abandons to fall back to `initialize`); it is
 * handed the set in which the instance notes each request it receives, so that requests the
 * entry refuses on its own (an unsupported version, a bad envelope) are reported to
 * `onRefused` for the audit log.
 */
export function serveStdio(
  factory: (requestsSeen: Set<string | number>) => McpServer,
  options: { logger?: Logger; onRefused?: EntryRefusal } = {},
): { done: Promise<void>; close: () => Promise<void> } {
  const wire = new StdioServerTransport();
  const seen = new Set<string | number>();
  const handle = serveStdioEntry(() => factory(seen), {
    transport: wire,
    onerror: (e) => options.logger?.debug({ err: e.message }, 'stdio: request refused or failed'),
  });
  const arrived = new Map<string | number, { method: string; params: unknown; at: string }>();
  const entryOnMessage = wire.onmessage;
  wire.onmessage = (message) => {
    const m = message as { id?: string | number; method?: unknown; params?: unknown };
    if (m.id !== undefined && typeof m.method === 'string') {
      arrived.set(m.id, { method: m.method, params: m.params, at: new Date().toISOString() });
    }
    entryOnMessage?.(message);
  };
  const send = wire.send.bind(wire);
  wire.send = async (message) => {
    const m = message as {
      id?: string | number;
      method?: unknown;
      error?: { code: number; message: string };
    };
    if (m.id !== undefined && m.method === undefined) {
      const req = arrived.get(m.id);
      arrived.delete(m.id);
      const instanceSawIt = seen.delete(m.id);
      if (req && m.error && !instanceSawIt) options.onRefused?.(req, m.error);
    }
    return send(message);
  };
  const closed = new Promise<void>((resolve) => {
    const entryOnClose = wire.onclose;
    wire.onclose = () => {
      entryOnClose?.();
      resolve();
    };
    process.stdin.on('end', () => resolve());
  });
  const close = () => handle.close().catch(() => {});
  return { done: closed.then(close), close };
}
