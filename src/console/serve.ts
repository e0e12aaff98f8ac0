import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/**
 * The console on its own HTTP server (`attest console`, for people who run Attest over
 * stdio): the same Host and Origin checks as the MCP endpoint, nothing but /console.
 */
export async function serveConsoleHttp(options: {
  host: string;
  port: number;
  allowedHosts: string[];
  allowedOrigins: string[];
  logger: Logger;
  handle: (
    req: import('node:http').IncomingMessage,
    res: import('node:http').ServerResponse,
    url: URL,
  ) => Promise<boolean>;
}): Promise<{ url: string; close: () => Promise<void> }> {
  let hosts = new Set<string>();
  let origins = new Set<string>();
  const server = createServer((req, res) => {
    const host = (req.headers.host ?? '').toLowerCase();
    const origin = req.headers.origin;
    if (!hosts.has(host) || (origin !== undefined && !origins.has(origin.toLowerCase()))) {
      res.writeHead(403, { 'content-type': 'text/plain' }).end('Forbidden: Host or Origin is not allowed');
      return;
    }
    const url = new URL(req.url ?? '/', 'http://placeholder');
    options
      .handle(req, res, url)
      .then((handled) => {
        if (!handled && !res.headersSent)
          res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found; the console is at /console');
      })
      .catch((e) => {
        options.logger.error({ err: e }, 'console request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' }).end('Internal error');
      });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const names = LOOPBACK.has(options.host) ? ['127.0.0.1', 'localhost', '[::1]'] : [options.host];
  hosts = new Set([...names.map((h) => `${h}:${port}`), ...options.allowedHosts.map((h) => h.toLowerCase())]);
  origins = new Set([
    ...names.flatMap((h) => [`http://${h}:${port}`, `https://${h}:${port}`]),
    ...options.allowedOrigins.map((o) => o.toLowerCase()),
  ]);
  const display = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${display}:${port}/console`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections?.();
      }),
  };
}
