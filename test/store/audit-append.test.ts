import { describe, expect, it } from 'vitest';
import { type AuditEntry, AuditLog, canonicalJson, entryHash } from '../../src/store/audit.js';
import { Store } from '../../src/store/store.js';
import { auditEntry } from '../helpers/audit.js';

const entry = (over: Partial<AuditEntry> = {}): AuditEntry => auditEntry({ duration_ms: 1.5, ...over });

describe('audit append', () => {
  it.each([
    ['plain values', { b: 1, a: ['x', true, null, 2.5], c: { z: 'é', y: -0 } }],
    [
      'a Date, NaN, Infinity and undefined',
      { d: new Date(0), n: Number.NaN, i: Infinity, u: undefined, arr: [undefined, 1] },
    ],
    ['lone surrogates in values and keys', { s: 'a\ud800b', 'k\udc00': ['\udfff'] }],
    ['an own __proto__ key and integer-like keys', JSON.parse('{"__proto__":{"x":1},"10":1,"9":2,"a":3}')],
    ['a non-object', 'just text'],
  ])('stores %s as canonical JSON, hashed as stored, and verifies', (_name, args) => {
    const store = Store.open(':memory:');
    const log = new AuditLog(store.db);
    const seq = log.append(entry({ arguments: args, details: { nested: args } }));
    const row = store.db
      .prepare('SELECT arguments, details, prev_hash, hash FROM audit_log WHERE seq = ?')
      .get(seq) as {
      arguments: string;
      details: string;
      prev_hash: string;
      hash: string;
    };
    // The stored text is the canonical JSON of what reads back, so hashing the text is hashing the entry.
    expect(row.arguments).toBe(canonicalJson(JSON.parse(row.arguments)));
    expect(row.details).toBe(canonicalJson(JSON.parse(row.details)));
    const back = log.entry(seq)!;
    expect(entryHash(seq, row.prev_hash, back)).toBe(row.hash);
    expect(log.verify()).toMatchObject({ ok: true, entries: 1 });
    store.close();
  });

  it('chains after entries another connection appended since its cached tail, without forking', () => {
    const store = Store.open(':memory:');
    const a = new AuditLog(store.db);
    a.append(entry());
    // A second AuditLog on another connection is simulated by appending rows behind the cache's back.
    const stale = new AuditLog(store.db);
    const head = a.head()!;
    store.db
      .prepare(
        `INSERT INTO audit_log (seq, at, principal, tool, kind, arguments, outcome, duration_ms, prev_hash, hash)
         VALUES (?, ?, 'other', 't', 'read', '{}', 'ok', 0, ?, ?)`,
      )
      .run(head.seq + 1, '2026-11-28T10:00:01.000Z', head.hash, 'f'.repeat(64));
    const seq = stale.append(entry());
    expect(seq).toBe(head.seq + 2);
    expect(store.db.prepare('SELECT prev_hash FROM audit_log WHERE seq = ?').pluck().get(seq)).toBe(
      'f'.repeat(64),
    );
    store.close();
  });
});
