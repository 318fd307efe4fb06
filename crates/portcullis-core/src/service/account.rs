//! What signed-in users do with their own account.

use tracing::instrument;

use super::kernel::accounts::UpdateProfileInput;
use super::kernel::input::Patch;
use super::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::identity::{Email, Phone};
use crate::ids::SessionId;
use crate::model::{Session, User};

/// A password change by the signed-in user.
#[derive(Debug, Default)]
pub struct ChangePasswordInput {
    /// The password in use.
    pub current_password: String,
    /// The new one.
    pub new_password: String,
    /// Where the request came from.
    pub client: ClientInfo,
}

impl Services {
    /// Changes the caller's own profile.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn update_me(
        &self,
        who: &Principal,
        input: UpdateProfileInput,
    ) -> Result<User, AuthError> {
        if who.user.anonymous && (input.email != Patch::Keep || input.phone != Patch::Keep) {
            return Err(AuthError::invalid(
                "email",
                "a guest account adds an address through POST /v1/users/me/upgrade",
            ));
        }
        let client = input.client.clone();
        let org = self.org(Some(&who.user.org_slug)).await?;
        let mut input = input;
        let mut proposed = Vec::new();
        if org.policy.conceal_existing_accounts {
            // A new address is proposed, not set: see `propose_address`.
            if let Patch::Set(raw) = &input.email {
                let to = Email::parse(raw, "email").map_err(|e| AuthError::Validation(vec![e]))?;
                if who.user.email.as_deref() != Some(to.as_str()) {
                    proposed.push(crate::identity::Address::Email(to));
                }
                input.email = Patch::Keep;
            }
            if let Patch::Set(raw) = &input.phone {
                let to = Phone::parse(raw, "phone").map_err(|e| AuthError::Validation(vec![e]))?;
                if who.user.phone.as_deref() != Some(to.as_str()) {
                    proposed.push(crate::identity::Address::Phone(to));
                }
                input.phone = Patch::Keep;
            }
        }
        for to in &proposed {
            self.propose_address(&who.user, to, &client).await?;
        }
        let updated = self
            .event(AuditKind::ProfileUpdated, who.user.org_id, &client)
            .user(who.user.id)
            .actor(who.user.id);
        self.patch_profile(&who.user, input, who.user.id, updated)
            .await
    }

    /// The user's number, for the dialects whose clients type user ids as numbers (emnify's
    /// keep them as f32): given on first ask, never reused, below 2^24 so that an f32 holds
    /// it exactly.
    pub async fn user_number(&self, user: crate::UserId) -> Result<u32, AuthError> {
        let n = self.store.user_number(user).await?;
        if n >= 1 << 24 {
            return Err(AuthError::Internal(
                "user numbers past 2^24 do not fit the dialects' f32 ids".to_owned(),
            ));
        }
        Ok(n)
    }

    /// The user a number (see [`Services::user_number`]) names, if it still names one.
    pub async fn user_by_number(&self, number: u32) -> Result<Option<crate::UserId>, AuthError> {
        Ok(self.store.user_by_number(number).await?)
    }

    /// The caller as stored now (a change made in this request shows).
    pub async fn current_user(&self, who: &Principal) -> Result<User, AuthError> {
        self.store
            .user_by_id(who.user.id)
            .await?
            .ok_or(AuthError::TokenInvalid)
    }

    /// Deletes the caller's account and everything of it, after re-authentication.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn delete_me(
        &self,
        who: &Principal,
        proof: super::Proof<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.reauth(who, proof, client).await?;
        let deleted = self
            .event(AuditKind::AccountDeleted, who.user.org_id, client)
            .user(who.user.id)
            .actor(who.user.id);
        self.changed(deleted, self.store.delete_user(who.user.id), |d| *d)
            .await?;
        Ok(())
    }

    /// Changes the caller's password; every other session ends.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn change_password(
        &self,
        who: &Principal,
        input: ChangePasswordInput,
    ) -> Result<(), AuthError> {
        if who.user.anonymous {
            return Err(AuthError::Forbidden(
                "a guest account sets a password by upgrading (POST /v1/users/me/upgrade)",
            ));
        }
        if input.new_password.is_empty() {
            return Err(AuthError::invalid("new_password", "is required"));
        }
        if self.store.password_hash(who.user.id).await?.is_some() {
            self.reauthenticate(&who.user, Some(&input.current_password), &input.client)
                .await
                .map_err(|e| match e {
                    AuthError::Validation(_) => {
                        AuthError::invalid("current_password", "is required")
                    }
                    e => e,
                })?;
        }
        let hash = self
            .replacement_hash(&who.user, &input.new_password)
            .await?;
        let changed = self
            .event(AuditKind::PasswordChanged, who.user.org_id, &input.client)
            .user(who.user.id)
            .actor(who.user.id);
        self.changed(
            changed,
            self.store
                .change_password(who.user.id, &hash, Some(who.session_id), self.now()),
            |_| true,
        )
        .await?;
        self.send_notice(&who.user, "The password of your account was changed.")
            .await;
        Ok(())
    }

    /// The caller's live sessions.
    pub async fn my_sessions(&self, who: &Principal) -> Result<Vec<Session>, AuthError> {
        Ok(self
            .store
            .list_sessions(who.user.id, self.liveness())
            .await?)
    }

    /// Ends one of the caller's sessions.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn revoke_my_session(
        &self,
        who: &Principal,
        id: SessionId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let revoked = self
            .event(AuditKind::SessionRevoked, who.user.org_id, client)
            .user(who.user.id)
            .actor(who.user.id)
            .detail("session_id", id.to_string());
        let change = self
            .store
            .revoke_session(who.user.id, id, "revoked_by_user", self.now());
        if !self.changed(revoked, change, |done| *done).await? {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }
}
