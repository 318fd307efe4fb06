//! The outbound queue. Written once, compiled for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::store::{OutboundJob, OutboundStore, StoreError};

use crate::rows::{db_err, ms, CallRow};

use super::{This, CLAIM_CALLS};

#[async_trait]
impl OutboundStore for This {
    async fn enqueue_call(&self, job: &OutboundJob) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO outbound_calls (id, org_id, kind, payload, attempts, next_at, created_at) \
             VALUES ($1, $2, $3, $4, 0, $5, $5)",
        )
        .bind(job.id.to_string())
        .bind(job.org_id.map(|o| o.to_string()))
        .bind(&job.kind)
        .bind(&job.payload)
        .bind(ms(job.created_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn claim_calls(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboundJob>, StoreError> {
        let mut claimed = sqlx::query_as::<_, CallRow>(CLAIM_CALLS)
            .bind(ms(lease_until))
            .bind(ms(now))
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.writer)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(OutboundJob::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        claimed.sort_by_key(|j| j.id);
        Ok(claimed)
    }

    async fn call_done(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE outbound_calls SET done_at = $1, payload = '', leased_until = NULL, \
             last_error = NULL WHERE id = $2",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn call_failed(
        &self,
        id: uuid::Uuid,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let q = match retry_at {
            Some(at) => sqlx::query(
                "UPDATE outbound_calls SET next_at = $1, leased_until = NULL, last_error = $2 \
                 WHERE id = $3",
            )
            .bind(ms(at)),
            None => sqlx::query(
                "UPDATE outbound_calls SET failed_at = $1, payload = '', leased_until = NULL, \
                 last_error = $2 WHERE id = $3",
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
}
