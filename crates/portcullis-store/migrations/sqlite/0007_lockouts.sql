-- Failed sign-in attempts per account (or per identifier, for identifiers with no account,
-- so that both lock alike). Shared by every node.
CREATE TABLE lockouts (
    key          TEXT PRIMARY KEY,
    failures     BIGINT NOT NULL,
    locks        BIGINT NOT NULL,
    locked_until BIGINT,
    updated_at   BIGINT NOT NULL
);
