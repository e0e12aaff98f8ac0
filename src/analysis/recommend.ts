/**
 * The recommendation for one review item: approve, revoke or escalate, how sure, and why.
 *
 * Rules decide; the learned model (when there is one) adjusts confidence and speaks alone only
 * when no rule applies. Conflicting facts and low confidence go to a human (escalate).
 *
 * Names and other entity text are copied into the rationale as data, by plain string
 * concatenation: they are never parsed, formatted or used to choose a branch.
 */
import type { DecisionValue, Evidence } from '../domain/index.js';
import type { Factor } from './model.js';
import type { PeerAssessment } from './peer-groups.js';
import { clamp } from './stats.js';
import type { AnalysisThresholds } from './thresholds.js';

/** Everything the engine knows about one review item. */
export interface ItemFacts {
  signals: Array<{ code: string; detail: string }>;
  entitlement: { name: string; app: string | null; privileged: boolean; sensitivity: string };
  user: { department: string | null; title: string | null; status: string; employee_type: string };
  /** Days since last use of the app, null = never. */
  lastUseDays: number | null;
  peer: PeerAssessment | null;
  /** Null when there is no model. */
  learnedRevokeProbability: number | null;
  /** The model's overall revoke rate: factors quoted must push the same way as the probability does from it. */
  learnedBaseRate?: number;
  /** The user moved out of the department the entitlement belongs to (false: moved into it). */
  hrMoveAwayFromEntitlementDept?: boolean;
  /** The learned model's top factors for this item (largest first), quoted in the rationale. */
  learnedFactors?: Factor[];
  /** How the user holds it: `direct`, or inherited (`group` / `rule`) through `via` when known. */
  assignment?: { source: string; via: { id: string; name: string } | null } | null;
  /** The held entitlement that already grants this access (the item is redundant with it). */
  redundantWith?: { id: string; name: string; kind: 'included' | 'covered' } | null;
  /** Nearly every peer of the user holds it (a birthright): the counts that say so. */
  birthright?: { holders: number; peers: number; cohort: string } | null;
  evidence: Evidence[];
}

/** The engine's recommendation. */
export interface RecommendationResult {
  decision: DecisionValue;
  /** 0..1; the learned probability it uses is calibrated by the model. */
  confidence: number;
  /** One or two sentences naming the facts, with numbers. */
  rationale: string;
  evidence: Evidence[];
}

interface Reason {
  certainty: number;
  /** A full sentence (ends with a period). */
  sentence: string;
  /** A short phrase for the supporting sentence. */
  phrase: string;
  /** The reason already states how the access was (not) used. */
  aboutUsage?: boolean;
}

function sentence(text: string): string {
  const trimmed = text.trim();
  return /[.!?]$/.test(trimmed) ? trimmed : `${trimmed}.`;
}

function phrase(text: string): string {
  return text.trim().replace(/[.]+$/, '');
}

function upperFirst(text: string): string {
  return text.length === 0 ? text : text.charAt(0).toUpperCase() + text.slice(1);
}

function percent(p: number): string {
  return `${Math.round(p * 100)}%`;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}

/** Recommends a decision for one item from its facts. Pure and deterministic. */
export function recommend(facts: ItemFacts, t: AnalysisThresholds): RecommendationResult {
  const r = t.rules;
  const ent = facts.entitlement;
  const codes = new Set(facts.signals.map((s) => s.code));
  const detailOf = (code: string): string | null => {
    const details = facts.signals.filter((s) => s.code === code).map((s) => s.detail.trim());
    return details.length > 0 && details.some((d) => d.length > 0) ? details.filter(Boolean).join(' ') : null;
  };
  const target = ent.app ?? ent.name;
  const privileged = ent.privileged || codes.has('privileged');
  const peer = facts.peer;
  const outlier = codes.has('peer_outlier') || peer?.outlier === true;
  const peerSupported = peer !== null && !outlier && peer.support >= t.peerSupportedPrevalence;
  const sparsePeers = peer === null || ((peer.sparse ?? peer.strongest === null) && !peerSupported);
  const lastUse = facts.lastUseDays;
  const dormant = codes.has('dormant') || (ent.app !== null && lastUse !== null && lastUse > t.dormantDays);
  const recentUse = ent.app !== null && lastUse !== null && lastUse <= t.dormantDays;
  const mover = codes.has('mover') || facts.hrMoveAwayFromEntitlementDept === true;
  const sod = codes.has('sod_conflict');
  const selfReview = codes.has('self_review');
  const birthright = facts.birthright ?? null;
  const inherited =
    facts.assignment !== null && facts.assignment !== undefined && facts.assignment.source !== 'direct';
  const via = facts.assignment?.via ?? null;
  const p = facts.learnedRevokeProbability;
  const learned = p !== null && Number.isFinite(p) ? clamp(p, 0, 1) : null;

  // Facts worth quoting, in order of usefulness.
  const usage =
    ent.app === null
      ? null
      : lastUse === null
        ? `no recorded use of ${ent.app}`
        : lastUse > t.dormantDays
          ? `no sign-in to ${ent.app} for ${lastUse} days`
          : `last sign-in to ${ent.app} ${lastUse} day${lastUse === 1 ? '' : 's'} ago`;
  const peerFact = peer ? phrase(peer.detail) : null;
  const birthrightFact = birthright
    ? `${birthright.holders} of ${birthright.peers} peers ${birthright.cohort} hold it`
    : null;
  // The factor quoted must push the way the probability leans from the base rate.
  const base = facts.learnedBaseRate ?? t.learnedEscalateThreshold;
  const leansRevoke = learned !== null && learned >= base;
  // ...and so must the revoke rate it quotes (a weight fitted jointly can point against its own rate).
  const topFactor = facts.learnedFactors?.find((f) =>
    leansRevoke
      ? f.direction === 'revoke' && f.revoke_rate >= base
      : f.direction === 'approve' && f.revoke_rate <= base,
  );
  const factorNote = topFactor
    ? ` (${topFactor.feature} ${topFactor.values.map((v) => v ?? '(none)').join(' / ')}: ` +
      `${percent(topFactor.revoke_rate)} revoked over ${topFactor.seen} decisions)`
    : '';
  const learnedFact =
    learned === null ? null : `past decisions put the chance of a revoke at ${percent(learned)}${factorNote}`;
  // What to change instead when the assignment is inherited.
  const viaNote = !inherited
    ? null
    : via
      ? `it comes via ${via.name} (${via.id}): remove the user from ${via.name} or change what it grants, not this assignment`
      : 'it is inherited through a group or rule that is not recorded: change that group or rule, not this assignment';

  const blend = (certainty: number, agreement: number | null): number =>
    agreement === null ? certainty : (1 - t.learnedWeight) * certainty + t.learnedWeight * agreement;

  const evidence: Evidence[] = [...facts.evidence];
  const kinds = new Set(evidence.map((e) => e.kind));
  if (peer && !kinds.has('peer_prevalence')) {
    evidence.push({ kind: 'peer_prevalence', value: peer.detail, source: 'peers', at: null });
  }
  if (learned !== null && !kinds.has('learned_revoke_probability')) {
    evidence.push({
      kind: 'learned_revoke_probability',
      value: round3(learned),
      source: 'decisions',
      at: null,
    });
  }

  const finish = (
    decision: DecisionValue,
    confidence: number,
    lead: string,
    support: Array<string | null>,
  ): RecommendationResult => {
    const extra = support.filter((s): s is string => s !== null && s.length > 0).slice(0, 3);
    const rationale =
      extra.length > 0 ? `${sentence(lead)} ${sentence(upperFirst(extra.join('; ')))}` : sentence(lead);
    return { decision, confidence: round3(clamp(confidence, 0, 1)), rationale, evidence };
  };
  // A revoke that overrides peers who nearly all hold the access says so.
  const overridesPeers = birthrightFact ? `this overrides the peers (${birthrightFact})` : null;

  // 1. Nobody legitimate holds this any more.
  const hard: Reason[] = [];
  if (codes.has('orphaned')) {
    const d = detailOf('orphaned') ?? `Still assigned although the user is ${facts.user.status}`;
    hard.push({ certainty: r.orphaned, sentence: sentence(d), phrase: phrase(d) });
  }
  if (codes.has('contractor_expired')) {
    const d = detailOf('contractor_expired') ?? 'Contractor whose contract has ended';
    hard.push({ certainty: r.contractorExpired, sentence: sentence(d), phrase: phrase(d) });
  }
  if (hard.length > 0) {
    const c = Math.max(...hard.map((h) => h.certainty)) + r.corroborationBonus * (hard.length - 1);
    const afterEnd = detailOf('use_after_end');
    return finish('revoke', Math.min(c, 0.99), hard[0]!.sentence, [
      afterEnd ? phrase(afterEnd) : null,
      viaNote,
      ...hard.slice(1).map((h) => h.phrase),
      afterEnd ? null : usage,
    ]);
  }

  // 2. Facts about this access that outweigh peers: a mover's old access, dormant privileged access.
  const moverDetail = detailOf('mover');
  const moverPhrase = moverDetail ? `moved: ${phrase(moverDetail)}` : 'moved to another position';
  const moverConflict = mover && outlier && facts.hrMoveAwayFromEntitlementDept === false;
  const strong: Reason[] = [];
  if (mover && outlier && !moverConflict) {
    strong.push({
      certainty: r.moverOutlier,
      sentence: sentence(`${upperFirst(moverPhrase)}, and peers in the new position do not hold this access`),
      phrase: `${moverPhrase}, and new peers do not hold it`,
    });
  }
  if (dormant && privileged) {
    const d = usage ?? `no recent use of ${target}`;
    strong.push({
      certainty: r.dormantPrivileged,
      sentence: sentence(`Privileged access unused: ${d}`),
      phrase: `privileged access unused: ${d}`,
      aboutUsage: true,
    });
  }
  const redundant =
    codes.has('redundant') && facts.redundantWith !== null && facts.redundantWith !== undefined;
  const keeper = facts.redundantWith ?? null;
  const redundantLead = keeper
    ? keeper.kind === 'included'
      ? `Redundant: ${keeper.name} (${keeper.id}), which the user also holds, already grants this access; removing the direct assignment leaves the access in place`
      : `Redundant: ${keeper.name} (${keeper.id}), which the user also holds, grants everything this one grants`
    : null;
  if (strong.length > 0) {
    strong.sort((a, b) => b.certainty - a.certainty);
    const base = Math.min(0.97, strong[0]!.certainty + r.corroborationBonus * (strong.length - 1));
    const c = Math.max(t.escalateConfidenceFloor, blend(base, learned));
    const mentionsUsage = strong.some((s) => s.aboutUsage === true);
    return finish('revoke', c, strong[0]!.sentence, [
      viaNote,
      overridesPeers,
      ...strong.slice(1).map((s) => s.phrase),
      mentionsUsage ? null : usage,
      birthrightFact ? null : peerFact,
      sod ? 'revoking it also resolves the separation-of-duties conflict' : null,
    ]);
  }

  // 3. Redundant direct grants go: the access stays through the kept entitlement.
  if (redundant && redundantLead && !inherited) {
    return finish('revoke', r.redundant, redundantLead, [
      sod ? 'revoking it also resolves the separation-of-duties conflict' : null,
      usage,
    ]);
  }

  // 4. Who reviews matters before what is decided.
  if (selfReview) {
    const d = detailOf('self_review') ?? 'The reviewer may not certify this access';
    return finish('escalate', r.escalateConflict, d, [usage, birthrightFact ?? peerFact]);
  }
  if (sod) {
    const d = detailOf('sod_conflict') ?? 'Separation-of-duties conflict';
    return finish('escalate', r.escalateSod, `${phrase(d)}: either side of the conflict could go`, [
      usage,
      peerFact,
      learnedFact,
    ]);
  }

  // 5. Birthright: nearly every peer holds it, and no hard fact says otherwise.
  if (birthright) {
    const soft = [
      codes.has('never_used') ? phrase(detailOf('never_used') ?? `no recorded use of ${target}`) : null,
      dormant ? usage : null,
      redundant && keeper ? `also granted by ${keeper.name} (${keeper.id})` : null,
    ].filter((x): x is string => x !== null);
    const c = Math.min(0.97, r.approveBirthright - (soft.length > 0 ? r.approveDormantPenalty / 2 : 0));
    return finish('approve', c, `Birthright access: ${birthrightFact}`, [
      soft.length > 0 ? `${soft.join('; ')}, which on its own does not outweigh the peers` : usage,
      viaNote ? `to change it, ${viaNote}` : null,
    ]);
  }

  // 6. Softer revoke reasons: unused access, redundancy of inherited access.
  const neverUsed = codes.has('never_used');
  if (inherited && (neverUsed || redundant)) {
    const what = neverUsed
      ? phrase(detailOf('never_used') ?? `no recorded use of ${target}`)
      : `redundant with ${keeper!.name} (${keeper!.id})`;
    return finish('approve', r.approveInherited, `No change to this assignment: ${viaNote}`, [
      `${what}`,
      peerFact,
    ]);
  }
  if (neverUsed) {
    const d = detailOf('never_used') ?? `No recorded use of ${target} since the grant`;
    const c = blend(r.neverUsed, learned);
    if (c < t.escalateConfidenceFloor) {
      return finish(
        'escalate',
        r.escalateConflict,
        `Unused (${phrase(d)}), but past decisions on similar access were approvals: ask the user's manager whether it is still needed`,
        [peerSupported ? null : peerFact, learnedFact],
      );
    }
    return finish('revoke', c, d, [peerSupported ? null : peerFact, learnedFact]);
  }

  // 7. No revoke reason: escalate what needs a human, approve the rest.
  if (moverConflict) {
    return finish(
      'escalate',
      r.escalateConflict,
      `${upperFirst(moverPhrase)}; the access belongs to the new department, yet new peers do not hold it: ask the new manager`,
      [peerFact, usage, learnedFact],
    );
  }
  if (outlier) {
    if (learned !== null && learned >= t.learnedRevokeThreshold) {
      return finish('revoke', Math.max(learned, t.escalateConfidenceFloor), `Peer outlier: ${peerFact}`, [
        learnedFact,
        usage,
      ]);
    }
    return finish(
      'escalate',
      r.escalateOutlierOnly,
      `Peer outlier with no other evidence: ${peerFact ?? 'almost no peers hold it'}; ask the user's manager whether the job needs it`,
      [usage, learnedFact],
    );
  }
  if (learned !== null && learned >= t.learnedRevokeThreshold) {
    if (peerSupported && recentUse) {
      return finish(
        'escalate',
        r.escalateConflict,
        `Past decisions point to revoking (${percent(learned)}) but peers hold it and it is in use: ask the user's manager`,
        [peerFact, usage, learnedFact],
      );
    }
    return finish('revoke', Math.max(learned, t.escalateConfidenceFloor), upperFirst(learnedFact!), [
      usage,
      peerSupported ? null : peerFact,
    ]);
  }
  if (learned !== null && learned >= t.learnedEscalateThreshold && !(peerSupported && recentUse)) {
    return finish(
      'escalate',
      r.escalateBoundary,
      `Past decisions are split on similar access: ${percent(learned)} chance of a revoke${factorNote}; ask the user's manager whether it is needed`,
      [usage, peerFact],
    );
  }
  if (mover && facts.hrMoveAwayFromEntitlementDept === true && !peerSupported) {
    return finish(
      'escalate',
      r.escalateConflict,
      `${upperFirst(moverPhrase)}, out of the department this access belongs to; peers give no clear answer: ask the new manager`,
      [peerFact, usage, learnedFact],
    );
  }

  let c = r.approveBase;
  if (peerSupported) c += r.approvePeerSupportBonus;
  if (sparsePeers) c -= r.approveSparsePenalty;
  if (recentUse) c += r.approveRecentUseBonus;
  if (dormant) c -= r.approveDormantPenalty;
  if (privileged) c -= r.approvePrivilegedPenalty;
  if (mover) c -= r.approveMoverPenalty;
  c = Math.min(0.97, blend(c, learned === null ? null : 1 - learned));
  const support = [usage, peerFact, learnedFact];
  if (c < t.escalateConfidenceFloor - 1e-9) {
    const why = [
      dormant ? 'the access is dormant' : null,
      sparsePeers ? 'there are too few peers to compare with' : null,
      privileged ? 'it is privileged' : null,
      mover ? 'the user moved' : null,
    ].filter((w): w is string => w !== null);
    const lead = `No rule calls for revoking, but confidence in approving is low${why.length > 0 ? ` (${why.join(', ')})` : ''}: ask the user's manager whether it is needed`;
    return finish('escalate', r.escalateLowConfidence, lead, support);
  }
  const lead = peerSupported
    ? `Consistent with peers: ${peerFact}`
    : recentUse
      ? `In use: ${usage}`
      : `No sign of excess access to ${target}`;
  return finish(
    'approve',
    c,
    lead,
    peerSupported ? [usage, learnedFact] : recentUse ? [peerFact, learnedFact] : support,
  );
}
