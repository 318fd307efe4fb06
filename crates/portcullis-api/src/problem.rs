//! `application/problem+json` (RFC 9457) bodies and the stable `code` values.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The stable machine codes of errors. Clients branch on these, never on `title` or `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    /// 400: the input is malformed; `errors` lists the fields.
    ValidationFailed,
    /// 400: the password breaks the password policy.
    WeakPassword,
    /// 401: unknown identifier or wrong password.
    InvalidCredentials,
    /// 401: no or malformed `Authorization`.
    Unauthorized,
    /// 401: a second factor is needed.
    MfaRequired,
    /// 401: the token is invalid, expired, or its session ended.
    TokenInvalid,
    /// 401: a used refresh token was presented again; the session is revoked.
    TokenReused,
    /// 403: too many failures; see `Retry-After`.
    AccountLocked,
    /// 403: the account is deactivated.
    AccountInactive,
    /// 403: not allowed.
    Forbidden,
    /// 404: no such thing within reach.
    NotFound,
    /// 405: the method is not allowed on this path.
    MethodNotAllowed,
    /// 409: a unique field is taken.
    Duplicate,
    /// 400: the code is wrong.
    CodeInvalid,
    /// 400: the code has expired.
    CodeExpired,
    /// 413: the body is over 64 KiB.
    PayloadTooLarge,
    /// 408: the request body did not arrive within the body deadline.
    RequestTimeout,
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 429: too many requests; see `Retry-After`.
    RateLimited,
    /// 403: the organization's `before_user_created` hook refused; `detail` is its message.
    HookDenied,
    /// 503: a hook that fails closed did not answer in time or usably.
    HookUnavailable,
    /// 503: the server is saturated or its database is unreachable; see `Retry-After`.
    Overloaded,
    /// 500: a bug; the body names the request id.
    Internal,
    /// Any code this client does not know yet.
    #[serde(other)]
    Unknown,
}

impl ProblemCode {
    /// The wire string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ValidationFailed => "validation_failed",
            Self::WeakPassword => "weak_password",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthorized => "unauthorized",
            Self::MfaRequired => "mfa_required",
            Self::TokenInvalid => "token_invalid",
            Self::TokenReused => "token_reused",
            Self::AccountLocked => "account_locked",
            Self::AccountInactive => "account_inactive",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Duplicate => "duplicate",
            Self::CodeInvalid => "code_invalid",
            Self::CodeExpired => "code_expired",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::RateLimited => "rate_limited",
            Self::HookDenied => "hook_denied",
            Self::HookUnavailable => "hook_unavailable",
            Self::Overloaded => "overloaded",
            Self::Internal => "internal",
            Self::Unknown => "unknown",
        }
    }
}

/// One invalid field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FieldProblem {
    /// Request field name.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// An error answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Always `about:blank`.
    #[serde(rename = "type", default = "about_blank")]
    pub type_: String,
    /// Short summary of the status.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What happened, for people.
    #[serde(default)]
    pub detail: String,
    /// Stable machine code.
    pub code: ProblemCode,
    /// Invalid fields (validation and password errors).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldProblem>,
    /// With `mfa_required`: the second factors the user can use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa_methods: Option<Vec<String>>,
    /// The request id, for support (5xx answers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

fn about_blank() -> String {
    "about:blank".to_owned()
}
