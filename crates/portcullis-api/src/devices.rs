//! Licenses and registered devices.

use super::*;

/// `POST /v1/orgs/{slug}/licenses`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateLicenseRequest {
    /// Device limit; no limit when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_devices: Option<u32>,
    /// End of validity; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// A license as listed: never its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct License {
    /// Identifier.
    pub id: Uuid,
    /// The first characters of the key (`pcl_` and six more).
    pub prefix: String,
    /// Device limit.
    pub max_devices: Option<u32>,
    /// Devices registered now.
    pub device_count: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// End of validity.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A new license: the only time its key is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedLicense {
    /// The key devices register with, `pcl_...`.
    pub license_key: String,
    /// The stored part (with `id`).
    #[serde(flatten)]
    pub details: License,
}

/// Licenses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LicenseList {
    /// Newest first.
    pub items: Vec<License>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}

/// `POST /v1/devices/register`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterDeviceRequest {
    /// A license key.
    pub license_key: String,
    /// Display name.
    pub name: String,
    /// Kind, free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_type: Option<String>,
    /// The application's own identifier for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
}

/// A registered device's credentials: the only time its token is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RegisteredDevice {
    /// Device id.
    pub device_id: Uuid,
    /// `pcd_...`: send as `Authorization: Bearer` on sign-in.
    pub device_token: String,
    /// Organization slug.
    pub organization: String,
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Device {
    /// Identifier.
    pub id: Uuid,
    /// The license it registered with.
    pub license_id: Uuid,
    /// Display name.
    pub name: String,
    /// Kind.
    pub device_type: Option<String>,
    /// The application's identifier for it.
    pub identifier: Option<String>,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Last sign-in through it.
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// Devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DeviceList {
    /// Newest first.
    pub items: Vec<Device>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}
