//! DhiWise's generated Node.js back end (`002_22940e8456ac7a4e.txt`): the seven
//! `/admin/auth/*` routes, answering `{status, message, data}`.
//!
//! Mapping: `username` signs in as any identifier (username, email or phone); `name` is kept
//! in the user's `attributes.name`; the password-reset `otp`/`code` is the token of the
//! reset link in the mail (a short code alone, without its address, could be guessed
//! across all accounts); users sign in to the default organization.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use portcullis_core::service::{
    CodeRequest, CodeSubmission, LoginInput, RegisterInput, SecondFactor, Tokens,
};
use portcullis_core::{AuthError, FieldError, User};
use portcullis_server::{AppState, Client, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::envelope::{self, given, js_time, BodyError};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/register", post(register))
        .route("/forgot-password", post(forgot_password))
        .route("/validate-otp", post(validate_otp))
        .route("/reset-password", put(reset_password))
        .route("/login", post(login))
        .route("/send_login_otp", post(send_login_otp))
        .route("/login_with_otp", post(login_with_otp))
        .fallback(|| async { Answer::new(StatusCode::NOT_FOUND, "FAILURE", "Route not found.") })
        .method_not_allowed_fallback(|| async {
            Answer::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "FAILURE",
                "Method not allowed on this route.",
            )
        })
}

/// An answer in DhiWise's envelope.
#[derive(Debug)]
pub(crate) struct Answer {
    http: StatusCode,
    status: &'static str,
    message: String,
    data: Value,
    retry_after: Option<u64>,
    /// The internal cause of a 5xx, for the request log.
    cause: Option<String>,
}

impl Answer {
    fn new(http: StatusCode, status: &'static str, message: impl Into<String>) -> Self {
        Self {
            http,
            status,
            message: message.into(),
            data: json!({}),
            retry_after: None,
            cause: None,
        }
    }

    fn success(message: &str, data: Value) -> Self {
        Self {
            data,
            ..Self::new(StatusCode::OK, "SUCCESS", message)
        }
    }

    fn failure(message: &str) -> Self {
        Self::new(StatusCode::OK, "FAILURE", message)
    }

    fn bad_request(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    fn validation(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "VALIDATION_ERROR",
            message,
        )
    }

    fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for Answer {
    fn into_response(self) -> Response {
        let body = json!({"status": self.status, "message": self.message, "data": self.data});
        let mut res = envelope::answer(self.http, body, self.retry_after);
        portcullis_server::with_cause(&mut res, self.cause);
        res
    }
}

impl From<BodyError> for Answer {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "BAD_REQUEST",
                "The request body is too large.",
            ),
            BodyError::Malformed(why) => {
                Self::bad_request(&format!("The request body is not valid JSON: {why}."))
            }
        }
    }
}

fn fields(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(|f| format!("\"{}\" {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The answers every route gives to what is not its own business.
fn common(e: AuthError) -> Answer {
    match e {
        AuthError::Validation(f) | AuthError::WeakPassword(f) => {
            Answer::validation(format!("Invalid Data, Validation Failed at {}", fields(&f)))
        }
        AuthError::InvalidCredentials | AuthError::Unauthorized => {
            Answer::bad_request("Login failed.")
        }
        AuthError::MfaRequired { .. } => Answer::bad_request(
            "Two-factor authentication is on for this account: sign in with send_login_otp and login_with_otp.",
        ),
        AuthError::Locked { retry_after_secs } => Answer::bad_request(&format!(
            "You have exceeded the number of sign-in attempts; try again in {retry_after_secs} seconds."
        ))
        .retry_after(retry_after_secs),
        AuthError::Inactive => {
            Answer::bad_request("You are blocked by Admin, please contact to Admin.")
        }
        AuthError::RateLimited { retry_after_secs } => Answer::new(
            StatusCode::TOO_MANY_REQUESTS,
            "FAILURE",
            format!("Too many requests; try again in {retry_after_secs} seconds."),
        )
        .retry_after(retry_after_secs),
        AuthError::Overloaded { retry_after_secs } => Answer::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "FAILURE",
            "The server is busy; try again shortly.",
        )
        .retry_after(retry_after_secs),
        AuthError::Forbidden(why) => Answer::new(StatusCode::FORBIDDEN, "FAILURE", why),
        AuthError::HookDenied(message) => Answer::new(StatusCode::FORBIDDEN, "FAILURE", &message),
        AuthError::Duplicate(_) => {
            Answer::validation("User Registration Failed, Duplicate Data found")
        }
        AuthError::CodeInvalid | AuthError::CodeExpired => Answer::failure("Invalid Code"),
        AuthError::NotFound => Answer::new(
            StatusCode::OK,
            "RECORD_NOT_FOUND",
            "Record not found with specified criteria.",
        ),
        AuthError::TokenInvalid | AuthError::TokenReused => Answer::new(
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            "You are not authorized to access the request.",
        ),
        e @ (AuthError::Store(_) | AuthError::Internal(_) | AuthError::HookUnavailable) => {
            let u = portcullis_server::Unexpected::of(e);
            let message = if u.status == StatusCode::INTERNAL_SERVER_ERROR {
                "Internal server error."
            } else {
                "The server is busy; try again shortly."
            };
            Answer {
                retry_after: u.retry_after,
                cause: u.cause,
                ..Answer::new(u.status, "SERVER_ERROR", message)
            }
        }
    }
}

fn required<'a>(value: Option<&'a str>, field: &str) -> Result<&'a str, Answer> {
    given(value).ok_or_else(|| {
        Answer::validation(format!(
            "Invalid Data, Validation Failed at \"{field}\" is required"
        ))
    })
}

/// The user as DhiWise's model shows it. A sign-in or registration that answers has no
/// failed attempts left on the account (a success clears them), and a deleted account is
/// gone, so `loginRetryLimit` is 0 and `isDeleted` false whenever a user is shown.
fn user_data(u: &User) -> serde_json::Map<String, Value> {
    let id = u.id.to_string();
    let mut m = serde_json::Map::new();
    m.insert("id".into(), json!(id));
    m.insert("_id".into(), json!(id));
    if let Some(v) = &u.username {
        m.insert("username".into(), json!(v));
    }
    if let Some(v) = &u.email {
        m.insert("email".into(), json!(v));
    }
    if let Some(v) = u.attributes.as_map().get("name") {
        m.insert("name".into(), v.clone());
    }
    if let Some(v) = &u.phone {
        m.insert("mobileNo".into(), json!(v));
    }
    m.insert("loginRetryLimit".into(), json!(0));
    m.insert("createdAt".into(), json!(js_time(u.created_at)));
    m.insert("updatedAt".into(), json!(js_time(u.updated_at)));
    m.insert("isDeleted".into(), json!(false));
    m.insert("isActive".into(), json!(u.active));
    m
}

/// DhiWise's user types: 1 user, 2 admin.
fn role(u: &User) -> u8 {
    if u.has_role("org_admin") || u.has_role("system_admin") {
        2
    } else {
        1
    }
}

fn signed_in(tokens: &Tokens) -> Value {
    let mut data = user_data(&tokens.user);
    data.insert("role".into(), json!(role(&tokens.user)));
    data.insert("token".into(), json!(tokens.access_token));
    Value::Object(data)
}

#[derive(Debug, Default, Deserialize)]
struct RegisterBody {
    username: Option<String>,
    password: Option<String>,
    email: Option<String>,
    name: Option<String>,
    #[serde(rename = "mobileNo")]
    mobile_no: Option<String>,
}

async fn register(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, Answer> {
    let b: RegisterBody = envelope::json(body)?;
    let password = required(b.password.as_deref(), "password")?;
    let input = RegisterInput {
        email: given(b.email.as_deref()).map(str::to_owned),
        password: Some(password.to_owned()),
        phone: given(b.mobile_no.as_deref()).map(str::to_owned),
        username: given(b.username.as_deref()).map(str::to_owned),
        attributes: given(b.name.as_deref()).map(|n| json!({ "name": n })),
        client,
        ..RegisterInput::default()
    };
    let user = app.services().register(input).await.map_err(common)?;
    Ok(Answer::success(
        "Your request is successfully executed",
        Value::Object(user_data(&user)),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct ForgotBody {
    email: Option<String>,
}

async fn forgot_password(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, Answer> {
    let b: ForgotBody = envelope::json(body)?;
    let email = required(b.email.as_deref(), "email")?;
    let sent = app
        .services()
        .forgot_password_reporting(CodeRequest {
            email: Some(email.to_owned()),
            phone: None,
            organization: None,
            client,
        })
        .await
        .map_err(common)?;
    Ok(if sent {
        Answer::success(
            "Your request is successfully executed",
            json!("otp successfully send to your email."),
        )
    } else {
        common(AuthError::NotFound)
    })
}

#[derive(Debug, Default, Deserialize)]
struct OtpBody {
    otp: Option<String>,
}

async fn validate_otp(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, Answer> {
    let b: OtpBody = envelope::json(body)?;
    let otp = required(b.otp.as_deref(), "otp")?;
    let check = app
        .services()
        .check_reset(CodeSubmission {
            token: Some(otp.to_owned()),
            ..CodeSubmission::default()
        })
        .await;
    match check {
        Ok(()) => Ok(Answer::success("Otp verified", json!({}))),
        Err(AuthError::CodeExpired) => Ok(Answer::failure(
            "Your reset password link is expired or invalid",
        )),
        Err(AuthError::CodeInvalid) => Ok(Answer::failure("Invalid OTP")),
        Err(e) => Err(common(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
struct ResetBody {
    code: Option<String>,
    #[serde(rename = "newPassword")]
    new_password: Option<String>,
}

async fn reset_password(
    State(app): State<AppState>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, Answer> {
    let b: ResetBody = envelope::json(body)?;
    let code = required(b.code.as_deref(), "code")?;
    let new_password = required(b.new_password.as_deref(), "newPassword")?;
    app.services()
        .reset_password(
            CodeSubmission {
                token: Some(code.to_owned()),
                ..CodeSubmission::default()
            },
            new_password,
        )
        .await
        .map_err(common)?;
    Ok(Answer::success(
        "Your request is successfully executed",
        json!("Password reset successfully"),
    ))
}

#[derive(Debug, Default, Deserialize)]
struct LoginBody {
    username: Option<String>,
    password: Option<String>,
    otp: Option<String>,
}

impl LoginBody {
    fn input(&self, client: portcullis_core::ClientInfo) -> Result<LoginInput, Answer> {
        Ok(LoginInput {
            identifier: required(self.username.as_deref(), "username")?.to_owned(),
            password: required(self.password.as_deref(), "password")?.to_owned(),
            client,
            ..LoginInput::default()
        })
    }
}

async fn login(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, Answer> {
    let b: LoginBody = envelope::json(body)?;
    let tokens = app
        .services()
        .login(b.input(client)?)
        .await
        .map_err(common)?;
    Ok(Answer::success("Login successful.", signed_in(&tokens)))
}

async fn send_login_otp(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, Answer> {
    let b: LoginBody = envelope::json(body)?;
    match app
        .services()
        .request_login_otp(
            b.input(client)?,
            None,
            portcullis_core::service::OtpTo::Registered,
        )
        .await
    {
        Ok(()) => Ok(Answer::success(
            "Login Successful",
            json!("Please check your email/mobile for OTP"),
        )),
        Err(AuthError::InvalidCredentials) => Ok(Answer::failure("User not found")),
        Err(e) => Err(common(e)),
    }
}

async fn login_with_otp(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Answer, Answer> {
    let b: LoginBody = envelope::json(body)?;
    let mut input = b.input(client)?;
    input.second_factor = SecondFactor {
        mfa_code: Some(required(b.otp.as_deref(), "otp")?.to_owned()),
        ..SecondFactor::default()
    };
    match app.services().login(input).await {
        Ok(tokens) => Ok(Answer::success("Login successful.", signed_in(&tokens))),
        Err(AuthError::InvalidCredentials) => Err(Answer::bad_request("Invalid Code")),
        Err(e) => Err(common(e)),
    }
}
