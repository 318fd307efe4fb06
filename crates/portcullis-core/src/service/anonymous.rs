//! Guest accounts: made without credentials where the organization allows them, upgraded in
//! place to a full account (same id, same data), and deleted once idle for the retention time.

use tracing::instrument;

use super::kernel::accounts::RegisterInput;
use super::kernel::input::Fields;
use super::kernel::sign_in::Tokens;
use super::{Principal, Services};
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::crypto::random_token;
use crate::error::AuthError;
use crate::identity::Username;
use crate::ids::UserId;
use crate::model::User;
use crate::store::{LookupKey, NewUser, StoreError};

/// The shortest username accepted as a guest's credential: a UUID's 36 characters carry
/// 122 random bits; 32 hex characters, 128.
const GUEST_HANDLE_MIN: usize = 32;

fn guest_handle(raw: &str) -> Result<Username, crate::error::FieldError> {
    let name = Username::parse(raw, "username")?;
    if name.as_str().chars().count() < GUEST_HANDLE_MIN {
        return Err(crate::error::FieldError::new(
            "username",
            "must be at least 32 characters for a guest (a random UUID, say): it is the guest's only credential",
        ));
    }
    Ok(name)
}

impl Services {
    /// Makes a guest account with a generated username and signs it in.
    #[instrument(skip_all)]
    pub async fn register_anonymous(
        &self,
        organization: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Tokens, AuthError> {
        let suffix: String = random_token(self.rng.as_ref())
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .take(12)
            .collect::<String>()
            .to_lowercase();
        let (org, user) = self
            .register_guest(organization, format!("guest-{suffix}"), client)
            .await?;
        self.start_session(&org, user, vec!["anon".to_owned()], client, None, None)
            .await
    }

    /// Makes a guest account whose username is its credential (a *handle*: MeshyDB's
    /// clients sign guests in again by username alone), and signs it in. The handle is the
    /// one given, when it is long enough to be unguessable (a UUID, as MeshyDB's clients
    /// make), or a generated one of 128 random bits. No session is opened: the guest signs in
    /// with [`Services::sign_in_guest`].
    #[instrument(skip_all)]
    pub async fn register_guest_with_handle(
        &self,
        organization: Option<&str>,
        handle: Option<&str>,
        client: &ClientInfo,
    ) -> Result<User, AuthError> {
        let handle = match handle {
            Some(h) => guest_handle(h)
                .map_err(|f| AuthError::Validation(vec![f]))?
                .as_str()
                .to_owned(),
            None => {
                let mut bytes = [0u8; 16];
                self.rng.fill(&mut bytes);
                format!("guest-{}", hex::encode(bytes))
            }
        };
        Ok(self.register_guest(organization, handle, client).await?.1)
    }

    async fn register_guest(
        &self,
        organization: Option<&str>,
        username: String,
        client: &ClientInfo,
    ) -> Result<(crate::model::Organization, User), AuthError> {
        self.rate_limit(client, super::kernel::limits::Limit::Client)
            .await?;
        let org = self.org(organization).await?;
        if !org.policy.allow_anonymous {
            return Err(AuthError::Forbidden(
                "this organization does not allow anonymous accounts",
            ));
        }
        let profile = crate::store::Profile {
            email: None,
            email_verified: false,
            phone: None,
            phone_verified: false,
            username: Some(username),
            first_name: None,
            last_name: None,
            attributes: crate::identity::Attributes::default(),
        };
        let new = NewUser {
            id: UserId::new(),
            org_id: org.id,
            profile,
            password_hash: None,
            anonymous: true,
            active: true,
            roles: vec![crate::identity::RoleName::USER.to_owned()],
            created_at: self.now(),
        };
        // A guest is an account too: the organization's hook may refuse it.
        self.allow_new_user(&org, &new.profile, &new.roles, "guest")
            .await?;
        let event = self
            .event(AuditKind::AnonymousRegistered, org.id, client)
            .user(new.id)
            .actor(new.id);
        let user = self
            .changed(event, self.store.insert_user(&new), |_| true)
            .await
            .map_err(|e| match e {
                StoreError::Conflict { what } => AuthError::Duplicate(what),
                e => e.into(),
            })?;
        Ok((org, user))
    }

    /// Signs a guest in again by its handle (see [`Services::register_guest_with_handle`]).
    /// A handle too short to be a credential, or naming no active guest, is refused as
    /// invalid credentials alike, and not recorded (see below).
    #[instrument(skip_all)]
    pub async fn sign_in_guest(
        &self,
        organization: Option<&str>,
        handle: &str,
        client: &ClientInfo,
    ) -> Result<Tokens, AuthError> {
        self.rate_limit(client, super::kernel::limits::Limit::Client)
            .await?;
        let org = self.org(organization).await?;
        let found = match guest_handle(handle) {
            Ok(h) => self
                .store
                .credentials(org.id, &LookupKey::Username(h.key()))
                .await?
                .map(|c| c.user)
                .filter(|u| u.anonymous && u.active),
            Err(_) => None,
        };
        // Not audited as a failed sign-in: the one caller (MeshyDB's password grant) goes on
        // to a password sign-in with the same name, which records its own outcome.
        let Some(user) = found else {
            return Err(AuthError::InvalidCredentials);
        };
        self.audit(
            self.event(AuditKind::LoginSucceeded, org.id, client)
                .user(user.id)
                .actor(user.id)
                .detail("method", "guest_handle"),
        )
        .await;
        self.start_session(&org, user, vec!["anon".to_owned()], client, None, None)
            .await
    }

    /// Gives a guest account an email and password, or a phone number, keeping its id and data.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn upgrade_me(
        &self,
        who: &Principal,
        input: RegisterInput,
    ) -> Result<User, AuthError> {
        if !who.user.anonymous {
            return Err(AuthError::invalid(
                "email",
                "this account is not anonymous; change it through PATCH /v1/users/me",
            ));
        }
        let org = self.org(Some(&who.user.org_slug)).await?;
        let mut f = Fields::default();
        let account = self.parse_new_account(&mut f, &input, false, true);
        f.finish()?;
        let password_hash = self.hash_new_password(&org, &account).await?;
        let mut profile = account.profile;
        // Keep the guest's name and data; a username given replaces the generated one.
        profile.username = profile.username.or_else(|| who.user.username.clone());
        profile.first_name = profile.first_name.or_else(|| who.user.first_name.clone());
        profile.last_name = profile.last_name.or_else(|| who.user.last_name.clone());
        profile.attributes = who.user.attributes.clone();
        let event = self
            .event(AuditKind::AccountUpgraded, who.user.org_id, &input.client)
            .user(who.user.id)
            .actor(who.user.id);
        let upgrade = self.store.upgrade_anonymous(
            who.user.id,
            &profile,
            password_hash.as_deref(),
            self.now(),
        );
        let user = match self.changed(event, upgrade, Option::is_some).await {
            // A taken address, where the organization conceals accounts: its owner hears
            // of it, and the guest gets the answer an upgrade gets, with nothing changed.
            Err(StoreError::Conflict {
                what: what @ ("email" | "phone"),
            }) if org.policy.conceal_existing_accounts => {
                self.tell_existing_owner(&org, &profile, what, &input.client)
                    .await?;
                return Ok(User {
                    email: profile.email,
                    phone: profile.phone,
                    username: profile.username,
                    first_name: profile.first_name,
                    last_name: profile.last_name,
                    anonymous: false,
                    updated_at: self.now(),
                    ..who.user.clone()
                });
            }
            Err(StoreError::Conflict { what }) => return Err(AuthError::Duplicate(what)),
            Err(e) => return Err(e.into()),
            Ok(user) => user.ok_or(AuthError::NotFound)?,
        };
        self.send_verifications(&user, &input.client, None).await;
        Ok(user)
    }

    /// Deletes guest accounts idle longer than the retention time; answers how many.
    pub async fn purge_idle_anonymous(&self) -> Result<usize, AuthError> {
        let gone = self
            .store
            .delete_idle_anonymous(self.now() - self.config.anonymous_retention)
            .await?;
        for (user, org) in &gone {
            let event = AuditEvent::new(
                AuditKind::AnonymousExpired,
                Some(*org),
                self.now(),
                &ClientInfo::default(),
            )
            .user(*user);
            self.audit(event).await;
        }
        Ok(gone.len())
    }
}
