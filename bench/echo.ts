/**
 * The floor: a bare SDK McpServer with one echo tool, no store, no policy pipeline, no audit.
 * Used in process (InMemoryTransport) by run.ts and over stdio by echo-server.ts.
 */
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

export function createEchoServer(): McpServer {
  const server = new McpServer({ name: 'bench-echo', version: '0.0.0' }, { capabilities: { tools: {} } });
  server.registerTool(
    'echo',
    { description: 'Returns its text argument.', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text' as const, text }] }),
  );
  return server;
}
