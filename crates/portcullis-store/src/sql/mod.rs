//! One implementation of the storage port in portable SQL (numbered `$n` parameters, which
//! SQLite accepts too), for SQLite and PostgreSQL. Each area's SQL is one module, written
//! once as plain Rust over the type names `This`, `Db` and `Pool`, and compiled twice: once
//! inside [`sqlite`] and once inside [`postgres`], which name those types and the few words
//! the two databases say differently (how a write transaction begins, how outbox rows are
//! locked). sqlx has no practical way to write this generically over databases (its traits
//! would need a bound for every type bound to every query), so this is how the two stores
//! stay identical by construction, formatted and checked like any other code.

/// The statement that leases outbox rows to a courier, ending its sub-select with `$lock`:
/// PostgreSQL needs `FOR UPDATE SKIP LOCKED` so that nodes do not take the same rows;
/// SQLite has one writer at a time, which makes the statement atomic as it is.
macro_rules! claim_messages {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET locked_until = $1, attempts = attempts + 1 WHERE id IN (",
            "SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL ",
            "AND next_attempt_at <= $2 AND (locked_until IS NULL OR locked_until <= $2) ",
            "ORDER BY id LIMIT $3 ",
            $lock,
            ") RETURNING id, org_id, purpose, recipient, payload, created_at, attempts"
        )
    };
}

/// The statement that leases due outbound calls, as `claim_messages!` does outbox rows.
macro_rules! claim_calls {
    ($lock:literal) => {
        concat!(
            "UPDATE outbound_calls SET leased_until = $1, attempts = attempts + 1 WHERE id IN (",
            "SELECT id FROM outbound_calls WHERE done_at IS NULL AND failed_at IS NULL ",
            "AND next_at <= $2 AND (leased_until IS NULL OR leased_until <= $2) ",
            "ORDER BY id LIMIT $3 ",
            $lock,
            ") RETURNING id, org_id, kind, payload, attempts, created_at"
        )
    };
}

/// The statement that leases due webhook deliveries, ending its sub-select with `$lock`
/// (PostgreSQL's names the deliveries' alias `d`). A delivery waits while an earlier one to
/// the same endpoint about the same user is unfinished: each user's events arrive in order.
macro_rules! claim_deliveries {
    ($lock:literal) => {
        concat!(
            "UPDATE webhook_deliveries SET leased_until = $1, attempts = attempts + 1 ",
            "WHERE (webhook_id, event_id) IN (",
            "SELECT d.webhook_id, d.event_id FROM webhook_deliveries d ",
            "JOIN webhooks w ON w.id = d.webhook_id ",
            "WHERE d.delivered_at IS NULL AND d.failed_at IS NULL AND d.next_at <= $2 ",
            "AND (d.leased_until IS NULL OR d.leased_until <= $2) AND w.enabled ",
            "AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e WHERE e.webhook_id = d.webhook_id ",
            "AND e.ordering_key = d.ordering_key AND e.delivered_at IS NULL ",
            "AND e.failed_at IS NULL AND e.event_id < d.event_id) ",
            "ORDER BY d.event_id LIMIT $3 ",
            $lock,
            ") RETURNING webhook_id, event_id, event_type, body, attempts"
        )
    };
}

// Each area module is loaded twice on purpose, once under each backend (see above).
#[allow(clippy::duplicate_mod)]
mod postgres;
#[allow(clippy::duplicate_mod)]
mod sqlite;

pub use postgres::PgStore;
pub use sqlite::SqliteStore;

use portcullis_core::store::StoreError;
use portcullis_core::tokens::StoredSigningKey;

use crate::pooled::{Pooled, Tx};
use crate::rows::{db_err, ms};

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
fn like_pattern(q: &str) -> String {
    let mut out = String::with_capacity(q.len() + 2);
    out.push('%');
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Counts as `i64` for the databases.
fn count(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Stores one signing key (shared by both backends' stores).
async fn insert_key<'e, DB: sqlx::Database>(
    on: impl sqlx::Executor<'e, Database = DB>,
    key: &StoredSigningKey,
) -> Result<(), StoreError>
where
    for<'q> DB::Arguments<'q>: sqlx::IntoArguments<'q, DB>,
    for<'q> String: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    for<'q> i64: sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    sqlx::query::<DB>(
        "INSERT INTO signing_keys (kid, algorithm, public_x, private_sealed, created_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(key.kid.clone())
    .bind(key.algorithm.as_str().to_owned())
    .bind(key.public_x.clone())
    .bind(key.private_sealed.clone())
    .bind(ms(key.created_at))
    .execute(on)
    .await
    .map_err(db_err)?;
    Ok(())
}

/// Starts a write transaction with `statement` (see [`Pooled::begin`]).
async fn begin<DB: sqlx::Database>(
    pool: &Pooled<DB>,
    statement: &'static str,
) -> Result<Tx<DB>, StoreError> {
    pool.begin(statement).await.map_err(db_err)
}
