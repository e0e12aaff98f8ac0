-- What a confirmed change made on the identity platform: the platform's own id of a
-- campaign created there (an Okta campaign, an Entra access review definition, an AIC
-- certification), kept on the local campaign it mirrors.
ALTER TABLE campaigns ADD COLUMN platform_campaign_id TEXT;
