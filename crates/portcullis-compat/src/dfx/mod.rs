//! DeepAffex (`000_f9ed510988a12d81.txt`, `001_3484ea89eab5a91c.txt`, and the wire contract
//! of its real clients in `deepaffex-wire.md`) under `/dfx/`: the 19 `users.*`/`auths.*`
//! methods, the license registration and status they need first, and the Python client's
//! other spellings.
//!
//! The wire rules its clients depend on: every answer is `application/json; charset=utf-8`
//! (the JS client ignores a bare `application/json`), every success is 200 with a JSON body,
//! errors are `{Code, Message}`, `Bearer` with nothing after it is no token, `MFAToken` and
//! `LoginCode` come as numbers or strings (a number loses its leading zeros), and `""` means
//! absent.
//!
//! Mapping: a license `Key` is a Portcullis license key; the device token it gives names the
//! organization; the organization identifier (`Identifier`, `OrgKey`) is the organization's
//! slug; `Gender`, `DateOfBirth`, `HeightCm` and `WeightKg` are kept in the user's
//! `attributes` (`gender`, `date_of_birth`, `height_cm`, `weight_kg`), and `users.delete`
//! (DeepAffex: "delete the user's measurements") removes that application data, keeping
//! the account. The clients send no password for the second-factor and account-removal
//! calls, so those need a sign-in within the last 10 minutes instead.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::Json;
use portcullis_core::model::Organization;
use portcullis_core::service::DEVICE_PREFIX;
use portcullis_core::{AuthError, ClientInfo, FieldError, Principal, User, UserId};
use portcullis_server::{AppState, Client, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::envelope::{self, bearer, given, BodyError};

mod codes;
mod licenses;
mod mfa;
mod sign_in;
mod users;

use codes::{reset_link, send_activation_code, verify};
use licenses::{register_license, status};
use mfa::{admin_mfa_disable, mfa_disable, mfa_enable, mfa_secret};
use sign_in::{
    login, login_with_phone_code, logout, renew, request_login_code, request_login_code_by_path,
};
use users::{change_password, create, delete_user_data, remove, retrieve, role, update};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/status", get(status))
        .route("/organizations/licenses", post(register_license))
        .route(
            "/users",
            post(create).get(retrieve).patch(update).delete(remove),
        )
        .route("/users/auth", post(login).delete(logout))
        .route("/users/auth/code", post(login_with_phone_code))
        .route(
            "/users/auth/code/{org}/{phone}",
            get(request_login_code_by_path),
        )
        .route("/users/role", get(role))
        .route("/users/verify", post(verify))
        .route(
            "/users/verificationCode/{user}/{org}",
            get(send_activation_code).post(send_activation_code),
        )
        .route("/users/changepassword", post(change_password))
        .route("/users/mfa/secret", get(mfa_secret).post(mfa_secret))
        .route("/users/mfa", post(mfa_enable).delete(mfa_disable))
        .route("/users/{user}/mfa", delete(admin_mfa_disable))
        .route("/users/{user}/measurements", delete(delete_user_data))
        .route("/auths/users/reset", patch(reset_link))
        .route("/auths/users/code", patch(request_login_code))
        .route("/auths/renew", post(renew))
        .fallback(|| async { Failure::new(StatusCode::NOT_FOUND, "NOT_FOUND", "Route not found.") })
        .method_not_allowed_fallback(|| async {
            Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "Method not allowed on this route.",
            )
        })
        .layer(axum::middleware::map_response(json_utf8))
}

/// The content type every DeepAffex answer carries; the JS client reads a body only when the
/// type starts with `application/json;`.
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// Gives every answer of the dialect the content type its clients read, and puts what axum's
/// own extractors refuse in text (a path that is not UTF-8, say) into `{Code, Message}`.
async fn json_utf8(res: Response) -> Response {
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        let mut res = res;
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        return res;
    }
    let status = res.status();
    let text = axum::body::to_bytes(res.into_body(), 4096)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let code = if status.is_server_error() {
        "INTERNAL_ERROR"
    } else {
        "BAD_REQUEST"
    };
    Failure::new(status, code, text).into_response()
}

/// A DeepAffex error: `{Code, Message}` (plus `remainingLockoutDurationSec` when locked).
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    code: &'static str,
    message: String,
    retry_after: Option<u64>,
    lockout: Option<u64>,
    /// The internal cause of a 5xx, for the request log.
    cause: Option<String>,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after: None,
            lockout: None,
            cause: None,
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "BAD_REQUEST", message)
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "INVALID_TOKEN",
            "A valid token is required: Authorization: Bearer <token>.",
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut body = json!({ "Code": self.code, "Message": self.message });
        if let Some(secs) = self.lockout {
            body["remainingLockoutDurationSec"] = json!(secs);
        }
        let mut res = envelope::answer(self.status, body, self.retry_after);
        portcullis_server::with_cause(&mut res, self.cause);
        res.headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_UTF8));
        res
    }
}

impl From<BodyError> for Failure {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "PAYLOAD_TOO_LARGE",
                "The request body is too large.",
            ),
            BodyError::Malformed(why) => {
                Self::bad(format!("The request body is not valid: {why}."))
            }
        }
    }
}

/// A field's name as the DeepAffex clients spell it.
fn field_name(field: &str) -> &str {
    match field {
        "email" | "identifier" => "Email",
        "password" | "current_password" => "Password",
        "new_password" => "NewPassword",
        "phone" => "PhoneNumber",
        "first_name" => "FirstName",
        "last_name" => "LastName",
        "code" | "mfa_code" => "MFAToken",
        "name" => "Name",
        "license_key" => "Key",
        "device_type" => "DeviceTypeID",
        "organization" => "Identifier",
        "secret" => "MFASecret",
        other => other,
    }
}

fn fields_message(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{} {}.", field_name(&f.field), f.message))
        .collect::<Vec<_>>()
        .join(" ")
}

fn common(e: AuthError) -> Failure {
    use StatusCode as S;
    match e {
        AuthError::Validation(f) => Failure::bad(fields_message(&f)),
        AuthError::WeakPassword(f) => {
            Failure::new(S::BAD_REQUEST, "WEAK_PASSWORD", fields_message(&f))
        }
        AuthError::InvalidCredentials => Failure::new(
            S::UNAUTHORIZED,
            "INVALID_CREDENTIALS",
            "The email or password is not correct.",
        ),
        AuthError::Unauthorized | AuthError::TokenInvalid => Failure::unauthorized(),
        AuthError::TokenReused => Failure::new(
            S::UNAUTHORIZED,
            "TOKEN_REUSED",
            "This refresh token was used already; its session has ended.",
        ),
        AuthError::MfaRequired { .. } => Failure::new(
            S::UNAUTHORIZED,
            "MFA_REQUIRED",
            "Two-factor authentication is on for this user: an MFAToken is required.",
        ),
        AuthError::RateLimited { retry_after_secs } => Failure {
            retry_after: Some(retry_after_secs),
            ..Failure::new(
                S::TOO_MANY_REQUESTS,
                "TOO_MANY_REQUESTS",
                "Too many requests.",
            )
        },
        AuthError::Locked { retry_after_secs } => Failure {
            retry_after: Some(retry_after_secs),
            lockout: Some(retry_after_secs),
            ..Failure::new(
                S::FORBIDDEN,
                "ACCOUNT_LOCKED",
                "Too many failed attempts; try again later.",
            )
        },
        AuthError::Inactive => Failure::new(
            S::FORBIDDEN,
            "ACCOUNT_INACTIVE",
            "This account is deactivated.",
        ),
        AuthError::Forbidden(why) => Failure::new(S::FORBIDDEN, "FORBIDDEN", why),
        AuthError::HookDenied(message) => Failure::new(S::FORBIDDEN, "FORBIDDEN", message),
        AuthError::NotFound => Failure::new(S::NOT_FOUND, "NOT_FOUND", "No such user."),
        AuthError::Duplicate(what) => Failure::new(
            S::BAD_REQUEST,
            "USER_EXISTS",
            format!("A user with this {} exists already.", field_name(what)),
        ),
        AuthError::CodeInvalid => {
            Failure::new(S::BAD_REQUEST, "INVALID_CODE", "The code is not correct.")
        }
        AuthError::CodeExpired => {
            Failure::new(S::BAD_REQUEST, "CODE_EXPIRED", "The code has expired.")
        }
        AuthError::Overloaded { retry_after_secs } => Failure {
            retry_after: Some(retry_after_secs),
            ..Failure::new(
                S::SERVICE_UNAVAILABLE,
                "SERVICE_UNAVAILABLE",
                "Service unavailable.",
            )
        },
        e @ (AuthError::Store(_) | AuthError::Internal(_) | AuthError::HookUnavailable) => {
            let u = portcullis_server::Unexpected::of(e);
            let (code, message) = if u.status == S::INTERNAL_SERVER_ERROR {
                ("INTERNAL_ERROR", "Internal server error.")
            } else {
                ("SERVICE_UNAVAILABLE", "Service unavailable.")
            };
            Failure {
                retry_after: u.retry_after,
                cause: u.cause,
                ..Failure::new(u.status, code, message)
            }
        }
    }
}

/// A 200 answer with a JSON body (the content type is set by [`json_utf8`]).
fn ok(body: Value) -> Response {
    Json(body).into_response()
}

fn success() -> Response {
    ok(json!({ "success": true }))
}

/// A signed-in user (a user token); sessions that may only enrol a second factor are
/// refused here and let in by [`Enrolling`].
struct Signed {
    app: AppState,
    who: Principal,
    client: ClientInfo,
}

async fn signed(parts: &mut Parts, app: &AppState) -> Result<Signed, Failure> {
    let token = bearer(&parts.headers)
        .filter(|t| !t.starts_with(DEVICE_PREFIX))
        .ok_or_else(Failure::unauthorized)?;
    let who = app
        .services()
        .authenticate(token)
        .await
        .map_err(|_| Failure::unauthorized())?;
    let Ok(Client(client)) = Client::from_request_parts(parts, app).await;
    Ok(Signed {
        app: app.clone(),
        who,
        client,
    })
}

impl FromRequestParts<AppState> for Signed {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Failure> {
        let caller = signed(parts, app).await?;
        if caller.who.enrolment_only() {
            return Err(Failure::new(
                StatusCode::FORBIDDEN,
                "MFA_ENROLMENT_REQUIRED",
                "This organization requires two-factor authentication: set it up first (users/mfa/secret, then users/mfa).",
            ));
        }
        Ok(caller)
    }
}

/// A signed-in user, enrolment-only sessions included (the second-factor set-up calls).
struct Enrolling(Signed);

impl FromRequestParts<AppState> for Enrolling {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Failure> {
        signed(parts, app).await.map(Self)
    }
}

/// A registered device (a device token), with its organization.
struct Device {
    app: AppState,
    token: String,
    org: Organization,
    client: ClientInfo,
}

impl FromRequestParts<AppState> for Device {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Failure> {
        let token = bearer(&parts.headers)
            .filter(|t| t.starts_with(DEVICE_PREFIX))
            .ok_or_else(|| {
                Failure::new(
                    StatusCode::UNAUTHORIZED,
                    "INVALID_TOKEN",
                    "A device token is required: register a license first (POST /organizations/licenses).",
                )
            })?
            .to_owned();
        let org = app
            .services()
            .device_org(&token)
            .await
            .map_err(|_| Failure::unauthorized())?;
        let Ok(Client(client)) = Client::from_request_parts(parts, app).await;
        Ok(Self {
            app: app.clone(),
            token,
            org,
            client,
        })
    }
}

/// A value the clients send as a number or a string; null and `""` are absent.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(transparent)]
struct Flex(Option<Value>);

impl Flex {
    fn text(&self) -> Option<String> {
        match &self.0 {
            Some(Value::String(s)) => given(Some(s)).map(str::to_owned),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        }
    }

    /// A one-time code: a number loses its leading zeros on the way, so digits are padded
    /// back to six.
    fn code(&self) -> Option<String> {
        let text = self.text()?;
        Some(
            if text.len() < 6 && text.chars().all(|c| c.is_ascii_digit()) {
                format!("{text:0>6}")
            } else {
                text
            },
        )
    }
}

/// The organization identifier of a body, checked against the one the token names.
fn same_org(identifier: &Flex, org: &str) -> Result<(), Failure> {
    match identifier.text() {
        Some(given) if given != org => Err(Failure::bad(
            "Identifier is not the organization of this token.",
        )),
        _ => Ok(()),
    }
}

/// DeepAffex's names for the roles: the most privileged one a user holds.
fn dfx_role(user: &User) -> (&'static str, &'static str) {
    let has = |name: &str| user.roles.iter().any(|r| r.name == name);
    if has("system_admin") {
        ("DFX_SYS_ADMIN", "Administrator of every organization")
    } else if has("org_admin") {
        ("DFX_ORG_ADMIN", "Administrator of the organization")
    } else {
        ("DFX_USR", "User of the organization")
    }
}

fn path_user(raw: &str) -> Result<UserId, Failure> {
    // An id that names no user is a user not found.
    raw.parse()
        .map_err(|_| Failure::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such user."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_their_leading_zeros() {
        let flex = |v: Value| Flex(Some(v));
        assert_eq!(flex(json!(12345)).code().as_deref(), Some("012345"));
        assert_eq!(flex(json!("012345")).code().as_deref(), Some("012345"));
        assert_eq!(flex(json!(7)).code().as_deref(), Some("000007"));
        assert_eq!(flex(json!("")).code(), None);
        assert_eq!(Flex(None).code(), None);
        assert_eq!(flex(json!(null)).code(), None);
        assert_eq!(flex(json!("abc")).code().as_deref(), Some("abc"));
    }
}
