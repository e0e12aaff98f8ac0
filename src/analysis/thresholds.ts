/**
 * Every number the analysis uses, in one place, with the reason for its value.
 *
 * The values follow common access-review practice (quarterly dormancy, peer analysis with
 * small-sample correction, a confidence floor below which a human decides). Callers may
 * override any field: `{ ...defaultThresholds, dormantDays: 60 }`.
 */

/** How sure each rule is of its own recommendation, before any learned model is blended in. */
export interface RuleCertainties {
  /**
   * Terminated or deprovisioned user still assigned: there is no legitimate holder left, so
   * revoking is almost always right (0.97, not 1, because HR feeds can lag a rehire).
   */
  orphaned: number;
  /**
   * Contractor whose contract end date has passed: revoke unless the contract was extended
   * and HR has not caught up, which happens now and then (0.95).
   */
  contractorExpired: number;
  /**
   * Dormant privileged access: standing admin rights that are not used are pure exposure;
   * break-glass accounts are the known exception (0.88).
   */
  dormantPrivileged: number;
  /**
   * Access never used since it was granted, past the grace period: strong sign it is not
   * needed (0.85).
   */
  neverUsed: number;
  /**
   * A mover keeps access that peers in the new position do not hold: the classic
   * accumulation ("privilege creep") finding (0.85).
   */
  moverOutlier: number;
  /**
   * Another held entitlement already grants this one (its includes say so), or grants all it
   * grants: removing the direct assignment changes nothing for the user (0.9; not higher because
   * an include may be stale on the platform).
   */
  redundant: number;
  /**
   * Nearly every peer in the user's department and title holds it and no hard fact says
   * otherwise: approve (0.9).
   */
  approveBirthright: number;
  /** An inherited assignment whose only findings are soft: approved here, changed through its group (0.7). */
  approveInherited: number;
  /** Added per corroborating revoke reason beyond the first (two independent findings agree). */
  corroborationBonus: number;
  /** No revoke reason and nothing suspicious: the starting confidence of an approval. */
  approveBase: number;
  /** Added to an approval when peers clearly hold the access too (scaled by how clearly). */
  approvePeerSupportBonus: number;
  /** Added to an approval when the app was used within the dormancy window. */
  approveRecentUseBonus: number;
  /** Taken off an approval of dormant (non-privileged) access: unused access is a standing risk. */
  approveDormantPenalty: number;
  /** Taken off an approval when there are too few peers to compare with. */
  approveSparsePenalty: number;
  /** Taken off an approval of privileged access: mistakes there cost more. */
  approvePrivilegedPenalty: number;
  /** Taken off an approval for a mover whose new peers do hold the access (it may be a leftover). */
  approveMoverPenalty: number;
  /** Escalation because of a separation-of-duties conflict where either side could go. */
  escalateSod: number;
  /** Escalation because the facts point in different directions. */
  escalateConflict: number;
  /** Escalation because the only finding is a peer outlier (weak on its own). */
  escalateOutlierOnly: number;
  /** Escalation because the learned probability sits near the decision boundary. */
  escalateBoundary: number;
  /** Escalation because no rule was confident enough. */
  escalateLowConfidence: number;
}

/** Thresholds and tuning constants for the recommendation engine. */
export interface AnalysisThresholds {
  /**
   * Days without use of the entitlement's app after which access is dormant, and the age a grant
   * must reach before never using it counts as `never_used`. 90 days covers a full quarter, so
   * month-end and quarter-end processes are not flagged and new joiners get time to start.
   */
  dormantDays: number;
  /**
   * z of the Wilson score interval used for every peer prevalence: 1.96 is a 95% two-sided
   * interval, so 2 of 2 peers reads as at least 34%, not 100%.
   */
  wilsonZ: number;
  /**
   * The largest share of a strong peer cohort (department, title, manager) that may hold an
   * entitlement for the user still to be a peer outlier. 5% is "almost no one": 2 of 41.
   */
  peerOutlierMaxPrevalence: number;
  /**
   * Smallest strong cohort (excluding the user) whose lack of holders counts as evidence. With
   * fewer than 5 peers, no holders is as likely chance as a finding (Wilson upper bound of 0 of 4
   * is still 49%).
   */
  peerMinStrongCohort: number;
  /**
   * Smallest weak cohort (location, extra attributes) whose prevalence is considered at all.
   * Weak cohorts mix departments, so they need more members before they mean anything.
   */
  peerMinWeakCohort: number;
  /**
   * Wilson lower bound at which a weak cohort on its own blocks outlier status: only when a clear
   * majority of, say, a location holds the access. A department-specific group held by 8-10% of a
   * mixed location does not block.
   */
  peerWeakBlockPrevalence: number;
  /**
   * Wilson lower bound of peer prevalence at which peers count as holding the access too (support
   * for approval). 0.3 admits 2 of 2 title peers (0.34) and 33 of 40 department peers (0.68), but
   * not 1 of 1 (0.21).
   */
  peerSupportedPrevalence: number;
  /**
   * Confidence below which a recommendation becomes `escalate`: under 0.6 the engine is barely
   * better than a coin toss and a human should decide.
   */
  escalateConfidenceFloor: number;
  /**
   * Learned revoke probability at or above which the model alone recommends revoke when no rule
   * fires. 0.5: the model's probabilities come from out-of-fold target statistics and are close to
   * calibrated, so above one half a revoke is the likelier human answer; 0.7 missed most of the
   * revokes humans made (recall 4% against 16% in shadow runs) for a small gain in precision.
   */
  learnedRevokeThreshold: number;
  /**
   * Learned revoke probability at or above which (and below the revoke threshold) the item is
   * escalated as near the boundary. With ~6% revokes in real histories, 0.25 is already four times
   * the base rate.
   */
  learnedEscalateThreshold: number;
  /**
   * Weight of the learned model when blended with a rule's certainty (0..1). 0.3: rules carry the
   * decision, history adjusts how sure we are.
   */
  learnedWeight: number;
  /**
   * Strength m of the m-estimate used for target encoding: a category seen m times is trusted
   * half-way between its own revoke rate and the overall rate. 10 suits review histories where
   * most categories are seen a handful of times.
   */
  encodingSmoothing: number;
  /**
   * Folds used inside training to compute target encodings out-of-fold, so that no row's own
   * label leaks into its features.
   */
  encodingFolds: number;
  /** L2 penalty of the logistic regression on the encoded log-odds (keeps weights stable). */
  modelL2: number;
  /** Maximum Newton (IRLS) iterations of the logistic regression; it converges in well under 25. */
  modelMaxIterations: number;
  /**
   * Share of peers (department and title together, or the whole department) that must hold an
   * entitlement for it to count as a birthright: 0.9, "nearly every peer".
   */
  birthrightPrevalence: number;
  /** Fewest peers (the user excluded) a cohort needs before its prevalence can make a birthright. */
  birthrightMinPeers: number;
  /**
   * Training weight of a decision that went against the engine's recommendation (an override):
   * 3, so a campaign's overrides move the next refit on the same entitlements and cohorts.
   */
  overrideWeight: number;
  /** Precision on approvals the shadow report keeps when measuring auto-approve coverage. */
  autoApprovePrecision: number;
  /** Number of equal-width confidence buckets in the shadow report's reliability table. */
  reliabilityBuckets: number;
  /** How sure each rule is of itself. */
  rules: RuleCertainties;
}

/** The defaults; see each field for the reasoning. */
export const defaultThresholds: Readonly<AnalysisThresholds> = Object.freeze({
  dormantDays: 90,
  wilsonZ: 1.96,
  peerOutlierMaxPrevalence: 0.05,
  peerMinStrongCohort: 5,
  peerMinWeakCohort: 10,
  peerWeakBlockPrevalence: 0.5,
  peerSupportedPrevalence: 0.3,
  escalateConfidenceFloor: 0.6,
  learnedRevokeThreshold: 0.5,
  learnedEscalateThreshold: 0.25,
  learnedWeight: 0.3,
  encodingSmoothing: 10,
  encodingFolds: 5,
  modelL2: 1,
  modelMaxIterations: 25,
  birthrightPrevalence: 0.9,
  birthrightMinPeers: 5,
  overrideWeight: 3,
  autoApprovePrecision: 0.99,
  reliabilityBuckets: 10,
  rules: Object.freeze({
    orphaned: 0.97,
    contractorExpired: 0.95,
    dormantPrivileged: 0.88,
    neverUsed: 0.85,
    moverOutlier: 0.85,
    redundant: 0.9,
    approveBirthright: 0.9,
    approveInherited: 0.7,
    corroborationBonus: 0.03,
    approveBase: 0.75,
    approvePeerSupportBonus: 0.12,
    approveRecentUseBonus: 0.08,
    approveDormantPenalty: 0.2,
    approveSparsePenalty: 0.1,
    approvePrivilegedPenalty: 0.08,
    approveMoverPenalty: 0.05,
    escalateSod: 0.75,
    escalateConflict: 0.65,
    escalateOutlierOnly: 0.6,
    escalateBoundary: 0.55,
    escalateLowConfidence: 0.5,
  }),
});
