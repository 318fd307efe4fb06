//! The OpenID provider's state: authorization codes, consents, client sessions. Written once,
//! compiled for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::{SessionId, UserId};
use portcullis_core::model::Session;
use portcullis_core::oauth::OAuthClient;
use portcullis_core::store::{AuthCode, Consent, Liveness, OidcStore, Redeemed, StoreError};

use crate::rows::{
    db_err, ms, AuthCodeRow, ConsentRow, OAuthClientSecretRow, SessionRow, AUTH_CODE_COLUMNS,
    OAUTH_CLIENT_COLUMNS, SESSION_COLUMNS,
};

use super::This;

/// How long a spent or expired code is kept, to recognise its reuse.
const KEEP_CODES_MS: i64 = 10 * 60 * 1000;

#[async_trait]
impl OidcStore for This {
    async fn oauth_client_by_id(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<(OAuthClient, Option<String>)>, StoreError> {
        let Some(row) = sqlx::query_as::<_, OAuthClientSecretRow>(&format!(
            "SELECT secret_hash, {OAUTH_CLIENT_COLUMNS} WHERE id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        else {
            return Ok(None);
        };
        Ok(Some((OAuthClient::try_from(row.client)?, row.secret_hash)))
    }

    async fn insert_auth_code(&self, c: &AuthCode, now: DateTime<Utc>) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM oauth_codes WHERE expires_at < $1")
            .bind(ms(now) - KEEP_CODES_MS)
            .execute(&self.writer)
            .await
            .map_err(db_err)?;
        sqlx::query(
            "INSERT INTO oauth_codes (code_hash, client_id, user_id, browser_sid, redirect_uri, \
             scope, nonce, code_challenge, auth_time, amr, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(&c.code_hash)
        .bind(c.client_id.to_string())
        .bind(c.user_id.to_string())
        .bind(c.browser_sid.to_string())
        .bind(&c.redirect_uri)
        .bind(&c.scope)
        .bind(c.nonce.as_deref())
        .bind(c.code_challenge.as_deref())
        .bind(ms(c.auth_time))
        .bind(serde_json::to_string(&c.amr).unwrap_or_else(|_| "[]".to_owned()))
        .bind(ms(c.expires_at))
        .execute(&self.writer)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn redeem_auth_code(
        &self,
        code_hash: &str,
        grant_sid: SessionId,
    ) -> Result<Redeemed, StoreError> {
        // One statement claims the code: of two concurrent uses exactly one sets grant_sid.
        let fresh = sqlx::query_as::<_, AuthCodeRow>(&format!(
            "UPDATE oauth_codes SET grant_sid = $1 WHERE code_hash = $2 AND grant_sid IS NULL \
             RETURNING {}",
            AUTH_CODE_COLUMNS.trim_end_matches(" FROM oauth_codes")
        ))
        .bind(grant_sid.to_string())
        .bind(code_hash)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?;
        if let Some(row) = fresh {
            return Ok(Redeemed::Fresh(AuthCode::try_from(row)?));
        }
        let used: Option<(String, Option<String>, String)> = sqlx::query_as(
            "SELECT user_id, grant_sid, client_id FROM oauth_codes WHERE code_hash = $1",
        )
        .bind(code_hash)
        .fetch_optional(&self.writer)
        .await
        .map_err(db_err)?;
        fn parse<T: std::str::FromStr>(s: &str, what: &str) -> Result<T, StoreError> {
            s.parse()
                .map_err(|_| StoreError::Corrupt(format!("oauth_codes.{what}")))
        }
        Ok(match used {
            Some((user, sid, client)) => Redeemed::Reused {
                user_id: parse(&user, "user_id")?,
                grant_sid: sid.as_deref().map(|s| parse(s, "grant_sid")).transpose()?,
                client_id: parse(&client, "client_id")?,
            },
            None => Redeemed::Unknown,
        })
    }

    async fn session_by_refresh(
        &self,
        token_hash: &str,
        live: Liveness,
    ) -> Result<Option<Session>, StoreError> {
        sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {SESSION_COLUMNS} JOIN refresh_tokens t ON t.session_id = s.id \
             JOIN users u ON u.id = s.user_id \
             WHERE t.token_hash = $1 AND t.used_at IS NULL AND s.revoked_at IS NULL \
             AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.active = $4"
        ))
        .bind(token_hash)
        .bind(ms(live.now))
        .bind(ms(live.idle_cutoff))
        .bind(true)
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(Session::try_from)
        .transpose()
    }

    async fn session_by_id(&self, id: SessionId) -> Result<Option<Session>, StoreError> {
        sqlx::query_as::<_, SessionRow>(&format!("SELECT {SESSION_COLUMNS} WHERE s.id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await
            .map_err(db_err)?
            .map(Session::try_from)
            .transpose()
    }

    async fn consent(
        &self,
        user_id: UserId,
        client_id: uuid::Uuid,
    ) -> Result<Option<Consent>, StoreError> {
        sqlx::query_as::<_, ConsentRow>(
            "SELECT client_id, scope, granted_at FROM oauth_consents \
             WHERE user_id = $1 AND client_id = $2",
        )
        .bind(user_id.to_string())
        .bind(client_id.to_string())
        .fetch_optional(&self.pool)
        .await
        .map_err(db_err)?
        .map(Consent::try_from)
        .transpose()
    }

    async fn save_consent(&self, user_id: UserId, c: &Consent) -> Result<(), StoreError> {
        self.write_one(
            sqlx::query(
                "INSERT INTO oauth_consents (user_id, client_id, scope, granted_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (user_id, client_id) DO UPDATE SET scope = $3, granted_at = $4",
            )
            .bind(user_id.to_string())
            .bind(c.client_id.to_string())
            .bind(&c.scope)
            .bind(ms(c.granted_at)),
        )
        .await?;
        Ok(())
    }

    async fn consents(&self, user_id: UserId) -> Result<Vec<Consent>, StoreError> {
        sqlx::query_as::<_, ConsentRow>(
            "SELECT client_id, scope, granted_at FROM oauth_consents WHERE user_id = $1 \
             ORDER BY granted_at DESC, client_id",
        )
        .bind(user_id.to_string())
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Consent::try_from)
        .collect()
    }

    async fn delete_consent(
        &self,
        user_id: UserId,
        client_id: uuid::Uuid,
    ) -> Result<bool, StoreError> {
        let done = self
            .write_one(
                sqlx::query("DELETE FROM oauth_consents WHERE user_id = $1 AND client_id = $2")
                    .bind(user_id.to_string())
                    .bind(client_id.to_string()),
            )
            .await?;
        Ok(done > 0)
    }

    async fn revoke_client_sessions(
        &self,
        user_id: UserId,
        client_id: uuid::Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = self
            .write_one(
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE user_id = $3 AND client_id = $4 AND revoked_at IS NULL",
                )
                .bind(ms(now))
                .bind(reason)
                .bind(user_id.to_string())
                .bind(client_id.to_string()),
            )
            .await?;
        Ok(done)
    }

    async fn sessions_from_browser(
        &self,
        browser_sid: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError> {
        sqlx::query_as::<_, SessionRow>(&format!(
            "SELECT {SESSION_COLUMNS} WHERE s.browser_sid = $1 AND s.revoked_at IS NULL \
             AND s.expires_at > $2 ORDER BY s.created_at"
        ))
        .bind(browser_sid.to_string())
        .bind(ms(now))
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(Session::try_from)
        .collect()
    }
}
