import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { describeZodError } from '../config.js';
import { ToolError } from '../errors.js';
import type { AuditLog } from '../store/audit.js';
import type { AnyTool, ToolContext } from '../tools/define.js';
import { redact, redactText } from './redact.js';

/** The result of one call as the MCP layer returns it. */
export interface CallResult {
  content: Array<{ type: 'text'; text: string }>;
  structuredContent?: Record<string, unknown>;
  isError?: boolean;
  [key: string]: unknown;
}

/** The state one call carries through the pipeline. */
export interface CallState {
  tool: AnyTool;
  rawArgs: unknown;
  args?: Record<string, unknown>;
  ctx: ToolContext;
  result?: CallResult;
  outcome: 'ok' | 'error' | 'refused';
  error: string | null;
  details: Record<string, unknown>;
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

/** Appends one audit entry per call, allowed or refused, before the result is returned. */
export function auditStage(audit: AuditLog, secrets: () => readonly string[]): Middleware {
  return async (call, next) => {
    const started = performance.now();
    const at = call.ctx.now().toISOString();
    try {
      await next();
    } finally {
      const known = secrets();
      audit.append({
        at,
        principal: call.ctx.principal.id,
        client_name: call.ctx.session.client?.name ?? null,
        client_version: call.ctx.session.client?.version ?? null,
        session_id: call.ctx.session.id,
        transport: call.ctx.session.transport,
        tool: call.tool.name,
        kind: call.tool.kind,
        arguments: redact(call.rawArgs ?? {}, known),
        outcome: call.outcome,
        error: call.error === null ? null : redactText(call.error, known),
        duration_ms: Math.round((performance.now() - started) * 1000) / 1000,
        details:
          Object.keys(call.details).length > 0
            ? (redact(call.details, known) as Record<string, unknown>)
            : null,
      });
    }
  };
}

/** Turns expected failures into model-facing results and bugs into a short reference. */
export function errorStage(logger: Logger): Middleware {
  return async (call, next) => {
    try {
      await next();
    } catch (e) {
      if (e instanceof ToolError) {
        call.outcome = ['forbidden', 'read_only', 'unconfirmed', 'expired'].includes(e.code)
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

/** Validates arguments against the tool's schema; the message names each bad field. */
export const validateStage: Middleware = async (call, next) => {
  const parsed = call.tool.input.safeParse(call.rawArgs ?? {});
  if (!parsed.success) {
    throw new ToolError(
      `Invalid arguments for ${call.tool.name}: ${describeZodError(parsed.error)}. Nothing was read or changed. Fix the named field(s) and call again.`,
      'bad_input',
    );
  }
  call.args = parsed.data as Record<string, unknown>;
  await next();
};

/** Runs the handler and checks its output against the declared schema. */
export const runStage: Middleware = async (call) => {
  const out = await call.tool.handle(call.args as never, call.ctx);
  const checked = call.tool.output.safeParse(out);
  if (!checked.success) {
    throw new Error(
      `output of ${call.tool.name} does not match its schema: ${describeZodError(checked.error)}`,
    );
  }
  const data = checked.data as Record<string, unknown>;
  const text = call.tool.text ? call.tool.text(data as never) : JSON.stringify(data);
  call.result = { content: [{ type: 'text', text }], structuredContent: data };
  call.outcome = 'ok';
};

/** The one pipeline every tool call passes through: audit, errors, mode, validation, run. */
export function createPipeline(deps: { audit: AuditLog; logger: Logger; secrets: () => readonly string[] }) {
  const run = compose([
    auditStage(deps.audit, deps.secrets),
    errorStage(deps.logger),
    readOnlyStage,
    validateStage,
    runStage,
  ]);
  return async (tool: AnyTool, rawArgs: unknown, ctx: ToolContext): Promise<CallResult> => {
    const call: CallState = { tool, rawArgs, ctx, outcome: 'error', error: null, details: {} };
    ctx.auditDetail = (d) => Object.assign(call.details, d);
    await run(call);
    return call.result ?? errorResult('No result was produced. Nothing was changed.');
  };
}
