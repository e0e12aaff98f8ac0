-- The console's own sign-in: one-time links printed on the human's terminal, and the
-- sessions they start (cookies hold the session id; only its hash is stored). Kept in the
-- store, so a link printed by one server process can be used against another.
CREATE TABLE console_links (
  token_hash TEXT PRIMARY KEY,
  principal  TEXT NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at    TEXT
) STRICT;

CREATE TABLE console_sessions (
  sid_hash     TEXT PRIMARY KEY,
  principal    TEXT NOT NULL,
  csrf         TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  last_seen_at TEXT NOT NULL
) STRICT;
