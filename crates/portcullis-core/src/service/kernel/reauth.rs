//! Re-authentication: proving it is still the account's owner (a password, a current code, a
//! passkey) before a sensitive change.

use super::codes::code_digits;
use super::services::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::model::User;
use crate::password::{Password, Verified};

impl Services {
    /// Re-authentication for sensitive changes: the current password, when the account has one.
    ///
    /// A wrong password counts against the account's lock like a failed sign-in (and is
    /// audited as one), so a stolen session cannot guess the password without limit; while
    /// the account is locked, no password is checked.
    pub(crate) async fn reauthenticate(
        &self,
        user: &User,
        password: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Option<String>, AuthError> {
        let Some(stored) = self.store.password_hash(user.id).await? else {
            return Ok(None);
        };
        let given = password
            .filter(|p| !p.is_empty())
            .ok_or_else(|| AuthError::invalid("password", "is required"))?;
        let org = self.org(Some(&user.org_slug)).await?;
        let lock = crate::store::LockKey::user(user.id);
        self.check_lock(&lock).await?;
        let given = Password::new(given).stored_as_sha1(org.policy.sha1_hex_passwords);
        match self.hasher.verify(&given, Some(&stored)).await? {
            Verified::No => {
                self.audit(
                    self.event(AuditKind::LoginFailed, org.id, client)
                        .user(user.id)
                        .detail("reason", "wrong_password_reauthentication"),
                )
                .await;
                self.count_failure(&lock, &org.policy, org.id, Some(user.id), client)
                    .await?;
                Err(AuthError::InvalidCredentials)
            }
            Verified::Yes | Verified::YesRehashed(_) => Ok(Some(stored)),
        }
    }
}

/// What a caller presents, again, before a sensitive change to their account.
#[derive(Debug, Clone, Copy)]
pub enum Proof<'a> {
    /// The password, or a current TOTP code (what `/v1` asks for).
    Secret {
        /// The password.
        password: Option<&'a str>,
        /// A current TOTP code.
        mfa_code: Option<&'a str>,
    },
    /// The session was signed into within the organization's `recent_sign_in_secs` (ten
    /// minutes by default): for the reference dialects, whose clients send no secret for
    /// these changes.
    RecentSignIn,
    /// Nothing: only for calls that change nothing by themselves (DeepAffex's
    /// `createTwoFactorAuthSecret` makes a pending key, which takes effect only when a code
    /// from it activates it).
    Nothing,
}

impl<'a> Proof<'a> {
    /// The password alone.
    pub fn password(password: Option<&'a str>) -> Self {
        Self::Secret {
            password,
            mfa_code: None,
        }
    }
}

impl Services {
    /// Re-authentication before a sensitive change: the password or a current TOTP code,
    /// or (for the reference dialects, whose clients send neither) a sign-in moments ago.
    /// An account without a password passes a secret proof with nothing in it.
    pub(crate) async fn reauth(
        &self,
        who: &Principal,
        proof: Proof<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let (password, mfa_code) = match proof {
            Proof::Secret { password, mfa_code } => (password, mfa_code),
            Proof::Nothing => return Ok(()),
            Proof::RecentSignIn => {
                let org = self.org(Some(&who.user.org_slug)).await?;
                let cutoff = self.now() - chrono::Duration::seconds(org.policy.recent_sign_in_secs);
                let recent = self
                    .store
                    .list_sessions(who.user.id, self.liveness())
                    .await?
                    .iter()
                    .any(|s| {
                        s.id == who.session_id
                            && s.created_at >= cutoff
                            // An application token is not a sign-in by the person.
                            && s.app_token_id.is_none()
                    });
                return if recent {
                    Ok(())
                } else {
                    Err(AuthError::Forbidden(
                        "this change needs a recent sign-in (the organization's recent_sign_in_secs); sign in again",
                    ))
                };
            }
        };
        let user = &who.user;
        if let Some(pw) = password.filter(|p| !p.is_empty()) {
            self.reauthenticate(user, Some(pw), client).await?;
            return Ok(());
        }
        if let Some(code) = mfa_code.filter(|c| !c.is_empty()) {
            let code = code_digits(Some(code))?;
            return if self.check_totp(user, &code).await? {
                Ok(())
            } else {
                Err(AuthError::InvalidCredentials)
            };
        }
        if self.store.password_hash(user.id).await?.is_none() {
            return Ok(());
        }
        Err(AuthError::invalid(
            "password",
            "is required (or a current mfa_code)",
        ))
    }
}
