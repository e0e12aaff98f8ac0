import { createHash } from 'node:crypto';
import { type MiningOptions, mineRoles, patternFor } from '../analysis/role-mining.js';
import type { Platform } from '../domain/index.js';
import { readRoleMatrix } from '../store/role-reads.js';
import type { Store } from '../store/store.js';

/** One mined role as reported (the contract's fields first). */
export interface ReportedRole {
  role_id: string;
  entitlement_ids: string[];
  user_ids: string[];
  /** The attribute values that predict membership, when some do. */
  pattern?: Record<string, string>;
  /** Share of all assignments this role covers. */
  coverage: number;
  covered_assignments: number;
  users: number;
  entitlements: Array<{ id: string; name: string; app: string | null }>;
  pattern_fit: { precision: number; recall: number } | null;
  /** People the pattern predicts who are not members, and members the pattern does not predict. */
  exceptions: { lacking: string[]; lacking_count: number; outside: string[]; outside_count: number };
  /** Role entitlements whose app almost none of the members use (when activity is known). */
  unused_entitlements: Array<{ id: string; used_by_share: number }>;
  source: 'set' | 'intersection' | 'cohort';
}

/** A change to an existing group or role that the data suggests. */
export interface RoleSuggestion {
  kind: 'add_to_group' | 'remove_from_group';
  group_id: string;
  group_name: string;
  entitlement_id: string;
  entitlement_name: string;
  /** add: share of the group's members holding it; remove: share of members using its app. */
  share: number;
  members: number;
  detail: string;
}

export interface RoleReport {
  roles: ReportedRole[];
  covered_assignments: number;
  total_assignments: number;
  leftover_assignments: number;
  /** covered / total. */
  coverage: number;
  distinct_entitlement_sets: number;
  /** Uncovered assignments that are direct grants (the natural review scope) and inherited ones. */
  leftover_direct: number;
  leftover_inherited: number;
  /** The uncovered assignments themselves (first `leftoverLimit`). */
  leftover: Array<{ user_id: string; entitlement_id: string; source: 'direct' | 'inherited' }>;
  suggestions: RoleSuggestion[];
  platform: Platform | 'all';
  users: number;
  candidates: number;
  seconds: number;
}

export interface RoleMiningRequest extends MiningOptions {
  platform?: Platform;
  /** Uncovered assignments listed in the report (default 1,000; the counts are always complete). */
  leftoverLimit?: number;
  /** User ids listed per exception kind (default 50). */
  exceptionLimit?: number;
}

const round = (x: number) => Math.round(x * 10_000) / 10_000;

/** A role's id from its entitlements: the same set gets the same id on every run. */
export function roleIdOf(entitlementIds: string[]): string {
  return `role-${createHash('sha256').update(entitlementIds.join('\n')).digest('hex').slice(0, 12)}`;
}

/** Mines roles from the store's current assignments and reports how well they explain them. */
export function mineRolesFromStore(store: Store, request: RoleMiningRequest = {}): RoleReport {
  const started = performance.now();
  const m = readRoleMatrix(store, request.platform);
  const nUsers = m.users.length;
  const result = mineRoles(
    { users: m.users, entitlements: m.entitlements.map((e) => e.id), held: m.held, attributes: m.attributes },
    request,
  );
  const total = result.totalAssignments;
  const exLimit = request.exceptionLimit ?? 50;
  const names = (us: number[]) => us.slice(0, exLimit).map((u) => m.users[u]!);

  const roles: ReportedRole[] = result.roles.map((r) => {
    const ids = r.entitlements.map((e) => m.entitlements[e]!.id);
    const pattern = patternFor(r.users, m.attributes, nUsers);
    const hasPattern = Object.keys(pattern.match).length > 0;
    const unused: ReportedRole['unused_entitlements'] = [];
    if (m.hasActivity) {
      for (const e of r.entitlements) {
        const app = m.entitlements[e]!.app;
        if (!app) continue;
        let used = 0;
        for (const u of r.users) if (m.usedApps[u]!.has(app)) used++;
        const share = used / r.users.length;
        if (share < 0.1) unused.push({ id: m.entitlements[e]!.id, used_by_share: round(share) });
      }
    }
    const covered = r.users.length * r.entitlements.length;
    return {
      role_id: roleIdOf(ids),
      entitlement_ids: ids,
      user_ids: r.users.map((u) => m.users[u]!),
      ...(hasPattern ? { pattern: pattern.match } : {}),
      coverage: round(total === 0 ? 0 : covered / total),
      covered_assignments: covered,
      users: r.users.length,
      entitlements: r.entitlements.map((e) => {
        const x = m.entitlements[e]!;
        return { id: x.id, name: x.name, app: x.app };
      }),
      pattern_fit: hasPattern ? { precision: round(pattern.precision), recall: round(pattern.recall) } : null,
      exceptions: {
        lacking: names(pattern.lacking),
        lacking_count: pattern.lacking.length,
        outside: hasPattern ? names(pattern.outside) : [],
        outside_count: hasPattern ? pattern.outside.length : 0,
      },
      unused_entitlements: unused,
      source: r.source,
    };
  });

  let leftDirect = 0;
  let leftInherited = 0;
  const leftover: RoleReport['leftover'] = [];
  const limit = request.leftoverLimit ?? 1000;
  result.leftover.forEach((ents, u) => {
    for (const e of ents) {
      const inherited = m.inherited[u]!.has(e);
      if (inherited) leftInherited++;
      else leftDirect++;
      if (leftover.length < limit)
        leftover.push({
          user_id: m.users[u]!,
          entitlement_id: m.entitlements[e]!.id,
          source: inherited ? 'inherited' : 'direct',
        });
    }
  });

  return {
    roles,
    covered_assignments: result.coveredAssignments,
    total_assignments: total,
    leftover_assignments: total - result.coveredAssignments,
    coverage: round(total === 0 ? 0 : result.coveredAssignments / total),
    distinct_entitlement_sets: result.distinctSets,
    leftover_direct: leftDirect,
    leftover_inherited: leftInherited,
    leftover,
    suggestions: suggestGroupChanges(m),
    platform: request.platform ?? 'all',
    users: nUsers,
    candidates: result.candidates,
    seconds: round((performance.now() - started) / 1000),
  };
}

/**
 * Suggestions for groups and roles that already exist (entitlements with `includes`):
 * what most of their members hold besides (add it to the group, and the direct grants
 * become redundant), and what the group grants that almost none of its members use.
 */
function suggestGroupChanges(m: ReturnType<typeof readRoleMatrix>, minMembers = 5): RoleSuggestion[] {
  const out: RoleSuggestion[] = [];
  const holdersOf = new Map<number, number[]>();
  m.held.forEach((h, u) => {
    for (const e of h) {
      const list = holdersOf.get(e);
      if (list) list.push(u);
      else holdersOf.set(e, [u]);
    }
  });
  for (const [g, inc] of [...m.includes.entries()].sort((a, b) => a[0] - b[0])) {
    const members = holdersOf.get(g) ?? [];
    if (members.length < minMembers) continue;
    const group = m.entitlements[g]!;
    const included = new Set(inc);
    const counts = new Map<number, number>();
    for (const u of members)
      for (const e of m.held[u]!) if (e !== g && !included.has(e)) counts.set(e, (counts.get(e) ?? 0) + 1);
    for (const [e, n] of [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0] - b[0])) {
      const share = n / members.length;
      if (share < 0.8) break;
      const x = m.entitlements[e]!;
      out.push({
        kind: 'add_to_group',
        group_id: group.id,
        group_name: group.name,
        entitlement_id: x.id,
        entitlement_name: x.name,
        share: round(share),
        members: members.length,
        detail: `${n} of ${members.length} members of ${group.name} also hold ${x.name}; granting it through the group makes their direct grants redundant`,
      });
    }
    if (!m.hasActivity) continue;
    for (const e of inc) {
      const x = m.entitlements[e]!;
      if (!x.app) continue;
      let used = 0;
      for (const u of members) if (m.usedApps[u]!.has(x.app)) used++;
      const share = used / members.length;
      if (share >= 0.1) continue;
      out.push({
        kind: 'remove_from_group',
        group_id: group.id,
        group_name: group.name,
        entitlement_id: x.id,
        entitlement_name: x.name,
        share: round(share),
        members: members.length,
        detail: `${used} of ${members.length} members of ${group.name} have a recorded use of ${x.app}; the group grants ${x.name} to all of them`,
      });
    }
  }
  return out;
}

/** The last report, without its member and leftover lists, kept for the roles resource. */
export function rememberRoleReport(store: Store, report: RoleReport): void {
  store.setMeta('role_mining:last', JSON.stringify(summarizeRoleReport(report, 1000, 0)));
}

/** The last remembered summary, if roles were mined. */
export function lastRoleReport(store: Store): RoleSummary | null {
  const text = store.getMeta('role_mining:last');
  return text ? (JSON.parse(text) as RoleSummary) : null;
}

/** A report cut to size, with when it was made. */
export type RoleSummary = RoleReport & { mined_at: string };

/** A report cut to size for a model's context: the first `roles` roles, `users` member ids each. */
export function summarizeRoleReport(report: RoleReport, roles = 20, users = 10): RoleSummary {
  return {
    ...report,
    roles: report.roles.slice(0, roles).map((r) => ({ ...r, user_ids: r.user_ids.slice(0, users) })),
    leftover: report.leftover.slice(0, 50),
    suggestions: report.suggestions.slice(0, 50),
    mined_at: new Date().toISOString(),
  };
}

/** One CSV row per role and entitlement. */
export function roleReportCsv(report: RoleReport): string {
  const esc = (v: string | number) => {
    const t = String(v);
    return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const lines = [
    'role_id,entitlement_id,entitlement_name,app,users,coverage,pattern,pattern_precision,pattern_recall',
  ];
  for (const r of report.roles) {
    const pattern = r.pattern
      ? Object.entries(r.pattern)
          .map(([k, v]) => `${k}=${v}`)
          .join(';')
      : '';
    for (const e of r.entitlements) {
      lines.push(
        [
          r.role_id,
          e.id,
          e.name,
          e.app ?? '',
          r.users,
          r.coverage,
          pattern,
          r.pattern_fit?.precision ?? '',
          r.pattern_fit?.recall ?? '',
        ]
          .map(esc)
          .join(','),
      );
    }
  }
  return `${lines.join('\n')}\n`;
}
