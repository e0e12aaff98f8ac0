-- Confirmed writes that are not decisions on review items: creating a campaign (locally, and
-- on the platform where it can), creating a role. They use the same confirmations (bound to
-- the principal, the exact set and a hash of its content) and an outbox of their own that is
-- applied exactly once. Escalations hand an item to a second-level reviewer; reassignments
-- move items between reviewers. Both are kept as history.
ALTER TABLE confirmations ADD COLUMN subject TEXT NOT NULL DEFAULT 'decisions' CHECK (subject IN ('decisions','changes'));

CREATE TABLE changes (
  id           TEXT PRIMARY KEY,
  kind         TEXT NOT NULL CHECK (kind IN ('create_campaign','create_role')),
  platform     TEXT NOT NULL,
  spec         TEXT NOT NULL,
  summary      TEXT NOT NULL,
  proposed_by  TEXT NOT NULL,
  proposed_at  TEXT NOT NULL,
  status       TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','applied','rejected','failed')),
  result       TEXT,
  platform_ref TEXT
) STRICT;

CREATE TABLE change_outbox (
  id              INTEGER PRIMARY KEY,
  change_id       TEXT NOT NULL UNIQUE REFERENCES changes (id),
  confirmation_id TEXT NOT NULL REFERENCES confirmations (id),
  status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','done','failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  last_error      TEXT,
  claimed_by      TEXT,
  lease_until     TEXT,
  created_at      TEXT NOT NULL,
  done_at         TEXT
) STRICT;

CREATE TABLE escalations (
  id            INTEGER PRIMARY KEY,
  item_id       TEXT NOT NULL REFERENCES review_items (id),
  proposal_id   TEXT REFERENCES proposals (id),
  from_reviewer TEXT,
  to_reviewer   TEXT,
  note          TEXT NOT NULL,
  escalated_by  TEXT NOT NULL,
  escalated_at  TEXT NOT NULL,
  resolved_at   TEXT
) STRICT;
CREATE INDEX escalations_open ON escalations (item_id) WHERE resolved_at IS NULL;

CREATE TABLE reassignments (
  id            INTEGER PRIMARY KEY,
  item_id       TEXT NOT NULL REFERENCES review_items (id),
  from_reviewer TEXT,
  to_reviewer   TEXT NOT NULL,
  note          TEXT NOT NULL,
  by            TEXT NOT NULL,
  at            TEXT NOT NULL
) STRICT;
CREATE INDEX reassignments_item ON reassignments (item_id, at);
