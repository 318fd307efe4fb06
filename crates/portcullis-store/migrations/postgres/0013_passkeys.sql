-- WebAuthn credentials (passkeys and security keys). `credential` is the verifier's record
-- of the credential (public key, counter, flags) as webauthn-rs serialises it; `counter`
-- and the backup flags are kept as columns too, for the console and the audit.
CREATE TABLE passkeys (
    id             TEXT PRIMARY KEY,
    user_id        TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    credential_id  TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    credential     TEXT NOT NULL,
    counter        BIGINT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state   BOOLEAN NOT NULL,
    created_at     BIGINT NOT NULL,
    last_used_at   BIGINT
);
CREATE INDEX passkeys_user ON passkeys (user_id, id);

-- A ceremony in progress: single use, a few minutes, in the database so that it works on
-- any node.
CREATE TABLE webauthn_challenges (
    id         TEXT PRIMARY KEY,
    user_id    TEXT REFERENCES users(id) ON DELETE CASCADE,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX webauthn_challenges_expiry ON webauthn_challenges (expires_at);
