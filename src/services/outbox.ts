import type { ApplyOutcome, IdentityConnector } from '../connectors/types.js';
import type { Platform } from '../domain/index.js';
import { DecisionsRepo, type OutboxWork } from '../store/decisions.js';
import type { Store } from '../store/store.js';

export type ConnectorFor = (platform: Platform) => IdentityConnector | null;

export interface OutboxRun {
  applied: number;
  failed: number;
  retry: number;
}

/**
 * Test-only fault injection: ATTEST_FAULT_KILL=<stage>:<n> kills the process with
 * SIGKILL at that stage of the n-th outbox row (stage `after-platform`: the platform
 * call returned but nothing is committed locally; `after-commit`: the row is done).
 */
function faultPoint(stage: 'after-platform' | 'after-commit', n: number): void {
  const spec = process.env.ATTEST_FAULT_KILL;
  if (!spec) return;
  const [s, count] = spec.split(':');
  if (s === stage && Number(count) === n) process.kill(process.pid, 'SIGKILL');
}

let processed = 0;

/**
 * Applies every pending outbox row: the platform write (idempotent, keyed by the
 * proposal id), then the local effects in one transaction that also marks the row
 * done. Killed at any point, a rerun applies each confirmed decision exactly once:
 * local effects are guarded by the row's status, the platform by its idempotency key.
 */
export async function runOutbox(
  store: Store,
  connectorFor: ConnectorFor,
  now: () => Date = () => new Date(),
): Promise<OutboxRun> {
  const repo = new DecisionsRepo(store.db);
  const run: OutboxRun = { applied: 0, failed: 0, retry: 0 };
  const seen = new Set<number>();
  for (;;) {
    const work = repo.pendingWork(100).filter((w) => !seen.has(w.outbox_id));
    if (work.length === 0) break;
    for (const w of work) {
      seen.add(w.outbox_id);
      const outcome = await applyOne(w, connectorFor(w.platform), store);
      processed++;
      faultPoint('after-platform', processed);
      if (outcome.kind === 'failed') {
        repo.failWork(w.outbox_id, outcome.error, outcome.retryable);
        if (outcome.retryable) run.retry++;
        else run.failed++;
        continue;
      }
      if (
        repo.completeWork(w, { platform_ref: outcome.platform_ref, remediation: outcome.remediation }, now())
      )
        run.applied++;
      faultPoint('after-commit', processed);
    }
  }
  return run;
}

type Applied =
  | {
      kind: 'done';
      platform_ref: string | null;
      remediation: { status: 'done' | 'pending' | 'failed' | 'manual'; detail: string | null } | null;
    }
  | { kind: 'failed'; error: string; retryable: boolean };

async function applyOne(w: OutboxWork, connector: IdentityConnector | null, store: Store): Promise<Applied> {
  // An escalation reaches the platform only where its review can record "don't know".
  if (w.decision === 'escalate' && !connector?.writeBack?.decisions.includes('escalate')) {
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
    item_coordinates: store.itemPlatformDetails(w.item_id)?.coordinates ?? {},
  };
  // Without write-back (a snapshot) the decision is recorded in the store alone.
  let decided: ApplyOutcome = { status: 'done', platform_ref: null };
  try {
    if (connector.writeBack)
      decided = await connector.writeBack.apply({
        ...item,
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
      });
  } catch (e) {
    return { kind: 'failed', error: e instanceof Error ? e.message : String(e), retryable: true };
  }
  if (decided.status === 'failed')
    return { kind: 'failed', error: decided.error, retryable: decided.retryable };
  let remediation: { status: 'done' | 'pending' | 'failed' | 'manual'; detail: string | null } | null = null;
  if (w.decision === 'revoke') {
    const byPlatform = connector.remediation?.byPlatform?.(item) ?? null;
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
