import { createRequire } from 'node:module';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as GraphSdk from '@microsoft/microsoft-graph-client';
import { ConnectorError } from '../types.js';
import type { TokenClient } from './auth.js';

/** How hard the client tries before giving up on one request. */
export interface GraphRetryPolicy {
  /** Retries of 429, 503 and 504 (the SDK's RetryHandler, after Retry-After). */
  throttleRetries: number;
  /** Retries of a GET that answered 500 or 502, or failed on the network. */
  serverErrorRetries: number;
  /** First back-off for those retries; doubles each time. */
  retryDelayMs: number;
}

/** The SDK, loaded on first use: most runs (stdio servers, snapshot imports) never talk to Entra. */
let sdk: typeof GraphSdk | undefined;
function loadSdk(): typeof GraphSdk {
  sdk ??= createRequire(import.meta.url)('@microsoft/microsoft-graph-client') as typeof GraphSdk;
  return sdk;
}

/** The slice of the SDK's middleware context this module uses. */
interface Context {
  request: string | { url: string; method?: string };
  options?: { method?: string };
  response?: Response;
}

interface Middleware {
  execute(context: Context): Promise<void>;
  setNext(next: Middleware): void;
}

const TRANSIENT = /ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EAI_AGAIN|UND_ERR_SOCKET|fetch failed/i;

/**
 * The last step before the wire: refuses any host but Graph's (next links are followed
 * as given), counts every request sent (retries included), and retries a GET that
 * answered 500/502 or failed on the network. 429, 503 and 504 are the SDK's RetryHandler's.
 */
class GuardHandler implements Middleware {
  requests = 0;
  /** The last refusal (the SDK wraps errors thrown in middleware, losing their fields). */
  lastError: ConnectorError | null = null;
  private next!: Middleware;
  constructor(
    private readonly origin: string,
    private readonly policy: GraphRetryPolicy,
  ) {}

  setNext(next: Middleware): void {
    this.next = next;
  }

  async execute(context: Context): Promise<void> {
    const url = typeof context.request === 'string' ? context.request : context.request.url;
    let origin = '';
    try {
      origin = new URL(url).origin;
    } catch {
      // Not a URL: refused below.
    }
    if (origin !== this.origin)
      throw new ConnectorError(
        'Microsoft Graph returned a link to another host; the sync stopped there.',
        'upstream',
      );
    const method = (
      (typeof context.request === 'string' ? undefined : context.request.method) ??
      context.options?.method ??
      'GET'
    ).toUpperCase();
    for (let attempt = 0; ; attempt++) {
      const canRetry = method === 'GET' && attempt < this.policy.serverErrorRetries;
      this.requests++;
      try {
        await this.next.execute(context);
      } catch (e) {
        if (
          canRetry &&
          TRANSIENT.test(`${(e as Error).message} ${String((e as { cause?: unknown }).cause ?? '')}`)
        ) {
          await sleep(this.policy.retryDelayMs * 2 ** attempt);
          continue;
        }
        throw e;
      }
      const status = context.response?.status ?? 0;
      if ((status === 500 || status === 502) && canRetry) {
        await context.response?.text().catch(() => '');
        await sleep(this.policy.retryDelayMs * 2 ** attempt);
        continue;
      }
      return;
    }
  }
}

/** A Graph page: its items and where the next page or the delta link is. */
export interface GraphPage {
  value: unknown[];
  '@odata.nextLink'?: string;
  '@odata.deltaLink'?: string;
  '@odata.count'?: number;
}

/**
 * The Graph SDK client with this connector's middleware: the token client's bearer token,
 * the SDK's RetryHandler (429, 503, 504 after Retry-After), its redirect and telemetry
 * handlers, and the guard above.
 */
export class GraphApi {
  readonly client: GraphSdk.Client;
  private readonly guard: GuardHandler;

  constructor(
    readonly baseUrl: string,
    private readonly tokens: TokenClient,
    policy: GraphRetryPolicy,
  ) {
    const g = loadSdk();
    this.guard = new GuardHandler(baseUrl, policy);
    const middleware = [
      new g.AuthenticationHandler({ getAccessToken: () => tokens.token() }),
      new g.RetryHandler(new g.RetryHandlerOptions(3, policy.throttleRetries)),
      new g.RedirectHandler(new g.RedirectHandlerOptions()),
      new g.TelemetryHandler(),
      this.guard as unknown as GraphSdk.Middleware,
      new g.HTTPMessageHandler(),
    ];
    this.client = g.Client.initWithMiddleware({
      baseUrl: `${baseUrl}/`,
      middleware,
      // The token goes only to Graph's own hosts, and to this base URL's (a sovereign cloud, a test host).
      customHosts: new Set([new URL(baseUrl).hostname]),
    });
  }

  /** HTTP requests sent so far, token requests included. */
  get requests(): number {
    return this.guard.requests + this.tokens.requests;
  }

  /** Unwraps the errors the SDK wrapped: a refused token request, a refused link. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (code === 'TokenRequestError' && this.tokens.lastError) throw this.tokens.lastError;
      if (code === 'ConnectorError' && this.guard.lastError) throw this.guard.lastError;
      throw e;
    }
  }

  get(
    path: string,
    query: Record<string, string> = {},
    headers: Record<string, string> = {},
  ): Promise<unknown> {
    return this.call(() => this.client.api(path).query(query).headers(headers).get() as Promise<unknown>);
  }

  post(path: string, body: unknown): Promise<unknown> {
    return this.call(() => this.client.api(path).post(body) as Promise<unknown>);
  }

  delete(path: string): Promise<unknown> {
    return this.call(() => this.client.api(path).delete() as Promise<unknown>);
  }

  private next(link: string, headers: Record<string, string> = {}): Promise<GraphPage> {
    return this.call(() => this.client.api(link).headers(headers).get() as Promise<GraphPage>);
  }

  /**
   * Every page of a collection, following `@odata.nextLink` (an absolute URL carrying
   * every parameter) with the same headers (ConsistencyLevel is not carried by the link).
   * Returns the delta link of a delta query, and the count of a `$count=true` query.
   */
  async list(
    path: string,
    query: Record<string, string>,
    onPage: (items: unknown[]) => void | Promise<void>,
    headers: Record<string, string> = {},
  ): Promise<{ deltaLink: string | null; count: number | null }> {
    let page = (await this.get(path, query, headers)) as GraphPage;
    const count = typeof page['@odata.count'] === 'number' ? page['@odata.count'] : null;
    const seen = new Set<string>();
    for (;;) {
      await onPage(Array.isArray(page?.value) ? page.value : []);
      const next = page?.['@odata.nextLink'];
      if (typeof next !== 'string' || seen.has(next))
        return {
          deltaLink: typeof page?.['@odata.deltaLink'] === 'string' ? page['@odata.deltaLink'] : null,
          count,
        };
      seen.add(next);
      page = await this.next(next, headers);
    }
  }

  /** Follows a saved delta link: the pages of changes, and the link for next time. */
  async followDelta(
    link: string,
    onPage: (items: unknown[]) => void | Promise<void>,
  ): Promise<string | null> {
    let page = await this.next(link);
    for (;;) {
      await onPage(Array.isArray(page?.value) ? page.value : []);
      const next = page?.['@odata.nextLink'];
      if (typeof next !== 'string')
        return typeof page?.['@odata.deltaLink'] === 'string' ? page['@odata.deltaLink'] : null;
      page = await this.next(next);
    }
  }
}
