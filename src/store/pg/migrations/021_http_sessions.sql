-- As the SQLite store's 021: HTTP sessions any replica can serve (times in ms since the epoch).
CREATE TABLE http_sessions (
  id           TEXT PRIMARY KEY,
  principal_id TEXT NOT NULL,
  binding      TEXT NOT NULL,
  init         TEXT NOT NULL,
  opened_at    BIGINT NOT NULL,
  last_used_at BIGINT NOT NULL
);
CREATE INDEX http_sessions_principal ON http_sessions (principal_id, last_used_at);
