-- What an entitlement grants to its holders (a nested group, the app a group is assigned
-- to, the permissions a role bundles), and for an inherited assignment the entitlement it
-- comes through. These are the facts redundancy is judged from.
CREATE TABLE entitlement_includes (
  entitlement_id TEXT NOT NULL REFERENCES entitlements (id),
  included_id    TEXT NOT NULL REFERENCES entitlements (id),
  platform       TEXT NOT NULL,
  PRIMARY KEY (entitlement_id, included_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX entitlement_includes_included ON entitlement_includes (included_id, entitlement_id);

ALTER TABLE assignments ADD COLUMN via TEXT;
