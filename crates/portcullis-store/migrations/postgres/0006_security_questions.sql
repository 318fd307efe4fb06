-- Security questions; answers are normalised and hashed with argon2id, like passwords.
CREATE TABLE security_questions (
    user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    question    TEXT NOT NULL,
    answer_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (user_id, position)
);
