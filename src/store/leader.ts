import type { Db } from './db.js';

/**
 * Fleet-wide singletons on the SQLite store (several processes on one machine): one holder at
 * a time, with a lease that runs out when the holder dies. The same contract as the
 * PostgreSQL store's PgLeaderLeases; taking or renewing is one statement.
 */
export class LeaderLeases {
  constructor(private readonly db: Db) {}

  tryLead(name: string, holder: string, ttlMs: number, now = new Date()): boolean {
    const r = this.db
      .prepare(
        `INSERT INTO leader_leases (name, holder, lease_until) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
           WHERE leader_leases.holder = excluded.holder OR leader_leases.lease_until <= ?`,
      )
      .run(name, holder, new Date(now.getTime() + ttlMs).toISOString(), now.toISOString());
    return r.changes === 1;
  }

  resign(name: string, holder: string): void {
    this.db.prepare('DELETE FROM leader_leases WHERE name = ? AND holder = ?').run(name, holder);
  }

  holder(name: string, now = new Date()): string | null {
    const r = this.db
      .prepare('SELECT holder FROM leader_leases WHERE name = ? AND lease_until > ?')
      .get(name, now.toISOString()) as { holder: string } | undefined;
    return r?.holder ?? null;
  }
}
