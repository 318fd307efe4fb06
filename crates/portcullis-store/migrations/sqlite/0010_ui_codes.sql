-- Single-use codes that hand a sign-in on the hosted pages to an application's back end,
-- which exchanges one (with its PKCE verifier) for a token pair. Kept as SHA-256 hashes.
CREATE TABLE ui_codes (
    code_hash  TEXT PRIMARY KEY,
    user_id    TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    challenge  TEXT NOT NULL,
    amr        TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ui_codes_expiry ON ui_codes (expires_at);
