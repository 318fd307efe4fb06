//! The stored things: organizations, users, roles, sessions.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::identity::Attributes;
use crate::ids::{OrgId, SessionId, UserId};

/// A tenant, with its own users and policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    /// Identifier.
    pub id: OrgId,
    /// URL-safe unique name; `default` always exists.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// What the organization allows and requires.
    pub policy: OrgPolicy,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

impl Organization {
    /// The slug of the organization that exists from the start.
    pub const DEFAULT_SLUG: &'static str = "default";
}

/// An organization's rules. Stored as JSON so that new rules need no migration; every field
/// has a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrgPolicy {
    /// Anyone may register.
    pub allow_self_registration: bool,
    /// Guests may get anonymous accounts.
    pub allow_anonymous: bool,
    /// Every user must enrol a second factor.
    pub mfa_required: bool,
    /// Login requires a device token.
    pub require_device_token: bool,
    /// Password recovery by security questions is allowed.
    pub recovery_by_questions: bool,
    /// Minimum password length in Unicode code points after NFKC.
    pub password_min_length: usize,
    /// Maximum password length in Unicode code points after NFKC.
    pub password_max_length: usize,
    /// Absolute session lifetime in seconds; `None` is the server's setting.
    pub session_ttl_secs: Option<i64>,
    /// Failed sign-ins (within 15 minutes) that lock an account.
    pub lockout_threshold: u32,
    /// The first lock's length in seconds; each further lock within a day doubles it.
    pub lockout_base_secs: i64,
    /// The longest lock in seconds.
    pub lockout_max_secs: i64,
    /// Registration with an address that already has an account answers exactly as for a
    /// new one and mails the owner, instead of answering 409.
    pub conceal_existing_accounts: bool,
    /// Passwords are hashed in their SHA-1 hex form (stored hashes marked `sha1hex$`), so
    /// that clients which send that form instead of the password (emnify's) can sign in;
    /// Portcullis computes the form itself for every other API. Existing hashes move to the
    /// form at their next sign-in with the password.
    pub sha1_hex_passwords: bool,
    /// Logo shown on the hosted pages (an `https://` URL).
    pub brand_logo_url: Option<String>,
    /// Primary colour of the hosted pages (`#rrggbb`).
    pub brand_color: Option<String>,
    /// The WebAuthn relying party id of this organization when it has its own domain
    /// (else the server's).
    pub webauthn_rp_id: Option<String>,
    /// With `webauthn_rp_id`: the origins its passkey ceremonies come from.
    pub webauthn_origins: Vec<String>,
    /// Sign-in must end with a phishing-resistant factor (a passkey): a password with a
    /// TOTP code, a recovery code or a trusted device is not enough, and a user without a
    /// passkey gets a session that may only enrol one.
    pub phishing_resistant_required: bool,
    /// How recent a sign-in must be for a change that its client cannot re-authenticate
    /// (the dialects' secret-free calls, such as DeepAffex's 2FA off and account removal),
    /// in seconds: 60 to the session lifetime.
    pub recent_sign_in_secs: i64,
}

impl Default for OrgPolicy {
    fn default() -> Self {
        Self {
            allow_self_registration: true,
            allow_anonymous: false,
            mfa_required: false,
            require_device_token: false,
            recovery_by_questions: false,
            password_min_length: 8,
            password_max_length: 128,
            session_ttl_secs: None,
            lockout_threshold: 5,
            lockout_base_secs: 60,
            lockout_max_secs: 3600,
            conceal_existing_accounts: false,
            sha1_hex_passwords: false,
            brand_logo_url: None,
            brand_color: None,
            webauthn_rp_id: None,
            webauthn_origins: Vec::new(),
            phishing_resistant_required: false,
            recent_sign_in_secs: 600,
        }
    }
}

/// A role held by a user, with when it was granted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Role name.
    pub name: String,
    /// When it was granted.
    pub added_at: DateTime<Utc>,
}

/// An account.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Identifier.
    pub id: UserId,
    /// Owning organization.
    pub org_id: OrgId,
    /// Slug of the owning organization.
    pub org_slug: String,
    /// Normalised email, if any.
    pub email: Option<String>,
    /// Whether the email was proven.
    pub email_verified: bool,
    /// E.164 phone, if any.
    pub phone: Option<String>,
    /// Whether the phone was proven.
    pub phone_verified: bool,
    /// Username, if any.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// A guest account.
    pub anonymous: bool,
    /// False once deactivated.
    pub active: bool,
    /// Roles, sorted by name.
    pub roles: Vec<Role>,
    /// Whether a second factor is on.
    pub mfa_enabled: bool,
    /// Application fields.
    pub attributes: Attributes,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last successful sign-in.
    pub last_login_at: Option<DateTime<Utc>>,
}

impl User {
    /// Whether the user holds `role`.
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r.name == role)
    }
}

/// A user together with the password hash, for sign-in only.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The account.
    pub user: User,
    /// PHC string, absent for accounts without a password.
    pub password_hash: Option<String>,
}

/// A signed-in session (one per login), carrying the refresh-token family.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// Identifier, the `sid` claim.
    pub id: SessionId,
    /// Owner.
    pub user_id: UserId,
    /// Start.
    pub created_at: DateTime<Utc>,
    /// Last login or refresh.
    pub last_seen_at: DateTime<Utc>,
    /// Absolute end of life.
    pub expires_at: DateTime<Utc>,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
    /// Authentication methods used (`pwd`, ...).
    pub amr: Vec<String>,
    /// The application token this session was made from, if any; the session ends with it.
    pub app_token_id: Option<uuid::Uuid>,
    /// The registered device this session signed in from, if any; the session ends with it.
    pub device_id: Option<uuid::Uuid>,
    /// For a session made for an OAuth client: the grant it carries.
    pub grant: Option<Grant>,
}

/// What a session made for an OAuth client (by an authorization code) carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// The client.
    pub client_id: uuid::Uuid,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The browser session the user authorized it in (the ID token's `sid`).
    pub browser_sid: SessionId,
    /// When the user signed in there.
    pub auth_time: DateTime<Utc>,
}

/// A license: lets up to `max_devices` devices register in an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct License {
    /// Identifier.
    pub id: uuid::Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// The first characters of the key, to recognise it.
    pub prefix: String,
    /// Device limit; `None` is unlimited.
    pub max_devices: Option<u32>,
    /// Devices registered now.
    pub device_count: u32,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// End of validity; devices of an expired license can no longer sign in.
    pub expires_at: Option<DateTime<Utc>>,
}

/// A registered device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    /// Identifier.
    pub id: uuid::Uuid,
    /// Organization.
    pub org_id: OrgId,
    /// The license it registered with.
    pub license_id: uuid::Uuid,
    /// Display name.
    pub name: String,
    /// Kind, free text.
    pub device_type: Option<String>,
    /// The application's own identifier for it.
    pub identifier: Option<String>,
    /// Registration time.
    pub created_at: DateTime<Utc>,
    /// Last sign-in through it.
    pub last_seen_at: Option<DateTime<Utc>>,
}

/// A long-lived application token (its secret is never stored, only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppToken {
    /// Identifier.
    pub id: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// What it is for, in the owner's words.
    pub description: String,
    /// The first characters of the token, to recognise it in a list.
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// End of validity, if any.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last exchange.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A second-factor key (TOTP).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaKey {
    /// Identifier.
    pub id: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// `totp`.
    pub kind: String,
    /// `activation_pending` until a first code proves it, then `active`.
    pub status: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Activation time.
    pub activated_at: Option<DateTime<Utc>>,
}

/// A WebAuthn credential of a user (a passkey or a security key), as listed: never its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasskeyInfo {
    /// Identifier.
    pub id: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// The credential id the authenticator gave it (base64url).
    pub credential_id: String,
    /// The user's name for it.
    pub name: String,
    /// The authenticator's signature counter at its last use (0: it keeps none).
    pub counter: u32,
    /// Whether the credential may be backed up (synced), and whether it is.
    pub backup_eligible: bool,
    /// See `backup_eligible`.
    pub backup_state: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Last sign-in with it.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A device that may skip the second factor for a while.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedDevice {
    /// Identifier.
    pub id: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// The user agent it was trusted from.
    pub name: Option<String>,
    /// When it was trusted.
    pub created_at: DateTime<Utc>,
    /// When the trust ends.
    pub expires_at: DateTime<Utc>,
    /// Last sign-in that used it.
    pub last_used_at: Option<DateTime<Utc>>,
}
