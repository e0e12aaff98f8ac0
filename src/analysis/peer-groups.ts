/**
 * Peer-group analysis: does anyone like this user hold this entitlement?
 *
 * The store counts, per cohort the user belongs to, how many other members there are and how
 * many of them hold the entitlement. This module only judges those numbers.
 *
 * Strong cohorts (department, title, manager) describe the job; weak ones (location, extra
 * attributes) mix jobs. A peer outlier needs enough strong peers, and (almost) none of them may
 * hold the access; weak cohorts neither create outlier status nor block it, unless a clear majority
 * of one holds the access.
 */

import { wilsonLower } from './stats.js';
import type { AnalysisThresholds } from './thresholds.js';

/** Counts for one cohort the user belongs to. */
export interface PeerCohortStat {
  /** 'department' | 'title' | 'manager' | 'location' | 'attr:<name>' */
  kind: string;
  value: string;
  /** Cohort size excluding the user. */
  peers: number;
  /** Peers (excluding the user) holding the entitlement. */
  holders: number;
}

/** The verdict on one user's entitlement against the user's peers. */
export interface PeerAssessment {
  outlier: boolean;
  /** 0..1: the best small-sample-corrected (Wilson lower bound) prevalence among usable cohorts. */
  support: number;
  /** The cohort the verdict rests on (the largest clean cohort for an outlier, else the best support). */
  strongest: PeerCohortStat | null;
  /** e.g. "2 of 41 peers in department Finance hold it" */
  detail: string;
  /** True when there are too few peers of a strong kind to judge either way. */
  sparse?: boolean;
}

const strongKinds = ['department', 'title', 'manager'] as const;

/** Department, title and manager describe the job; anything else is a weak kind. */
export function isStrongKind(kind: string): boolean {
  return (strongKinds as readonly string[]).includes(kind);
}

/**
 * The people who report to the user: their holding an entitlement is no evidence that the user
 * is an outlier, but when they hold it, the user (their manager) is not one.
 */
export const REPORTS_KIND = 'reports';

function kindRank(kind: string): number {
  const i = (strongKinds as readonly string[]).indexOf(kind);
  if (i >= 0) return i;
  return kind === 'location' ? 3 : 4;
}

/** How a cohort reads in a sentence: "in department Finance", "with title Analyst". */
export function describeCohort(stat: Pick<PeerCohortStat, 'kind' | 'value'>): string {
  switch (stat.kind) {
    case 'department':
      return `in department ${stat.value}`;
    case 'title':
      return `with title ${stat.value}`;
    case 'manager':
      return `sharing manager ${stat.value}`;
    case 'location':
      return `in location ${stat.value}`;
    case REPORTS_KIND:
      return 'reporting to the user';
    default:
      return stat.kind.startsWith('attr:')
        ? `with ${stat.kind.slice(5)} ${stat.value}`
        : `with ${stat.kind} ${stat.value}`;
  }
}

function count(stat: PeerCohortStat): string {
  return `${stat.holders} of ${stat.peers}`;
}

function sanitise(stat: PeerCohortStat): PeerCohortStat | null {
  const peers = Math.floor(Number(stat.peers));
  if (!Number.isFinite(peers) || peers <= 0) return null;
  const raw = Math.floor(Number(stat.holders));
  const holders = Number.isFinite(raw) ? Math.min(Math.max(raw, 0), peers) : 0;
  return { kind: stat.kind, value: stat.value, peers, holders };
}

/** Stable order for ties: strong kinds first, then larger cohorts, then by name. */
function tieBreak(a: PeerCohortStat, b: PeerCohortStat): number {
  return (
    kindRank(a.kind) - kindRank(b.kind) ||
    b.peers - a.peers ||
    (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0) ||
    (a.value < b.value ? -1 : a.value > b.value ? 1 : 0)
  );
}

/** Judges whether the user is a peer outlier for one entitlement. */
export function assessPeers(stats: PeerCohortStat[], t: AnalysisThresholds): PeerAssessment {
  const cohorts = stats.map(sanitise).filter((s): s is PeerCohortStat => s !== null);
  if (cohorts.length === 0) {
    return { outlier: false, support: 0, strongest: null, detail: 'no peers to compare with', sparse: true };
  }
  const lower = (s: PeerCohortStat): number => wilsonLower(s.holders, s.peers, t.wilsonZ);
  const strong = cohorts.filter((s) => isStrongKind(s.kind));
  const reports = cohorts.filter((s) => s.kind === REPORTS_KIND);
  const usableWeak = cohorts.filter(
    (s) => !isStrongKind(s.kind) && s.kind !== REPORTS_KIND && s.peers >= t.peerMinWeakCohort,
  );
  const usable = [...strong, ...usableWeak];

  // Support: the best corrected prevalence among cohorts that mean something.
  let best: PeerCohortStat | null = null;
  let support = 0;
  for (const s of [...usable].sort(tieBreak)) {
    const l = lower(s);
    if (best === null || l > support) {
      best = s;
      support = l;
    }
  }

  // Outlier: enough strong peers, none of the strong cohorts holds it beyond the tolerated share,
  // and no weak cohort is held by a clear majority.
  const evidence = strong.filter((s) => s.peers >= t.peerMinStrongCohort).sort(tieBreak);
  const strongBlock = [...strong, ...reports].some((s) => s.holders / s.peers > t.peerOutlierMaxPrevalence);
  const weakBlock = usableWeak.some((s) => lower(s) >= t.peerWeakBlockPrevalence);
  const sparse = evidence.length === 0;
  const outlier = !sparse && !strongBlock && !weakBlock;

  if (outlier) {
    const main = [...evidence].sort((a, b) => b.peers - a.peers || tieBreak(a, b))[0]!;
    const others = [...strong].sort(tieBreak).filter((s) => s !== main);
    const parts = [main, ...others].map((s, i) =>
      i === 0 ? `${count(s)} peers ${describeCohort(s)}` : `${count(s)} ${describeCohort(s)}`,
    );
    const list = parts.length === 1 ? parts[0]! : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)!}`;
    return { outlier, support, strongest: main, detail: `${list} hold it`, sparse };
  }

  const anyHolders = usable.some((s) => s.holders > 0);
  const strongest: PeerCohortStat =
    anyHolders && best !== null
      ? best
      : ([...(strong.length > 0 ? strong : cohorts)].sort((a, b) => b.peers - a.peers || tieBreak(a, b))[0] ??
        cohorts[0]!);
  let detail = `${count(strongest)} peers ${describeCohort(strongest)} hold it`;
  if (sparse && !anyHolders) detail += '; too few peers to judge';
  return { outlier, support, strongest, detail, sparse };
}
