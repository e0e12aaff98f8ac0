/**
 * Deterministic demo tenant generator. Writes a tenant snapshot (see
 * shared/contracts/snapshot-format.md) into a folder, plus `truth.csv`, the ground truth
 * of every review item's signals, which the importer ignores.
 *
 * The same options always give byte-for-byte the same files (seeded PRNG, no clock except
 * to default `asOf`). Rows are streamed to the files in buffered chunks with backpressure
 * (csv-stringify quotes any field that needs it); only per-user numeric state is kept in
 * memory, so 200,000 users (2M assignments, ~5M activity events) stay around 200 MB.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { entitlementSnapshotColumns, type SignalCode, userSnapshotColumns } from '../domain/index.js';
import { buildCatalog, type Catalog } from './catalog.js';
import { CsvSink, drainAll } from './csv.js';
import { DecisionHistory, historyCampaigns } from './history.js';
import { emailPart, firstNames, hostileNames, lastNames, serviceNames } from './names.js';
import {
  buildHoldings,
  buildOrg,
  companyAppCount,
  EmpType,
  Flag,
  type Holdings,
  type Org,
  Plant,
  Role,
  Source,
  Status,
  Usage,
} from './org.js';
import { Rng, streams } from './random.js';

export interface DemoOptions {
  /** Number of users, 1..200000 (default 2000). */
  users?: number;
  /** PRNG seed (default 42). */
  seed?: number;
  /** ISO date or time the tenant is generated "as of" (default: today 00:00Z). */
  asOf?: string;
  /** Also emit closed campaigns and decisions.csv (default true). */
  history?: boolean;
  /** Approximate mean number of assignments per user (default 10; effective range about 4-14). */
  assignmentsPerUser?: number;
}

export interface DemoResult {
  dir: string;
  /** Data rows (header excluded) per file name. */
  counts: Record<string, number>;
  asOf: string;
}

export const DEMO_CAMPAIGN_ID = 'c-q4';
export const MAX_DEMO_USERS = 200_000;
const DAY = 86_400_000;
const THRESHOLD_DAYS = 90;
const sourceNames = ['direct', 'group', 'rule'] as const;
const statusNames = ['active', 'suspended', 'deprovisioned'] as const;
const empTypeNames = ['employee', 'contractor', 'service'] as const;

interface Normalized {
  users: number;
  seed: number;
  asOfMs: number;
  history: boolean;
  assignmentsPerUser: number;
}

function normalize(options: DemoOptions): Normalized {
  const users = options.users ?? 2000;
  if (!Number.isInteger(users) || users < 1 || users > MAX_DEMO_USERS) {
    throw new RangeError(`users must be an integer from 1 to ${MAX_DEMO_USERS}, got ${String(users)}`);
  }
  const seed = options.seed ?? 42;
  if (!Number.isFinite(seed)) throw new RangeError('seed must be a finite number');
  let asOfMs: number;
  if (options.asOf === undefined) {
    asOfMs = Math.floor(Date.now() / DAY) * DAY;
  } else {
    const bare = /^\d{4}-\d{2}-\d{2}$/.test(options.asOf);
    asOfMs = Date.parse(bare ? `${options.asOf}T00:00:00.000Z` : options.asOf);
    if (Number.isNaN(asOfMs)) throw new RangeError(`asOf must be an ISO 8601 date, got ${options.asOf}`);
  }
  const apu = options.assignmentsPerUser ?? 10;
  if (!Number.isFinite(apu) || apu <= 0) throw new RangeError('assignmentsPerUser must be a positive number');
  return {
    users,
    seed: Math.trunc(seed) >>> 0,
    asOfMs,
    history: options.history ?? true,
    assignmentsPerUser: apu,
  };
}

/** Generates the demo tenant into `dir` (created if missing; existing files are overwritten). */
export async function generateDemo(dir: string, options: DemoOptions = {}): Promise<DemoResult> {
  const opts = normalize(options);
  const c = buildCatalog();
  const org = buildOrg(c, opts.users, opts.seed, companyAppCount(c, opts.assignmentsPerUser));
  const h = buildHoldings(c, org, opts.seed);
  await mkdir(dir, { recursive: true });
  const w = new Writer(c, org, h, opts, dir);
  const counts: Record<string, number> = {};
  counts['users.csv'] = await w.users();
  counts['entitlements.csv'] = await w.entitlements();
  counts['sod_rules.csv'] = await w.sodRules();
  counts['campaigns.csv'] = await w.campaigns();
  Object.assign(counts, await w.items());
  return { dir, counts, asOf: new Date(opts.asOfMs).toISOString() };
}

class Writer {
  private readonly ids: string[];
  private readonly asOfMs: number;
  private readonly thresholdMs: number;
  private readonly ownerOf: string[];
  private readonly appId: Int16Array;
  private readonly apps: string[] = [];
  private readonly sodOf: { rule: number; left: boolean }[][];
  private readonly deptCount: Int32Array;
  private readonly titleCount: Int32Array;
  private readonly mgrCount = new Map<number, number>();
  private readonly dayPrefix = new Map<number, string>();

  constructor(
    private readonly c: Catalog,
    private readonly org: Org,
    private readonly h: Holdings,
    private readonly opts: Normalized,
    private readonly dir: string,
  ) {
    const n = org.n;
    const width = String(Math.max(n, 100000)).length;
    this.ids = Array.from({ length: n }, (_, i) => `u-${String(i + 1).padStart(width, '0')}`);
    this.asOfMs = opts.asOfMs;
    this.thresholdMs = opts.asOfMs - THRESHOLD_DAYS * DAY;

    const heads = new Map<number, number>();
    for (let u = 0; u < n; u++) if (org.role[u] === Role.head) heads.set(org.dept[u] as number, u);
    const deptKey = (key: string) => c.depts.findIndex((d) => d.key === key);
    const ownerFor = (dept: number) => this.ids[heads.get(dept) ?? 0] as string;
    this.ownerOf = c.ents.map((e) => {
      if (e.privileged) return ownerFor(deptKey('sec'));
      if (e.dept < 0) return ownerFor(deptKey('it'));
      return ownerFor(e.dept);
    });

    const appIndex = new Map<string, number>();
    this.appId = new Int16Array(c.ents.length).fill(-1);
    c.ents.forEach((e, i) => {
      if (!e.app) return;
      let a = appIndex.get(e.app);
      if (a === undefined) {
        a = this.apps.length;
        this.apps.push(e.app);
        appIndex.set(e.app, a);
      }
      this.appId[i] = a;
    });

    this.sodOf = c.ents.map(() => []);
    c.sodRules.forEach((r, ri) => {
      for (const e of r.left) this.sodOf[e]?.push({ rule: ri, left: true });
      for (const e of r.right) this.sodOf[e]?.push({ rule: ri, left: false });
    });

    // Peer prevalence: holders per (department, entitlement), (title, entitlement), (manager, entitlement).
    const E = c.ents.length;
    this.deptCount = new Int32Array(c.depts.length * E);
    this.titleCount = new Int32Array(c.titles.length * E);
    for (let u = 0; u < n; u++) {
      const d = org.dept[u] as number;
      const t = org.title[u] as number;
      const m = org.manager[u] as number;
      for (let i = h.start[u] as number; i < (h.start[u + 1] as number); i++) {
        const e = h.ent[i] as number;
        (this.deptCount[d * E + e] as number)++;
        (this.titleCount[t * E + e] as number)++;
        if (m >= 0) this.mgrCount.set(m * E + e, (this.mgrCount.get(m * E + e) ?? 0) + 1);
      }
    }
  }

  /** Epoch ms of a point `age` days before asOf, floored to the minute. */
  private ms(age: number): number {
    return Math.floor((this.asOfMs - age * DAY) / 60000) * 60000;
  }

  private iso(age: number): string {
    return this.isoMs(this.ms(age));
  }

  /** ISO 8601 text of a minute-aligned time, with the date part cached per day (hot path). */
  private isoMs(ms: number): string {
    if (ms % 60000 !== 0) return new Date(ms).toISOString();
    const day = Math.floor(ms / DAY);
    let prefix = this.dayPrefix.get(day);
    if (prefix === undefined) {
      prefix = new Date(day * DAY).toISOString().slice(0, 11);
      this.dayPrefix.set(day, prefix);
    }
    const minutes = (ms - day * DAY) / 60000;
    const hh = Math.floor(minutes / 60);
    const mm = minutes % 60;
    return `${prefix}${hh < 10 ? '0' : ''}${hh}:${mm < 10 ? '0' : ''}${mm}:00.000Z`;
  }

  private sink(file: string, columns: readonly string[]): CsvSink {
    return new CsvSink(join(this.dir, file), columns);
  }

  async users(): Promise<number> {
    const { c, org } = this;
    const out = this.sink('users.csv', [
      ...userSnapshotColumns,
      'cost_center',
      'level',
      'region',
      'division',
    ]);
    const rng = new Rng(this.opts.seed, streams.names);
    const emails = new Map<string, number>();
    let svc = 0;
    for (let u = 0; u < org.n; u++) {
      const first = rng.pick(firstNames);
      const last = rng.pick(lastNames);
      let name = `${first} ${last}`;
      let base = `${emailPart(first)}.${emailPart(last)}`;
      if (org.empType[u] === EmpType.service) {
        name = `${serviceNames[svc % serviceNames.length]}${svc >= serviceNames.length ? `-${Math.floor(svc / serviceNames.length) + 1}` : ''}`;
        base = name;
        svc++;
      }
      const seen = emails.get(base) ?? 0;
      emails.set(base, seen + 1);
      const email = `${base}${seen > 0 ? String(seen + 1) : ''}@example.com`;
      const hostile = org.hostileName[u] as number;
      if (hostile >= 0) name = hostileNames[hostile] ?? name;
      const dept = c.depts[org.dept[u] as number];
      const loc = c.locations[org.location[u] as number];
      const m = org.manager[u] as number;
      const term = org.termAge[u] as number;
      const cend = org.contractEndAge[u] as number;
      const level = org.level[u] as number;
      out.write([
        this.ids[u] as string,
        email,
        name,
        dept?.name ?? '',
        c.titles[org.title[u] as number]?.name ?? '',
        m >= 0 ? (this.ids[m] as string) : '',
        loc?.name ?? '',
        statusNames[org.status[u] as number] ?? 'active',
        empTypeNames[org.empType[u] as number] ?? 'employee',
        this.iso(org.hireAge[u] as number),
        Number.isNaN(term) ? '' : this.iso(term),
        Number.isNaN(cend) ? '' : this.iso(cend),
        dept?.costCenters[org.costCenter[u] as number] ?? '',
        level > 0 ? `L${level}` : '',
        loc?.region ?? '',
        dept?.division ?? '',
      ]);
      if (out.congested) await out.drain();
    }
    return out.close();
  }

  async entitlements(): Promise<number> {
    const out = this.sink('entitlements.csv', [...entitlementSnapshotColumns, 'department', 'includes']);
    // All Staff includes the company apps everyone gets: what `includes` and `via` are for.
    const staffIncludes = this.org.companyHeld.map((e) => this.c.ents[e]?.id ?? '').join(';');
    this.c.ents.forEach((e, i) => {
      out.write([
        e.id,
        e.name,
        e.type,
        e.app ?? '',
        e.privileged ? 'true' : 'false',
        e.sensitivity,
        this.ownerOf[i] as string,
        e.description,
        e.dept >= 0 ? (this.c.depts[e.dept]?.name ?? '') : '',
        i === this.c.staffEnt ? staffIncludes : '',
      ]);
    });
    return out.close();
  }

  async sodRules(): Promise<number> {
    const out = this.sink('sod_rules.csv', ['rule_id', 'name', 'left', 'right', 'severity']);
    const ids = (list: number[]) => list.map((e) => this.c.ents[e]?.id ?? '').join(';');
    for (const r of this.c.sodRules) out.write([r.id, r.name, ids(r.left), ids(r.right), r.severity]);
    return out.close();
  }

  async campaigns(): Promise<number> {
    const out = this.sink('campaigns.csv', ['id', 'name', 'created_at', 'due_at', 'status']);
    if (this.opts.history) {
      for (const camp of historyCampaigns) {
        out.write([camp.id, camp.name, this.iso(camp.createdAge), this.iso(camp.dueAge), 'closed']);
      }
    }
    out.write([DEMO_CAMPAIGN_ID, 'Q4 access certification', this.iso(7), this.iso(-21), 'active']);
    return out.close();
  }

  /** Assignments, activity, HR changes, review items, truth and decisions, in one pass over users. */
  async items(): Promise<Record<string, number>> {
    const { c, org, h } = this;
    const E = c.ents.length;
    const assignments = this.sink('assignments.csv', [
      'user_id',
      'entitlement_id',
      'granted_at',
      'source',
      'via',
    ]);
    const companySet = new Set(org.companyHeld);
    const staffId = c.ents[c.staffEnt]?.id ?? '';
    const activity = this.sink('activity.csv', ['user_id', 'app', 'at', 'outcome']);
    const hr = this.sink('hr_changes.csv', ['user_id', 'field', 'from', 'to', 'at']);
    const review = this.sink('review_items.csv', [
      'id',
      'campaign_id',
      'user_id',
      'entitlement_id',
      'reviewer_id',
    ]);
    const truth = this.sink('truth.csv', [
      'item_id',
      'user_id',
      'entitlement_id',
      'signals',
      'should_revoke',
    ]);
    const decisions = this.opts.history
      ? this.sink('decisions.csv', [
          'user_id',
          'entitlement_id',
          'decision',
          'decided_at',
          'reviewer_id',
          'campaign_id',
        ])
      : null;
    const sinks = [assignments, activity, hr, review, truth, ...(decisions ? [decisions] : [])];

    const managers: number[] = [];
    for (let u = 0; u < org.n; u++) {
      const r = org.role[u] as number;
      if (r === Role.manager || r === Role.director || r === Role.head || r === Role.ceo) managers.push(u);
    }
    const history = decisions ? new DecisionHistory(c, this.opts.seed, managers, org.companyHeld) : null;
    const rng = new Rng(this.opts.seed, streams.activity);

    // Per-user scratch space.
    const MAXH = 64;
    const lastOk = new Float64Array(MAXH); // last success ms per holding's app (NaN = none)
    const evAt = new Float64Array(64);
    const evOk = new Uint8Array(64);
    const sodLeft = new Uint8Array(c.sodRules.length);
    const sodRight = new Uint8Array(c.sodRules.length);
    const signals: SignalCode[] = [];
    let item = 0;

    for (let u = 0; u < org.n; u++) {
      const s = h.start[u] as number;
      const end = h.start[u + 1] as number;
      const m = end - s;
      if (m > MAXH) throw new Error('demo generator: too many holdings for one user');
      const uid = this.ids[u] as string;
      const hire = org.hireAge[u] as number;

      // Activity, one (user, app) at a time; usage of an app counts for every entitlement on it.
      for (let j = 0; j < m; j++) {
        const a = this.appId[h.ent[s + j] as number] as number;
        lastOk[j] = Number.NaN;
        if (a < 0) continue;
        let first = j;
        for (let k = 0; k < j; k++) {
          if (this.appId[h.ent[s + k] as number] === a) {
            first = k;
            break;
          }
        }
        if (first !== j) {
          lastOk[j] = lastOk[first] as number;
          continue;
        }
        let oldest = 0;
        for (let k = j; k < m; k++) {
          if (this.appId[h.ent[s + k] as number] !== a) continue;
          const g = h.grant[s + k] as number;
          oldest = Math.max(oldest, Number.isNaN(g) ? hire : g);
        }
        const count = this.events(u, h.usage[s + j] as number, oldest, rng, evAt, evOk);
        let last = Number.NaN;
        for (let k = 0; k < count; k++) {
          const at = evAt[k] as number;
          if (evOk[k] && (Number.isNaN(last) || at > last)) last = at;
          activity.write([uid, this.apps[a] as string, this.isoMs(at), evOk[k] ? 'success' : 'failure']);
        }
        lastOk[j] = last;
      }

      // HR changes.
      const moveMs = org.plant[u] === Plant.mover ? this.ms(org.moveAge[u] as number) : Number.NaN;
      if (!Number.isNaN(moveMs)) {
        const at = this.isoMs(moveMs);
        const oldDept = c.depts[org.oldDept[u] as number]?.name ?? '';
        const oldTitle = c.titles[org.oldTitle[u] as number]?.name ?? '';
        const oldMgr = org.oldManager[u] as number;
        const mgr = org.manager[u] as number;
        hr.write([uid, 'department', oldDept, c.depts[org.dept[u] as number]?.name ?? '', at]);
        hr.write([uid, 'title', oldTitle, c.titles[org.title[u] as number]?.name ?? '', at]);
        hr.write([
          uid,
          'manager_id',
          oldMgr >= 0 ? (this.ids[oldMgr] as string) : '',
          mgr >= 0 ? (this.ids[mgr] as string) : '',
          at,
        ]);
      }
      const locAge = org.locationChangeAge[u] as number;
      if (!Number.isNaN(locAge)) {
        hr.write([
          uid,
          'location',
          c.locations[org.locationFrom[u] as number]?.name ?? '',
          c.locations[org.location[u] as number]?.name ?? '',
          this.iso(locAge),
        ]);
      }
      const termAge = org.termAge[u] as number;
      if (!Number.isNaN(termAge))
        hr.write([uid, 'employment_status', 'active', 'terminated', this.iso(termAge)]);

      // SoD hits.
      sodLeft.fill(0);
      sodRight.fill(0);
      for (let j = 0; j < m; j++) {
        for (const side of this.sodOf[h.ent[s + j] as number] ?? []) {
          if (side.left) sodLeft[side.rule] = 1;
          else sodRight[side.rule] = 1;
        }
      }

      const d = org.dept[u] as number;
      const t = org.title[u] as number;
      const mgr = org.manager[u] as number;
      const reviewerIdx = Math.max(mgr, 0);
      const reviewer = this.ids[reviewerIdx] as string;
      const orphaned =
        org.status[u] === Status.deprovisioned || (!Number.isNaN(termAge) && this.ms(termAge) <= this.asOfMs);
      const cend = org.contractEndAge[u] as number;
      const expired =
        org.empType[u] === EmpType.contractor && !Number.isNaN(cend) && this.ms(cend) < this.asOfMs;

      for (let j = 0; j < m; j++) {
        const i = s + j;
        const e = h.ent[i] as number;
        const ent = c.ents[e];
        if (!ent) continue;
        const g = h.grant[i] as number;
        const grantMs = Number.isNaN(g) ? Number.NaN : this.ms(g);
        const a = this.appId[e] as number;
        const last = lastOk[j] as number;
        const has = (code: SignalCode) => signals.push(code);
        signals.length = 0;

        if (expired) has('contractor_expired');
        const dormant = a >= 0 && !Number.isNaN(last) && last < this.thresholdMs;
        if (dormant) has('dormant');
        if (!Number.isNaN(moveMs) && !Number.isNaN(grantMs) && moveMs > grantMs) has('mover');
        const neverUsed =
          a >= 0 && Number.isNaN(last) && (Number.isNaN(grantMs) || grantMs < this.thresholdMs);
        if (neverUsed) has('never_used');
        if (orphaned) has('orphaned');
        const outlier =
          (this.deptCount[d * E + e] as number) <= 1 &&
          (this.titleCount[t * E + e] as number) <= 1 &&
          (mgr < 0 || (this.mgrCount.get(mgr * E + e) ?? 0) <= 1);
        if (outlier) has('peer_outlier');
        if (ent.privileged) has('privileged');
        // Redundant only where the data says so: a direct grant of a company app All Staff includes.
        const source = h.source[i] as number;
        const holdsStaff = org.empType[u] !== EmpType.service;
        const redundant = source === Source.direct && companySet.has(e) && holdsStaff;
        if (redundant) has('redundant');
        let sod = false;
        for (const side of this.sodOf[e] ?? []) if (sodLeft[side.rule] && sodRight[side.rule]) sod = true;
        if (sod) has('sod_conflict');
        const endMs = expired
          ? this.ms(cend)
          : orphaned && !Number.isNaN(termAge)
            ? this.ms(termAge)
            : Number.NaN;
        if (a >= 0 && !Number.isNaN(endMs) && !Number.isNaN(last) && last > endMs) has('use_after_end');
        if (reviewerIdx === u) has('self_review');
        // Standard access of the user's current position: nearly every peer holds it.
        const birthright =
          (h.flag[i] as number) === 0 && ent.kind !== 'privileged' && (ent.kind !== 'company' || holdsStaff);

        const shouldRevoke =
          orphaned ||
          expired ||
          ((h.flag[i] as number) & Flag.oldDept) !== 0 ||
          redundant ||
          (neverUsed && !birthright) ||
          (dormant && ent.privileged);

        item++;
        const itemId = `ri-${item}`;
        assignments.write([
          uid,
          ent.id,
          Number.isNaN(grantMs) ? '' : this.isoMs(grantMs),
          sourceNames[source] ?? 'direct',
          source !== Source.direct && companySet.has(e) && holdsStaff ? staffId : '',
        ]);
        review.write([itemId, DEMO_CAMPAIGN_ID, uid, ent.id, reviewer]);
        truth.write([itemId, uid, ent.id, signals.join(';'), shouldRevoke ? 'true' : 'false']);
      }

      if (history && decisions) {
        const ents: number[] = [];
        const grants: number[] = [];
        const quiet: boolean[] = [];
        for (let j = 0; j < m; j++) {
          const e = h.ent[s + j] as number;
          ents.push(e);
          grants.push(h.grant[s + j] as number);
          const last = lastOk[j] as number;
          quiet.push((this.appId[e] as number) >= 0 && (Number.isNaN(last) || last < this.thresholdMs));
        }
        history.forUser(
          {
            dept: d,
            level: org.level[u] as number,
            contractor: org.empType[u] === EmpType.contractor,
            reviewer: reviewerIdx,
            hireAge: hire,
            ents,
            grants,
            quiet,
          },
          (row) => {
            decisions.write([
              uid,
              c.ents[row.ent]?.id ?? '',
              row.revoke ? 'revoke' : 'approve',
              this.iso(row.decidedAge),
              this.ids[reviewerIdx] as string,
              row.campaign,
            ]);
          },
        );
      }

      if (
        assignments.congested ||
        activity.congested ||
        hr.congested ||
        review.congested ||
        truth.congested ||
        decisions?.congested
      ) {
        await drainAll(sinks);
      }
    }

    const counts: Record<string, number> = {};
    counts['assignments.csv'] = await assignments.close();
    counts['activity.csv'] = await activity.close();
    counts['hr_changes.csv'] = await hr.close();
    counts['review_items.csv'] = await review.close();
    if (decisions) counts['decisions.csv'] = await decisions.close();
    counts['truth.csv'] = await truth.close();
    return counts;
  }

  /**
   * Events of one (user, app) by its usage class, written into evAt/evOk sorted by time.
   * `oldest` is the age of the oldest grant on the app: no event precedes it.
   */
  private events(
    u: number,
    usage: number,
    oldest: number,
    rng: Rng,
    evAt: Float64Array,
    evOk: Uint8Array,
  ): number {
    const { org } = this;
    let count = 0;
    const add = (lo: number, hi: number, ok: boolean) => {
      if (hi <= lo || count >= evAt.length) return;
      // Keep the last use clear of the 90-day threshold (85-95 days), so analyses that
      // round to days agree.
      let age = rng.range(lo, hi);
      for (let tries = 0; tries < 6 && age >= 85 && age < 95; tries++) age = rng.range(lo, hi);
      evAt[count] = this.ms(age);
      evOk[count] = ok ? 1 : 0;
      count++;
    };
    const span = (lo: number, hi: number, successes: number, failP: number) => {
      for (let k = 0; k < successes; k++) add(lo, hi, true);
      if (rng.chance(failP)) add(lo, hi, false);
    };
    switch (usage) {
      case Usage.recent:
        span(0.02, Math.min(60, oldest - 0.01), rng.int(1, 4), 0.15);
        break;
      case Usage.dormant:
        span(95, Math.min(400, oldest - 0.5), rng.int(1, 3), 0.2);
        break;
      case Usage.never:
        if (rng.chance(0.5)) {
          const fails = rng.int(1, 3);
          for (let k = 0; k < fails; k++) add(0.02, Math.min(300, oldest - 0.01), false);
        }
        break;
      default: {
        const stop =
          usage === Usage.stopTerm
            ? (org.termAge[u] as number)
            : usage === Usage.stopMove
              ? (org.moveAge[u] as number)
              : (org.contractEndAge[u] as number);
        span(stop + 0.02, Math.min(stop + 60, oldest - 0.01), rng.int(1, 4), 0.15);
      }
    }
    // Sort chronologically (insertion sort; a handful of events).
    for (let i = 1; i < count; i++) {
      const at = evAt[i] as number;
      const ok = evOk[i] as number;
      let k = i - 1;
      while (k >= 0 && (evAt[k] as number) > at) {
        evAt[k + 1] = evAt[k] as number;
        evOk[k + 1] = evOk[k] as number;
        k--;
      }
      evAt[k + 1] = at;
      evOk[k + 1] = ok;
    }
    return count;
  }
}
