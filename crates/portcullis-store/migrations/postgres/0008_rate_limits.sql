-- Fixed-window request counters per client address or account identifier, shared by
-- every node. Old windows are deleted by the housekeeping job.
CREATE TABLE rate_limits (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    hits         BIGINT NOT NULL
);
