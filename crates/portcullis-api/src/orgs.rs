//! Organizations and their policies.

use super::*;

/// An organization's rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OrgPolicy {
    /// Anyone may register.
    pub allow_self_registration: bool,
    /// Guests may get anonymous accounts.
    pub allow_anonymous: bool,
    /// Every user must enrol a second factor.
    pub mfa_required: bool,
    /// Sign-in requires a device token.
    pub require_device_token: bool,
    /// Password recovery by security questions is allowed (off by default: OWASP ASVS and
    /// NIST SP 800-63B advise against it).
    pub recovery_by_questions: bool,
    /// Minimum password length (8 to 128).
    pub password_min_length: usize,
    /// Maximum password length (64 to 1024).
    pub password_max_length: usize,
    /// Absolute session lifetime in seconds; `null` is the server's setting.
    pub session_ttl_secs: Option<i64>,
    /// Failed sign-ins within 15 minutes that lock an account (3 to 100).
    pub lockout_threshold: u32,
    /// The first lock's length in seconds; each further lock within a day doubles it.
    pub lockout_base_secs: i64,
    /// The longest lock in seconds.
    pub lockout_max_secs: i64,
    /// Registration with an address that already has an account answers 201 exactly as for
    /// a new one and mails the owner a notice, instead of answering 409 `duplicate`.
    pub conceal_existing_accounts: bool,
    /// Passwords are hashed in their SHA-1 hex form, so that clients which send that form
    /// instead of the password (emnify's, to `POST /api/v1/authenticate`) can sign in.
    /// Portcullis computes the form itself for every other API; a hash moves to it at the
    /// next sign-in with the password.
    #[serde(default)]
    pub sha1_hex_passwords: bool,
    /// Logo on the hosted pages: an `https://` URL.
    #[serde(default)]
    pub brand_logo_url: Option<String>,
    /// Primary colour of the hosted pages: `#rrggbb`.
    #[serde(default)]
    pub brand_color: Option<String>,
    /// The WebAuthn relying party id (a domain) of this organization when it has its own;
    /// else the server's.
    #[serde(default)]
    pub webauthn_rp_id: Option<String>,
    /// With `webauthn_rp_id`: the origins (`https://id.example.com`) of its passkey ceremonies.
    #[serde(default)]
    pub webauthn_origins: Vec<String>,
    /// Sign-in must end with a passkey: a password with a TOTP code, a recovery code or a
    /// trusted device is not enough; a user without a passkey may only enrol one.
    #[serde(default)]
    pub phishing_resistant_required: bool,
    /// How recent a sign-in must be, in seconds (60 to the session lifetime; 600 by
    /// default), for a change whose client cannot re-authenticate: the dialects'
    /// secret-free calls, such as DeepAffex's 2FA off and account removal.
    #[serde(default = "ten_minutes")]
    pub recent_sign_in_secs: i64,
}

fn ten_minutes() -> i64 {
    600
}

/// A tenant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Organization {
    /// Identifier.
    pub id: Uuid,
    /// URL-safe name, used as `organization` in requests.
    pub slug: String,
    /// Display name, used in messages.
    pub name: String,
    /// Rules.
    pub policy: OrgPolicy,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// `POST /v1/orgs`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrgRequest {
    /// 2 to 63 of a-z, 0-9 and `-`.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// Policy fields to set; the rest take their defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub policy: Option<serde_json::Value>,
}

/// `PATCH /v1/orgs/{slug}`: absent fields are kept; `policy` sets only the fields it names.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrgRequest {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Policy fields to change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub policy: Option<serde_json::Value>,
}

/// A page of organizations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OrgList {
    /// The organizations.
    pub items: Vec<Organization>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
