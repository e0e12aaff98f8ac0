import { type HttpSessionRecord, recordOf } from '../http-sessions.js';
import { inTransaction, type PgPool } from './db.js';

/** HTTP sessions on PostgreSQL, shared by every replica: the same contract as the SQLite store's. */
export class PgHttpSessions {
  constructor(private readonly pool: PgPool) {}

  async open(r: HttpSessionRecord, perPrincipal: number): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      await c.query(
        'INSERT INTO http_sessions (id, principal_id, binding, init, opened_at, last_used_at) VALUES ($1, $2, $3, $4, $5, $6)',
        [r.id, r.principal, r.binding, JSON.stringify(r.init ?? {}), r.opened, r.lastUsed],
      );
      await c.query(
        `DELETE FROM http_sessions WHERE principal_id = $1 AND id NOT IN (
           SELECT id FROM http_sessions WHERE principal_id = $1 ORDER BY last_used_at DESC, id LIMIT $2)`,
        [r.principal, Math.max(1, perPrincipal)],
      );
    });
  }

  async find(id: string): Promise<HttpSessionRecord | null> {
    const r = (await this.pool.query('SELECT * FROM http_sessions WHERE id = $1', [id])).rows[0];
    return r ? recordOf(r) : null;
  }

  async touch(id: string, at: number): Promise<void> {
    await this.pool.query(
      'UPDATE http_sessions SET last_used_at = GREATEST(last_used_at, $1) WHERE id = $2',
      [at, id],
    );
  }

  async close(id: string): Promise<void> {
    await this.pool.query('DELETE FROM http_sessions WHERE id = $1', [id]);
  }

  async prune(idleBefore: number, openedBefore: number): Promise<number> {
    const r = await this.pool.query('DELETE FROM http_sessions WHERE last_used_at <= $1 OR opened_at <= $2', [
      idleBefore,
      openedBefore,
    ]);
    return r.rowCount ?? 0;
  }
}
