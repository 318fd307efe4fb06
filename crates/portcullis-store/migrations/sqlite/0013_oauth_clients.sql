-- OAuth clients: applications that sign an organization's users in through OpenID Connect.
-- Lists are JSON arrays of strings; the secret is kept as its SHA-256 (a client secret is
-- machine-made with 256 random bits, so a slow hash would only cap the token endpoint).
CREATE TABLE oauth_clients (
    id                           TEXT PRIMARY KEY,
    org_id                       TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name                         TEXT NOT NULL,
    client_type                  TEXT NOT NULL,
    redirect_uris                TEXT NOT NULL,
    post_logout_redirect_uris    TEXT NOT NULL,
    grant_types                  TEXT NOT NULL,
    scopes                       TEXT NOT NULL,
    token_endpoint_auth_method   TEXT NOT NULL,
    id_token_signed_response_alg TEXT NOT NULL,
    first_party                  BOOLEAN NOT NULL DEFAULT FALSE,
    backchannel_logout_uri       TEXT,
    access_token_lifetime_secs   BIGINT,
    refresh_token_lifetime_secs  BIGINT,
    secret_hash                  TEXT UNIQUE,
    secret_prefix                TEXT,
    created_at                   BIGINT NOT NULL,
    updated_at                   BIGINT NOT NULL
);
CREATE INDEX oauth_clients_org ON oauth_clients (org_id, id);
