import { describe, expect, it } from 'vitest';
import { type GroupMembers, holdersOf, parentsOf } from '../../src/connectors/nesting.js';

const m = (users: string[], groups: string[] = []): GroupMembers => ({
  users: new Set(users),
  groups: new Set(groups),
});

describe('group nesting', () => {
  // C is in B, B is in A; D is in A too; E and F contain each other.
  const members = new Map<string, GroupMembers>([
    ['A', m(['u1'], ['B', 'D'])],
    ['B', m(['u2'], ['C'])],
    ['C', m(['u3', 'u2'])],
    ['D', m(['u3'])],
    ['E', m(['u5'], ['F'])],
    ['F', m(['u6'], ['E'])],
  ]);

  it('finds the groups each group is nested in (what holding it grants)', () => {
    const p = parentsOf(members);
    expect([...(p.get('B') ?? [])]).toEqual(['A']);
    expect([...(p.get('C') ?? [])]).toEqual(['B']);
    expect(p.get('A')).toBeUndefined();
  });

  it('holds a group through the nested group directly inside it, however deep, and directly wins', () => {
    const h = holdersOf(members);
    expect(Object.fromEntries(h.get('A')!)).toEqual({ u1: null, u2: 'B', u3: 'B' });
    expect(Object.fromEntries(h.get('B')!)).toEqual({ u2: null, u3: 'C' });
    expect(Object.fromEntries(h.get('D')!)).toEqual({ u3: null });
  });

  it('ends the walk at a cycle', () => {
    const h = holdersOf(members);
    expect(Object.fromEntries(h.get('E')!)).toEqual({ u5: null, u6: 'F' });
    expect(Object.fromEntries(h.get('F')!)).toEqual({ u6: null, u5: 'E' });
  });
});
