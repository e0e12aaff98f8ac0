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
  /** The user moved out of the department the entitlement belongs to (false: moved into it). */
  hrMoveAwayFromEntitlementDept?: boolean;
  /** The learned model's top factors for this item (see `explainTopFactors`), quoted in the rationale. */
  learnedFactors?: Factor[];
  evidence: Evidence[];
}

/** The engine's recommendation. */
export interface RecommendationResult {
  decision: DecisionValue;
  /** 0..1; the caller calibrates it when a model exists. */
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
  const topFactor = facts.learnedFactors?.[0];
  const factorNote = topFactor
    ? ` (${topFactor.feature} ${topFactor.values.map((v) => v ?? '(none)').join(' / ')}: ` +
      `${percent(topFactor.revoke_rate)} revoked over ${topFactor.seen} decisions)`
    : '';
  const learnedFact =
    learned === null ? null : `past decisions put the chance of a revoke at ${percent(learned)}${factorNote}`;

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
    return finish('revoke', Math.min(c, 0.99), hard[0]!.sentence, [
      ...hard.slice(1).map((h) => h.phrase),
      usage,
    ]);
  }

  // 2. Revoke reasons.
  const soft: Reason[] = [];
  const moverDetail = detailOf('mover');
  const moverPhrase = moverDetail ? `moved: ${phrase(moverDetail)}` : 'moved to another position';
  const moverConflict = mover && outlier && facts.hrMoveAwayFromEntitlementDept === false;
  if (mover && outlier && !moverConflict) {
    soft.push({
      certainty: r.moverOutlier,
      sentence: sentence(`${upperFirst(moverPhrase)}, and peers in the new position do not hold this access`),
      phrase: `${moverPhrase}, and new peers do not hold it`,
    });
  }
  if (dormant && privileged) {
    const d = usage ?? `no recent use of ${target}`;
    soft.push({
      certainty: r.dormantPrivileged,
      sentence: sentence(`Privileged access unused: ${d}`),
      phrase: `privileged access unused: ${d}`,
      aboutUsage: true,
    });
  }
  if (codes.has('never_used')) {
    const d = detailOf('never_used') ?? `No recorded use of ${target} since the grant`;
    soft.push({ certainty: r.neverUsed, sentence: sentence(d), phrase: phrase(d), aboutUsage: true });
  }
  if (codes.has('redundant')) {
    const d = detailOf('redundant') ?? `another held entitlement grants the same access to ${target}`;
    soft.push({
      certainty: r.redundant,
      sentence: sentence(`Redundant: ${d}`),
      phrase: `redundant: ${phrase(d)}`,
    });
  }
  if (soft.length > 0) {
    soft.sort((a, b) => b.certainty - a.certainty);
    const base = Math.min(0.97, soft[0]!.certainty + r.corroborationBonus * (soft.length - 1));
    const c = blend(base, learned);
    const mentionsUsage = soft.some((s) => s.aboutUsage === true);
    const support = [
      ...soft.slice(1).map((s) => s.phrase),
      mentionsUsage ? null : usage,
      peerFact,
      sod ? 'revoking it also resolves the separation-of-duties conflict' : null,
      learnedFact,
    ];
    if (c < t.escalateConfidenceFloor) {
      return finish(
        'escalate',
        r.escalateConflict,
        learned !== null && learned < 0.5
          ? `Rules point to revoking (${soft[0]!.phrase}), but past decisions on similar access were approvals`
          : `Rules point to revoking (${soft[0]!.phrase}), but not with enough confidence`,
        support,
      );
    }
    return finish('revoke', c, soft[0]!.sentence, support);
  }

  // 3. No revoke reason: escalate what needs a human, approve the rest.
  if (sod) {
    const d = detailOf('sod_conflict') ?? 'Separation-of-duties conflict';
    return finish('escalate', r.escalateSod, `${phrase(d)}: either side of the conflict could go`, [
      usage,
      peerFact,
      learnedFact,
    ]);
  }
  if (moverConflict) {
    return finish(
      'escalate',
      r.escalateConflict,
      `${upperFirst(moverPhrase)}; the access belongs to the new department, yet new peers do not hold it`,
      [peerFact, usage, learnedFact],
    );
  }
  if (outlier) {
    return finish(
      'escalate',
      r.escalateOutlierOnly,
      `Peer outlier with no other evidence: ${peerFact ?? 'almost no peers hold it'}`,
      [usage, learnedFact],
    );
  }
  if (learned !== null && learned >= t.learnedRevokeThreshold) {
    if (peerSupported && recentUse) {
      return finish(
        'escalate',
        r.escalateConflict,
        `Past decisions point to revoking (${percent(learned)}) but peers hold it and it is in use`,
        [peerFact, usage, learnedFact],
      );
    }
    return finish('revoke', learned, upperFirst(learnedFact!), [usage, peerFact]);
  }
  if (learned !== null && learned >= t.learnedEscalateThreshold) {
    return finish(
      'escalate',
      r.escalateBoundary,
      `Past decisions are split on similar access: ${percent(learned)} chance of a revoke${factorNote}`,
      [usage, peerFact],
    );
  }
  if (mover && facts.hrMoveAwayFromEntitlementDept === true && !peerSupported) {
    return finish(
      'escalate',
      r.escalateConflict,
      `${upperFirst(moverPhrase)}, out of the department this access belongs to; peers give no clear answer`,
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
    const lead = `No rule calls for revoking, but confidence in approving is low${why.length > 0 ? ` (${why.join(', ')})` : ''}`;
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
