-- The latest open proposal of an item is looked up for every item shown.
CREATE INDEX proposals_latest ON proposals (item_id, status, proposed_at DESC, id DESC);
