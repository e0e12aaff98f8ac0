-- As the SQLite store's 020: decisions a policy class took without a human, with the
-- backtest figures that allowed it.
CREATE TABLE automatic_decisions (
  proposal_id   TEXT PRIMARY KEY REFERENCES proposals (id),
  item_id       TEXT NOT NULL REFERENCES review_items (id),
  campaign_id   TEXT NOT NULL,
  class         TEXT NOT NULL,
  decision      TEXT NOT NULL CHECK (decision IN ('approve','revoke')),
  "precision"   DOUBLE PRECISION NOT NULL,
  decisions     INTEGER NOT NULL,
  min_precision DOUBLE PRECISION NOT NULL,
  min_decisions INTEGER NOT NULL,
  fit_id        TEXT NOT NULL,
  figures       TEXT NOT NULL,
  queued_at     TEXT NOT NULL
);
CREATE INDEX automatic_decisions_campaign ON automatic_decisions (campaign_id, class);
