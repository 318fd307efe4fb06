//! Portcullis wire types: request and response bodies of the v1 HTTP API, the problem
//! codes, and their OpenAPI schemas. Shared by the server and the client, so the two can
//! never disagree on a field name.

mod problem;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use problem::{FieldProblem, Problem, ProblemCode};

/// `Some(None)` for an explicit `null`, `None` for an absent field (with `#[serde(default)]`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A role held by a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Role {
    /// Role name, such as `user`, `org_admin`, `system_admin`.
    pub name: String,
    /// When it was granted.
    pub added_at: DateTime<Utc>,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Identifier (UUID v7).
    pub id: Uuid,
    /// Organization slug.
    pub organization: String,
    /// Email address (lower-cased).
    pub email: Option<String>,
    /// Whether the email address was proven.
    pub email_verified: bool,
    /// Phone number, E.164.
    pub phone: Option<String>,
    /// Whether the phone number was proven.
    pub phone_verified: bool,
    /// Username.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// A guest account.
    pub anonymous: bool,
    /// False when deactivated.
    pub active: bool,
    /// Roles with the date each was granted.
    pub roles: Vec<Role>,
    /// Whether a second factor is enabled.
    pub mfa_enabled: bool,
    /// The application's own profile fields.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last successful sign-in.
    pub last_login_at: Option<DateTime<Utc>>,
}

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

/// `PATCH /v1/users/me` and the profile part of `PATCH /v1/users/{id}`. Absent fields are
/// kept; `null` clears a field. A new email or phone becomes unverified.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New email address.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// New phone number.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// New username.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub username: Option<Option<String>>,
    /// Given name.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    /// Family name.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    /// Keys to set; a key set to `null` is removed; other keys are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// Refused here with 400: roles are changed by admins through `PUT /v1/users/{id}/roles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub roles: Option<serde_json::Value>,
    /// Admin only (`PATCH /v1/users/{id}`): activate or deactivate the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// `DELETE /v1/users/me`: re-authentication.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The current password (required when the account has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST /v1/users/me/password`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password in use.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// `GET /v1/users/me/roles` and `PUT /v1/users/{id}/roles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolesResponse {
    /// Roles with the date each was granted.
    pub roles: Vec<Role>,
}

/// `PUT /v1/users/{id}/roles`: the complete new set (`user` is always kept).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRolesRequest {
    /// Role names.
    pub roles: Vec<String>,
}

/// `POST /v1/users`: a registration plus roles and pre-verified addresses. An admin may
/// create a phone-only or email-only account without a password.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    /// The account fields, as for registration.
    #[serde(flatten)]
    pub account: RegisterRequest,
    /// Roles beyond `user`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Mark the given email and phone as verified.
    #[serde(default)]
    pub verified: bool,
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

/// A page of users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// The users.
    pub items: Vec<User>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// The caller's sessions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SessionList {
    /// Live sessions, newest first.
    pub items: Vec<Session>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}

/// A recorded security event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    /// Identifier (time-ordered).
    pub id: Uuid,
    /// Kind, such as `login.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user the event is about.
    pub user_id: Option<Uuid>,
    /// Who acted.
    pub actor_id: Option<Uuid>,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Extra facts.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A page of audit events, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEventList {
    /// The events.
    pub items: Vec<AuditEvent>,
    /// Pass as `?cursor=` for older events; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A public signing key (RFC 8037 OKP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// Public key, base64url.
    pub x: String,
    /// Key id.
    pub kid: String,
    /// `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    /// Keys that may have signed a live token; the first signs new ones.
    pub keys: Vec<Jwk>,
}

/// `GET /.well-known/openid-configuration`: discovery for token verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenIdConfiguration {
    /// `iss` of every token.
    pub issuer: String,
    /// Where the public keys are.
    pub jwks_uri: String,
    /// Token refresh endpoint.
    pub token_endpoint: String,
    /// `["EdDSA"]`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `["public"]`.
    pub subject_types_supported: Vec<String>,
    /// Claims in access tokens.
    pub claims_supported: Vec<String>,
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}

/// Asks for a code to be sent to an address (`verify/resend`, `code/request`, `password/forgot`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// Email address (used when both are given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number, E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// Presents a code with the address it went to (`verify`, `code/login`, `password/verify`),
/// or the token of a reset link (`password/verify`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CodeSubmission {
    /// The 6-digit code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Email address the code went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number the code went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Token from a reset link, instead of code and address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// `code/login` by a user with a second factor: a TOTP code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_code: Option<String>,
    /// `code/login`: a recovery code instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_code: Option<String>,
    /// `code/login`: a trusted-device token instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_device_token: Option<String>,
    /// A passkey as the second factor (`POST /v1/auth/code/login` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub passkey: Option<PasskeyAssertion>,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// `POST /v1/auth/password/reset`: a code with its address, or a link token, and the new password.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The code or token, as for `password/verify`.
    #[serde(flatten)]
    pub proof: CodeSubmission,
    /// The new password.
    pub new_password: String,
    /// Recovery by security questions (where the organization allows it): the account...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// ...and the answer to every one of its questions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_answers: Option<Vec<SecurityQuestion>>,
}

/// A security question with its answer.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SecurityQuestion {
    /// The question, 3 to 200 characters.
    pub question: String,
    /// The answer; case and spacing do not matter.
    pub answer: String,
}

/// `PUT /v1/users/me/security-questions` and `PUT /v1/users/{id}/security-questions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityQuestionsRequest {
    /// 1 to 5 questions; they replace any earlier ones.
    pub security_questions: Vec<SecurityQuestion>,
}

/// `POST /v1/auth/password/questions`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuestionsRequest {
    /// Email, username or phone number.
    pub identifier: String,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// The questions to answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct QuestionsResponse {
    /// In order.
    pub questions: Vec<String>,
}

/// The answer of requests that send something: always the same, whether or not an account exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Sent {
    /// `sent`.
    pub status: String,
}

/// `POST /v1/auth/password/verify`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Validity {
    /// `true` (a bad code answers 400 instead).
    pub valid: bool,
}

/// `POST /v1/users/{id}/verification-code`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationCodeRequest {
    /// `email` or `sms`; default: the email address, else the phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
}

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
    /// Origins (`https://app.example`, at most 20) the hosted pages may send a signed-in user
    /// back to with `?return_to=`.
    #[serde(default)]
    pub ui_return_origins: Vec<String>,
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

/// `POST /v1/auth/register/anonymous`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnonymousRequest {
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// `POST /v1/users/me/app-tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppTokenRequest {
    /// What it is for (1 to 200 characters).
    pub description: String,
    /// When it stops working; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An application token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppToken {
    /// Identifier.
    pub id: Uuid,
    /// What it is for.
    pub description: String,
    /// The first characters of the token (`pct_` and six more), to recognise it.
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// End of validity.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last exchange.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new application token: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedAppToken {
    /// The secret, `pct_...`; store it now, it is not shown again.
    pub token: String,
    /// The stored part (with `id`).
    #[serde(flatten)]
    pub details: AppToken,
}

/// Application tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppTokenList {
    /// Newest first.
    pub items: Vec<AppToken>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}

/// A WebAuthn ceremony's options, for `navigator.credentials.create()` or `.get()`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyChallenge {
    /// Hand back with the result.
    pub challenge_id: Uuid,
    /// Pass as is: `{"publicKey": {...}}` (binary values base64url).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// The result of a WebAuthn ceremony, handed back.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyAssertion {
    /// From the start call.
    pub challenge_id: Uuid,
    /// The browser's `PublicKeyCredential`, as JSON (binary values base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// `POST /v1/users/me/passkeys/register/finish`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyRegisterFinish {
    /// From the start call.
    pub challenge_id: Uuid,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name for it ("Passkey" when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `PATCH /v1/users/me/passkeys/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyRename {
    /// The new name (1 to 100 characters).
    pub name: String,
}

/// `POST /v1/auth/passkey/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PasskeySignInStart {
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// `POST /v1/auth/passkey/finish`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeySignInFinish {
    /// From the start call.
    pub challenge_id: Uuid,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// A passkey, as listed (never its key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Passkey {
    /// Identifier.
    pub id: Uuid,
    /// The user's name for it.
    pub name: String,
    /// The credential id the authenticator gave it (base64url).
    pub credential_id: String,
    /// The signature counter at its last use (0: the authenticator keeps none).
    pub counter: u32,
    /// Whether it may be backed up (synced between devices).
    pub backup_eligible: bool,
    /// Whether it is backed up.
    pub backup_state: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Its last sign-in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A user's passkeys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PasskeyList {
    /// Oldest first.
    pub items: Vec<Passkey>,
}

/// `POST /v1/auth/ui-code/exchange`: an application's back end turns the code the hosted
/// pages sent the browser back with into a token pair.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UiCodeExchange {
    /// The `code` query parameter of the redirect (single use, one minute).
    pub code: String,
    /// The PKCE verifier whose base64url SHA-256 was the `code_challenge` (RFC 7636).
    pub code_verifier: String,
}

/// `POST /v1/auth/app-token`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppTokenExchange {
    /// An application token, `pct_...`.
    pub token: String,
}

/// An access token with no refresh token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessToken {
    /// Signed JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}

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
