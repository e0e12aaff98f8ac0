import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = join(import.meta.dirname, '..', 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

function importsOf(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  return [...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]!);
}

/** Which internal layers a layer may import, and which packages only it may use. */
const allowedLayers: Record<string, string[]> = {
  domain: ['domain'],
  analysis: ['domain', 'analysis'],
  store: ['domain', 'store'],
  connectors: ['domain', 'connectors'],
  demo: ['domain', 'demo'],
};
const packageHomes: Array<[RegExp, string[]]> = [
  [/^better-sqlite3$/, ['store']],
  [/^pg$/, ['store']],
  [/^@modelcontextprotocol\//, ['server.ts', 'transports', 'tools/define.ts']],
  // The v1 SDK (2025-11-25 at most) is gone from the server; only jose verifies tokens.
  [/^@modelcontextprotocol\/sdk/, []],
  [/^jose$/, ['auth']],
  [/^@okta\/|^@microsoft\/|^undici$/, ['connectors']],
];

describe('layer direction', () => {
  const all = files(SRC).map((f) => relative(SRC, f));
  it.each(all)('%s imports only what its layer may', (file) => {
    const layer = file.includes('/') ? file.split('/')[0]! : file;
    for (const spec of importsOf(join(SRC, file))) {
      if (spec.startsWith('.')) {
        const target = relative(SRC, join(SRC, file, '..', spec))
          .split('/')[0]!
          .replace(/\.js$/, '.ts');
        const allowed = allowedLayers[layer];
        if (allowed) expect(allowed, `${file} imports ${spec}`).toContain(target.replace(/\.ts$/, ''));
      } else {
        for (const [re, homes] of packageHomes) {
          if (re.test(spec)) {
            const ok = homes.some((h) => file === h || file.startsWith(`${h}/`) || file.startsWith(h));
            expect(ok, `${file} imports ${spec}, allowed only in ${homes.join(', ')}`).toBe(true);
          }
        }
      }
    }
  });
});
