//! Application tokens: long-lived secrets a user makes for scripts and services, shown once,
//! stored as a hash, and exchanged for short access tokens. Each exchange opens a session
//! bound to the application token, so revoking the token ends its access tokens at once.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::kernel::authz::OrgAdmin;
use super::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::{hash_token, random_token};
use crate::error::AuthError;
use crate::ids::{SessionId, UserId};
use crate::model::{AppToken, Session, User};

/// The recognisable start of every application token (secret scanners can match it).
pub const APP_TOKEN_PREFIX: &str = "pct_";

/// A new application token, with its secret (shown this once).
#[derive(Debug, Clone)]
pub struct NewAppToken {
    /// The stored part.
    pub token: AppToken,
    /// The secret, `pct_...`.
    pub secret: String,
}

/// An access token made from an application token (no refresh token).
#[derive(Debug, Clone)]
pub struct AppAccess {
    /// Signed JWT.
    pub access_token: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

impl Services {
    /// Makes an application token for the caller.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn create_app_token(
        &self,
        who: &Principal,
        description: &str,
        expires_at: Option<DateTime<Utc>>,
        client: &ClientInfo,
    ) -> Result<NewAppToken, AuthError> {
        if who.user.anonymous {
            return Err(AuthError::Forbidden(
                "a guest account cannot make application tokens",
            ));
        }
        let description = description.trim();
        if description.is_empty()
            || description.chars().count() > 200
            || description.chars().any(char::is_control)
        {
            return Err(AuthError::invalid(
                "description",
                "must be 1 to 200 characters",
            ));
        }
        let now = self.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::invalid("expires_at", "must be in the future"));
        }
        let secret = format!("{APP_TOKEN_PREFIX}{}", random_token(self.rng.as_ref()));
        let token = AppToken {
            id: uuid::Uuid::now_v7(),
            user_id: who.user.id,
            description: description.to_owned(),
            prefix: secret.chars().take(APP_TOKEN_PREFIX.len() + 6).collect(),
            created_at: now,
            expires_at,
            last_used_at: None,
        };
        self.changed(
            self.event(AuditKind::AppTokenCreated, who.user.org_id, client)
                .user(who.user.id)
                .actor(who.user.id)
                .detail("app_token_id", token.id.to_string()),
            self.store.insert_app_token(&token, &hash_token(&secret)),
            |_| true,
        )
        .await?;
        Ok(NewAppToken { token, secret })
    }

    /// The caller's application tokens (never their secrets).
    pub async fn my_app_tokens(&self, who: &Principal) -> Result<Vec<AppToken>, AuthError> {
        Ok(self.store.list_app_tokens(who.user.id).await?)
    }

    async fn revoke_app_token(
        &self,
        user: &User,
        id: uuid::Uuid,
        actor: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let done = self
            .changed(
                self.event(AuditKind::AppTokenRevoked, user.org_id, client)
                    .user(user.id)
                    .actor(actor)
                    .detail("app_token_id", id.to_string()),
                self.store.delete_app_token(user.id, id),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }

    /// Revokes one of the caller's application tokens, and every access token made from it.
    pub async fn revoke_my_app_token(
        &self,
        who: &Principal,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.revoke_app_token(&who.user, id, who.user.id, client)
            .await
    }

    /// A user's application tokens, for an admin.
    pub async fn user_app_tokens(
        &self,
        admin: &OrgAdmin,
        user: UserId,
    ) -> Result<Vec<AppToken>, AuthError> {
        let user = self.managed_user(admin, user).await?;
        Ok(self.store.list_app_tokens(user.id).await?)
    }

    /// An admin revokes a user's application token.
    pub async fn admin_revoke_app_token(
        &self,
        admin: &OrgAdmin,
        user: UserId,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let user = self.managed_user(admin, user).await?;
        self.revoke_app_token(&user, id, admin.actor().user.id, client)
            .await
    }

    /// Exchanges an application token for an access token with `amr: ["app_token"]`.
    #[instrument(skip_all)]
    pub async fn exchange_app_token(
        &self,
        secret: &str,
        client: &ClientInfo,
    ) -> Result<AppAccess, AuthError> {
        self.rate_limit(client, super::kernel::limits::Limit::Client)
            .await?;
        if !secret.starts_with(APP_TOKEN_PREFIX) || secret.len() > 128 {
            return Err(AuthError::TokenInvalid);
        }
        let now = self.now();
        let token = self
            .store
            .use_app_token(&hash_token(secret), now)
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        if token.expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::TokenInvalid);
        }
        let user = self
            .store
            .user_by_id(token.user_id)
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        if !user.active {
            return Err(AuthError::Inactive);
        }
        let ttl = self.config.access_token_ttl;
        let session = Session {
            id: SessionId::new(),
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
            expires_at: token.expires_at.map_or(now + ttl, |at| at.min(now + ttl)),
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            amr: vec!["app_token".to_owned()],
            app_token_id: Some(token.id),
            device_id: None,
            grant: None,
        };
        // The session's refresh token is never handed out: this hash matches no secret.
        self.store
            .create_session(&session, &hash_token(&random_token(self.rng.as_ref())))
            .await?;
        let access_token = self.access_token(&user, session.id, &session.amr).await?;
        self.audit(
            self.event(AuditKind::LoginSucceeded, user.org_id, client)
                .user(user.id)
                .actor(user.id)
                .detail("method", "app_token")
                .detail("app_token_id", token.id.to_string()),
        )
        .await;
        Ok(AppAccess {
            access_token,
            expires_in: (session.expires_at - now).num_seconds(),
        })
    }
}
