//! Second factors: TOTP keys, recovery codes, trusted devices and the look-up lists.

use super::*;

/// `POST /v1/users/me/mfa/keys`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateMfaKeyRequest {
    /// `totp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The current password (re-authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// A second-factor key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MfaKey {
    /// Identifier.
    pub id: Uuid,
    /// `totp`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `activation_pending` or `active`.
    pub status: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Activation time.
    pub activated_at: Option<DateTime<Utc>>,
}

/// A new TOTP key: shown once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NewMfaKey {
    /// The key.
    #[serde(flatten)]
    pub key: MfaKey,
    /// The secret, base32, for typing into an authenticator app.
    pub secret_base32: String,
    /// `otpauth://totp/ISSUER:ACCOUNT?secret=...&issuer=...`
    pub otpauth_uri: String,
    /// The URI as a QR code, SVG.
    pub qr_code_svg: String,
    /// The URI as a QR code, `data:image/png;base64,...`.
    pub qr_code_png: String,
}

/// `POST /v1/users/me/mfa/keys/{id}/activate`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateMfaKeyRequest {
    /// A current code from the authenticator app.
    pub code: String,
}

/// An activated key and its recovery codes (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ActivatedMfaKey {
    /// The key, now `active`.
    pub key: MfaKey,
    /// Ten one-time recovery codes.
    pub recovery_codes: Vec<String>,
}

/// Second-factor keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MfaKeyList {
    /// Oldest first.
    pub items: Vec<MfaKey>,
    /// Always `null`.
    pub next_cursor: Option<String>,
}

/// Re-authentication for a change to second factors.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Reauthentication {
    /// The current password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Or a current TOTP code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_code: Option<String>,
}

/// New recovery codes (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten one-time codes; the previous ones no longer work.
    pub recovery_codes: Vec<String>,
}

/// A device trusted to skip the second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrustedDevice {
    /// Identifier.
    pub id: Uuid,
    /// The user agent it was trusted from.
    pub name: Option<String>,
    /// When it was trusted.
    pub created_at: DateTime<Utc>,
    /// When the trust ends.
    pub expires_at: DateTime<Utc>,
    /// Last sign-in that used it.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Trusted devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TrustedDeviceList {
    /// Newest first.
    pub items: Vec<TrustedDevice>,
    /// Always `null`.
    pub next_cursor: Option<String>,
}

/// An entry of a look-up list (`/v1/mfa/types`, `/v1/mfa/statuses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct LookupItem {
    /// Stable number.
    pub id: u32,
    /// Stable name.
    pub name: String,
    /// For people.
    pub description: String,
}
