//! Storage for Portcullis: the core's [`Store`] trait on SQLite (the default, one file in
//! WAL mode) and on PostgreSQL (several nodes). Both run the same SQL (see `sql/`); only
//! connection set-up and migration folders differ.

pub mod pgbouncer;
mod pooled;
mod rows;
mod sql;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use portcullis_core::store::{Store, StoreError};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::PgPool;

use pooled::Pooled;

pub use sql::{PgStore, SqliteStore};

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path`
    Sqlite,
    /// `postgres://...` or `postgresql://...`
    Postgres,
}

impl Backend {
    /// Recognises the URL scheme.
    pub fn of(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// How PostgreSQL's connections reach it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PoolMode {
    /// Directly, or through a pooler that lends a server connection for a whole session.
    #[default]
    Session,
    /// Through a pooler that lends a server connection for one transaction at a time
    /// (PgBouncer's `pool_mode = transaction`): nothing may outlive a transaction (see
    /// [`pooled`]).
    Transaction,
}

/// Connection pool settings.
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Most connections held.
    pub max_connections: u32,
    /// How long to wait for a free connection.
    pub acquire_timeout: Duration,
    /// How the connections reach PostgreSQL.
    pub mode: PoolMode,
    /// A URL that reaches PostgreSQL itself, for what needs a session of its own (the change
    /// feed's `LISTEN`, migrations) when the pool's URL names a transaction pooler.
    pub direct_url: Option<String>,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
            mode: PoolMode::Session,
            direct_url: None,
        }
    }
}

/// An open database of either kind.
#[derive(Debug, Clone)]
pub enum Database {
    /// SQLite.
    Sqlite(SqliteStore),
    /// PostgreSQL, and where it keeps a session of its own (the change feed, migrations):
    /// none behind a transaction pooler without a direct URL.
    Postgres(PgStore, Option<Box<PgConnectOptions>>),
}

/// A SQLite pool that never lends out a connection still inside a transaction. A cancelled
/// request must not leave the writer mid-transaction (`begin` in `sql/` is the fix); this
/// is the second line: such a connection is closed, which rolls it back, instead of making
/// every later write fail. The transaction depth is read after the connection's worker
/// thread has done what was queued before (a rollback sent by a dropped guard).
fn sqlite_pool() -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .after_release(|conn, _| {
            Box::pin(async move {
                if !sqlx::Connection::is_in_transaction(conn) {
                    return Ok(true);
                }
                drop(conn.lock_handle().await?);
                Ok(!sqlx::Connection::is_in_transaction(conn))
            })
        })
        .before_acquire(|conn, _| {
            Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
        })
}

/// The same rule for PostgreSQL, whose connections also refuse to stay idle in a
/// transaction on the server's side (`idle_in_transaction_session_timeout`), so a leaked
/// one cannot hold locks for long whatever the client library does.
fn pg_pool() -> PgPoolOptions {
    PgPoolOptions::new()
        .after_release(|conn, _| {
            Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
        })
        .before_acquire(|conn, _| {
            Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
        })
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// A failed connection to the URL in `setting`, said in one line, with what to set when it
/// is a pooler's refusal: a transaction pooler refuses the startup options a direct
/// session sends (PgBouncer: `unsupported startup parameter`), and once those are ignored
/// it breaks sqlx's named statements (see [`rows::pooler_hint`]).
fn connect_error(e: &sqlx::Error, setting: &str, pooler: bool) -> StoreError {
    if let Some(hint) = rows::pooler_hint(e) {
        return StoreError::Unavailable(hint.to_owned());
    }
    let refused = e.as_database_error().and_then(|d| {
        d.message()
            .strip_prefix("unsupported startup parameter: ")
            .map(str::to_owned)
    });
    match refused {
        Some(param) if pooler => StoreError::Unavailable(format!(
            "the pooler at {setting} refused the startup parameter `{param}` (from the URL): \
             remove it from the URL, or add it to the pooler's ignore_startup_parameters"
        )),
        Some(param) => StoreError::Unavailable(format!(
            "the database at {setting} refused the startup parameter `{param}`, so it is a \
             connection pooler: behind a transaction pooler (PgBouncer's pool_mode = transaction) \
             set PORTCULLIS_DATABASE_POOL_MODE=transaction (and PORTCULLIS_DATABASE_DIRECT_URL \
             for the change feed); behind a session pooler add `{param}` to its \
             ignore_startup_parameters"
        )),
        None => unavailable(e),
    }
}

impl Database {
    /// Connects to `url` (`sqlite://FILE` is created when missing, with its folder).
    pub async fn connect(url: &str, settings: &PoolSettings) -> Result<Self, StoreError> {
        match Backend::of(url) {
            Some(Backend::Sqlite) => {
                let opts = SqliteConnectOptions::from_str(url)
                    .map_err(unavailable)?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    // FULL: a commit is on disk before its answer leaves. NORMAL would survive
                    // a process crash but not a power cut, which could bring back a rotated
                    // refresh token or an old password hash; an identity server cannot.
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(10))
                    .foreign_keys(true);
                if let Some(dir) = opts
                    .get_filename()
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(unavailable)?;
                }
                let pool = sqlite_pool()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(opts.clone())
                    .await
                    .map_err(unavailable)?;
                let writer = sqlite_pool()
                    .max_connections(1)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(opts)
                    .await
                    .map_err(unavailable)?;
                Ok(Self::Sqlite(SqliteStore::new(
                    Pooled::new(pool, false),
                    Pooled::new(writer, false),
                )))
            }
            Some(Backend::Postgres) => {
                let pooler = settings.mode == PoolMode::Transaction;
                let opts = pg_options(url)?;
                let direct = match (&settings.direct_url, pooler) {
                    (Some(direct), _) => Some(Box::new(pg_options(direct)?)),
                    (None, false) => Some(Box::new(opts.clone())),
                    (None, true) => None,
                };
                let opts = if pooler {
                    // Behind the pooler: no session state, so no startup options it would
                    // refuse (the timeout is the pooler's `idle_transaction_timeout`
                    // there), and no statement cache (every statement is unnamed).
                    opts.statement_cache_capacity(0).extra_float_digits(None)
                } else {
                    opts.options([("idle_in_transaction_session_timeout", "60s")])
                };
                let pool = pg_pool()
                    .max_connections(settings.max_connections)
                    .acquire_timeout(settings.acquire_timeout)
                    .connect_with(opts)
                    .await
                    .map_err(|e| connect_error(&e, "PORTCULLIS_DATABASE_URL", pooler))?;
                let pool = Pooled::new(pool, pooler);
                Ok(Self::Postgres(PgStore::new(pool.clone(), pool), direct))
            }
            None => Err(StoreError::Unavailable(
                "the database URL must start with sqlite:// or postgres://".to_owned(),
            )),
        }
    }

    /// Which kind this is.
    pub fn backend(&self) -> Backend {
        match self {
            Self::Sqlite(_) => Backend::Sqlite,
            Self::Postgres(..) => Backend::Postgres,
        }
    }

    /// Whether this node follows the database's change feed (PostgreSQL reached directly,
    /// or a direct URL beside a transaction pooler's).
    pub fn has_change_feed(&self) -> bool {
        matches!(self, Self::Postgres(_, Some(_)))
    }

    /// Applies pending migrations (safe to run on every start and from several nodes).
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match self {
            Self::Sqlite(s) => sqlx::migrate!("./migrations/sqlite")
                .run(&**s.pool())
                .await
                .map_err(unavailable),
            Self::Postgres(_, Some(direct)) => {
                let pool = PgPoolOptions::new()
                    .max_connections(1)
                    .connect_with((**direct).clone())
                    .await
                    .map_err(|e| connect_error(&e, "PORTCULLIS_DATABASE_DIRECT_URL", false))?;
                let migrated = migrate_postgres(&pool).await;
                pool.close().await;
                migrated
            }
            Self::Postgres(s, None) => migrate_postgres(&**s.pool()).await,
        }
    }

    /// The store.
    pub fn store(&self) -> Arc<dyn Store> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(s, _) => Arc::new(s.clone()),
        }
    }

    /// Closes every connection.
    pub async fn close(&self) {
        match self {
            Self::Sqlite(s) => s.pool().close().await,
            Self::Postgres(s, _) => s.pool().close().await,
        }
    }
}

/// The options of a PostgreSQL URL.
fn pg_options(url: &str) -> Result<PgConnectOptions, StoreError> {
    PgConnectOptions::from_str(url).map_err(unavailable)
}

/// Applies PostgreSQL's pending migrations in one transaction, which holds one server
/// connection throughout, so that it is the same whether `pool` reaches PostgreSQL itself
/// or a transaction pooler: a transaction-scoped advisory lock (not sqlx's session lock,
/// which a pooler would leave held on a server connection) keeps two nodes from migrating
/// at once, and the statements sqlx's migrator prepares under names are dropped before
/// the connection goes back (`DEALLOCATE ALL`). All pending migrations land together or
/// none does.
async fn migrate_postgres<P>(pool: &P) -> Result<(), StoreError>
where
    for<'p> &'p P: sqlx::Acquire<'p, Database = sqlx::Postgres>,
{
    let mut migrator = sqlx::migrate!("./migrations/postgres");
    migrator.set_locking(false);
    let mut tx = sqlx::Acquire::begin(pool).await.map_err(unavailable)?;
    sqlx::query("SELECT pg_advisory_xact_lock(7010453302137110067)")
        .persistent(false)
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    sqlx::raw_sql("DEALLOCATE ALL")
        .execute(&mut *tx)
        .await
        .map_err(unavailable)?;
    let migrated = migrator.run(&mut *tx).await.map_err(unavailable);
    if migrated.is_ok() {
        sqlx::raw_sql("DEALLOCATE ALL")
            .execute(&mut *tx)
            .await
            .map_err(unavailable)?;
        tx.commit().await.map_err(unavailable)?;
    }
    migrated
}

/// What the change feed reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The feed is (again) connected: what was cached before may have missed changes.
    Connected,
    /// The feed is lost: nothing can be trusted until it is back.
    Lost,
    /// Something about this user changed.
    User(portcullis_core::UserId),
    /// Something that may concern any user changed.
    All,
}

impl Database {
    /// Follows the database's change feed (PostgreSQL `LISTEN`; see migration 0010) until
    /// the task is dropped, reconnecting after a second when the connection is lost. With
    /// SQLite, one process is the only writer, so there is no feed and this returns at once;
    /// so it does behind a transaction pooler without a direct URL (see
    /// [`Database::has_change_feed`]).
    pub async fn follow_changes(&self, mut on: impl FnMut(Change) + Send) {
        let Self::Postgres(_, Some(direct)) = self else {
            return;
        };
        // Its own connection, outside the pool (and outside any pooler). A short acquire
        // timeout: while the database is away each attempt to reconnect gives up quickly
        // and the cache stays off, rather than one attempt retrying for sqlx's default 30 s.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(Duration::from_secs(2))
            .connect_lazy_with((**direct).clone());
        loop {
            match listen(&pool).await {
                Ok(mut listener) => {
                    on(Change::Connected);
                    // `Ok(None)`: the connection dropped (notifications may be lost).
                    while let Ok(Some(n)) = listener.try_recv().await {
                        match n.payload() {
                            "*" => on(Change::All),
                            id => match id.parse() {
                                Ok(user) => on(Change::User(user)),
                                Err(_) => on(Change::All),
                            },
                        }
                    }
                    on(Change::Lost);
                }
                Err(e) => tracing::warn!(error = %e, "change feed unavailable; session cache off"),
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

async fn listen(pool: &PgPool) -> Result<sqlx::postgres::PgListener, sqlx::Error> {
    let schema: String = sqlx::query_scalar("SELECT current_schema()")
        .fetch_one(pool)
        .await?;
    let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
    // A lost connection must be reported (`Ok(None)`) at once so the cache goes off, not
    // after the listener has tried to reconnect on its own.
    listener.eager_reconnect(false);
    listener.listen(&format!("portcullis_{schema}")).await?;
    Ok(listener)
}

/// Fresh PostgreSQL schemas for tests: each test gets its own, so runs never collide.
pub mod pg_schema {
    use super::*;
    use sqlx::Executor;

    /// Creates schema `name` in the database at `base_url` and answers a URL whose
    /// connections use it.
    pub async fn create(base_url: &str, name: &str) -> Result<String, StoreError> {
        check_name(name)?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(base_url)
            .await
            .map_err(unavailable)?;
        pool.execute(format!("CREATE SCHEMA IF NOT EXISTS \"{name}\"").as_str())
            .await
            .map_err(unavailable)?;
        pool.close().await;
        let sep = if base_url.contains('?') { '&' } else { '?' };
        Ok(format!("{base_url}{sep}options=-c%20search_path%3D{name}"))
    }

    /// Drops schema `name` and everything in it.
    pub async fn drop(base_url: &str, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .connect(base_url)
            .await
            .map_err(unavailable)?;
        pool.execute(format!("DROP SCHEMA IF EXISTS \"{name}\" CASCADE").as_str())
            .await
            .map_err(unavailable)?;
        pool.close().await;
        Ok(())
    }

    fn check_name(name: &str) -> Result<(), StoreError> {
        if name.is_empty()
            || name.len() > 60
            || !name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(StoreError::Unavailable(
                "schema names are a-z, 0-9 and _".to_owned(),
            ));
        }
        Ok(())
    }
}
