import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Assurance, Config } from '../config.js';
import type { Platform } from '../domain/index.js';
import type { Principal } from '../domain/principal.js';
import { ToolError } from '../errors.js';
import type { Auditor, RecordEvent } from '../policy/audit.js';
import type { AskHuman } from '../policy/confirm.js';
import { CHANNEL_ASSURANCE, type Channel, requiredAssurance, satisfies } from '../policy/confirm.js';
import { quoteField } from '../policy/human-text.js';
import type { ChangeRow, ChangesRepo, ChangeWork } from '../store/changes.js';
import type { Store } from '../store/store.js';
import { analyzeCampaigns } from './analyze.js';
import { type CampaignSpec, createCampaignLocally, resolveCampaign } from './campaigns.js';
import { crashPoint } from './faults.js';
import { workerAlive } from './outbox.js';
import {
  type ConnectorLookup,
  campaignRequest,
  type RoleSpec,
  refuseCampaignOn,
  refuseRoleOn,
  roleRequest,
} from './platform-changes.js';

/** Where a confirmed change stands, for the agent. */
export interface ChangeResult {
  status: 'applied' | 'awaiting_confirmation' | 'rejected' | 'failed';
  change_id: string;
  result: Record<string, unknown> | null;
  confirmation: {
    id: string;
    channel: string;
    assurance?: Assurance;
    required_assurance?: Assurance;
    command?: string;
    url?: string;
    expires_at?: string;
  } | null;
  message: string;
}

export interface ChangeDeps {
  store: Store;
  config: Config;
  now: () => Date;
  principal: Principal;
  transport: 'stdio' | 'http' | 'memory';
  askHuman: AskHuman | null;
  recordEvent: RecordEvent;
  confirmCommand: (answer: 'confirm' | 'reject', id: string) => string;
  confirmUrl?: (id: string) => string | null;
  /** Applies confirmed changes (and decisions) waiting in their outboxes. */
  applyChanges: () => Promise<void>;
  auditDetail: (d: Record<string, unknown>) => void;
}

/** A change as the human reads it: what it does, quoted where it holds data. */
export function describeChange(c: ChangeRow): string {
  return `[${c.kind}] ${quoteField(c.summary, 2000)}\n    proposed by: ${quoteField(c.proposed_by, 120)} at ${c.proposed_at}`;
}

function resultOf(repo: ChangesRepo, id: string): ChangeResult {
  const c = repo.get(id)!;
  const state = repo.state(id);
  if (c.status === 'applied')
    return {
      status: 'applied',
      change_id: id,
      result: c.result,
      confirmation: null,
      message: `Applied: ${c.summary}.`,
    };
  if (c.status === 'rejected')
    return {
      status: 'rejected',
      change_id: id,
      result: null,
      confirmation: null,
      message: 'A human rejected this change. Nothing was created.',
    };
  if (c.status === 'failed')
    return {
      status: 'failed',
      change_id: id,
      result: c.result,
      confirmation: null,
      message: `The change failed and was not applied: ${String(c.result?.error ?? state.error ?? 'unknown error')}.`,
    };
  return {
    status: 'awaiting_confirmation',
    change_id: id,
    result: null,
    confirmation: null,
    message:
      state.outbox === 'pending'
        ? `Confirmed; being applied.${state.error ? ` The last attempt did not finish: ${state.error}. It is tried again.` : ''}`
        : 'Waiting for the human.',
  };
}

/**
 * Asks the human to confirm a change (a campaign to create) through a channel the policy
 * accepts, exactly as a batch of decisions: a form where host-attested is enough, otherwise a
 * pending confirmation for the terminal or the console. Confirmed, it is applied once.
 */
export async function submitChange(deps: ChangeDeps, changeId: string): Promise<ChangeResult> {
  const repo = deps.store.changes;
  const decisions = deps.store.decisions;
  const change = repo.get(changeId);
  if (!change || (change.proposed_by !== deps.principal.id && deps.principal.role !== 'admin')) {
    throw new ToolError(`change_id: no change "${changeId}" of yours. Nothing was done.`, 'not_found');
  }
  if (change.status !== 'draft' || repo.state(changeId).outbox !== null) {
    await deps.applyChanges();
    return resultOf(repo, changeId);
  }
  const hash = repo.batchHash([changeId]);
  const needed = requiredAssurance(deps.config.confirmation, deps.principal, deps.transport, []);
  deps.auditDetail({ change_id: changeId, batch_hash: hash, required_assurance: needed.level });
  const existing = decisions.confirmationFor(deps.principal.id, hash);
  if (existing?.status === 'pending' && Date.parse(existing.expires_at) > deps.now().getTime()) {
    return awaiting(deps, changeId, existing.id, existing.expires_at, needed.level);
  }
  if (existing?.status === 'rejected') return resultOf(repo, changeId);

  if (deps.askHuman && satisfies(CHANNEL_ASSURANCE.elicitation, needed.level)) {
    const answer = await deps.askHuman({
      message: `Apply this change requested by ${quoteField(deps.principal.id, 120)}? Quoted fields are data, not instructions.\n\n${describeChange(change)}`,
      fields: {},
    });
    deps.auditDetail({ elicitation: { action: answer.action, confirmed: answer.confirmed } });
    if (!answer.confirmed) {
      return {
        status: 'rejected',
        change_id: changeId,
        result: null,
        confirmation: null,
        message: 'The human did not confirm. Nothing was created; the change stays a draft.',
      };
    }
    return applyConfirmed(deps, changeId, hash, null, deps.principal.id, 'elicitation');
  }
  const id = repo.createPending(
    deps.principal.id,
    hash,
    [changeId],
    deps.now(),
    deps.config.confirmationTtlHours * 3600_000,
    needed.level,
  );
  const c = decisions.confirmation(id)!;
  return awaiting(deps, changeId, id, c.expires_at, needed.level);
}

async function applyConfirmed(
  deps: ChangeDeps,
  changeId: string,
  hash: string,
  pendingId: string | null,
  by: string,
  channel: Channel,
): Promise<ChangeResult> {
  const repo = deps.store.changes;
  const assurance = CHANNEL_ASSURANCE[channel];
  const at = deps.now();
  const q = repo.confirmIntoOutbox({
    pendingId,
    principal: deps.principal.id,
    batchHash: hash,
    ids: [changeId],
    confirmedBy: by,
    channel,
    assurance,
    now: at,
    inTransaction: (id) =>
      deps.recordEvent({
        tool: 'policy:confirmed',
        kind: 'write',
        arguments: { change_ids: [changeId] },
        outcome: 'ok',
        details: {
          confirmation: { id, channel, assurance, confirmed_by: by, at: at.toISOString() },
          batch_hash: hash,
        },
      }),
  });
  await deps.applyChanges();
  const r = resultOf(repo, changeId);
  return { ...r, confirmation: 'id' in q ? { id: q.id, channel, assurance } : null };
}

function awaiting(
  deps: ChangeDeps,
  changeId: string,
  id: string,
  expires: string,
  required: Assurance,
): ChangeResult {
  const command = deps.confirmCommand('confirm', id);
  const url = deps.confirmUrl?.(id) ?? null;
  return {
    status: 'awaiting_confirmation',
    change_id: changeId,
    result: null,
    confirmation: {
      id,
      channel: 'cli',
      required_assurance: required,
      command,
      ...(url ? { url } : {}),
      expires_at: expires,
    },
    message: `Nothing was created yet: this change needs a ${required} confirmation. Ask the human to ${url ? `open ${url}, or to ` : ''}run, in a terminal on the machine that runs Attest: ${command}. Then call again with change_id ${changeId} (expires ${expires}).`,
  };
}

export interface ChangeRun {
  applied: number;
  failed: number;
  /** Left pending for a later run (the platform was busy or unreachable, or is not configured here). */
  retry: number;
}

/**
 * Applies every confirmed change this worker can claim, each in one transaction with its
 * audit entry; a created campaign is then scored. A change aimed at a platform calls the
 * platform first (idempotent by the change id: what an earlier attempt made is found, not
 * made again), then records the platform's id with the local effects. Killed half-way, a
 * rerun applies each once.
 */
export async function runChangeOutbox(
  store: Store,
  options: {
    auditor?: Auditor | null;
    now?: () => Date;
    asOf?: Date;
    dormantDays?: number;
    leaseMs?: number;
    /** The connectors of the platforms changes may target (none: such changes wait). */
    connectorFor?: ConnectorLookup | null;
  } = {},
): Promise<ChangeRun> {
  const now = options.now ?? (() => new Date());
  const repo = store.changes;
  const worker = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const run: ChangeRun = { applied: 0, failed: 0, retry: 0 };
  const created: string[] = [];
  const skip: number[] = [];
  repo.releaseDead(workerAlive);
  try {
    for (;;) {
      const t = now();
      const work = repo.claim(worker, t, new Date(t.getTime() + (options.leaseMs ?? 300_000)), 20, skip);
      if (work.length === 0) break;
      for (const w of work) {
        const record = (outcome: 'ok' | 'error', error: string | null, details: Record<string, unknown>) =>
          options.auditor?.record({
            at: now().toISOString(),
            principal: w.change.proposed_by,
            client: null,
            session_id: null,
            transport: 'outbox',
            tool: `change:${w.change.kind}`,
            kind: 'write',
            arguments: { change_id: w.change.id },
            outcome,
            error,
            duration_ms: 0,
            details: {
              ...details,
              platform: w.change.platform,
              confirmation: {
                id: w.confirmation_id,
                channel: w.channel,
                assurance: w.assurance,
                confirmed_by: w.confirmed_by,
              },
            },
          });
        try {
          const outcome = await applyChange(store, w, now, options.connectorFor ?? null);
          if (outcome.kind === 'retry') {
            repo.fail(w, outcome.error, true, () => record('error', outcome.error, { result: 'retry' }));
            skip.push(w.outbox_id);
            run.retry++;
            continue;
          }
          if (outcome.kind === 'failed') {
            repo.fail(w, outcome.error, false, () => record('error', outcome.error, { result: 'failed' }));
            run.failed++;
            continue;
          }
          const result = repo.complete(w, outcome.effects, outcome.platformRef, now(), () =>
            record('ok', null, { result: 'applied', platform_ref: outcome.platformRef, ...outcome.audit }),
          );
          if (result) {
            run.applied++;
            if (typeof result.campaign_id === 'string') created.push(result.campaign_id);
          }
        } catch (e) {
          const message = e instanceof Error ? e.message : String(e);
          repo.fail(w, message, false, () => record('error', message, { result: 'failed' }));
          run.failed++;
        }
      }
    }
  } finally {
    repo.releaseClaims(worker);
  }
  if (created.length > 0)
    analyzeCampaigns(store, {
      asOf: options.asOf ?? now(),
      dormantDays: options.dormantDays ?? 90,
      campaignIds: created,
    });
  return run;
}

type ChangeOutcome =
  | {
      kind: 'apply';
      effects: () => Record<string, unknown>;
      platformRef: string | null;
      audit: Record<string, unknown>;
    }
  | { kind: 'retry'; error: string }
  | { kind: 'failed'; error: string };

/**
 * What one change does: the platform call (when it targets one), then the local effects to
 * commit. Test-only crash point `changes:after-platform` sits between the two.
 */
async function applyChange(
  store: Store,
  w: ChangeWork,
  now: () => Date,
  connectorFor: ConnectorLookup | null,
): Promise<ChangeOutcome> {
  const platform = w.change.platform as Platform;
  const onPlatform = platform !== 'snapshot';
  const connector = onPlatform ? (connectorFor?.(platform) ?? null) : null;
  if (onPlatform && !connector)
    return {
      kind: 'retry',
      error: `${platform} is not configured where the change is applied; it waits until a process with the ${platform} settings runs (nothing was created)`,
    };
  if (w.change.kind === 'create_campaign') {
    const spec = w.change.spec as unknown as CampaignSpec;
    const resolved = resolveCampaign(store, spec, now());
    if (!onPlatform)
      return {
        kind: 'apply',
        effects: () => createCampaignLocally(store, spec, w.change.id, now(), { resolved }),
        platformRef: null,
        audit: {},
      };
    if (resolved.items.length === 0)
      return { kind: 'failed', error: 'no access matches the scope any more; nothing was created' };
    const request = campaignRequest(store, spec, w.change.id, platform, resolved.items, now());
    const refused = refuseCampaignOn(connector, platform, request);
    if (refused) return { kind: 'failed', error: `${refused}; nothing was created` };
    const out = await connector!.campaigns!.create(request);
    crashPoint('changes:after-platform');
    if (out.status === 'failed')
      return out.retryable ? { kind: 'retry', error: out.error } : { kind: 'failed', error: out.error };
    return {
      kind: 'apply',
      effects: () =>
        createCampaignLocally(store, spec, w.change.id, now(), {
          resolved,
          platformCampaignId: out.platform_id,
        }),
      platformRef: `${platform}:campaign:${out.platform_id}`,
      audit: { platform_answer: { ...out.details, existed: out.existed } },
    };
  }
  if (w.change.kind === 'create_role') {
    if (!onPlatform) return { kind: 'failed', error: 'a role is created on a platform; none was named' };
    const spec = w.change.spec as unknown as RoleSpec;
    const request = roleRequest(store, spec, w.change.id);
    const refused = refuseRoleOn(connector, platform, request);
    if (refused) return { kind: 'failed', error: `${refused}; nothing was created` };
    const out = await connector!.roles!.create(request);
    crashPoint('changes:after-platform');
    if (out.status === 'failed')
      return out.retryable ? { kind: 'retry', error: out.error } : { kind: 'failed', error: out.error };
    return {
      kind: 'apply',
      effects: () => ({
        role_id: spec.role_id,
        platform,
        platform_id: out.platform_id,
        ...out.details,
      }),
      platformRef: `${platform}:role:${out.platform_id}`,
      audit: { platform_answer: { ...out.details, existed: out.existed } },
    };
  }
  return { kind: 'failed', error: `changes of kind ${w.change.kind} are not applied` };
}

/** A pending confirmation of changes as the human sees it before answering, or why it cannot be answered. */
export function pendingChanges(
  store: Store,
  id: string,
  now: Date,
):
  | { ok: true; principal: string; expires_at: string; text: string; ids: string[] }
  | { ok: false; error: string } {
  const decisions = store.decisions;
  const repo = store.changes;
  const c = decisions.confirmation(id);
  if (!c) return { ok: false, error: `no confirmation "${id}"` };
  if (c.status !== 'pending')
    return { ok: false, error: `confirmation ${id} is ${c.status}; nothing to answer` };
  if (Date.parse(c.expires_at) <= now.getTime()) {
    decisions.markExpired(id);
    return { ok: false, error: `confirmation ${id} expired at ${c.expires_at}; ask for the change again` };
  }
  if (repo.batchHash(c.proposal_ids) !== c.batch_hash)
    return {
      ok: false,
      error: `the changes of confirmation ${id} changed after it was issued; nothing was applied`,
    };
  const changes = c.proposal_ids.map((cid) => repo.get(cid)!);
  if (changes.some((x) => x.status !== 'draft'))
    return {
      ok: false,
      error: `some changes of confirmation ${id} are no longer drafts; nothing was applied`,
    };
  return {
    ok: true,
    principal: c.principal,
    expires_at: c.expires_at,
    text: changes.map(describeChange).join('\n'),
    ids: c.proposal_ids,
  };
}

/** A human's answer (terminal, console) to a pending confirmation of changes: queued in one transaction with its audit entry. */
export function answerChangeConfirmation(
  store: Store,
  id: string,
  answer: 'confirm' | 'reject',
  by: string,
  now: Date,
  options: { channel?: 'cli' | 'console'; recordEvent?: RecordEvent } = {},
): { ok: true } | { ok: false; error: string } {
  const channel = options.channel ?? 'cli';
  const shown = pendingChanges(store, id, now);
  if (!shown.ok) return shown;
  const decisions = store.decisions;
  const repo = store.changes;
  const event = () =>
    options.recordEvent?.({
      tool: `${channel}:${answer}`,
      kind: 'write',
      arguments: { confirmation_id: id },
      outcome: 'ok',
      details: {
        requested_by: shown.principal,
        change_ids: shown.ids,
        confirmation: {
          id,
          channel,
          assurance: CHANNEL_ASSURANCE[channel],
          confirmed_by: by,
          at: now.toISOString(),
        },
      },
    });
  if (answer === 'reject') {
    const ok = decisions.reject(id, by, channel, now, CHANNEL_ASSURANCE[channel], () => {
      repo.reject(shown.ids);
      event();
    });
    return ok
      ? { ok: true }
      : { ok: false, error: `confirmation ${id} was answered meanwhile; nothing was changed` };
  }
  try {
    const c = decisions.confirmation(id)!;
    repo.confirmIntoOutbox({
      pendingId: id,
      principal: c.principal,
      batchHash: c.batch_hash,
      ids: shown.ids,
      confirmedBy: by,
      channel,
      assurance: CHANNEL_ASSURANCE[channel],
      now,
      inTransaction: () => event(),
    });
  } catch (e) {
    return {
      ok: false,
      error: `confirmation ${id} could not be used: ${(e as Error).message}; nothing was applied`,
    };
  }
  return { ok: true };
}
