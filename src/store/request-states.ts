import { randomBytes } from 'node:crypto';
import type { Db } from './db.js';

/**
 * The store's side of requestState (MCP 2026-07-28): the HMAC key, kept in the store's meta
 * like the cursor secret, and the single-use ledger of nonces already accepted.
 */
export class RequestStateLedger {
  constructor(private readonly db: Db) {}

  /** The store's requestState key (32 random bytes, created on first use). */
  key(): Buffer {
    const get = () =>
      this.db.prepare("SELECT value FROM meta WHERE key = 'request_state_secret'").get() as
        | { value: string }
        | undefined;
    let row = get();
    if (!row) {
      // Two processes creating it at once: the first insert wins and both read it back.
      this.db
        .prepare(
          "INSERT INTO meta (key, value) VALUES ('request_state_secret', ?) ON CONFLICT (key) DO NOTHING",
        )
        .run(randomBytes(32).toString('hex'));
      row = get()!;
    }
    return Buffer.from(row.value, 'hex');
  }

  /**
   * Records that the state with this nonce was accepted; false when it was accepted before
   * (a replay). Nonces of states that have expired are dropped: an expired state is refused
   * for its expiry before its nonce is looked up.
   */
  consume(nonce: string, tool: string, expiresAt: Date, now: Date): boolean {
    return this.db
      .transaction(() => {
        this.db.prepare('DELETE FROM request_state_uses WHERE expires_at < ?').run(now.toISOString());
        const r = this.db
          .prepare(
            'INSERT INTO request_state_uses (nonce, tool, used_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT (nonce) DO NOTHING',
          )
          .run(nonce, tool, now.toISOString(), expiresAt.toISOString());
        return r.changes === 1;
      })
      .immediate();
  }
}
