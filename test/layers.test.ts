import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';
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
  return [
    ...text.matchAll(/^\s*(?:import|export)[^'"]*from\s+['"]([^'"]+)['"]/gm),
    // Side-effect imports and dynamic import() count too.
    ...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm),
    ...text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g),
  ].map((m) => m[1]!);
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
  [/^pg-copy-streams$/, ['store/pg']],
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

/** A statement of SQL in a string or template literal (upper-case keywords, as the store writes them). */
const SQL_TEXT = [
  /\b(SELECT|INSERT|UPDATE|DELETE)\b[\s\S]*\b(FROM|INTO|SET)\b/,
  /\b(CREATE|DROP|ALTER)\s+(TABLE|INDEX|VIEW|TRIGGER)\b/,
  /\bPRAGMA\s+\w+/,
];
/** Calls that only a database handle or the store's statement cache answer. */
const DB_CALLS = new Set(['prepare', 'stmt', 'wideRows']);
/** Objects whose `.db` is the configured store location (a path or URL), not a handle. */
const DB_PATH_OWNERS = new Set(['config', 'opts']);

/**
 * Leaks above src/store/ that are allowed, each with its reason: the file and a piece of the
 * leak's text, so nothing else in that file is let through. Keep it minimal: move a query into
 * a repository under src/store/ instead of adding an entry.
 */
const allowedLeaks: Array<{ file: string; text: string; why: string }> = [
  {
    file: 'demo/names.ts',
    text: 'DROP TABLE users',
    why: "hostile demo data, not a query: a user's display name carrying an SQL injection, stored as text",
  },
];

/** Where a file outside src/store/ writes SQL or reaches past the store's repositories. */
function storeLeaks(file: string, text: string): string[] {
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true);
  const out: string[] = [];
  const at = (n: ts.Node) => `${file}:${sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1}`;
  const visit = (n: ts.Node): void => {
    let literal: string | null = null;
    if (ts.isStringLiteral(n) || ts.isNoSubstitutionTemplateLiteral(n)) literal = n.text;
    else if (ts.isTemplateExpression(n))
      literal = [n.head.text, ...n.templateSpans.map((s) => s.literal.text)].join(' ? ');
    if (literal !== null && SQL_TEXT.some((re) => re.test(literal)))
      out.push(`${at(n)} SQL in a string: ${literal.replace(/\s+/g, ' ').slice(0, 60)}`);
    if (ts.isPropertyAccessExpression(n)) {
      const name = n.name.text;
      if (DB_CALLS.has(name) && ts.isCallExpression(n.parent) && n.parent.expression === n)
        out.push(`${at(n)} calls .${name}(): ${n.getText(sf).slice(0, 60)}`);
      if (name === 'db' && !(ts.isIdentifier(n.expression) && DB_PATH_OWNERS.has(n.expression.text)))
        out.push(`${at(n)} touches a raw handle: ${n.getText(sf).slice(0, 60)}`);
    }
    // const { db } = store
    if (ts.isBindingElement(n) && (n.propertyName ?? n.name).getText(sf) === 'db')
      out.push(`${at(n)} takes a raw handle apart: ${n.parent.parent.getText(sf).slice(0, 60)}`);
    ts.forEachChild(n, visit);
  };
  visit(sf);
  return out;
}

describe('SQL stays in src/store/', () => {
  const above = files(SRC)
    .map((f) => relative(SRC, f))
    .filter((f) => !f.startsWith('store/'));

  it.each(above)('%s holds no SQL and no raw database handle', (file) => {
    const allowed = allowedLeaks.filter((a) => a.file === file);
    const leaks = storeLeaks(file, readFileSync(join(SRC, file), 'utf8'));
    for (const a of allowed) {
      expect(
        leaks.some((l) => l.includes(a.text)),
        `${file}: the allowed leak "${a.text}" is gone: drop its entry`,
      ).toBe(true);
    }
    expect(
      leaks.filter((l) => !allowed.some((a) => l.includes(a.text))),
      'use (or add) a repository method in src/store/',
    ).toEqual([]);
  });

  it('every allowed leak names a file above src/store/', () => {
    for (const a of allowedLeaks) expect(above).toContain(a.file);
  });

  it.each([
    ['SQL in a template', `const q = \`SELECT id FROM users WHERE x = \${y}\`;`],
    ['SQL in a string', "run('INSERT INTO campaigns (id) VALUES (?)');"],
    ['a prepared statement', 'store.db.prepare(sql).all();'],
    ["the store's statement cache", 'ctx.store.stmt(sql).get();'],
    ['a raw handle passed on', 'new LeaderLeases(store.db);'],
    ['a raw handle taken apart', 'const { db } = store;'],
  ])('catches %s', (_what, code) => {
    expect(storeLeaks('planted.ts', code)).not.toEqual([]);
  });

  it.each([
    ['prose naming an HTTP verb', "// one closed by DELETE on any replica\nconst m = 'DELETE';"],
    ['the configured store path', 'openStore(config.db, opts.db);'],
    ['a repository call', 'store.campaigns.scopedAssignments({ app });'],
  ])('lets %s pass', (_what, code) => {
    expect(storeLeaks('fine.ts', code)).toEqual([]);
  });
});
