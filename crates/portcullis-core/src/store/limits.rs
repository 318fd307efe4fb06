//! Failure counters, locks and rate-limit windows.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;

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

/// The storage of failure counters, locks and rate-limit windows.
#[async_trait]
pub trait LimitStore: Send + Sync + 'static {
    /// When the key is locked at `now`, the end of the lock.
    async fn locked_until(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Counts a failure atomically; when it reaches the threshold, locks and answers the end.
    async fn record_failure(
        &self,
        key: &str,
        rule: &LockoutRule,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Forgets the failures and locks of a key (a success, or a password reset).
    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;
    /// Counts a hit on `key` in the window starting at `window_start` (a new window starts
    /// over); answers the hits in this window, this one included.
    async fn hit(&self, key: &str, window_start: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Deletes counters of windows that started before `before`.
    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
