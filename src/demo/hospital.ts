/**
 * A second tenant, shaped like a hospital and built independently of the demo generator: many
 * entitlements per app (access groups, title roles bundling permissions, fine-grained finance and
 * pharmacy permissions), birthright groups per department that include apps and a nested Clinical
 * Staff group, project groups held by whole teams, viewers groups beside leads groups, an includes
 * cycle, an app the activity log does not cover, decisions of two past campaigns, and a planted
 * share of access that should go.
 *
 * Its `truth.csv` says, per review item, which signals the data supports and whether the access
 * should go. The truth comes from how each grant was made here (why the user got it, what it
 * duplicates, who else was given it), never from the analysis engine's rules. Deterministic for
 * a seed.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { entitlementSnapshotColumns, userSnapshotColumns } from '../domain/index.js';
import { csvLine } from './csv.js';
import {
  APPS,
  deptApps,
  type HospEnt,
  hospitalDepts,
  hospitalEntitlements,
  hospitalProjects,
  hospitalSodRules,
} from './hospital-catalog.js';
import { Rng } from './random.js';

export interface HospitalOptions {
  /** Users, 200..20000 (default 3000). */
  users?: number;
  seed?: number;
  /** ISO date the tenant is "as of" (default 2026-11-28). */
  asOf?: string;
}

export const HOSPITAL_CAMPAIGN_ID = 'h-q4';
const DAY = 86_400_000;
/** The activity log starts this many days before asOf. */
export const HOSPITAL_LOG_DAYS = 400;
const QUIET_DAYS = 90;
const SITES = ['Main Campus', 'North Clinic', 'Riverside'];

/** Why a user holds an entitlement: the facts the truth is built from. */
type Why =
  | 'position' // the user's current job (birthright groups, title roles, title permissions)
  | 'company' // everyone's
  | 'project'
  | 'old' // the job before a move, kept
  | 'stray' // granted outside the job, to this one user
  | 'extra'; // asked for once, outside the job, in the user's own department

interface Grant {
  ent: string;
  age: number; // days before asOf
  source: 'direct' | 'group' | 'rule';
  via: string | null;
  why: Why;
  /** Planted redundancy: the held entitlement that already grants it. */
  redundantWith?: string;
}

interface Person {
  idx: number;
  id: string;
  dept: number;
  title: string;
  manager: number; // -1 for the root
  site: number;
  status: 'active' | 'deprovisioned';
  type: 'employee' | 'contractor';
  hireAge: number;
  termAge: number | null;
  contractEndAge: number | null; // negative: in the future
  usesAfterEnd: boolean;
  move: { age: number; dept: number; title: string } | null;
  reviewer: number;
  grants: Map<string, Grant>;
}

const entById = new Map<string, HospEnt>();

function slug(s: string): string {
  return s
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/(^-|-$)/g, '');
}

function catalogue(): HospEnt[] {
  const all = [...hospitalEntitlements];
  for (const d of hospitalDepts) {
    const inc = [...(d.clinical ? ['bg-clinical'] : []), ...(deptApps[d.key] ?? [])];
    all.push({ id: `bg-${d.key}`, name: `${d.name} Staff`, type: 'group', app: null, includes: inc });
  }
  for (const p of hospitalProjects) {
    const s = slug(p);
    all.push({ id: `site-${s}`, name: `${p} site`, type: 'app', app: APPS.collab, sensitivity: 'low' });
    all.push({ id: `proj-${s}`, name: `Project ${p}`, type: 'group', app: null, includes: [`site-${s}`] });
  }
  entById.clear();
  for (const e of all) entById.set(e.id, e);
  return all;
}

/** Everything `id` grants, transitively (cycle-safe). */
function closure(id: string): Set<string> {
  const out = new Set<string>();
  const stack = [...(entById.get(id)?.includes ?? [])];
  while (stack.length > 0) {
    const e = stack.pop()!;
    if (out.has(e)) continue;
    out.add(e);
    stack.push(...(entById.get(e)?.includes ?? []));
  }
  return out;
}

/** Every entitlement a department's jobs are given, with what those grant. */
function deptFootprint(d: number): Set<string> {
  const dept = hospitalDepts[d]!;
  const out = new Set<string>([`bg-${dept.key}`, ...closure(`bg-${dept.key}`)]);
  for (const t of dept.titles)
    for (const e of [...t.roles, ...(t.perms ?? [])]) {
      out.add(e);
      for (const c of closure(e)) out.add(c);
    }
  return out;
}

class Builder {
  readonly people: Person[] = [];
  private readonly rng: Rng;
  /** Access given outside a job so far, per department, title and team. */
  private readonly foreign = new Map<string, number>();

  constructor(
    private readonly n: number,
    seed: number,
  ) {
    this.rng = new Rng(seed, 101);
  }

  /** Grants `ent` and, as inherited through it, whatever it includes that the user lacks. */
  grant(p: Person, ent: string, age: number, source: Grant['source'], via: string | null, why: Why): void {
    if (p.grants.has(ent)) return;
    p.grants.set(ent, { ent, age, source, via, why });
    for (const inc of entById.get(ent)?.includes ?? []) this.grant(p, inc, age, 'group', ent, why);
  }

  /**
   * Whether access outside the job can go to someone in (dept, title, team) and stay rare there:
   * at most two in a department, one per title, and nobody else in the team.
   */
  rare(dept: number, title: string, manager: number, ents: readonly string[], take: boolean): boolean {
    const keys = (e: string) => [`d${dept}|${e}`, `t${title}|${e}`, `m${manager}|${e}`];
    const limit = [2, 1, 1];
    const ok = ents.every((e) => keys(e).every((k, i) => (this.foreign.get(k) ?? 0) < limit[i]!));
    if (ok && take)
      for (const e of ents) for (const k of keys(e)) this.foreign.set(k, (this.foreign.get(k) ?? 0) + 1);
    return ok;
  }

  /** The user's current job's access, from `age` days ago. */
  position(p: Person, dept: number, title: string, age: number): void {
    const d = hospitalDepts[dept]!;
    this.grant(p, `bg-${d.key}`, age, 'rule', null, 'position');
    const t = d.titles.find((x) => x.name === title);
    const roles = t ? t.roles : (d.titles[0]?.roles ?? []);
    for (const r of roles) this.grant(p, r, age + 0.5, t?.ruleRoles ? 'rule' : 'direct', null, 'position');
    for (const x of t?.perms ?? []) this.grant(p, x, age + 0.5, 'direct', null, 'position');
  }

  build(): void {
    const r = this.rng;
    const n = this.n;
    const mk = (dept: number, title: string, manager: number): Person => {
      const contractor = manager >= 0 && r.chance(0.08);
      const hireAge = contractor ? r.range(120, 700) : r.chance(0.05) ? r.range(20, 80) : r.range(150, 5000);
      const p: Person = {
        idx: this.people.length,
        id: `h-${String(this.people.length + 1).padStart(5, '0')}`,
        dept,
        title,
        manager,
        site: manager >= 0 && r.chance(0.8) ? this.people[manager]!.site : r.int(0, SITES.length - 1),
        status: 'active',
        type: contractor ? 'contractor' : 'employee',
        hireAge,
        termAge: null,
        contractEndAge: contractor
          ? r.chance(0.18)
            ? r.range(15, Math.min(200, hireAge - 30))
            : -r.range(30, 400)
          : null,
        usesAfterEnd: false,
        move: null,
        reviewer: Math.max(manager, 0),
        grants: new Map(),
      };
      this.people.push(p);
      return p;
    };
    const exec = hospitalDepts.findIndex((d) => d.key === 'exec');
    const ceo = mk(exec, 'Chief Executive Officer', -1);
    ceo.hireAge = 3000;
    // Department heads, then teams of about 11 under managers who report to the head.
    const heads = hospitalDepts.map((d, i) => mk(i, `Director, ${d.name}`, 0));
    const pick = (d: number) => {
      const titles = hospitalDepts[d]!.titles;
      return titles[r.weighted(titles.map((t) => t.share))]!.name;
    };
    const shares = hospitalDepts.map((d) => d.share);
    let d = 0;
    const quota = shares.map((s) => Math.round(s * (n - this.people.length)));
    while (this.people.length < n) {
      while (d < quota.length && quota[d]! <= 0) d++;
      const dept = d < quota.length ? d : r.weighted(shares);
      const head = heads[dept]!;
      const manager = mk(dept, pick(dept), head.idx);
      const size = Math.min(r.int(8, 14), n - this.people.length);
      for (let k = 0; k < size; k++) mk(dept, pick(dept), manager.idx);
      if (d < quota.length) quota[d] = quota[d]! - size - 1;
    }

    // Leavers, movers and other plants among the staff (not managers: their teams stay simple).
    const managers = new Set(this.people.map((p) => p.manager));
    const staff = this.people.filter((_p, i) => i > heads.length && !managers.has(i));
    // What a mover keeps of the old job: the roles and permissions that were asked for.
    const old = (dept: number, title: string) => {
      const t = hospitalDepts[dept]!.titles.find((x) => x.name === title)!;
      const asked = [...(t.ruleRoles ? [] : t.roles), ...(t.perms ?? [])];
      return [...new Set(asked.flatMap((e) => [e, ...closure(e)]))];
    };
    for (const p of staff) {
      if (p.type === 'contractor') continue;
      const x = r.next();
      if (x < 0.015) {
        p.status = 'deprovisioned';
        p.termAge = r.range(10, Math.min(300, p.hireAge - 30));
      } else if (x < 0.025) p.termAge = r.range(10, Math.min(200, p.hireAge - 30));
      else if (x < 0.055 && p.hireAge > 420) {
        const age = r.range(100, 300);
        const from = p.dept;
        const foot = deptFootprint(from);
        const oldTitle = hospitalDepts[from]!.titles.find((t) => t.name === p.title)!;
        const oldEnts = [...oldTitle.roles, ...(oldTitle.perms ?? [])].flatMap((e) => [e, ...closure(e)]);
        // A move to a department none of whose jobs uses the old job's access.
        const options = hospitalDepts
          .map((_, i) => i)
          .filter((i) => i !== from && i !== exec && !oldEnts.some((e) => deptFootprint(i).has(e)));
        if (options.length === 0 || foot.size === 0) continue;
        const to = r.pick(options);
        // Nobody else in the new team comes from the same old job.
        const leads = this.people.filter((q) => q.dept === to && managers.has(q.idx) && q !== heads[to]);
        if (leads.length === 0) continue;
        const lead = r.pick(leads);
        const title = pick(to);
        const kept = old(from, p.title).filter((e) => !deptFootprint(to).has(e));
        if (!this.rare(to, title, lead.idx, kept, true)) continue;
        p.manager = lead.idx;
        p.move = { age, dept: from, title: p.title };
        p.dept = to;
        p.title = title;
        p.reviewer = Math.max(p.manager, 0);
        p.site = this.people[p.manager]!.site;
      }
    }
    for (const p of this.people) {
      const ended = p.termAge !== null || (p.contractEndAge !== null && p.contractEndAge > 0);
      if (ended && r.chance(0.3)) p.usesAfterEnd = true;
    }

    // Access: everyone's, the job's (and the old job's for movers).
    for (const p of this.people) {
      this.grant(p, 'bg-all-staff', p.hireAge, 'rule', null, 'company');
      if (p.move) {
        const old = hospitalDepts[p.move.dept]!.titles.find((t) => t.name === p.move!.title)!;
        this.position(p, p.dept, p.title, p.move.age - 1);
        // Rule-assigned access went with the old department; what was requested stayed.
        if (!old.ruleRoles) for (const e of old.roles) this.grant(p, e, p.hireAge - 5, 'direct', null, 'old');
        for (const e of old.perms ?? []) this.grant(p, e, p.hireAge - 5, 'direct', null, 'old');
      } else this.position(p, p.dept, p.title, p.hireAge - r.range(0, 3));
    }

    // Project groups: two or three whole teams each, from different departments.
    const teams = [...managers].filter((m) => m > heads.length);
    for (const proj of hospitalProjects) {
      const chosen = r.shuffle(teams.slice()).slice(0, r.int(2, 3));
      const age = r.range(40, 300);
      for (const m of chosen)
        for (const p of this.people)
          if (p === this.people[m] || p.manager === m)
            this.grant(p, `proj-${slug(proj)}`, Math.min(age, p.hireAge - 1), 'direct', null, 'project');
    }

    // Strays: a permission of another department's job, given to one user of a team.
    const perms = (dept: number) =>
      [...deptFootprint(dept)].filter((e) => entById.get(e)?.type === 'role' && !entById.get(e)?.includes);
    for (const p of staff) {
      if (!r.chance(0.012)) continue;
      const mine = deptFootprint(p.dept);
      const apps = new Set([...p.grants.keys()].map((e) => entById.get(e)?.app));
      const pool = hospitalDepts
        .flatMap((_, i) => (i === p.dept ? [] : perms(i)))
        .filter((e) => !mine.has(e) && !apps.has(entById.get(e)!.app) && !entById.get(e)!.privileged);
      const choice = pool.length > 0 ? r.pick(pool) : null;
      if (!choice || !this.rare(p.dept, p.title, p.manager, [choice], true)) continue;
      this.grant(
        p,
        choice,
        r.range(100, Math.max(101, Math.min(600, p.hireAge - 1))),
        'direct',
        null,
        'stray',
      );
    }
    // Extras: access asked for once, for an app the job does not use, and never used.
    for (const p of staff) {
      if (!r.chance(0.03)) continue;
      const apps = new Set([...p.grants.keys()].map((e) => entById.get(e)?.app));
      const e = r.pick(['grp-dw-readers', 'role-procure-buyer', 'role-rostr-scheduler']);
      if (p.grants.has(e) || apps.has(entById.get(e)!.app)) continue;
      const mine = deptFootprint(p.dept);
      const outside = [e, ...closure(e)].filter((x) => !mine.has(x));
      if (!this.rare(p.dept, p.title, p.manager, outside, true)) continue;
      this.grant(p, e, r.range(120, Math.max(121, Math.min(900, p.hireAge - 1))), 'direct', null, 'extra');
    }

    // Redundancy that the includes prove.
    for (const p of staff) {
      const held = [...p.grants.values()];
      const x = r.next();
      if (x < 0.03) {
        // A direct grant of an app access group a birthright group already includes.
        const g = held.filter(
          (h) => h.source === 'group' && entById.get(h.ent)!.type === 'app' && h.why !== 'company',
        );
        const h = g.length > 0 ? r.pick(g) : null;
        if (h) this.replaceDirect(p, h, r.range(30, Math.max(31, h.age - 1)));
      } else if (x < 0.05) {
        // A permission made direct although the user's role bundles it.
        const g = held.filter(
          (h) => h.source === 'group' && h.via?.startsWith('role-') && entById.get(h.ent)!.type === 'role',
        );
        const h = g.length > 0 ? r.pick(g) : null;
        if (h) this.replaceDirect(p, h, r.range(30, Math.max(31, h.age - 1)));
      } else if (x < 0.06 && p.grants.get('bg-clinical')?.source === 'group') {
        this.replaceDirect(p, p.grants.get('bg-clinical')!, r.range(30, 400));
      }
      // A viewers group on top of the leads group that includes everything it has.
      // (only where the viewers group belongs to the department's jobs).
      for (const [lead, viewer] of [
        ['grp-pacs-leads', 'grp-pacs-viewers'],
        ['grp-dw-analysts', 'grp-dw-readers'],
      ] as const) {
        if (
          p.grants.has(lead) &&
          !p.grants.has(viewer) &&
          deptFootprint(p.dept).has(viewer) &&
          r.chance(0.3)
        ) {
          p.grants.set(viewer, {
            ent: viewer,
            age: r.range(30, 500),
            source: 'direct',
            via: null,
            why: 'extra',
            redundantWith: lead,
          });
        }
      }
    }
    // Privileged and conflicting access.
    const fin = hospitalDepts.findIndex((x) => x.key === 'fin');
    const pha = hospitalDepts.findIndex((x) => x.key === 'pha');
    for (const p of staff) {
      if (p.dept === fin && p.title === 'AP Clerk' && r.chance(0.3))
        this.grant(p, 'perm-ledger-vendor-master', r.range(100, 800), 'direct', null, 'position');
      if (p.dept === pha && p.title === 'Pharmacist' && r.chance(0.08))
        this.grant(p, 'perm-dispense-override', r.range(100, 800), 'direct', null, 'position');
    }
    const apClerks = staff.filter((p) => p.grants.has('perm-ledger-vendor-master'));
    for (const p of apClerks.slice(0, 5))
      this.grant(p, 'perm-ledger-approve-payments', r.range(100, 400), 'direct', null, 'extra');
    const teamsSeen = new Set<number>();
    const pharmacists = staff.filter(
      (p) =>
        p.dept === pha &&
        p.title === 'Pharmacist' &&
        !p.move &&
        !teamsSeen.has(p.manager) &&
        teamsSeen.add(p.manager),
    );
    for (const p of pharmacists.filter((q) =>
      this.rare(q.dept, q.title, q.manager, ['perm-procure-approve'], true),
    ))
      this.grant(p, 'perm-procure-approve', r.range(100, 400), 'direct', null, 'stray');

    // Reviews: a few managers' items land with one of their own reports.
    for (const m of teams.slice(0, 4)) {
      const report = this.people.findIndex((p) => p.manager === m);
      if (report >= 0) this.people[m]!.reviewer = report;
    }
  }

  private replaceDirect(p: Person, h: Grant, age: number): void {
    const keeper = h.via!;
    p.grants.set(h.ent, {
      ...h,
      source: 'direct',
      via: null,
      age: Math.min(age, h.age),
      redundantWith: keeper,
    });
  }
}

/** The hospital tenant's snapshot and truth, written into `dir`. */
export async function generateHospital(
  dir: string,
  options: HospitalOptions = {},
): Promise<{ dir: string; asOf: string; counts: Record<string, number> }> {
  const users = options.users ?? 3000;
  if (!Number.isInteger(users) || users < 200 || users > 20_000)
    throw new RangeError('users must be 200..20000');
  const asOfMs = Date.parse(options.asOf ?? '2026-11-28T00:00:00.000Z');
  const seed = options.seed ?? 11;
  const ents = catalogue();
  const b = new Builder(users, seed);
  b.build();
  const people = b.people;
  const rng = new Rng(seed, 202);
  const iso = (age: number) => new Date(Math.floor((asOfMs - age * DAY) / 60000) * 60000).toISOString();
  const files: Record<string, string[]> = {};
  const out = (file: string, columns: readonly string[]) => {
    files[file] = [csvLine(columns)];
    return (row: Array<string | number | null>) =>
      files[file]!.push(csvLine(row.map((v) => (v === null ? '' : String(v)))));
  };

  const u = out('users.csv', [...userSnapshotColumns, 'cost_center']);
  for (const p of people) {
    const d = hospitalDepts[p.dept]!;
    u([
      p.id,
      `${p.id}@hospital.example`,
      `Staff ${p.id}`,
      d.name,
      p.title,
      p.manager >= 0 ? people[p.manager]!.id : null,
      SITES[p.site]!,
      p.status,
      p.type,
      iso(p.hireAge),
      p.termAge === null ? null : iso(p.termAge),
      p.contractEndAge === null ? null : iso(p.contractEndAge),
      `CC-${d.key.toUpperCase()}-${p.site}`,
    ]);
  }
  const e = out('entitlements.csv', [...entitlementSnapshotColumns, 'includes']);
  for (const x of ents) {
    e([
      x.id,
      x.name,
      x.type,
      x.app,
      x.privileged ? 'true' : 'false',
      x.sensitivity ?? 'medium',
      null,
      x.description ?? null,
      (x.includes ?? []).join(';'),
    ]);
  }
  const sod = out('sod_rules.csv', ['rule_id', 'name', 'left', 'right', 'severity']);
  for (const [id, name, l, r] of hospitalSodRules) sod([id, name, l, r, 'high']);
  const camp = out('campaigns.csv', ['id', 'name', 'created_at', 'due_at', 'status']);
  const past = [
    { id: 'h-2026-q1', created: 200, due: 170 },
    { id: 'h-2026-q3', created: 110, due: 80 },
  ];
  for (const c of past) camp([c.id, `${c.id} review`, iso(c.created), iso(c.due), 'closed']);
  camp([HOSPITAL_CAMPAIGN_ID, 'Quarterly access review', iso(7), iso(-21), 'active']);

  // Activity: per user and app, as the reason for holding it suggests.
  const act = out('activity.csv', ['user_id', 'app', 'at', 'outcome']);
  const lastUse = new Map<string, number>(); // `${user}|${app}` -> age of the last success
  const logged = new Set<string>();
  for (const p of people) {
    const byApp = new Map<string, Grant[]>();
    for (const g of p.grants.values()) {
      const a = entById.get(g.ent)!.app;
      if (a === null || a === APPS.badge) continue;
      byApp.set(a, [...(byApp.get(a) ?? []), g]);
    }
    const end =
      p.termAge !== null
        ? p.termAge
        : p.contractEndAge !== null && p.contractEndAge > 0
          ? p.contractEndAge
          : null;
    for (const [a, gs] of byApp) {
      const oldest = Math.max(...gs.map((g) => g.age));
      const whys = new Set(gs.map((g) => g.why));
      let cls: 'recent' | 'dormant' | 'never' | 'stopped';
      if (whys.has('position') || whys.has('company') || whys.has('project')) {
        const rare = a === APPS.learn ? 0.6 : a === APPS.diradmin ? 0.3 : a === APPS.collab ? 0.2 : 0.06;
        cls = rng.chance(rare) ? 'dormant' : 'recent';
      } else if (whys.has('old')) cls = 'stopped';
      else if (whys.has('stray')) cls = rng.chance(0.5) ? 'recent' : 'never';
      else cls = 'never';
      const events: Array<[number, boolean]> = [];
      const add = (lo: number, hi: number, ok: boolean) => {
        const top = Math.min(hi, oldest - 0.2, HOSPITAL_LOG_DAYS - 1);
        if (top <= lo) return false;
        let age = rng.range(lo, top);
        for (let k = 0; k < 5 && age > 80 && age < 100; k++) age = rng.range(lo, top);
        if (age > 80 && age < 100) return false;
        events.push([age, ok]);
        return true;
      };
      const stopAt = end ?? (cls === 'stopped' ? p.move!.age : 0);
      if (cls === 'recent' || (end !== null && cls !== 'never')) {
        const from = end !== null ? end + 0.5 : 0.5;
        let any = false;
        for (let k = rng.int(1, 3); k > 0; k--) any = add(from, from + 40, true) || any;
        if (!any && cls === 'recent') cls = 'dormant';
      }
      if (cls === 'dormant' && events.length === 0) add(105, 390, true);
      if (cls === 'stopped') add(stopAt + 1, stopAt + 60, true);
      if (end !== null && p.usesAfterEnd && cls !== 'never') add(Math.max(0.5, end - 10), end - 0.5, true);
      if (rng.chance(0.15)) add(0.5, 380, false);
      for (const [age, ok] of events) {
        act([p.id, a, iso(age), ok ? 'success' : 'failure']);
        logged.add(a);
        if (ok) {
          const k = `${p.id}|${a}`;
          lastUse.set(k, Math.min(lastUse.get(k) ?? Number.POSITIVE_INFINITY, age));
        }
      }
    }
  }

  const hr = out('hr_changes.csv', ['user_id', 'field', 'from', 'to', 'at']);
  for (const p of people) {
    if (p.move) {
      hr([
        p.id,
        'department',
        hospitalDepts[p.move.dept]!.name,
        hospitalDepts[p.dept]!.name,
        iso(p.move.age),
      ]);
      hr([p.id, 'title', p.move.title, p.title, iso(p.move.age)]);
    }
    if (p.termAge !== null) hr([p.id, 'employment_status', 'active', 'terminated', iso(p.termAge)]);
  }

  const deptSize = new Map<number, number>();
  const active = (p: Person) => p.status === 'active';
  for (const p of people) {
    if (!active(p)) continue;
    deptSize.set(p.dept, (deptSize.get(p.dept) ?? 0) + 1);
  }
  const footprints = hospitalDepts.map((_, i) => deptFootprint(i));
  const asg = out('assignments.csv', ['user_id', 'entitlement_id', 'granted_at', 'source', 'via']);
  const items = out('review_items.csv', ['id', 'campaign_id', 'user_id', 'entitlement_id', 'reviewer_id']);
  const truth = out('truth.csv', [
    'item_id',
    'user_id',
    'entitlement_id',
    'signals',
    'should_revoke',
    'birthright',
    'source',
  ]);
  let item = 0;
  for (const p of people) {
    const self = active(p) ? 1 : 0;
    const orphaned = p.status === 'deprovisioned' || p.termAge !== null;
    const expired = p.contractEndAge !== null && p.contractEndAge > 0;
    const end = expired ? p.contractEndAge : p.termAge;
    const above = new Set<number>();
    for (let at = people[p.reviewer]!.manager; at >= 0 && !above.has(at); at = people[at]!.manager)
      above.add(at);
    const selfReview = p.reviewer === p.idx || above.has(p.idx);
    for (const g of [...p.grants.values()].sort((a, z) => (a.ent < z.ent ? -1 : 1))) {
      const ent = entById.get(g.ent)!;
      const s: string[] = [];
      const a = ent.app;
      const last = a === null ? undefined : lastUse.get(`${p.id}|${a}`);
      if (orphaned) s.push('orphaned');
      if (expired) s.push('contractor_expired');
      if (a !== null && last !== undefined && end !== null && last < end!) s.push('use_after_end');
      if (a !== null && last !== undefined && Math.floor(last) > QUIET_DAYS) s.push('dormant');
      const observed = Math.min(g.age, HOSPITAL_LOG_DAYS);
      const neverUsed =
        a !== null && logged.has(a) && last === undefined && Math.floor(observed) > QUIET_DAYS;
      if (neverUsed) s.push('never_used');
      const mover = p.move !== null && g.age > p.move.age;
      if (mover) s.push('mover');
      // Outside the job: given for another job or to this user alone, and no job of the department uses it.
      const origin = g.via !== null ? (p.grants.get(g.via)?.why ?? g.why) : g.why;
      const foreign =
        (origin === 'stray' || origin === 'extra' || origin === 'old') && !footprints[p.dept]!.has(g.ent);
      if (foreign && (deptSize.get(p.dept) ?? 0) - self >= 5) s.push('peer_outlier');
      if (ent.privileged) s.push('privileged');
      if (g.redundantWith) s.push('redundant');
      if (
        hospitalSodRules.some(
          ([, , l, r]) => (g.ent === l && p.grants.has(r)) || (g.ent === r && p.grants.has(l)),
        )
      )
        s.push('sod_conflict');
      if (selfReview) s.push('self_review');
      const birthright = g.why === 'position' || g.why === 'company';
      const shouldRevoke =
        orphaned ||
        expired ||
        g.why === 'old' ||
        (g.via !== null && p.grants.get(g.via)?.why === 'old') ||
        g.redundantWith !== undefined ||
        (neverUsed && !birthright && g.source === 'direct') ||
        (ent.privileged && s.includes('dormant'));
      item++;
      asg([p.id, g.ent, iso(g.age), g.source, g.via]);
      items([`hi-${item}`, HOSPITAL_CAMPAIGN_ID, p.id, g.ent, people[p.reviewer]!.id]);
      truth([`hi-${item}`, p.id, g.ent, s.join(';'), String(shouldRevoke), String(birthright), g.source]);
    }
  }

  // Two past campaigns: what was held then was mostly approved; access outside the job, since
  // removed, was mostly revoked.
  const dec = out('decisions.csv', [
    'user_id',
    'entitlement_id',
    'decision',
    'decided_at',
    'reviewer_id',
    'campaign_id',
  ]);
  for (const c of past) {
    for (const p of people) {
      if (p.hireAge < c.created || p.status !== 'active') continue;
      const reviewer = people[p.reviewer]!.id;
      for (const g of p.grants.values()) {
        if (g.age < c.created || !rng.chance(0.22)) continue;
        dec([
          p.id,
          g.ent,
          rng.chance(0.02) ? 'revoke' : 'approve',
          iso(rng.range(c.due, c.created)),
          reviewer,
          c.id,
        ]);
      }
      if (rng.chance(0.04)) {
        const mine = deptFootprint(p.dept);
        const pool = ents.filter(
          (x) => x.type === 'role' && !x.includes && !mine.has(x.id) && !p.grants.has(x.id),
        );
        if (pool.length > 0)
          dec([
            p.id,
            rng.pick(pool).id,
            rng.chance(0.85) ? 'revoke' : 'approve',
            iso(rng.range(c.due, c.created)),
            reviewer,
            c.id,
          ]);
      }
    }
  }

  await mkdir(dir, { recursive: true });
  const counts: Record<string, number> = {};
  for (const [file, lines] of Object.entries(files)) {
    counts[file] = lines.length - 1;
    await writeFile(join(dir, file), lines.join(''));
  }
  return { dir, asOf: new Date(asOfMs).toISOString(), counts };
}
