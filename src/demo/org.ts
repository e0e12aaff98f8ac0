/**
 * The demo organization as typed arrays: who is where, who reports to whom, what was
 * planted, and what every user holds. Nothing here keeps row objects per assignment, so
 * 200,000 users cost a few tens of megabytes.
 *
 * Times are kept as ages in days before `asOf` (negative = in the future).
 */
import type { Catalog } from './catalog.js';
import { Rng, streams } from './random.js';

export const Role = { ic: 0, manager: 1, director: 2, head: 3, ceo: 4, service: 5 } as const;
export const Plant = {
  none: 0,
  mover: 1,
  peer: 2,
  redundant: 3,
  sod: 4,
  orphaned: 5,
  contractor: 6,
} as const;
export const Usage = { recent: 0, dormant: 1, never: 2, stopTerm: 3, stopMove: 4, stopContract: 5 } as const;
export const Status = { active: 0, suspended: 1, deprovisioned: 2 } as const;
export const EmpType = { employee: 0, contractor: 1, service: 2 } as const;
export const Source = { direct: 0, group: 1, rule: 2 } as const;
/** Holding flags. */
export const Flag = { oldDept: 1, planted: 2 } as const;

/** Planted shares of users (user-level) and of items (item-level). */
export const shares = {
  mover: 0.03,
  peer: 0.015,
  redundant: 0.02,
  sod: 0.01,
  orphaned: 0.015,
  contractor: 0.02,
  dormantItems: 0.04,
  neverItems: 0.03,
} as const;

export interface Org {
  n: number;
  dept: Uint8Array;
  title: Uint16Array;
  manager: Int32Array;
  role: Uint8Array;
  level: Uint8Array;
  location: Uint8Array;
  costCenter: Uint8Array;
  empType: Uint8Array;
  status: Uint8Array;
  hireAge: Float64Array;
  termAge: Float64Array;
  contractEndAge: Float64Array;
  plant: Uint8Array;
  stopUse: Uint8Array;
  moveAge: Float64Array;
  oldDept: Int16Array;
  oldTitle: Int16Array;
  oldManager: Int32Array;
  /** Extra entitlements of a planted user (kept old birthrights, foreign group, extras, SoD side). */
  plantEnts: Map<number, number[]>;
  /** Privileged role index held, or -1. */
  privRole: Int8Array;
  /** Index into hostileNames, or -1. */
  hostileName: Int8Array;
  locationChangeAge: Float64Array;
  locationFrom: Int8Array;
  /** Holders per privileged role, in choice order. */
  privHolders: number[][];
  /** Company-wide app entitlements every non-service user holds. */
  companyHeld: number[];
}

export interface Holdings {
  /** Holdings of user u are [start[u], start[u + 1]). */
  start: Int32Array;
  ent: Uint16Array;
  /** Grant age in days, NaN when granted_at is unknown. */
  grant: Float64Array;
  source: Uint8Array;
  usage: Uint8Array;
  flag: Uint8Array;
  total: number;
}

/** Number of company-wide apps to give everyone so the mean holdings is near `target`. */
export function companyAppCount(c: Catalog, target: number): number {
  let wsum = 0;
  let base = 0;
  for (const d of c.depts) {
    let tw = 0;
    let tg = 0;
    for (const t of d.icTitles) {
      const title = c.titles[t];
      if (!title) continue;
      tw += title.weight;
      tg += title.weight * title.groups.length;
    }
    // ~85% of a department are individual contributors.
    base += d.weight * (d.birthrights.length + (tw > 0 ? (0.85 * tg) / tw : 0));
    wsum += d.weight;
  }
  const perUser = 1 + base / wsum; // + All Staff
  return Math.max(0, Math.min(c.companyApps.length, Math.round(target - perUser)));
}

function allocate(total: number, weights: readonly number[]): number[] {
  const wsum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / wsum);
  const out = exact.map((x) => Math.floor(x));
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({ r: x - Math.floor(x), i })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (const { i } of order) {
    if (left <= 0) break;
    out[i] = (out[i] ?? 0) + 1;
    left--;
  }
  return out;
}

export function buildOrg(c: Catalog, n: number, seed: number, companyCount: number): Org {
  const rng = new Rng(seed, streams.org);
  const org: Org = {
    n,
    dept: new Uint8Array(n),
    title: new Uint16Array(n),
    manager: new Int32Array(n).fill(-1),
    role: new Uint8Array(n),
    level: new Uint8Array(n),
    location: new Uint8Array(n),
    costCenter: new Uint8Array(n),
    empType: new Uint8Array(n),
    status: new Uint8Array(n),
    hireAge: new Float64Array(n),
    termAge: new Float64Array(n).fill(Number.NaN),
    contractEndAge: new Float64Array(n).fill(Number.NaN),
    plant: new Uint8Array(n),
    stopUse: new Uint8Array(n),
    moveAge: new Float64Array(n).fill(Number.NaN),
    oldDept: new Int16Array(n).fill(-1),
    oldTitle: new Int16Array(n).fill(-1),
    oldManager: new Int32Array(n).fill(-1),
    plantEnts: new Map(),
    privRole: new Int8Array(n).fill(-1),
    hostileName: new Int8Array(n).fill(-1),
    locationChangeAge: new Float64Array(n).fill(Number.NaN),
    locationFrom: new Int8Array(n).fill(-1),
    privHolders: c.privRoles.map(() => []),
    companyHeld: c.companyApps.slice(0, companyCount),
  };

  // --- departments and the manager tree -------------------------------------------------
  const ceo = 0;
  org.dept[ceo] = c.ceoDept;
  org.title[ceo] = c.ceoTitle;
  org.role[ceo] = Role.ceo;
  const sizes = allocate(
    n - 1,
    c.depts.map((d) => d.weight),
  );
  const perm: number[] = [];
  for (let i = 1; i < n; i++) perm.push(i);
  rng.shuffle(perm);
  const members: number[][] = c.depts.map(() => []);
  let at = 0;
  sizes.forEach((size, d) => {
    const list = perm.slice(at, at + size);
    at += size;
    members[d] = list;
    for (const u of list) org.dept[u] = d;
    if (list.length === 0) return;
    const head = list[0] as number;
    org.manager[head] = ceo;
    org.role[head] = Role.head;
    attach(org, rng, head, list, 1, list.length);
  });

  // --- titles ----------------------------------------------------------------------------
  const trng = new Rng(seed, streams.titles);
  c.depts.forEach((dept, d) => {
    const list = members[d] ?? [];
    const ics = list.filter((u) => org.role[u] === Role.ic);
    const weights = dept.icTitles.map((t) => c.titles[t]?.weight ?? 0);
    for (const u of ics) org.title[u] = dept.icTitles[trng.weighted(weights)] as number;
    for (const u of list) {
      if (org.role[u] === Role.manager) org.title[u] = dept.managerTitle;
      else if (org.role[u] === Role.director) org.title[u] = dept.directorTitle;
      else if (org.role[u] === Role.head) org.title[u] = dept.headTitle;
    }
    if (d === c.serviceDept && n >= 200) {
      const count = Math.max(2, Math.min(40, Math.round(n * 0.003)));
      if (ics.length >= count + 6) {
        for (const u of trng.shuffle(ics.slice()).slice(0, count)) {
          org.title[u] = c.serviceTitle;
          org.role[u] = Role.service;
          org.empType[u] = EmpType.service;
        }
      }
    }
    if (d === c.hostileDept && ics.length >= 12) {
      const pool = trng.shuffle(ics.slice());
      for (const u of pool.slice(0, 3)) org.title[u] = c.hostileTitle;
    }
    // No title with title-specific access may have a single holder (it would be a peer outlier).
    const counts = new Map<number, number>();
    for (const u of list)
      if (org.role[u] === Role.ic)
        counts.set(org.title[u] as number, (counts.get(org.title[u] as number) ?? 0) + 1);
    let top = -1;
    let topCount = 0;
    for (const t of dept.icTitles) {
      const k = counts.get(t) ?? 0;
      if (k > topCount) {
        top = t;
        topCount = k;
      }
    }
    for (const u of list) {
      if (org.role[u] !== Role.ic) continue;
      const t = org.title[u] as number;
      if (t !== c.hostileTitle && counts.get(t) === 1 && top >= 0 && topCount >= 2) org.title[u] = top;
    }
  });

  // --- people attributes -----------------------------------------------------------------
  const prng = new Rng(seed, streams.people);
  const locWeights = c.locations.map((l) => l.weight);
  for (let u = 0; u < n; u++) {
    const title = c.titles[org.title[u] as number];
    const role = org.role[u] as number;
    org.level[u] = title ? prng.int(title.levelLo, title.levelHi) : 0;
    org.location[u] = prng.weighted(locWeights);
    org.costCenter[u] = prng.int(0, 1);
    let hire: number;
    if (role === Role.ceo) hire = prng.int(3000, 5000);
    else if (role === Role.head) hire = prng.int(1200, 4000);
    else if (role === Role.director) hire = prng.int(800, 3500);
    else if (role === Role.manager) hire = prng.int(500, 3000);
    else if (role === Role.service) hire = prng.int(300, 2500);
    else if (prng.chance(0.04)) hire = prng.int(14, 95);
    else hire = Math.min(5000, 120 + Math.floor(-Math.log(1 - prng.next()) * 900));
    org.hireAge[u] = hire - 0.375; // 09:00 UTC when asOf is midnight
    if (role === Role.ic && org.title[u] !== c.hostileTitle) {
      if (prng.chance(0.065)) {
        org.empType[u] = EmpType.contractor;
        org.hireAge[u] = prng.int(60, 900) - 0.375;
        org.contractEndAge[u] = -prng.int(30, 400);
      } else if (prng.chance(0.004)) {
        org.status[u] = Status.suspended;
      }
    }
  }

  // --- privileged holders ----------------------------------------------------------------
  const plrng = new Rng(seed, streams.plants);
  const byTitle = new Map<number, number[]>();
  for (let u = 0; u < n; u++) {
    if (org.role[u] !== Role.ic) continue;
    const t = org.title[u] as number;
    const list = byTitle.get(t) ?? [];
    list.push(u);
    byTitle.set(t, list);
  }
  c.privRoles.forEach((r, ri) => {
    const pool = (byTitle.get(r.title) ?? []).filter(
      (u) =>
        org.empType[u] === EmpType.employee &&
        org.status[u] === Status.active &&
        (org.hireAge[u] as number) >= 200,
    );
    if (pool.length < 2) return;
    plrng.shuffle(pool);
    const k = Math.min(pool.length, plrng.int(2, 6));
    for (const u of pool.slice(0, k)) {
      org.privRole[u] = ri;
      org.privHolders[ri]?.push(u);
    }
  });

  plantUsers(c, org, members, plrng);

  // --- hostile display names (given to clean users only) ----------------------------------
  const hrng = new Rng(seed, streams.hostile);
  const clean: number[] = [];
  for (let u = 1; u < n; u++) if (org.plant[u] === Plant.none && org.role[u] === Role.ic) clean.push(u);
  const hostileCount = Math.min(5, Math.floor(clean.length / 50));
  hrng.shuffle(clean);
  for (let i = 0; i < hostileCount; i++) org.hostileName[clean[i] as number] = i;

  // --- location changes (HR noise, not a department or title change) ----------------------
  for (let u = 1; u < n; u++) {
    if (org.plant[u] !== Plant.none || (org.hireAge[u] as number) < 60 || !hrng.chance(0.04)) continue;
    let from = hrng.int(0, c.locations.length - 2);
    if (from >= (org.location[u] as number)) from++;
    org.locationFrom[u] = from;
    org.locationChangeAge[u] = hrng.int(30, Math.min(900, Math.floor((org.hireAge[u] as number) - 10))) - 0.6;
  }
  return org;
}

/**
 * Attaches list[from, to) below parent. A parent of up to 12 people manages them all;
 * otherwise it gets k sub-managers (each over 5-12 people, or a deeper subtree) plus a few
 * direct individual contributors so that it has at least 5 direct reports where possible.
 */
function attach(org: Org, rng: Rng, parent: number, list: number[], from: number, to: number): void {
  const m = to - from;
  if (m <= 0) return;
  if (m <= 12) {
    for (let i = from; i < to; i++) org.manager[list[i] as number] = parent;
    return;
  }
  let k: number;
  if (m <= 156) {
    const lo = Math.ceil(m / 13);
    k = rng.int(lo, Math.max(lo, Math.min(12, Math.floor(m / 7))));
  } else {
    k = Math.max(1, Math.min(12, Math.floor(m / 67)));
  }
  // Direct individual contributors, as long as every sub-manager keeps 5 people or more.
  const direct = Math.max(0, Math.min(5 - k, m - 6 * k));
  for (let i = 0; i < direct; i++) org.manager[list[from + k + i] as number] = parent;
  const rest = m - k - direct;
  let pos = from + k + direct;
  for (let j = 0; j < k; j++) {
    const child = list[from + j] as number;
    org.manager[child] = parent;
    const size = Math.floor(rest / k) + (j < rest % k ? 1 : 0);
    org.role[child] = size <= 12 ? Role.manager : Role.director;
    attach(org, rng, child, list, pos, pos + size);
    pos += size;
  }
}

/** Apps a user holds through standard access (company apps, birthrights, title groups, privileged role). */
export function standardApps(c: Catalog, org: Org, u: number): Set<string> {
  const apps = new Set<string>();
  const add = (e: number) => {
    const app = c.ents[e]?.app;
    if (app) apps.add(app);
  };
  if (org.empType[u] !== EmpType.service) for (const e of org.companyHeld) add(e);
  for (const e of c.depts[org.dept[u] as number]?.birthrights ?? []) add(e);
  for (const e of c.titles[org.title[u] as number]?.groups ?? []) add(e);
  const pr = org.privRole[u] as number;
  if (pr >= 0) add(c.privRoles[pr]?.ent as number);
  return apps;
}

function plantUsers(c: Catalog, org: Org, members: number[][], rng: Rng): void {
  const n = org.n;
  const eligible: number[] = [];
  for (let u = 1; u < n; u++) {
    if (
      org.role[u] === Role.ic &&
      org.empType[u] === EmpType.employee &&
      org.status[u] === Status.active &&
      org.privRole[u] === -1 &&
      org.title[u] !== c.hostileTitle &&
      (org.hireAge[u] as number) >= 450
    ) {
      eligible.push(u);
    }
  }
  rng.shuffle(eligible);
  const appOf = (e: number) => c.ents[e]?.app ?? null;
  const want = (share: number) => Math.round(share * n);

  const take = (count: number, tryPlant: (u: number) => boolean) => {
    let done = 0;
    for (const u of eligible) {
      if (done >= count) break;
      if (org.plant[u] !== Plant.none) continue;
      if (tryPlant(u)) done++;
    }
  };

  // SoD: a holder of one side also gets an entitlement of the other side.
  const sideOf = new Map<number, { rule: number; other: number[] }[]>();
  c.sodRules.forEach((r, ri) => {
    for (const [mine, other] of [
      [r.left, r.right],
      [r.right, r.left],
    ] as const) {
      for (let t = 0; t < c.titles.length; t++) {
        if (!c.titles[t]?.groups.some((g) => mine.includes(g))) continue;
        const list = sideOf.get(t) ?? [];
        list.push({ rule: ri, other: [...other] });
        sideOf.set(t, list);
      }
    }
  });
  take(want(shares.sod), (u) => {
    const options = sideOf.get(org.title[u] as number);
    if (!options) return false;
    const apps = standardApps(c, org, u);
    const opt = rng.pick(options);
    const candidates = opt.other.filter((e) => !apps.has(appOf(e) ?? ''));
    if (candidates.length === 0) return false;
    org.plant[u] = Plant.sod;
    org.plantEnts.set(u, [rng.pick(candidates)]);
    return true;
  });

  // Redundant: 1-3 company apps assigned directly as well, although All Staff (which the user
  // holds) already includes them: the direct grants add nothing.
  take(want(shares.redundant), (u) => {
    if (org.companyHeld.length === 0) return false;
    const apps = rng.shuffle(org.companyHeld.slice());
    org.plant[u] = Plant.redundant;
    org.plantEnts.set(u, apps.slice(0, rng.int(1, Math.min(3, apps.length))));
    return true;
  });

  // Foreign entitlements planted so far, per department / title / manager group, so two
  // planted users never share one and each stays a peer outlier.
  const foreign = new Set<string>();
  const groups = (u: number) => [`d${org.dept[u]}`, `t${org.title[u]}`, `m${org.manager[u]}`];
  const isFree = (u: number, e: number) => groups(u).every((g) => !foreign.has(`${g}:${e}`));
  const claim = (u: number, ents: number[]) => {
    for (const g of groups(u)) for (const e of ents) foreign.add(`${g}:${e}`);
  };

  // Movers: moved from department A to their current department 30-200 days ago and kept
  // 1-3 of A's birthrights.
  const staffedDepts = c.depts.map((_, d) => d).filter((d) => (members[d]?.length ?? 0) > 0);
  take(want(shares.mover), (u) => {
    const cur = org.dept[u] as number;
    const apps = standardApps(c, org, u);
    const options = staffedDepts.filter((d) => d !== cur);
    if (options.length === 0) return false;
    const from = rng.pick(options);
    const dept = c.depts[from];
    if (!dept) return false;
    const keepable = dept.birthrights.filter((e) => !apps.has(appOf(e) ?? '') && isFree(u, e));
    if (keepable.length === 0) return false;
    rng.shuffle(keepable);
    const kept = keepable.slice(0, rng.int(1, Math.min(3, keepable.length)));
    claim(u, kept);
    const titleWeights = dept.icTitles.map((t) => c.titles[t]?.weight ?? 0);
    const fromList = members[from] ?? [];
    const bosses = fromList.filter(
      (x) => (org.role[x] as number) >= Role.manager && org.role[x] !== Role.service,
    );
    org.plant[u] = Plant.mover;
    org.plantEnts.set(u, kept);
    org.oldDept[u] = from;
    org.oldTitle[u] = dept.icTitles[rng.weighted(titleWeights)] as number;
    org.oldManager[u] = bosses.length > 0 ? rng.pick(bosses) : rng.pick(fromList);
    org.moveAge[u] = rng.int(30, 200) - 0.42;
    org.stopUse[u] = rng.chance(0.5) ? 1 : 0;
    return true;
  });

  // Peer outliers: one birthright group of a foreign department, freshly granted and used.
  take(want(shares.peer), (u) => {
    const cur = org.dept[u] as number;
    const apps = standardApps(c, org, u);
    const candidates: number[] = [];
    c.depts.forEach((d, di) => {
      if (di === cur) return;
      for (const e of d.birthrights) if (!apps.has(appOf(e) ?? '') && isFree(u, e)) candidates.push(e);
    });
    if (candidates.length === 0) return false;
    const pick = rng.pick(candidates);
    claim(u, [pick]);
    org.plant[u] = Plant.peer;
    org.plantEnts.set(u, [pick]);
    return true;
  });

  // Orphaned: terminated in HR; half already deprovisioned in the directory, half still active.
  take(want(shares.orphaned), (u) => {
    org.plant[u] = Plant.orphaned;
    if (rng.chance(0.5)) {
      org.status[u] = Status.deprovisioned;
      org.termAge[u] = rng.int(10, 200) - 0.75;
    } else {
      org.termAge[u] = rng.int(3, 60) - 0.75;
    }
    return true;
  });

  // Expired contractors, still assigned; half still sign in.
  take(want(shares.contractor), (u) => {
    org.plant[u] = Plant.contractor;
    org.empType[u] = EmpType.contractor;
    org.contractEndAge[u] = rng.int(5, 150);
    org.stopUse[u] = rng.chance(0.5) ? 1 : 0;
    return true;
  });
}

/** Builds every user's holdings (and the planted usage classes) into flat typed arrays. */
export function buildHoldings(c: Catalog, org: Org, seed: number): Holdings {
  const n = org.n;
  const rng = new Rng(seed, streams.holdings);
  let cap = Math.max(64, n * (org.companyHeld.length + 10));
  let ent = new Uint16Array(cap);
  let grant = new Float64Array(cap);
  let source = new Uint8Array(cap);
  let usage = new Uint8Array(cap);
  let flag = new Uint8Array(cap);
  const start = new Int32Array(n + 1);
  let k = 0;

  const push = (e: number, g: number, s: number, use: number, f: number) => {
    if (k === cap) {
      cap *= 2;
      const grow = <T extends Uint16Array | Float64Array | Uint8Array>(a: T, make: (len: number) => T): T => {
        const b = make(cap);
        b.set(a);
        return b;
      };
      ent = grow(ent, (l) => new Uint16Array(l));
      grant = grow(grant, (l) => new Float64Array(l));
      source = grow(source, (l) => new Uint8Array(l));
      usage = grow(usage, (l) => new Uint8Array(l));
      flag = grow(flag, (l) => new Uint8Array(l));
    }
    ent[k] = e;
    grant[k] = g;
    source[k] = s;
    usage[k] = use;
    flag[k] = f;
    k++;
  };

  for (let u = 0; u < n; u++) {
    start[u] = k;
    const hire = org.hireAge[u] as number;
    const plant = org.plant[u] as number;
    const mover = plant === Plant.mover;
    const moveAge = org.moveAge[u] as number;
    // Standard grants land between the hire date and asOf-100d whenever the hire allows it.
    const early = (maxOffset: number) => {
      const room = hire > 101 ? Math.min(maxOffset, hire - 100.5) : Math.min(maxOffset, hire * 0.5);
      return hire - rng.range(0, Math.max(0, room));
    };
    let base: number = Usage.recent;
    if (plant === Plant.orphaned) base = Usage.stopTerm;
    else if (plant === Plant.contractor && org.stopUse[u]) base = Usage.stopContract;
    const legacyOk = plant === Plant.none && hire >= 365;

    if (org.empType[u] !== EmpType.service) {
      push(c.staffEnt, legacyOk && rng.chance(0.02) ? Number.NaN : early(2), Source.rule, base, 0);
      const directly = plant === Plant.redundant ? (org.plantEnts.get(u) ?? []) : [];
      for (const e of org.companyHeld) {
        const g = legacyOk && rng.chance(0.01) ? Number.NaN : early(3);
        const inherited = rng.chance(0.7) ? Source.rule : Source.group;
        push(
          e,
          g,
          directly.includes(e) ? Source.direct : inherited,
          base,
          directly.includes(e) ? Flag.planted : 0,
        );
      }
    }
    const dept = c.depts[org.dept[u] as number];
    for (const e of dept?.birthrights ?? []) {
      const g = mover ? moveAge - rng.range(1, 10) : early(3);
      push(e, g, rng.chance(0.7) ? Source.rule : Source.group, base, 0);
    }
    for (const e of c.titles[org.title[u] as number]?.groups ?? []) {
      const g = mover ? moveAge - rng.range(1, 14) : early(30);
      push(e, g, rng.chance(0.6) ? Source.group : Source.direct, base, 0);
    }
    const pr = org.privRole[u] as number;
    if (pr >= 0) {
      const e = c.privRoles[pr]?.ent as number;
      push(e, rng.range(100.5, Math.max(101, hire - 30)), Source.direct, base, 0);
    }
    const extras = plant === Plant.redundant ? [] : (org.plantEnts.get(u) ?? []);
    for (const e of extras) {
      if (plant === Plant.mover) {
        push(
          e,
          hire - rng.range(0, 3),
          Source.rule,
          org.stopUse[u] ? Usage.stopMove : Usage.recent,
          Flag.oldDept,
        );
      } else if (plant === Plant.peer) {
        push(e, rng.range(20, 80), Source.direct, base, Flag.planted);
      } else {
        push(e, rng.range(30, hire - 10), Source.direct, base, Flag.planted);
      }
    }
  }
  start[n] = k;
  const h: Holdings = { start, ent, grant, source, usage, flag, total: k };
  plantUsage(c, org, h, seed);
  return h;
}

/** Item-level plants: dormant and never-used items (including some privileged ones). */
function plantUsage(c: Catalog, org: Org, h: Holdings, seed: number): void {
  const rng = new Rng(seed, streams.usage);
  const setApp = (u: number, e: number, use: number) => {
    const app = c.ents[e]?.app;
    for (let i = h.start[u] as number; i < (h.start[u + 1] as number); i++) {
      if (c.ents[h.ent[i] as number]?.app === app) h.usage[i] = use;
    }
  };
  let privDormant = 0;
  let privNever = 0;
  for (const [ri, holders] of org.privHolders.entries()) {
    const role = c.privRoles[ri];
    if (!role) continue;
    if (holders.length >= 3) {
      setApp(holders[0] as number, role.ent, Usage.dormant);
      privDormant++;
    }
    if (holders.length >= 5) {
      setApp(holders[1] as number, role.ent, Usage.never);
      privNever++;
    }
  }
  const eligible = (i: number): boolean => {
    const e = c.ents[h.ent[i] as number];
    if (!e?.app || e.privileged) return false;
    const g = h.grant[i] as number;
    return Number.isNaN(g) || g >= 100;
  };
  // Users with hostile names or titles stay clean, so their texts provably change nothing.
  const userOk = (u: number) =>
    org.plant[u] === Plant.none &&
    org.role[u] !== Role.ceo &&
    org.hostileName[u] === -1 &&
    org.title[u] !== c.hostileTitle &&
    (org.hireAge[u] as number) >= 200;
  let pool = 0;
  for (let u = 0; u < org.n; u++) {
    if (!userOk(u)) continue;
    for (let i = h.start[u] as number; i < (h.start[u + 1] as number); i++) if (eligible(i)) pool++;
  }
  let dormant = Math.max(0, Math.min(pool, Math.round(shares.dormantItems * h.total) - privDormant));
  let never = Math.max(0, Math.min(pool - dormant, Math.round(shares.neverItems * h.total) - privNever));
  for (let u = 0; u < org.n && pool > 0; u++) {
    if (!userOk(u)) continue;
    for (let i = h.start[u] as number; i < (h.start[u + 1] as number); i++) {
      if (!eligible(i)) continue;
      const r = rng.next() * pool;
      if (r < dormant) {
        if (h.usage[i] === Usage.recent) h.usage[i] = Usage.dormant;
        dormant--;
      } else if (r < dormant + never) {
        if (h.usage[i] === Usage.recent) h.usage[i] = Usage.never;
        never--;
      }
      pool--;
    }
  }
}
