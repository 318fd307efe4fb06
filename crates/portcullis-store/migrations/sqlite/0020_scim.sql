-- SCIM provisioning. An organization's SCIM tokens (the secret kept as SHA-256 only), and
-- what a SCIM client keeps of a user beside the account: its `userName` (unique in the
-- organization, ignoring case), `externalId`, and the other attributes SCIM names, as JSON.
CREATE TABLE scim_tokens (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    description  TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_by   TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT
);
CREATE INDEX scim_tokens_org ON scim_tokens (org_id, id);

ALTER TABLE users ADD COLUMN scim_user_name TEXT;
ALTER TABLE users ADD COLUMN scim_user_name_key TEXT;
ALTER TABLE users ADD COLUMN external_id TEXT;
ALTER TABLE users ADD COLUMN scim_data TEXT;
CREATE UNIQUE INDEX users_scim_user_name ON users (org_id, scim_user_name_key);
CREATE INDEX users_external_id ON users (org_id, external_id);
-- SCIM's lookup by userName (before each create): the expression its filter compares.
CREATE INDEX users_scim_lookup ON users (org_id, LOWER(COALESCE(scim_user_name, username, email, phone, id)));

-- SCIM groups: each stands for a role of the organization; its members are the users who
-- hold the role (user_roles). The display name is unique ignoring case, as is the role.
CREATE TABLE scim_groups (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    display_key  TEXT NOT NULL,
    role         TEXT NOT NULL,
    external_id  TEXT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL,
    UNIQUE (org_id, display_key),
    UNIQUE (org_id, role)
);
