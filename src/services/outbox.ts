import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { ApplyOutcome, DecisionToApply, IdentityConnector } from '../connectors/types.js';
import type { Platform } from '../domain/index.js';
import type { Auditor } from '../policy/audit.js';
import { type SharedReview, type SharedState, storeState } from '../store/backend.js';
import type { OutboxWork } from '../store/decisions.js';
import { Store } from '../store/store.js';
import { crashPoint } from './faults.js';

export type ConnectorFor = (platform: Platform) => IdentityConnector | null;

export interface OutboxRun {
  applied: number;
  failed: number;
  retry: number;
}

export interface OutboxOptions {
  now?: () => Date;
  /** Where each row's outcome is recorded, in the transaction that records its effects. */
  auditor?: Auditor | null;
  /** How long this worker holds the rows it claims (default 5 minutes). */
  leaseMs?: number;
  /** Names this worker in its claims (default: the process id and a random suffix). */
  worker?: string;
  /** Who an escalated item goes to when its entitlement and app have no owner (config escalationReviewer). */
  escalationReviewer?: string | null;
}

/**
 * Test-only fault injection: ATTEST_FAULT_KILL=<stage>:<n> kills the process with
 * SIGKILL at that stage of the n-th outbox row (stage `after-platform`: the platform
 * call returned but nothing is committed locally; `after-commit`: the row is done).
 */
function faultPoint(stage: 'after-platform' | 'after-commit', n: number): void {
  crashPoint(`outbox:${stage}`);
  const spec = process.env.ATTEST_FAULT_KILL;
  if (!spec) return;
  const [s, count] = spec.split(':');
  if (s === stage && Number(count) === n) process.kill(process.pid, 'SIGKILL');
}

let processed = 0;

/**
 * Applies every pending outbox row this worker can claim: the platform write (idempotent,
 * keyed by the proposal id), then the local effects and the row's audit entry in one
 * transaction that also marks the row done. Rows are claimed with a lease first, so two
 * workers (a server draining while a human runs `attest confirm`) never both call the
 * platform for one row; a worker killed mid-row leaves a lease that runs out, and the next
 * worker finishes the row. Local effects are guarded by the row's status, the platform by
 * its idempotency key.
 */
export async function runOutbox(
  store: Store | SharedState,
  connectorFor: ConnectorFor,
  options: OutboxOptions = {},
): Promise<OutboxRun> {
  const now = options.now ?? (() => new Date());
  const leaseMs = options.leaseMs ?? 300_000;
  const worker = options.worker ?? `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const shared = store instanceof Store ? storeState(store) : store;
  const repo = shared.outbox;
  const review = shared.review;
  const run: OutboxRun = { applied: 0, failed: 0, retry: 0 };
  // A row that failed and may succeed later is released for the next run; this run does not take it again.
  const retried: number[] = [];
  try {
    await drain();
  } finally {
    await repo.releaseClaims(worker);
  }
  return run;

  async function drain(): Promise<void> {
    for (;;) {
      const t = now();
      const work = await repo.claimWork(
        worker,
        t,
        new Date(t.getTime() + leaseMs),
        100,
        retried,
        workerAlive,
      );
      if (work.length === 0) break;
      const batched = await applyBatches(work, connectorFor, review);
      for (const w of work) {
        const outcome = await applyOne(w, connectorFor(w.platform), review, batched.get(w.outbox_id));
        processed++;
        faultPoint('after-platform', processed);
        // The row's audit entry, appended by the store in the transaction of its effects.
        const auditor = options.auditor;
        const record = (result: string, error: string | null, extra: Record<string, unknown>) => () =>
          auditor!.entry({
            at: now().toISOString(),
            principal: w.submitted_by,
            client: null,
            session_id: null,
            transport: 'outbox',
            tool: 'outbox:apply',
            kind: 'write',
            arguments: { proposal_id: w.proposal_id, item_id: w.item_id, decision: w.decision },
            outcome: result === 'applied' ? 'ok' : 'error',
            error,
            duration_ms: 0,
            details: {
              result,
              platform: w.platform,
              confirmation: {
                id: w.confirmation_id,
                channel: w.channel,
                assurance: w.assurance,
                confirmed_by: w.confirmed_by,
              },
              ...extra,
            },
          });
        if (outcome.kind === 'failed') {
          await repo.failWork(
            w.outbox_id,
            outcome.error,
            outcome.retryable,
            auditor ? record(outcome.retryable ? 'retry' : 'failed', outcome.error, {}) : undefined,
          );
          if (outcome.retryable) {
            run.retry++;
            retried.push(w.outbox_id);
          } else run.failed++;
          continue;
        }
        const escalateTo =
          w.decision === 'escalate' ? await secondLevel(review, w, options.escalationReviewer ?? null) : null;
        if (
          await repo.completeWork(
            w,
            { platform_ref: outcome.platform_ref, remediation: outcome.remediation, escalateTo },
            now(),
            auditor
              ? record('applied', null, {
                  platform_ref: outcome.platform_ref,
                  remediation: outcome.remediation,
                  ...(w.decision === 'escalate' ? { escalated_to: escalateTo } : {}),
                })
              : undefined,
          )
        )
          run.applied++;
        faultPoint('after-commit', processed);
      }
    }
  }
}

/**
 * Whether the worker named in a claim still runs: a worker of another machine is assumed
 * to (its lease runs out if not); one of this machine is alive while its process is.
 */
export function workerAlive(worker: string): boolean {
  const [host, pid] = worker.split('/');
  if (host !== hostname() || !pid || !/^\d+$/.test(pid)) return true;
  if (Number(pid) === process.pid) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The second-level reviewer of an escalated item: the entitlement's owner, else the owner
 * of the app it grants, else the configured escalation reviewer; never the item's own user.
 */
async function secondLevel(
  review: SharedReview,
  w: OutboxWork,
  fallback: string | null,
): Promise<string | null> {
  const candidates = [
    w.entitlement_owner_id,
    w.entitlement_app ? await review.appOwner(w.entitlement_app) : null,
    fallback,
  ];
  for (const c of candidates) if (c && c !== w.user_id) return c;
  return null;
}

type Applied =
  | {
      kind: 'done';
      platform_ref: string | null;
      remediation: { status: 'done' | 'pending' | 'failed' | 'manual'; detail: string | null } | null;
    }
  | { kind: 'failed'; error: string; retryable: boolean };

/** Whether a row's decision goes to the platform's review (an escalation only where the review can record it). */
const writesBack = (w: OutboxWork, connector: IdentityConnector | null) =>
  !!connector?.writeBack &&
  !isLocal(w) &&
  (w.decision !== 'escalate' || connector.writeBack.decisions.includes('escalate'));

/** A campaign Attest created itself has no review on the platform. */
const isLocal = (w: OutboxWork) =>
  (JSON.parse(w.campaign_attributes || '{}') as { origin?: string }).origin === 'attest';

async function decisionOf(w: OutboxWork, review: SharedReview): Promise<DecisionToApply> {
  return {
    item_external_id: w.item_external_id,
    campaign_external_id: w.campaign_external_id,
    item_coordinates: await review.itemCoordinates(w.item_id),
    idempotency_key: w.proposal_id,
    user_external_id: w.user_external_id,
    entitlement_external_id: w.entitlement_external_id,
    entitlement_type: w.entitlement_type,
    decision: w.decision,
    rationale: w.rationale,
    proposed_by: w.proposed_by,
    confirmed_by: w.confirmed_by,
    channel: w.channel,
    engine_recommended: w.engine_decision === w.decision,
  };
}

/**
 * Where a platform takes decisions in bulk (`writeBack.applyBatch`), the claimed rows of each
 * platform are recorded there in one call, each row keeping its own outcome. The rows are then
 * completed one by one as usual; a process killed in between re-applies them, which the
 * connector's idempotency (it reads the item first) makes harmless.
 */
async function applyBatches(
  work: OutboxWork[],
  connectorFor: ConnectorFor,
  review: SharedReview,
): Promise<Map<number, ApplyOutcome>> {
  const out = new Map<number, ApplyOutcome>();
  const byPlatform = new Map<Platform, OutboxWork[]>();
  for (const w of work) {
    const c = connectorFor(w.platform);
    if (!c?.writeBack?.applyBatch || !writesBack(w, c)) continue;
    byPlatform.set(w.platform, [...(byPlatform.get(w.platform) ?? []), w]);
  }
  for (const [platform, rows] of byPlatform) {
    if (rows.length < 2) continue;
    let outcomes: ApplyOutcome[];
    try {
      const decisions = await Promise.all(rows.map((w) => decisionOf(w, review)));
      outcomes = await connectorFor(platform)!.writeBack!.applyBatch!(decisions);
    } catch (e) {
      const error = e instanceof Error ? e.message : String(e);
      outcomes = rows.map(() => ({ status: 'failed', retryable: true, error }));
    }
    rows.forEach((w, i) => {
      const o = outcomes[i];
      if (o) out.set(w.outbox_id, o);
    });
  }
  return out;
}

async function applyOne(
  w: OutboxWork,
  connector: IdentityConnector | null,
  review: SharedReview,
  /** The outcome of this row's decision when a bulk call already recorded it. */
  batched?: ApplyOutcome,
): Promise<Applied> {
  // An escalation reaches the platform only where its review can record "don't know".
  const local = isLocal(w);
  if (w.decision === 'escalate' && (local || !connector?.writeBack?.decisions.includes('escalate'))) {
    return { kind: 'done', platform_ref: null, remediation: null };
  }
  if (!connector) {
    return {
      kind: 'failed',
      error: `no connector is configured for platform ${w.platform}`,
      retryable: true,
    };
  }
  const item = {
    item_external_id: w.item_external_id,
    campaign_external_id: w.campaign_external_id,
    item_coordinates: await review.itemCoordinates(w.item_id),
  };
  // Without write-back (a snapshot) the decision is recorded in the store alone.
  let decided: ApplyOutcome = { status: 'done', platform_ref: null };
  try {
    if (batched) decided = batched;
    else if (connector.writeBack && !local)
      decided = await connector.writeBack.apply(await decisionOf(w, review));
  } catch (e) {
    return { kind: 'failed', error: e instanceof Error ? e.message : String(e), retryable: true };
  }
  if (decided.status === 'failed')
    return { kind: 'failed', error: decided.error, retryable: decided.retryable };
  let remediation: { status: 'done' | 'pending' | 'failed' | 'manual'; detail: string | null } | null = null;
  if (w.decision === 'revoke') {
    const byPlatform = local ? null : (connector.remediation?.byPlatform?.(item) ?? null);
    if (byPlatform !== null) {
      remediation = { status: 'pending', detail: byPlatform };
    } else if (!connector.remediation) {
      remediation = { status: 'manual', detail: 'remove this access by hand; the platform connector cannot' };
    } else {
      try {
        const r = await connector.remediation.remove({
          idempotency_key: `${w.proposal_id}:remediate`,
          user_external_id: w.user_external_id,
          entitlement_external_id: w.entitlement_external_id,
          entitlement_type: w.entitlement_type,
          entitlement_attributes: JSON.parse(w.entitlement_attributes || '{}') as Record<string, string>,
        });
        remediation =
          r.status === 'failed'
            ? r.retryable
              ? null
              : { status: 'failed', detail: r.error }
            : { status: 'done', detail: r.detail ?? null };
        if (r.status === 'failed' && r.retryable) return { kind: 'failed', error: r.error, retryable: true };
      } catch (e) {
        return { kind: 'failed', error: e instanceof Error ? e.message : String(e), retryable: true };
      }
    }
  }
  return { kind: 'done', platform_ref: decided.platform_ref, remediation };
}
