//! The outbox of mail and SMS, leased to the couriers of every node. Written once, compiled for
//! each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::store::{MessageStore, OutboxStats, QueuedMessage, StoreError};

use crate::rows::{db_err, ms, OutboxRow};

use super::{Db, This, CLAIM_MESSAGES};
use crate::sql::count;

impl This {
    pub(super) async fn insert_message<'e, E>(
        executor: E,
        m: &QueuedMessage,
    ) -> Result<(), StoreError>
    where
        E: sqlx::Executor<'e, Database = Db>,
    {
        sqlx::query(
            "INSERT INTO outbox (id, org_id, purpose, recipient, payload, created_at, next_attempt_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(m.id.to_string())
        .bind(m.org_id.map(|o| o.to_string()))
        .bind(&m.purpose)
        .bind(&m.recipient)
        .bind(&m.payload)
        .bind(ms(m.created_at))
        .execute(executor)
        .await
        .map_err(db_err)?;
        Ok(())
    }
}

#[async_trait]
impl MessageStore for This {
    async fn enqueue(&self, message: &QueuedMessage) -> Result<(), StoreError> {
        Self::insert_message(&self.writer, message).await
    }

    async fn claim_messages(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<QueuedMessage>, StoreError> {
        let mut claimed = sqlx::query_as::<_, OutboxRow>(CLAIM_MESSAGES)
            .bind(ms(lease_until))
            .bind(ms(now))
            .bind(count(limit as u64))
            .fetch_all(&self.writer)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(QueuedMessage::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|m| m.id);
        Ok(claimed)
    }

    async fn message_sent(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbox SET sent_at = $1, payload = '', locked_until = NULL, last_error = NULL WHERE id = $2",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn message_failed(
        &self,
        id: uuid::Uuid,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let q = match retry_at {
            Some(at) => sqlx::query(
                "UPDATE outbox SET next_attempt_at = $1, locked_until = NULL, last_error = $2 WHERE id = $3",
            )
            .bind(ms(at)),
            None => sqlx::query(
                "UPDATE outbox SET failed_at = $1, payload = '', locked_until = NULL, last_error = $2 WHERE id = $3",
            )
            .bind(ms(now)),
        };
        q.bind(error)
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError> {
        let (pending, retrying, failed) = sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT \
             COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL AND last_error IS NULL THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN sent_at IS NULL AND failed_at IS NULL AND last_error IS NOT NULL THEN 1 ELSE 0 END), 0), \
             COALESCE(SUM(CASE WHEN failed_at IS NOT NULL THEN 1 ELSE 0 END), 0) \
             FROM outbox WHERE sent_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(db_err)?;
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        Ok(OutboxStats {
            pending: n(pending),
            retrying: n(retrying),
            failed: n(failed),
        })
    }
}
