-- The outbound queue: HTTP calls to other systems (back-channel logout tokens; later
-- webhooks), sealed with the master key, leased by whichever node works the queue, retried
-- with backoff until they succeed or are given up.
CREATE TABLE outbound_calls (
    id           TEXT PRIMARY KEY,
    org_id       TEXT,
    kind         TEXT NOT NULL,
    payload      TEXT NOT NULL,
    attempts     BIGINT NOT NULL DEFAULT 0,
    next_at      BIGINT NOT NULL,
    leased_until BIGINT,
    created_at   BIGINT NOT NULL,
    done_at      BIGINT,
    failed_at    BIGINT,
    last_error   TEXT
);
CREATE INDEX outbound_calls_due ON outbound_calls (next_at) WHERE done_at IS NULL AND failed_at IS NULL;
