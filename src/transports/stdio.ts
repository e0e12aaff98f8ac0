import type { McpServer } from '@modelcontextprotocol/server';
import { StdioServerTransport, serveStdio as serveStdioEntry } from '@modelcontextprotocol/server/stdio';
import type { Logger } from 'pino';

/**
 * Serves MCP over stdin/stdout until stdin closes. The client's opening decides the era:
 * `initialize` pins a 2025-11-25 connection, a `server/discover` probe or a request with a
 * 2026-07-28 `_meta` envelope pins a 2026-07-28 one. The factory builds the instance that
 * serves it (once more for a probe the client abandons to fall back to `initialize`).
 */
export function serveStdio(
  factory: () => McpServer,
  logger?: Logger,
): { done: Promise<void>; close: () => Promise<void> } {
  const wire = new StdioServerTransport();
  const handle = serveStdioEntry(factory, {
    transport: wire,
    onerror: (e) => logger?.debug({ err: e.message }, 'stdio: request refused or failed'),
  });
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
