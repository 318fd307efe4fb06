//! Application tokens, licenses and the devices registered with them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::{OrgId, UserId};
use crate::model::{AppToken, Device, License};

/// What registering a device with a license key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Registered; the license's count went up by one.
    Registered(Device),
    /// No license has this key.
    UnknownLicense,
    /// The license has expired.
    Expired,
    /// The license has all the devices it allows.
    Full,
}

/// The storage of application tokens, licenses and the devices registered with them.
#[async_trait]
pub trait DeviceStore: Send + Sync + 'static {
    /// Stores an application token by the hash of its secret.
    async fn insert_app_token(&self, token: &AppToken, token_hash: &str) -> Result<(), StoreError>;
    /// A user's application tokens, newest first.
    async fn list_app_tokens(&self, user_id: UserId) -> Result<Vec<AppToken>, StoreError>;
    /// Deletes one, with the sessions made from it; false when it was not the user's.
    async fn delete_app_token(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// An application token by the hash of its secret, marking it used at `now`.
    async fn use_app_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AppToken>, StoreError>;
    /// Stores a license by the hash of its key.
    async fn insert_license(&self, license: &License, key_hash: &str) -> Result<(), StoreError>;
    /// An organization's licenses, newest first.
    async fn list_licenses(&self, org_id: OrgId) -> Result<Vec<License>, StoreError>;
    /// Deletes a license with its devices and their sessions; false when not the org's.
    async fn delete_license(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// Registers a device under the license with this key hash, atomically within its limit.
    /// The events attached to it (`with_events`) are recorded in its transaction, given the
    /// license's organization and a `license_id` detail.
    async fn register_device(
        &self,
        key_hash: &str,
        device: &Device,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Registration, StoreError>;
    /// A device by the hash of its token, with its license's expiry, marking it seen at `now`.
    async fn use_device(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Device, Option<DateTime<Utc>>)>, StoreError>;
    /// Replaces a device's token (by the hash of the old one); false when there is no such
    /// device.
    async fn rotate_device_token(&self, old_hash: &str, new_hash: &str)
        -> Result<bool, StoreError>;
    /// An organization's devices, newest first.
    async fn list_devices(&self, org_id: OrgId) -> Result<Vec<Device>, StoreError>;
    /// Deletes a device and its sessions, freeing its license slot; false when not the org's.
    async fn delete_device(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError>;
}
