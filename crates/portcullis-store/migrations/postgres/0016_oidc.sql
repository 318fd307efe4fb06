-- The OpenID provider's state.
-- A session made for an OAuth client (by an authorization code) names the client, the scopes
-- granted, the browser session it came from (the ID token's `sid`, which logout ends) and
-- when the user signed in there (`auth_time`).
ALTER TABLE sessions ADD COLUMN client_id TEXT;
ALTER TABLE sessions ADD COLUMN scope TEXT;
ALTER TABLE sessions ADD COLUMN browser_sid TEXT;
ALTER TABLE sessions ADD COLUMN auth_time BIGINT;
CREATE INDEX sessions_client ON sessions (user_id, client_id);
CREATE INDEX sessions_browser ON sessions (browser_sid);

-- Authorization codes, by the SHA-256 of the code. A code is kept after its use until it
-- would have expired (and a while after), with the session its first use made, so that a
-- second use can end that session (RFC 6749 section 4.1.2).
CREATE TABLE oauth_codes (
    code_hash      TEXT PRIMARY KEY,
    client_id      TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    user_id        TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    browser_sid    TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    scope          TEXT NOT NULL,
    nonce          TEXT,
    code_challenge TEXT,
    auth_time      BIGINT NOT NULL,
    amr            TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    grant_sid      TEXT
);
CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at);

-- What a user let a third-party client have: asked once per client and scopes.
CREATE TABLE oauth_consents (
    user_id    TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    client_id  TEXT NOT NULL REFERENCES oauth_clients (id) ON DELETE CASCADE,
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
