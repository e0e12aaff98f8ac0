import { randomBytes } from 'node:crypto';
import { CursorCodec } from '../cursor.js';
import { hashToken, type TokenRecord, TokenStore } from '../tokens.js';
import type { PgPool } from './db.js';

/** HTTP bearer tokens on PostgreSQL: only their SHA-256 hashes are stored, as on SQLite. */
export class PgTokens {
  constructor(private readonly pool: PgPool) {}

  /** Creates a token and returns it; this is the only time it is visible. */
  async create(
    principal: string,
    role: 'admin' | 'reviewer',
    expiresAt: Date | null,
    now = new Date(),
    options: { interactiveHost?: boolean } = {},
  ): Promise<string> {
    const token = `att_${randomBytes(24).toString('base64url')}`;
    await this.pool.query(
      'INSERT INTO access_tokens (token_hash, principal, role, created_at, expires_at, interactive_host) VALUES ($1, $2, $3, $4, $5, $6)',
      [
        hashToken(token),
        principal,
        role,
        now.toISOString(),
        expiresAt?.toISOString() ?? null,
        options.interactiveHost ? 1 : 0,
      ],
    );
    return token;
  }

  async lookup(token: string, now: Date): Promise<TokenRecord | { error: string }> {
    const row = (
      await this.pool.query(
        'SELECT token_hash, principal, role, expires_at, interactive_host FROM access_tokens WHERE token_hash = $1',
        [hashToken(token)],
      )
    ).rows[0] as
      | ({ token_hash: string; interactive_host: number } & Omit<TokenRecord, 'interactive_host'>)
      | undefined;
    return TokenStore.verifyAgainst(
      token,
      row ? [{ ...row, interactive_host: Number(row.interactive_host) === 1 }] : [],
      now,
    );
  }
}

/**
 * The key that signs list cursors, kept in `meta` under the SQLite store's name, so a cursor
 * one replica issued pages on any other (and a store copied by migrate-store keeps its
 * cursors). The first replica to need it makes it; the others read that one.
 */
export async function pgCursorCodec(pool: PgPool): Promise<CursorCodec> {
  await pool.query(
    "INSERT INTO meta (key, value) VALUES ('cursor_secret', $1) ON CONFLICT (key) DO NOTHING",
    [randomBytes(32).toString('hex')],
  );
  const r = (await pool.query("SELECT value FROM meta WHERE key = 'cursor_secret'")).rows[0];
  return new CursorCodec(Buffer.from(String(r.value), 'hex'));
}
