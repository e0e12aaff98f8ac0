import type { Client } from '@okta/okta-sdk-nodejs';

type HttpRequest = Parameters<Client['http']['http']>[1];

/**
 * Requests outside the SDK's typed APIs, through `client.http.http`, which keeps
 * the auth header, the 429 handling and the error mapping, but not paging.
 * Used for Identity Governance (the SDK has no API for it; lists are
 * `{data, _links}`) and for the two bulk lists, group members and app users,
 * where only ids and a few fields are read: the SDK's model deserialization of
 * every full user object was the largest CPU cost of a sync.
 */
export class RawApi {
  constructor(
    private readonly client: Client,
    private readonly orgUrl: string,
  ) {}

  /** One request of any method (writes included); the parsed JSON body, or null for an empty one. */
  send(path: string, method: 'GET' | 'POST' | 'PUT', body?: unknown): Promise<unknown> {
    return this.request(path, method, body);
  }

  private async request(path: string, method: 'GET' | 'POST' | 'PUT', body?: unknown): Promise<unknown> {
    const url = path.startsWith('http') ? path : `${this.orgUrl}${path}`;
    const res = await this.client.http.http(url, {
      method,
      headers: {
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    } as HttpRequest);
    const text = await res.text();
    return text === '' ? null : JSON.parse(text);
  }

  /**
   * Every item of a list, a page at a time: a bare array (management API) or
   * `{data}` (IGA); the next page is `_links.next.href` or the Link header's
   * rel="next", an absolute URL carrying every parameter.
   */
  async *pages(path: string, query: Record<string, string>): AsyncGenerator<unknown[]> {
    let url: string | null = `${this.orgUrl}${path}?${new URLSearchParams(query).toString()}`;
    const seen = new Set<string>();
    while (url !== null && !seen.has(url)) {
      seen.add(url);
      const res = await this.client.http.http(url, {
        method: 'GET',
        headers: { Accept: 'application/json' },
      } as HttpRequest);
      const body = JSON.parse(await res.text()) as unknown;
      if (Array.isArray(body)) {
        yield body;
        url = nextFromLinkHeader(res.headers.get('link'));
      } else {
        const env = body as { data?: unknown; _links?: { next?: { href?: string } } } | null;
        yield Array.isArray(env?.data) ? env.data : [];
        url = env?._links?.next?.href ?? nextFromLinkHeader(res.headers.get('link'));
      }
    }
  }

  getReview(reviewId: string): Promise<unknown> {
    return this.request(`/governance/api/v1/reviews/${encodeURIComponent(reviewId)}`, 'GET');
  }

  /**
   * Records decisions as the reviewer ("Submit my review actions"): Okta accepts only
   * reviews assigned to the caller. The response shape is unconfirmed and not read.
   */
  async submitActions(
    campaignId: string,
    reviews: Array<{ reviewId: string; action: 'APPROVE' | 'REVOKE'; note: string }>,
    reviewerLevel: string | null,
  ): Promise<void> {
    await this.request(
      `/governance/api/v1/my/campaigns/${encodeURIComponent(campaignId)}/reviews/actions`,
      'POST',
      { reviews, ...(reviewerLevel === null ? {} : { reviewerLevel }) },
    );
  }

  /** The user an API token acts as (`GET /api/v1/users/me`). */
  me(): Promise<unknown> {
    return this.request('/api/v1/users/me', 'GET');
  }

  /** A user by id or login. */
  user(idOrLogin: string): Promise<unknown> {
    return this.request(`/api/v1/users/${encodeURIComponent(idOrLogin)}`, 'GET');
  }

  /** Reassigns reviews to another reviewer (admin endpoint; a note is required). */
  async reassign(
    campaignId: string,
    body: { reviewerId: string; reviewIds: string[]; note: string; reviewerLevel?: string },
  ): Promise<void> {
    await this.request(
      `/governance/api/v1/campaigns/${encodeURIComponent(campaignId)}/reviews/reassign`,
      'POST',
      body,
    );
  }
}

export function nextFromLinkHeader(header: string | null | undefined): string | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (m?.[1]) return m[1];
  }
  return null;
}
