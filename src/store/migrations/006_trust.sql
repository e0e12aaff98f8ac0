-- Confirmations record what their channel proves (assurance) and what the batch needed;
-- a decision records who proposed, who submitted and who confirmed it, separately;
-- outbox rows are claimed with a lease so that two workers never both apply one;
-- a token can mark its client as an interactive host (elicitation trusted over HTTP).
ALTER TABLE confirmations ADD COLUMN assurance TEXT CHECK (assurance IN ('host-attested','human-verified'));
ALTER TABLE confirmations ADD COLUMN required_assurance TEXT CHECK (required_assurance IN ('host-attested','human-verified'));

ALTER TABLE item_decisions ADD COLUMN proposed_by TEXT;
ALTER TABLE item_decisions ADD COLUMN submitted_by TEXT;
ALTER TABLE item_decisions ADD COLUMN assurance TEXT;

ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN lease_until TEXT;

ALTER TABLE access_tokens ADD COLUMN interactive_host INTEGER NOT NULL DEFAULT 0 CHECK (interactive_host IN (0,1));
