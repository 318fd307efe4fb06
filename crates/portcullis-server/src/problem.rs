//! The one place that decides the HTTP status and `code` of every error. Bodies are
//! `application/problem+json` (RFC 9457). A 5xx body says only "internal error" and the
//! request id; the cause travels in a response extension and is logged once by
//! [`crate::middleware`].

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use portcullis_api::{FieldProblem, Problem as ProblemBody, ProblemCode};
use portcullis_core::{AuthError, FieldError, StoreError};

/// The cause of a 5xx answer, for the log line; never sent to the client.
#[derive(Debug, Clone)]
pub(crate) struct InternalCause(pub(crate) String);

/// An error answer in the making.
#[derive(Debug)]
pub struct Problem {
    status: StatusCode,
    code: ProblemCode,
    detail: String,
    errors: Vec<FieldProblem>,
    retry_after: Option<u64>,
    cause: Option<String>,
    mfa_methods: Option<Vec<String>>,
}

impl Problem {
    fn new(status: StatusCode, code: ProblemCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
            errors: Vec::new(),
            retry_after: None,
            cause: None,
            mfa_methods: None,
        }
    }

    fn fields(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors
            .into_iter()
            .map(|e| FieldProblem {
                field: e.field,
                message: e.message,
            })
            .collect();
        self
    }

    /// 400 `validation_failed` for one field.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::ValidationFailed,
            "The request has invalid fields.",
        )
        .fields(vec![FieldError::new(field, message.into())])
    }

    /// 400 `validation_failed` for a body that is not the JSON expected.
    pub fn bad_json(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            ProblemCode::ValidationFailed,
            detail,
        )
    }

    /// 401 `unauthorized`.
    pub fn unauthorized(detail: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, ProblemCode::Unauthorized, detail)
    }

    /// 404 `not_found`.
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ProblemCode::NotFound,
            "There is nothing here.",
        )
    }

    /// 405 `method_not_allowed`.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            ProblemCode::MethodNotAllowed,
            "This method is not allowed here.",
        )
    }

    /// 413 `payload_too_large`.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            ProblemCode::PayloadTooLarge,
            "Request bodies are limited to 64 KiB.",
        )
    }

    /// 408 `request_timeout`: the body did not arrive in time.
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            ProblemCode::RequestTimeout,
            "The request body did not arrive in time.",
        )
    }

    /// 415 `unsupported_media_type`.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ProblemCode::UnsupportedMediaType,
            "Send the body as JSON with Content-Type: application/json.",
        )
    }

    /// 503 `overloaded`, for a database that does not answer.
    pub fn unavailable(cause: impl Into<String>) -> Self {
        let mut p = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::Overloaded,
            "The service is temporarily unavailable.",
        );
        p.retry_after = Some(1);
        p.cause = Some(cause.into());
        p
    }

    /// 503 `overloaded`, for a request the server would not or could not finish in time.
    pub fn overloaded(cause: impl Into<String>) -> Self {
        let mut p = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ProblemCode::Overloaded,
            "The server is busy; try again shortly.",
        );
        p.retry_after = Some(1);
        p.cause = Some(cause.into());
        p
    }

    /// 500: a bug. `cause` is logged, not sent.
    pub fn internal(cause: impl Into<String>) -> Self {
        let mut p = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ProblemCode::Internal,
            "internal error",
        );
        p.cause = Some(cause.into());
        p
    }
}

impl From<AuthError> for Problem {
    fn from(e: AuthError) -> Self {
        use StatusCode as S;
        match e {
            AuthError::Validation(errs) => Self::new(
                S::BAD_REQUEST,
                ProblemCode::ValidationFailed,
                "The request has invalid fields.",
            )
            .fields(errs),
            AuthError::WeakPassword(errs) => Self::new(
                S::BAD_REQUEST,
                ProblemCode::WeakPassword,
                "The password does not meet the password policy.",
            )
            .fields(errs),
            AuthError::InvalidCredentials => Self::new(
                S::UNAUTHORIZED,
                ProblemCode::InvalidCredentials,
                "The identifier or password is wrong.",
            ),
            AuthError::MfaRequired { methods } => {
                let mut p = Self::new(
                    S::UNAUTHORIZED,
                    ProblemCode::MfaRequired,
                    "A second factor is required.",
                );
                p.mfa_methods = Some(methods);
                p
            }
            AuthError::RateLimited { retry_after_secs } => {
                let mut p = Self::new(
                    S::TOO_MANY_REQUESTS,
                    ProblemCode::RateLimited,
                    "Too many requests; try again later.",
                );
                p.retry_after = Some(retry_after_secs.max(1));
                p
            }
            AuthError::Unauthorized => {
                Self::unauthorized("Send an access token as Authorization: Bearer <token>.")
            }
            AuthError::TokenInvalid => Self::new(
                S::UNAUTHORIZED,
                ProblemCode::TokenInvalid,
                "The token is invalid or expired, or its session has ended.",
            ),
            AuthError::TokenReused => Self::new(
                S::UNAUTHORIZED,
                ProblemCode::TokenReused,
                "This refresh token was already used; the session has been ended. Sign in again.",
            ),
            AuthError::Locked { retry_after_secs } => {
                let mut p = Self::new(
                    S::FORBIDDEN,
                    ProblemCode::AccountLocked,
                    "The account is temporarily locked.",
                );
                p.retry_after = Some(retry_after_secs.max(1));
                p
            }
            AuthError::Inactive => Self::new(
                S::FORBIDDEN,
                ProblemCode::AccountInactive,
                "The account is deactivated.",
            ),
            AuthError::Forbidden(why) => Self::new(
                S::FORBIDDEN,
                ProblemCode::Forbidden,
                format!("Forbidden: {why}."),
            ),
            AuthError::NotFound => Self::not_found(),
            AuthError::CodeInvalid => Self::new(
                S::BAD_REQUEST,
                ProblemCode::CodeInvalid,
                "The code is wrong, already used, or replaced by a newer one.",
            ),
            AuthError::CodeExpired => Self::new(
                S::BAD_REQUEST,
                ProblemCode::CodeExpired,
                "The code has expired; ask for a new one.",
            ),
            AuthError::Duplicate(what) => Self::new(
                S::CONFLICT,
                ProblemCode::Duplicate,
                format!("This {what} is already in use."),
            )
            .fields(vec![FieldError::new(what, "is already in use")]),
            AuthError::Overloaded { retry_after_secs } => {
                let mut p = Self::new(
                    S::SERVICE_UNAVAILABLE,
                    ProblemCode::Overloaded,
                    "The server is busy; try again shortly.",
                );
                p.retry_after = Some(retry_after_secs.max(1));
                p
            }
            AuthError::Store(StoreError::Unavailable(cause)) => Self::unavailable(cause),
            AuthError::Store(e) => Self::internal(e.to_string()),
            AuthError::Internal(cause) => Self::internal(cause),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let body = ProblemBody {
            type_: "about:blank".to_owned(),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            code: self.code,
            errors: self.errors,
            mfa_methods: self.mfa_methods,
            request_id: None,
        };
        let mut res = (self.status, axum::Json(body)).into_response();
        res.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(cause) = self.cause {
            res.extensions_mut().insert(InternalCause(cause));
        }
        res
    }
}
