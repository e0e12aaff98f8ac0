import type { Db } from './db.js';

/** The peer kind of department and title together (values joined by U+001F). */
export const BIRTHRIGHT_KIND = 'department+title';

/** A peer dimension: a user attribute whose equal values make users peers. */
export interface PeerKind {
  kind: string;
  /** SQL expression over `u` (users) giving the attribute value. */
  expr: string;
}

/**
 * Peer counts computed once per analysis pass (one scan of the active users and one of the
 * assignments for every kind at once), so the pass itself needs no per-item queries: cohort
 * sizes per (kind, value) and holders per (kind, value, entitlement), counting active users only.
 */
export class PeerIndex {
  readonly kinds: PeerKind[];
  /** kind → value → cohort size. */
  private readonly cohort = new Map<string, Map<string, number>>();
  /** kind → value → entitlement → holders. */
  private readonly holders = new Map<string, Map<string, Map<string, number>>>();
  /** Department holding most of each entitlement (its "home" department). */
  readonly homeDepartment = new Map<string, { department: string; share: number }>();
  /**
   * Entitlements that go with departments: at least 80% of their holders are in departments
   * (of 5 or more) where at least 90% hold them. For these, a location or other mixed cohort
   * holding it says nothing about a user whose department does not.
   */
  readonly departmentBound = new Set<string>();

  constructor(db: Db) {
    this.kinds = peerKinds(db);
    const kinds = this.kinds;
    const nk = kinds.length;

    // Every active user's value of every kind, computed by the same SQL expressions as a
    // GROUP BY per kind would use, interned per kind. Values are told apart by SQL type as
    // GROUP BY does (a JSON number 1 and the text "1" are two groups).
    const values: Array<Map<string, number>> = kinds.map(() => new Map());
    const valueText: string[][] = kinds.map(() => []);
    const valueIsText: boolean[][] = kinds.map(() => []);
    const cohortN: number[][] = kinds.map(() => []);
    const userIndex = new Map<string, number>();
    const codes: number[] = [];
    const userSql = `SELECT u.id, ${kinds.map((k, i) => `${k.expr} AS v${i}`).join(', ')} FROM users u
      WHERE u.status = 'active'`;
    for (const r of db.prepare(userSql).raw().iterate() as Iterable<unknown[]>) {
      userIndex.set(String(r[0]), codes.length / nk);
      for (let k = 0; k < nk; k++) {
        const v = r[k + 1];
        if (v === null || v === undefined) {
          codes.push(-1);
          continue;
        }
        const isText = typeof v === 'string';
        const text = String(v);
        const tagged = `${isText ? 't' : 'n'}${text}`;
        let c = values[k]!.get(tagged);
        if (c === undefined) {
          c = valueText[k]!.length;
          values[k]!.set(tagged, c);
          valueText[k]!.push(text);
          valueIsText[k]!.push(isText);
          cohortN[k]!.push(0);
        }
        cohortN[k]![c] = cohortN[k]![c]! + 1;
        codes.push(c);
      }
    }

    // One scan of the assignments counts holders per (kind, value, entitlement).
    const entIndex = new Map<string, number>();
    const entIds: string[] = [];
    for (const r of db
      .prepare('SELECT id FROM entitlements ORDER BY id')
      .pluck()
      .iterate() as Iterable<string>) {
      entIndex.set(r, entIds.length);
      entIds.push(r);
    }
    const denseEnts = entIds.length;
    const counters = kinds.map((_, k) => new HolderCounter(valueText[k]!.length, denseEnts));
    for (const r of db.prepare('SELECT user_id, entitlement_id FROM assignments').raw().iterate() as Iterable<
      [string, string]
    >) {
      const u = userIndex.get(r[0]);
      if (u === undefined) continue;
      let e = entIndex.get(r[1]);
      if (e === undefined) {
        e = entIds.length;
        entIndex.set(r[1], e);
        entIds.push(r[1]);
      }
      const base = u * nk;
      for (let k = 0; k < nk; k++) {
        const c = codes[base + k]!;
        if (c >= 0) counters[k]!.add(c, e);
      }
    }

    // The maps, filled as the per-kind GROUP BY results would fill them: numbers before text,
    // so a text value overwrites a number whose text is the same.
    for (let k = 0; k < nk; k++) {
      const kind = kinds[k]!.kind;
      const order = [...valueText[k]!.keys()].sort(
        (a, b) => Number(valueIsText[k]![a]) - Number(valueIsText[k]![b]),
      );
      const sizes = new Map<string, number>();
      const held = new Map<string, Map<string, number>>();
      for (const c of order) {
        const v = valueText[k]![c]!;
        sizes.set(v, cohortN[k]![c]!);
        counters[k]!.forEach(c, (e, n) => {
          const m = held.get(v) ?? new Map<string, number>();
          if (m.size === 0) held.set(v, m);
          m.set(entIds[e]!, n);
        });
      }
      this.cohort.set(kind, sizes);
      this.holders.set(kind, held);
    }

    // Home department: the department with most active holders (first in binary order on a tie),
    // from the department kind's counts.
    const d = kinds.findIndex((k) => k.kind === 'department' && k.expr === 'u.department');
    if (d >= 0) {
      const deps = [...valueText[d]!.keys()].sort((a, b) =>
        compareUtf8(valueText[d]![a]!, valueText[d]![b]!),
      );
      const best = new Int32Array(entIds.length).fill(-1);
      const bestN = new Float64Array(entIds.length);
      const totals = new Float64Array(entIds.length);
      const bound = new Float64Array(entIds.length);
      for (const c of deps) {
        const size = cohortN[d]![c]!;
        counters[d]!.forEach(c, (e, n) => {
          totals[e] = totals[e]! + n;
          if (size >= 5 && n >= 0.9 * size) bound[e] = bound[e]! + n;
          if (best[e] === -1 || n > bestN[e]!) {
            best[e] = c;
            bestN[e] = n;
          }
        });
      }
      for (let e = 0; e < entIds.length; e++) {
        if (best[e] === -1) continue;
        this.homeDepartment.set(entIds[e]!, {
          department: valueText[d]![best[e]!]!,
          share: bestN[e]! / totals[e]!,
        });
        if (bound[e]! >= 0.8 * totals[e]!) this.departmentBound.add(entIds[e]!);
      }
    }
  }

  /**
   * A user's cohorts looked up once (the kinds with a value, each with its size and its holder
   * counts), for {@link statsOfCohorts} on each of the user's entitlements.
   */
  cohortsOf(values: Array<[kind: string, value: string | null]>): UserCohort[] {
    const out: UserCohort[] = [];
    for (const [kind, value] of values) {
      if (value === null || value === '') continue;
      out.push({
        kind,
        value,
        size: this.cohort.get(kind)?.get(value) ?? 0,
        holders: this.holders.get(kind)?.get(value),
      });
    }
    return out;
  }

  /**
   * The cohort of the people whose manager is `userId` (the user is not one of them), under
   * `kind`; null when nobody reports to the user.
   */
  reportsOf(userId: string, kind: string): UserCohort | null {
    const size = this.cohort.get('manager')?.get(userId) ?? 0;
    if (size === 0) return null;
    return { kind, value: userId, size, holders: this.holders.get('manager')?.get(userId), member: false };
  }

  /** The same as {@link statsFor} on the values `cohorts` were made of. */
  statsOfCohorts(
    cohorts: readonly UserCohort[],
    entitlementId: string,
    userIsActive: boolean,
    userHolds: boolean,
  ): Array<{ kind: string; value: string; peers: number; holders: number }> {
    const self = userIsActive ? 1 : 0;
    const heldSelf = userHolds ? self : 0;
    const out: Array<{ kind: string; value: string; peers: number; holders: number }> = new Array(
      cohorts.length,
    );
    for (let i = 0; i < cohorts.length; i++) {
      const c = cohorts[i]!;
      const inside = c.member === false ? 0 : 1;
      const n = c.size - self * inside;
      const h = (c.holders?.get(entitlementId) ?? 0) - heldSelf * inside;
      out[i] = { kind: c.kind, value: c.value, peers: Math.max(0, n), holders: Math.max(0, h) };
    }
    return out;
  }

  /** Peer stats of a user for one entitlement, the user excluded from both counts. */
  statsFor(
    values: Array<[kind: string, value: string | null]>,
    entitlementId: string,
    userIsActive: boolean,
    userHolds: boolean,
  ): Array<{ kind: string; value: string; peers: number; holders: number }> {
    const self = userIsActive ? 1 : 0;
    const out: Array<{ kind: string; value: string; peers: number; holders: number }> = [];
    for (const [kind, value] of values) {
      if (value === null || value === '') continue;
      const n = (this.cohort.get(kind)?.get(value) ?? 0) - self;
      const h = (this.holders.get(kind)?.get(value)?.get(entitlementId) ?? 0) - (userHolds ? self : 0);
      out.push({ kind, value, peers: Math.max(0, n), holders: Math.max(0, h) });
    }
    return out;
  }
}

/** One cohort of one user, as {@link PeerIndex.cohortsOf} found it. */
export interface UserCohort {
  kind: string;
  value: string;
  size: number;
  holders: Map<string, number> | undefined;
  /** False for a cohort the user is not counted in (e.g. their reports). */
  member?: boolean;
}

/** Holder counts per (value, entitlement) of one kind: dense when small, sparse otherwise. */
class HolderCounter {
  private readonly dense: Int32Array | null;
  private readonly sparse = new Map<number, Map<number, number>>();

  constructor(
    values: number,
    private readonly denseEnts: number,
  ) {
    this.dense = values * denseEnts <= 4_000_000 ? new Int32Array(values * denseEnts) : null;
  }

  add(value: number, ent: number): void {
    if (this.dense !== null && ent < this.denseEnts) {
      const i = value * this.denseEnts + ent;
      this.dense[i] = this.dense[i]! + 1;
      return;
    }
    let m = this.sparse.get(value);
    if (!m) {
      m = new Map();
      this.sparse.set(value, m);
    }
    m.set(ent, (m.get(ent) ?? 0) + 1);
  }

  /** Non-zero counts of one value, in entitlement index order. */
  forEach(value: number, fn: (ent: number, n: number) => void): void {
    if (this.dense !== null) {
      const base = value * this.denseEnts;
      for (let e = 0; e < this.denseEnts; e++) {
        const n = this.dense[base + e]!;
        if (n > 0) fn(e, n);
      }
    }
    const m = this.sparse.get(value);
    if (m) for (const e of [...m.keys()].sort((a, b) => a - b)) fn(e, m.get(e)!);
  }
}

/** Orders strings as SQLite's BINARY collation does (UTF-8 bytes). */
function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/**
 * The peer dimensions present in the store: department, title, manager and location,
 * plus each extra user attribute a snapshot brought that groups users (not near-unique).
 */
export function peerKinds(db: Db): PeerKind[] {
  const kinds: PeerKind[] = [
    { kind: 'department', expr: 'u.department' },
    { kind: 'title', expr: 'u.title' },
    { kind: 'manager', expr: 'u.manager_id' },
    { kind: 'location', expr: 'u.location' },
    // Department and title together: the cohort a birthright is judged in (not a peer-outlier kind).
    {
      kind: BIRTHRIGHT_KIND,
      expr: `CASE WHEN u.department IS NULL OR u.department = '' OR u.title IS NULL OR u.title = '' THEN NULL
        ELSE u.department || char(31) || u.title END`,
    },
  ];
  const users = (db.prepare('SELECT count(*) AS n FROM users').get() as { n: number }).n;
  const attrs = db
    .prepare(
      `SELECT j.key AS key, count(DISTINCT j.value) AS distinct_values, count(*) AS n
       FROM (SELECT attributes FROM users LIMIT 20000) u, json_each(u.attributes) j
       GROUP BY j.key ORDER BY j.key LIMIT 30`,
    )
    .all() as Array<{ key: string; distinct_values: number; n: number }>;
  for (const a of attrs) {
    if (!/^[A-Za-z0-9_ .-]{1,64}$/.test(a.key)) continue;
    // An attribute that almost every user has a different value of (an employee number) is no peer group.
    if (a.distinct_values > Math.max(2, 0.5 * Math.min(users, 20000))) continue;
    kinds.push({
      kind: `attr:${a.key}`,
      expr: `json_extract(u.attributes, '$."${a.key.replace(/"/g, '')}"')`,
    });
  }
  return kinds;
}
