/**
 * The floors for the MCP layers: a bare SDK McpServer, no store, no policy pipeline, no audit.
 * Used in process (InMemoryTransport) and over stdio (echo-server.ts). Two tools:
 *   echo     returns its text argument (the small-call floor);
 *   replay   returns a result stored beforehand with `load`, byte for byte: the same content
 *            blocks and the same structuredContent as one of our own results (the page floor).
 */
import { McpServer } from '@modelcontextprotocol/server';
import { z } from 'zod';

type Stored = { content: Array<{ type: 'text'; text: string }>; structuredContent?: Record<string, unknown> };

export function createEchoServer(): McpServer {
  const server = new McpServer({ name: 'bench-echo', version: '0.0.0' }, { capabilities: { tools: {} } });
  const stored = new Map<string, Stored[]>();
  server.registerTool(
    'echo',
    { description: 'Returns its text argument.', inputSchema: z.object({ text: z.string() }) },
    async ({ text }) => ({ content: [{ type: 'text' as const, text }] }),
  );
  server.registerTool(
    'load',
    {
      description: 'Stores results to replay under a name.',
      inputSchema: z.object({ name: z.string(), results: z.array(z.record(z.string(), z.unknown())) }),
    },
    async ({ name, results }) => {
      stored.set(name, results as Stored[]);
      return { content: [{ type: 'text' as const, text: String(results.length) }] };
    },
  );
  server.registerTool(
    'replay',
    {
      description: 'Returns stored result i (mod their number) of a name.',
      inputSchema: z.object({ name: z.string(), i: z.number().int() }),
    },
    async ({ name, i }) => {
      const list = stored.get(name);
      if (!list || list.length === 0) throw new Error(`nothing stored under ${name}`);
      return list[i % list.length] as Stored;
    },
  );
  return server;
}
