-- Webhooks: endpoints an organization's events are posted to, signed per Standard Webhooks.
-- `event_types` is the list of types it wants as ',a,b,' ('' for every type), so that the
-- audit log's writer can match it with one portable LIKE. The secret is sealed with the
-- master key (it signs, so it cannot be kept as a hash).
CREATE TABLE webhooks (
    id            TEXT PRIMARY KEY,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    url           TEXT NOT NULL,
    event_types   TEXT NOT NULL,
    enabled       BOOLEAN NOT NULL,
    failing_since BIGINT,
    secret_sealed TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX webhooks_org ON webhooks (org_id, id);

-- One row per event and endpoint, written by the audit log's writer in the transaction that
-- records the event; leased by whichever node delivers, retried for about three days.
-- `ordering_key` is the user the event is about (or the event itself), to keep each user's
-- events in order.
CREATE TABLE webhook_deliveries (
    webhook_id      TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT NOT NULL,
    event_type      TEXT NOT NULL,
    ordering_key    TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_at         BIGINT NOT NULL,
    leased_until    BIGINT,
    last_status     BIGINT,
    last_latency_ms BIGINT,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    delivered_at    BIGINT,
    failed_at       BIGINT,
    PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at)
    WHERE delivered_at IS NULL AND failed_at IS NULL;
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, ordering_key, event_id)
    WHERE delivered_at IS NULL AND failed_at IS NULL;

-- Synchronous hooks, one of each name per organization.
CREATE TABLE hooks (
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    url           TEXT NOT NULL,
    timeout_ms    BIGINT NOT NULL,
    fail_closed   BOOLEAN NOT NULL,
    enabled       BOOLEAN NOT NULL,
    secret_sealed TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    PRIMARY KEY (org_id, name)
);
