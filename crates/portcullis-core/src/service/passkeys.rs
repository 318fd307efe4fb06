//! Passkeys and security keys (WebAuthn, with webauthn-rs): registration after
//! re-authentication, passwordless sign-in with a discoverable credential, and the same as a
//! second factor after a password. Ceremony state is single use, short-lived and kept in the
//! database (so that any node can finish what another began). A signature counter that
//! goes backwards (a cloned authenticator) is refused and audited.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde::Serialize;
use tracing::instrument;
use webauthn_rs::prelude::{Credential, Passkey, PasskeyRegistration, RegisterPublicKeyCredential};

use super::kernel::authz::OrgAdmin;
use super::kernel::passkey_checks::{
    invalid_credential, PasskeyAssertion, AUTHENTICATE, CEREMONY_SECS,
};
use super::kernel::reauth::Proof;
use super::kernel::sign_in::Tokens;
use super::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::ids::UserId;
use crate::model::{PasskeyInfo, User};
use crate::store::WebauthnChallenge;

const REGISTER: &str = "register";
/// The options for the browser's `navigator.credentials.create()`/`.get()` (as
/// `{"publicKey": ...}`), and the ceremony they belong to.
#[derive(Debug, Clone)]
pub struct PasskeyChallenge {
    /// Hand back with the result.
    pub challenge_id: uuid::Uuid,
    /// The WebAuthn options.
    pub options: serde_json::Value,
}

impl Services {
    async fn keep_ceremony(
        &self,
        user: Option<UserId>,
        kind: &str,
        state: &impl Serialize,
    ) -> Result<uuid::Uuid, AuthError> {
        let id = uuid::Uuid::now_v7();
        let now = self.now();
        let state = serde_json::to_string(state)
            .map_err(|e| AuthError::Internal(format!("ceremony state: {e}")))?;
        self.store
            .insert_webauthn_challenge(
                &WebauthnChallenge {
                    id,
                    user_id: user,
                    kind: kind.to_owned(),
                    state,
                    expires_at: now + chrono::Duration::seconds(CEREMONY_SECS),
                },
                now,
            )
            .await?;
        Ok(id)
    }

    /// Begins registering a passkey for the caller (after re-authentication).
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn passkey_register_start(
        &self,
        who: &Principal,
        proof: Proof<'_>,
        client: &ClientInfo,
    ) -> Result<PasskeyChallenge, AuthError> {
        if who.user.anonymous {
            return Err(AuthError::Forbidden(
                "a guest account cannot register a passkey; upgrade it first",
            ));
        }
        self.reauth(who, proof, client).await?;
        let org = self.org(Some(&who.user.org_slug)).await?;
        let rp = self.relying_party(&org)?;
        let existing = self
            .store
            .passkeys(who.user.id)
            .await?
            .into_iter()
            .filter_map(|(_, json)| serde_json::from_str::<Passkey>(&json).ok())
            .map(|p| p.cred_id().clone())
            .collect::<Vec<_>>();
        let user = &who.user;
        let name = user
            .email
            .clone()
            .or_else(|| user.username.clone())
            .or_else(|| user.phone.clone())
            .unwrap_or_else(|| user.id.to_string());
        let display = [user.first_name.clone(), user.last_name.clone()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        let display = if display.is_empty() {
            name.clone()
        } else {
            display
        };
        let (options, state) = rp
            .start_passkey_registration(user.id.0, &name, &display, Some(existing))
            .map_err(|e| AuthError::Internal(format!("WebAuthn: {e}")))?;
        let mut options = serde_json::to_value(&options)
            .map_err(|e| AuthError::Internal(format!("WebAuthn options: {e}")))?;
        // A passkey must be discoverable, so that it can sign in without a name first.
        if let Some(sel) = options.pointer_mut("/publicKey/authenticatorSelection") {
            sel["residentKey"] = "required".into();
            sel["requireResidentKey"] = true.into();
        }
        let challenge_id = self.keep_ceremony(Some(user.id), REGISTER, &state).await?;
        Ok(PasskeyChallenge {
            challenge_id,
            options,
        })
    }

    /// Finishes a registration with the browser's result; answers the new passkey.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn passkey_register_finish(
        &self,
        who: &Principal,
        challenge_id: uuid::Uuid,
        credential: serde_json::Value,
        name: Option<&str>,
        client: &ClientInfo,
    ) -> Result<PasskeyInfo, AuthError> {
        let name = passkey_name(name)?;
        let state: PasskeyRegistration = self
            .take_ceremony(challenge_id, REGISTER, Some(who.user.id))
            .await?;
        let reg: RegisterPublicKeyCredential =
            serde_json::from_value(credential).map_err(invalid_credential)?;
        let org = self.org(Some(&who.user.org_slug)).await?;
        let passkey = self
            .relying_party(&org)?
            .finish_passkey_registration(&reg, &state)
            .map_err(|e| AuthError::invalid("credential", &format!("was refused: {e}")))?;
        let json = serde_json::to_string(&passkey)
            .map_err(|e| AuthError::Internal(format!("passkey: {e}")))?;
        let cred = Credential::from(passkey);
        let info = PasskeyInfo {
            id: uuid::Uuid::now_v7(),
            user_id: who.user.id,
            credential_id: URL_SAFE_NO_PAD.encode(cred.cred_id.as_ref()),
            name,
            counter: cred.counter,
            backup_eligible: cred.backup_eligible,
            backup_state: cred.backup_state,
            created_at: self.now(),
            last_used_at: None,
        };
        self.changed(
            self.event(AuditKind::PasskeyRegistered, who.user.org_id, client)
                .user(who.user.id)
                .actor(who.user.id)
                .detail("passkey_id", info.id.to_string())
                .detail("backup_eligible", info.backup_eligible),
            self.store.insert_passkey(&info, &json),
            |_| true,
        )
        .await
        .map_err(|e| match e {
            crate::store::StoreError::Conflict { .. } => AuthError::Duplicate("passkey"),
            e => e.into(),
        })?;
        self.send_notice(&who.user, "A passkey was added to your account.")
            .await;
        Ok(info)
    }

    /// A user's passkeys (never their keys).
    pub async fn passkeys_of(&self, user: UserId) -> Result<Vec<PasskeyInfo>, AuthError> {
        Ok(self
            .store
            .passkeys(user)
            .await?
            .into_iter()
            .map(|(p, _)| p)
            .collect())
    }

    /// Renames one of the caller's passkeys.
    pub async fn rename_passkey(
        &self,
        who: &Principal,
        id: uuid::Uuid,
        name: &str,
    ) -> Result<PasskeyInfo, AuthError> {
        let name = passkey_name(Some(name))?;
        if !self.store.rename_passkey(who.user.id, id, &name).await? {
            return Err(AuthError::NotFound);
        }
        self.passkeys_of(who.user.id)
            .await?
            .into_iter()
            .find(|p| p.id == id)
            .ok_or(AuthError::NotFound)
    }

    async fn remove_passkey(
        &self,
        user: &User,
        id: uuid::Uuid,
        actor: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let removed = self
            .remove_factor(
                user,
                self.event(AuditKind::PasskeyDeleted, user.org_id, client)
                    .user(user.id)
                    .actor(actor),
                "A passkey was removed from your account.",
                self.store.delete_passkey(user.id, id),
                |done| *done,
            )
            .await?;
        if !removed {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }

    /// Deletes one of the caller's passkeys (after re-authentication).
    pub async fn delete_my_passkey(
        &self,
        who: &Principal,
        id: uuid::Uuid,
        proof: Proof<'_>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.reauth(who, proof, client).await?;
        self.remove_passkey(&who.user, id, who.user.id, client)
            .await
    }

    /// An admin's view of a user's passkeys.
    pub async fn admin_passkeys(
        &self,
        admin: &OrgAdmin,
        id: UserId,
    ) -> Result<Vec<PasskeyInfo>, AuthError> {
        let user = self.managed_user(admin, id).await?;
        self.passkeys_of(user.id).await
    }

    /// An admin deletes a passkey of a user.
    pub async fn admin_delete_passkey(
        &self,
        admin: &OrgAdmin,
        id: UserId,
        passkey: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let user = self.managed_user(admin, id).await?;
        self.remove_passkey(&user, passkey, admin.actor().user.id, client)
            .await
    }

    /// Begins a sign-in with a passkey (no name first: the credential names the user), or
    /// the passkey step after a password.
    pub async fn passkey_sign_in_start(
        &self,
        organization: Option<&str>,
        client: &ClientInfo,
    ) -> Result<PasskeyChallenge, AuthError> {
        self.rate_limit(client, super::kernel::limits::Limit::Client)
            .await?;
        let org = self.org(organization).await?;
        let (options, state) = self
            .relying_party(&org)?
            .start_discoverable_authentication()
            .map_err(|e| AuthError::Internal(format!("WebAuthn: {e}")))?;
        let mut options = serde_json::to_value(&options)
            .map_err(|e| AuthError::Internal(format!("WebAuthn options: {e}")))?;
        // Asked for with a button, not by autofill.
        if let Some(o) = options.as_object_mut() {
            o.remove("mediation");
        }
        let challenge_id = self.keep_ceremony(None, AUTHENTICATE, &state).await?;
        Ok(PasskeyChallenge {
            challenge_id,
            options,
        })
    }

    /// Finishes a passwordless sign-in: the passkey proves the user (with user
    /// verification, two factors in one).
    #[instrument(skip_all)]
    pub async fn passkey_sign_in_finish(
        &self,
        organization: Option<&str>,
        assertion: &PasskeyAssertion,
        client: &ClientInfo,
    ) -> Result<Tokens, AuthError> {
        self.rate_limit(client, super::kernel::limits::Limit::Client)
            .await?;
        let org = self.org(organization).await?;
        let user = match self.verify_assertion(&org, assertion, None, client).await {
            Ok(user) => user,
            Err(e) => {
                self.audit(
                    self.event(AuditKind::LoginFailed, org.id, client)
                        .detail("reason", "passkey"),
                )
                .await;
                return Err(e);
            }
        };
        if !user.active {
            return Err(AuthError::Inactive);
        }
        let signed_in = self
            .event(AuditKind::LoginSucceeded, org.id, client)
            .user(user.id)
            .actor(user.id)
            .detail("method", "passkey");
        self.start_session(
            &org,
            user,
            vec!["webauthn".to_owned()],
            client,
            None,
            Some(signed_in),
        )
        .await
    }
}

/// A passkey's name: 1 to 100 characters, "Passkey" when none is given.
fn passkey_name(raw: Option<&str>) -> Result<String, AuthError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok("Passkey".to_owned()),
        Some(s) if s.chars().count() > 100 || s.chars().any(char::is_control) => {
            Err(AuthError::invalid("name", "must be 1 to 100 characters"))
        }
        Some(s) => Ok(s.to_owned()),
    }
}
