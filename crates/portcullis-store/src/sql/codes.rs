//! One-time codes and links, stored hashed, and the addresses they verify. Written once, compiled
//! for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::UserId;
use portcullis_core::store::{
    CodeStore, LookupKey, NewCode, Purpose, QueuedMessage, StoreError, StoredCode,
};

use crate::rows::{db_err, ms, CodeRow, CODE_COLUMNS};

use super::{This, BEGIN};
use crate::sql::begin;

#[async_trait]
impl CodeStore for This {
    async fn issue_code(&self, code: &NewCode, message: &QueuedMessage) -> Result<(), StoreError> {
        let mut tx = begin(&self.writer, BEGIN).await?;
        sqlx::query(
            "UPDATE codes SET consumed_at = $1 WHERE user_id = $2 AND purpose = $3 AND consumed_at IS NULL",
        )
        .bind(ms(code.created_at))
        .bind(code.user_id.to_string())
        .bind(&code.purpose)
        .execute(&mut *tx)
        .await
        .map_err(db_err)?;
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
        Self::insert_message(&mut *tx, message).await?;
        super::audit::commit(tx).await
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
