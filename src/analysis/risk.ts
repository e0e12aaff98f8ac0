import type {
  Entitlement,
  HrChange,
  RiskLevel,
  Signal,
  SignalCode,
  SodConflict,
  User,
} from '../domain/index.js';

/** What the rule-based signals need to know about one review item. */
export interface ItemContext {
  user: Pick<User, 'status' | 'employee_type' | 'terminated_at' | 'contract_end'>;
  entitlement: Pick<Entitlement, 'id' | 'name' | 'app' | 'privileged' | 'sensitivity'>;
  grantedAt: string | null;
  /** Last successful use of the entitlement's app, null if never. */
  lastUsed: string | null;
  /** When the activity log starts (its first event), null when there is no activity at all. */
  activityStart?: string | null;
  /** The reviewer is the user (`self`) or reviews someone above them in their manager chain (`chain`). */
  selfReview?: 'self' | 'chain' | null;
  hrChanges: HrChange[];
  /** SoD conflicts of the user that involve this entitlement. */
  sodConflicts: SodConflict[];
  asOf: Date;
}

export interface RuleThresholds {
  /** Days without use of the app after which access is dormant. */
  dormantDays: number;
}

const DAY = 86_400_000;

function daysBetween(fromIso: string, to: Date): number {
  return Math.floor((to.getTime() - Date.parse(fromIso)) / DAY);
}

/** HR fields whose change makes the user a mover. */
const MOVER_FIELDS = new Set(['department', 'title', 'job_title', 'jobtitle', 'job title', 'division']);

function day(iso: string): string {
  return iso.slice(0, 10);
}

/**
 * The rule-based signals of an item: dormant, never_used, mover, privileged, sod_conflict,
 * orphaned, contractor_expired, use_after_end and self_review.
 */
export function ruleSignals(c: ItemContext, t: RuleThresholds): Signal[] {
  const out: Signal[] = [];
  const asOfMs = c.asOf.getTime();
  const { user, entitlement: e } = c;

  const terminated = c.user.terminated_at !== null && Date.parse(c.user.terminated_at) <= asOfMs;
  if (user.status === 'deprovisioned' || terminated) {
    const why =
      user.status === 'deprovisioned'
        ? 'the account is deprovisioned'
        : `the user was terminated on ${c.user.terminated_at!.slice(0, 10)}`;
    out.push({ code: 'orphaned', detail: `Still assigned although ${why}.` });
  }
  if (
    user.employee_type === 'contractor' &&
    user.contract_end !== null &&
    Date.parse(user.contract_end) < asOfMs
  ) {
    out.push({
      code: 'contractor_expired',
      detail: `Contractor whose contract ended on ${user.contract_end.slice(0, 10)} (${daysBetween(user.contract_end, c.asOf)} days ago).`,
    });
  }
  const endIso =
    user.employee_type === 'contractor' &&
    user.contract_end !== null &&
    Date.parse(user.contract_end) < asOfMs
      ? { at: user.contract_end, what: 'the contract ended' }
      : terminated
        ? { at: c.user.terminated_at!, what: 'the user was terminated' }
        : null;
  if (
    e.app !== null &&
    endIso !== null &&
    c.lastUsed !== null &&
    Date.parse(c.lastUsed) > Date.parse(endIso.at)
  ) {
    out.push({
      code: 'use_after_end',
      detail:
        `Signed in to ${e.app} on ${day(c.lastUsed)}, ${daysBetween(endIso.at, new Date(Date.parse(c.lastUsed)))} days after ` +
        `${endIso.what} (${day(endIso.at)}): treat it as a possible security incident, not only a revoke.`,
    });
  }
  if (e.app !== null) {
    if (c.lastUsed !== null) {
      const idle = daysBetween(c.lastUsed, c.asOf);
      if (idle > t.dormantDays) {
        out.push({
          code: 'dormant',
          detail: `No use of ${e.app} for ${idle} days (last on ${day(c.lastUsed)}; threshold ${t.dormantDays}).`,
        });
      }
    } else if (c.activityStart !== undefined && c.activityStart !== null) {
      // What the log can tell: no use since the later of the grant and the log's first event.
      const logDays = daysBetween(c.activityStart, c.asOf);
      const held = c.grantedAt === null ? null : daysBetween(c.grantedAt, c.asOf);
      const observed = held === null ? logDays : Math.min(held, logDays);
      if (observed > t.dormantDays) {
        out.push({
          code: 'never_used',
          detail:
            held !== null && held <= logDays
              ? `No recorded use of ${e.app} in the ${held} days since the grant (${day(c.grantedAt!)}).`
              : `No recorded use of ${e.app} since the activity log starts, ${logDays} days ago (${day(c.activityStart)}); ` +
                (held === null
                  ? 'the grant date is unknown, so earlier use cannot be ruled out.'
                  : `the grant (${day(c.grantedAt!)}) is older than the log, so earlier use cannot be ruled out.`),
        });
      }
    }
  }
  const grantMs = c.grantedAt === null ? null : Date.parse(c.grantedAt);
  const move = c.hrChanges.find(
    (h) =>
      MOVER_FIELDS.has(h.field.toLowerCase()) &&
      (grantMs === null || Date.parse(h.at) > grantMs) &&
      Date.parse(h.at) <= asOfMs,
  );
  if (move) {
    out.push({
      code: 'mover',
      detail: `${move.field} changed from ${move.from ?? '(none)'} to ${move.to ?? '(none)'} on ${move.at.slice(0, 10)}, after this access was granted${c.grantedAt ? ` (${c.grantedAt.slice(0, 10)})` : ''}.`,
    });
  }
  if (e.privileged) out.push({ code: 'privileged', detail: 'Privileged entitlement.' });
  if (c.selfReview === 'self' || c.selfReview === 'chain') {
    out.push({
      code: 'self_review',
      detail:
        c.selfReview === 'self'
          ? 'The reviewer is the user: nobody may certify their own access; reassign the item.'
          : "The reviewer reports (directly or further down) to this user: a reviewer may not certify a manager's access; reassign the item.",
    });
  }
  if (c.sodConflicts.length > 0) {
    out.push({
      code: 'sod_conflict',
      detail: c.sodConflicts.map((s) => `Violates SoD rule ${s.rule_id} (${s.severity}).`).join(' '),
    });
  }
  return out;
}

/** How much each signal adds to the risk score before sensitivity scaling. */
export const signalWeights: Record<SignalCode, number> = {
  orphaned: 60,
  contractor_expired: 55,
  sod_conflict: 45,
  dormant: 30,
  never_used: 25,
  mover: 25,
  peer_outlier: 20,
  privileged: 15,
  redundant: 10,
  use_after_end: 70,
  self_review: 20,
};

const sensitivityBase = { low: 2, medium: 8, high: 16, critical: 24 } as const;
const sensitivityFactor = { low: 0.7, medium: 0.85, high: 1, critical: 1.15 } as const;

/** Combines signals with the entitlement's sensitivity into a 0-100 score and a level. */
export function riskScore(
  signals: Signal[],
  sensitivity: keyof typeof sensitivityBase,
  privileged: boolean,
): { score: number; level: RiskLevel } {
  let sum = 0;
  for (const s of signals) sum += signalWeights[s.code] ?? 0;
  // Diminishing returns: several signals push towards 100 without overflowing.
  const scaled = 100 * (1 - Math.exp(-(sum * sensitivityFactor[sensitivity]) / 60));
  const base = sensitivityBase[sensitivity] + (privileged ? 6 : 0);
  const score = Math.max(0, Math.min(100, Math.round(base + scaled * (1 - base / 100))));
  const level: RiskLevel = score >= 75 ? 'critical' : score >= 50 ? 'high' : score >= 25 ? 'medium' : 'low';
  return { score, level };
}
