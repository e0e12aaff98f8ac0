/**
 * Past human decisions of the demo tenant (decisions.csv), for shadow mode and learning.
 *
 * HIDDEN RULES. These are the ground truth of the synthetic reviewers. They exist only so
 * that learning and shadow-mode experiments have something real to discover; the
 * recommendation engine and anything it calls must never read this file or these rules.
 *
 * Each past decision is `revoke` with probability p, the LARGEST of the rules that apply:
 *   1. cross-department access: the entitlement belongs to a department (entitlements.csv
 *      `department`) other than the user's current department ............ p = 0.85
 *   2. a contractor holding a high or critical entitlement ................. p = 0.60
 *   3. three (user department, app) combinations drawn from the seed ....... p = 0.50
 *   4. a user at level L1 or L2 holding a privileged entitlement ........... p = 0.70
 *   5. the user has no successful use of the entitlement's app in the last
 *      90 days (dormant or never used) ...................................... p = 0.35
 *   otherwise noise .......................................................... p = 0.02
 * A few reviewers (about 4% of the people managing others, at least one) approve
 * everything, whatever the rules say ("rubber stamps").
 *
 * Volume: in each closed campaign a user hired before it started gets about five of the
 * entitlements granted before that date reviewed (every one when they hold five or
 * fewer), plus, with probability 0.04, one cross-department entitlement they held back
 * then and no longer hold. With two closed campaigns that is about ten decisions per user,
 * about 94% approvals. Decisions are attributed to the user's current reviewer (manager,
 * or the CEO for the root) and dated inside the campaign's window.
 */
import type { Catalog } from './catalog.js';
import { Rng, streams } from './random.js';

export interface HistoryCampaign {
  id: string;
  name: string;
  /** Ages in days before asOf. */
  createdAge: number;
  dueAge: number;
}

export const historyCampaigns: readonly HistoryCampaign[] = [
  { id: 'c-q2', name: 'Q2 access certification', createdAge: 190, dueAge: 160 },
  { id: 'c-q3', name: 'Q3 access certification', createdAge: 100, dueAge: 70 },
];

export interface HistoryUser {
  dept: number;
  level: number;
  contractor: boolean;
  reviewer: number;
  hireAge: number;
  /** Current holdings: entitlement, grant age (NaN = unknown) and whether its app is unused for 90 days. */
  ents: readonly number[];
  grants: readonly number[];
  quiet: readonly boolean[];
}

export interface DecisionRow {
  ent: number;
  revoke: boolean;
  decidedAge: number;
  campaign: string;
}

const P_CROSS_DEPT = 0.85;
const P_CONTRACTOR_SENSITIVE = 0.6;
const P_COMBO = 0.5;
const P_JUNIOR_PRIVILEGED = 0.7;
const P_UNUSED = 0.35;
const P_NOISE = 0.02;
const PER_CAMPAIGN = 5.4;
const P_PAST_FOREIGN = 0.04;

export class DecisionHistory {
  readonly combos: { dept: number; app: string }[] = [];
  readonly rubberStamps = new Set<number>();
  private readonly rng: Rng;
  private readonly foreign: number[][];

  constructor(
    private readonly c: Catalog,
    seed: number,
    managers: readonly number[],
    companyHeld: readonly number[],
  ) {
    const setup = new Rng(seed, streams.history);
    this.rng = new Rng(seed, streams.history + 100);
    const pairs: { dept: number; app: string }[] = [];
    c.depts.forEach((d, di) => {
      const apps = new Set<string>();
      for (const e of [
        ...companyHeld,
        ...d.birthrights,
        ...d.icTitles.flatMap((t) => c.titles[t]?.groups ?? []),
      ]) {
        const app = c.ents[e]?.app;
        if (app) apps.add(app);
      }
      for (const app of apps) pairs.push({ dept: di, app });
    });
    setup.shuffle(pairs);
    this.combos = pairs.slice(0, 3);
    const stamps = setup.shuffle(managers.slice());
    const count = stamps.length === 0 ? 0 : Math.max(1, Math.round(stamps.length * 0.04));
    for (const m of stamps.slice(0, count)) this.rubberStamps.add(m);
    this.foreign = c.depts.map((_, di) =>
      c.ents.flatMap((e, ei) => (e.dept >= 0 && e.dept !== di && !e.privileged ? [ei] : [])),
    );
  }

  /** Revoke probability for one decision under the hidden rules. */
  revokeProbability(user: HistoryUser, ent: number, quiet: boolean): number {
    const e = this.c.ents[ent];
    if (!e) return P_NOISE;
    let p = P_NOISE;
    if (e.dept >= 0 && e.dept !== user.dept) p = Math.max(p, P_CROSS_DEPT);
    if (user.contractor && (e.sensitivity === 'high' || e.sensitivity === 'critical')) {
      p = Math.max(p, P_CONTRACTOR_SENSITIVE);
    }
    if (e.app && this.combos.some((x) => x.dept === user.dept && x.app === e.app)) p = Math.max(p, P_COMBO);
    if (user.level >= 1 && user.level <= 2 && e.privileged) p = Math.max(p, P_JUNIOR_PRIVILEGED);
    if (quiet) p = Math.max(p, P_UNUSED);
    return p;
  }

  forUser(user: HistoryUser, emit: (row: DecisionRow) => void): void {
    const rng = this.rng;
    const stamp = this.rubberStamps.has(user.reviewer);
    for (const camp of historyCampaigns) {
      if (user.hireAge <= camp.createdAge) continue;
      const eligible: number[] = [];
      for (let i = 0; i < user.ents.length; i++) {
        const g = user.grants[i] as number;
        if (Number.isNaN(g) || g > camp.createdAge) eligible.push(i);
      }
      const p = Math.min(1, PER_CAMPAIGN / Math.max(1, eligible.length));
      const decide = (ent: number, quiet: boolean) => {
        const revoke = !stamp && rng.chance(this.revokeProbability(user, ent, quiet));
        emit({ ent, revoke, decidedAge: rng.range(camp.dueAge, camp.createdAge), campaign: camp.id });
      };
      for (const i of eligible) {
        if (rng.chance(p)) decide(user.ents[i] as number, user.quiet[i] as boolean);
      }
      const pool = this.foreign[user.dept] ?? [];
      if (pool.length > 0 && rng.chance(P_PAST_FOREIGN)) {
        const ent = rng.pick(pool);
        if (!user.ents.includes(ent)) decide(ent, false);
      }
    }
  }
}
