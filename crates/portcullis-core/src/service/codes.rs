//! One-time codes by email and SMS: proving an address, signing in without a password,
//! and recovering a forgotten password. Codes are 6 digits from the OS RNG, stored only as
//! a keyed hash, single-use, short-lived, and die after a few wrong tries. Requests that
//! could reveal whether an account exists answer before doing any work.

use std::sync::Arc;

use tracing::instrument;

use super::kernel::authz::OrgAdmin;
use super::kernel::codes::{code_digits, Window};
use super::kernel::identifiers::lookup_key;
use super::kernel::sign_in::Tokens;
use super::Services;
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::hash_token;
use crate::error::AuthError;
use crate::identity::{Address, Email};
use crate::ids::UserId;
use crate::model::{Organization, User};
use crate::store::Purpose;

/// A request for a code to be sent to an address.
#[derive(Debug, Default, Clone)]
pub struct CodeRequest {
    /// Email address (wins when both are given).
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// Organization slug.
    pub organization: Option<String>,
    /// Where the request came from.
    pub client: ClientInfo,
}

/// A code (with its address) or a reset-link token, as presented.
#[derive(Debug, Default, Clone)]
pub struct CodeSubmission {
    /// Email address the code went to.
    pub email: Option<String>,
    /// Phone number the code went to.
    pub phone: Option<String>,
    /// The 6-digit code.
    pub code: Option<String>,
    /// The token of a reset link (instead of code and address).
    pub token: Option<String>,
    /// Organization slug.
    pub organization: Option<String>,
    /// A device token (for `code/login`), which names the organization.
    pub device_token: Option<String>,
    /// The second factor (for `code/login` by users who have one).
    pub second_factor: super::SecondFactor,
    /// Where the request came from.
    pub client: ClientInfo,
}

impl Services {
    /// Parses the request, then answers at once and does the rest in the background, so
    /// that neither the answer nor its timing tells whether the address has an account.
    /// The address's one message of the interval is claimed here, before anything is
    /// looked up, so that a second request within it answers `rate_limited` whether or not
    /// the address has an account (and the background work sends in the claimed window).
    async fn answer_then(
        self: &Arc<Self>,
        input: CodeRequest,
        purpose: fn(&Address) -> Purpose,
        work: fn(Arc<Self>, Organization, Address, Purpose, ClientInfo) -> BoxFuture,
    ) -> Result<(), AuthError> {
        let to = Address::parse(input.email.as_deref(), input.phone.as_deref())
            .map_err(|e| AuthError::Validation(vec![e]))?;
        self.rate_limit(
            &input.client,
            super::kernel::limits::Limit::ClientAnd(to.as_str()),
        )
        .await?;
        let org = self.org(input.organization.as_deref()).await?;
        let purpose = purpose(&to);
        self.claim_send(&to, purpose).await?;
        let fut = work(Arc::clone(self), org, to, purpose, input.client);
        tokio::spawn(async move {
            if let Err(e) = fut.await {
                tracing::warn!(error = %e, "a code request failed in the background");
            }
        });
        Ok(())
    }

    /// `verify/resend`: a new verification code to an address not yet proven.
    #[instrument(skip_all)]
    pub async fn resend_verification(
        self: &Arc<Self>,
        input: CodeRequest,
    ) -> Result<(), AuthError> {
        self.answer_then(input, Purpose::verify, |s, org, to, purpose, client| {
            Box::pin(async move {
                let Some(user) = s.find_user(&org, &to).await? else {
                    return Ok(());
                };
                let proven = match &to {
                    Address::Email(_) => user.email_verified,
                    Address::Phone(_) => user.phone_verified,
                };
                if !proven && user.active {
                    s.send_code(&user, &to, purpose, Window::Claimed, &client, None)
                        .await?;
                }
                Ok(())
            })
        })
        .await
    }

    /// A code request to the address a verification for account `id` of organization
    /// `org` goes to: its unproven email, else its unproven phone, else its email or phone.
    /// `None` when there is no such account (in `org`, when given: the DeepAffex dialect
    /// names accounts by id).
    async fn request_for(
        &self,
        org: Option<&str>,
        id: UserId,
        client: &ClientInfo,
    ) -> Result<Option<CodeRequest>, AuthError> {
        let org = match org {
            Some(slug) => Some(self.org(Some(slug)).await?.id),
            None => None,
        };
        let Some(user) = self
            .store
            .user_by_id(id)
            .await?
            .filter(|u| org.is_none_or(|o| u.org_id == o))
        else {
            return Ok(None);
        };
        let by_phone = user.phone.is_some()
            && (user.email.is_none() || (user.email_verified && !user.phone_verified));
        Ok(Some(CodeRequest {
            email: if by_phone { None } else { user.email },
            phone: if by_phone { user.phone } else { None },
            organization: Some(user.org_slug),
            client: client.clone(),
        }))
    }

    /// `verify/resend` for an account named by id; answers the same whether it exists.
    pub async fn resend_verification_to(
        self: &Arc<Self>,
        org: Option<&str>,
        id: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        match self.request_for(org, id, client).await? {
            Some(request) => self.resend_verification(request).await,
            None => Ok(()),
        }
    }

    /// `verify` for an account named by id; an unknown id is a wrong code.
    pub async fn verify_account(
        &self,
        org: Option<&str>,
        id: UserId,
        code: &str,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let request = self
            .request_for(org, id, client)
            .await?
            .ok_or(AuthError::CodeInvalid)?;
        self.verify_address(CodeSubmission {
            email: request.email,
            phone: request.phone,
            code: Some(code.to_owned()),
            organization: request.organization,
            client: request.client,
            ..CodeSubmission::default()
        })
        .await
    }

    /// `code/request`: a sign-in code to the address of an active account.
    #[instrument(skip_all)]
    pub async fn request_login_code(self: &Arc<Self>, input: CodeRequest) -> Result<(), AuthError> {
        self.answer_then(input, |_| Purpose::Login, Self::to_active_account)
            .await
    }

    /// The background half of a sign-in code or reset request: the code, to the address
    /// of an active account (nothing for an address without one).
    fn to_active_account(
        self: Arc<Self>,
        org: Organization,
        to: Address,
        purpose: Purpose,
        client: ClientInfo,
    ) -> BoxFuture {
        Box::pin(async move {
            match self.find_user(&org, &to).await? {
                Some(user) if user.active => {
                    self.send_code(&user, &to, purpose, Window::Claimed, &client, None)
                        .await
                }
                _ => Ok(()),
            }
        })
    }

    /// `password/forgot`: a reset code and link to the address of an active account.
    #[instrument(skip_all)]
    pub async fn forgot_password(self: &Arc<Self>, input: CodeRequest) -> Result<(), AuthError> {
        self.forgot_password_as(input, |_| Purpose::Reset).await
    }

    async fn forgot_password_as(
        self: &Arc<Self>,
        input: CodeRequest,
        purpose: fn(&Address) -> Purpose,
    ) -> Result<(), AuthError> {
        self.answer_then(input, purpose, Self::to_active_account)
            .await
    }

    /// `forgot_password` for DhiWise, whose answer says whether the account exists
    /// (`RECORD_NOT_FOUND`) and whose code routes take the code alone, so its message shows
    /// the link's token as the one code (a `ResetByToken` purpose): where the
    /// organization conceals accounts, exactly `forgot_password` and `true` whatever the
    /// address; elsewhere, whether an active account has the address (the code is sent
    /// before answering).
    pub async fn forgot_password_reporting(
        self: &Arc<Self>,
        input: CodeRequest,
    ) -> Result<bool, AuthError> {
        let org = self.org(input.organization.as_deref()).await?;
        if org.policy.conceal_existing_accounts {
            return self
                .forgot_password_as(input, |_| Purpose::ResetByToken)
                .await
                .map(|()| true);
        }
        let to = Address::parse(input.email.as_deref(), input.phone.as_deref())
            .map_err(|e| AuthError::Validation(vec![e]))?;
        self.rate_limit(
            &input.client,
            super::kernel::limits::Limit::ClientAnd(to.as_str()),
        )
        .await?;
        match self.find_user(&org, &to).await? {
            Some(user) if user.active => {
                self.send_code(
                    &user,
                    &to,
                    Purpose::ResetByToken,
                    Window::ToClaim,
                    &input.client,
                    None,
                )
                .await?;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    /// The user and address a code submission names; unknown ones are `code_invalid`.
    async fn submitted(
        &self,
        input: &CodeSubmission,
    ) -> Result<(User, Address, String), AuthError> {
        let to = Address::parse(input.email.as_deref(), input.phone.as_deref())
            .map_err(|e| AuthError::Validation(vec![e]))?;
        self.rate_limit(
            &input.client,
            super::kernel::limits::Limit::ClientAnd(to.as_str()),
        )
        .await?;
        let code = code_digits(input.code.as_deref())?;
        let org = self.org(input.organization.as_deref()).await?;
        let user = self
            .find_user(&org, &to)
            .await?
            .ok_or(AuthError::CodeInvalid)?;
        Ok((user, to, code))
    }

    /// `verify`: proves an address with the code sent to it (an address of the account, or
    /// a new one proposed for it, which then becomes the account's).
    #[instrument(skip_all)]
    pub async fn verify_address(&self, input: CodeSubmission) -> Result<(), AuthError> {
        let (user, to, code) = match self.submitted(&input).await {
            Err(AuthError::CodeInvalid) => return self.confirm_new_address(&input).await,
            other => other?,
        };
        self.check_code(
            &user,
            Purpose::verify(&to),
            Some(&to),
            &code,
            true,
            &input.client,
        )
        .await?;
        self.changed(
            self.event(AuditKind::AddressVerified, user.org_id, &input.client)
                .user(user.id)
                .actor(user.id)
                .detail("channel", to.channel()),
            self.store
                .mark_verified(user.id, &lookup_key(&to), self.now()),
            |_| true,
        )
        .await?;
        Ok(())
    }

    /// A proposed address proven by its code: it becomes the account's, verified.
    async fn confirm_new_address(&self, input: &CodeSubmission) -> Result<(), AuthError> {
        let to = Address::parse(input.email.as_deref(), input.phone.as_deref())
            .map_err(|e| AuthError::Validation(vec![e]))?;
        let code = code_digits(input.code.as_deref())?;
        let stored = self
            .store
            .live_code_to(Purpose::ChangeAddress, to.as_str())
            .await?
            .ok_or(AuthError::CodeInvalid)?;
        let user = self
            .store
            .user_by_id(stored.user_id)
            .await?
            .ok_or(AuthError::CodeInvalid)?;
        self.check_code(
            &user,
            Purpose::ChangeAddress,
            Some(&to),
            &code,
            true,
            &input.client,
        )
        .await?;
        let mut next = crate::store::Profile::of(&user);
        match &to {
            Address::Email(e) => {
                next.email = Some(e.as_str().to_owned());
                next.email_verified = true;
            }
            Address::Phone(p) => {
                next.phone = Some(p.as_str().to_owned());
                next.phone_verified = true;
            }
        }
        // Taken since it was proposed: the code is spent and nothing changes.
        let event = self
            .event(AuditKind::AddressVerified, user.org_id, &input.client)
            .user(user.id)
            .actor(user.id)
            .detail("channel", to.channel())
            .detail("change", "new_address");
        let change = self.store.update_profile(user.id, &next, self.now());
        let updated = match self.changed(event, change, Option::is_some).await {
            Ok(Some(u)) => u,
            Ok(None) | Err(crate::store::StoreError::Conflict { .. }) => {
                return Err(AuthError::CodeInvalid)
            }
            Err(e) => return Err(e.into()),
        };
        self.announce_profile_change(&user, &updated, &input.client, user.id)
            .await;
        Ok(())
    }

    /// `code/login`: signs in with the code sent to an address (which proves it).
    #[instrument(skip_all)]
    pub async fn login_with_code(&self, input: CodeSubmission) -> Result<Tokens, AuthError> {
        let (org, device) = self
            .sign_in_org(input.organization.as_deref(), input.device_token.as_deref())
            .await?;
        let input = CodeSubmission {
            organization: Some(org.slug.clone()),
            ..input
        };
        let (user, to, code) = self.submitted(&input).await?;
        // Check the code, then the second factor, and only then use the code up, so that a
        // missing second factor does not burn it.
        let stored = self
            .check_code(
                &user,
                Purpose::Login,
                Some(&to),
                &code,
                false,
                &input.client,
            )
            .await?;
        if !user.active {
            return Err(AuthError::Inactive);
        }
        let passed = self
            .second_factor(&user, &org.policy, &input.second_factor, &input.client)
            .await?;
        if !self
            .store
            .consume_code(stored.id, self.config.code_max_attempts, self.now())
            .await?
        {
            return Err(AuthError::CodeInvalid);
        }
        self.store
            .mark_verified(user.id, &lookup_key(&to), self.now())
            .await?;
        let user = self
            .store
            .user_by_id(user.id)
            .await?
            .ok_or(AuthError::CodeInvalid)?;
        let amr = vec!["otp".to_owned(), to.channel().to_owned()];
        self.finish_sign_in(
            super::kernel::sign_in::SignInPlace {
                org: &org,
                device: device.map(|d| d.id),
            },
            user,
            amr,
            passed,
            &input.second_factor,
            &input.client,
        )
        .await
    }

    /// The reset a submission names: by link token, or by code and address. With
    /// `consume`, the code is used up.
    async fn reset_target(
        &self,
        input: &CodeSubmission,
        consume: bool,
    ) -> Result<(User, Option<Address>), AuthError> {
        if let Some(token) = input.token.as_deref().filter(|t| !t.is_empty()) {
            self.rate_limit(&input.client, super::kernel::limits::Limit::Client)
                .await?;
            let stored = self
                .store
                .code_by_token(&hash_token(token))
                .await?
                .ok_or(AuthError::CodeInvalid)?;
            if stored.consumed
                || stored.purpose != Purpose::Reset.as_str()
                || stored.attempts >= self.config.code_max_attempts
            {
                return Err(AuthError::CodeInvalid);
            }
            if stored.expires_at <= self.now() {
                return Err(AuthError::CodeExpired);
            }
            let user = self
                .store
                .user_by_id(stored.user_id)
                .await?
                .ok_or(AuthError::CodeInvalid)?;
            if consume
                && !self
                    .store
                    .consume_code(stored.id, self.config.code_max_attempts, self.now())
                    .await?
            {
                return Err(AuthError::CodeInvalid);
            }
            // The link went to this address, so using it proves the address too.
            let to = Address::of_destination(&stored.destination);
            return Ok((user, to));
        }
        let (user, to, code) = self.submitted(input).await?;
        self.check_code(
            &user,
            Purpose::Reset,
            Some(&to),
            &code,
            consume,
            &input.client,
        )
        .await?;
        Ok((user, Some(to)))
    }

    /// `password/verify`: whether a reset code or link is good, without using it.
    #[instrument(skip_all)]
    pub async fn check_reset(&self, input: CodeSubmission) -> Result<(), AuthError> {
        self.reset_target(&input, false).await.map(|_| ())
    }

    /// `password/reset`: a new password by code or link; every session of the user ends.
    #[instrument(skip_all)]
    pub async fn reset_password(
        &self,
        input: CodeSubmission,
        new_password: &str,
    ) -> Result<(), AuthError> {
        if new_password.is_empty() {
            return Err(AuthError::invalid("new_password", "is required"));
        }
        // Check the password before using the code, so that a weak one does not burn it.
        let (user, _) = self.reset_target(&input, false).await?;
        let hash = self.replacement_hash(&user, new_password).await?;
        let (user, proven) = self.reset_target(&input, true).await?;
        let reset = self
            .event(AuditKind::PasswordReset, user.org_id, &input.client)
            .user(user.id)
            .actor(user.id);
        self.changed(
            reset,
            self.store.change_password(user.id, &hash, None, self.now()),
            |_| true,
        )
        .await?;
        // A reset proves the owner: it lifts a lockout too.
        self.clear_lock(user.id).await?;
        if let Some(to) = &proven {
            self.store
                .mark_verified(user.id, &lookup_key(to), self.now())
                .await?;
        }
        let user = self.store.user_by_id(user.id).await?.unwrap_or(user);
        self.send_notice(&user, "Your password was reset.").await;
        Ok(())
    }

    /// An admin sends a verification code to one of a user's addresses (`email` or `sms`;
    /// by default the email address, else the phone).
    #[instrument(skip_all, fields(user.id = %id))]
    pub async fn admin_send_verification(
        &self,
        admin: &OrgAdmin,
        id: UserId,
        channel: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let user = self.managed_user(admin, id).await?;
        let email = user
            .email
            .as_deref()
            .and_then(|e| Email::parse(e, "email").ok())
            .map(Address::Email);
        let phone = user
            .phone
            .as_deref()
            .and_then(|p| crate::identity::Phone::parse(p, "phone").ok())
            .map(Address::Phone);
        let to = match channel.map(str::trim).filter(|c| !c.is_empty()) {
            None => email.or(phone),
            Some("email") => email,
            Some("sms" | "phone") => phone,
            Some(_) => return Err(AuthError::invalid("channel", "must be email or sms")),
        }
        .ok_or_else(|| AuthError::invalid("channel", "the user has no such address"))?;
        self.send_code(
            &user,
            &to,
            Purpose::verify(&to),
            Window::ToClaim,
            client,
            Some(admin.actor().user.id),
        )
        .await
    }
}

/// A boxed future, for the background half of [`Services::answer_then`].
type BoxFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), crate::AuthError>> + Send>>;
