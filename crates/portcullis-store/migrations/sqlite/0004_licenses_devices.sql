-- Licenses let devices register; devices get tokens that sign users in to the license's
-- organization. Keys and tokens are stored as SHA-256 hashes. `device_count` is kept on the
-- license row so that the limit is checked and taken in one atomic update.
CREATE TABLE licenses (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    key_hash     TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    max_devices  BIGINT,
    device_count BIGINT NOT NULL DEFAULT 0,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT
);
CREATE INDEX licenses_org ON licenses (org_id, id);

CREATE TABLE devices (
    id           TEXT PRIMARY KEY,
    org_id       TEXT NOT NULL REFERENCES organizations(id) ON DELETE CASCADE,
    license_id   TEXT NOT NULL REFERENCES licenses(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    device_type  TEXT,
    identifier   TEXT,
    token_hash   TEXT NOT NULL UNIQUE,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT
);
CREATE INDEX devices_org ON devices (org_id, id);
CREATE INDEX devices_license ON devices (license_id);

ALTER TABLE sessions ADD COLUMN device_id TEXT REFERENCES devices(id) ON DELETE CASCADE;
CREATE INDEX sessions_device ON sessions (device_id);
