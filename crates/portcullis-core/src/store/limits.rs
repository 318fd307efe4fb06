//! Failure counters, locks and rate-limit windows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::Purpose;
use crate::error::StoreError;
use crate::ids::UserId;

/// How failures turn into locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRule {
    /// Failures (within `window`) that lock.
    pub threshold: u32,
    /// Failures older than this no longer count; locks older than a day are forgotten.
    pub window: chrono::Duration,
    /// The first lock's length; each further lock (within a day) doubles it...
    pub base: chrono::Duration,
    /// ...up to this.
    pub max: chrono::Duration,
}

/// What a failure counter and its lock belong to. Its text is what the store keys the
/// counter by, so it must not change between versions (a change lifts every lock in force).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockKey(String);

impl LockKey {
    /// An account.
    pub fn user(id: UserId) -> Self {
        Self(format!("user:{id}"))
    }

    /// One known device of an account, by the hash of its device cookie's nonce.
    pub fn device(nonce_hash: &str) -> Self {
        Self(format!("device:{nonce_hash}"))
    }

    /// An identifier that names no account, by a digest of it and its organization.
    pub fn unknown_identifier(digest: &str) -> Self {
        Self(format!("identifier:{digest}"))
    }

    /// The text the store keys it by.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a rate limit counts, within one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateKey<'a> {
    /// Requests from one client address.
    Client(&'a str),
    /// Requests naming one identifier, by its digest.
    Identifier(&'a str),
    /// Messages of one purpose to one address, by the address's digest.
    Message {
        /// The code purpose.
        purpose: Purpose,
        /// The digest of the address.
        to: &'a str,
    },
}

impl RateKey<'_> {
    /// The text the store keys the counter by.
    pub fn text(&self) -> String {
        match self {
            Self::Client(ip) => format!("ip:{ip}"),
            Self::Identifier(digest) => format!("identifier:{digest}"),
            Self::Message { purpose, to } => format!("message:{}:{to}", purpose.as_str()),
        }
    }
}

/// The storage of failure counters, locks and rate-limit windows.
#[async_trait]
pub trait LimitStore: Send + Sync + 'static {
    /// When the key is locked at `now`, the end of the lock.
    async fn locked_until(
        &self,
        key: &LockKey,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Counts a failure atomically; when it reaches the threshold, locks and answers the end.
    async fn record_failure(
        &self,
        key: &LockKey,
        rule: &LockoutRule,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Forgets the failures and locks of a key (a success, or a password reset).
    async fn clear_failures(&self, key: &LockKey) -> Result<(), StoreError>;
    /// Counts a hit on `key` in the window starting at `window_start` (a new window starts
    /// over); answers the hits in this window, this one included.
    async fn hit(&self, key: &RateKey<'_>, window_start: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Deletes counters of windows that started before `before`.
    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
