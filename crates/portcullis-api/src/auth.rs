//! Registration, sign-in, token pairs and sessions.

use super::*;

/// `POST /v1/auth/register`: email and password, or a phone number.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// Email address; needs `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Phone number (E.164, such as `+15555555555`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// Application profile fields (a JSON object, at most 16 KiB).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
}

/// `POST /v1/auth/login`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Email, username or phone number.
    pub identifier: String,
    /// Password.
    pub password: String,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
    /// A TOTP code, or the code sent by `POST /v1/auth/login/otp`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_code: Option<String>,
    /// A recovery code, instead of `mfa_code`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
    /// A token from an earlier sign-in with `remember_device`: skips the second factor.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_device_token: Option<String>,
    /// Trust this device after a successful second factor.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub remember_device: bool,
    /// A passkey as the second factor: the ceremony of `POST /v1/auth/passkey/start` and
    /// the browser's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
    /// The `device_cookie` an earlier sign-in to this account answered: while the account
    /// is locked by failures from unknown clients, this client may still sign in (its own
    /// failures lock only it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_cookie: Option<String>,
}

/// `POST /v1/auth/login/otp`: the password, then a one-time code by email or SMS.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginOtpRequest {
    /// Email, username or phone number.
    pub identifier: String,
    /// Password.
    pub password: String,
    /// `email` or `sms`; default: the verified email, else the verified phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// `POST /v1/auth/token/refresh`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The refresh token from the last token pair.
    pub refresh_token: String,
}

/// What a sign-in or refresh answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TokenPair {
    /// EdDSA-signed JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// One-time opaque token for `/v1/auth/token/refresh`.
    pub refresh_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until `access_token` expires.
    pub expires_in: i64,
    /// The signed-in user.
    pub user: User,
    /// With `remember_device`: send as `trusted_device_token` to skip the second factor later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_device_token: Option<String>,
    /// After a password sign-in: keep it and send it as `device_cookie` at later sign-ins
    /// to this account, so that a lockout caused by others does not lock this client out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_cookie: Option<String>,
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Session {
    /// Identifier (the `sid` claim).
    pub id: Uuid,
    /// Sign-in time.
    pub created_at: DateTime<Utc>,
    /// Last sign-in or refresh.
    pub last_seen_at: DateTime<Utc>,
    /// Absolute end of life.
    pub expires_at: DateTime<Utc>,
    /// Client address at sign-in.
    pub ip: Option<String>,
    /// Client user agent at sign-in.
    pub user_agent: Option<String>,
    /// Whether this is the session of the calling token.
    pub current: bool,
}

/// The caller's sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// Live sessions, newest first.
    pub items: Vec<Session>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}

/// `POST /v1/auth/register/anonymous`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnonymousRequest {
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}
