//! One-time codes and links, stored hashed, and the addresses they verify. Written once, compiled
//! for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::UserId;
use portcullis_core::store::{
    attached_events, CodeIssue, CodeOutcome, CodeStore, LookupKey, Purpose, StoreError, StoredCode,
};

use crate::pooled::Tx;
use crate::rows::{db_err, ms, CodeRow, CODE_COLUMNS};

use super::{Db, This, BEGIN, WRITES_IN_WITH};
use crate::sql::begin;

/// The limits of a code and its issue, in one statement (PostgreSQL): messages of the
/// purpose to the address today (`cap`), the interval's counter claimed unless the day is
/// full (`claim`), then, when both allow it, earlier codes retired (if `$16`), the code and
/// its message. Answers the day's count and the interval's hits (NULL without a claim).
const ISSUE_IN_ONE: &str = "WITH cap AS (\
    SELECT COUNT(*) AS n FROM outbox WHERE recipient = $1 AND purpose = $2 AND created_at >= $3), \
 claim AS (INSERT INTO rate_limits (key, window_start, hits) SELECT $4, $5, 1 FROM cap \
    WHERE cap.n < $6 AND $4 IS NOT NULL ON CONFLICT (key) DO UPDATE SET \
    hits = CASE WHEN rate_limits.window_start = $5 THEN rate_limits.hits + 1 ELSE 1 END, \
    window_start = $5 RETURNING hits), \
 go AS (SELECT 1 AS go FROM cap WHERE cap.n < $6 \
    AND ($4 IS NULL OR (SELECT hits FROM claim) = 1)), \
 retired AS (UPDATE codes SET consumed_at = $13 WHERE $16 AND user_id = $8 AND purpose = $2 \
    AND consumed_at IS NULL AND EXISTS (SELECT 1 FROM go)), \
 code AS (INSERT INTO codes (id, user_id, purpose, destination, code_hash, token_hash, \
    created_at, expires_at) SELECT $7, $8, $2, $9, $10, $11, $13, $14 FROM go), \
 message AS (INSERT INTO outbox (id, org_id, purpose, recipient, payload, created_at, \
    next_attempt_at) SELECT $12, $15, $2, $1, $17, $13, $13 FROM go) \
 SELECT (SELECT n FROM cap), (SELECT hits FROM claim)";

impl This {
    /// Issues a code in `tx` within its limits (see [`CodeIssue`]); its event is for the
    /// caller to commit.
    pub(super) async fn issue_code_in(
        tx: &mut Tx<Db>,
        issue: &CodeIssue,
    ) -> Result<CodeOutcome, StoreError> {
        let (code, m) = (&issue.code, &issue.message);
        let (key, window) = issue
            .claim
            .as_ref()
            .map_or((None, 0), |(k, w)| (Some(k.clone()), ms(*w)));
        if WRITES_IN_WITH {
            let (today, hits) = sqlx::query_as::<_, (i64, Option<i64>)>(ISSUE_IN_ONE)
                .bind(&m.recipient)
                .bind(&code.purpose)
                .bind(ms(issue.cap_since))
                .bind(key)
                .bind(window)
                .bind(i64::try_from(issue.daily_cap).unwrap_or(i64::MAX))
                .bind(code.id.to_string())
                .bind(code.user_id.to_string())
                .bind(&code.destination)
                .bind(&code.code_hash)
                .bind(&code.token_hash)
                .bind(m.id.to_string())
                .bind(ms(code.created_at))
                .bind(ms(code.expires_at))
                .bind(m.org_id.map(|o| o.to_string()))
                .bind(issue.retire_earlier)
                .bind(&m.payload)
                .fetch_one(&mut *tx)
                .await
                .map_err(db_err)?;
            let hits = hits.map(|h| u64::try_from(h).unwrap_or(0));
            return Ok(issue.outcome(u64::try_from(today).unwrap_or(0), hits));
        }
        let today = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM outbox WHERE recipient = $1 AND purpose = $2 AND created_at >= $3",
        )
        .bind(&m.recipient)
        .bind(&code.purpose)
        .bind(ms(issue.cap_since))
        .fetch_one(&mut *tx)
        .await
        .map_err(db_err)?;
        let today = u64::try_from(today).unwrap_or(0);
        let hits = match &key {
            Some(key) if today < issue.daily_cap => {
                Some(Self::hit_in(&mut *tx, key, window).await?)
            }
            _ => None,
        };
        let outcome = issue.outcome(today, hits);
        if outcome != CodeOutcome::Issued {
            return Ok(outcome);
        }
        if issue.retire_earlier {
            sqlx::query(
                "UPDATE codes SET consumed_at = $1 WHERE user_id = $2 AND purpose = $3 AND consumed_at IS NULL",
            )
            .bind(ms(code.created_at))
            .bind(code.user_id.to_string())
            .bind(&code.purpose)
            .execute(&mut *tx)
            .await
            .map_err(db_err)?;
        }
        sqlx::query(
            "INSERT INTO codes (id, user_id, purpose, destination, code_hash, token_hash, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(code.id.to_string())
        .bind(code.user_id.to_string())
        .bind(&code.purpose)
        .bind(&code.destination)
        .bind(&code.code_hash)
        .bind(&code.token_hash)
        .bind(ms(code.created_at))
        .bind(ms(code.expires_at))
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
        Self::insert_message(&mut *tx, m).await?;
        Ok(outcome)
    }
}

#[async_trait]
impl CodeStore for This {
    async fn issue_code(&self, issue: &CodeIssue) -> Result<CodeOutcome, StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        let outcome = Self::issue_code_in(&mut tx, issue).await?;
        let mut events = attached_events();
        events.extend(issue.event(outcome).cloned());
        super::audit::commit_events(tx, events).await?;
        Ok(outcome)
    }

    async fn live_code(
        &self,
        user_id: UserId,
        purpose: Purpose,
    ) -> Result<Option<StoredCode>, StoreError> {
        let sql = format!(
            "SELECT {CODE_COLUMNS} WHERE user_id = $1 AND purpose = $2 AND consumed_at IS NULL ORDER BY id DESC LIMIT 1"
        );
        sqlx::query_as::<_, CodeRow>(&sql)
            .bind(user_id.to_string())
            .bind(purpose.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(StoredCode::try_from)
            .transpose()
    }

    async fn live_code_to(
        &self,
        purpose: Purpose,
        destination: &str,
    ) -> Result<Option<StoredCode>, StoreError> {
        let sql = format!(
            "SELECT {CODE_COLUMNS} WHERE purpose = $1 AND destination = $2 AND consumed_at IS NULL ORDER BY id DESC LIMIT 1"
        );
        sqlx::query_as::<_, CodeRow>(&sql)
            .bind(purpose.as_str())
            .bind(destination)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(StoredCode::try_from)
            .transpose()
    }

    async fn code_by_token(&self, token_hash: &str) -> Result<Option<StoredCode>, StoreError> {
        let sql = format!("SELECT {CODE_COLUMNS} WHERE token_hash = $1");
        sqlx::query_as::<_, CodeRow>(&sql)
            .bind(token_hash)
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(StoredCode::try_from)
            .transpose()
    }

    async fn take_code_try(
        &self,
        id: uuid::Uuid,
        max_attempts: u32,
    ) -> Result<Option<u32>, StoreError> {
        let n = sqlx::query_scalar::<_, i64>(
            "UPDATE codes SET attempts = attempts + 1 WHERE id = $1 AND attempts < $2 RETURNING attempts",
        )
        .bind(id.to_string())
        .bind(i64::from(max_attempts))
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(n.map(|n| u32::try_from(n).unwrap_or(u32::MAX)))
    }

    async fn return_code_try(&self, id: uuid::Uuid) -> Result<(), StoreError> {
        sqlx::query("UPDATE codes SET attempts = attempts - 1 WHERE id = $1 AND attempts > 0")
            .bind(id.to_string())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(())
    }

    async fn consume_code(
        &self,
        id: uuid::Uuid,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE codes SET consumed_at = $1 WHERE id = $2 AND consumed_at IS NULL AND attempts < $3 AND expires_at > $1",
        )
        .bind(ms(now))
        .bind(id.to_string())
        .bind(i64::from(max_attempts))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn mark_verified(
        &self,
        user_id: UserId,
        key: &LookupKey,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let (sql, value) = match key {
            LookupKey::Email(v) => ("UPDATE users SET email_verified = $1, updated_at = $2 WHERE id = $3 AND email = $4", v),
            LookupKey::Phone(v) => ("UPDATE users SET phone_verified = $1, updated_at = $2 WHERE id = $3 AND phone = $4", v),
            LookupKey::Username(_) => return Ok(false),
        };
        let done = self
            .write_one(
                sqlx::query(sql)
                    .bind(true)
                    .bind(ms(now))
                    .bind(user_id.to_string())
                    .bind(value),
            )
            .await?;
        Ok(done == 1)
    }
}
