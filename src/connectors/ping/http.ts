import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import type { z } from 'zod';
import { ConnectorError } from '../types.js';
import { PingHttpError, PingNetworkError, SURFACE_TITLE, type Surface } from './errors.js';

/** How hard the client tries before giving up on one request. */
export interface RetryPolicy {
  /** Retries of one request (429, 503; and for reads also 408, 500, 501, 502, 504, UNEXPECTED_ERROR and network errors). */
  retries: number;
  /** First back-off when the answer carries no Retry-After; doubles each time, with jitter. */
  baseDelayMs: number;
  /** Cap on one back-off. */
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited out: the request fails as rate-limited. */
  maxRetryAfterMs: number;
  /** Cap on waiting for the answer's headers, and between chunks of its body. */
  timeoutMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = {
  retries: 4,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
  maxRetryAfterMs: 120_000,
  timeoutMs: 60_000,
};

/** Where a bearer token comes from, and how to drop it after the API rejected it. */
export interface TokenSource {
  token(): Promise<string>;
  reset(): void;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: unknown;
}

export interface Outgoing {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A function is called again for every attempt (a token assertion needs a fresh jti). */
  body?: string | (() => string);
}

const RETRY_STATUS_ANY = new Set([429, 503]);
const RETRY_STATUS_READ = new Set([408, 500, 501, 502, 504]);

/**
 * One pooled undici Agent for every Ping request of a connector: keep-alive connections,
 * header and body timeouts, a request counter, a guard that sends nothing to an origin
 * the configuration did not name (paging links are followed as given), and bounded
 * retries with exponential back-off and jitter, honouring Retry-After (seconds or an
 * HTTP date) on 429 and 503, as PingOne's own Go client does.
 */
export class PingTransport {
  /** HTTP requests sent, retries and token requests included. */
  requests = 0;
  private readonly agent: Agent;

  constructor(
    private readonly origins: ReadonlySet<string>,
    readonly policy: RetryPolicy = DEFAULT_RETRY,
  ) {
    this.agent = new Agent({
      connections: 16,
      keepAliveTimeout: 10_000,
      headersTimeout: policy.timeoutMs,
      bodyTimeout: policy.timeoutMs,
      connect: { timeout: Math.min(policy.timeoutMs, 15_000) },
    });
  }

  close(): Promise<void> {
    return this.agent.close();
  }

  /** One attempt: no retry. Throws PingNetworkError when no answer came. */
  async send(surface: Surface, out: Outgoing): Promise<RawResponse> {
    let origin = '';
    try {
      origin = new URL(out.url).origin;
    } catch {
      // Not a URL: refused below.
    }
    if (!this.origins.has(origin))
      throw new ConnectorError(
        `${SURFACE_TITLE[surface]} returned a link to another host; the request was not sent.`,
        'upstream',
      );
    this.requests++;
    let res: Awaited<ReturnType<typeof request>>;
    let text: string;
    try {
      res = await request(out.url, {
        method: out.method,
        headers: { accept: 'application/json', ...out.headers },
        ...(out.body === undefined ? {} : { body: typeof out.body === 'function' ? out.body() : out.body }),
        dispatcher: this.agent,
      });
      text = await res.body.text();
    } catch (e) {
      const code = String((e as { code?: unknown }).code ?? (e as Error).name ?? 'network error');
      throw new PingNetworkError(surface, code);
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = String(v);
    let json: unknown = null;
    if (text !== '') {
      try {
        json = JSON.parse(text);
      } catch {
        json = null;
      }
    }
    return { status: res.statusCode, headers, text, json };
  }

  /**
   * Sends with retries. `idempotent` requests (reads, deletes, searches) are also retried
   * on 5xx and network errors; writes only on 429 and 503, which say the request was not
   * processed. With a token source, a 401 drops the cached token and tries once more with
   * a fresh one (an expired token); a second 401 is the caller's.
   */
  async call(
    surface: Surface,
    out: Outgoing,
    options: {
      idempotent: boolean;
      auth?: TokenSource;
      /** Answer 4xx (but 408 and 429) as a response instead of throwing: token endpoints read their error bodies. */
      clientErrors?: boolean;
    },
  ): Promise<RawResponse> {
    let refreshed = false;
    for (let attempt = 0; ; attempt++) {
      const headers = { ...out.headers };
      if (options.auth) headers.authorization = `Bearer ${await options.auth.token()}`;
      let res: RawResponse;
      try {
        res = await this.send(surface, { ...out, headers });
      } catch (e) {
        if (e instanceof PingNetworkError && options.idempotent && attempt < this.policy.retries) {
          await sleep(this.backoff(attempt));
          continue;
        }
        throw e;
      }
      if (res.status < 400) return res;
      if (options.clientErrors && res.status < 500 && res.status !== 408 && res.status !== 429) return res;
      if (res.status === 401 && options.auth && !refreshed) {
        refreshed = true;
        options.auth.reset();
        attempt--;
        continue;
      }
      const error = httpError(surface, res);
      const retryable =
        RETRY_STATUS_ANY.has(res.status) ||
        (options.idempotent && (RETRY_STATUS_READ.has(res.status) || error.code === 'UNEXPECTED_ERROR'));
      if (!retryable || attempt >= this.policy.retries) throw error;
      const wait = retryAfterMs(res.headers['retry-after']) ?? this.backoff(attempt);
      if (wait > this.policy.maxRetryAfterMs) throw error;
      await sleep(wait);
    }
  }

  private backoff(attempt: number): number {
    const exp = Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** attempt);
    return Math.round(exp * (0.5 + Math.random() / 2));
  }
}

/** Retry-After as milliseconds: delay-seconds or an HTTP date; null when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | null {
  if (value === undefined || value.trim() === '') return null;
  const v = value.trim();
  if (/^\d+(\.\d+)?$/.test(v)) return Math.round(Number(v) * 1000);
  const at = Date.parse(v);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** The error of a 4xx/5xx answer, from PingOne's `{id, code, message, details}` or AIC's `{code, reason, message}`. */
export function httpError(surface: Surface, res: RawResponse): PingHttpError {
  const body = res.json !== null && typeof res.json === 'object' ? (res.json as Record<string, unknown>) : {};
  const code = typeof body.code === 'string' ? body.code : typeof body.reason === 'string' ? body.reason : '';
  let detail = typeof body.message === 'string' ? body.message : '';
  const details = body.details;
  if (Array.isArray(details) && details.length > 0) {
    const first = details[0] as Record<string, unknown>;
    const target = typeof first.target === 'string' ? ` (${first.target})` : '';
    if (typeof first.message === 'string') detail = `${detail} ${first.message}${target}`.trim();
  }
  return new PingHttpError(surface, res.status, code.slice(0, 60), detail.slice(0, 300));
}

/**
 * Checks a payload against its schema. A changed payload fails with the path of the first
 * field that does not fit (never its value), instead of leaving a silent gap.
 */
export function validate<T>(schema: z.ZodType<T>, value: unknown, surface: Surface, what: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  const path = (issue?.path ?? [])
    .map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`))
    .join('')
    .replace(/^\./, '');
  throw new ConnectorError(
    `${SURFACE_TITLE[surface]} answered ${what} with a payload Attest does not recognise (${path || 'the body'}: ${issue?.message ?? 'invalid'}); the API may have changed.`,
    'upstream',
  );
}
