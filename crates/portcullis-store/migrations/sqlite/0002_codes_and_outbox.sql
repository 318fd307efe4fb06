-- One-time codes (verification, passwordless sign-in, password reset). Only hashes are
-- kept; reset links carry a separate token, also hashed.
CREATE TABLE codes (
    id          TEXT PRIMARY KEY,
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    destination TEXT NOT NULL,
    code_hash   TEXT NOT NULL,
    token_hash  TEXT UNIQUE,
    attempts    BIGINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    consumed_at BIGINT
);
CREATE INDEX codes_user_purpose ON codes (user_id, purpose, id);

-- Messages waiting to be delivered, written in the same transaction as what they announce.
-- The payload is sealed with the master key and wiped once sent; the row stays for rate
-- limits per recipient.
CREATE TABLE outbox (
    id              TEXT PRIMARY KEY,
    org_id          TEXT,
    purpose         TEXT NOT NULL,
    recipient       TEXT NOT NULL,
    payload         TEXT NOT NULL,
    created_at      BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT,
    attempts        BIGINT NOT NULL DEFAULT 0,
    sent_at         BIGINT,
    failed_at       BIGINT,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND failed_at IS NULL;
CREATE INDEX outbox_recipient ON outbox (recipient, purpose, created_at);
