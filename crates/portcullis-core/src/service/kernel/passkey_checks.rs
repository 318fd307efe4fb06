//! Checking a passkey assertion (at sign-in, as a second factor or to re-authenticate) against the
//! relying party of an organization.

use super::services::Services;
use super::webauthn::relying_party;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::{Deserialize, Serialize};
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PublicKeyCredential, Webauthn,
    WebauthnError,
};

use crate::audit::{AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::ids::UserId;
use crate::model::{Organization, User};

/// A passkey assertion presented as a second factor: the ceremony and the browser's result.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PasskeyAssertion {
    /// From `POST /v1/auth/passkey/start`.
    pub challenge_id: uuid::Uuid,
    /// What `navigator.credentials.get()` gave (a `PublicKeyCredential`, JSON).
    pub credential: serde_json::Value,
}

pub(crate) fn invalid_credential(e: impl std::fmt::Display) -> AuthError {
    AuthError::invalid("credential", &format!("is not a WebAuthn credential: {e}"))
}

impl Services {
    /// The relying party an organization's passkeys belong to: its own domain when it has
    /// one, else the server's.
    pub(crate) fn relying_party(&self, org: &Organization) -> Result<Webauthn, AuthError> {
        match &org.policy.webauthn_rp_id {
            Some(rp) => relying_party(rp, &org.policy.webauthn_origins, &org.name),
            None => relying_party(
                &self.config.webauthn_rp_id,
                &self.config.webauthn_origins,
                &org.name,
            ),
        }
    }

    /// Takes a ceremony out (once), checking its kind, owner and age.
    pub(crate) async fn take_ceremony<T: serde::de::DeserializeOwned>(
        &self,
        id: uuid::Uuid,
        kind: &str,
        user: Option<UserId>,
    ) -> Result<T, AuthError> {
        let c = self
            .store
            .take_webauthn_challenge(id)
            .await?
            .filter(|c| c.kind == kind && c.user_id == user)
            .ok_or(AuthError::CodeInvalid)?;
        if c.expires_at <= self.now() {
            return Err(AuthError::CodeExpired);
        }
        serde_json::from_str(&c.state).map_err(|_| AuthError::CodeInvalid)
    }

    /// Checks a passkey assertion for `user` (the second step after a password).
    pub(crate) async fn check_passkey(
        &self,
        user: &User,
        assertion: &PasskeyAssertion,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let org = self.org(Some(&user.org_slug)).await?;
        self.verify_assertion(&org, assertion, Some(user.id), client)
            .await
            .map(|_| ())
    }

    /// Verifies an assertion of a discoverable ceremony: the ceremony (once), the user the
    /// credential names (in this organization, and `expected` when given), the credential
    /// (still registered), the signature, user verification and the counter. Any failure
    /// is `InvalidCredentials` (a malformed credential, a validation error).
    pub(crate) async fn verify_assertion(
        &self,
        org: &Organization,
        assertion: &PasskeyAssertion,
        expected: Option<UserId>,
        client: &ClientInfo,
    ) -> Result<User, AuthError> {
        let cred: PublicKeyCredential =
            serde_json::from_value(assertion.credential.clone()).map_err(invalid_credential)?;
        let state: DiscoverableAuthentication = self
            .take_ceremony(assertion.challenge_id, AUTHENTICATE, None)
            .await
            .map_err(|_| AuthError::InvalidCredentials)?;
        let rp = self.relying_party(org)?;
        let (user_id, cred_id) = rp
            .identify_discoverable_authentication(&cred)
            .map_err(|_| AuthError::InvalidCredentials)?;
        let user_id = UserId(user_id);
        if expected.is_some_and(|e| e != user_id) {
            return Err(AuthError::InvalidCredentials);
        }
        let user = self
            .store
            .user_by_id(user_id)
            .await?
            .filter(|u| u.org_id == org.id)
            .ok_or(AuthError::InvalidCredentials)?;
        let cred_id = URL_SAFE_NO_PAD.encode(cred_id);
        let (info, json) = self
            .store
            .passkeys(user.id)
            .await?
            .into_iter()
            .find(|(p, _)| p.credential_id == cred_id)
            .ok_or(AuthError::InvalidCredentials)?;
        let mut passkey: Passkey = serde_json::from_str(&json)
            .map_err(|_| AuthError::Internal("passkey record".into()))?;
        let result = match rp.finish_discoverable_authentication(
            &cred,
            state,
            &[DiscoverableKey::from(&passkey)],
        ) {
            Ok(r) => r,
            Err(WebauthnError::CredentialPossibleCompromise) => {
                self.audit(
                    self.event(AuditKind::PasskeyCloneSuspected, user.org_id, client)
                        .user(user.id)
                        .detail("passkey_id", info.id.to_string())
                        .detail("stored_counter", info.counter),
                )
                .await;
                tracing::warn!(passkey.id = %info.id, "passkey counter went backwards; refused");
                return Err(AuthError::InvalidCredentials);
            }
            Err(_) => return Err(AuthError::InvalidCredentials),
        };
        passkey.update_credential(&result);
        let json = serde_json::to_string(&passkey)
            .map_err(|e| AuthError::Internal(format!("passkey: {e}")))?;
        self.store
            .use_passkey(
                info.id,
                &json,
                result.counter(),
                result.backup_state(),
                self.now(),
            )
            .await?;
        Ok(user)
    }
}

/// How long a ceremony may take.
pub(crate) const CEREMONY_SECS: i64 = 300;

pub(crate) const AUTHENTICATE: &str = "authenticate";
