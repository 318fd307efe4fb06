//! One-time codes and links, stored hashed, and the addresses they verify.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{LookupKey, QueuedMessage};
use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::identity::Address;
use crate::ids::UserId;

/// A one-time code to store (only hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// Identifier; part of what the code hash covers.
    pub id: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// What it is for (`verify_email`, `login`, `reset`, ...).
    pub purpose: String,
    /// The address it was sent to.
    pub destination: String,
    /// Keyed hash of the code.
    pub code_hash: String,
    /// SHA-256 of the link token, for reset links.
    pub token_hash: Option<String>,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
}

/// A code to issue with the message that carries it, within the sending limits: at most
/// `daily_cap` messages of its purpose to its address since `cap_since`, and one an interval
/// (the interval's counter, `claim`, is claimed with it unless the request claimed it
/// already). The limits are checked in the transaction that issues the code.
#[derive(Debug, Clone)]
pub struct CodeIssue {
    /// The code.
    pub code: NewCode,
    /// The message carrying it.
    pub message: QueuedMessage,
    /// Where the day the cap counts starts.
    pub cap_since: DateTime<Utc>,
    /// Messages of the purpose to the address allowed a day.
    pub daily_cap: u64,
    /// The interval's counter to claim (its key, see `RateKey::text`, and the window's
    /// start), or `None` when the request claimed it already.
    pub claim: Option<(String, DateTime<Utc>)>,
    /// Whether earlier live codes of the user and purpose are retired (a new account has
    /// none).
    pub retire_earlier: bool,
    /// The event recorded with the code when it is issued.
    pub issued: AuditEvent,
    /// The event recorded instead when the daily cap holds it back.
    pub held_back: AuditEvent,
}

/// What became of a [`CodeIssue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// Stored and queued (its `issued` event recorded).
    Issued,
    /// Held back by the daily cap (its `held_back` event recorded).
    OverDailyCap,
    /// Held back: the interval's message to the address was claimed already.
    TooSoon,
}

impl CodeIssue {
    /// The event recorded for `outcome`, if any.
    pub fn event(&self, outcome: CodeOutcome) -> Option<&AuditEvent> {
        match outcome {
            CodeOutcome::Issued => Some(&self.issued),
            CodeOutcome::OverDailyCap => Some(&self.held_back),
            CodeOutcome::TooSoon => None,
        }
    }

    /// The outcome of the limits, given the messages counted today and the interval's
    /// hits after the claim (`None` when none was made).
    pub fn outcome(&self, today: u64, hits: Option<u64>) -> CodeOutcome {
        if today >= self.daily_cap {
            CodeOutcome::OverDailyCap
        } else if hits.is_some_and(|h| h > 1) {
            CodeOutcome::TooSoon
        } else {
            CodeOutcome::Issued
        }
    }
}

/// A stored code, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// Identifier.
    pub id: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// What it is for.
    pub purpose: String,
    /// The address it was sent to.
    pub destination: String,
    /// Keyed hash of the code.
    pub code_hash: String,
    /// Wrong tries so far.
    pub attempts: u32,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
    /// Already used or retired.
    pub consumed: bool,
}

/// The storage of one-time codes and links, stored hashed, and the addresses they verify.
#[async_trait]
pub trait CodeStore: Send + Sync + 'static {
    /// Issues a code and queues the message that carries it, within its limits, retiring
    /// earlier live codes of the same user and purpose (if it says so), with its event, in
    /// one transaction.
    async fn issue_code(&self, issue: &CodeIssue) -> Result<CodeOutcome, StoreError>;
    /// The newest code of a user for a purpose that is neither used nor retired.
    async fn live_code(
        &self,
        user_id: UserId,
        purpose: Purpose,
    ) -> Result<Option<StoredCode>, StoreError>;
    /// The newest live code of `purpose` sent to `destination`, whoever asked for it (a
    /// proposed new address, which is no one's yet).
    async fn live_code_to(
        &self,
        purpose: Purpose,
        destination: &str,
    ) -> Result<Option<StoredCode>, StoreError>;
    /// A live code by the hash of its link token.
    async fn code_by_token(&self, token_hash: &str) -> Result<Option<StoredCode>, StoreError>;
    /// Takes one try at a code before it is compared, atomically, so that however many
    /// checks race, at most `max_attempts` are compared: the tries now counted, or `None`
    /// when none was left.
    async fn take_code_try(
        &self,
        id: uuid::Uuid,
        max_attempts: u32,
    ) -> Result<Option<u32>, StoreError>;
    /// Gives back the try that a right code took (only wrong codes count).
    async fn return_code_try(&self, id: uuid::Uuid) -> Result<(), StoreError>;
    /// Uses a code, once: false when it was already used, retired, or out of tries.
    async fn consume_code(
        &self,
        id: uuid::Uuid,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Marks an address verified, if it is still the user's.
    async fn mark_verified(
        &self,
        user_id: UserId,
        key: &LookupKey,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// What a code is for; the stored purpose names are part of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Proof of an email address.
    VerifyEmail,
    /// Proof of a phone number.
    VerifyPhone,
    /// A sign-in without a password.
    Login,
    /// A password reset.
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
    /// The name stored with codes and messages.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::VerifyPhone => "verify_phone",
            Self::Login => "login",
            Self::Reset | Self::ResetByToken => "reset",
            Self::Mfa => "mfa",
            Self::ChangeAddress => "change_address",
        }
    }

    /// The purpose that verifies `address`.
    pub fn verify(address: &Address) -> Self {
        match address {
            Address::Email(_) => Self::VerifyEmail,
            Address::Phone(_) => Self::VerifyPhone,
        }
    }
}
