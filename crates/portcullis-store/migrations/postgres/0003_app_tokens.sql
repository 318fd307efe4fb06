-- Long-lived application tokens, stored as SHA-256 hashes. Access tokens made from one are
-- bound to a session that goes when the application token goes.
CREATE TABLE app_tokens (
    id           TEXT PRIMARY KEY,
    user_id      TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    description  TEXT NOT NULL,
    token_hash   TEXT NOT NULL UNIQUE,
    prefix       TEXT NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT,
    last_used_at BIGINT
);
CREATE INDEX app_tokens_user ON app_tokens (user_id, id);

ALTER TABLE sessions ADD COLUMN app_token_id TEXT REFERENCES app_tokens(id) ON DELETE CASCADE;
CREATE INDEX sessions_app_token ON sessions (app_token_id);
