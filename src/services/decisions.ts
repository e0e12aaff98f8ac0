import type { Assurance, Config } from '../config.js';
import type { Principal } from '../domain/principal.js';
import { ToolError } from '../errors.js';
import type { EventEntry } from '../policy/audit.js';
import {
  type AskHuman,
  CHANNEL_ASSURANCE,
  type Channel,
  type NeedsInput,
  needsInput,
  requiredAssurance,
  type SendHumanTo,
  satisfies,
} from '../policy/confirm.js';
import { type BatchLine, quoteField, renderBatch } from '../policy/human-text.js';
import { RequestStateRefusal, type StateBinding } from '../policy/request-state.js';
import { type SharedReview, type SharedState, storeState } from '../store/backend.js';
import type { ConfirmationRow, ProposalRow } from '../store/decisions.js';
import { type ItemRow, Store } from '../store/store.js';

/** The review path of either store: an open SQLite Store, or the shared state of any backend. */
function reviewOf(store: Store | SharedState): SharedReview {
  return (store instanceof Store ? storeState(store) : store).review;
}

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
    /** What the confirming channel proved, or what this batch needs. */
    assurance?: Assurance;
    required_assurance?: Assurance;
    /** The command a human runs on the server's machine to confirm. */
    command?: string;
  } | null;
  message: string;
}

export interface SubmitDeps {
  review: SharedReview;
  config: Config;
  now: () => Date;
  principal: Principal;
  transport: 'stdio' | 'http' | 'memory';
  askHuman: AskHuman | null;
  applyOutbox: () => Promise<void>;
  auditDetail: (d: Record<string, unknown>) => void;
  /** Builds an audit entry for the caller, appended by the store in the transaction that queues a batch. */
  eventEntry: EventEntry;
  /** Told the sequence number of an entry the store appended (signed checkpoints follow it). */
  audited?: (seq: number) => void;
  /** The command, as a human types it on the server's machine, that confirms or rejects `id`. */
  confirmCommand: (answer: 'confirm' | 'reject', id: string) => string;
  /** The console page where a human confirms `id`, when a console serves this store. */
  confirmUrl?: (id: string) => string | null;
  /** 2025-11-25: sends the human to the confirmation page (URL-mode elicitation), when the client can. */
  sendHumanTo?: SendHumanTo | null;
  /**
   * 2026-07-28: the client is asked through a NeedsInput answer and calls again with the
   * human's answer and the requestState, whose binding the pipeline has verified and spent.
   */
  era?: 'legacy' | 'modern';
  input?: {
    form: boolean;
    url: boolean;
    responses: Record<string, unknown> | null;
    state: StateBinding | null;
  };
}

/** The answer to the confirmation form as a 2026-07-28 retry brings it (untrusted); null when absent or malformed. */
function formAnswer(v: unknown): { action: 'accept' | 'decline' | 'cancel'; confirmed: boolean } | null {
  if (typeof v !== 'object' || v === null) return null;
  const { action, content } = v as { action?: unknown; content?: unknown };
  if (action !== 'accept' && action !== 'decline' && action !== 'cancel') return null;
  const confirmed =
    action === 'accept' &&
    typeof content === 'object' &&
    content !== null &&
    (content as { confirm?: unknown }).confirm === true;
  return { action, confirmed };
}

/** The form that asks the human about a batch (both eras ask the same). */
function confirmForm(deps: SubmitDeps, batch: Loaded[]) {
  return {
    message: `Apply ${batch.length} access review decision(s) submitted by ${quoteField(deps.principal.id, 120)}?\nEach item starts with the decision and risk; every quoted field comes from the directory or the agent and is data, not instructions.\n\n${describeBatch(batch)}`,
    schema: {
      type: 'object' as const,
      properties: {
        confirm: {
          type: 'boolean',
          title: 'Apply these decisions',
          description: 'Tick to confirm that exactly these decisions are applied to the identity platform.',
          default: false,
        },
      },
      required: ['confirm'],
    },
  };
}

/** Where a human confirms a pending batch through a human-verified channel, when the operator set one. */
function confirmationUrlOf(deps: SubmitDeps, id: string): string | undefined {
  return deps.confirmUrl?.(id) ?? deps.config.confirmationUrl?.replaceAll('{id}', encodeURIComponent(id));
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
async function loadBatch(deps: SubmitDeps, ids: string[]): Promise<Loaded[]> {
  // Two set queries, not two per proposal: on PostgreSQL each is a round trip.
  const proposals = await deps.review.proposals(ids);
  const items = await deps.review.items([...new Set([...proposals.values()].map((p) => p.item_id))]);
  const out: Loaded[] = [];
  for (const id of ids) {
    const proposal = proposals.get(id);
    if (!proposal) {
      throw new ToolError(
        `proposal_ids: no proposal "${id}". No decision was recorded. Use the proposal_id returned by propose_decision.`,
        'not_found',
      );
    }
    const item = items.get(proposal.item_id)!;
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

function lineOf({ proposal: p, item: i }: Loaded): BatchLine {
  return {
    decision: p.decision,
    risk_score: i.risk_score,
    risk_level: i.risk_level,
    signals: i.signals.map((s) => s.code),
    privileged: i.entitlement.privileged,
    user_name: i.user.name,
    user_email: i.user.email,
    user_id: i.user.id,
    entitlement_name: i.entitlement.name,
    entitlement_app: i.entitlement.app,
    entitlement_id: i.entitlement.id,
    rationale: p.rationale,
    proposed_by: p.proposed_by,
  };
}

/** The items of a batch as a human reads them: decision and risk first, every data field quoted and escaped. */
export function describeBatch(batch: Loaded[]): string {
  return renderBatch(batch.map(lineOf));
}

async function resultsFrom(
  review: SharedReview,
  ids: string[],
  status: SubmitResult['results'][number]['status'],
): Promise<SubmitResult['results']> {
  const outbox = new Map((await review.outboxFor(ids)).map((o) => [o.proposal_id, o]));
  const proposals = await review.proposals(ids);
  return ids.map((id) => {
    const p = proposals.get(id)!;
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

function platformAnswers(results: SubmitResult['results']) {
  return results.map((r) => ({
    proposal_id: r.proposal_id,
    status: r.status,
    ref: r.platform_ref ?? null,
    error: r.error ?? null,
  }));
}

/**
 * submit_decision: applies a batch only with a human's confirmation of exactly that batch,
 * through a channel whose assurance the policy accepts: elicitation (host-attested) where
 * the policy allows it, otherwise a pending confirmation answered by a human-verified channel
 * (the terminal on the server's machine; the console).
 */
export async function submitBatch(
  deps: SubmitDeps,
  proposalIds: string[],
): Promise<SubmitResult | NeedsInput> {
  const ids = [...new Set(proposalIds)];
  const repo = deps.review;
  const batch = await loadBatch(deps, ids);

  // Already confirmed and queued (confirmed at the CLI, or a run that died half-way): finish applying.
  if ((await repo.outboxFor(ids)).length === ids.length) return finishQueued(deps, ids);
  const statuses = new Set(batch.map((b) => b.proposal.status));
  if (statuses.size === 1 && statuses.has('applied')) {
    return {
      status: 'applied',
      results: await resultsFrom(repo, ids, 'applied'),
      confirmation: null,
      message: 'These decisions were already applied; nothing was done again.',
    };
  }
  if (statuses.size === 1 && statuses.has('rejected')) {
    return {
      status: 'rejected',
      results: await resultsFrom(repo, ids, 'rejected'),
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
    const campaign = await repo.campaign(item.campaign_id);
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

  const hash = await repo.batchHash(ids);
  const now = deps.now();
  const needed = requiredAssurance(
    deps.config.confirmation,
    deps.principal,
    deps.transport,
    batch.map(({ proposal, item }) => ({
      item_id: item.item_id,
      decision: proposal.decision,
      privileged: item.entitlement.privileged,
      platform: item.entitlement.platform,
      risk_score: item.risk_score,
      sensitivity: item.entitlement.sensitivity,
    })),
  );
  deps.auditDetail({ proposal_ids: ids, batch_hash: hash, required_assurance: needed.level });
  const existing = await repo.confirmationFor(deps.principal.id, hash);

  if (existing && (existing.status === 'confirmed' || existing.status === 'pending')) {
    if (Date.parse(existing.expires_at) <= now.getTime()) {
      await repo.markExpired(existing.id);
      deps.auditDetail({ expired_confirmation: existing.id });
    } else if (existing.status === 'confirmed') {
      // A confirmation answered but not yet queued (written by an earlier version): queue it now.
      const channel = (existing.channel ?? 'cli') as Channel;
      return applyConfirmed(
        deps,
        ids,
        hash,
        existing.id,
        existing.answered_by ?? 'unknown',
        channel,
        CHANNEL_ASSURANCE[channel] ?? 'human-verified',
      );
    } else {
      return awaiting(deps, ids, existing, 'This batch is still waiting for the human.', needed.reasons);
    }
  }

  const modern = deps.era === 'modern' && deps.input ? deps.input : null;
  const state = modern?.state ?? null;
  if (state && state.batch_hash !== hash) {
    throw new RequestStateRefusal(
      'content',
      'the requestState was issued for this batch before its proposals changed',
    );
  }
  // A 2026-07-28 retry with the human's answer to the form: the same rules as an elicitation.
  const retried = state?.kind === 'confirm' ? formAnswer(modern?.responses?.confirm) : null;
  if (retried) deps.auditDetail({ via: 'input_required' });
  const elicitationIsEnough = satisfies(CHANNEL_ASSURANCE.elicitation, needed.level);

  if (elicitationIsEnough && (deps.askHuman || retried)) {
    const answer = retried
      ? { ...retried, detail: undefined }
      : await deps.askHuman!({ message: confirmForm(deps, batch).message, fields: {} });
    deps.auditDetail({
      elicitation: { action: answer.action, confirmed: answer.confirmed, detail: answer.detail ?? null },
    });
    if (!answer.confirmed) {
      const cid = await repo.recordRefusal(
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
        confirmation: { id: cid, channel: 'elicitation', assurance: CHANNEL_ASSURANCE.elicitation },
        message: `${why}. No decision was recorded or applied. The proposals stay as drafts; ask the human before submitting again.`,
      };
    }
    // Check the target again after the human's answer: the batch must be exactly what was shown.
    const again = await loadBatch(deps, ids);
    if (
      (await repo.batchHash(ids)) !== hash ||
      again.some((b) => b.proposal.status !== 'draft' || b.item.decision !== null)
    ) {
      if ((await repo.outboxFor(ids)).length === ids.length) return finishQueued(deps, ids);
      throw new ToolError(
        'The batch changed while the human was deciding. No decision was recorded. Submit it again.',
        'conflict',
      );
    }
    return applyConfirmed(deps, ids, hash, null, deps.principal.id, 'elicitation', 'host-attested');
  }
  // 2026-07-28: ask through the client; the answer comes back on a retry bound to this batch.
  if (elicitationIsEnough && modern?.form) {
    const form = confirmForm(deps, batch);
    return needsInput(
      { confirm: { kind: 'form', message: form.message, schema: form.schema } },
      { kind: 'confirm', batch_hash: hash },
    );
  }

  const pending = await repo.createPending(
    deps.principal.id,
    hash,
    ids,
    now,
    deps.config.confirmationTtlHours * 3600_000,
    needed.level,
  );
  const lead =
    deps.askHuman || modern?.form
      ? `This batch needs a ${needed.level} confirmation (${needed.reasons.join('; ')}); a form answered through your client is host-attested and would not count.`
      : 'This client cannot ask the human directly.';
  // Where the operator set a human-verified confirmation page, a host that opens URLs sends the human there.
  const url = confirmationUrlOf(deps, pending.id);
  if (url && (modern?.url || deps.sendHumanTo)) {
    const message = `Confirm or refuse ${batch.length} access review decision(s) submitted by ${quoteField(deps.principal.id, 120)} on Attest's confirmation page (confirmation ${pending.id}); it asks you to sign in there.`;
    if (modern?.url) {
      deps.auditDetail({
        confirmation: { id: pending.id, status: pending.status, expires_at: pending.expires_at },
        sent_to_url: true,
      });
      return needsInput(
        { confirm_on_page: { kind: 'url', message, url, id: pending.id } },
        { kind: 'page', batch_hash: hash, confirmation_id: pending.id },
      );
    }
    const opened = await deps.sendHumanTo!({ message, url, id: pending.id });
    deps.auditDetail({ sent_to_url: opened.action });
  }
  return awaiting(deps, ids, pending, lead, needed.reasons);
}

/** A batch every proposal of which is queued: apply what is left and report. */
async function finishQueued(deps: SubmitDeps, ids: string[]): Promise<SubmitResult> {
  await deps.applyOutbox();
  const results = await resultsFrom(deps.review, ids, 'pending');
  deps.auditDetail({ platform: platformAnswers(results) });
  return {
    status: 'applied',
    results,
    confirmation: null,
    message: results.every((r) => r.status === 'applied')
      ? 'This batch was confirmed by a human and is applied; nothing was applied twice.'
      : 'This batch was confirmed; some decisions are not applied yet (see each result).',
  };
}

async function applyConfirmed(
  deps: SubmitDeps,
  ids: string[],
  hash: string,
  pendingId: string | null,
  by: string,
  channel: Channel,
  assurance: Assurance,
): Promise<SubmitResult> {
  const at = deps.now();
  let queued: { id: string; seq: number | null } | { already: true };
  try {
    queued = await deps.review.confirmIntoOutbox({
      pendingId,
      principal: deps.principal.id,
      batchHash: hash,
      proposalIds: ids,
      confirmedBy: by,
      channel,
      assurance,
      now: at,
      // The confirmation's own audit entry, committed with the outbox rows or not at all.
      audit: (id) =>
        deps.eventEntry({
          tool: 'policy:confirmed',
          kind: 'write',
          arguments: { proposal_ids: ids },
          outcome: 'ok',
          details: {
            confirmation: { id, channel, assurance, confirmed_by: by, at: at.toISOString() },
            batch_hash: hash,
          },
        }),
    });
  } catch (e) {
    if (!(e instanceof Error) || !/is no longer (a draft|open)/.test(e.message)) throw e;
    throw new ToolError(
      `The batch could not be queued: ${e.message}; another batch holding some of these proposals was confirmed or answered meanwhile. No decision was recorded by this call. Check the items with list_campaign_items.`,
      'conflict',
    );
  }
  // Another confirmation of the same batch (a second form accepted at the same time) won: nothing twice.
  if ('already' in queued) return finishQueued(deps, ids);
  const id = queued.id;
  if (queued.seq !== null) deps.audited?.(queued.seq);
  deps.auditDetail({
    confirmation: { id, channel, assurance, confirmed_by: by, at: at.toISOString() },
  });
  await deps.applyOutbox();
  const results = await resultsFrom(deps.review, ids, 'pending');
  deps.auditDetail({ platform: platformAnswers(results) });
  const failed = results.filter((r) => r.status !== 'applied');
  return {
    status: 'applied',
    results,
    confirmation: { id, channel, assurance },
    message:
      failed.length === 0
        ? `Confirmed by ${by} via ${channel} (${assurance}); ${results.length} decision(s) applied.`
        : `Confirmed by ${by} via ${channel} (${assurance}). ${results.length - failed.length} applied; ${failed.length} not applied yet (see each result's error; pending ones are retried).`,
  };
}

async function awaiting(
  deps: SubmitDeps,
  ids: string[],
  c: ConfirmationRow,
  lead: string,
  reasons: string[],
): Promise<SubmitResult> {
  const required = c.required_assurance ?? 'human-verified';
  deps.auditDetail({
    confirmation: { id: c.id, status: c.status, expires_at: c.expires_at, required_assurance: required },
    required_reasons: reasons,
  });
  const command = deps.confirmCommand('confirm', c.id);
  const url = confirmationUrlOf(deps, c.id);
  const instructions = `${url ? `Ask the human to open ${url} (signed in as themselves) and confirm or reject the batch there, or to` : 'Ask the human to review the batch and'} run, in a terminal on the machine that runs Attest: ${command}   (or to refuse: ${deps.confirmCommand('reject', c.id)})`;
  return {
    status: 'awaiting_confirmation',
    results: await resultsFrom(deps.review, ids, 'awaiting_confirmation'),
    confirmation: {
      id: c.id,
      channel: 'cli',
      ...(url ? { url } : {}),
      expires_at: c.expires_at,
      instructions,
      required_assurance: required,
      command,
    },
    message: `${lead} No decision was recorded yet. ${instructions}. Then call submit_decision again with the same proposal_ids (expires ${c.expires_at}).`,
  };
}

/** A pending confirmation as the human sees it before answering, or why it cannot be answered. */
export async function pendingBatch(
  store: Store | SharedState,
  id: string,
  now: Date,
): Promise<
  { ok: true; confirmation: ConfirmationRow; batchText: string; items: number } | { ok: false; error: string }
> {
  const repo = reviewOf(store);
  const c = await repo.confirmation(id);
  if (!c) return { ok: false, error: `no confirmation "${id}"` };
  if (c.status !== 'pending')
    return { ok: false, error: `confirmation ${id} is ${c.status}; nothing to answer` };
  if (Date.parse(c.expires_at) <= now.getTime()) {
    await repo.markExpired(id);
    return {
      ok: false,
      error: `confirmation ${id} expired at ${c.expires_at}; the agent must submit the batch again`,
    };
  }
  if ((await repo.batchHash(c.proposal_ids)) !== c.batch_hash) {
    return {
      ok: false,
      error: `the proposals of confirmation ${id} changed after it was issued; nothing was applied`,
    };
  }
  const proposals = await repo.proposals(c.proposal_ids);
  const items = await repo.items([...new Set([...proposals.values()].map((p) => p.item_id))]);
  const batch = c.proposal_ids.map((pid) => {
    const proposal = proposals.get(pid)!;
    return { proposal, item: items.get(proposal.item_id)! };
  });
  if (batch.some((b) => b.proposal.status !== 'draft')) {
    return {
      ok: false,
      error: `some proposals of confirmation ${id} are no longer drafts; nothing was applied`,
    };
  }
  return { ok: true, confirmation: c, batchText: describeBatch(batch), items: batch.length };
}

/**
 * A human's answer through a human-verified channel (the terminal, the console). `confirm`
 * queues the batch for the outbox in one transaction with the confirmation and its audit
 * entry (apply it with runOutbox); `reject` discards it. Every check is made again inside.
 */
export async function answerConfirmation(
  store: Store | SharedState,
  id: string,
  answer: 'confirm' | 'reject',
  by: string,
  now: Date,
  options: {
    channel?: 'cli' | 'console';
    /** Builds the answer's audit entry, which the store appends in the answer's transaction. */
    eventEntry?: EventEntry;
    /** Told the sequence number of that entry once it is committed. */
    audited?: (seq: number) => void;
    /** The confirming human's own reviewer ids: they may not confirm decisions on their own access. */
    confirmerReviewerIds?: string[];
    allowSelfReview?: boolean;
  } = {},
): Promise<{ ok: true; confirmation: ConfirmationRow; batchText: string } | { ok: false; error: string }> {
  const channel = options.channel ?? 'cli';
  const assurance = CHANNEL_ASSURANCE[channel];
  const repo = reviewOf(store);
  const shown = await pendingBatch(store, id, now);
  if (!shown.ok) return shown;
  const c = shown.confirmation;
  if (!options.allowSelfReview && answer === 'confirm' && options.confirmerReviewerIds?.length) {
    const proposals = await repo.proposals(c.proposal_ids);
    const items = await repo.items([...proposals.values()].map((p) => p.item_id));
    const own = c.proposal_ids
      .map((pid) => items.get(proposals.get(pid)!.item_id)!)
      .filter((i) => options.confirmerReviewerIds!.includes(i.user.id));
    if (own.length > 0)
      return {
        ok: false,
        error: `the batch holds ${own.length} decision(s) on your own access (e.g. item ${own[0]!.item_id}), and nobody confirms their own review; nothing was applied`,
      };
  }
  const entry = options.eventEntry;
  const event = entry
    ? () =>
        entry({
          tool: `${channel}:${answer}`,
          kind: 'write',
          arguments: { confirmation_id: id },
          outcome: 'ok',
          error: null,
          details: {
            requested_by: c.principal,
            proposal_ids: c.proposal_ids,
            confirmation: { id, channel, assurance, confirmed_by: by, at: now.toISOString() },
          },
        })
    : undefined;
  if (answer === 'reject') {
    const done = await repo.reject(id, by, channel, now, assurance, event);
    if (!done.done)
      return { ok: false, error: `confirmation ${id} was answered meanwhile; nothing was changed` };
    if (done.seq !== null) options.audited?.(done.seq);
    return { ok: true, confirmation: (await repo.confirmation(id))!, batchText: shown.batchText };
  }
  try {
    const queued = await repo.confirmIntoOutbox({
      pendingId: id,
      principal: c.principal,
      batchHash: c.batch_hash,
      proposalIds: c.proposal_ids,
      confirmedBy: by,
      channel,
      assurance,
      now,
      audit: event,
    });
    if ('already' in queued) return { ok: false, error: `confirmation ${id}'s batch is already applied` };
    if (queued.seq !== null) options.audited?.(queued.seq);
  } catch (e) {
    return {
      ok: false,
      error: `confirmation ${id} could not be used: ${(e as Error).message}; nothing was applied`,
    };
  }
  return { ok: true, confirmation: (await repo.confirmation(id))!, batchText: shown.batchText };
}
