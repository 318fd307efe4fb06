//! emnify (`003_de8aab4c2ef70d07.txt`) under `/api/v1/`: `POST /authenticate` (an
//! application token, a username and password with a second factor where it is on, or a
//! refresh token), and the MFA key, key-type, key-status and trusted-device routes.
//!
//! Mapping: an emnify application token is a Portcullis application token (`pct_...`); the
//! username is the email (or username, or phone) of an account of the default organization,
//! or of `organization` when the body names one. emnify's ids are integers: a key or trusted
//! device is named by a number, unique among the user's own (made from its UUID, and below
//! 2^24 so that clients that keep ids as `f32` keep them exactly), or by its UUID; a user is
//! named by `my` or by its UUID. Errors are `{error_code, error_token, message}`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::Json;
use portcullis_core::service::{LoginInput, Proof, SecondFactor};
use portcullis_core::{AuthError, ClientInfo, FieldError, Principal, User, UserId};
use portcullis_server::{AppState, Client, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::envelope::{self, bearer, given, BodyError};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/authenticate", post(authenticate))
        .route("/user/mfa", post(create_key))
        .route("/user/mfa/{key}", patch(activate_key))
        .route("/user/{user}/mfa/{key}", delete(delete_key))
        .route("/user/mfa/status", get(statuses))
        .route("/user/mfa/type", get(types))
        .route("/user/mfa/trusted_device", get(my_trusted_devices))
        .route(
            "/user/mfa/trusted_device/{device}",
            delete(delete_my_trusted_device),
        )
        .route("/user/{user}/mfa/trusted_device", get(trusted_devices))
        .route(
            "/user/{user}/mfa/trusted_device/{device}",
            delete(delete_trusted_device),
        )
        .fallback(|| async { Failure::new(StatusCode::NOT_FOUND, "not_found", "Route not found.") })
        .method_not_allowed_fallback(|| async {
            Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "Method not allowed on this route.",
            )
        })
}

/// An emnify error: `{error_code, error_token, message}`.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    token: &'static str,
    message: String,
    retry_after: Option<u64>,
    /// The internal cause of a 5xx, for the request log.
    cause: Option<String>,
}

impl Failure {
    fn new(status: StatusCode, token: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            token,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_failed", message)
    }

    fn unauthorized() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid auth_token is required: Authorization: Bearer <auth_token>.",
        )
    }

    fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("No such {what}."),
        )
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut res = envelope::answer(
            self.status,
            json!({
                "error_code": self.status.as_u16(),
                "error_token": self.token,
                "message": self.message,
            }),
            self.retry_after,
        );
        portcullis_server::with_cause(&mut res, self.cause);
        res
    }
}

impl From<BodyError> for Failure {
    fn from(e: BodyError) -> Self {
        match e {
            BodyError::TooLarge => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "The request body is too large.",
            ),
            BodyError::Malformed(why) => {
                Self::bad(format!("The request body is not valid: {why}."))
            }
        }
    }
}

fn fields_message(fields: &[FieldError]) -> String {
    fields
        .iter()
        .map(|f| format!("{} {}.", f.field, f.message))
        .collect::<Vec<_>>()
        .join(" ")
}

fn common(e: AuthError) -> Failure {
    use StatusCode as S;
    match e {
        AuthError::Validation(f) | AuthError::WeakPassword(f) => Failure::bad(fields_message(&f)),
        AuthError::InvalidCredentials => Failure::new(
            S::UNAUTHORIZED,
            "invalid_credentials",
            "The credentials are not valid.",
        ),
        AuthError::Unauthorized | AuthError::TokenInvalid | AuthError::TokenReused => {
            Failure::unauthorized()
        }
        AuthError::MfaRequired { .. } => Failure::new(
            S::UNAUTHORIZED,
            "mfa_required",
            "Multi-factor authentication is on for this user: send the current code as `code`.",
        ),
        AuthError::RateLimited { retry_after_secs } | AuthError::Locked { retry_after_secs } => {
            Failure {
                retry_after: Some(retry_after_secs),
                ..Failure::new(S::TOO_MANY_REQUESTS, "rate_limited", "Too many requests.")
            }
        }
        AuthError::Inactive => Failure::new(
            S::FORBIDDEN,
            "account_inactive",
            "This user is deactivated.",
        ),
        AuthError::Forbidden(why) => Failure::new(S::FORBIDDEN, "forbidden", why),
        AuthError::HookDenied(message) => Failure::new(S::FORBIDDEN, "forbidden", message),
        AuthError::NotFound => Failure::not_found("user or key"),
        AuthError::Duplicate(what) => {
            Failure::new(S::CONFLICT, "duplicate", format!("That {what} is in use."))
        }
        AuthError::CodeInvalid => {
            Failure::new(S::BAD_REQUEST, "code_invalid", "The code is not correct.")
        }
        AuthError::CodeExpired => {
            Failure::new(S::BAD_REQUEST, "code_expired", "The code has expired.")
        }
        AuthError::Overloaded { retry_after_secs } => Failure {
            retry_after: Some(retry_after_secs),
            ..Failure::new(
                S::SERVICE_UNAVAILABLE,
                "overloaded",
                "The server is busy; try again shortly.",
            )
        },
        e @ (AuthError::Store(_) | AuthError::Internal(_) | AuthError::HookUnavailable) => {
            let u = portcullis_server::Unexpected::of(e);
            let (token, message) = if u.status == S::INTERNAL_SERVER_ERROR {
                ("internal_error", "Internal server error.")
            } else {
                ("overloaded", "The server is busy; try again shortly.")
            };
            Failure {
                retry_after: u.retry_after,
                cause: u.cause,
                ..Failure::new(u.status, token, message)
            }
        }
    }
}

/// The signed-in caller of the MFA routes.
struct Caller {
    app: AppState,
    who: Principal,
    client: ClientInfo,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Failure> {
        let token = bearer(&parts.headers).ok_or_else(Failure::unauthorized)?;
        let who = app
            .services()
            .authenticate(token)
            .await
            .map_err(|_| Failure::unauthorized())?;
        let Ok(Client(client)) = Client::from_request_parts(parts, app).await;
        Ok(Self {
            app: app.clone(),
            who,
            client,
        })
    }
}

#[derive(Debug, Default, Deserialize)]
struct AuthenticateBody {
    application_token: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
    /// The second factor: a TOTP code (emnify's clients call it `code`; `mfa_token` too).
    code: Option<Value>,
    mfa_token: Option<Value>,
    /// Trust this device from now on (any object or `true`).
    trusted_device: Option<Value>,
    trusted_device_token: Option<String>,
    organization: Option<String>,
}

/// A code sent as a number or a string.
fn code_text(v: Option<&Value>) -> Option<String> {
    match v? {
        Value::String(s) => given(Some(s)).map(str::to_owned),
        Value::Number(n) => Some(format!("{:0>6}", n.to_string())),
        _ => None,
    }
}

/// `POST /api/v1/authenticate`: authenticated by the body alone, whatever the
/// `Authorization` header holds; 200 with the tokens, 401 on bad credentials.
async fn authenticate(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<AuthenticateBody>(body)?;
    let services = app.services();
    if let Some(token) = given(body.application_token.as_deref()) {
        let access = services
            .exchange_app_token(token, &client)
            .await
            .map_err(|e| match e {
                AuthError::TokenInvalid => Failure::new(
                    StatusCode::UNAUTHORIZED,
                    "invalid_application_token",
                    "The application token is not valid.",
                ),
                e => common(e),
            })?;
        return Ok(Json(json!({ "auth_token": access.access_token })).into_response());
    }
    if let Some(refresh) = given(body.refresh_token.as_deref()) {
        let t = services.refresh(refresh, &client).await.map_err(common)?;
        return Ok(
            Json(json!({ "auth_token": t.access_token, "refresh_token": t.refresh_token }))
                .into_response(),
        );
    }
    let (Some(username), Some(password)) =
        (given(body.username.as_deref()), body.password.as_deref())
    else {
        return Err(Failure::bad(
            "Send application_token, username and password, or refresh_token.",
        ));
    };
    let remember = body
        .trusted_device
        .as_ref()
        .is_some_and(|v| !matches!(v, Value::Null | Value::Bool(false)));
    let t = services
        .login(LoginInput {
            identifier: username.to_owned(),
            password: password.to_owned(),
            organization: body.organization.clone(),
            // emnify's clients send the password's SHA-1 hex; taken as such where the
            // organization keeps passwords in that form (`sha1_hex_passwords`).
            password_is_sha1_hex: true,
            second_factor: SecondFactor {
                mfa_code: code_text(body.code.as_ref())
                    .or_else(|| code_text(body.mfa_token.as_ref())),
                trusted_device_token: body.trusted_device_token.clone(),
                remember_device: remember,
                ..SecondFactor::default()
            },
            client,
            ..LoginInput::default()
        })
        .await
        .map_err(|e| match e {
            // A username that names no organization's account is bad credentials too.
            AuthError::Validation(_) => common(AuthError::InvalidCredentials),
            e => common(e),
        })?;
    // The user's number: emnify's clients type user ids as numbers (`f32`), and take it
    // back in `/api/v1/user/{user_id}/...`.
    let number = app
        .services()
        .user_number(t.user.id)
        .await
        .map_err(common)?;
    let mut answer = json!({
        "auth_token": t.access_token,
        "refresh_token": t.refresh_token,
        "user_id": number,
    });
    if let Some(trusted) = t.trusted_device_token {
        answer["trusted_device_token"] = json!(trusted);
    }
    Ok(Json(answer).into_response())
}

/// emnify's key statuses and types (its own numbering: 1 is `ACTIVE`).
const STATUSES: [(u32, &str, &str); 2] = [
    (1, "active", "ACTIVE"),
    (2, "activation_pending", "ACTIVATION_PENDING"),
];
const TYPES: [(u32, &str, &str); 1] = [(1, "totp", "TOTP")];

fn lookup(table: &[(u32, &str, &str)], name: &str) -> Value {
    table.iter().find(|(_, n, _)| *n == name).map_or(
        Value::Null,
        |(id, _, d)| json!({"id": id, "description": d}),
    )
}

async fn statuses(_: Caller) -> Json<Value> {
    Json(
        STATUSES
            .iter()
            .map(|(id, _, d)| json!({"id": id, "description": d}))
            .collect(),
    )
}

async fn types(_: Caller) -> Json<Value> {
    Json(
        TYPES
            .iter()
            .map(|(id, _, d)| json!({"id": id, "description": d}))
            .collect(),
    )
}

/// The number that names a key or trusted device among its user's own: 24 random bits of
/// its UUID (v7: the last bytes are random), never 0.
fn alias(id: uuid::Uuid) -> u32 {
    let b = id.as_bytes();
    u32::from_be_bytes([0, b[13], b[14], b[15]]).max(1)
}

/// Finds `raw` (a number as [`alias`] makes, or a UUID) among `ids`.
fn resolve(
    raw: &str,
    ids: impl IntoIterator<Item = uuid::Uuid>,
    what: &str,
) -> Result<uuid::Uuid, Failure> {
    if let Ok(id) = raw.parse::<uuid::Uuid>() {
        return Ok(id);
    }
    // `f32` clients may write `12345.0`.
    let n = raw
        .strip_suffix(".0")
        .unwrap_or(raw)
        .parse::<u32>()
        .map_err(|_| Failure::not_found(what))?;
    let found: Vec<uuid::Uuid> = ids.into_iter().filter(|id| alias(*id) == n).collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(Failure::not_found(what)),
        _ => Err(Failure::new(
            StatusCode::CONFLICT,
            "ambiguous_id",
            format!("Two of this user's {what}s share that number: use the UUID."),
        )),
    }
}

fn time(t: Option<chrono::DateTime<chrono::Utc>>) -> Value {
    t.map_or(Value::Null, |t| json!(envelope::js_time(t)))
}

#[derive(Debug, Default, Deserialize)]
struct CreateKeyBody {
    #[serde(rename = "type")]
    kind: Option<Value>,
    password: Option<String>,
}

/// `POST /api/v1/user/mfa`: a TOTP key pending activation; the password is required.
async fn create_key(
    Caller { app, who, client }: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<CreateKeyBody>(body)?;
    let type_id = body
        .kind
        .as_ref()
        .and_then(|t| t.get("id"))
        .and_then(Value::as_f64);
    if type_id != Some(1.0) {
        return Err(Failure::bad("type.id must be 1 (TOTP)."));
    }
    let new = app
        .services()
        .create_mfa_key(
            &who,
            "totp",
            Proof::password(body.password.as_deref()),
            &client,
        )
        .await
        .map_err(common)?;
    Ok(Json(json!({
        "id": alias(new.key.id),
        "uuid": new.key.id.to_string(),
        "status": lookup(&STATUSES, &new.key.status),
        "type": lookup(&TYPES, &new.key.kind),
        "secret_key": new.secret_base32,
        "otpauth": new.otpauth_uri,
        "creation_date": envelope::js_time(new.key.created_at),
        "activation_date": null,
    }))
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
struct ActivateBody {
    status: Option<Value>,
    code: Option<Value>,
}

/// `PATCH /api/v1/user/mfa/{key_id}` with `status.id` 1 and the current code: 204.
async fn activate_key(
    Caller { app, who, client }: Caller,
    Path(key): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Failure> {
    let body = envelope::json::<ActivateBody>(body)?;
    if body
        .status
        .as_ref()
        .and_then(|s| s.get("id"))
        .and_then(Value::as_f64)
        != Some(1.0)
    {
        return Err(Failure::bad("status.id must be 1 (ACTIVE)."));
    }
    let code = code_text(body.code.as_ref()).ok_or_else(|| Failure::bad("code is required."))?;
    let services = app.services();
    let keys = services.mfa_keys_of(who.user.id).await.map_err(common)?;
    let id = resolve(&key, keys.iter().map(|k| k.id), "MFA key")?;
    services
        .activate_mfa_key(&who, id, &code, &client)
        .await
        .map_err(common)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The user a path names: `my` (or the caller's own id) is the caller; another id needs an
/// admin of the organization. Answers the user, and the admin's id when one acts.
async fn target(
    app: &AppState,
    who: &Principal,
    raw: &str,
) -> Result<(User, Option<UserId>), Failure> {
    let services = app.services();
    // A number (`f32` clients may write `12345.0`) as `authenticate` answers it, or a UUID.
    let id: UserId = match raw.strip_suffix(".0").unwrap_or(raw).parse::<u32>() {
        Ok(n) => services
            .user_by_number(n)
            .await
            .map_err(common)?
            .ok_or_else(|| Failure::not_found("user"))?,
        Err(_) if raw == "my" => who.user.id,
        Err(_) => raw.parse().map_err(|_| Failure::not_found("user"))?,
    };
    if id == who.user.id {
        return Ok((who.user.clone(), None));
    }
    let admin = services.admin(who.clone()).map_err(common)?;
    let user = services.managed_user(&admin, id).await.map_err(common)?;
    Ok((user, Some(admin.actor().user.id)))
}

/// `DELETE /api/v1/user/{user_id}/mfa/{key_id}`: one's own key (within minutes of signing
/// in with a password: the call carries no secret), or, for an admin, anyone's.
async fn delete_key(
    Caller { app, who, client }: Caller,
    Path((user, key)): Path<(String, String)>,
) -> Result<StatusCode, Failure> {
    let services = app.services();
    let (target, _) = target(&app, &who, &user).await?;
    let keys = services.mfa_keys_of(target.id).await.map_err(common)?;
    let id = resolve(&key, keys.iter().map(|k| k.id), "MFA key")?;
    if target.id == who.user.id {
        services
            .delete_my_mfa_key(&who, id, Proof::RecentSignIn, &client)
            .await
            .map_err(common)?;
    } else {
        let admin = services.admin(who).map_err(common)?;
        services
            .admin_delete_mfa_key(&admin, target.id, id, &client)
            .await
            .map_err(common)?;
    }
    Ok(StatusCode::NO_CONTENT)
}

async fn list_devices(app: &AppState, user: &User) -> Result<Json<Value>, Failure> {
    let devices = app
        .services()
        .trusted_devices_of(user.id)
        .await
        .map_err(common)?;
    Ok(Json(
        devices
            .iter()
            .map(|d| {
                json!({
                    "id": alias(d.id),
                    "uuid": d.id.to_string(),
                    "user_agent": d.name,
                    "creation_date": envelope::js_time(d.created_at),
                    "expiry_date": envelope::js_time(d.expires_at),
                    "last_access_date": time(d.last_used_at),
                })
            })
            .collect(),
    ))
}

async fn my_trusted_devices(Caller { app, who, .. }: Caller) -> Result<Json<Value>, Failure> {
    list_devices(&app, &who.user).await
}

async fn trusted_devices(
    Caller { app, who, .. }: Caller,
    Path(user): Path<String>,
) -> Result<Json<Value>, Failure> {
    let (user, _) = target(&app, &who, &user).await?;
    list_devices(&app, &user).await
}

async fn remove_device(
    app: &AppState,
    who: &Principal,
    user: &str,
    device: &str,
    client: &ClientInfo,
) -> Result<StatusCode, Failure> {
    let (user, admin) = target(app, who, user).await?;
    let services = app.services();
    let devices = services.trusted_devices_of(user.id).await.map_err(common)?;
    let id = resolve(device, devices.iter().map(|d| d.id), "trusted device")?;
    services
        .remove_trusted_device(&user, id, admin.unwrap_or(who.user.id), client)
        .await
        .map_err(common)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn delete_my_trusted_device(
    Caller { app, who, client }: Caller,
    Path(device): Path<String>,
) -> Result<StatusCode, Failure> {
    remove_device(&app, &who, "my", &device, &client).await
}

async fn delete_trusted_device(
    Caller { app, who, client }: Caller,
    Path((user, device)): Path<(String, String)>,
) -> Result<StatusCode, Failure> {
    remove_device(&app, &who, &user, &device, &client).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_name_keys_among_a_users_own() {
        let a = uuid::Uuid::now_v7();
        let b = uuid::Uuid::now_v7();
        let n = alias(a);
        assert!(n > 0 && n < 1 << 24);
        assert_eq!(resolve(&n.to_string(), [a, b], "key").unwrap(), a);
        assert_eq!(resolve(&format!("{n}.0"), [a, b], "key").unwrap(), a);
        assert_eq!(resolve(&b.to_string(), [a], "key").unwrap(), b);
        assert!(resolve("0", [a, b], "key").is_err());
        assert!(resolve("x", [a, b], "key").is_err());
    }

    #[test]
    fn codes_come_as_numbers_or_strings() {
        assert_eq!(code_text(Some(&json!(12345))).as_deref(), Some("012345"));
        assert_eq!(code_text(Some(&json!("123456"))).as_deref(), Some("123456"));
        assert_eq!(code_text(Some(&json!(""))), None);
        assert_eq!(code_text(None), None);
    }
}
