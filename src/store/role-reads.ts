import type { Platform } from '../domain/index.js';
import type { Store } from './store.js';

/** The user x entitlement matrix and what role mining looks at beside it, read in a few scans. */
export interface RoleMatrix {
  users: string[];
  entitlements: Array<{ id: string; name: string; app: string | null; type: string; platform: Platform }>;
  /** Per user number, the entitlement numbers held, ascending. */
  held: Int32Array[];
  /** Per user number and entitlement number held: true when the grant is inherited (group or rule). */
  inherited: Set<number>[];
  attributes: Array<{ kind: string; values: Array<string | null> }>;
  /** Entitlement number -> entitlement numbers it includes. */
  includes: Map<number, number[]>;
  /** Per user number, the apps with a recorded successful use. */
  usedApps: Array<Set<string>>;
  /** Whether the store holds any activity at all (otherwise "never used" means nothing). */
  hasActivity: boolean;
}

const USER_ATTRS = ['department', 'title', 'location', 'manager_id', 'employee_type'] as const;

/** Reads the matrix of one platform's assignments (or every platform's). */
export function readRoleMatrix(store: Store, platform?: Platform): RoleMatrix {
  const db = store.db;
  const where = platform ? 'WHERE platform = ?' : '';
  const args = platform ? [platform] : [];
  const userRows = db
    .prepare(`SELECT id, ${USER_ATTRS.join(', ')}, attributes FROM users ${where} ORDER BY id`)
    .raw()
    .all(...args) as unknown[][];
  const users: string[] = [];
  const userIndex = new Map<string, number>();
  const attrs = new Map<string, Array<string | null>>();
  for (const k of USER_ATTRS) attrs.set(k, []);
  userRows.forEach((r, u) => {
    const id = String(r[0]);
    users.push(id);
    userIndex.set(id, u);
    USER_ATTRS.forEach((k, i) => {
      attrs.get(k)!.push(r[i + 1] === null ? null : String(r[i + 1]));
    });
    const extra = JSON.parse(String(r[USER_ATTRS.length + 1] ?? '{}')) as Record<string, unknown>;
    for (const [k, v] of Object.entries(extra)) {
      const key = `attributes.${k}`;
      let list = attrs.get(key);
      if (!list) {
        list = new Array<string | null>(u).fill(null);
        attrs.set(key, list);
      }
      list[u] = v === null || v === undefined ? null : String(v);
    }
    for (const list of attrs.values()) if (list.length === u) list.push(null);
  });

  const entRows = db
    .prepare(`SELECT id, name, app, type, platform FROM entitlements ${where} ORDER BY id`)
    .all(...args) as RoleMatrix['entitlements'];
  const entIndex = new Map(entRows.map((e, i) => [e.id, i]));

  const held: number[][] = users.map(() => []);
  const inherited: Set<number>[] = users.map(() => new Set());
  for (const [u, e, source] of db
    .prepare(
      `SELECT user_id, entitlement_id, source FROM assignments ${where} ORDER BY user_id, entitlement_id`,
    )
    .raw()
    .iterate(...args) as Iterable<[string, string, string]>) {
    const ui = userIndex.get(u);
    const ei = entIndex.get(e);
    if (ui === undefined || ei === undefined) continue;
    held[ui]!.push(ei);
    if (source !== 'direct') inherited[ui]!.add(ei);
  }

  const includes = new Map<number, number[]>();
  for (const [from, to] of db
    .prepare(
      'SELECT entitlement_id, included_id FROM entitlement_includes ORDER BY entitlement_id, included_id',
    )
    .raw()
    .iterate() as Iterable<[string, string]>) {
    const f = entIndex.get(from);
    const t = entIndex.get(to);
    if (f === undefined || t === undefined) continue;
    const list = includes.get(f);
    if (list) list.push(t);
    else includes.set(f, [t]);
  }

  const usedApps = users.map(() => new Set<string>());
  let hasActivity = false;
  for (const [u, app] of db
    .prepare('SELECT user_id, app FROM activity_rollup WHERE last_used IS NOT NULL')
    .raw()
    .iterate() as Iterable<[string, string]>) {
    hasActivity = true;
    const ui = userIndex.get(u);
    if (ui !== undefined) usedApps[ui]!.add(app);
  }

  return {
    users,
    entitlements: entRows,
    held: held.map((h) => Int32Array.from(h.sort((a, b) => a - b))),
    inherited,
    attributes: [...attrs.entries()].map(([kind, values]) => ({ kind, values })),
    includes,
    usedApps,
    hasActivity,
  };
}
