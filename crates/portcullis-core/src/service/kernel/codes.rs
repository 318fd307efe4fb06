//! One-time codes and notices: issuing a code to an address (within the sending limits), checking
//! one, and the security notices sent when an account changes.

use super::identifiers::lookup_key;
use super::messages::{render, Sender, Template};
use super::services::Services;
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::{ct_eq, hash_token, random_token};
use crate::error::AuthError;
use crate::identity::{Address, Email};
use crate::ids::UserId;
use crate::model::{Organization, User};
use crate::store::{CodeIssue, CodeOutcome, NewCode, Purpose, QueuedMessage, RateKey, StoredCode};
use sha2::{Digest, Sha256};

/// The purpose of security notices in the outbox (they are not rate-limited).
pub(crate) const NOTICE: &str = "notice";

/// The code as typed: digits only, so that `123 456` and `123-456` work.
pub(crate) fn code_digits(raw: Option<&str>) -> Result<String, AuthError> {
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

/// The addresses of an account not yet proven (each given with whether it is), email first,
/// that verification codes go to.
fn unproven(email: (Option<&str>, bool), phone: (Option<&str>, bool)) -> Vec<Address> {
    let email = email
        .0
        .filter(|_| !email.1)
        .and_then(|e| Email::parse(e, "email").ok())
        .map(Address::Email);
    let phone = phone
        .0
        .filter(|_| !phone.1)
        .and_then(|p| crate::identity::Phone::parse(p, "phone").ok())
        .map(Address::Phone);
    email.into_iter().chain(phone).collect()
}

/// The user's proven address that notices go to: email first, else phone.
pub(crate) fn notice_address(user: &User) -> Option<Address> {
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

/// Whether a message's interval is still to be claimed, or was claimed by the request
/// before it looked anything up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Window {
    /// Claimed already.
    Claimed,
    /// To be claimed when sending.
    ToClaim,
}

impl Services {
    pub(crate) fn code_hash(&self, id: uuid::Uuid, code: &str) -> String {
        let pepper = self.master.derive("code-hash");
        let mut h = Sha256::new();
        h.update(pepper.as_ref());
        h.update(id.as_bytes());
        h.update(code.as_bytes());
        hex::encode(h.finalize())
    }

    /// Six uniformly random digits.
    pub(crate) fn new_code(&self) -> String {
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

    pub(crate) fn sender<'a>(&'a self, org: &'a Organization) -> Sender<'a> {
        Sender {
            org_name: &org.name,
            issuer: &self.config.issuer,
            minutes: self.config.code_ttl.num_minutes(),
        }
    }

    pub(crate) fn queued(
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

    /// The interval of messages `now` falls in: its start, and the seconds until the next.
    fn message_window(&self) -> (chrono::DateTime<chrono::Utc>, u64) {
        let step = self.config.message_interval.num_seconds().max(1);
        let now = self.now().timestamp();
        let start = now.div_euclid(step) * step;
        let window = chrono::DateTime::from_timestamp(start, 0).unwrap_or_else(|| self.now());
        (
            window,
            u64::try_from(start + step - now).unwrap_or(1).max(1),
        )
    }

    /// Claims this interval's one message to `to` for `purpose`, atomically (a counter in
    /// the database), so that concurrent requests on any node cannot both pass the count.
    /// The counter is kept for every address asked about, with an account or without, so
    /// that a refusal tells nothing; a refusal says when the next interval starts.
    pub(crate) async fn claim_send(&self, to: &Address, purpose: Purpose) -> Result<(), AuthError> {
        let (window, retry_after_secs) = self.message_window();
        let to = crate::crypto::hash_token(to.as_str());
        let key = RateKey::Message { purpose, to: &to };
        if self.store.hit(&key, window).await? == 1 {
            return Ok(());
        }
        Err(AuthError::RateLimited { retry_after_secs })
    }

    /// A code for `purpose` to `to`, for `user` of `org`, with the message carrying it, its
    /// limits (one message an interval, claimed with it unless `window` says the request
    /// claimed it already; at most the daily cap) and the events that report it; `by` is
    /// where the request came from and who acted, if not the user.
    pub(crate) fn code_issue(
        &self,
        org: &Organization,
        user: UserId,
        to: &Address,
        purpose: Purpose,
        window: Window,
        by: (&ClientInfo, Option<UserId>),
    ) -> Result<CodeIssue, AuthError> {
        let (client, actor) = by;
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
        let message = self.queued(org, purpose.as_str(), to, template)?;
        let now = self.now();
        let event = |kind| {
            self.event(kind, org.id, client)
                .user(user)
                .detail("purpose", purpose.as_str())
        };
        let mut issued = event(AuditKind::CodeSent).detail("channel", to.channel());
        if let Some(actor) = actor {
            issued = issued.actor(actor);
        }
        let (window_start, _) = self.message_window();
        Ok(CodeIssue {
            code: NewCode {
                id,
                user_id: user,
                purpose: purpose.as_str().to_owned(),
                destination: to.as_str().to_owned(),
                code_hash: self.code_hash(id, &code),
                token_hash: token.as_ref().map(|t| hash_token(t)),
                created_at: now,
                expires_at: now + self.config.code_ttl,
            },
            message,
            cap_since: now - chrono::Duration::days(1),
            daily_cap: self.config.message_daily_cap,
            claim: (window == Window::ToClaim).then(|| {
                let to = hash_token(to.as_str());
                (RateKey::Message { purpose, to: &to }.text(), window_start)
            }),
            retire_earlier: true,
            issued,
            held_back: event(AuditKind::MessageSuppressed).detail("reason", "daily_cap"),
        })
    }

    /// What follows a code's issue, whatever it came to: its event counted and reported,
    /// the courier woken; too soon after the last message to the address is `rate_limited`.
    pub(crate) fn issued(&self, issue: &CodeIssue, outcome: CodeOutcome) -> Result<(), AuthError> {
        if let Some(event) = issue.event(outcome) {
            self.note_event(event);
            self.webhook_wake.notify_one();
        }
        match outcome {
            CodeOutcome::Issued => {
                self.wake.notify_one();
                Ok(())
            }
            CodeOutcome::OverDailyCap => Ok(()),
            CodeOutcome::TooSoon => Err(AuthError::RateLimited {
                retry_after_secs: self.message_window().1,
            }),
        }
    }

    /// Issues a code for `purpose` to `to` and queues the message carrying it, unless the
    /// recipient has had one too recently (`rate_limited`) or reached the daily cap (past
    /// it, audited and otherwise silent).
    pub(crate) async fn send_code(
        &self,
        user: &User,
        to: &Address,
        purpose: Purpose,
        window: Window,
        client: &ClientInfo,
        actor: Option<UserId>,
    ) -> Result<(), AuthError> {
        let org = self.org(Some(&user.org_slug)).await?;
        let issue = self.code_issue(&org, user.id, to, purpose, window, (client, actor))?;
        let outcome = self.store.issue_code(&issue).await?;
        self.issued(&issue, outcome)
    }

    /// The codes that prove a new account's addresses (those not proven already), for
    /// [`crate::store::UserStore::create_user`].
    pub(crate) fn verification_issues(
        &self,
        org: &Organization,
        user: &crate::store::NewUser,
        by: (&ClientInfo, Option<UserId>),
    ) -> Result<Vec<CodeIssue>, AuthError> {
        let p = &user.profile;
        unproven(
            (p.email.as_deref(), p.email_verified),
            (p.phone.as_deref(), p.phone_verified),
        )
        .into_iter()
        .map(|to| {
            let mut issue =
                self.code_issue(org, user.id, &to, Purpose::verify(&to), Window::ToClaim, by)?;
            issue.retire_earlier = false;
            Ok(issue)
        })
        .collect()
    }

    /// Queues a security notice to the user's proven address, if any.
    pub(crate) async fn send_notice(&self, user: &User, what: &str) {
        if let Some(to) = notice_address(user) {
            self.send_notice_to(user, &to, what).await;
        }
    }

    /// Queues a security notice about `user` to `to`, proven or not.
    pub(crate) async fn send_notice_to(&self, user: &User, to: &Address, what: &str) {
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
    pub(crate) async fn send_verifications(
        &self,
        user: &User,
        client: &ClientInfo,
        actor: Option<UserId>,
    ) {
        for to in unproven(
            (user.email.as_deref(), user.email_verified),
            (user.phone.as_deref(), user.phone_verified),
        ) {
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
    pub(crate) async fn announce_profile_change(
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
    pub(crate) async fn check_code(
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
            .live_code(user.id, purpose)
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

    /// In an organization that conceals accounts, a new email or phone for an account is
    /// only proposed: the answer is the same whether the address is free or taken, the free
    /// one gets a code ([`Purpose::ChangeAddress`]) and the taken one a notice, and nothing
    /// changes until the code comes back to [`Services::verify_address`].
    pub(crate) async fn propose_address(
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
}

impl Services {
    pub(crate) async fn find_user(
        &self,
        org: &Organization,
        to: &Address,
    ) -> Result<Option<User>, AuthError> {
        Ok(self
            .store
            .credentials(org.id, &lookup_key(to))
            .await?
            .map(|c| c.user))
    }
}
