import { describe, expect, it } from 'vitest';
import { findRedundant, type HeldGrant, IncludesGraph } from '../../src/analysis/redundancy.js';

const direct = (entitlement_id: string): HeldGrant => ({ entitlement_id, source: 'direct', via: null });
const via = (entitlement_id: string, from: string | null, source = 'group'): HeldGrant => ({
  entitlement_id,
  source,
  via: from,
});
const graph = (edges: object) =>
  new IncludesGraph(new Map(Object.entries(edges as Record<string, string[]>)));
const kept = (r: ReturnType<typeof findRedundant>) =>
  Object.fromEntries([...r].map(([id, f]) => [id, `${f.kept}:${f.kind}`]));

describe('findRedundant', () => {
  it.each([
    {
      name: 'two entitlements naming the same app are not redundant without includes',
      held: [direct('app-ehr'), direct('role-ehr-nurse'), direct('perm-ehr-dispense')],
      edges: {},
      expected: {},
    },
    {
      name: 'a direct grant of what a held group includes is redundant, kept by the group',
      held: [direct('grp-clinical'), direct('app-ehr')],
      edges: { 'grp-clinical': ['app-ehr'] },
      expected: { 'app-ehr': 'grp-clinical:included' },
    },
    {
      name: 'the inherited assignment of what a group includes is not redundant: it is how the group works',
      held: [direct('grp-clinical'), via('app-ehr', 'grp-clinical')],
      edges: { 'grp-clinical': ['app-ehr'] },
      expected: {},
    },
    {
      name: 'includes are followed through nested groups',
      held: [direct('grp-all'), direct('perm-read')],
      edges: { 'grp-all': ['grp-mid'], 'grp-mid': ['app-x'], 'app-x': ['perm-read'] },
      expected: { 'perm-read': 'grp-all:included' },
    },
    {
      name: 'a group whose includes are all granted by another held group is redundant',
      held: [direct('grp-viewers'), direct('grp-leads')],
      edges: { 'grp-viewers': ['perm-read'], 'grp-leads': ['perm-read', 'perm-write'] },
      expected: { 'grp-viewers': 'grp-leads:covered' },
    },
    {
      name: 'a group granting something the other does not is kept',
      held: [direct('grp-viewers'), direct('grp-leads')],
      edges: { 'grp-viewers': ['perm-read', 'perm-export'], 'grp-leads': ['perm-read', 'perm-write'] },
      expected: {},
    },
    {
      name: 'two groups granting each other are one access: only the second by id is redundant',
      held: [direct('grp-a'), direct('grp-b')],
      edges: { 'grp-a': ['grp-b'], 'grp-b': ['grp-a'] },
      expected: { 'grp-b': 'grp-a:included' },
    },
    {
      name: 'a cycle does not loop forever and names a keeper that is not redundant itself',
      held: [direct('grp-a'), direct('grp-b'), direct('grp-c')],
      edges: { 'grp-a': ['grp-b'], 'grp-b': ['grp-c'], 'grp-c': ['grp-a'] },
      expected: { 'grp-b': 'grp-a:included', 'grp-c': 'grp-a:included' },
    },
    {
      name: 'a keeper that reaches the user only through the redundant entitlement is no keeper',
      held: [direct('grp-a'), via('grp-b', 'grp-a')],
      edges: { 'grp-a': ['grp-b'], 'grp-b': ['grp-a'] },
      expected: {},
    },
    {
      name: 'of several keepers, the one that is not itself redundant is named',
      held: [direct('grp-top'), direct('grp-mid'), direct('app-x')],
      edges: { 'grp-top': ['grp-mid'], 'grp-mid': ['app-x'] },
      expected: { 'grp-mid': 'grp-top:included', 'app-x': 'grp-top:included' },
    },
    { name: 'nothing held', held: [], edges: { a: ['b'] }, expected: {} },
  ])('$name', ({ held, edges, expected }) => {
    expect(kept(findRedundant(held, graph(edges)))).toEqual(expected);
  });

  it('does not depend on input order', () => {
    const held = [direct('grp-top'), direct('grp-mid'), direct('app-x'), via('perm', 'grp-mid')];
    const g = graph({ 'grp-top': ['grp-mid'], 'grp-mid': ['app-x', 'perm'] });
    expect(kept(findRedundant([...held].reverse(), g))).toEqual(kept(findRedundant(held, g)));
  });
});

describe('findRedundant with entitlement types and apps', () => {
  const kinds = new Map(
    Object.entries({
      'bg-hr': { type: 'group', app: null },
      'app-people': { type: 'app', app: 'PeopleHub' },
      'perm-records': { type: 'role', app: 'PeopleHub' },
      'role-generalist': { type: 'role', app: 'PeopleHub' },
      'role-clerk': { type: 'role', app: 'EHR' },
      'app-ehr': { type: 'app', app: 'EHR' },
      'perm-view': { type: 'role', app: 'PACS' },
      'perm-report': { type: 'role', app: 'PACS' },
      'grp-viewers': { type: 'group', app: 'PACS' },
      'grp-leads': { type: 'group', app: 'PACS' },
      'bg-clinical': { type: 'group', app: null },
    }),
  );
  const typed = (edges: object) =>
    new IncludesGraph(new Map(Object.entries(edges as Record<string, string[]>)), kinds);
  it.each([
    {
      name: "a department's birthright group is not covered by a role in the app it includes",
      held: [via('bg-hr', null, 'rule'), direct('role-generalist'), via('app-people', 'bg-hr')],
      edges: { 'bg-hr': ['app-people'], 'role-generalist': ['app-people', 'perm-records'] },
      expected: {},
    },
    {
      name: "a role whose includes are only the app's access is not covered by a group granting the app",
      held: [direct('bg-clinical'), direct('role-clerk'), via('app-ehr', 'bg-clinical')],
      edges: { 'bg-clinical': ['app-ehr'], 'role-clerk': ['app-ehr'] },
      expected: {},
    },
    {
      name: 'a viewers group beside the leads group of the same app is covered',
      held: [direct('grp-viewers'), direct('grp-leads'), via('perm-view', 'grp-leads')],
      edges: { 'grp-viewers': ['perm-view'], 'grp-leads': ['perm-view', 'perm-report'] },
      expected: { 'grp-viewers': 'grp-leads:covered' },
    },
    {
      name: 'a direct grant that a group of another kind includes is still redundant',
      held: [direct('bg-clinical'), direct('app-ehr')],
      edges: { 'bg-clinical': ['app-ehr'] },
      expected: { 'app-ehr': 'bg-clinical:included' },
    },
  ])('$name', ({ held, edges, expected }) => {
    expect(kept(findRedundant(held, typed(edges)))).toEqual(expected);
  });
});
