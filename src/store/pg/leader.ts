import type { PgPool } from './db.js';

/**
 * Fleet-wide singletons on PostgreSQL (the sync scheduler, the refit after a campaign): one
 * holder at a time. Taking or renewing the lease is one statement, so two replicas asking at
 * once can't both win; a holder that dies stops renewing and the lease runs out.
 */
export class PgLeaderLeases {
  constructor(private readonly pool: PgPool) {}

  /** Takes or renews `name` for `holder` until now + ttlMs; false while another holder's lease runs. */
  async tryLead(name: string, holder: string, ttlMs: number, now = new Date()): Promise<boolean> {
    const r = await this.pool.query(
      `INSERT INTO leader_leases (name, holder, lease_until) VALUES ($1, $2, $3)
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, lease_until = excluded.lease_until
         WHERE leader_leases.holder = excluded.holder OR leader_leases.lease_until <= $4
       RETURNING holder`,
      [name, holder, new Date(now.getTime() + ttlMs).toISOString(), now.toISOString()],
    );
    return r.rowCount === 1;
  }

  /** Gives the lease up (only the holder can). */
  async resign(name: string, holder: string): Promise<void> {
    await this.pool.query('DELETE FROM leader_leases WHERE name = $1 AND holder = $2', [name, holder]);
  }

  async holder(name: string, now = new Date()): Promise<string | null> {
    const r = (
      await this.pool.query('SELECT holder FROM leader_leases WHERE name = $1 AND lease_until > $2', [
        name,
        now.toISOString(),
      ])
    ).rows[0];
    return r ? String(r.holder) : null;
  }
}
