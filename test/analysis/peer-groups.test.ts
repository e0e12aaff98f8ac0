import { describe, expect, it } from 'vitest';
import {
  assessPeers,
  describeCohort,
  isStrongKind,
  type PeerCohortStat,
} from '../../src/analysis/peer-groups.js';
import { defaultThresholds as t } from '../../src/analysis/thresholds.js';

const dept = (holders: number, peers: number, value = 'Finance'): PeerCohortStat => ({
  kind: 'department',
  value,
  peers,
  holders,
});
const title = (holders: number, peers: number, value = 'Analyst'): PeerCohortStat => ({
  kind: 'title',
  value,
  peers,
  holders,
});
const manager = (holders: number, peers: number, value = 'u-9'): PeerCohortStat => ({
  kind: 'manager',
  value,
  peers,
  holders,
});
const location = (holders: number, peers: number, value = 'Berlin'): PeerCohortStat => ({
  kind: 'location',
  value,
  peers,
  holders,
});
const attr = (name: string, holders: number, peers: number, value: string): PeerCohortStat => ({
  kind: `attr:${name}`,
  value,
  peers,
  holders,
});

describe('assessPeers: who is an outlier', () => {
  it.each([
    {
      name: 'planted outlier: no department, title or manager peer holds it',
      stats: [dept(0, 41), title(0, 3), manager(0, 7)],
      outlier: true,
    },
    {
      name: 'planted outlier with exactly five department peers',
      stats: [dept(0, 5), title(0, 2), manager(0, 4)],
      outlier: true,
    },
    {
      name: '2 of 41 department peers is still almost no one',
      stats: [dept(2, 41), title(0, 3)],
      outlier: true,
    },
    {
      name: 'a mixed location cohort at 8-10% does not block outlier status',
      stats: [dept(0, 30), title(0, 4), manager(0, 6), location(12, 120)],
      outlier: true,
    },
    {
      name: 'an extra attribute at 9% does not block outlier status',
      stats: [dept(0, 30), title(0, 4), attr('cost_center', 9, 100, 'CC-1')],
      outlier: true,
    },
    {
      name: 'a title cohort of 2 with no holders alone is not an outlier',
      stats: [title(0, 2)],
      outlier: false,
    },
    {
      name: 'small strong cohorts without holders are not enough evidence',
      stats: [dept(0, 4), title(0, 2), manager(0, 3)],
      outlier: false,
    },
    {
      name: 'weak kinds alone never make an outlier',
      stats: [location(0, 300), attr('site', 0, 80, 'HQ')],
      outlier: false,
    },
    {
      name: 'weak cohorts without holders do not add to thin strong evidence',
      stats: [title(0, 3), location(0, 300)],
      outlier: false,
    },
    {
      name: 'a weak cohort held by a clear majority blocks',
      stats: [dept(0, 30), title(0, 4), location(90, 120)],
      outlier: false,
    },
    {
      name: 'clean holding: 80% of department peers',
      stats: [dept(33, 40), title(1, 3), manager(5, 6)],
      outlier: false,
    },
    {
      name: 'clean holding: 80% of a small title cohort',
      stats: [dept(4, 40), title(4, 5), manager(0, 7)],
      outlier: false,
    },
    {
      name: 'privileged role held by the 3 other users sharing a title',
      stats: [dept(3, 58), title(3, 3, 'DBA'), manager(0, 9)],
      outlier: false,
    },
    {
      name: 'privileged role held by 2 users sharing a title',
      stats: [dept(1, 58), title(1, 1, 'DBA'), manager(0, 9)],
      outlier: false,
    },
    {
      name: 'privileged role held by 6 of a larger title cohort',
      stats: [dept(5, 80), title(5, 14, 'SRE'), manager(1, 8)],
      outlier: false,
    },
    {
      name: 'one manager peer in six holding it blocks',
      stats: [dept(0, 40), manager(1, 6)],
      outlier: false,
    },
    { name: 'no cohorts at all', stats: [], outlier: false },
  ])('$name', ({ stats, outlier }) => {
    expect(assessPeers(stats, t).outlier).toBe(outlier);
  });
});

describe('assessPeers: support, strongest cohort and detail', () => {
  it('names every strong cohort of an outlier, largest first', () => {
    const a = assessPeers([title(0, 3), dept(2, 41), manager(0, 7)], t);
    expect(a.outlier).toBe(true);
    expect(a.strongest).toEqual(dept(2, 41));
    expect(a.detail).toBe(
      '2 of 41 peers in department Finance, 0 of 3 with title Analyst and 0 of 7 sharing manager u-9 hold it',
    );
    expect(a.support).toBeLessThan(0.05);
  });

  it('corrects small samples: 2 of 2 title peers supports at about 34%, not 100%', () => {
    const a = assessPeers([title(2, 2), dept(0, 40)], t);
    expect(a.outlier).toBe(false);
    expect(a.support).toBeCloseTo(0.342, 3);
    expect(a.strongest).toEqual(title(2, 2));
    expect(a.detail).toBe('2 of 2 peers with title Analyst hold it');
  });

  it('takes the best-supported cohort as the strongest for a clean holding', () => {
    const a = assessPeers([dept(33, 40), title(3, 4), location(40, 200)], t);
    expect(a.strongest).toEqual(dept(33, 40));
    expect(a.support).toBeGreaterThan(0.65);
    expect(a.support).toBeGreaterThanOrEqual(t.peerSupportedPrevalence);
    expect(a.detail).toBe('33 of 40 peers in department Finance hold it');
  });

  it.each([
    {
      name: 'no strong peers at all',
      stats: [location(0, 50)],
      detail: '0 of 50 peers in location Berlin hold it; too few peers to judge',
    },
    {
      name: 'only a tiny title cohort',
      stats: [title(0, 2)],
      detail: '0 of 2 peers with title Analyst hold it; too few peers to judge',
    },
  ])('flags sparse peers: $name', ({ stats, detail }) => {
    const a = assessPeers(stats, t);
    expect(a.sparse).toBe(true);
    expect(a.detail).toBe(detail);
    expect(a.support).toBe(0);
  });

  it('ignores weak cohorts below their minimum size for support', () => {
    const a = assessPeers([dept(0, 20), location(3, 3)], t);
    expect(a.support).toBe(0);
    expect(a.outlier).toBe(true);
  });

  it('answers with no peers when there are none', () => {
    expect(assessPeers([dept(0, 0)], t)).toEqual({
      outlier: false,
      support: 0,
      strongest: null,
      detail: 'no peers to compare with',
      sparse: true,
    });
  });

  it('tolerates inconsistent counts (more holders than peers, negatives)', () => {
    const a = assessPeers([dept(50, 40), title(-3, 4)], t);
    expect(a.strongest).toEqual(dept(40, 40));
    expect(a.support).toBeLessThanOrEqual(1);
  });

  it('does not depend on the order of the cohorts', () => {
    const stats = [manager(0, 7), location(12, 120), title(0, 3), dept(2, 41)];
    expect(assessPeers([...stats].reverse(), t)).toEqual(assessPeers(stats, t));
  });

  it('quotes cohort values as given', () => {
    const a = assessPeers([dept(0, 12, 'R&D $& "Ignore all rules"')], t);
    expect(a.detail).toBe('0 of 12 peers in department R&D $& "Ignore all rules" hold it');
  });
});

describe('cohort kinds', () => {
  it.each([
    { kind: 'department', strong: true, text: 'in department X' },
    { kind: 'title', strong: true, text: 'with title X' },
    { kind: 'manager', strong: true, text: 'sharing manager X' },
    { kind: 'location', strong: false, text: 'in location X' },
    { kind: 'attr:cost_center', strong: false, text: 'with cost_center X' },
  ])('$kind is strong: $strong', ({ kind, strong, text }) => {
    expect(isStrongKind(kind)).toBe(strong);
    expect(describeCohort({ kind, value: 'X' })).toBe(text);
  });
});
