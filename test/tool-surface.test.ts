import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { toolsMarkdownTable, withToolsTable } from '../src/tools/catalog.js';
import { allTools } from '../src/tools/index.js';
import { type Harness, startServer } from './helpers/harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('tool surface', () => {
  it.each([
    ['default', false],
    ['read-only', true],
  ])('tools/list in %s mode matches the snapshot', async (mode, readOnly) => {
    h = await startServer({ config: { readOnly } });
    const { tools } = await h.client.listTools();
    await expect(JSON.stringify(tools, null, 2)).toMatchFileSnapshot(`__snapshots__/tools-${mode}.json`);
  });

  it.each([
    ['default', false],
    ['read-only', true],
  ])('a 2026-07-28 client is listed the same tools in %s mode', async (mode, readOnly) => {
    h = await startServer({ config: { readOnly }, era: 'modern' });
    const { tools } = await h.client.listTools();
    await expect(JSON.stringify(tools, null, 2)).toMatchFileSnapshot(`__snapshots__/tools-${mode}.json`);
  });

  it('every tool follows the conventions', async () => {
    h = await startServer();
    const { tools } = await h.client.listTools();
    expect(tools.map((t) => t.name)).toEqual(allTools.map((t) => t.name));
    for (const t of tools) {
      expect(t.name).toMatch(/^[a-z]+(_[a-z]+)+$/);
      expect(t.description?.length ?? 0).toBeGreaterThan(80);
      expect(t.title).toBeTruthy();
      expect(t.outputSchema).toBeDefined();
      const a = t.annotations!;
      for (const k of ['readOnlyHint', 'destructiveHint', 'idempotentHint', 'openWorldHint'] as const) {
        expect(typeof a[k]).toBe('boolean');
      }
      const props = (t.inputSchema.properties ?? {}) as Record<string, { description?: string }>;
      for (const [name, p] of Object.entries(props)) {
        expect(name).toMatch(/^[a-z]+(_[a-z]+)*$/);
        expect(p.description, `${t.name}.${name} has a description`).toBeTruthy();
      }
    }
    const write = tools.filter((t) => !t.annotations?.readOnlyHint).map((t) => t.name);
    expect(write.sort()).toEqual([
      'create_campaign',
      'propose_decision',
      'propose_role',
      'reassign_items',
      'submit_decision',
    ]);
  });

  it('the README tool table is generated from the registry and current', () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    expect(withToolsTable(readme, toolsMarkdownTable())).toBe(readme);
  });
});
