/**
 * Phased automation: classes of review items named by declarative predicates over facts the
 * engine already has, each with a mode (`shadow`, `suggest`, `auto`), and the bar a class's
 * backtest must clear before `auto` takes effect. Pure: no IO. Predicates compare structured
 * facts (codes, enums, numbers, exact app names); no text from identity data is ever parsed,
 * so a name or description cannot change which class an item is in or what its mode is.
 */
import { z } from 'zod';
import {
  assignmentSourceSchema,
  employeeTypeSchema,
  entitlementTypeSchema,
  platformSchema,
  type SignalCode,
  sensitivitySchema,
  signalCodeSchema,
  userStatusSchema,
} from '../domain/index.js';

export type SignalCodeName = SignalCode;

/**
 * Signals that keep an item from automatic decisions unless its class names the signal in
 * `signals_present` (targets it on purpose): each is a reason a human looks.
 */
export const HARD_SIGNALS: readonly SignalCodeName[] = [
  'sod_conflict',
  'orphaned',
  'contractor_expired',
  'use_after_end',
  'privileged',
];

/** Signals that keep an item from automatic decisions whatever the class says: nobody certifies their own access. */
export const NEVER_AUTOMATED: readonly SignalCodeName[] = ['self_review'];

/**
 * The default bar: precision of 0.99 on at least 500 past decisions of the class that the
 * policy would have taken automatically.
 */
export const DEFAULT_BAR = { min_precision: 0.99, min_decisions: 500 } as const;

/**
 * The lowest bar a class may set. At 100 decisions a precision of 0.95 has a Wilson 95% lower
 * bound near 0.89; anything looser would let a class automate on a handful of lucky decisions,
 * and a precision below 0.95 means one automatic decision in twenty would be undone by a human.
 */
export const BAR_FLOOR = { min_precision: 0.95, min_decisions: 100 } as const;

const signal = signalCodeSchema;

/** Every predicate a class may use; all given predicates must hold (AND); an empty match takes every item. */
export const classMatchSchema = z
  .object({
    /** The engine's recommendation (for a past decision: the out-of-fold shadow-mode decision). */
    recommendation: z
      .array(z.enum(['approve', 'revoke', 'escalate']))
      .min(1)
      .optional(),
    /** The recommendation's confidence is at least this. */
    min_confidence: z.number().min(0).max(1).optional(),
    /** Every one of these signals is present. */
    signals_present: z.array(signal).min(1).optional(),
    /** None of these signals is present. */
    signals_absent: z.array(signal).min(1).optional(),
    /** How the entitlement's app was used: within the dormancy window, before it, never, or not known. */
    usage: z
      .array(z.enum(['recent', 'dormant', 'never', 'unknown', 'none']))
      .min(1)
      .optional(),
    /** Nearly every peer (department and title, or department) holds it: the engine's birthright test. */
    birthright: z.boolean().optional(),
    /** Share of the user's department-and-title peers (else department peers) holding it, at least. */
    min_peer_share: z.number().min(0).max(1).optional(),
    /** The same share, at most. */
    max_peer_share: z.number().min(0).max(1).optional(),
    /** How the user holds it: `direct`, or inherited (`group`, `rule`). */
    source: z.array(assignmentSourceSchema).min(1).optional(),
    /** The user's account status. */
    user_status: z.array(userStatusSchema).min(1).optional(),
    employee_type: z.array(employeeTypeSchema).min(1).optional(),
    privileged: z.boolean().optional(),
    sensitivity: z.array(sensitivitySchema).min(1).optional(),
    entitlement_type: z.array(entitlementTypeSchema).min(1).optional(),
    platform: z.array(platformSchema).min(1).optional(),
    /** Exact app names (compared as strings, never interpreted). */
    app: z.array(z.string().min(1).max(200)).min(1).optional(),
    min_risk: z.number().min(0).max(100).optional(),
    max_risk: z.number().min(0).max(100).optional(),
  })
  .strict();
export type ClassMatch = z.infer<typeof classMatchSchema>;

export const automationModeSchema = z.enum(['shadow', 'suggest', 'auto']);
export type AutomationMode = z.infer<typeof automationModeSchema>;

export const policyClassSchema = z
  .object({
    /** Lower-case letters, digits, `-` and `_`: it becomes the principal `policy:<name>`. */
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'must be 1-63 lower-case letters, digits, - or _'),
    description: z.string().max(500).optional(),
    mode: automationModeSchema,
    match: classMatchSchema.default({}),
    /** In `auto`, revoke recommendations are applied too (approvals only otherwise). */
    allow_revoke: z.boolean().default(false),
    /** The backtest precision the class must reach before `auto` takes effect (floor 0.95). */
    min_precision: z.number().min(BAR_FLOOR.min_precision).max(1).default(DEFAULT_BAR.min_precision),
    /** Past decisions the backtest must count (floor 100). */
    min_decisions: z
      .number()
      .int()
      .min(BAR_FLOOR.min_decisions)
      .max(10_000_000)
      .default(DEFAULT_BAR.min_decisions),
  })
  .strict();
export type PolicyClass = z.infer<typeof policyClassSchema>;

export const automationPolicySchema = z
  .object({
    /**
     * `manual`: automatic decisions only by `attest automate`; `after_refit`: also by a serving
     * process at start-up and after every refit, on every active campaign.
     */
    run: z.enum(['manual', 'after_refit']).default('manual'),
    /** Evaluated in order; the first class that matches an item is its class. */
    classes: z
      .array(policyClassSchema)
      .max(100)
      .default([])
      .superRefine((classes, ctx) => {
        const seen = new Set<string>();
        classes.forEach((c, i) => {
          if (seen.has(c.name))
            ctx.addIssue({ code: 'custom', message: `duplicate class name "${c.name}"`, path: [i, 'name'] });
          seen.add(c.name);
          if (
            c.match.min_peer_share !== undefined &&
            c.match.max_peer_share !== undefined &&
            c.match.min_peer_share > c.match.max_peer_share
          )
            ctx.addIssue({
              code: 'custom',
              message: 'min_peer_share is above max_peer_share: the class can match nothing',
              path: [i, 'match', 'min_peer_share'],
            });
          const both = (c.match.signals_present ?? []).filter((s) => c.match.signals_absent?.includes(s));
          if (both.length > 0)
            ctx.addIssue({
              code: 'custom',
              message: `${both.join(', ')} both present and absent: the class can match nothing`,
              path: [i, 'match', 'signals_absent'],
            });
        });
      }),
  })
  .strict();
export type AutomationPolicy = z.infer<typeof automationPolicySchema>;

/** What the predicates look at in one review item or past decision. */
export interface ItemFacts {
  recommendation: 'approve' | 'revoke' | 'escalate' | null;
  confidence: number | null;
  signals: readonly string[];
  /** `none`: the entitlement has no app. */
  usage: 'recent' | 'dormant' | 'never' | 'unknown' | 'none';
  birthright: boolean;
  peer_share: number | null;
  /** null: not known (a past decision whose grant is gone). */
  source: string | null;
  user_status: string;
  employee_type: string;
  privileged: boolean;
  sensitivity: string;
  entitlement_type: string;
  platform: string;
  app: string | null;
  risk_score: number;
  /**
   * Signals that could not be worked out (for a past decision: those with no history); a
   * predicate about them holds, so the backtest keeps the decision rather than drop it.
   */
  unknown_signals?: readonly string[];
}

const inList = <T>(list: readonly T[] | undefined, v: T): boolean => list === undefined || list.includes(v);

/** Whether every predicate of `m` holds for `f`. Unknown facts satisfy their predicates. */
export function matchesClass(m: ClassMatch, f: ItemFacts): boolean {
  const unknown = new Set(f.unknown_signals ?? []);
  const has = (s: string) => f.signals.includes(s);
  return (
    (m.recommendation === undefined ||
      (f.recommendation !== null && m.recommendation.includes(f.recommendation))) &&
    (m.min_confidence === undefined || (f.confidence ?? 0) >= m.min_confidence) &&
    (m.signals_present === undefined || m.signals_present.every((s) => has(s) || unknown.has(s))) &&
    (m.signals_absent === undefined || m.signals_absent.every((s) => !has(s))) &&
    inList(m.usage, f.usage) &&
    (m.birthright === undefined || m.birthright === f.birthright) &&
    (m.min_peer_share === undefined || (f.peer_share ?? 0) >= m.min_peer_share) &&
    (m.max_peer_share === undefined || (f.peer_share ?? 0) <= m.max_peer_share) &&
    (m.source === undefined || f.source === null || (m.source as string[]).includes(f.source)) &&
    inList(m.user_status as string[] | undefined, f.user_status) &&
    inList(m.employee_type as string[] | undefined, f.employee_type) &&
    (m.privileged === undefined || m.privileged === f.privileged) &&
    inList(m.sensitivity as string[] | undefined, f.sensitivity) &&
    inList(m.entitlement_type as string[] | undefined, f.entitlement_type) &&
    inList(m.platform as string[] | undefined, f.platform) &&
    (m.app === undefined || (f.app !== null && m.app.includes(f.app))) &&
    (m.min_risk === undefined || f.risk_score >= m.min_risk) &&
    (m.max_risk === undefined || f.risk_score <= m.max_risk)
  );
}

/** The index of the first class matching `f` (file order), or -1: an item no class takes is `suggest`. */
export function classify(classes: readonly PolicyClass[], f: ItemFacts): number {
  for (let i = 0; i < classes.length; i++) if (matchesClass(classes[i]!.match, f)) return i;
  return -1;
}

/**
 * The decision a class in `auto` takes on an item, or why it takes none: the engine's
 * recommendation when it is an approval (a revoke only with `allow_revoke`), never on an item
 * with a hard signal the class does not target, never on a self-review.
 */
export function automaticDecision(
  c: PolicyClass,
  f: ItemFacts,
): { decision: 'approve' | 'revoke' } | { skip: string } {
  const never = NEVER_AUTOMATED.find((s) => f.signals.includes(s));
  if (never) return { skip: `${never}: never decided by policy` };
  const hard = HARD_SIGNALS.find((s) => f.signals.includes(s) && !c.match.signals_present?.includes(s));
  if (hard) return { skip: `${hard}: a hard signal the class does not target` };
  if (f.recommendation === 'approve') return { decision: 'approve' };
  if (f.recommendation === 'revoke')
    return c.allow_revoke ? { decision: 'revoke' } : { skip: 'revoke: the class does not allow_revoke' };
  return { skip: `the engine recommends ${f.recommendation ?? 'nothing'}` };
}

/** A class's backtest on past human decisions. */
export interface ClassBacktest {
  /** Past decisions the class takes (first match). */
  class_decisions: number;
  /** Of those, the ones the class would have decided automatically (the precision's denominator). */
  decisions: number;
  /** Of those, the ones where the human decided the same. */
  agreed: number;
  precision: number | null;
  approvals: number;
  revokes: number;
}

/** The mode a class has in effect: `auto` only when configured so and its backtest clears its bar. */
export function effectiveMode(
  c: PolicyClass,
  b: ClassBacktest | null,
): { mode: AutomationMode; reason: string } {
  if (c.mode !== 'auto') return { mode: c.mode, reason: `configured ${c.mode}` };
  const bar = `bar: precision >= ${c.min_precision} on >= ${c.min_decisions} past decisions`;
  if (b === null) return { mode: 'suggest', reason: `no backtest (too few past decisions to fit); ${bar}` };
  const p = b.precision === null ? 'n/a' : b.precision.toFixed(4);
  if (b.decisions < c.min_decisions)
    return {
      mode: 'suggest',
      reason: `only ${b.decisions} past decisions the class would have taken (precision ${p}); ${bar}`,
    };
  if (b.precision === null || b.precision < c.min_precision)
    return { mode: 'suggest', reason: `precision ${p} on ${b.decisions} past decisions; ${bar}` };
  return { mode: 'auto', reason: `precision ${p} on ${b.decisions} past decisions clears the ${bar}` };
}
