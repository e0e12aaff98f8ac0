-- A requestState (MCP 2026-07-28 multi-round-trip) is accepted at most once: the nonce of
-- each one accepted is kept until the state would have expired anyway.
CREATE TABLE request_state_uses (
  nonce TEXT PRIMARY KEY,
  tool TEXT NOT NULL,
  used_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX request_state_uses_expiry ON request_state_uses (expires_at);
