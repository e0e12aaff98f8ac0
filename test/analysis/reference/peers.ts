/** The peer index as it was before the single-pass build (one GROUP BY per kind), kept as the reference. */
import type { Db } from '../../../src/store/db.js';

/** A peer dimension: a user attribute whose equal values make users peers. */
export interface PeerKind {
  kind: string;
  /** SQL expression over `u` (users) giving the attribute value. */
  expr: string;
}

/**
 * Peer counts computed once per analysis pass with GROUP BY in SQLite, so the pass
 * itself needs no per-item queries: cohort sizes per (kind, value) and holders per
 * (kind, value, entitlement), counting active users only.
 */
export class PeerIndex {
  readonly kinds: PeerKind[];
  /** kind → value → cohort size. */
  private readonly cohort = new Map<string, Map<string, number>>();
  /** kind → value → entitlement → holders. */
  private readonly holders = new Map<string, Map<string, Map<string, number>>>();
  /** Department holding most of each entitlement (its "home" department). */
  readonly homeDepartment = new Map<string, { department: string; share: number }>();

  constructor(db: Db) {
    this.kinds = peerKinds(db);
    for (const k of this.kinds) {
      const sizes = new Map<string, number>();
      for (const r of db
        .prepare(
          `SELECT ${k.expr} AS v, count(*) AS n FROM users u WHERE u.status = 'active' AND v IS NOT NULL GROUP BY v`,
        )
        .iterate() as Iterable<{ v: string; n: number }>) {
        sizes.set(String(r.v), r.n);
      }
      this.cohort.set(k.kind, sizes);
      const held = new Map<string, Map<string, number>>();
      for (const r of db
        .prepare(
          `SELECT ${k.expr} AS v, a.entitlement_id AS e, count(*) AS n FROM assignments a JOIN users u ON u.id = a.user_id
           WHERE u.status = 'active' AND v IS NOT NULL GROUP BY v, a.entitlement_id`,
        )
        .iterate() as Iterable<{ v: string; e: string; n: number }>) {
        const v = String(r.v);
        const m = held.get(v) ?? new Map<string, number>();
        if (m.size === 0) held.set(v, m);
        m.set(r.e, r.n);
      }
      this.holders.set(k.kind, held);
    }
    const totals = new Map<string, number>();
    for (const r of db
      .prepare(
        `SELECT a.entitlement_id AS e, u.department AS d, count(*) AS n FROM assignments a JOIN users u ON u.id = a.user_id
         WHERE u.status = 'active' AND u.department IS NOT NULL GROUP BY a.entitlement_id, u.department`,
      )
      .iterate() as Iterable<{ e: string; d: string; n: number }>) {
      totals.set(r.e, (totals.get(r.e) ?? 0) + r.n);
      const best = this.homeDepartment.get(r.e);
      if (!best || r.n > best.share) this.homeDepartment.set(r.e, { department: r.d, share: r.n });
    }
    for (const [e, best] of this.homeDepartment) best.share = best.share / (totals.get(e) ?? 1);
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
