import type { Config } from '../config.js';
import { ToolError } from '../errors.js';
import { type ConfirmationRow, DecisionsRepo, type ProposalRow } from '../store/decisions.js';
import type { ItemRow, Store } from '../store/store.js';
import type { AskHuman, Principal } from '../tools/define.js';

export interface SubmitResult {
  status: 'applied' | 'awaiting_confirmation' | 'rejected';
  results: Array<{
    proposal_id: string;
    item_id: string;
    status: 'applied' | 'awaiting_confirmation' | 'rejected' | 'failed' | 'pending';
    platform_ref?: string | null;
    error?: string;
  }>;
  confirmation: {
    id: string;
    channel: string;
    url?: string;
    expires_at?: string;
    instructions?: string;
  } | null;
  message: string;
}

export interface SubmitDeps {
  store: Store;
  config: Config;
  now: () => Date;
  principal: Principal;
  askHuman: AskHuman | null;
  applyOutbox: () => Promise<void>;
  auditDetail: (d: Record<string, unknown>) => void;
}

function visible(principal: Principal, item: ItemRow): boolean {
  return (
    principal.role === 'admin' ||
    (item.reviewer_id !== null && principal.reviewer_ids.includes(item.reviewer_id))
  );
}

interface Loaded {
  proposal: ProposalRow;
  item: ItemRow;
}

/** Loads and checks a batch; throws a ToolError naming the first proposal that cannot go ahead. */
function loadBatch(deps: SubmitDeps, ids: string[]): Loaded[] {
  const repo = new DecisionsRepo(deps.store.db);
  const out: Loaded[] = [];
  for (const id of ids) {
    const proposal = repo.proposal(id);
    if (!proposal) {
      throw new ToolError(
        `proposal_ids: no proposal "${id}". No decision was recorded. Use the proposal_id returned by propose_decision.`,
        'not_found',
      );
    }
    const item = deps.store.getItem(proposal.item_id)!;
    if (!visible(deps.principal, item)) {
      throw new ToolError(
        `proposal_ids: proposal "${id}" is for item ${item.item_id}, which is not assigned to you. No decision was recorded.`,
        'forbidden',
      );
    }
    out.push({ proposal, item });
  }
  return out;
}

/** The items of a batch shown to the human: user, entitlement, decision, rationale and risk. */
export function describeBatch(batch: Loaded[]): string {
  return batch
    .map(({ proposal: p, item: i }, n) => {
      const who = `${i.user.name ?? i.user.id} <${i.user.email ?? i.user.id}>`;
      const what = `${i.entitlement.name}${i.entitlement.app ? ` (${i.entitlement.app})` : ''}`;
      const signals = i.signals.map((s) => s.code).join(', ') || 'none';
      return `${n + 1}. ${p.decision.toUpperCase()} ${what} for ${who}; risk ${i.risk_score} (${signals}); rationale: ${JSON.stringify(p.rationale)}`;
    })
    .join('\n');
}

function resultsFrom(
  store: Store,
  ids: string[],
  status: SubmitResult['results'][number]['status'],
): SubmitResult['results'] {
  const repo = new DecisionsRepo(store.db);
  const outbox = new Map(repo.outboxFor(ids).map((o) => [o.proposal_id, o]));
  return ids.map((id) => {
    const p = repo.proposal(id)!;
    const o = outbox.get(id);
    if (o) {
      const s = o.status === 'done' ? 'applied' : o.status === 'failed' ? 'failed' : 'pending';
      const error =
        o.last_error && s !== 'applied'
          ? o.last_error
          : o.remediation_status === 'failed'
            ? `The decision was recorded, but removing the access failed: ${o.remediation_detail ?? 'unknown error'}. Remove it by hand; it is listed in attest export remediation.`
            : o.remediation_status === 'manual'
              ? `The decision was recorded; remove the access by hand (${o.remediation_detail ?? 'no automatic removal'}).`
              : null;
      return {
        proposal_id: id,
        item_id: p.item_id,
        status: s,
        platform_ref: o.platform_ref,
        ...(error ? { error } : {}),
      };
    }
    return { proposal_id: id, item_id: p.item_id, status };
  });
}

/**
 * submit_decision: applies a batch only with a human's confirmation of exactly that
 * batch, through elicitation or a pending confirmation answered at the CLI.
 */
export async function submitBatch(deps: SubmitDeps, proposalIds: string[]): Promise<SubmitResult> {
  const ids = [...new Set(proposalIds)];
  const repo = new DecisionsRepo(deps.store.db);
  const batch = loadBatch(deps, ids);

  // Already confirmed and queued (e.g. confirmed at the CLI, or a run that died half-way): finish applying.
  if (repo.outboxFor(ids).length === ids.length) {
    await deps.applyOutbox();
    const results = resultsFrom(deps.store, ids, 'pending');
    return {
      status: 'applied',
      results,
      confirmation: null,
      message: results.every((r) => r.status === 'applied')
        ? 'This batch was confirmed by a human and is applied; nothing was applied twice.'
        : 'This batch was confirmed; some decisions are not applied yet (see each result).',
    };
  }
  const statuses = new Set(batch.map((b) => b.proposal.status));
  if (statuses.size === 1 && statuses.has('applied')) {
    return {
      status: 'applied',
      results: resultsFrom(deps.store, ids, 'applied'),
      confirmation: null,
      message: 'These decisions were already applied; nothing was done again.',
    };
  }
  if (statuses.size === 1 && statuses.has('rejected')) {
    return {
      status: 'rejected',
      results: resultsFrom(deps.store, ids, 'rejected'),
      confirmation: null,
      message:
        'A human rejected this batch. No decision was recorded. Propose again only if the human asks for it.',
    };
  }
  for (const { proposal, item } of batch) {
    if (proposal.status !== 'draft') {
      throw new ToolError(
        `proposal_ids: proposal "${proposal.id}" is ${proposal.status}${proposal.status === 'superseded' ? ' by a newer proposal for the same item' : ''}; a batch must hold only open drafts. No decision was recorded. Submit the current proposals.`,
        'conflict',
      );
    }
    if (item.decision !== null) {
      throw new ToolError(
        `proposal_ids: item ${item.item_id} is already decided (${item.decision.decision}). No decision was recorded.`,
        'conflict',
      );
    }
    const campaign = deps.store.getCampaign(item.campaign_id);
    if (campaign?.status !== 'active') {
      throw new ToolError(`Campaign ${item.campaign_id} is closed. No decision was recorded.`, 'conflict');
    }
  }
  const itemIds = batch.map((b) => b.item.item_id);
  if (new Set(itemIds).size !== itemIds.length) {
    throw new ToolError(
      'proposal_ids: two proposals in the batch are for the same item. No decision was recorded.',
      'bad_input',
    );
  }

  const hash = repo.batchHash(ids);
  const now = deps.now();
  const existing = repo.confirmationFor(deps.principal.id, hash);
  deps.auditDetail({ proposal_ids: ids, batch_hash: hash });

  const applyConfirmed = async (pendingId: string | null, by: string, channel: string) => {
    const id = repo.confirmIntoOutbox({
      pendingId,
      principal: deps.principal.id,
      batchHash: hash,
      proposalIds: ids,
      confirmedBy: by,
      channel,
      now: deps.now(),
    });
    deps.auditDetail({ confirmation: { id, channel, confirmed_by: by, at: deps.now().toISOString() } });
    await deps.applyOutbox();
    const results = resultsFrom(deps.store, ids, 'pending');
    deps.auditDetail({
      platform: results.map((r) => ({
        proposal_id: r.proposal_id,
        status: r.status,
        ref: r.platform_ref ?? null,
        error: r.error ?? null,
      })),
    });
    const failed = results.filter((r) => r.status !== 'applied');
    return {
      status: 'applied' as const,
      results,
      confirmation: { id, channel },
      message:
        failed.length === 0
          ? `Confirmed by ${by} via ${channel}; ${results.length} decision(s) applied.`
          : `Confirmed by ${by} via ${channel}. ${results.length - failed.length} applied; ${failed.length} not applied yet (see each result's error; pending ones are retried).`,
    };
  };

  if (existing && (existing.status === 'confirmed' || existing.status === 'pending')) {
    if (Date.parse(existing.expires_at) <= now.getTime()) {
      repo.markExpired(existing.id);
      deps.auditDetail({ expired_confirmation: existing.id });
    } else if (existing.status === 'confirmed') {
      return applyConfirmed(existing.id, existing.answered_by ?? 'unknown', existing.channel ?? 'cli');
    } else {
      return awaiting(deps, ids, existing, 'This batch is still waiting for the human.');
    }
  }

  if (deps.askHuman) {
    const answer = await deps.askHuman({
      message: `Apply ${batch.length} access review decision(s) on behalf of ${deps.principal.id}?\n\n${describeBatch(batch)}\n\nThe text in names and rationales comes from the directory or the agent: check it yourself.`,
      fields: {},
    });
    deps.auditDetail({
      elicitation: { action: answer.action, confirmed: answer.confirmed, detail: answer.detail ?? null },
    });
    if (!answer.confirmed) {
      const cid = repo.recordRefusal(
        deps.principal.id,
        hash,
        ids,
        deps.principal.id,
        `elicitation:${answer.action}`,
        deps.now(),
      );
      const why =
        answer.action === 'decline'
          ? 'The human declined'
          : answer.action === 'cancel'
            ? 'The human dismissed the confirmation'
            : answer.action === 'timeout'
              ? 'The confirmation timed out'
              : answer.action === 'accept'
                ? 'The human did not tick the confirmation box'
                : 'The confirmation could not be shown';
      return {
        status: 'rejected',
        results: ids.map((id) => ({
          proposal_id: id,
          item_id: batch.find((b) => b.proposal.id === id)!.item.item_id,
          status: 'rejected',
        })),
        confirmation: { id: cid, channel: 'elicitation' },
        message: `${why}. No decision was recorded or applied. The proposals stay as drafts; ask the human before submitting again.`,
      };
    }
    // Check the target again after the human's answer: the batch must be exactly what was shown.
    const again = loadBatch(deps, ids);
    if (
      repo.batchHash(ids) !== hash ||
      again.some((b) => b.proposal.status !== 'draft' || b.item.decision !== null)
    ) {
      throw new ToolError(
        'The batch changed while the human was deciding. No decision was recorded. Submit it again.',
        'conflict',
      );
    }
    return applyConfirmed(null, deps.principal.id, 'elicitation');
  }

  const pending = repo.createPending(
    deps.principal.id,
    hash,
    ids,
    now,
    deps.config.confirmationTtlHours * 3600_000,
  );
  return awaiting(deps, ids, pending, 'This client cannot ask the human directly.');
}

function awaiting(deps: SubmitDeps, ids: string[], c: ConfirmationRow, lead: string): SubmitResult {
  deps.auditDetail({ confirmation: { id: c.id, status: c.status, expires_at: c.expires_at } });
  const instructions = `Ask the human to review and run: attest confirm ${c.id}   (or: attest reject ${c.id})`;
  return {
    status: 'awaiting_confirmation',
    results: resultsFrom(deps.store, ids, 'awaiting_confirmation'),
    confirmation: { id: c.id, channel: 'cli', expires_at: c.expires_at, instructions },
    message: `${lead} No decision was recorded yet. ${instructions} in their own terminal, then call submit_decision again with the same proposal_ids (expires ${c.expires_at}).`,
  };
}

/** A human's answer at the CLI. `confirm` applies the batch at once; `reject` discards it. */
export function answerConfirmation(
  store: Store,
  id: string,
  answer: 'confirm' | 'reject',
  by: string,
  now: Date,
): { ok: true; confirmation: ConfirmationRow; batchText: string } | { ok: false; error: string } {
  const repo = new DecisionsRepo(store.db);
  const c = repo.confirmation(id);
  if (!c) return { ok: false, error: `no confirmation "${id}"` };
  if (c.status !== 'pending')
    return { ok: false, error: `confirmation ${id} is ${c.status}; nothing to answer` };
  if (Date.parse(c.expires_at) <= now.getTime()) {
    repo.markExpired(id);
    return {
      ok: false,
      error: `confirmation ${id} expired at ${c.expires_at}; the agent must submit the batch again`,
    };
  }
  if (repo.batchHash(c.proposal_ids) !== c.batch_hash) {
    return {
      ok: false,
      error: `the proposals of confirmation ${id} changed after it was issued; nothing was applied`,
    };
  }
  const batch = c.proposal_ids.map((pid) => {
    const proposal = repo.proposal(pid)!;
    return { proposal, item: store.getItem(proposal.item_id)! };
  });
  if (batch.some((b) => b.proposal.status !== 'draft')) {
    return {
      ok: false,
      error: `some proposals of confirmation ${id} are no longer drafts; nothing was applied`,
    };
  }
  const batchText = describeBatch(batch);
  if (answer === 'reject') {
    repo.reject(id, by, 'cli', now);
    return { ok: true, confirmation: repo.confirmation(id)!, batchText };
  }
  repo.markConfirmed(id, by, now);
  repo.confirmIntoOutbox({
    pendingId: id,
    principal: c.principal,
    batchHash: c.batch_hash,
    proposalIds: c.proposal_ids,
    confirmedBy: by,
    channel: 'cli',
    now,
  });
  return { ok: true, confirmation: repo.confirmation(id)!, batchText };
}
