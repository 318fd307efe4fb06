//! The errors of the use cases. The HTTP layer alone maps them to statuses and codes.

/// One invalid input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The request field, as named on the wire.
    pub field: String,
    /// What is wrong with it, for people.
    pub message: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// Everything a use case can refuse, and why.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The input is malformed.
    #[error("invalid input")]
    Validation(Vec<FieldError>),
    /// The password breaks the organization's password rules.
    #[error("password does not meet the password policy")]
    WeakPassword(Vec<FieldError>),
    /// Unknown identifier or wrong password; deliberately the same error.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// No valid authentication was presented.
    #[error("authentication required")]
    Unauthorized,
    /// The token is malformed, expired, or its session has ended.
    #[error("token invalid")]
    TokenInvalid,
    /// A retired refresh token was presented again; the session has been revoked.
    #[error("refresh token reused")]
    TokenReused,
    /// A second factor is needed; these are the ones the user has.
    #[error("second factor required")]
    MfaRequired {
        /// `totp`, `recovery_code`, `email`, `sms`.
        methods: Vec<String>,
    },
    /// Too many requests from this client or for this account; try again later.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
    /// The account is locked for a while.
    #[error("account locked")]
    Locked {
        /// Seconds until the lock lifts.
        retry_after_secs: u64,
    },
    /// The account has been deactivated.
    #[error("account inactive")]
    Inactive,
    /// The caller may not do this.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// The thing does not exist, or is outside the caller's reach.
    #[error("not found")]
    NotFound,
    /// The code is wrong, used, retired, or out of tries.
    #[error("code invalid")]
    CodeInvalid,
    /// The code has expired.
    #[error("code expired")]
    CodeExpired,
    /// A unique field is already taken.
    #[error("already exists: {0}")]
    Duplicate(&'static str),
    /// Too much password hashing is queued; try again shortly.
    #[error("overloaded")]
    Overloaded {
        /// Suggested wait, in seconds.
        retry_after_secs: u64,
    },
    /// The organization's `before_user_created` hook refused; the message is the hook's,
    /// for the user.
    #[error("refused by the organization's hook")]
    HookDenied(String),
    /// A hook that fails closed did not answer (in time, or usably).
    #[error("a hook did not answer")]
    HookUnavailable,
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A bug or a broken invariant.
    #[error("internal error: {0}")]
    Internal(String),
}

impl AuthError {
    /// A single-field validation error.
    pub fn invalid(field: &str, message: &str) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }
}

/// Storage failures, in the terms the use cases need.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique field is taken; `what` names it (`email`, `phone`, `username`, `slug`).
    #[error("{what} already exists")]
    Conflict {
        /// The field.
        what: &'static str,
    },
    /// The database cannot be reached or failed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back (a bug or manual tampering).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}
