-- Decisions a policy class took without a human (phased automation): which class, and the
-- backtest figures that allowed it, beside the proposal, confirmation and outbox rows every
-- decision has. Written in the transaction that queues the decision, or not at all.
CREATE TABLE automatic_decisions (
  proposal_id   TEXT PRIMARY KEY REFERENCES proposals (id),
  item_id       TEXT NOT NULL REFERENCES review_items (id),
  campaign_id   TEXT NOT NULL,
  class         TEXT NOT NULL,
  decision      TEXT NOT NULL CHECK (decision IN ('approve','revoke')),
  precision     REAL NOT NULL,
  decisions     INTEGER NOT NULL,
  min_precision REAL NOT NULL,
  min_decisions INTEGER NOT NULL,
  fit_id        TEXT NOT NULL,
  figures       TEXT NOT NULL,
  queued_at     TEXT NOT NULL
) STRICT;
CREATE INDEX automatic_decisions_campaign ON automatic_decisions (campaign_id, class);
