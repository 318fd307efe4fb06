//! Failure counters, locks and rate-limit windows. Written once, compiled for each backend (see
//! [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::store::{LimitStore, LockKey, LockoutRule, RateKey, StoreError};

use crate::rows::{db_err, ms};

use super::{Db, This, BEGIN};
use crate::sql::begin;

impl This {
    /// Counts a hit on the counter `key` in the window starting at `window_start` (ms; a new
    /// window starts over) through `executor`; answers the hits in this window.
    pub(super) async fn hit_in<'e, E>(
        executor: E,
        key: &str,
        window_start: i64,
    ) -> Result<u64, StoreError>
    where
        E: sqlx::Executor<'e, Database = Db>,
    {
        let hits = sqlx::query_scalar::<_, i64>(
            "INSERT INTO rate_limits (key, window_start, hits) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
             hits = CASE WHEN rate_limits.window_start = $2 THEN rate_limits.hits + 1 ELSE 1 END, \
             window_start = $2 RETURNING hits",
        )
        .bind(key)
        .bind(window_start)
        .fetch_one(executor)
        .await
        .map_err(db_err)?;
        Ok(u64::try_from(hits).unwrap_or(0))
    }
}

#[async_trait]
impl LimitStore for This {
    async fn locked_until(
        &self,
        key: &LockKey,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let until = sqlx::query_scalar::<_, Option<i64>>(
            "SELECT locked_until FROM lockouts WHERE key = $1",
        )
        .bind(key.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .flatten()
        .filter(|t| *t > ms(now));
        until.map(crate::rows::time).transpose()
    }

    async fn record_failure(
        &self,
        key: &LockKey,
        rule: &LockoutRule,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        // One statement counts the failure, forgetting stale ones: nodes racing on the
        // same account each add theirs.
        let (failures, locks) = sqlx::query_as::<_, (i64, i64)>(
            "INSERT INTO lockouts (key, failures, locks, updated_at) VALUES ($1, 1, 0, $2) \
             ON CONFLICT (key) DO UPDATE SET \
             failures = CASE WHEN lockouts.updated_at < $3 THEN 1 ELSE lockouts.failures + 1 END, \
             locks = CASE WHEN lockouts.updated_at < $4 THEN 0 ELSE lockouts.locks END, \
             updated_at = $2 \
             RETURNING failures, locks",
        )
        .bind(key.as_str())
        .bind(ms(now))
        .bind(ms(now - rule.window))
        .bind(ms(now - chrono::Duration::days(1)))
        .fetch_one(&mut tx)
        .await
        .map_err(db_err)?;
        if failures < i64::from(rule.threshold) {
            tx.commit().await.map_err(db_err)?;
            return Ok(None);
        }
        let factor = 2_i64.saturating_pow(u32::try_from(locks.clamp(0, 20)).unwrap_or(20));
        let length = rule
            .base
            .num_milliseconds()
            .saturating_mul(factor)
            .min(rule.max.num_milliseconds());
        let until = now + chrono::Duration::milliseconds(length);
        sqlx::query(
            "UPDATE lockouts SET failures = 0, locks = locks + 1, locked_until = $1 WHERE key = $2",
        )
        .bind(ms(until))
        .bind(key.as_str())
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        tx.commit().await.map_err(db_err)?;
        Ok(Some(until))
    }

    async fn clear_failures(&self, key: &LockKey) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM lockouts WHERE key = $1")
            .bind(key.as_str())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn hit(&self, key: &RateKey<'_>, window_start: DateTime<Utc>) -> Result<u64, StoreError> {
        Self::hit_in(&self.writer, &key.text(), ms(window_start)).await
    }

    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM rate_limits WHERE window_start < $1")
            .bind(ms(before))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected())
    }
}
