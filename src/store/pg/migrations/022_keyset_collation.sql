-- Keyset pages compare ids byte by byte, as SQLite does (COLLATE "C"), whatever the database's
-- collation: a cursor issued by one store pages the same way on the other, and the page
-- queries are index range seeks on any database.
DROP INDEX review_items_risk;
DROP INDEX review_items_risk_all;
DROP INDEX review_items_user;
DROP INDEX review_items_user_all;
DROP INDEX review_items_reviewer;
CREATE INDEX review_items_risk ON review_items (campaign_id, status, risk_score DESC, id COLLATE "C");
CREATE INDEX review_items_risk_all ON review_items (campaign_id, risk_score DESC, id COLLATE "C");
CREATE INDEX review_items_user ON review_items (campaign_id, status, user_id COLLATE "C", id COLLATE "C");
CREATE INDEX review_items_user_all ON review_items (campaign_id, user_id COLLATE "C", id COLLATE "C");
CREATE INDEX review_items_reviewer ON review_items (campaign_id, reviewer_id, status, risk_score DESC, id COLLATE "C");
