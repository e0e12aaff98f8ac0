-- Core identity data. Every record carries the platform it came from and that
-- platform's own id; (platform, external_id) is unique so a later sync updates
-- instead of duplicating. `id` is the store's stable id used by the tools.

CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
) STRICT;

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  platform      TEXT NOT NULL,
  external_id   TEXT NOT NULL,
  email         TEXT,
  name          TEXT,
  department    TEXT,
  title         TEXT,
  manager_id    TEXT,
  location      TEXT,
  status        TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','suspended','deprovisioned')),
  employee_type TEXT NOT NULL DEFAULT 'employee' CHECK (employee_type IN ('employee','contractor','service')),
  hired_at      TEXT,
  terminated_at TEXT,
  contract_end  TEXT,
  last_sign_in  TEXT,
  attributes    TEXT NOT NULL DEFAULT '{}',
  updated_at    TEXT NOT NULL,
  UNIQUE (platform, external_id)
) STRICT;
CREATE INDEX users_manager ON users (manager_id);
CREATE INDEX users_department ON users (department, title);

CREATE TABLE entitlements (
  id          TEXT PRIMARY KEY,
  platform    TEXT NOT NULL,
  external_id TEXT NOT NULL,
  name        TEXT NOT NULL,
  type        TEXT NOT NULL DEFAULT 'group' CHECK (type IN ('group','app','role')),
  app         TEXT,
  privileged  INTEGER NOT NULL DEFAULT 0 CHECK (privileged IN (0,1)),
  sensitivity TEXT NOT NULL DEFAULT 'medium' CHECK (sensitivity IN ('low','medium','high','critical')),
  owner_id    TEXT,
  description TEXT,
  attributes  TEXT NOT NULL DEFAULT '{}',
  updated_at  TEXT NOT NULL,
  UNIQUE (platform, external_id)
) STRICT;
CREATE INDEX entitlements_app ON entitlements (app);

CREATE TABLE assignments (
  user_id        TEXT NOT NULL REFERENCES users (id),
  entitlement_id TEXT NOT NULL REFERENCES entitlements (id),
  platform       TEXT NOT NULL,
  granted_at     TEXT,
  source         TEXT NOT NULL DEFAULT 'direct' CHECK (source IN ('direct','group','rule')),
  updated_at     TEXT NOT NULL,
  PRIMARY KEY (user_id, entitlement_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX assignments_entitlement ON assignments (entitlement_id, user_id);

-- Raw usage events, one per sign-in or use.
CREATE TABLE activity_events (
  id       INTEGER PRIMARY KEY,
  user_id  TEXT NOT NULL REFERENCES users (id),
  app      TEXT NOT NULL,
  at       TEXT NOT NULL,
  outcome  TEXT NOT NULL DEFAULT 'success' CHECK (outcome IN ('success','failure')),
  platform TEXT NOT NULL,
  UNIQUE (user_id, app, at, outcome)
) STRICT;

-- Per user x app rollup, kept in step with activity_events by the repository.
CREATE TABLE activity_rollup (
  user_id     TEXT NOT NULL,
  app         TEXT NOT NULL,
  first_used  TEXT,
  last_used   TEXT,
  sign_ins    INTEGER NOT NULL DEFAULT 0,
  failed      INTEGER NOT NULL DEFAULT 0,
  last_failed TEXT,
  PRIMARY KEY (user_id, app)
) STRICT, WITHOUT ROWID;

CREATE TABLE hr_changes (
  id         INTEGER PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users (id),
  field      TEXT NOT NULL,
  from_value TEXT,
  to_value   TEXT,
  at         TEXT NOT NULL,
  platform   TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX hr_changes_natural
  ON hr_changes (user_id, field, at, coalesce(from_value, ''), coalesce(to_value, ''));

CREATE TABLE sod_rules (
  id          TEXT PRIMARY KEY,
  platform    TEXT NOT NULL,
  external_id TEXT NOT NULL,
  name        TEXT NOT NULL,
  severity    TEXT NOT NULL DEFAULT 'high' CHECK (severity IN ('low','medium','high','critical')),
  updated_at  TEXT NOT NULL,
  UNIQUE (platform, external_id)
) STRICT;

CREATE TABLE sod_rule_entitlements (
  rule_id        TEXT NOT NULL REFERENCES sod_rules (id) ON DELETE CASCADE,
  side           TEXT NOT NULL CHECK (side IN ('left','right')),
  entitlement_id TEXT NOT NULL,
  PRIMARY KEY (rule_id, side, entitlement_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX sod_rule_entitlements_ent ON sod_rule_entitlements (entitlement_id);

CREATE TABLE campaigns (
  id          TEXT PRIMARY KEY,
  platform    TEXT NOT NULL,
  external_id TEXT NOT NULL,
  name        TEXT NOT NULL,
  status      TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active','closed')),
  created_at  TEXT NOT NULL,
  due_at      TEXT,
  attributes  TEXT NOT NULL DEFAULT '{}',
  updated_at  TEXT NOT NULL,
  UNIQUE (platform, external_id)
) STRICT;
CREATE INDEX campaigns_status ON campaigns (status, created_at);

-- A review item: one (user, entitlement) pair to certify in a campaign.
-- risk_score / signals / recommendation are written by the analysis pass so
-- the queue can be paged in risk order from an index.
CREATE TABLE review_items (
  id             TEXT PRIMARY KEY,
  campaign_id    TEXT NOT NULL REFERENCES campaigns (id),
  user_id        TEXT NOT NULL REFERENCES users (id),
  entitlement_id TEXT NOT NULL REFERENCES entitlements (id),
  reviewer_id    TEXT,
  platform       TEXT NOT NULL,
  external_id    TEXT NOT NULL,
  status         TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending','proposed','decided')),
  risk_score     INTEGER NOT NULL DEFAULT 0,
  risk_level     TEXT NOT NULL DEFAULT 'low',
  signals        TEXT NOT NULL DEFAULT '[]',
  recommendation TEXT,
  analyzed_at    TEXT,
  updated_at     TEXT NOT NULL,
  UNIQUE (platform, external_id),
  UNIQUE (campaign_id, user_id, entitlement_id)
) STRICT;
CREATE INDEX review_items_risk ON review_items (campaign_id, status, risk_score DESC, id);
CREATE INDEX review_items_risk_all ON review_items (campaign_id, risk_score DESC, id);
CREATE INDEX review_items_user ON review_items (campaign_id, status, user_id, id);
CREATE INDEX review_items_user_all ON review_items (campaign_id, user_id, id);
CREATE INDEX review_items_reviewer ON review_items (campaign_id, reviewer_id, status, risk_score DESC, id);
CREATE INDEX review_items_by_user ON review_items (user_id);

-- Past human decisions (decisions.csv and decisions recorded through the tools).
CREATE TABLE past_decisions (
  id             INTEGER PRIMARY KEY,
  user_id        TEXT NOT NULL REFERENCES users (id),
  entitlement_id TEXT NOT NULL REFERENCES entitlements (id),
  decision       TEXT NOT NULL CHECK (decision IN ('approve','revoke')),
  decided_at     TEXT,
  reviewer_id    TEXT,
  campaign_id    TEXT,
  source         TEXT NOT NULL DEFAULT 'import',
  platform       TEXT NOT NULL
) STRICT;
CREATE UNIQUE INDEX past_decisions_natural
  ON past_decisions (user_id, entitlement_id, coalesce(campaign_id, ''), coalesce(decided_at, ''), source);
CREATE INDEX past_decisions_entitlement ON past_decisions (entitlement_id);
