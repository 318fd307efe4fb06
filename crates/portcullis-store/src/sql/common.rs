//! What the SQL of every area shares: the store's construction, and the lists and deletions of rows
//! owned by a user or an organization. Written once, compiled for each backend (see
//! [`crate::sql`]).

use portcullis_core::store::{events_attached, StoreError};

use crate::rows::db_err;

use super::{Db, Pool, This, BEGIN};
use crate::sql::begin;

impl This {
    /// Wraps connected pools: `pool` for reads, `writer` for every statement that
    /// writes. On SQLite the writer has one connection: SQLite lets one connection
    /// write at a time, and a second one waiting on the lock sleeps in growing steps
    /// (its busy handler), which the benchmark saw as registration latency tails;
    /// queueing in the pool instead hands the lock on at once, in order. On
    /// PostgreSQL both are the same pool.
    /// Starts the audit log's writer, so call it inside the Tokio runtime.
    pub fn new(pool: Pool, writer: Pool) -> Self {
        Self {
            audit: super::audit::AuditWriter::start(writer.clone()),
            pool,
            writer,
        }
    }

    /// The pool.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Rows of `columns` (a `... FROM table` list) owned by `owner`, newest first.
    pub(super) async fn list_owned<R, T>(
        &self,
        columns: &str,
        owner_column: &str,
        owner: String,
    ) -> Result<Vec<T>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
        T: TryFrom<R, Error = StoreError>,
    {
        let sql = format!("SELECT {columns} WHERE {owner_column} = $1 ORDER BY id DESC");
        sqlx::query_as::<_, R>(&sql)
            .bind(owner)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(T::try_from)
            .collect()
    }

    /// Runs one write statement and answers how many rows it changed. With events attached to
    /// the write (`portcullis_core::store::with_events`) it runs in a transaction that records
    /// them, committed only when a row changed: the change and its events land together or
    /// not at all. Without, it runs alone.
    pub(super) async fn write_one<'q>(
        &self,
        query: sqlx::query::Query<'q, Db, <Db as sqlx::Database>::Arguments<'q>>,
    ) -> Result<u64, StoreError> {
        if !events_attached() {
            return Ok(query
                .execute(&self.writer)
                .await
                .map_err(db_err)?
                .rows_affected());
        }
        let mut tx = begin(&self.writer, BEGIN).await?;
        let n = query
            .execute(&mut tx)
            .await
            .map_err(db_err)?
            .rows_affected();
        if n > 0 {
            super::audit::commit(tx).await?;
        }
        Ok(n)
    }

    /// Deletes the row `id` of `table` if `owner` owns it; false otherwise.
    pub(super) async fn delete_owned(
        &self,
        table: &str,
        owner_column: &str,
        id: uuid::Uuid,
        owner: String,
    ) -> Result<bool, StoreError> {
        let sql = format!("DELETE FROM {table} WHERE id = $1 AND {owner_column} = $2");
        // A transaction of one statement, for the events attached to it.
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query(&sql)
            .bind(id.to_string())
            .bind(owner)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        super::audit::commit(tx).await?;
        Ok(true)
    }
}
