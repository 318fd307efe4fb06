//! Registration, sign-in, token refresh and sign-out.

use tracing::instrument;

use super::kernel::accounts::RegisterInput;
use super::kernel::identifiers::{sign_in_key, unknown_identifier_lock};
use super::kernel::input::Fields;
use super::kernel::sign_in::{SignInPlace, Tokens};
use super::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::{hash_token, random_token};
use crate::error::AuthError;
use crate::identity::RoleName;
use crate::ids::UserId;
use crate::model::User;
use crate::password::{Password, Verified};
use crate::store::LockKey;
use crate::store::{Profile, RotateOutcome};

/// A password sign-in, as received.
#[derive(Debug, Default)]
pub struct LoginInput {
    /// Email, username or phone.
    pub identifier: String,
    /// Password.
    pub password: String,
    /// Organization slug.
    pub organization: Option<String>,
    /// A device token from `Authorization: Bearer`, which names the organization.
    pub device_token: Option<String>,
    /// The second factor presented, if any.
    pub second_factor: super::SecondFactor,
    /// `password` may be the hex of the password's SHA-1 (as emnify's clients send it);
    /// taken so only where the organization keeps passwords in that form.
    pub password_is_sha1_hex: bool,
    /// The device cookie an earlier sign-in to this account handed out, if the client kept
    /// it: while the account is locked for unknown clients, this one may still sign in.
    pub device_cookie: Option<String>,
    /// Where the request came from.
    pub client: ClientInfo,
}

impl Services {
    /// Self-registration with email and password, or with a phone number.
    #[instrument(skip_all)]
    pub async fn register(&self, input: RegisterInput) -> Result<User, AuthError> {
        let who = input
            .email
            .as_deref()
            .or(input.phone.as_deref())
            .unwrap_or("");
        self.rate_limit(&input.client, super::kernel::limits::Limit::ClientAnd(who))
            .await?;
        let org = self.org(input.organization.as_deref()).await?;
        if !org.policy.allow_self_registration {
            return Err(AuthError::Forbidden(
                "this organization does not allow self-registration",
            ));
        }
        let mut f = Fields::default();
        let account = self.parse_new_account(&mut f, &input, false, true);
        f.finish()?;
        let profile = account.profile.clone();
        let registered = |id| {
            self.event(AuditKind::UserRegistered, org.id, &input.client)
                .user(id)
                .actor(id)
        };
        let user = match self
            .create_account(
                &org,
                account,
                Vec::new(),
                "registration",
                registered,
                Some((&input.client, None)),
            )
            .await
        {
            Err(AuthError::Duplicate(what @ ("email" | "phone")))
                if org.policy.conceal_existing_accounts =>
            {
                return self
                    .conceal_existing(&org, profile, what, &input.client)
                    .await;
            }
            result => result?,
        };
        Ok(user)
    }

    /// Registration with an address that has an account, where the organization conceals
    /// accounts: the owner gets a notice, and the caller the answer a new account gets (the
    /// password was hashed either way, so the timing matches too). The returned user exists
    /// nowhere.
    async fn conceal_existing(
        &self,
        org: &crate::model::Organization,
        profile: Profile,
        what: &str,
        client: &ClientInfo,
    ) -> Result<User, AuthError> {
        self.tell_existing_owner(org, &profile, what, client)
            .await?;
        let now = self.now();
        Ok(User {
            id: UserId::new(),
            org_id: org.id,
            org_slug: org.slug.clone(),
            email: profile.email,
            email_verified: false,
            phone: profile.phone,
            phone_verified: false,
            username: profile.username,
            first_name: profile.first_name,
            last_name: profile.last_name,
            anonymous: false,
            active: true,
            roles: vec![crate::model::Role {
                name: RoleName::USER.to_owned(),
                added_at: now,
            }],
            mfa_enabled: false,
            attributes: profile.attributes,
            created_at: now,
            updated_at: now,
            last_login_at: None,
        })
    }

    /// The first factor of a sign-in: organization (or device), identifier and password.
    /// Unknown identifiers and wrong passwords answer alike and take as long.
    async fn password_sign_in(
        &self,
        input: &LoginInput,
    ) -> Result<
        (
            User,
            crate::model::Organization,
            Option<crate::model::Device>,
        ),
        AuthError,
    > {
        self.rate_limit(
            &input.client,
            super::kernel::limits::Limit::ClientAnd(&input.identifier),
        )
        .await?;
        let (org, device) = self
            .sign_in_org(input.organization.as_deref(), input.device_token.as_deref())
            .await?;
        let key = sign_in_key(&input.identifier)?;
        if input.password.is_empty() {
            return Err(AuthError::invalid("password", "is required"));
        }
        let creds = self.store.credentials(org.id, &key).await?;
        // A client that proves it signed in to this account before (its device cookie)
        // answers to its own lock, not the account's: an attacker's failures lock the
        // account for unknown clients only, and this device's failures lock this device.
        let known = creds
            .as_ref()
            .and_then(|c| self.known_device(input.device_cookie.as_deref(), c.user.id));
        let lock = match (&creds, known) {
            (Some(_), Some(device)) => device.lock,
            (Some(c), None) => LockKey::user(c.user.id),
            (None, _) => unknown_identifier_lock(org.id, &key),
        };
        if let Err(locked) = self.check_lock(&lock).await {
            self.audit(
                self.event(AuditKind::LoginFailed, org.id, &input.client)
                    .detail("reason", "locked"),
            )
            .await;
            return Err(locked);
        }
        let form = org.policy.sha1_hex_passwords;
        let password = input
            .password_is_sha1_hex
            .then(|| Password::sha1_hex(&input.password))
            .flatten()
            .filter(|_| form)
            .unwrap_or_else(|| Password::new(&input.password))
            .stored_as_sha1(form);
        let verified = self
            .hasher
            .verify(
                &password,
                creds.as_ref().and_then(|c| c.password_hash.as_deref()),
            )
            .await?;
        let failed = |reason: &str, user: Option<UserId>| {
            let mut e = self
                .event(AuditKind::LoginFailed, org.id, &input.client)
                .detail("reason", reason);
            if let Some(id) = user {
                e = e.user(id);
            }
            e
        };
        let (creds, rehash) = match (creds, verified) {
            (Some(c), Verified::Yes) => (c, None),
            (Some(c), Verified::YesRehashed(h)) => (c, Some(h)),
            (c, _) => {
                let id = c.map(|c| c.user.id);
                self.audit(failed(
                    if id.is_some() {
                        "wrong_password"
                    } else {
                        "unknown_identifier"
                    },
                    id,
                ))
                .await;
                self.count_failure(&lock, &org.policy, org.id, id, &input.client)
                    .await?;
                metrics::counter!("portcullis_logins_total", "result" => "failed").increment(1);
                return Err(AuthError::InvalidCredentials);
            }
        };
        let user = creds.user;
        if !user.active {
            self.audit(failed("inactive", Some(user.id))).await;
            return Err(AuthError::Inactive);
        }
        if let Some(hash) = rehash {
            self.store.upgrade_password_hash(user.id, &hash).await?;
        }
        Ok((user, org, device))
    }

    /// Password sign-in, with a second factor when the user has one (or must enrol one).
    #[instrument(skip_all)]
    pub async fn login(&self, input: LoginInput) -> Result<Tokens, AuthError> {
        let (user, org, device) = self.password_sign_in(&input).await?;
        let amr = match self
            .second_factor(&user, &org.policy, &input.second_factor, &input.client)
            .await
        {
            Ok(passed) => passed,
            Err(AuthError::InvalidCredentials) => {
                let event = self
                    .event(AuditKind::LoginFailed, org.id, &input.client)
                    .user(user.id)
                    .detail("reason", "wrong_second_factor");
                self.audit(event).await;
                let lock = LockKey::user(user.id);
                self.count_failure(&lock, &org.policy, org.id, Some(user.id), &input.client)
                    .await?;
                metrics::counter!("portcullis_logins_total", "result" => "failed").increment(1);
                return Err(AuthError::InvalidCredentials);
            }
            Err(e) => return Err(e),
        };
        let user_id = user.id;
        let mut tokens = self
            .finish_sign_in(
                SignInPlace {
                    org: &org,
                    device: device.map(|d| d.id),
                },
                user,
                vec!["pwd".to_owned()],
                amr,
                &input.second_factor,
                &input.client,
            )
            .await?;
        tokens.device_cookie = Some(self.issue_device_cookie(user_id));
        Ok(tokens)
    }
}

impl Services {
    /// `login/otp`: checks the password, then sends a one-time code as the second factor.
    #[instrument(skip_all)]
    pub async fn request_login_otp(
        &self,
        input: LoginInput,
        channel: Option<&str>,
        to: super::kernel::second_factors::OtpTo,
    ) -> Result<(), AuthError> {
        let (user, _, _) = self.password_sign_in(&input).await?;
        self.send_login_otp(&user, channel, to, &input.client).await
    }

    /// Exchanges a refresh token for a new pair. A token presented twice revokes its session.
    #[instrument(skip_all)]
    pub async fn refresh(
        &self,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<Tokens, AuthError> {
        if refresh_token.is_empty() || refresh_token.len() > 256 {
            return Err(AuthError::TokenInvalid);
        }
        let next = random_token(self.rng.as_ref());
        let live = self.liveness();
        match self
            .store
            .rotate_refresh_token(&hash_token(refresh_token), &hash_token(&next), live)
            .await?
        {
            RotateOutcome::Rotated { session } => {
                // The rotation checked the session and the user, atomically. Reading the
                // user without the session check again keeps "exactly one success": a
                // concurrent presentation of the same token, seen as reuse, may revoke the
                // session a moment later, and the new tokens die with it on first use.
                let user = self
                    .store
                    .user_by_id(session.user_id)
                    .await?
                    .ok_or(AuthError::TokenInvalid)?;
                let access_token = self.access_token(&user, session.id, &session.amr).await?;
                Ok(Tokens {
                    access_token,
                    refresh_token: next,
                    expires_in: self.config.access_token_ttl.num_seconds(),
                    user,
                    trusted_device_token: None,
                    device_cookie: None,
                })
            }
            RotateOutcome::Reused {
                session_id,
                user_id,
            } => {
                let org_id = self.store.user_by_id(user_id).await?.map(|u| u.org_id);
                let event = crate::audit::AuditEvent::new(
                    AuditKind::TokenReused,
                    org_id,
                    self.now(),
                    client,
                )
                .user(user_id)
                .detail("session_id", session_id.to_string());
                self.audit(event).await;
                tracing::warn!(session.id = %session_id, "refresh token reused; session revoked");
                Err(AuthError::TokenReused)
            }
            RotateOutcome::SessionEnded | RotateOutcome::Unknown => Err(AuthError::TokenInvalid),
        }
    }

    /// Exchanges a pair issued together (the access token may have expired) for a new one:
    /// the reference dialects renew by the pair. A refresh token presented with another
    /// session's access token has leaked; its session is ended.
    #[instrument(skip_all)]
    pub async fn refresh_pair(
        &self,
        access_token: &str,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<Tokens, AuthError> {
        let claims = self.key_ring().verify_signature(access_token)?;
        let tokens = self.refresh(refresh_token, client).await?;
        let fresh = self.key_ring().verify_signature(&tokens.access_token)?;
        if fresh.sid != claims.sid {
            let event = self
                .event(AuditKind::SessionRevoked, tokens.user.org_id, client)
                .user(tokens.user.id)
                .detail(
                    "reason",
                    "refresh token presented with another session's access token",
                );
            match fresh.sid.parse() {
                Ok(sid) => {
                    let revoke = self.store.revoke_session(
                        tokens.user.id,
                        sid,
                        "mismatched_pair",
                        self.now(),
                    );
                    self.changed(event, revoke, |_| true).await?;
                }
                Err(_) => self.audit(event).await,
            }
            return Err(AuthError::TokenInvalid);
        }
        Ok(tokens)
    }

    /// Ends the caller's session.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn logout(&self, who: &Principal, client: &ClientInfo) -> Result<(), AuthError> {
        let out = self
            .event(AuditKind::Logout, who.user.org_id, client)
            .user(who.user.id)
            .actor(who.user.id);
        self.changed(
            out,
            self.store
                .revoke_session(who.user.id, who.session_id, "logout", self.now()),
            |_| true,
        )
        .await?;
        Ok(())
    }

    /// Ends every session of the caller.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn logout_all(&self, who: &Principal, client: &ClientInfo) -> Result<(), AuthError> {
        let out = self
            .event(AuditKind::LogoutAll, who.user.org_id, client)
            .user(who.user.id)
            .actor(who.user.id);
        self.changed(
            out,
            self.store
                .revoke_sessions(who.user.id, None, "logout_all", self.now()),
            |_| true,
        )
        .await?;
        Ok(())
    }
}
