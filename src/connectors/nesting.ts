/**
 * Group nesting, for connectors of platforms whose groups contain groups (Entra now, Ping
 * later): from each group's direct members, the groups each group is nested in (what it
 * `includes`: holding it grants them) and who holds each group, directly or through which
 * nested group (`via`). Cycles, which some directories allow, end the walk.
 */
export interface GroupMembers {
  users: ReadonlySet<string>;
  groups: ReadonlySet<string>;
}

/** group → the groups it is a direct member of. */
export function parentsOf(members: ReadonlyMap<string, GroupMembers>): Map<string, Set<string>> {
  const parents = new Map<string, Set<string>>();
  for (const [g, m] of members)
    for (const child of m.groups) {
      const p = parents.get(child) ?? new Set<string>();
      p.add(g);
      parents.set(child, p);
    }
  return parents;
}

/**
 * group → user → null for a direct member, or the member group the user holds it through
 * (the one directly inside the group; first by id when there are several).
 */
export function holdersOf(
  members: ReadonlyMap<string, GroupMembers>,
): Map<string, Map<string, string | null>> {
  const holders = new Map<string, Map<string, string | null>>();
  const resolve = (g: string, stack: Set<string>): Map<string, string | null> => {
    const done = holders.get(g);
    if (done) return done;
    const out = new Map<string, string | null>();
    const m = members.get(g);
    if (m) {
      for (const u of m.users) out.set(u, null);
      if (!stack.has(g)) {
        stack.add(g);
        for (const child of [...m.groups].sort()) {
          if (stack.has(child)) continue;
          for (const u of resolve(child, stack).keys()) if (!out.has(u)) out.set(u, child);
        }
        stack.delete(g);
      }
    }
    if (stack.size === 0 || !m?.groups.size) holders.set(g, out);
    return out;
  };
  for (const g of members.keys()) holders.set(g, resolve(g, new Set()));
  return holders;
}
