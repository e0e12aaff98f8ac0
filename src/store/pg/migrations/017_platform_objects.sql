-- As the SQLite store's 017: the platform's own id of a campaign created there by a
-- confirmed change, kept on the local campaign it mirrors.
ALTER TABLE campaigns ADD COLUMN platform_campaign_id TEXT;
