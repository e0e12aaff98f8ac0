/**
 * Redundant access, judged only from what the data says an entitlement grants (`includes`) and
 * how each assignment came about (`source`, `via`). Two entitlements that name the same app are
 * not copies: an app's access group, its roles and its permissions are different access.
 *
 * An entitlement is redundant for a user when
 * - it is assigned directly and another held entitlement already grants it (followed through
 *   nested includes): the user keeps it without the direct grant; or
 * - everything it grants (its includes) is also granted by one other held entitlement, e.g. a
 *   "viewers" group held beside a "leads" group that includes everything viewers has.
 * Without includes there is no redundancy. Cycles in the includes are tolerated: two entitlements
 * that grant each other are one access, and only the second of them (by id) is redundant.
 *
 * The second case is kept to tiers of one kind of access: when the graph knows each entitlement's
 * type and app, an entitlement is covered only by one of the same type on the same app, and only
 * when it grants more than access to an app. A department's birthright group that includes an
 * app is not covered by a role in that app, and a role whose includes are just the app's access
 * group carries rights inside the app that the includes do not show.
 */

/** What {@link IncludesGraph} may know of an entitlement beyond its includes. */
export interface EntitlementKind {
  type: string;
  app: string | null;
}

/** One assignment of a user, as far as redundancy is concerned. */
export interface HeldGrant {
  entitlement_id: string;
  /** `direct`, or `group` / `rule` for an inherited assignment. */
  source: string;
  /** For an inherited assignment: the entitlement it comes through, when known. */
  via: string | null;
}

/** Why an entitlement is redundant. */
export interface RedundancyFinding {
  /** The held entitlement that already grants this access (kept). */
  kept: string;
  /** `included`: the kept entitlement grants this one; `covered`: it grants all this one grants. */
  kind: 'included' | 'covered';
}

/** What each entitlement grants, followed transitively (memoised, cycle-safe). */
export class IncludesGraph {
  private readonly closures = new Map<string, ReadonlySet<string>>();

  constructor(
    private readonly direct: ReadonlyMap<string, readonly string[]>,
    /** Type and app of each entitlement; without them any held entitlement may cover another. */
    private readonly kinds?: ReadonlyMap<string, EntitlementKind>,
  ) {}

  /** Whether `k` is a tier of the same access as `e` (same type and app), so it may cover `e`. */
  sameTier(k: string, e: string): boolean {
    if (this.kinds === undefined) return true;
    const a = this.kinds.get(k);
    const b = this.kinds.get(e);
    if (a === undefined || b === undefined || a.type !== b.type || a.app !== b.app) return false;
    return this.includesOf(e).some((i) => this.kinds!.get(i)?.type !== 'app');
  }

  /** True when no entitlement includes anything: nothing can be redundant. */
  get empty(): boolean {
    return this.direct.size === 0;
  }

  /** The entitlements `id` grants directly. */
  includesOf(id: string): readonly string[] {
    return this.direct.get(id) ?? [];
  }

  /** Everything `id` grants, through any depth of nesting; `id` itself only on a cycle. */
  closure(id: string): ReadonlySet<string> {
    const known = this.closures.get(id);
    if (known) return known;
    const out = new Set<string>();
    const stack = [...this.includesOf(id)];
    while (stack.length > 0) {
      const next = stack.pop()!;
      if (out.has(next)) continue;
      out.add(next);
      const done = this.closures.get(next);
      if (done) {
        for (const d of done) out.add(d);
        continue;
      }
      for (const i of this.includesOf(next)) if (!out.has(i)) stack.push(i);
    }
    this.closures.set(id, out);
    return out;
  }
}

/**
 * The redundant entitlements among one user's assignments, keyed by entitlement id. A keeper is
 * never an entitlement that reaches the user only through the redundant one (its `via` chain), and
 * prefers a keeper that is not redundant itself, then the one granting most, then the lower id.
 */
export function findRedundant(
  held: readonly HeldGrant[],
  graph: IncludesGraph,
): Map<string, RedundancyFinding> {
  const out = new Map<string, RedundancyFinding>();
  if (graph.empty || held.length < 2) return out;
  const byId = new Map<string, HeldGrant>();
  for (const h of held) if (!byId.has(h.entitlement_id)) byId.set(h.entitlement_id, h);
  if (byId.size < 2) return out;
  const ids = [...byId.keys()].sort();
  // Only entitlements that include something can make another redundant.
  const granting = ids.filter((id) => graph.includesOf(id).length > 0);
  if (granting.length === 0) return out;

  // The held entitlements an assignment depends on: its via chain (cycle-safe).
  const dependsOn = (id: string): Set<string> => {
    const chain = new Set<string>();
    let at = byId.get(id)?.via ?? null;
    while (at !== null && !chain.has(at) && byId.has(at)) {
      chain.add(at);
      at = byId.get(at)?.via ?? null;
    }
    return chain;
  };
  const grants = (k: string, e: string): boolean => graph.closure(k).has(e);
  const covers = (k: string, e: string): boolean => {
    const inc = graph.includesOf(e);
    if (inc.length === 0 || !graph.sameTier(k, e)) return false;
    const c = graph.closure(k);
    return inc.every((i) => i === k || c.has(i));
  };

  // Whether holding k makes e redundant, before any tie between the two is broken.
  const relation = (k: string, e: string): RedundancyFinding['kind'] | null => {
    if (byId.get(e)!.source === 'direct' && grants(k, e)) return 'included';
    if (!grants(k, e) && covers(k, e)) return 'covered';
    return null;
  };
  const rank = { included: 0, covered: 1 } as const;
  const candidates = new Map<string, Array<{ k: string; kind: RedundancyFinding['kind'] }>>();
  for (const e of ids) {
    let list: Array<{ k: string; kind: RedundancyFinding['kind'] }> | undefined;
    for (const k of granting) {
      if (k === e) continue;
      const kind = relation(k, e);
      if (kind === null) continue;
      // Each makes the other redundant: they are one access. The one that includes the other is
      // kept; between equals, the lower id.
      const back = byId.has(k) && graph.includesOf(e).length > 0 ? relation(e, k) : null;
      if (back !== null && (rank[back] < rank[kind] || (rank[back] === rank[kind] && e < k))) continue;
      if (dependsOn(k).has(e)) continue;
      if (!list) list = [];
      list.push({ k, kind });
    }
    if (list) candidates.set(e, list);
  }
  for (const [e, list] of candidates) {
    list.sort(
      (a, b) =>
        Number(candidates.has(a.k)) - Number(candidates.has(b.k)) ||
        graph.closure(b.k).size - graph.closure(a.k).size ||
        (a.k < b.k ? -1 : a.k > b.k ? 1 : 0),
    );
    out.set(e, { kept: list[0]!.k, kind: list[0]!.kind });
  }
  return out;
}
