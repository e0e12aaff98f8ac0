/**
 * Role mining: candidate roles (sets of entitlements held together) from the user x
 * entitlement matrix, chosen by a greedy weighted set cover over assignments.
 *
 * Candidates come three ways, as in FastMiner-style miners: the distinct entitlement sets
 * users hold, the pairwise intersections of the most common of them (what two groups of
 * people share is a role both hold), and the entitlements most people of one attribute
 * cohort hold (department, title, location, extra attributes). A candidate's members are the
 * users who hold every one of its entitlements, so every assignment a role covers is one its
 * members hold. The cover then repeatedly takes the candidate that explains the most
 * assignments no chosen role explains yet (lazy greedy: gains only fall as roles are taken),
 * and stops when the best remaining one explains too little. What is left uncovered is the
 * natural review scope.
 *
 * Pure and deterministic: the same matrix gives the same roles in the same order.
 */

export interface MiningInput {
  /** User ids, index = user number. */
  users: string[];
  /** Entitlement ids, index = entitlement number. */
  entitlements: string[];
  /** Per user, the entitlement numbers held, ascending, no repeats. */
  held: Int32Array[];
  /** Attribute kinds (department, title, location, extra attributes) and each user's value (null: none). */
  attributes: Array<{ kind: string; values: Array<string | null> }>;
}

export interface MiningOptions {
  /** A role needs at least this many members (default: 5, or 0.1% of users when more). */
  minUsers?: number;
  /** A role has at least this many entitlements (default 2). */
  minEntitlements?: number;
  /** At most this many roles (default 1000). */
  maxRoles?: number;
  /** A role must explain at least this share of its own assignments that nothing else does (default 0.5). */
  minNewShare?: number;
  /** Distinct entitlement sets whose pairwise intersections become candidates (default 600). */
  intersectTop?: number;
  /** In a cohort, an entitlement most members hold: held by at least this share (default 0.8). */
  cohortShare?: number;
  /** Each entitlement of a role is held by at least this share of those who hold the rest (default 0.5). */
  cohesion?: number;
}

export interface MinedRole {
  /** Entitlement numbers, ascending. */
  entitlements: number[];
  /** Member user numbers (they hold every entitlement), ascending. */
  users: number[];
  /** Assignments this role explains that no role chosen before it did. */
  newlyCovered: number;
  /** Where the candidate came from: a distinct set, an intersection, a cohort. */
  source: 'set' | 'intersection' | 'cohort';
}

export interface MiningResult {
  roles: MinedRole[];
  totalAssignments: number;
  coveredAssignments: number;
  distinctSets: number;
  candidates: number;
  /** Per user, the entitlement numbers no role explains. */
  leftover: Int32Array[];
}

const EMPTY = new Int32Array(0);

function intersectSorted(a: ArrayLike<number>, b: ArrayLike<number>): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i]!;
    const y = b[j]!;
    if (x === y) {
      out.push(x);
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out;
}

/** Bit sets over users, one per entitlement. */
class UserBits {
  readonly words: number;
  readonly bits: Uint32Array[];

  constructor(users: number, entitlements: number) {
    this.words = (users + 31) >>> 5;
    this.bits = Array.from({ length: entitlements }, () => new Uint32Array(this.words));
  }

  set(e: number, u: number): void {
    this.bits[e]![u >>> 5]! |= 1 << (u & 31);
  }

  has(e: number, u: number): boolean {
    return (this.bits[e]![u >>> 5]! & (1 << (u & 31))) !== 0;
  }
}

export function mineRoles(input: MiningInput, options: MiningOptions = {}): MiningResult {
  const nUsers = input.users.length;
  const nEnts = input.entitlements.length;
  const minUsers = options.minUsers ?? Math.max(5, Math.ceil(nUsers * 0.001));
  const minEnts = options.minEntitlements ?? 2;
  const maxRoles = options.maxRoles ?? 1000;
  const minNewShare = options.minNewShare ?? 0.5;
  const intersectTop = options.intersectTop ?? 600;
  const cohortShare = options.cohortShare ?? 0.8;
  const cohesion = options.cohesion ?? 0.5;

  // Holders per entitlement, as user lists (ascending) and as bit sets.
  const holderCount = new Int32Array(nEnts);
  let total = 0;
  for (const h of input.held) {
    total += h.length;
    for (let k = 0; k < h.length; k++) holderCount[h[k]!]!++;
  }
  const holders: Int32Array[] = Array.from({ length: nEnts }, (_, e) => new Int32Array(holderCount[e]!));
  const fill = new Int32Array(nEnts);
  const has = new UserBits(nUsers, nEnts);
  for (let u = 0; u < nUsers; u++) {
    const h = input.held[u] ?? EMPTY;
    for (let k = 0; k < h.length; k++) {
      const e = h[k]!;
      holders[e]![fill[e]!++] = u;
      has.set(e, u);
    }
  }

  // Candidate entitlement sets, keyed by their ids joined.
  const candidates = new Map<string, { ents: number[]; source: MinedRole['source'] }>();
  const add = (ents: number[], source: MinedRole['source']) => {
    if (ents.length < minEnts) return;
    const key = ents.join(',');
    if (!candidates.has(key)) candidates.set(key, { ents, source });
  };

  // 1. Distinct sets, most common first.
  const distinct = new Map<string, { ents: Int32Array; count: number }>();
  for (const h of input.held) {
    if (h.length === 0) continue;
    const key = h.join(',');
    const d = distinct.get(key);
    if (d) d.count++;
    else distinct.set(key, { ents: h, count: 1 });
  }
  const common = [...distinct.entries()]
    .sort((a, b) => b[1].count - a[1].count || (a[0] < b[0] ? -1 : 1))
    .map(([, d]) => d);
  for (const d of common) if (d.count >= 2) add([...d.ents], 'set');

  // 2. Pairwise intersections of the most common sets.
  const top = common.slice(0, intersectTop);
  for (let i = 0; i < top.length; i++) {
    for (let j = i + 1; j < top.length; j++) add(intersectSorted(top[i]!.ents, top[j]!.ents), 'intersection');
  }

  // 3. What most of one attribute cohort holds.
  for (const attr of input.attributes) {
    const cohorts = new Map<string, number[]>();
    for (let u = 0; u < nUsers; u++) {
      const v = attr.values[u];
      if (v === null || v === undefined || v === '') continue;
      const list = cohorts.get(v);
      if (list) list.push(u);
      else cohorts.set(v, [u]);
    }
    const counts = new Int32Array(nEnts);
    for (const [, members] of [...cohorts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (members.length < minUsers) continue;
      counts.fill(0);
      for (const u of members) {
        const h = input.held[u] ?? EMPTY;
        for (let k = 0; k < h.length; k++) counts[h[k]!]!++;
      }
      const need = Math.ceil(members.length * cohortShare);
      const ents: number[] = [];
      for (let e = 0; e < nEnts; e++) if (counts[e]! >= need) ents.push(e);
      add(ents, 'cohort');
    }
  }

  // Members of a candidate: holders of its rarest entitlement who hold all the others.
  const membersOf = (ents: number[]): number[] => {
    let rarest = ents[0]!;
    for (const e of ents) if (holderCount[e]! < holderCount[rarest]!) rarest = e;
    const out: number[] = [];
    const base = holders[rarest]!;
    outer: for (let k = 0; k < base.length; k++) {
      const u = base[k]!;
      for (const e of ents) if (e !== rarest && !has.has(e, u)) continue outer;
      out.push(u);
    }
    return out;
  };

  interface Cand {
    ents: number[];
    users: number[];
    source: MinedRole['source'];
    gain: number;
    key: string;
  }
  /**
   * A role holds together: each of its entitlements is held by at least `cohesion` of the
   * people who hold the rest. An entitlement that merely rides along (a stray grant, another
   * role's access held by a few of the members) fails that and is dropped, the weakest first.
   */
  const cohesive = (ents: number[]): number[] => {
    let set = ents;
    for (;;) {
      if (set.length < minEnts) return set;
      const { full, without } = leaveOneOut(set);
      let worst = -1;
      let worstShare = 1;
      for (let i = 0; i < set.length; i++) {
        const share = full / Math.max(1, full + without[i]!);
        if (share < worstShare) {
          worstShare = share;
          worst = i;
        }
      }
      if (worst < 0 || worstShare >= cohesion) return set;
      set = set.filter((_, k) => k !== worst);
    }
  };

  /**
   * In one pass: how many users hold all of `ents` (full), and for each entitlement how many
   * hold all the others but not it (so the holders of the rest are full + without[i]). A user
   * missing one entitlement still holds the rarest or the second rarest, so only their holders
   * are looked at.
   */
  function leaveOneOut(ents: number[]): { full: number; without: Int32Array } {
    let r1 = 0;
    let r2 = -1;
    for (let i = 1; i < ents.length; i++) {
      if (holderCount[ents[i]!]! < holderCount[ents[r1]!]!) {
        r2 = r1;
        r1 = i;
      } else if (r2 < 0 || holderCount[ents[i]!]! < holderCount[ents[r2]!]!) r2 = i;
    }
    const a = holders[ents[r1]!]!;
    const b = r2 < 0 ? EMPTY : holders[ents[r2]!]!;
    const without = new Int32Array(ents.length);
    let full = 0;
    const visit = (u: number) => {
      let missing = -1;
      for (let i = 0; i < ents.length; i++) {
        if (has.has(ents[i]!, u)) continue;
        if (missing >= 0) return;
        missing = i;
      }
      if (missing < 0) full++;
      else without[missing]!++;
    };
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      const x = i < a.length ? a[i]! : Number.MAX_SAFE_INTEGER;
      const y = j < b.length ? b[j]! : Number.MAX_SAFE_INTEGER;
      if (x === y) {
        visit(x);
        i++;
        j++;
      } else if (x < y) {
        visit(x);
        i++;
      } else {
        visit(y);
        j++;
      }
    }
    return { full, without };
  }

  const pool: Cand[] = [];
  const pooled = new Set<string>();
  for (const [, c] of candidates) {
    // Too few people hold the whole candidate: dropping entitlements could only be a subset another candidate gives.
    if (c.source !== 'cohort' && membersOf(c.ents).length < minUsers) continue;
    const ents = cohesive(c.ents);
    if (ents.length < minEnts) continue;
    const key = ents.join(',');
    if (pooled.has(key)) continue;
    pooled.add(key);
    const users = membersOf(ents);
    if (users.length < minUsers) continue;
    pool.push({ ents, users, source: c.source, gain: users.length * ents.length, key });
  }

  // Assignments explained so far, as bit sets per entitlement.
  const covered = new UserBits(nUsers, nEnts);
  const gainOf = (c: Cand): number => {
    let g = 0;
    for (const e of c.ents) for (const u of c.users) if (!covered.has(e, u)) g++;
    return g;
  };
  const better = (a: Cand, b: Cand) =>
    a.gain !== b.gain
      ? a.gain > b.gain
      : a.users.length !== b.users.length
        ? a.users.length > b.users.length
        : a.ents.length !== b.ents.length
          ? a.ents.length < b.ents.length
          : a.key < b.key;

  // Lazy greedy over a max-heap of (possibly stale) gains.
  const heap: Cand[] = [];
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!better(heap[i]!, heap[p]!)) break;
      [heap[i], heap[p]] = [heap[p]!, heap[i]!];
      i = p;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && better(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && better(heap[r]!, heap[m]!)) m = r;
      if (m === i) return;
      [heap[i], heap[m]] = [heap[m]!, heap[i]!];
      i = m;
    }
  };
  const pop = (): Cand | undefined => {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last) {
      heap[0] = last;
      down(0);
    }
    return top;
  };
  for (const c of pool) {
    heap.push(c);
    up(heap.length - 1);
  }

  const roles: MinedRole[] = [];
  let coveredCount = 0;
  const minGain = minUsers * minEnts;
  const seen = new Set(pool.map((c) => c.key));
  const uncoveredShare = new Float64Array(nEnts);
  while (heap.length > 0 && roles.length < maxRoles) {
    const c = pop()!;
    // What chosen roles already explain is dropped from the candidate: a candidate made of a
    // department's access plus the birthright everyone holds becomes the department's own
    // role once the birthright role is taken (and gains the members who lack a birthright grant).
    if (roles.length > 0) {
      const keep: number[] = [];
      for (const e of c.ents) {
        let open = 0;
        for (const u of c.users) if (!covered.has(e, u)) open++;
        uncoveredShare[e] = open / c.users.length;
        if (uncoveredShare[e]! >= 0.5) keep.push(e);
      }
      if (keep.length < c.ents.length) {
        if (keep.length < minEnts) continue;
        const kept = cohesive(keep);
        if (kept.length < minEnts) continue;
        keep.splice(0, keep.length, ...kept);
        const key = keep.join(',');
        if (seen.has(key)) continue;
        seen.add(key);
        const users = membersOf(keep);
        if (users.length < minUsers) continue;
        const refined: Cand = { ents: keep, users, source: c.source, gain: 0, key };
        refined.gain = gainOf(refined);
        if (refined.gain >= minUsers * minEnts) {
          heap.push(refined);
          up(heap.length - 1);
        }
        continue;
      }
    }
    const fresh = gainOf(c);
    if (fresh !== c.gain) {
      c.gain = fresh;
      if (fresh >= minGain) {
        heap.push(c);
        up(heap.length - 1);
      }
      continue;
    }
    if (fresh < minGain) break;
    if (fresh < minNewShare * c.users.length * c.ents.length) continue;
    for (const e of c.ents) for (const u of c.users) covered.set(e, u);
    coveredCount += fresh;
    roles.push({ entitlements: c.ents, users: c.users, newlyCovered: fresh, source: c.source });
  }

  const leftover: Int32Array[] = [];
  for (let u = 0; u < nUsers; u++) {
    const h = input.held[u] ?? EMPTY;
    const rest: number[] = [];
    for (let k = 0; k < h.length; k++) if (!covered.has(h[k]!, u)) rest.push(h[k]!);
    leftover.push(Int32Array.from(rest));
  }

  return {
    roles,
    totalAssignments: total,
    coveredAssignments: coveredCount,
    distinctSets: distinct.size,
    candidates: pool.length,
    leftover,
  };
}

/** An attribute pattern that predicts a role's members: the value(s) most of them share. */
export interface RolePattern {
  /** attribute kind -> value; empty when no attribute predicts membership. */
  match: Record<string, string>;
  /** Share of the people matching the pattern who are members. */
  precision: number;
  /** Share of the members who match the pattern. */
  recall: number;
  /** People matching the pattern who are not members (user numbers). */
  lacking: number[];
  /** Members who do not match the pattern (user numbers). */
  outside: number[];
}

/**
 * The single attribute value, or pair of values, that best predicts membership of `members`
 * (F1 of precision and recall), among values held by at least half of the members.
 */
export function patternFor(
  members: number[],
  attributes: MiningInput['attributes'],
  nUsers: number,
): RolePattern {
  const isMember = new Uint8Array(nUsers);
  for (const u of members) isMember[u] = 1;
  const m = members.length;
  const baseRate = m / Math.max(1, nUsers);
  let best: { match: Record<string, string>; test: (u: number) => boolean; f1: number } | null = null;
  const consider = (match: Record<string, string>, test: (u: number) => boolean) => {
    let tp = 0;
    let size = 0;
    for (let u = 0; u < nUsers; u++) {
      if (!test(u)) continue;
      size++;
      if (isMember[u]) tp++;
    }
    if (size === 0 || tp === 0) return;
    const precision = tp / size;
    const recall = tp / m;
    // A value nearly everyone has predicts nothing: it must pick the members out (lift), and
    // a pattern that misses most members or mostly matches others explains nothing either.
    if (precision < 1.2 * baseRate || precision < 0.3 || recall < 0.5) return;
    const f1 = (2 * precision * recall) / (precision + recall);
    if (!best || f1 > best.f1 + 1e-12) best = { match, test, f1 };
  };
  // Values most members share, per attribute.
  const frequent: Array<{ kind: number; value: string }> = [];
  attributes.forEach((a, kind) => {
    const counts = new Map<string, number>();
    for (const u of members) {
      const v = a.values[u];
      if (v !== null && v !== undefined && v !== '') counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    for (const [value, n] of [...counts.entries()].sort((x, y) => y[1] - x[1] || (x[0] < y[0] ? -1 : 1))) {
      if (n >= m / 2) frequent.push({ kind, value });
    }
  });
  for (const f of frequent) {
    const a = attributes[f.kind]!;
    consider({ [a.kind]: f.value }, (u) => a.values[u] === f.value);
  }
  for (let i = 0; i < frequent.length; i++) {
    for (let j = i + 1; j < frequent.length; j++) {
      const x = frequent[i]!;
      const y = frequent[j]!;
      if (x.kind === y.kind) continue;
      const ax = attributes[x.kind]!;
      const ay = attributes[y.kind]!;
      consider(
        { [ax.kind]: x.value, [ay.kind]: y.value },
        (u) => ax.values[u] === x.value && ay.values[u] === y.value,
      );
    }
  }
  const chosen = best as { match: Record<string, string>; test: (u: number) => boolean; f1: number } | null;
  if (!chosen) return { match: {}, precision: 0, recall: 0, lacking: [], outside: [...members] };
  const lacking: number[] = [];
  const outside: number[] = [];
  let tp = 0;
  let size = 0;
  for (let u = 0; u < nUsers; u++) {
    const inPattern = chosen.test(u);
    if (inPattern) size++;
    if (inPattern && isMember[u]) tp++;
    else if (inPattern) lacking.push(u);
    else if (isMember[u]) outside.push(u);
  }
  return { match: chosen.match, precision: tp / size, recall: tp / m, lacking, outside };
}
