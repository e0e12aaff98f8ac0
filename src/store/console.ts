import { createHash, randomBytes } from 'node:crypto';
import type { Db } from './db.js';

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

export interface ConsoleSession {
  principal: string;
  csrf: string;
  expires_at: string;
}

/** One-time sign-in links and console sessions: only hashes of the secrets are stored. */
export class ConsoleAuthRepo {
  constructor(private readonly db: Db) {}

  /** A new one-time sign-in link token for `principal`, valid until `expiresAt`. */
  createLink(principal: string, now: Date, expiresAt: Date): string {
    const token = randomBytes(24).toString('base64url');
    this.db
      .prepare(
        'INSERT INTO console_links (token_hash, principal, created_at, expires_at) VALUES (?, ?, ?, ?)',
      )
      .run(sha256(token), principal, now.toISOString(), expiresAt.toISOString());
    return token;
  }

  /**
   * Uses a sign-in link: returns its principal once, in the transaction that marks it used,
   * or why it cannot be used (unknown, used already, expired).
   */
  useLink(token: string, now: Date): { principal: string } | { error: string } {
    return this.db
      .transaction((): { principal: string } | { error: string } => {
        const row = this.db
          .prepare('SELECT principal, expires_at, used_at FROM console_links WHERE token_hash = ?')
          .get(sha256(token)) as
          | { principal: string; expires_at: string; used_at: string | null }
          | undefined;
        if (!row) return { error: 'this sign-in link is not valid' };
        if (row.used_at !== null) return { error: 'this sign-in link was used already' };
        if (Date.parse(row.expires_at) <= now.getTime()) return { error: 'this sign-in link has expired' };
        this.db
          .prepare('UPDATE console_links SET used_at = ? WHERE token_hash = ?')
          .run(now.toISOString(), sha256(token));
        return { principal: row.principal };
      })
      .immediate();
  }

  /** Starts a session; returns the session id (for the cookie) and its CSRF token. */
  createSession(principal: string, now: Date, expiresAt: Date): { sid: string; csrf: string } {
    const sid = randomBytes(32).toString('base64url');
    const csrf = randomBytes(24).toString('base64url');
    this.db
      .prepare(
        'INSERT INTO console_sessions (sid_hash, principal, csrf, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(sha256(sid), principal, csrf, now.toISOString(), expiresAt.toISOString(), now.toISOString());
    return { sid, csrf };
  }

  /** The live session for a cookie's session id, if any. */
  session(sid: string, now: Date): ConsoleSession | null {
    const row = this.db
      .prepare('SELECT principal, csrf, expires_at FROM console_sessions WHERE sid_hash = ?')
      .get(sha256(sid)) as ConsoleSession | undefined;
    if (!row || Date.parse(row.expires_at) <= now.getTime()) return null;
    this.db
      .prepare('UPDATE console_sessions SET last_seen_at = ? WHERE sid_hash = ?')
      .run(now.toISOString(), sha256(sid));
    return row;
  }

  endSession(sid: string): void {
    this.db.prepare('DELETE FROM console_sessions WHERE sid_hash = ?').run(sha256(sid));
  }
}
