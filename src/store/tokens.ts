import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Db } from './db.js';

export interface TokenRecord {
  principal: string;
  role: 'admin' | 'reviewer';
  expires_at: string | null;
  /** The operator marked this token's client as an interactive host (its forms reach a person). */
  interactive_host?: boolean;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** HTTP bearer tokens: only their SHA-256 hashes are stored. */
export class TokenStore {
  constructor(private readonly db: Db) {}

  /** Creates a token and returns it; this is the only time it is visible. */
  create(
    principal: string,
    role: 'admin' | 'reviewer',
    expiresAt: Date | null,
    now = new Date(),
    options: { interactiveHost?: boolean } = {},
  ): string {
    const token = `att_${randomBytes(24).toString('base64url')}`;
    this.db
      .prepare(
        'INSERT INTO access_tokens (token_hash, principal, role, created_at, expires_at, interactive_host) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(
        hashToken(token),
        principal,
        role,
        now.toISOString(),
        expiresAt?.toISOString() ?? null,
        options.interactiveHost ? 1 : 0,
      );
    return token;
  }

  /** Adds a pre-hashed token (from a tokens file). */
  static verifyAgainst(
    token: string,
    entries: Iterable<{ token_hash: string } & TokenRecord>,
    now: Date,
  ): TokenRecord | { error: string } {
    const h = Buffer.from(hashToken(token), 'hex');
    let found: TokenRecord | null = null;
    for (const e of entries) {
      const other = Buffer.from(e.token_hash, 'hex');
      // Constant-time comparison of the hashes; keep scanning to keep timing flat.
      if (other.length === h.length && timingSafeEqual(other, h)) found = e;
    }
    if (!found) return { error: 'token is not valid' };
    if (found.expires_at !== null && Date.parse(found.expires_at) <= now.getTime())
      return { error: 'token has expired' };
    return found;
  }

  lookup(token: string, now: Date): TokenRecord | { error: string } {
    const row = this.db
      .prepare(
        'SELECT token_hash, principal, role, expires_at, interactive_host FROM access_tokens WHERE token_hash = ?',
      )
      .get(hashToken(token)) as
      | ({ token_hash: string; interactive_host: number } & Omit<TokenRecord, 'interactive_host'>)
      | undefined;
    return TokenStore.verifyAgainst(
      token,
      row ? [{ ...row, interactive_host: row.interactive_host === 1 }] : [],
      now,
    );
  }

  revokeAll(principal: string): number {
    // Tokens are credentials, not audit records: deleting them is allowed.
    return this.db.prepare('DELETE FROM access_tokens WHERE principal = ?').run(principal).changes;
  }
}
