import type { Entitlement, User } from '../domain/index.js';

const DAY = 86_400_000;

/**
 * How an app was used as of a moment, as far as the activity log can tell:
 * `recent` (used within the dormancy window), `dormant` (last use longer ago), `never` (no use
 * in a logged stretch longer than the window, since the grant or since the log starts) or
 * `unknown` (the log does not reach back far enough, or there is no log at all).
 */
export type UsageClass = 'recent' | 'dormant' | 'never' | 'unknown';

/** What the activity log covers: the time of its first event (null: no events at all). */
export interface ActivityCoverage {
  startMs: number | null;
  /**
   * The apps the log has any event of. An app nobody was ever seen using (a badge system, a
   * console whose sign-ins are not sent to the log) is not covered: its usage is `unknown`.
   * Undefined: every app counts as covered.
   */
  apps?: ReadonlySet<string>;
}

/** The coverage of one app: none when the log has no event of that app at all. */
export function appCoverage(coverage: ActivityCoverage, app: string | null): ActivityCoverage {
  if (app === null || coverage.apps === undefined || coverage.apps.has(app)) return coverage;
  return { startMs: null };
}

/**
 * The usage class at `atMs` of an app last used at `lastUseMs` (null: no use recorded before
 * `atMs`), granted at `grantMs` (null: unknown). The same function serves past decisions (as of
 * their date) and live items (as of the analysis date), so the feature means the same in both.
 */
export function usageAt(
  lastUseMs: number | null,
  atMs: number,
  grantMs: number | null,
  coverage: ActivityCoverage,
  dormantDays: number,
): UsageClass {
  if (lastUseMs !== null) return Math.floor((atMs - lastUseMs) / DAY) > dormantDays ? 'dormant' : 'recent';
  if (coverage.startMs === null || coverage.startMs > atMs) return 'unknown';
  const from = grantMs === null ? coverage.startMs : Math.max(grantMs, coverage.startMs);
  return Math.floor((atMs - from) / DAY) > dormantDays ? 'never' : 'unknown';
}

/**
 * The department an entitlement belongs to: its own `department` (or `owner_department`)
 * attribute when the data has one, else the department most of its holders work in.
 */
export function entitlementDepartment(
  ent: { attributes?: Record<string, string> },
  holdersMode: string | null,
): string | null {
  const a = ent.attributes ?? {};
  return a.department ?? a.owner_department ?? holdersMode;
}

/**
 * The categorical features the learned model sees for a (user, entitlement) pair: the user's
 * attributes, the entitlement, its app and sensitivity, the usage class, and whether the user
 * works in the entitlement's home department.
 */
export function decisionFeatures(
  user: Pick<
    User,
    'department' | 'title' | 'manager_id' | 'location' | 'employee_type' | 'status' | 'attributes'
  >,
  ent: Pick<Entitlement, 'id' | 'app' | 'sensitivity' | 'privileged' | 'type'> & {
    attributes?: Record<string, string>;
  },
  homeDepartment: string | null,
  /** Who decides: the past decision's reviewer, or the item's reviewer. */
  reviewer: string | null = null,
  /** The usage class as of the decision ({@link usageAt}); null when the entitlement has no app. */
  usage: UsageClass | null = null,
): Record<string, string | null> {
  const f: Record<string, string | null> = {
    department: user.department,
    title: user.title,
    manager: user.manager_id,
    location: user.location,
    employee_type: user.employee_type,
    entitlement: ent.id,
    app: ent.app,
    sensitivity: ent.sensitivity,
    privileged: ent.privileged ? 'yes' : 'no',
    reviewer,
    usage: ent.app === null ? null : usage,
    dept_match:
      homeDepartment === null || user.department === null
        ? null
        : user.department === homeDepartment
          ? 'yes'
          : 'no',
  };
  for (const [k, v] of Object.entries(user.attributes)) {
    if (!(k in f)) f[`attr:${k}`] = v;
  }
  for (const [k, v] of Object.entries(ent.attributes ?? {})) f[`ent:${k}`] = v;
  return f;
}
