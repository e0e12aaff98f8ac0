import { describe, expect, it } from 'vitest';
import { findRedundant, type HeldEntitlement } from '../../src/analysis/redundancy.js';

const held = (
  entitlement_id: string,
  app: string | null,
  privileged = false,
  sensitivity: HeldEntitlement['sensitivity'] = 'medium',
): HeldEntitlement => ({ entitlement_id, app, privileged, sensitivity });

describe('findRedundant', () => {
  it.each([
    {
      name: 'keeps the privileged entitlement over a more sensitive ordinary one',
      input: [held('e1', 'Ledger', false, 'critical'), held('e2', 'Ledger', true, 'low')],
      expected: { e1: 'e2' },
    },
    {
      name: 'keeps the most sensitive when none is privileged',
      input: [
        held('a', 'Ledger', false, 'low'),
        held('b', 'Ledger', false, 'high'),
        held('c', 'Ledger', false, 'medium'),
      ],
      expected: { a: 'b', c: 'b' },
    },
    {
      name: 'breaks ties by entitlement id ascending',
      input: [held('z', 'Ledger'), held('m', 'Ledger'), held('b', 'Ledger')],
      expected: { m: 'b', z: 'b' },
    },
    {
      name: 'ranks critical above high above medium above low',
      input: [held('l', 'A', false, 'low'), held('c', 'A', false, 'critical'), held('h', 'A', false, 'high')],
      expected: { l: 'c', h: 'c' },
    },
    {
      name: 'one entitlement per app is never redundant',
      input: [held('a', 'A'), held('b', 'B')],
      expected: {},
    },
    {
      name: 'entitlements without an app are never redundant',
      input: [held('g1', null), held('g2', null), held('g3', null, true, 'critical')],
      expected: {},
    },
    {
      name: 'apps are judged separately',
      input: [
        held('a1', 'A'),
        held('a2', 'A', true),
        held('b1', 'B'),
        held('b2', 'B', false, 'high'),
        held('n', null),
      ],
      expected: { a1: 'a2', b1: 'b2' },
    },
    {
      name: 'the same entitlement listed twice is not redundant with itself',
      input: [held('a', 'A'), held('a', 'A')],
      expected: {},
    },
    { name: 'nothing held', input: [], expected: {} },
  ])('$name', ({ input, expected }) => {
    const result = findRedundant(input);
    expect(Object.fromEntries([...result].map(([id, f]) => [id, f.kept]))).toEqual(expected);
  });

  it('describes the finding with counts', () => {
    const result = findRedundant([
      held('ent-5', 'LedgerOne'),
      held('ent-2', 'LedgerOne', false, 'high'),
      held('ent-3', 'LedgerOne'),
      held('ent-1', 'LedgerOne', true, 'high'),
      held('ent-4', 'LedgerOne', false, 'low'),
    ]);
    expect(result.size).toBe(4);
    expect(result.has('ent-1')).toBe(false);
    expect(result.get('ent-4')).toEqual({
      kept: 'ent-1',
      detail: 'member of 5 entitlements onto LedgerOne with similar or narrower access: keep ent-1, revoke 4',
    });
  });

  it('does not depend on input order', () => {
    const input = [held('x', 'A', false, 'high'), held('y', 'A', true), held('z', 'A')];
    expect([...findRedundant([...input].reverse())].sort()).toEqual([...findRedundant(input)].sort());
  });
});
