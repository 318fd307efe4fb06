//! Second factors: TOTP keys, recovery codes and trusted devices.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::UserId;
use crate::model::{MfaKey, TrustedDevice};

/// The second factors a user has enrolled.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Enrolled {
    /// An active TOTP key.
    pub totp: bool,
    /// At least one passkey.
    pub passkey: bool,
}

/// The storage of second factors: TOTP keys, recovery codes and trusted devices.
#[async_trait]
pub trait SecondFactorStore: Send + Sync + 'static {
    /// Stores a new, not yet active, second-factor key with its sealed secret.
    async fn insert_mfa_key(&self, key: &MfaKey, secret_sealed: &str) -> Result<(), StoreError>;
    /// Which second factors the user has: an active TOTP key, a passkey (one statement: it
    /// is asked at every sign-in).
    async fn second_factors(&self, user_id: UserId) -> Result<Enrolled, StoreError>;
    /// A user's second-factor keys with their sealed secrets.
    async fn mfa_keys(&self, user_id: UserId) -> Result<Vec<(MfaKey, String)>, StoreError>;
    /// Activates a pending key at TOTP step `step`, turns MFA on and replaces the recovery
    /// codes, in one transaction; false when there is no such pending key.
    async fn activate_mfa_key(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
        step: i64,
        recovery_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records the TOTP step a code was accepted for; false when that step (or a later one)
    /// was used already: a replay.
    async fn use_totp_step(&self, id: uuid::Uuid, step: i64) -> Result<bool, StoreError>;
    /// Deletes a key; when no active key is left, MFA goes off with the recovery codes and
    /// trusted devices. False when there was no such key.
    async fn delete_mfa_key(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// Every second factor off: keys, recovery codes, trusted devices.
    async fn disable_mfa(&self, user_id: UserId) -> Result<(), StoreError>;
    /// Replaces the recovery codes.
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        hashes: &[String],
    ) -> Result<(), StoreError>;
    /// Uses an unused recovery code, once.
    async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Trusts a device by the hash of its token.
    async fn insert_trusted_device(
        &self,
        device: &TrustedDevice,
        token_hash: &str,
    ) -> Result<(), StoreError>;
    /// Whether this token is a live trusted device of the user (and marks it used).
    async fn use_trusted_device(
        &self,
        user_id: UserId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// A user's trusted devices that have not expired.
    async fn list_trusted_devices(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<TrustedDevice>, StoreError>;
    /// Deletes one; false when it was not the user's.
    async fn delete_trusted_device(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
    ) -> Result<bool, StoreError>;
}
