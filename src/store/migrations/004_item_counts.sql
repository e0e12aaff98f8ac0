-- Items per (campaign, status), kept by triggers, so a queue's size is known without
-- counting a million-row index range on every call.
CREATE TABLE review_item_counts (
  campaign_id TEXT NOT NULL,
  status      TEXT NOT NULL,
  n           INTEGER NOT NULL,
  PRIMARY KEY (campaign_id, status)
) STRICT, WITHOUT ROWID;

INSERT INTO review_item_counts (campaign_id, status, n)
  SELECT campaign_id, status, count(*) FROM review_items GROUP BY campaign_id, status;

CREATE TRIGGER review_items_count_insert AFTER INSERT ON review_items
BEGIN
  INSERT INTO review_item_counts (campaign_id, status, n) VALUES (NEW.campaign_id, NEW.status, 1)
    ON CONFLICT (campaign_id, status) DO UPDATE SET n = n + 1;
END;

CREATE TRIGGER review_items_count_delete AFTER DELETE ON review_items
BEGIN
  UPDATE review_item_counts SET n = n - 1 WHERE campaign_id = OLD.campaign_id AND status = OLD.status;
END;

CREATE TRIGGER review_items_count_update AFTER UPDATE OF status, campaign_id ON review_items
WHEN OLD.status IS NOT NEW.status OR OLD.campaign_id IS NOT NEW.campaign_id
BEGIN
  UPDATE review_item_counts SET n = n - 1 WHERE campaign_id = OLD.campaign_id AND status = OLD.status;
  INSERT INTO review_item_counts (campaign_id, status, n) VALUES (NEW.campaign_id, NEW.status, 1)
    ON CONFLICT (campaign_id, status) DO UPDATE SET n = n + 1;
END;
