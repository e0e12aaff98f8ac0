/**
 * "Usual" features: whether an item's value of a user attribute (department, area, family,
 * manager…) is the one most often seen with its entitlement in past decisions. Access follows
 * teams and roles, so a request from outside the entitlement's usual department is telling even
 * for an entitlement seen a handful of times, where a per-value rate says little.
 *
 * The features use no labels. A training row is compared with the entitlement's other rows (its
 * own value left out), as a new item is compared with all the training rows.
 */

/** Per entitlement value, per attribute: the most common value, its count, the runner-up's count, all rows. */
export type UsualEntry = [top: string | null, topCount: number, second: number, total: number];

/** The entitlement's usual values, per attribute, fitted on training rows. */
export interface UsualTable {
  /** The attributes compared (feature names). */
  features: string[];
  /** Keyed by the entitlement's value. */
  byEntitlement: Map<string, UsualEntry[]>;
}

const ANCHOR = 'entitlement';
/** Fewest other rows with the entitlement for a comparison: one is enough, as the trees and the regression weigh it with the count. */
const MIN_OTHERS = 1;
/** Share of entitlements (with two rows or more) whose rows differ in the attribute, for it to be compared. */
const MIN_VARYING = 0.1;
const MAX_FEATURES = 8;

/** The name of the usual feature of attribute `f`. */
export function usualName(f: string): string {
  return `usual:${f}`;
}

function entry(counts: Map<string | null, number>): UsualEntry {
  let top: string | null = null;
  let n1 = 0;
  let n2 = 0;
  let total = 0;
  for (const [v, c] of counts) {
    total += c;
    if (c > n1) {
      n2 = n1;
      n1 = c;
      top = v;
    } else if (c > n2) n2 = c;
  }
  return [top, n1, n2, total];
}

/**
 * Fits the table on training rows and returns each row's usual features (leave-one-out).
 * Null when the rows have no entitlement feature or no attribute varies within entitlements.
 */
export function fitUsual(
  rows: ReadonlyArray<{ features: Record<string, string | null> }>,
): { table: UsualTable; perRow: Array<Record<string, string | null>> } | null {
  const n = rows.length;
  if (n === 0 || !rows.some((r) => r.features[ANCHOR] != null)) return null;
  const names = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r.features)) names.add(k);
  const groups = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const e = r.features[ANCHOR];
    if (e == null) return;
    const g = groups.get(e);
    if (g) g.push(i);
    else groups.set(e, [i]);
  });
  const multi = [...groups.values()].filter((g) => g.length >= 2);
  if (multi.length === 0) return null;
  const features: string[] = [];
  for (const f of [...names].sort()) {
    if (f === ANCHOR || f.startsWith('usual:')) continue;
    const distinct = new Set(rows.map((r) => r.features[f] ?? null)).size;
    if (distinct < 2 || distinct > 0.5 * n) continue;
    let varying = 0;
    for (const g of multi) {
      const v0 = rows[g[0]!]!.features[f] ?? null;
      if (g.some((i) => (rows[i]!.features[f] ?? null) !== v0)) varying++;
    }
    if (varying >= MIN_VARYING * multi.length) features.push(f);
  }
  if (features.length === 0) return null;
  features.splice(MAX_FEATURES);
  const byEntitlement = new Map<string, UsualEntry[]>();
  const perRow: Array<Record<string, string | null>> = rows.map(() => ({}));
  for (const [e, g] of groups) {
    const entries: UsualEntry[] = [];
    for (const f of features) {
      const counts = new Map<string | null, number>();
      for (const i of g) {
        const v = rows[i]!.features[f] ?? null;
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
      const en = entry(counts);
      entries.push(en);
      const [top, n1, n2, total] = en;
      for (const i of g) {
        const v = rows[i]!.features[f] ?? null;
        // The row left out: its value's count drops by one.
        let value: string | null = null;
        if (total - 1 >= MIN_OTHERS) value = v === top && n1 - 1 > n2 ? 'yes' : 'no';
        perRow[i]![usualName(f)] = value;
      }
    }
    byEntitlement.set(e, entries);
  }
  return { table: { features, byEntitlement }, perRow };
}

/** The usual features of a new item against the training rows. */
export function usualOf(
  table: UsualTable,
  features: Record<string, string | null>,
): Record<string, string | null> {
  const out: Record<string, string | null> = {};
  const e = features[ANCHOR];
  const entries = e == null ? undefined : table.byEntitlement.get(e);
  table.features.forEach((f, j) => {
    const en = entries?.[j];
    if (!en || en[3] < MIN_OTHERS) {
      out[usualName(f)] = null;
      return;
    }
    out[usualName(f)] = (features[f] ?? null) === en[0] && en[1] > en[2] ? 'yes' : 'no';
  });
  return out;
}
