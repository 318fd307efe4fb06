-- Upstream identity providers of organizations ("Continue with ..."), and the upstream
-- accounts linked to users. A provider's settings are one JSON document (most are optional
-- and kind-specific); its client secret (Apple: its private key) is sealed with the master
-- key, since it must be presented, not compared. An identity's key is (provider, issuer,
-- subject), never the email.
CREATE TABLE identity_providers (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL,
    name          TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    settings      TEXT NOT NULL,
    secret_sealed TEXT,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX identity_providers_org ON identity_providers (org_id, id);

CREATE TABLE user_identities (
    id                   TEXT PRIMARY KEY,
    user_id              TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    provider_id          TEXT NOT NULL REFERENCES identity_providers (id) ON DELETE CASCADE,
    issuer               TEXT NOT NULL,
    subject              TEXT NOT NULL,
    email                TEXT,
    refresh_token_sealed TEXT,
    created_at           BIGINT NOT NULL,
    last_used_at         BIGINT
);
CREATE UNIQUE INDEX user_identities_key ON user_identities (provider_id, issuer, subject);
CREATE INDEX user_identities_user ON user_identities (user_id, id);
