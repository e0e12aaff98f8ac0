-- Fleet-wide singletons (the sync scheduler, the refit after a campaign): one holder at a
-- time, with a lease that runs out when its holder dies.
CREATE TABLE leader_leases (
  name        TEXT PRIMARY KEY,
  holder      TEXT NOT NULL,
  lease_until TEXT NOT NULL
) STRICT;
