//! One-time codes by email and SMS: proving an address, signing in without a password,
//! and recovering a forgotten password. Codes are 6 digits from the OS RNG, stored only as
//! a keyed hash, single-use, short-lived, and die after a few wrong tries. Requests that
//! could reveal whether an account exists answer before doing any work.

use std::sync::Arc;

use sha2::{Digest, Sha256};
use tracing::instrument;

use super::admin::OrgAdmin;
use super::messages::{render, Sender, Template};
use super::{Services, Tokens};
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::{ct_eq, hash_token, random_token};
use crate::error::AuthError;
use crate::identity::{Address, Email};
use crate::ids::UserId;
use crate::model::{Organization, User};
use crate::store::{LookupKey, NewCode, QueuedMessage, StoredCode};

/// What a code is for; the stored purpose names are part of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    VerifyEmail,
    VerifyPhone,
    Login,
    Reset,
    /// A reset whose message shows the link's token as its one code, for dialects whose
    /// code routes take the code alone, with no address (DhiWise's `validate-otp` and
    /// `reset-password`): a 6-digit code would be guessable across all accounts at once,
    /// the 256-bit token is not. Stored and limited as `Reset`.
    ResetByToken,
    /// A one-time code as the second factor of a password sign-in.
    Mfa,
    /// Proof of a new address proposed for an account in an organization that conceals
    /// accounts: the address becomes the account's only when this code comes back.
    ChangeAddress,
}

impl Purpose {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::VerifyPhone => "verify_phone",
            Self::Login => "login",
            Self::Reset | Self::ResetByToken => "reset",
            Self::Mfa => "mfa",
            Self::ChangeAddress => "change_address",
        }
    }

    fn verify(address: &Address) -> Self {
        match address {
            Address::Email(_) => Self::VerifyEmail,
            Address::Phone(_) => Self::VerifyPhone,
        }
    }
}

/// The purpose of security notices in the outbox (they are not rate-limited).
const NOTICE: &str = "notice";

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

pub(super) fn lookup_key(address: &Address) -> LookupKey {
    match address {
        Address::Email(e) => LookupKey::Email(e.as_str().to_owned()),
        Address::Phone(p) => LookupKey::Phone(p.as_str().to_owned()),
    }
}

/// The code as typed: digits only, so that `123 456` and `123-456` work.
pub(super) fn code_digits(raw: Option<&str>) -> Result<String, AuthError> {
    let raw = raw
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| AuthError::invalid("code", "is required"))?;
    let digits: String = raw.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
    if digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit()) {
        Ok(digits)
    } else {
        Err(AuthError::CodeInvalid)
    }
}

/// The user's proven address that notices go to: email first, else phone.
pub(super) fn notice_address(user: &User) -> Option<Address> {
    let email = user
        .email
        .as_deref()
        .filter(|_| user.email_verified)
        .and_then(|e| Email::parse(e, "email").ok());
    let phone = user
        .phone
        .as_deref()
        .filter(|_| user.phone_verified)
        .and_then(|p| crate::identity::Phone::parse(p, "phone").ok());
    email.map(Address::Email).or(phone.map(Address::Phone))
}

impl Services {
    fn code_hash(&self, id: uuid::Uuid, code: &str) -> String {
        let pepper = self.master.derive("code-hash");
        let mut h = Sha256::new();
        h.update(pepper.as_ref());
        h.update(id.as_bytes());
        h.update(code.as_bytes());
        hex::encode(h.finalize())
    }

    /// Six uniformly random digits.
    fn new_code(&self) -> String {
        loop {
            let mut b = [0u8; 4];
            self.rng.fill(&mut b);
            let n = u32::from_le_bytes(b);
            // Rejection sampling: 4_000_000_000 is a multiple of 1_000_000, so no digit is favoured.
            if n < 4_000_000_000 {
                return format!("{:06}", n % 1_000_000);
            }
        }
    }

    fn sender<'a>(&'a self, org: &'a Organization) -> Sender<'a> {
        Sender {
            org_name: &org.name,
            issuer: &self.config.issuer,
            minutes: self.config.code_ttl.num_minutes(),
        }
    }

    fn queued(
        &self,
        org: &Organization,
        purpose: &str,
        to: &Address,
        template: Template<'_>,
    ) -> Result<QueuedMessage, AuthError> {
        let message = render(to, self.sender(org), template);
        let json = serde_json::to_vec(&message).map_err(|e| AuthError::Internal(e.to_string()))?;
        Ok(QueuedMessage {
            id: uuid::Uuid::now_v7(),
            org_id: Some(org.id),
            purpose: purpose.to_owned(),
            recipient: to.as_str().to_owned(),
            payload: self.master.seal(self.rng.as_ref(), &json),
            created_at: self.now(),
            attempts: 0,
        })
    }

    /// Claims this interval's one message to `to` for `purpose`, atomically (a counter in
    /// the database), so that concurrent requests on any node cannot both pass the count.
    /// The counter is kept for every address asked about, with an account or without, so
    /// that a refusal tells nothing; a refusal says when the next interval starts.
    async fn claim_send(&self, to: &Address, purpose: Purpose) -> Result<(), AuthError> {
        let step = self.config.message_interval.num_seconds().max(1);
        let now = self.now().timestamp();
        let start = now.div_euclid(step) * step;
        let window = chrono::DateTime::from_timestamp(start, 0).unwrap_or_else(|| self.now());
        let key = format!(
            "message:{}:{}",
            purpose.as_str(),
            crate::crypto::hash_token(to.as_str())
        );
        if self.store.hit(&key, window).await? == 1 {
            return Ok(());
        }
        Err(AuthError::RateLimited {
            retry_after_secs: u64::try_from(start + step - now).unwrap_or(1).max(1),
        })
    }

    /// Whether the recipient may get another message of this purpose now: one an interval
    /// (claimed here unless `window` says the request claimed it already; a second one is
    /// `rate_limited`), and at most the daily cap (past it, audited and otherwise silent).
    async fn may_send(
        &self,
        user: &User,
        to: &Address,
        purpose: Purpose,
        window: Window,
        client: &ClientInfo,
    ) -> Result<bool, AuthError> {
        let now = self.now();
        let today = self
            .store
            .messages_since(
                to.as_str(),
                purpose.as_str(),
                now - chrono::Duration::days(1),
            )
            .await?;
        if today >= self.config.message_daily_cap {
            self.audit(
                self.event(AuditKind::MessageSuppressed, user.org_id, client)
                    .user(user.id)
                    .detail("purpose", purpose.as_str())
                    .detail("reason", "daily_cap"),
            )
            .await;
            return Ok(false);
        }
        if window == Window::ToClaim {
            self.claim_send(to, purpose).await?;
        }
        Ok(true)
    }

    /// Issues a code for `purpose` to `to` and queues the message carrying it, unless the
    /// recipient has had one too recently.
    pub(super) async fn send_code(
        &self,
        user: &User,
        to: &Address,
        purpose: Purpose,
        window: Window,
        client: &ClientInfo,
        actor: Option<UserId>,
    ) -> Result<(), AuthError> {
        if !self.may_send(user, to, purpose, window, client).await? {
            return Ok(());
        }
        let org = self.org(Some(&user.org_slug)).await?;
        let id = uuid::Uuid::now_v7();
        let code = zeroize::Zeroizing::new(self.new_code());
        let token = matches!(purpose, Purpose::Reset | Purpose::ResetByToken)
            .then(|| zeroize::Zeroizing::new(random_token(self.rng.as_ref())));
        let link = token
            .as_ref()
            .map(|t| format!("{}?token={}", self.config.reset_link_url, t.as_str()));
        let template = match (purpose, &link, &token) {
            (Purpose::ResetByToken, Some(link), Some(token)) => Template::Reset {
                code: token.as_str(),
                link,
            },
            (Purpose::Reset, Some(link), _) => Template::Reset { code: &code, link },
            (Purpose::Login | Purpose::Mfa, _, _) => Template::Login { code: &code },
            _ => Template::Verify { code: &code },
        };
        let message = self.queued(&org, purpose.as_str(), to, template)?;
        let now = self.now();
        let new = NewCode {
            id,
            user_id: user.id,
            purpose: purpose.as_str().to_owned(),
            destination: to.as_str().to_owned(),
            code_hash: self.code_hash(id, &code),
            token_hash: token.as_ref().map(|t| hash_token(t)),
            created_at: now,
            expires_at: now + self.config.code_ttl,
        };
        self.store.issue_code(&new, &message).await?;
        self.wake.notify_one();
        let mut event = self
            .event(AuditKind::CodeSent, user.org_id, client)
            .user(user.id)
            .detail("purpose", purpose.as_str())
            .detail("channel", to.channel());
        if let Some(actor) = actor {
            event = event.actor(actor);
        }
        self.audit(event).await;
        Ok(())
    }

    /// Queues a security notice to the user's proven address, if any.
    pub(super) async fn send_notice(&self, user: &User, what: &str) {
        if let Some(to) = notice_address(user) {
            self.send_notice_to(user, &to, what).await;
        }
    }

    /// Queues a security notice about `user` to `to`, proven or not.
    pub(super) async fn send_notice_to(&self, user: &User, to: &Address, what: &str) {
        let result = async {
            let org = self.org(Some(&user.org_slug)).await?;
            let message = self.queued(&org, NOTICE, to, Template::Notice { what })?;
            self.store.enqueue(&message).await?;
            self.wake.notify_one();
            Ok::<_, AuthError>(())
        }
        .await;
        if let Err(e) = result {
            tracing::warn!(user.id = %user.id, error = %e, "could not queue a security notice");
        }
    }

    /// Sends a verification code to each address of the user not yet proven. A failure is
    /// logged, not returned: the account change itself succeeded and the user can ask again.
    pub(super) async fn send_verifications(
        &self,
        user: &User,
        client: &ClientInfo,
        actor: Option<UserId>,
    ) {
        let email = user
            .email
            .as_deref()
            .filter(|_| !user.email_verified)
            .and_then(|e| Email::parse(e, "email").ok());
        let phone = user
            .phone
            .as_deref()
            .filter(|_| !user.phone_verified)
            .and_then(|p| crate::identity::Phone::parse(p, "phone").ok());
        for to in email
            .map(Address::Email)
            .into_iter()
            .chain(phone.map(Address::Phone))
        {
            if let Err(e) = self
                .send_code(
                    user,
                    &to,
                    Purpose::verify(&to),
                    Window::ToClaim,
                    client,
                    actor,
                )
                .await
            {
                tracing::warn!(user.id = %user.id, error = %e, "could not queue a verification code");
            }
        }
    }

    /// After a profile change: a code to each new address, and a notice to the old proven
    /// address that it was replaced.
    pub(super) async fn announce_profile_change(
        &self,
        old: &User,
        new: &User,
        client: &ClientInfo,
        actor: UserId,
    ) {
        let email_changed = old.email != new.email;
        let phone_changed = old.phone != new.phone;
        if email_changed || phone_changed {
            self.send_verifications(new, client, Some(actor)).await;
        }
        if email_changed {
            self.send_notice(old, "The email address of your account was changed.")
                .await;
        } else if phone_changed {
            self.send_notice(old, "The phone number of your account was changed.")
                .await;
        }
    }

    /// Checks a code against the user's live code of `purpose` sent to `to`. A wrong code
    /// counts a try; `consume` uses the code up (once, atomically).
    pub(super) async fn check_code(
        &self,
        user: &User,
        purpose: Purpose,
        to: Option<&Address>,
        code: &str,
        consume: bool,
        client: &ClientInfo,
    ) -> Result<StoredCode, AuthError> {
        let stored = self
            .store
            .live_code(user.id, purpose.as_str())
            .await?
            .ok_or(AuthError::CodeInvalid)?;
        if stored.attempts >= self.config.code_max_attempts {
            return Err(AuthError::CodeInvalid);
        }
        if stored.expires_at <= self.now() {
            return Err(AuthError::CodeExpired);
        }
        // A try is taken before the comparison, in the database, so that no burst of
        // parallel guesses gets more comparisons than the limit allows; a right code gives
        // its try back.
        let Some(tries) = self
            .store
            .take_code_try(stored.id, self.config.code_max_attempts)
            .await?
        else {
            return Err(AuthError::CodeInvalid);
        };
        let matches = ct_eq(
            self.code_hash(stored.id, code).as_bytes(),
            stored.code_hash.as_bytes(),
        );
        let right_place =
            to.is_none_or(|to| ct_eq(stored.destination.as_bytes(), to.as_str().as_bytes()));
        if !(matches && right_place) {
            self.audit(
                self.event(AuditKind::CodeFailed, user.org_id, client)
                    .user(user.id)
                    .detail("purpose", purpose.as_str())
                    .detail("attempts", tries),
            )
            .await;
            return Err(AuthError::CodeInvalid);
        }
        self.store.return_code_try(stored.id).await?;
        if consume
            && !self
                .store
                .consume_code(stored.id, self.config.code_max_attempts, self.now())
                .await?
        {
            return Err(AuthError::CodeInvalid);
        }
        Ok(stored)
    }

    async fn find_user(&self, org: &Organization, to: &Address) -> Result<Option<User>, AuthError> {
        Ok(self
            .store
            .credentials(org.id, &lookup_key(to))
            .await?
            .map(|c| c.user))
    }

    /// Parses the request, then answers at once and does the rest in the background, so
    /// that neither the answer nor its timing tells whether the address has an account.
    /// The address's one message of the interval is claimed here, before anything is
    /// looked up, so that a second request within it answers `rate_limited` whether or not
    /// the address has an account (and the background work sends in the claimed window).
    async fn answer_then(
        self: &Arc<Self>,
        input: CodeRequest,
        purpose: fn(&Address) -> Purpose,
        work: fn(Arc<Self>, Organization, Address, Purpose, ClientInfo) -> futures_like::BoxFuture,
    ) -> Result<(), AuthError> {
        let to = Address::parse(input.email.as_deref(), input.phone.as_deref())
            .map_err(|e| AuthError::Validation(vec![e]))?;
        self.rate_limit(&input.client, super::lockout::Limit::ClientAnd(to.as_str()))
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
    ) -> futures_like::BoxFuture {
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
        self.rate_limit(&input.client, super::lockout::Limit::ClientAnd(to.as_str()))
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
        self.rate_limit(&input.client, super::lockout::Limit::ClientAnd(to.as_str()))
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
        self.store
            .mark_verified(user.id, &lookup_key(&to), self.now())
            .await?;
        self.audit(
            self.event(AuditKind::AddressVerified, user.org_id, &input.client)
                .user(user.id)
                .actor(user.id)
                .detail("channel", to.channel()),
        )
        .await;
        Ok(())
    }

    /// In an organization that conceals accounts, a new email or phone for an account is
    /// only proposed: the answer is the same whether the address is free or taken, the free
    /// one gets a code ([`Purpose::ChangeAddress`]) and the taken one a notice, and nothing
    /// changes until the code comes back to [`Services::verify_address`].
    pub(super) async fn propose_address(
        &self,
        user: &User,
        to: &Address,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.claim_send(to, Purpose::ChangeAddress).await?;
        let org = self.org(Some(&user.org_slug)).await?;
        match self.find_user(&org, to).await? {
            Some(owner) if owner.id != user.id => {
                self.send_notice_to(
                    &owner,
                    to,
                    "Someone asked to add this address to another account. Nothing was changed, and nothing needs doing.",
                )
                .await;
                Ok(())
            }
            Some(_) => Ok(()),
            None => {
                self.send_code(
                    user,
                    to,
                    Purpose::ChangeAddress,
                    Window::Claimed,
                    client,
                    Some(user.id),
                )
                .await
            }
        }
    }

    /// A proposed address proven by its code: it becomes the account's, verified.
    async fn confirm_new_address(&self, input: &CodeSubmission) -> Result<(), AuthError> {
        let to = Address::parse(input.email.as_deref(), input.phone.as_deref())
            .map_err(|e| AuthError::Validation(vec![e]))?;
        let code = code_digits(input.code.as_deref())?;
        let stored = self
            .store
            .live_code_to(Purpose::ChangeAddress.as_str(), to.as_str())
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
        let updated = match self.store.update_profile(user.id, &next, self.now()).await {
            Ok(Some(u)) => u,
            Ok(None) | Err(crate::store::StoreError::Conflict { .. }) => {
                return Err(AuthError::CodeInvalid)
            }
            Err(e) => return Err(e.into()),
        };
        self.audit(
            self.event(AuditKind::AddressVerified, user.org_id, &input.client)
                .user(user.id)
                .actor(user.id)
                .detail("channel", to.channel())
                .detail("change", "new_address"),
        )
        .await;
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
            super::auth::SignInPlace {
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
            self.rate_limit(&input.client, super::lockout::Limit::Client)
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
        self.store
            .change_password(user.id, &hash, None, self.now())
            .await?;
        // A reset proves the owner: it lifts a lockout too.
        self.clear_lock(user.id).await?;
        if let Some(to) = &proven {
            self.store
                .mark_verified(user.id, &lookup_key(to), self.now())
                .await?;
        }
        self.audit(
            self.event(AuditKind::PasswordReset, user.org_id, &input.client)
                .user(user.id)
                .actor(user.id),
        )
        .await;
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

/// Whether a message's interval is still to be claimed, or was claimed by the request
/// before it looked anything up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Window {
    /// Claimed already.
    Claimed,
    /// To be claimed when sending.
    ToClaim,
}

/// A boxed future, for the background half of [`Services::answer_then`].
mod futures_like {
    pub(super) type BoxFuture =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), crate::AuthError>> + Send>>;
}
