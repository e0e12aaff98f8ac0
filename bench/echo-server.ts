/**
 * The bare echo MCP server over stdio, spawned by the benchmark as the stdio floor:
 *   node dist-bench/bench/echo-server.js
 */
import { StdioServerTransport } from '@modelcontextprotocol/server/stdio';
import { createEchoServer } from './echo.js';

const server = createEchoServer();
await server.connect(new StdioServerTransport());
process.stdin.on('end', () => {
  void server.close().then(() => process.exit(0));
});
