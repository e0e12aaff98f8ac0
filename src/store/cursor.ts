import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Opaque, signed keyset cursors. A cursor carries the last row's sort key and a
 * fingerprint of the query it belongs to; the HMAC makes a forged or edited
 * cursor detectable, and the fingerprint rejects reuse with other filters.
 */
export class CursorCodec {
  constructor(private readonly secret: Buffer) {}

  encode(query: string, key: Array<string | number>): string {
    const body = Buffer.from(JSON.stringify({ q: query, k: key })).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** Returns the key, or an error string saying what is wrong with the cursor. */
  decode(query: string, cursor: string): { key: Array<string | number> } | { error: string } {
    const dot = cursor.indexOf('.');
    if (dot <= 0 || cursor.length > 2048) return { error: 'is not a cursor issued by this server' };
    const body = cursor.slice(0, dot);
    const sig = Buffer.from(cursor.slice(dot + 1), 'base64url');
    const expected = Buffer.from(this.sign(body), 'base64url');
    if (sig.length !== expected.length || !timingSafeEqual(sig, expected)) {
      return { error: 'is not a cursor issued by this server (signature mismatch)' };
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    } catch {
      return { error: 'is not a cursor issued by this server' };
    }
    const p = parsed as { q?: unknown; k?: unknown };
    if (p.q !== query)
      return { error: 'belongs to a different query; pass the same filters as the first page' };
    if (!Array.isArray(p.k)) return { error: 'is not a cursor issued by this server' };
    return { key: p.k as Array<string | number> };
  }

  private sign(body: string): string {
    return createHmac('sha256', this.secret).update(body).digest('base64url').slice(0, 22);
  }
}
