//! The two handles every statement of `sql/` runs on, a pool ([`Pooled`]) and a transaction
//! ([`Tx`]), and what they do differently behind a transaction pooler (PgBouncer's
//! `pool_mode = transaction`, and the managed poolers that work the same way).
//!
//! Such a pooler lends a server connection for one transaction at a time, so nothing may
//! outlive a transaction. sqlx prepares every statement under a name (`sqlx_s_N`) that
//! stays on the server connection: behind the pooler the next transaction finds it gone,
//! or finds another client's statement of the same name. So there every statement is
//! prepared unnamed ([`Unnamed`]); and since sqlx parses a statement and runs it in two
//! exchanges, each ending in a `Sync` after which the pooler may hand the server connection
//! to another client (whose own unnamed statement would replace this one), a statement
//! outside a transaction runs in one of its own (`BEGIN`, the statement, `COMMIT`), which
//! holds the server connection throughout. Hand-written: sqlx has no pooler mode
//! (transact-rs/sqlx#67), and these are the smallest wrappers that keep it safe there.
//! Without a pooler both handles are sqlx's own pool and transaction, unchanged.

use std::ops::Deref;

use futures_util::future::BoxFuture;
use futures_util::stream::{self, BoxStream, StreamExt, TryStreamExt};
use sqlx::{Database, Describe, Either, Error, Execute, Executor, Pool, Transaction};

/// A connection pool whose statements are safe behind a transaction pooler when `pooler`
/// is set.
#[derive(Debug)]
pub struct Pooled<DB: Database> {
    pool: Pool<DB>,
    pooler: bool,
}

impl<DB: Database> Clone for Pooled<DB> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            pooler: self.pooler,
        }
    }
}

impl<DB: Database> Pooled<DB> {
    /// Wraps `pool`; `pooler`: its connections go through a transaction pooler.
    pub fn new(pool: Pool<DB>, pooler: bool) -> Self {
        Self { pool, pooler }
    }

    /// Starts a transaction with `statement`, on a task of its own. sqlx's `begin` is not
    /// cancel-safe (transact-rs/sqlx#2054, #4385): a future dropped between sending `BEGIN`
    /// and reading its answer leaves the connection inside a transaction that no guard
    /// rolls back, and the next `BEGIN` on it fails forever. On its own task the `BEGIN`
    /// always runs to completion; when the caller is gone, the task's output, the
    /// transaction guard, is dropped and rolls back as it should.
    pub async fn begin(&self, statement: &'static str) -> Result<Tx<DB>, Error> {
        let pool = self.pool.clone();
        let inner = tokio::spawn(async move { pool.begin_with(statement).await })
            .await
            .map_err(|e| Error::Io(std::io::Error::other(e)))??;
        Ok(Tx {
            inner,
            unnamed: self.pooler,
        })
    }
}

impl<DB: Database> Deref for Pooled<DB> {
    type Target = Pool<DB>;

    fn deref(&self) -> &Pool<DB> {
        &self.pool
    }
}

/// A transaction begun by [`Pooled::begin`]; rolled back when dropped uncommitted.
#[derive(Debug)]
pub struct Tx<DB: Database> {
    inner: Transaction<'static, DB>,
    unnamed: bool,
}

impl<DB: Database> Tx<DB> {
    /// Commits.
    pub async fn commit(self) -> Result<(), Error> {
        self.inner.commit().await
    }
}

/// A statement prepared without a name when `unnamed` is set: sqlx then neither names nor
/// caches it (`Execute::persistent`), so nothing of it outlives the exchange.
struct Unnamed<E> {
    query: E,
    unnamed: bool,
}

impl<'q, DB: Database, E: Execute<'q, DB>> Execute<'q, DB> for Unnamed<E> {
    fn sql(&self) -> &'q str {
        self.query.sql()
    }

    fn statement(&self) -> Option<&DB::Statement<'q>> {
        self.query.statement()
    }

    fn take_arguments(
        &mut self,
    ) -> Result<Option<<DB as Database>::Arguments<'q>>, sqlx::error::BoxDynError> {
        self.query.take_arguments()
    }

    fn persistent(&self) -> bool {
        !self.unnamed && self.query.persistent()
    }
}

impl<'p, DB: Database> Executor<'p> for &'_ Pooled<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        if !self.pooler {
            return self.pool.fetch_many(query);
        }
        // Collected inside the transaction: it must end before the rows are handed on.
        let handle = self.clone();
        stream::once(async move {
            let mut tx = handle.begin("BEGIN").await?;
            let rows = (&mut tx).fetch_many(query).try_collect::<Vec<_>>().await;
            tx.finish(rows).await
        })
        .map_ok(|rows| stream::iter(rows.into_iter().map(Ok)))
        .try_flatten()
        .boxed()
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        if !self.pooler {
            return self.pool.fetch_optional(query);
        }
        let handle = self.clone();
        Box::pin(async move {
            let mut tx = handle.begin("BEGIN").await?;
            let row = (&mut tx).fetch_optional(query).await;
            tx.finish(row).await
        })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, Error>> {
        self.pool.prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, Error>> {
        self.pool.describe(sql)
    }
}

impl<DB: Database> Tx<DB> {
    /// Commits after `outcome` succeeded; otherwise rolls back at once (not when the
    /// connection is next used), so that a pooler gets its server connection back.
    async fn finish<T>(self, outcome: Result<T, Error>) -> Result<T, Error> {
        match outcome {
            Ok(value) => {
                self.inner.commit().await?;
                Ok(value)
            }
            Err(e) => {
                let _ = self.inner.rollback().await;
                Err(e)
            }
        }
    }
}

impl<'t, DB: Database> Executor<'t> for &'t mut Tx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let unnamed = self.unnamed;
        (&mut *self.inner).fetch_many(Unnamed { query, unnamed })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, Error>>
    where
        't: 'e,
        E: 'q + Execute<'q, DB>,
    {
        let unnamed = self.unnamed;
        (&mut *self.inner).fetch_optional(Unnamed { query, unnamed })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, Error>>
    where
        't: 'e,
    {
        (&mut *self.inner).prepare_with(sql, parameters)
    }

    fn describe<'e, 'q: 'e>(self, sql: &'q str) -> BoxFuture<'e, Result<Describe<DB>, Error>>
    where
        't: 'e,
    {
        (&mut *self.inner).describe(sql)
    }
}
