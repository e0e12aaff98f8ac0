import { z } from 'zod';
import { ConnectorError } from '../types.js';
import type { AicTokens, PingOneTokens } from './auth.js';
import type { PingAicConfig, PingOneConfig } from './config.js';
import { type PingTransport, type RawResponse, validate } from './http.js';
import { aicPage, p1Page } from './schemas.js';

type Query = Record<string, string | number | boolean | undefined>;

function withQuery(url: string, query: Query): string {
  const u = new URL(url);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
  return u.toString();
}

/**
 * The PingOne Platform API of one environment (`{api}/v1/environments/{id}/…`), with the
 * Worker app's bearer token. Collections page by cursor: `limit` on the first request, then
 * `_links.next.href` followed as given until a page has no `next`.
 */
export class PingOneApi {
  constructor(
    readonly config: PingOneConfig,
    private readonly transport: PingTransport,
    readonly tokens: PingOneTokens,
  ) {}

  url(path: string, query: Query = {}): string {
    return withQuery(
      `${this.config.apiBase}/environments/${encodeURIComponent(this.config.environmentId)}${path}`,
      query,
    );
  }

  private send(method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown): Promise<RawResponse> {
    return this.transport.call(
      'pingone',
      {
        method,
        url,
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      },
      { idempotent: method !== 'POST', auth: this.tokens },
    );
  }

  async get<T>(path: string, query: Query, schema: z.ZodType<T>, what: string): Promise<T> {
    const res = await this.send('GET', this.url(path, query));
    return validate(schema, res.json, 'pingone', what);
  }

  /** POST a JSON body; the answer validated. Not retried but on 429 and 503 (the request was not processed). */
  async post<T>(path: string, body: unknown, schema: z.ZodType<T>, what: string): Promise<T> {
    const res = await this.send('POST', this.url(path), body);
    return validate(schema, res.json, 'pingone', what);
  }

  /** DELETE; throws PingHttpError for 4xx/5xx (a 404 is the caller's to read as "already gone"). */
  async delete(path: string): Promise<void> {
    await this.send('DELETE', this.url(path));
  }

  /**
   * Every page of a collection. `keys` are the `_embedded` names the items may come under
   * (the first present is read). Returns the number of pages read.
   */
  async list<T>(
    path: string,
    query: Query,
    keys: readonly string[],
    item: z.ZodType<T>,
    what: string,
    onPage: (items: T[]) => void | Promise<void>,
    /** Awaited before every page's request (pacing for endpoints with a lower rate limit). */
    before?: () => Promise<void>,
  ): Promise<number> {
    let url = this.url(path, query);
    const seen = new Set<string>();
    for (let pages = 1; ; pages++) {
      await before?.();
      const res = await this.send('GET', url);
      const page = validate(p1Page, res.json, 'pingone', `${what} (a page)`);
      const embedded = page._embedded ?? {};
      const key = keys.find((k) => k in embedded);
      if (key === undefined) {
        const other = Object.entries(embedded).find(([, v]) => Array.isArray(v))?.[0];
        if (other !== undefined)
          throw new ConnectorError(
            `PingOne answered ${what} with _embedded.${other.slice(0, 40)} where _embedded.${keys[0]} was expected; the API may have changed.`,
            'upstream',
          );
      }
      const items =
        key === undefined
          ? []
          : validate(
              z.object({ [key]: z.array(item) }),
              { [key]: embedded[key] },
              'pingone',
              `${what}: _embedded`,
            )[key]!;
      await onPage(items as T[]);
      const next = page._links?.next?.href;
      if (typeof next !== 'string' || next === '' || seen.has(next)) return pages;
      seen.add(next);
      url = next;
    }
  }
}

/**
 * Advanced Identity Cloud Identity Governance (`https://<tenant>/iga/governance/…`), with the
 * service account's bearer token. Lists and item searches page with a 0-based `pageNumber`
 * and `pageSize`, answering `{result, totalCount}`.
 */
export class AicApi {
  constructor(
    readonly config: PingAicConfig,
    private readonly transport: PingTransport,
    readonly tokens: AicTokens,
  ) {}

  url(path: string, query: Query = {}): string {
    return withQuery(`${this.config.tenantUrl}/iga${path}`, query);
  }

  /** `idempotent`: a search or a read (retried on 5xx), as opposed to a decision. */
  async send(
    method: 'GET' | 'POST',
    path: string,
    query: Query,
    body?: unknown,
    idempotent = method === 'GET',
  ): Promise<RawResponse> {
    return this.transport.call(
      'aic',
      {
        method,
        url: this.url(path, query),
        ...(body === undefined
          ? {}
          : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) }),
      },
      { idempotent, auth: this.tokens },
    );
  }

  async get<T>(path: string, query: Query, schema: z.ZodType<T>, what: string): Promise<T> {
    return validate(schema, (await this.send('GET', path, query)).json, 'aic', what);
  }

  /** Every page of a list (GET) or a search (POST with `body`), `pageNumber` from 0 until `totalCount` is reached. */
  async pages<T>(
    path: string,
    query: Query,
    body: unknown,
    item: z.ZodType<T>,
    pageSize: number,
    what: string,
    onPage: (items: T[]) => void | Promise<void>,
  ): Promise<number> {
    for (let pageNumber = 0; ; pageNumber++) {
      const q = { ...query, pageSize, pageNumber };
      const res =
        body === undefined ? await this.send('GET', path, q) : await this.send('POST', path, q, body, true);
      const page = validate(aicPage, res.json, 'aic', `${what} (page ${pageNumber})`);
      const items = validate(
        z.object({ result: z.array(item) }),
        { result: page.result },
        'aic',
        what,
      ).result;
      await onPage(items);
      const total = page.totalCount ?? null;
      const read = (pageNumber + 1) * pageSize;
      if (items.length === 0 || (total !== null ? read >= total : items.length < pageSize))
        return pageNumber + 1;
      // A runaway server (totalCount that never ends) stops here rather than looping for ever.
      if (pageNumber > 100_000)
        throw new ConnectorError(`Advanced Identity Cloud kept paging ${what}.`, 'upstream');
    }
  }
}
