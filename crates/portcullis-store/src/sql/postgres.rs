//! The PostgreSQL store: the area modules of `crate::sql`, compiled for `sqlx::Postgres`.

use crate::pooled::Pooled;

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Pool,
    writer: Pool,
    /// Writes the audit log in groups.
    audit: audit::AuditWriter,
}

type This = PgStore;
type Db = sqlx::Postgres;
type Pool = Pooled<Db>;
/// How a write transaction begins.
const BEGIN: &str = "BEGIN";
/// Whether a `WITH` clause may hold writes (PostgreSQL's may, so that several writes take one statement, one round trip).
const WRITES_IN_WITH: bool = true;
/// The statement that leases webhook deliveries (see `claim_deliveries!`).
const CLAIM_DELIVERIES: &str = claim_deliveries!("FOR UPDATE OF d SKIP LOCKED");
/// The statement that leases outbound calls (see `claim_calls!`).
const CLAIM_CALLS: &str = claim_calls!("FOR UPDATE SKIP LOCKED");
/// The statement that leases outbox rows (see `claim_messages!`).
const CLAIM_MESSAGES: &str = claim_messages!("FOR UPDATE SKIP LOCKED");

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
