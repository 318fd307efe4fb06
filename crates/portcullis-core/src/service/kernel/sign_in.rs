//! Sign-in completion, shared by every way in: the organization it happens in, the second factor,
//! the session and its tokens.

use super::second_factors::{Passed, SecondFactor};
use super::services::Services;
use super::services::ENROLMENT_ONLY;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::crypto::{hash_token, random_token};
use crate::error::AuthError;
use crate::ids::SessionId;
use crate::model::Device;
use crate::model::{Organization, Session, User};

/// What a successful sign-in or refresh hands out.
#[derive(Debug, Clone)]
pub struct Tokens {
    /// Signed JWT.
    pub access_token: String,
    /// One-time opaque refresh token.
    pub refresh_token: String,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The user.
    pub user: User,
    /// Present when the sign-in asked to trust this device: skips the second factor later.
    pub trusted_device_token: Option<String>,
    /// After a password sign-in: the device cookie to keep and present at later sign-ins
    /// (see `device_cookies`).
    pub device_cookie: Option<String>,
}

/// Where a sign-in happens: the organization, and the registered device it came through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SignInPlace<'a> {
    pub(crate) org: &'a crate::model::Organization,
    pub(crate) device: Option<uuid::Uuid>,
}

impl Services {
    /// Opens the session once every factor passed: an enrolment-only one where the
    /// organization requires a factor the user lacks, and a trusted device when asked for.
    pub(crate) async fn finish_sign_in(
        &self,
        place: SignInPlace<'_>,
        user: User,
        mut amr: Vec<String>,
        passed: Passed,
        proof: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<Tokens, AuthError> {
        let mut trust = false;
        match passed {
            Passed::NotNeeded => {}
            Passed::EnrolOnly => amr.push(ENROLMENT_ONLY.to_owned()),
            Passed::By(how) => {
                amr.extend(["mfa".to_owned(), how.to_owned()]);
                trust = proof.remember_device && how != "trusted_device";
            }
        }
        self.clear_lock(user.id).await?;
        let signed_in = self
            .event(AuditKind::LoginSucceeded, user.org_id, client)
            .user(user.id)
            .actor(user.id);
        let mut tokens = self
            .start_session(place.org, user, amr, client, place.device, Some(signed_in))
            .await?;
        if trust {
            tokens.trusted_device_token = Some(self.trust_device(&tokens.user, client).await?);
        }
        metrics::counter!("portcullis_logins_total", "result" => "ok").increment(1);
        Ok(tokens)
    }

    /// Opens a session for an authenticated user and issues its first token pair; `event`
    /// (the sign-in's) is recorded in the transaction that makes the session.
    pub(crate) async fn start_session(
        &self,
        org: &crate::model::Organization,
        mut user: User,
        amr: Vec<String>,
        client: &ClientInfo,
        device: Option<uuid::Uuid>,
        event: Option<AuditEvent>,
    ) -> Result<Tokens, AuthError> {
        let now = self.now();
        // The organization (the user's, already loaded by the caller) may shorten or
        // lengthen sessions.
        let lifetime = org.policy.session_ttl_secs.map_or(
            self.config.session_absolute_lifetime,
            chrono::Duration::seconds,
        );
        let session = Session {
            id: SessionId::new(),
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + lifetime,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            amr,
            app_token_id: None,
            device_id: device,
            grant: None,
        };
        let refresh_token = random_token(self.rng.as_ref());
        let refresh_hash = hash_token(&refresh_token);
        let created = self.store.create_session(&session, &refresh_hash);
        match event {
            Some(event) => self.changed(event, created, |_| true).await?,
            None => created.await?,
        }
        user.last_login_at = Some(now);
        let access_token = self.access_token(&user, session.id, &session.amr).await?;
        Ok(Tokens {
            access_token,
            refresh_token,
            expires_in: self.config.access_token_ttl.num_seconds(),
            user,
            trusted_device_token: None,
            device_cookie: None,
        })
    }
}

impl Services {
    /// The organization a sign-in goes to, and the device it comes through: a device token
    /// names its organization (and must agree with `organization` when both are given);
    /// without one, an organization that requires devices refuses.
    pub(crate) async fn sign_in_org(
        &self,
        organization: Option<&str>,
        device_token: Option<&str>,
    ) -> Result<(Organization, Option<Device>), AuthError> {
        let Some(token) = device_token else {
            let org = self.org(organization).await?;
            if org.policy.require_device_token {
                return Err(AuthError::Forbidden(
                    "this organization requires signing in from a registered device (Authorization: Bearer <device token>)",
                ));
            }
            return Ok((org, None));
        };
        if !token.starts_with(DEVICE_PREFIX) || token.len() > 128 {
            return Err(AuthError::TokenInvalid);
        }
        let now = self.now();
        let (device, license_expiry) = self
            .store
            .use_device(&hash_token(token), now)
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        if license_expiry.is_some_and(|at| at <= now) {
            return Err(AuthError::TokenInvalid);
        }
        let org = self
            .store
            .org_by_id(device.org_id)
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        if organization
            .map(str::trim)
            .is_some_and(|s| !s.is_empty() && s != org.slug)
        {
            return Err(AuthError::invalid(
                "organization",
                "the device belongs to another organization",
            ));
        }
        Ok((org, Some(device)))
    }
}

/// The start of every device token.
pub const DEVICE_PREFIX: &str = "pcd_";
