//! Sessions, refresh-token rotation and signing keys. Written once,
//! compiled for each backend (see [`crate::sql`]).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use portcullis_core::ids::{SessionId, UserId};
use portcullis_core::model::{Session, User};
use portcullis_core::oauth::SigningAlg;
use portcullis_core::store::{Liveness, RotateOutcome, SessionStore, StoreError};
use portcullis_core::tokens::StoredSigningKey;
use sqlx::QueryBuilder;

use crate::rows::{
    db_err, ms, user_with_roles, KeyRow, SessionRow, UserRoleRow, SESSION_COLUMNS,
    USER_ROLE_COLUMNS,
};

use super::{Db, This, BEGIN, WRITES_IN_WITH};
use crate::sql::{begin, insert_key};

/// `INSERT INTO sessions` of `s`.
fn push_session(qb: &mut QueryBuilder<'_, Db>, s: &Session, _: &str) {
    qb.push(
        "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, amr, \
         app_token_id, device_id, client_id, scope, browser_sid, auth_time) ",
    );
    qb.push_values(std::iter::once(s), |mut row, s| {
        row.push_bind(s.id.to_string())
            .push_bind(s.user_id.to_string())
            .push_bind(ms(s.created_at))
            .push_bind(ms(s.created_at))
            .push_bind(ms(s.expires_at))
            .push_bind(s.ip.clone())
            .push_bind(s.user_agent.clone())
            .push_bind(serde_json::to_string(&s.amr).unwrap_or_else(|_| "[]".into()))
            .push_bind(s.app_token_id.map(|a| a.to_string()))
            .push_bind(s.device_id.map(|d| d.to_string()))
            .push_bind(s.grant.as_ref().map(|g| g.client_id.to_string()))
            .push_bind(s.grant.as_ref().map(|g| g.scope.clone()))
            .push_bind(s.grant.as_ref().map(|g| g.browser_sid.to_string()))
            .push_bind(s.grant.as_ref().map(|g| ms(g.auth_time)));
    });
}

/// `INSERT INTO refresh_tokens` of the session's first refresh token.
fn push_refresh(qb: &mut QueryBuilder<'_, Db>, s: &Session, refresh_hash: &str) {
    qb.push("INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES (")
        .push_bind(refresh_hash.to_owned())
        .push(", ")
        .push_bind(s.id.to_string())
        .push(", ")
        .push_bind(ms(s.created_at))
        .push(")");
}

/// `UPDATE users` of the session's user: signed in now.
fn push_last_login(qb: &mut QueryBuilder<'_, Db>, s: &Session, _: &str) {
    qb.push("UPDATE users SET last_login_at = ")
        .push_bind(ms(s.created_at))
        .push(" WHERE id = ")
        .push_bind(s.user_id.to_string());
}

#[async_trait]
impl SessionStore for This {
    async fn create_session(&self, s: &Session, refresh_hash: &str) -> Result<(), StoreError> {
        // The session, its first refresh token and the user's last sign-in: on PostgreSQL one
        // statement with the events (atomic by itself), else one transaction.
        let writes: [fn(&mut QueryBuilder<'_, Db>, &Session, &str); 3] =
            [push_session, push_refresh, push_last_login];
        if WRITES_IN_WITH {
            let mut qb = QueryBuilder::<Db>::new("WITH ");
            for (i, write) in writes.iter().enumerate() {
                qb.push(if i == 0 { "" } else { ", " })
                    .push(format_args!("w{i} AS ("));
                write(&mut qb, s, refresh_hash);
                qb.push(")");
            }
            return super::audit::write_in_one(&self.writer, qb).await;
        }
        let mut tx = begin(&self.writer, BEGIN).await?;
        for write in writes {
            let mut qb = QueryBuilder::<Db>::new("");
            write(&mut qb, s, refresh_hash);
            qb.build().execute(&mut tx).await.map_err(db_err)?;
        }
        super::audit::commit(tx).await
    }

    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        live: Liveness,
    ) -> Result<RotateOutcome, StoreError> {
        let now = ms(live.now);
        let mut tx = begin(&self.writer, BEGIN).await?;
        // The one statement that decides: only one caller can flip used_at from NULL.
        let consumed = sqlx::query_scalar::<_, String>(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL RETURNING session_id",
        )
        .bind(now)
        .bind(old_hash)
        .fetch_optional(&mut tx)
        .await
        .map_err(db_err)?;
        let Some(sid) = consumed else {
            let seen = sqlx::query_as::<_, (String, String)>(
                "SELECT s.id, s.user_id FROM refresh_tokens t JOIN sessions s ON s.id = t.session_id \
                 WHERE t.token_hash = $1",
            )
            .bind(old_hash)
            .fetch_optional(&mut tx)
            .await
            .map_err(db_err)?;
            let Some((sid, uid)) = seen else {
                return Ok(RotateOutcome::Unknown);
            };
            sqlx::query(
                "UPDATE sessions SET revoked_at = $1, revoked_reason = 'token_reused' \
                 WHERE id = $2 AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(&sid)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
            super::audit::commit(tx).await?;
            let bad = |_| StoreError::Corrupt("session id".into());
            return Ok(RotateOutcome::Reused {
                session_id: sid.parse().map_err(bad)?,
                user_id: uid.parse().map_err(bad)?,
            });
        };
        let sql = format!(
            "SELECT {SESSION_COLUMNS} JOIN users u ON u.id = s.user_id WHERE s.id = $1 AND s.revoked_at IS NULL \
             AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.active = $4"
        );
        let row = sqlx::query_as::<_, SessionRow>(&sql)
            .bind(&sid)
            .bind(now)
            .bind(ms(live.idle_cutoff))
            .bind(true)
            .fetch_optional(&mut tx)
            .await
            .map_err(db_err)?;
        let Some(row) = row else {
            super::audit::commit(tx).await?;
            return Ok(RotateOutcome::SessionEnded);
        };
        sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
        )
        .bind(new_hash)
        .bind(&sid)
        .bind(now)
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2")
            .bind(now)
            .bind(&sid)
            .execute(&mut tx)
            .await
            .map_err(db_err)?;
        super::audit::commit(tx).await?;
        let mut session = Session::try_from(row)?;
        session.last_seen_at = live.now;
        Ok(RotateOutcome::Rotated {
            session: Box::new(session),
        })
    }

    async fn session_user(
        &self,
        id: SessionId,
        live: Liveness,
    ) -> Result<Option<User>, StoreError> {
        let sql = format!(
            "SELECT {USER_ROLE_COLUMNS} JOIN sessions s ON s.user_id = u.id WHERE s.id = $1 AND s.revoked_at IS NULL \
             AND s.expires_at > $2 AND s.last_seen_at > $3 AND u.active = $4"
        );
        let rows = sqlx::query_as::<_, UserRoleRow>(&sql)
            .bind(id.to_string())
            .bind(ms(live.now))
            .bind(ms(live.idle_cutoff))
            .bind(true)
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?;
        Ok(user_with_roles(rows)?.map(|c| c.user))
    }

    async fn list_sessions(
        &self,
        user_id: UserId,
        live: Liveness,
    ) -> Result<Vec<Session>, StoreError> {
        let sql = format!(
            "SELECT {SESSION_COLUMNS} WHERE s.user_id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
             AND s.last_seen_at > $3 ORDER BY s.id DESC"
        );
        sqlx::query_as::<_, SessionRow>(&sql)
            .bind(user_id.to_string())
            .bind(ms(live.now))
            .bind(ms(live.idle_cutoff))
            .fetch_all(&self.pool)
            .await
            .map_err(db_err)?
            .into_iter()
            .map(Session::try_from)
            .collect()
    }

    async fn revoke_session(
        &self,
        user_id: UserId,
        id: SessionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        // A transaction of one statement, for the events attached to it.
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE id = $3 AND user_id = $4 AND revoked_at IS NULL",
        )
        .bind(ms(now))
        .bind(reason)
        .bind(id.to_string())
        .bind(user_id.to_string())
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        if done.rows_affected() == 0 {
            return Ok(false);
        }
        super::audit::commit(tx).await?;
        Ok(true)
    }

    async fn revoke_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        // A transaction of one statement, for the events attached to it.
        let mut tx = begin(&self.writer, BEGIN).await?;
        let done = sqlx::query(
            "UPDATE sessions SET revoked_at = $1, revoked_reason = $2 \
             WHERE user_id = $3 AND revoked_at IS NULL AND ($4 IS NULL OR id <> $4)",
        )
        .bind(ms(now))
        .bind(reason)
        .bind(user_id.to_string())
        .bind(keep.map(|k| k.to_string()))
        .execute(&mut tx)
        .await
        .map_err(db_err)?;
        super::audit::commit(tx).await?;
        Ok(done.rows_affected())
    }

    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError> {
        sqlx::query_as::<_, KeyRow>(
            "SELECT kid, algorithm, public_x, private_sealed, created_at FROM signing_keys ORDER BY created_at DESC",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(db_err)?
        .into_iter()
        .map(StoredSigningKey::try_from)
        .collect()
    }

    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError> {
        insert_key::<Db>(&self.writer, key).await
    }

    async fn insert_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError> {
        // The claim and the key commit together; a concurrent claimant's INSERT waits
        // for this transaction, so when it finds the claim taken the key is there.
        let mut tx = begin(&self.writer, BEGIN).await?;
        // One claim per algorithm; the EdDSA one keeps the name it had before there were others.
        let claim = match key.algorithm {
            SigningAlg::EdDsa => "first_signing_key".to_owned(),
            other => format!("first_signing_key:{}", other.as_str()),
        };
        let claimed = sqlx::query(
            "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
        )
        .bind(claim)
        .bind(&key.kid)
        .execute(&mut tx)
        .await
        .map_err(db_err)?
        .rows_affected()
            == 1;
        if claimed {
            insert_key::<Db>(&mut tx, key).await?;
        }
        super::audit::commit(tx).await?;
        Ok(claimed)
    }
}
