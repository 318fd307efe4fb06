//! The SQLite store: the area modules of `crate::sql`, compiled for `sqlx::Sqlite`.

use crate::pooled::Pooled;

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Pool,
    writer: Pool,
    /// Writes the audit log in groups.
    audit: audit::AuditWriter,
}

type This = SqliteStore;
type Db = sqlx::Sqlite;
type Pool = Pooled<Db>;
/// How a write transaction begins: SQLite's must be IMMEDIATE (take the write lock at once,
/// waiting for it under the busy timeout), or a transaction that read first fails with
/// SQLITE_BUSY when another connection wrote since.
const BEGIN: &str = "BEGIN IMMEDIATE";
/// Whether a `WITH` clause may hold writes (SQLite's may not).
const WRITES_IN_WITH: bool = false;
/// The statement that leases webhook deliveries (see `claim_deliveries!`).
const CLAIM_DELIVERIES: &str = claim_deliveries!("");
/// The statement that leases outbound calls (see `claim_calls!`).
const CLAIM_CALLS: &str = claim_calls!("");
/// The statement that leases outbox rows (see `claim_messages!`).
const CLAIM_MESSAGES: &str = claim_messages!("");

#[path = "audit.rs"]
mod audit;
#[path = "codes.rs"]
mod codes;
#[path = "common.rs"]
mod common;
#[path = "devices.rs"]
mod devices;
#[path = "limits.rs"]
mod limits;
#[path = "messages.rs"]
mod messages;
#[path = "meta.rs"]
mod meta;
#[path = "oauth_clients.rs"]
mod oauth_clients;
#[path = "oidc.rs"]
mod oidc;
#[path = "orgs.rs"]
mod orgs;
#[path = "outbound.rs"]
mod outbound;
#[path = "passkeys.rs"]
mod passkeys;
#[path = "scim.rs"]
mod scim;
#[path = "second_factors.rs"]
mod second_factors;
#[path = "sessions.rs"]
mod sessions;
#[path = "upstream.rs"]
mod upstream;
#[path = "users.rs"]
mod users;
#[path = "webhooks.rs"]
mod webhooks;
