//! Lockout: failed sign-ins (wrong password, wrong second factor, wrong security answers)
//! lock an account for a while, longer each time, by the organization's policy. The lock
//! ends by itself and a password reset lifts it, so an attacker cannot lock a user out for
//! long. Identifiers without an account are counted and locked the same way, so a lock
//! tells nothing about who exists. The counters live in the store, shared by every node.

use chrono::Duration;

use super::identifiers::rate_digest;
use super::services::Services;
use crate::audit::{AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::ids::{OrgId, UserId};
use crate::model::OrgPolicy;
use crate::store::{LockKey, LockoutRule, RateKey};

pub(crate) fn rule(policy: &OrgPolicy) -> LockoutRule {
    LockoutRule {
        threshold: policy.lockout_threshold,
        window: Duration::minutes(15),
        base: Duration::seconds(policy.lockout_base_secs),
        max: Duration::seconds(policy.lockout_max_secs),
    }
}

impl Services {
    /// Refuses while the key is locked.
    pub(crate) async fn check_lock(&self, key: &LockKey) -> Result<(), AuthError> {
        if !self.config.abuse_limits {
            return Ok(());
        }
        match self.store.locked_until(key, self.now()).await? {
            Some(until) => {
                let secs = (until - self.now()).num_seconds().max(1);
                Err(AuthError::Locked {
                    retry_after_secs: u64::try_from(secs).unwrap_or(1),
                })
            }
            None => Ok(()),
        }
    }

    /// Counts a failure; audits the lock it causes, if any.
    pub(crate) async fn count_failure(
        &self,
        key: &LockKey,
        policy: &OrgPolicy,
        org: OrgId,
        user: Option<UserId>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        // With limits off nothing is counted, so nothing needs clearing either.
        if !self.config.abuse_limits {
            return Ok(());
        }
        if let Some(until) = self
            .store
            .record_failure(key, &rule(policy), self.now())
            .await?
        {
            let mut event = self
                .event(AuditKind::AccountLocked, org, client)
                .detail("until", until.to_rfc3339());
            if let Some(id) = user {
                event = event.user(id);
            }
            self.audit(event).await;
            metrics::counter!("portcullis_lockouts_total").increment(1);
        }
        Ok(())
    }

    /// Forgets the failures of an account (a full sign-in, or a password reset).
    pub(crate) async fn clear_lock(&self, user: UserId) -> Result<(), AuthError> {
        if !self.config.abuse_limits {
            return Ok(());
        }
        Ok(self.store.clear_failures(&LockKey::user(user)).await?)
    }
}

/// What a rate limit counts: the client address, and the account identifier when known.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Limit<'a> {
    /// The client address only.
    Client,
    /// The client address and this identifier as typed (counted by its lookup key, see
    /// [`rate_digest`]).
    ClientAnd(&'a str),
}

impl Services {
    /// Counts a credential- or code-checking request against the client's budget, and the
    /// identifier's; past either, `rate_limited` until the minute is over.
    pub(crate) async fn rate_limit(
        &self,
        client: &ClientInfo,
        what: Limit<'_>,
    ) -> Result<(), AuthError> {
        if !self.config.abuse_limits {
            return Ok(());
        }
        let now = self.now();
        let minute = now.timestamp().div_euclid(60) * 60;
        let window = chrono::DateTime::from_timestamp(minute, 0).unwrap_or(now);
        let retry = u64::try_from(minute + 60 - now.timestamp())
            .unwrap_or(60)
            .max(1);
        if let Some(ip) = &client.ip {
            if self.store.hit(&RateKey::Client(ip), window).await? > self.config.rate_per_ip {
                metrics::counter!("portcullis_rate_limited_total", "by" => "ip").increment(1);
                return Err(AuthError::RateLimited {
                    retry_after_secs: retry,
                });
            }
        }
        if let Limit::ClientAnd(identifier) = what {
            if self
                .store
                .hit(&RateKey::Identifier(&rate_digest(identifier)), window)
                .await?
                > self.config.rate_per_identifier
            {
                metrics::counter!("portcullis_rate_limited_total", "by" => "identifier")
                    .increment(1);
                return Err(AuthError::RateLimited {
                    retry_after_secs: retry,
                });
            }
        }
        Ok(())
    }

    /// Deletes audit events past the retention time (housekeeping); answers how many.
    pub async fn purge_audit(&self) -> Result<u64, AuthError> {
        Ok(self
            .store
            .purge_audit(self.now() - self.config.audit_retention)
            .await?)
    }

    /// Deletes finished webhook deliveries older than 30 days (housekeeping).
    pub async fn purge_deliveries(&self) -> Result<u64, AuthError> {
        Ok(self
            .store
            .purge_deliveries(self.now() - Duration::days(30))
            .await?)
    }

    /// Deletes rate-limit counters older than an hour (housekeeping).
    pub async fn purge_rate_limits(&self) -> Result<u64, AuthError> {
        Ok(self
            .store
            .purge_rate_limits(self.now() - Duration::hours(1))
            .await?)
    }
}
