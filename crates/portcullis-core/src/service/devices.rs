//! Licenses and devices: an admin makes a license (its key shown once); a device registers
//! with the key and gets a device token naming its organization; users then sign in through
//! the device, and their sessions end with it. Where an organization requires it, sign-in
//! without a device token is refused.

use chrono::{DateTime, Utc};
use tracing::instrument;

use super::kernel::authz::OrgAdmin;
use super::kernel::sign_in::DEVICE_PREFIX;
use super::Services;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::crypto::{ct_eq, hash_token, random_token};
use crate::error::AuthError;
use crate::model::{Device, License, Organization};
use crate::store::Registration;

/// The start of every license key.
pub const LICENSE_PREFIX: &str = "pcl_";
/// The start of every device refresh token.
pub const DEVICE_REFRESH_PREFIX: &str = "pcdr_";

/// A device registration, as received.
#[derive(Debug, Default, Clone)]
pub struct DeviceInput {
    /// The license key.
    pub license_key: String,
    /// Display name.
    pub name: String,
    /// Kind, free text.
    pub device_type: Option<String>,
    /// The application's own identifier for it.
    pub identifier: Option<String>,
    /// Where the request came from.
    pub client: ClientInfo,
}

fn text(raw: Option<&str>, field: &str, required: bool) -> Result<Option<String>, AuthError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None if required => Err(AuthError::invalid(field, "is required")),
        None => Ok(None),
        Some(s) if s.chars().count() > 200 || s.chars().any(char::is_control) => {
            Err(AuthError::invalid(field, "must be at most 200 characters"))
        }
        Some(s) => Ok(Some(s.to_owned())),
    }
}

impl Services {
    /// Makes a license in an organization within the admin's reach; answers it and its key.
    #[instrument(skip_all)]
    pub async fn create_license(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        max_devices: Option<u32>,
        expires_at: Option<DateTime<Utc>>,
        client: &ClientInfo,
    ) -> Result<(License, String), AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        if max_devices == Some(0) {
            return Err(AuthError::invalid(
                "max_devices",
                "must be at least 1 (or absent for no limit)",
            ));
        }
        let now = self.now();
        if expires_at.is_some_and(|at| at <= now) {
            return Err(AuthError::invalid("expires_at", "must be in the future"));
        }
        let key = format!("{LICENSE_PREFIX}{}", random_token(self.rng.as_ref()));
        let license = License {
            id: uuid::Uuid::now_v7(),
            org_id: org.id,
            prefix: key.chars().take(LICENSE_PREFIX.len() + 6).collect(),
            max_devices,
            device_count: 0,
            created_at: now,
            expires_at,
        };
        self.changed(
            self.event(AuditKind::LicenseCreated, org.id, client)
                .actor(admin.actor().user.id)
                .detail("license_id", license.id.to_string()),
            self.store.insert_license(&license, &hash_token(&key)),
            |_| true,
        )
        .await?;
        Ok((license, key))
    }

    /// An organization's licenses.
    pub async fn list_licenses(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
    ) -> Result<Vec<License>, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        Ok(self.store.list_licenses(org.id).await?)
    }

    /// Revokes a license: its devices, their tokens and sessions go with it.
    #[instrument(skip_all)]
    pub async fn revoke_license(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let done = self
            .changed(
                self.event(AuditKind::LicenseRevoked, org.id, client)
                    .actor(admin.actor().user.id)
                    .detail("license_id", id.to_string()),
                self.store.delete_license(org.id, id),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }

    /// Registers a device with a license key; answers the device, its token (shown once) and
    /// its organization.
    #[instrument(skip_all)]
    pub async fn register_device(
        &self,
        input: DeviceInput,
    ) -> Result<(Device, String, Organization), AuthError> {
        self.rate_limit(&input.client, super::kernel::limits::Limit::Client)
            .await?;
        let name = text(Some(&input.name), "name", true)?.unwrap_or_default();
        let device_type = text(input.device_type.as_deref(), "device_type", false)?;
        let identifier = text(input.identifier.as_deref(), "identifier", false)?;
        let key = input.license_key.trim();
        if !key.starts_with(LICENSE_PREFIX) || key.len() > 128 {
            return Err(AuthError::invalid("license_key", "is not a license key"));
        }
        let token = format!("{DEVICE_PREFIX}{}", random_token(self.rng.as_ref()));
        let now = self.now();
        // The organization and license are filled in by the store from the key.
        let device = Device {
            id: uuid::Uuid::now_v7(),
            org_id: crate::ids::OrgId(uuid::Uuid::nil()),
            license_id: uuid::Uuid::nil(),
            name,
            device_type,
            identifier,
            created_at: now,
            last_seen_at: None,
        };
        // The store gives the event the license's organization as it takes a slot.
        let event = AuditEvent::new(AuditKind::DeviceRegistered, None, now, &input.client)
            .detail("device_id", device.id.to_string());
        let (key_hash, token_hash) = (hash_token(key), hash_token(&token));
        let registration = self
            .store
            .register_device(&key_hash, &device, &token_hash, now);
        let registered = |r: &Registration| matches!(r, Registration::Registered(_));
        let device = match self.changed(event, registration, registered).await? {
            Registration::Registered(d) => d,
            Registration::UnknownLicense => {
                return Err(AuthError::invalid(
                    "license_key",
                    "is not a valid license key",
                ))
            }
            Registration::Expired => return Err(AuthError::Forbidden("this license has expired")),
            Registration::Full => {
                return Err(AuthError::Forbidden(
                    "this license has all the devices it allows",
                ))
            }
        };
        let org = self
            .store
            .org_by_id(device.org_id)
            .await?
            .ok_or(AuthError::NotFound)?;
        Ok((device, token, org))
    }

    /// The refresh token that goes with a device token, for the dialects that hand devices a
    /// pair (DeepAffex): a MAC of the token under a key derived from the master key, so it
    /// needs no storage, and dies with the token it was made for.
    pub fn device_refresh_token(&self, device_token: &str) -> String {
        format!(
            "{DEVICE_REFRESH_PREFIX}{}",
            self.mac("device refresh token", device_token.as_bytes())
        )
    }

    /// Exchanges a device's pair for a new one; the old pair is dead afterwards. The device
    /// token may be presented however old: the pair is the proof.
    #[instrument(skip_all)]
    pub async fn renew_device(
        &self,
        device_token: &str,
        refresh_token: &str,
        client: &ClientInfo,
    ) -> Result<(String, String), AuthError> {
        self.rate_limit(client, super::kernel::limits::Limit::Client)
            .await?;
        if !device_token.starts_with(DEVICE_PREFIX)
            || device_token.len() > 128
            || !ct_eq(
                self.device_refresh_token(device_token).as_bytes(),
                refresh_token.as_bytes(),
            )
        {
            return Err(AuthError::TokenInvalid);
        }
        let (device, license_expiry) = self
            .store
            .use_device(&hash_token(device_token), self.now())
            .await?
            .ok_or(AuthError::TokenInvalid)?;
        if license_expiry.is_some_and(|at| at <= self.now()) {
            return Err(AuthError::TokenInvalid);
        }
        let token = format!("{DEVICE_PREFIX}{}", random_token(self.rng.as_ref()));
        let event = self
            .event(AuditKind::DeviceTokenRenewed, device.org_id, client)
            .detail("device_id", device.id.to_string());
        let (old_hash, new_hash) = (hash_token(device_token), hash_token(&token));
        let rotation = self.store.rotate_device_token(&old_hash, &new_hash);
        if !self.changed(event, rotation, |done| *done).await? {
            // Renewed at the same moment by another request: one of them wins.
            return Err(AuthError::TokenInvalid);
        }
        let refresh = self.device_refresh_token(&token);
        Ok((token, refresh))
    }

    /// The organization a device token names (refused when the device or its license is
    /// gone or expired).
    pub async fn device_org(&self, device_token: &str) -> Result<Organization, AuthError> {
        Ok(self.sign_in_org(None, Some(device_token)).await?.0)
    }

    /// An organization's devices.
    pub async fn list_devices(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
    ) -> Result<Vec<Device>, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        Ok(self.store.list_devices(org.id).await?)
    }

    /// Revokes a device: its token and the sessions signed in through it end at once.
    #[instrument(skip_all)]
    pub async fn revoke_device(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let done = self
            .changed(
                self.event(AuditKind::DeviceRevoked, org.id, client)
                    .actor(admin.actor().user.id)
                    .detail("device_id", id.to_string()),
                self.store.delete_device(org.id, id),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }
}
