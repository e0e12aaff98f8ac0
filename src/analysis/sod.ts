import type { SodConflict, SodRule } from '../domain/index.js';

/**
 * SoD conflicts for one user's set of held entitlements: a rule is violated when the
 * user holds any entitlement of its left side together with any of its right side.
 */
export function findSodConflicts(userId: string, rules: SodRule[], held: Iterable<string>): SodConflict[] {
  const set = held instanceof Set ? (held as Set<string>) : new Set(held);
  const out: SodConflict[] = [];
  for (const rule of rules) {
    const left = rule.left.filter((e) => set.has(e));
    if (left.length === 0) continue;
    const right = rule.right.filter((e) => set.has(e));
    if (right.length === 0) continue;
    out.push({
      rule_id: rule.id,
      rule_name: rule.name,
      severity: rule.severity,
      user_id: userId,
      entitlement_ids: [...new Set([...left, ...right])].sort(),
    });
  }
  return out;
}
