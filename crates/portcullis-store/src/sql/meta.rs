//! The node-shared settings and the readiness probe. Written once, compiled for each backend (see
//! [`crate::sql`]).

use async_trait::async_trait;
use portcullis_core::store::{MetaStore, StoreError};

use crate::rows::db_err;

use super::This;

#[async_trait]
impl MetaStore for This {
    async fn ping(&self) -> Result<(), StoreError> {
        // A write through the writer, committed: a node whose writer is stuck, whose
        // disk is full or read-only, or whose database is gone is not ready.
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('readiness_probe', $1) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(uuid::Uuid::new_v4().to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar::<_, String>("SELECT value FROM meta WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)
    }

    async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError> {
        sqlx::query("INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING")
            .bind(key)
            .bind(value)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        self.meta_get(key)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("meta {key} vanished")))
    }
}
