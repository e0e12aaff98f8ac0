-- Proposals, confirmations, the outbox that applies confirmed decisions exactly
-- once, remediations, and the append-only, hash-chained audit log.

CREATE TABLE proposals (
  id              TEXT PRIMARY KEY,
  item_id         TEXT NOT NULL REFERENCES review_items (id),
  decision        TEXT NOT NULL CHECK (decision IN ('approve','revoke','escalate')),
  rationale       TEXT NOT NULL,
  confidence      REAL,
  engine_decision TEXT,
  proposed_by     TEXT NOT NULL,
  proposed_at     TEXT NOT NULL,
  -- draft: waiting for submit_decision; superseded: a newer proposal replaced it;
  -- applied: decided; rejected: a human said no to its batch.
  status          TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','superseded','applied','rejected'))
) STRICT;
CREATE INDEX proposals_item ON proposals (item_id, status);

CREATE TABLE confirmations (
  id           TEXT PRIMARY KEY,
  principal    TEXT NOT NULL,
  batch_hash   TEXT NOT NULL,
  proposal_ids TEXT NOT NULL,
  status       TEXT NOT NULL CHECK (status IN ('pending','confirmed','rejected','used','expired')),
  channel      TEXT,
  created_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  answered_by  TEXT,
  answered_at  TEXT,
  used_at      TEXT
) STRICT;
CREATE INDEX confirmations_batch ON confirmations (principal, batch_hash, status);

-- One row per confirmed proposal; written in the same transaction as the confirmation.
CREATE TABLE outbox (
  id              INTEGER PRIMARY KEY,
  proposal_id     TEXT NOT NULL UNIQUE REFERENCES proposals (id),
  item_id         TEXT NOT NULL REFERENCES review_items (id),
  confirmation_id TEXT NOT NULL REFERENCES confirmations (id),
  decision        TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done','failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  platform_ref    TEXT,
  created_at      TEXT NOT NULL,
  done_at         TEXT
) STRICT;
CREATE INDEX outbox_pending ON outbox (status, id);

-- The decision in force for an item.
CREATE TABLE item_decisions (
  item_id         TEXT PRIMARY KEY REFERENCES review_items (id),
  -- null when the decision was made on the platform itself and came in by sync
  proposal_id     TEXT REFERENCES proposals (id),
  decision        TEXT NOT NULL,
  decided_by      TEXT NOT NULL,
  decided_at      TEXT NOT NULL,
  confirmation_id TEXT,
  channel         TEXT,
  confirmed_by    TEXT,
  confirmed_at    TEXT,
  platform_ref    TEXT
) STRICT;

CREATE TABLE remediations (
  id             INTEGER PRIMARY KEY,
  item_id        TEXT NOT NULL UNIQUE REFERENCES review_items (id),
  user_id        TEXT NOT NULL,
  entitlement_id TEXT NOT NULL,
  platform       TEXT NOT NULL,
  status         TEXT NOT NULL CHECK (status IN ('done','pending','failed','manual')),
  detail         TEXT,
  requested_at   TEXT NOT NULL,
  completed_at   TEXT
) STRICT;

CREATE TABLE audit_log (
  seq            INTEGER PRIMARY KEY,
  at             TEXT NOT NULL,
  principal      TEXT NOT NULL,
  client_name    TEXT,
  client_version TEXT,
  session_id     TEXT,
  transport      TEXT,
  tool           TEXT NOT NULL,
  kind           TEXT NOT NULL,
  arguments      TEXT NOT NULL,
  outcome        TEXT NOT NULL,
  error          TEXT,
  duration_ms    REAL NOT NULL,
  details        TEXT,
  prev_hash      TEXT NOT NULL,
  hash           TEXT NOT NULL
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;

CREATE TABLE access_tokens (
  token_hash TEXT PRIMARY KEY,
  principal  TEXT NOT NULL,
  role       TEXT NOT NULL CHECK (role IN ('admin','reviewer')),
  created_at TEXT NOT NULL,
  expires_at TEXT
) STRICT;
