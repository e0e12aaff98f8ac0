-- Streamable HTTP sessions (protocol 2025-11-25) that any replica can serve: the principal's
-- binding when the session opened, the client's initialize parameters (so another process can
-- rebuild the session), and the fleet-wide times that decide idle and maximum age (ms since
-- the epoch). A session closed by DELETE, or expired, has no row.
CREATE TABLE http_sessions (
  id           TEXT PRIMARY KEY,
  principal_id TEXT NOT NULL,
  binding      TEXT NOT NULL,
  init         TEXT NOT NULL,
  opened_at    INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL
) STRICT;
CREATE INDEX http_sessions_principal ON http_sessions (principal_id, last_used_at);
