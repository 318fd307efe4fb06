//! Passkeys and the WebAuthn ceremonies in progress. Written once, compiled for each backend (see
//! [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::UserId;
use portcullis_core::model::PasskeyInfo;
use portcullis_core::store::{PasskeyStore, StoreError, WebauthnChallenge};

use crate::rows::{db_err, ms, PasskeyRow, PASSKEY_COLUMNS};

use super::This;

#[async_trait]
impl PasskeyStore for This {
    async fn insert_passkey(&self, p: &PasskeyInfo, credential: &str) -> Result<(), StoreError> {
        self.write_one(
sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, counter, backup_eligible, backup_state, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(p.id.to_string())
        .bind(p.user_id.to_string())
        .bind(&p.credential_id)
        .bind(&p.name)
        .bind(credential)
        .bind(i64::from(p.counter))
        .bind(p.backup_eligible)
        .bind(p.backup_state)
        .bind(ms(p.created_at)),
        )
        .await?;
        Ok(())
    }

    async fn passkeys(&self, user_id: UserId) -> Result<Vec<(PasskeyInfo, String)>, StoreError> {
        let sql = format!(
            "SELECT {PASSKEY_COLUMNS}, credential FROM passkeys WHERE user_id = $1 ORDER BY id"
        );
        sqlx::query_as::<_, PasskeyRow>(&sql)
            .bind(user_id.to_string())
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(PasskeyRow::split)
            .collect()
    }

    async fn use_passkey(
        &self,
        id: uuid::Uuid,
        credential: &str,
        counter: u32,
        backup_state: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE passkeys SET credential = $1, counter = $2, backup_state = $3, last_used_at = $4 WHERE id = $5",
        )
        .bind(credential)
        .bind(i64::from(counter))
        .bind(backup_state)
        .bind(ms(now))
        .bind(id.to_string())
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn rename_passkey(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
        name: &str,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query("UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3")
            .bind(name)
            .bind(id.to_string())
            .bind(user_id.to_string())
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_passkey(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError> {
        self.delete_owned("passkeys", "user_id", id, user_id.to_string())
            .await
    }

    async fn insert_webauthn_challenge(
        &self,
        c: &WebauthnChallenge,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM webauthn_challenges WHERE expires_at < $1")
            .bind(ms(now))
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO webauthn_challenges (id, user_id, kind, state, expires_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(c.id.to_string())
        .bind(c.user_id.map(|u| u.to_string()))
        .bind(&c.kind)
        .bind(&c.state)
        .bind(ms(c.expires_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn take_webauthn_challenge(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<WebauthnChallenge>, StoreError> {
        let row = sqlx::query_as::<_, (Option<String>, String, String, i64)>(
            "DELETE FROM webauthn_challenges WHERE id = $1 RETURNING user_id, kind, state, expires_at",
        )
        .bind(id.to_string())
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?;
        let Some((user_id, kind, state, expires_at)) = row else {
            return Ok(None);
        };
        Ok(Some(WebauthnChallenge {
            id,
            user_id: user_id
                .map(|u| {
                    u.parse()
                        .map_err(|_| StoreError::Corrupt("webauthn_challenges.user_id".into()))
                })
                .transpose()?,
            kind,
            state,
            expires_at: crate::rows::time(expires_at)?,
        }))
    }
}
