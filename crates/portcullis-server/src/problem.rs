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

/// How `/v1` classifies a core error the other surfaces (the dialects, the pages) have no
/// words of their own for (the store, a bug, overload): the status and `Retry-After` to
/// answer, and the internal cause of a 5xx, which the surface puts back in its response
/// with [`with_cause`] so that it is logged once, with the request id.
#[derive(Debug, Clone)]
pub struct Unexpected {
    /// The status `/v1` answers (503 for a database that cannot be reached, 500 for a bug).
    pub status: StatusCode,
    /// Seconds to wait, when known.
    pub retry_after: Option<u64>,
    /// Why, for the log; never for the client.
    pub cause: Option<String>,
}

impl Unexpected {
    /// The classification of `e`, as `/v1` makes it.
    pub fn of(e: AuthError) -> Self {
        let p = Problem::from(e);
        Self {
            status: p.status,
            retry_after: p.retry_after,
            cause: p.cause,
        }
    }
}

impl Unexpected {
    /// The classification of `e` when it is an error no surface has words of its own for
    /// (the store, a bug, overload); `None` for every other error, which the surface words
    /// itself.
    pub fn classify(e: &AuthError) -> Option<Self> {
        let e = match e {
            AuthError::Store(s) => AuthError::Store(s.clone()),
            AuthError::Internal(cause) => AuthError::Internal(cause.clone()),
            AuthError::Overloaded { retry_after_secs } => AuthError::Overloaded {
                retry_after_secs: *retry_after_secs,
            },
            AuthError::HookUnavailable => AuthError::HookUnavailable,
            _ => return None,
        };
        Some(Self::of(e))
    }

    /// Puts this classification on a surface's own answer: its status, `Retry-After` and
    /// the cause for the request log.
    pub fn apply(self, mut res: Response) -> Response {
        *res.status_mut() = self.status;
        if let Some(secs) = self.retry_after {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        with_cause(&mut res, self.cause);
        res
    }
}

/// Carries `cause` in `res` for the request log (one line, with the request id); a surface
/// calls this on its own 5xx answers.
pub fn with_cause(res: &mut Response, cause: Option<String>) {
    if let Some(cause) = cause {
        res.extensions_mut().insert(InternalCause(cause));
    }
}

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
            AuthError::HookDenied(message) => {
                Self::new(S::FORBIDDEN, ProblemCode::HookDenied, message)
            }
            AuthError::HookUnavailable => {
                let mut p = Self::new(
                    S::SERVICE_UNAVAILABLE,
                    ProblemCode::HookUnavailable,
                    "A service this request depends on did not answer; try again shortly.",
                );
                p.retry_after = Some(5);
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
