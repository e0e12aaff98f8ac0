import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { describeZodError } from '../config.js';
import { ToolError } from '../errors.js';
import type { AnyTool, ContentBlock, ToolContext } from '../tools/define.js';
import type { Auditor } from './audit.js';
import { type HumanInput, isNeedsInput } from './confirm.js';
import { type RequestStateCodec, RequestStateRefusal } from './request-state.js';

/** The result of one call as the MCP layer returns it. */
export interface CallResult {
  content: ContentBlock[];
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  /** The call needs the human's input first (2026-07-28): ask this, with this requestState. */
  inputRequired?: { requests: Record<string, HumanInput>; requestState: string | null };
  /** The call is refused at the protocol level (a JSON-RPC error, not a tool result). */
  protocolError?: { code: number; message: string };
}

/** The state one call carries through the pipeline. */
export interface CallState {
  tool: AnyTool;
  rawArgs: unknown;
  /** The requestState the client echoed (2026-07-28 retries), as received. */
  rawState?: unknown;
  args?: Record<string, unknown>;
  ctx: ToolContext;
  result?: CallResult;
  outcome: 'ok' | 'error' | 'refused';
  error: string | null;
  details: Record<string, unknown>;
  /** Set when the handler committed the call's entry together with its effects (see ToolContext.commitWithAudit). */
  auditedSeq?: number;
}

export type Middleware = (call: CallState, next: () => Promise<void>) => Promise<void>;

/** Composes middleware like an onion: the first is outermost. */
export function compose(stack: Middleware[]): (call: CallState) => Promise<void> {
  return (call) => {
    const run = (i: number): Promise<void> => {
      const mw = stack[i];
      if (!mw) return Promise.resolve();
      let called = false;
      return mw(call, () => {
        if (called) return Promise.reject(new Error('next() called twice'));
        called = true;
        return run(i + 1);
      });
    };
    return run(0);
  };
}

export function errorResult(message: string): CallResult {
  return { content: [{ type: 'text', text: message }], isError: true };
}

/** The call's audit facts as they stand. */
function factsOf(call: CallState, at: string, started: number) {
  return {
    at,
    principal: call.ctx.principal.id,
    client: call.ctx.session.client,
    session_id: call.ctx.session.id,
    transport: call.ctx.session.transport,
    tool: call.tool.name,
    kind: call.tool.kind,
    arguments: call.rawArgs ?? {},
    outcome: call.outcome,
    error: call.error,
    duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
    details: Object.keys(call.details).length > 0 ? call.details : null,
  };
}

/**
 * Appends one audit entry per call, allowed or refused, before the result is returned. If
 * the entry cannot be written the call fails: the caller gets an error, not a result the
 * log does not hold. A handler that changes the store commits the entry with its effects
 * (commitWithAudit); then nothing is appended here unless the call failed afterwards.
 */
export function auditStage(auditor: Auditor, logger?: Logger): Middleware {
  return async (call, next) => {
    const started = performance.now();
    const at = call.ctx.now().toISOString();
    call.ctx.commitWithAudit = (effect) => {
      const result = call.ctx.store.transaction(() => {
        const r = effect();
        call.outcome = 'ok';
        call.auditedSeq = auditor.record(factsOf(call, at, started));
        return r;
      });
      auditor.afterCommit(call.auditedSeq!);
      return result;
    };
    call.ctx.commitWithAuditAsync = async (effect) => {
      const { value, seq } = await effect(() => {
        call.outcome = 'ok';
        return auditor.entry(factsOf(call, at, started));
      });
      call.auditedSeq = seq;
      auditor.afterCommit(seq);
      return value;
    };
    try {
      await next();
    } finally {
      if (call.auditedSeq === undefined || call.outcome !== 'ok') {
        if (call.auditedSeq !== undefined) call.details.follows_entry = call.auditedSeq;
        try {
          await auditor.recordAsync(factsOf(call, at, started));
        } catch (e) {
          logger?.error({ err: e, tool: call.tool.name }, 'the audit entry could not be written');
          call.result = errorResult(
            'The audit log could not be written, so this call is refused. Nothing was applied to the identity platform by it; try again.',
          );
        }
      }
    }
  };
}

/** Turns expected failures into model-facing results and bugs into a short reference. */
export function errorStage(logger: Logger): Middleware {
  return async (call, next) => {
    try {
      await next();
    } catch (e) {
      if (e instanceof RequestStateRefusal) {
        call.outcome = 'refused';
        call.error = `request_state ${e.reason}: ${e.message}`;
        call.result = {
          content: [],
          protocolError: {
            code: -32602,
            message: `Invalid requestState: ${e.message}. Nothing was done; call ${call.tool.name} again without a requestState to start over.`,
          },
        };
        return;
      }
      if (e instanceof ToolError) {
        call.outcome = ['forbidden', 'read_only', 'unconfirmed', 'expired', 'unavailable'].includes(e.code)
          ? 'refused'
          : 'error';
        call.error = `${e.code}: ${e.message}`;
        call.result = errorResult(e.message);
        return;
      }
      const ref = `ERR-${randomBytes(4).toString('hex')}`;
      call.outcome = 'error';
      call.error = `internal ${ref}: ${e instanceof Error ? e.message : String(e)}`;
      call.details.error_ref = ref;
      logger.error({ err: e, ref, tool: call.tool.name }, 'tool handler failed');
      call.result = errorResult(
        `Internal error (ref ${ref}). Nothing is known to have changed; the details are in the server log and audit log under that reference. Try again, or report the reference.`,
      );
    }
  };
}

/** Read-only mode: write and propose tools refuse, whatever the arguments. */
export const readOnlyStage: Middleware = async (call, next) => {
  if (call.ctx.config.readOnly && call.tool.kind !== 'read') {
    throw new ToolError(
      `${call.tool.name} is disabled: the server runs in read-only mode. Nothing was recorded or changed. Read tools still work.`,
      'read_only',
    );
  }
  await next();
};

/** Validates arguments against the tool's schema; the message names each bad field, and every unknown one. */
export const validateStage: Middleware = async (call, next) => {
  const raw = call.rawArgs ?? {};
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ToolError(
      `Invalid arguments for ${call.tool.name}: arguments must be a JSON object. Nothing was read or changed.`,
      'bad_input',
    );
  }
  const known = Object.keys(call.tool.input.shape);
  const catchall = call.tool.input.def.catchall;
  const open = catchall !== undefined && catchall._zod.def.type !== 'never';
  const unknown = open ? [] : Object.keys(raw).filter((k) => !Object.hasOwn(call.tool.input.shape, k));
  if (unknown.length > 0) {
    const names = unknown.slice(0, 10).map((k) => JSON.stringify(k.length > 60 ? `${k.slice(0, 60)}…` : k));
    throw new ToolError(
      `Invalid arguments for ${call.tool.name}: unknown argument${unknown.length === 1 ? '' : 's'} ${names.join(', ')}${unknown.length > 10 ? ` and ${unknown.length - 10} more` : ''}. Accepted: ${known.join(', ') || 'none'}. Nothing was read or changed.`,
      'bad_input',
    );
  }
  const parsed = call.tool.input.safeParse(raw);
  if (!parsed.success) {
    throw new ToolError(
      `Invalid arguments for ${call.tool.name}: ${describeZodError(parsed.error)}. Nothing was read or changed. Fix the named field(s) and call again.`,
      'bad_input',
    );
  }
  call.args = parsed.data as Record<string, unknown>;
  await next();
};

/**
 * A retry that echoes a requestState (2026-07-28 multi-round-trip): the state must be ours,
 * unexpired, issued to this principal for this very call, and unused; it is spent here,
 * before the handler runs, which then sees only its verified binding.
 */
export function requestStateStage(codec: RequestStateCodec | null): Middleware {
  return async (call, next) => {
    if (call.rawState !== undefined) {
      if (!codec)
        throw new RequestStateRefusal('malformed', 'the requestState was not issued by this server');
      call.ctx.input.state = codec.accept(call.rawState, {
        principal: call.ctx.principal,
        tool: call.tool.name,
        args: call.args,
      });
      call.details.request_state = 'accepted';
    }
    await next();
  };
}

/** Runs the handler and checks its output against the declared schema. */
export function runStage(codec: RequestStateCodec | null): Middleware {
  return async (call) => {
    const out = await call.tool.handle(call.args as never, call.ctx);
    if (isNeedsInput(out)) {
      let requestState: string | null = null;
      if (out.bind) {
        if (!codec)
          throw new ToolError(
            `${call.tool.name} needs the human's answer brought back with a requestState, which this store does not keep yet (PostgreSQL). Nothing was recorded or applied. Connect with protocol version 2025-11-25 (sessions), or confirm the batch with attest confirm.`,
            'unavailable',
          );
        const minted = codec.mint(
          { principal: call.ctx.principal, tool: call.tool.name, args: call.args },
          out.bind,
        );
        requestState = minted.state;
        call.details.request_state_expires_at = minted.expiresAt.toISOString();
      }
      call.details.input_required = Object.fromEntries(
        Object.entries(out.requests).map(([k, r]) => [k, r.kind]),
      );
      call.result = { content: [], inputRequired: { requests: out.requests, requestState } };
      call.outcome = 'ok';
      return;
    }
    const checked = call.tool.output.safeParse(out);
    if (!checked.success) {
      throw new Error(
        `output of ${call.tool.name} does not match its schema: ${describeZodError(checked.error)}`,
      );
    }
    const data = checked.data as Record<string, unknown>;
    const content = call.tool.content
      ? call.tool.content(data as never)
      : [
          {
            type: 'text' as const,
            text: call.tool.text ? call.tool.text(data as never) : JSON.stringify(data),
          },
        ];
    call.result = { content, structuredContent: data };
    call.outcome = 'ok';
  };
}

/**
 * The one pipeline every tool call passes through: audit, errors, mode, validation, the
 * requestState of a retry, run.
 */
export function createPipeline(deps: {
  auditor: Auditor;
  logger: Logger;
  requestStates?: RequestStateCodec | null;
}) {
  const codec = deps.requestStates ?? null;
  const run = compose([
    auditStage(deps.auditor, deps.logger),
    errorStage(deps.logger),
    readOnlyStage,
    validateStage,
    requestStateStage(codec),
    runStage(codec),
  ]);
  return async (
    tool: AnyTool,
    rawArgs: unknown,
    ctx: ToolContext,
    options: { requestState?: unknown } = {},
  ): Promise<CallResult> => {
    const call: CallState = {
      tool,
      rawArgs,
      ctx,
      outcome: 'error',
      error: null,
      details: {},
      ...(options.requestState !== undefined ? { rawState: options.requestState } : {}),
    };
    ctx.auditDetail = (d) => Object.assign(call.details, d);
    await run(call);
    return call.result ?? errorResult('No result was produced. Nothing was changed.');
  };
}
