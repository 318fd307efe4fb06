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

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post};
use axum::Json;
use portcullis_core::model::Organization;
use portcullis_core::service::{
    AdminCreateInput, AdminUpdateInput, ChangePasswordInput, CodeRequest, CodeSubmission,
    DeviceInput, LoginInput, Patch, Proof, RegisterInput, SecondFactor, Tokens, UpdateProfileInput,
    DEVICE_PREFIX,
};
use portcullis_core::{AuthError, ClientInfo, FieldError, Principal, User, UserId};
use portcullis_server::{AppState, Client, Router};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::envelope::{self, bearer, given, BodyError};

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
        e @ (AuthError::Store(_) | AuthError::Internal(_)) => {
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

/// The application's profile fields, as kept in `attributes`.
const PROFILE: [(&str, &str); 4] = [
    ("Gender", "gender"),
    ("DateOfBirth", "date_of_birth"),
    ("HeightCm", "height_cm"),
    ("WeightKg", "weight_kg"),
];

fn account_view(app: &AppState, u: &User) -> Value {
    let attribute = |key: &str| {
        u.attributes
            .as_map()
            .get(key)
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut view = json!({
        "ID": u.id.to_string(),
        "OrganizationID": u.org_id.to_string(),
        "RoleID": dfx_role(u).0,
        "StatusID": if u.active { "ACTIVE" } else { "INACTIVE" },
        "Email": u.email,
        "FirstName": u.first_name,
        "LastName": u.last_name,
        "PhoneNumber": u.phone,
        "IsVerified": u.email_verified || u.phone_verified,
        "MFAEnabled": u.mfa_enabled,
        "LoginMethod": if u.email.is_some() { "EMAIL" } else { "PHONE" },
        "Created": u.created_at.timestamp(),
        "Updated": u.updated_at.timestamp(),
        "Region": app.services().config().issuer,
        // Fields of the DeepAffex record that Portcullis does not keep (or never shows).
        "ResetToken": null,
        "ResetTokenDate": null,
        "AvatarURI": null,
        "VerificationCode": null,
        "DeviceID": null,
        "SSOID": null,
    });
    for (name, key) in PROFILE {
        view[name] = attribute(key);
    }
    view
}

fn tokens(t: &Tokens) -> Response {
    ok(json!({ "Token": t.access_token, "RefreshToken": t.refresh_token }))
}

async fn status(State(app): State<AppState>) -> Response {
    let up = app.services().ready().await.is_ok();
    ok(json!({
        "StatusID": if up { "ACTIVE" } else { "ERROR" },
        "Version": env!("CARGO_PKG_VERSION"),
        "Region": app.services().config().issuer,
        "AllowAnonymous": false,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LicenseBody {
    key: Flex,
    #[serde(rename = "DeviceTypeID")]
    device_type_id: Flex,
    name: Flex,
    identifier: Flex,
    token_subject: Flex,
}

async fn register_license(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<LicenseBody>(body)?;
    if body.token_subject.text().is_some() {
        return Err(Failure::bad(
            "TokenSubject (tokens locked to a Referer) is not supported; leave it empty.",
        ));
    }
    let (device, token, _org) = app
        .services()
        .register_device(DeviceInput {
            license_key: body.key.text().unwrap_or_default(),
            name: body.name.text().unwrap_or_default(),
            device_type: body.device_type_id.text(),
            identifier: body.identifier.text(),
            client,
        })
        .await
        .map_err(common)?;
    Ok(ok(json!({
        "DeviceID": device.id.to_string(),
        "Token": token,
        "RefreshToken": app.services().device_refresh_token(&token),
        "RoleID": "DFX_DEVICE",
        "UserID": null,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct UserBody {
    first_name: Flex,
    last_name: Flex,
    email: Flex,
    password: Flex,
    phone_number: Flex,
    gender: Flex,
    date_of_birth: Flex,
    height_cm: Flex,
    weight_kg: Flex,
}

impl UserBody {
    /// The profile fields given, for `attributes`; `None` when none is.
    fn attributes(&self) -> Option<Value> {
        let given: Map<String, Value> = [
            (&self.gender, "gender"),
            (&self.date_of_birth, "date_of_birth"),
            (&self.height_cm, "height_cm"),
            (&self.weight_kg, "weight_kg"),
        ]
        .into_iter()
        .filter_map(|(v, key)| Some((key.to_owned(), Value::String(v.text()?))))
        .collect();
        (!given.is_empty()).then_some(Value::Object(given))
    }

    fn account(&self, organization: String, client: ClientInfo) -> RegisterInput {
        RegisterInput {
            email: self.email.text(),
            password: self.password.text(),
            phone: self.phone_number.text(),
            first_name: self.first_name.text(),
            last_name: self.last_name.text(),
            attributes: self.attributes(),
            organization: Some(organization),
            client,
            ..RegisterInput::default()
        }
    }
}

/// `users.create`: with a device token, the user registers in the device's organization;
/// with a user token, an admin of the organization creates the user.
async fn create(
    State(app): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<UserBody>(body)?;
    let token = bearer(&headers).ok_or_else(Failure::unauthorized)?;
    let services = app.services();
    let user = if token.starts_with(DEVICE_PREFIX) {
        let org = services
            .device_org(token)
            .await
            .map_err(|_| Failure::unauthorized())?;
        services.register(body.account(org.slug, client)).await
    } else {
        let who = services
            .authenticate(token)
            .await
            .map_err(|_| Failure::unauthorized())?;
        let admin = services.admin(who).map_err(common)?;
        let org = admin.actor().user.org_slug.clone();
        services
            .admin_create_user(
                &admin,
                AdminCreateInput {
                    account: body.account(org, client),
                    roles: Vec::new(),
                    verified: false,
                },
            )
            .await
    }
    .map_err(common)?;
    Ok(ok(json!({ "ID": user.id.to_string() })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LoginBody {
    email: Flex,
    password: Flex,
    #[serde(rename = "MFAToken")]
    mfa_token: Flex,
}

async fn login(
    Device {
        app, token, client, ..
    }: Device,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<LoginBody>(body)?;
    let t = app
        .services()
        .login(LoginInput {
            identifier: body.email.text().unwrap_or_default(),
            password: body.password.text().unwrap_or_default(),
            device_token: Some(token),
            second_factor: SecondFactor {
                mfa_code: body.mfa_token.code(),
                ..SecondFactor::default()
            },
            client,
            ..LoginInput::default()
        })
        .await
        .map_err(common)?;
    Ok(tokens(&t))
}

async fn retrieve(Signed { app, who, .. }: Signed) -> Response {
    ok(account_view(&app, &who.user))
}

/// `users.update`: only the fields given change (`Password` is not changed here: that takes
/// the current one, through `users/changepassword`).
async fn update(
    Signed { app, who, client }: Signed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<UserBody>(body)?;
    let set = |v: &Flex| v.text().map_or(Patch::Keep, Patch::Set);
    app.services()
        .update_me(
            &who,
            UpdateProfileInput {
                email: set(&body.email),
                phone: set(&body.phone_number),
                username: Patch::Keep,
                first_name: set(&body.first_name),
                last_name: set(&body.last_name),
                attributes: body.attributes(),
                client,
            },
        )
        .await
        .map_err(common)?;
    Ok(ok(json!({})))
}

async fn remove(Signed { app, who, client }: Signed) -> Result<Response, Failure> {
    app.services()
        .delete_me(&who, Proof::RecentSignIn, &client)
        .await
        .map_err(common)?;
    Ok(ok(json!({})))
}

async fn logout(Signed { app, who, client }: Signed) -> Result<Response, Failure> {
    app.services()
        .logout_all(&who, &client)
        .await
        .map_err(common)?;
    Ok(success())
}

async fn role(Signed { who, .. }: Signed) -> Response {
    let (name, description) = dfx_role(&who.user);
    ok(json!({
        "ID": name,
        "Name": name,
        "Description": description,
        "Organization": who.user.org_id.to_string(),
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PhoneCodeBody {
    login_code: Flex,
    phone_number: Flex,
    org_key: Flex,
}

async fn login_with_phone_code(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<PhoneCodeBody>(body)?;
    let t = app
        .services()
        .login_with_code(CodeSubmission {
            phone: body.phone_number.text(),
            code: body.login_code.code(),
            organization: body.org_key.text(),
            client,
            ..CodeSubmission::default()
        })
        .await
        .map_err(common)?;
    Ok(tokens(&t))
}

async fn send_login_code(
    app: &AppState,
    phone: Option<String>,
    organization: Option<String>,
    client: ClientInfo,
) -> Result<Response, Failure> {
    if phone.is_none() {
        return Err(Failure::bad("PhoneNumber is required."));
    }
    app.services()
        .request_login_code(CodeRequest {
            phone,
            organization,
            client,
            ..CodeRequest::default()
        })
        .await
        .map_err(common)?;
    Ok(success())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LoginCodeBody {
    phone_number: Flex,
    identifier: Flex,
}

/// `PATCH auths/users/code` (the Python client).
async fn request_login_code(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<LoginCodeBody>(body)?;
    send_login_code(
        &app,
        body.phone_number.text(),
        body.identifier.text(),
        client,
    )
    .await
}

/// `GET users/auth/code/{OrgKey}/{PhoneNumber}`: the phone's `+` arrives unencoded, and is
/// kept.
async fn request_login_code_by_path(
    State(app): State<AppState>,
    Client(client): Client,
    Path((org, phone)): Path<(String, String)>,
) -> Result<Response, Failure> {
    send_login_code(&app, Some(phone), Some(org), client).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct VerifyBody {
    verification_code: Flex,
    #[serde(rename = "ID")]
    id: Flex,
}

fn user_id(raw: Option<String>) -> Result<UserId, Failure> {
    raw.and_then(|s| s.parse().ok())
        .ok_or_else(|| Failure::bad("ID is not a user ID."))
}

async fn verify(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<VerifyBody>(body)?;
    let id = user_id(body.id.text())?;
    let code = body
        .verification_code
        .code()
        .ok_or_else(|| Failure::bad("VerificationCode is required."))?;
    app.services()
        .verify_account(None, id, &code, &client)
        .await
        .map_err(common)?;
    Ok(success())
}

/// Answers the same whether the user exists.
async fn send_activation_code(
    State(app): State<AppState>,
    Client(client): Client,
    Path((user, org)): Path<(String, String)>,
) -> Result<Response, Failure> {
    if let Ok(id) = user.parse::<UserId>() {
        app.services()
            .resend_verification_to(Some(&org), id, &client)
            .await
            .map_err(common)?;
    }
    Ok(ok(json!({
        "success": true,
        "Message": "If the account has an address to verify, a code is on its way.",
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChangePasswordBody {
    identifier: Flex,
    email: Flex,
    password: Flex,
    new_password: Flex,
}

async fn change_password(
    Signed { app, who, client }: Signed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<ChangePasswordBody>(body)?;
    same_org(&body.identifier, &who.user.org_slug)?;
    if let Some(email) = body.email.text() {
        if !who
            .user
            .email
            .as_deref()
            .is_some_and(|own| own.eq_ignore_ascii_case(&email))
        {
            return Err(Failure::bad("Email is not the email of this user."));
        }
    }
    app.services()
        .change_password(
            &who,
            ChangePasswordInput {
                current_password: body.password.text().unwrap_or_default(),
                new_password: body.new_password.text().unwrap_or_default(),
                client,
            },
        )
        .await
        .map_err(common)?;
    Ok(success())
}

/// `users.createTwoFactorAuthSecret` (GET, and POST from the Python client): a pending key
/// changes nothing until a code from it enables it, so no re-authentication is asked.
async fn mfa_secret(
    Enrolling(Signed { app, who, client }): Enrolling,
) -> Result<Response, Failure> {
    let key = app
        .services()
        .create_mfa_key(&who, "totp", Proof::Nothing, &client)
        .await
        .map_err(common)?;
    Ok(ok(json!({
        "secretBase32Encoded": key.secret_base32,
        "url": key.otpauth_uri,
        "qrcode": key.qr_code_png,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MfaBody {
    #[serde(rename = "MFASecret")]
    mfa_secret: Flex,
    #[serde(rename = "MFAToken")]
    mfa_token: Flex,
    password: Flex,
}

/// `users.enableTwoFactorAuthForLoggedInUser`; the answer adds the recovery codes, shown
/// this once (the clients ignore fields they do not know).
async fn mfa_enable(
    Enrolling(Signed { app, who, client }): Enrolling,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<MfaBody>(body)?;
    let secret = body
        .mfa_secret
        .text()
        .ok_or_else(|| Failure::bad("MFASecret is required."))?;
    let code = body
        .mfa_token
        .code()
        .ok_or_else(|| Failure::bad("MFAToken is required."))?;
    let services = app.services();
    let id = services
        .pending_mfa_key_with_secret(&who, &secret)
        .await
        .map_err(common)?;
    let (_, recovery_codes) = services
        .activate_mfa_key(&who, id, &code, &client)
        .await
        .map_err(common)?;
    Ok(ok(
        json!({ "success": true, "RecoveryCodes": recovery_codes }),
    ))
}

/// `users.disableTwoFactorAuthForLoggedInUser`: a `Password` or current `MFAToken` in the
/// body is checked when sent; without one, the sign-in must be recent.
async fn mfa_disable(
    Signed { app, who, client }: Signed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<MfaBody>(body)?;
    let (password, code) = (body.password.text(), body.mfa_token.code());
    let proof = if password.is_some() || code.is_some() {
        Proof::Secret {
            password: password.as_deref(),
            mfa_code: code.as_deref(),
        }
    } else {
        Proof::RecentSignIn
    };
    app.services()
        .disable_my_mfa(&who, proof, &client)
        .await
        .map_err(common)?;
    Ok(success())
}

fn path_user(raw: &str) -> Result<UserId, Failure> {
    // An id that names no user is a user not found.
    raw.parse()
        .map_err(|_| Failure::new(StatusCode::NOT_FOUND, "NOT_FOUND", "No such user."))
}

async fn admin_mfa_disable(
    Signed { app, who, client }: Signed,
    Path(user): Path<String>,
) -> Result<Response, Failure> {
    let id = path_user(&user)?;
    let services = app.services();
    let admin = services.admin(who).map_err(common)?;
    services
        .admin_disable_mfa(&admin, id, &client)
        .await
        .map_err(common)?;
    Ok(success())
}

/// `users.delete`: an admin removes the application data kept for a user (the DeepAffex
/// profile fields, and any other `attributes`); the account stays.
async fn delete_user_data(
    Signed { app, who, client }: Signed,
    Path(user): Path<String>,
) -> Result<Response, Failure> {
    let id = path_user(&user)?;
    let services = app.services();
    let admin = services.admin(who).map_err(common)?;
    let target = services.managed_user(&admin, id).await.map_err(common)?;
    let cleared: Map<String, Value> = target
        .attributes
        .as_map()
        .keys()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    if !cleared.is_empty() {
        services
            .admin_update_user(
                &admin,
                id,
                AdminUpdateInput {
                    profile: UpdateProfileInput {
                        attributes: Some(Value::Object(cleared)),
                        client,
                        ..UpdateProfileInput::default()
                    },
                    active: None,
                },
            )
            .await
            .map_err(common)?;
    }
    Ok(ok(json!({})))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResetBody {
    email: Flex,
    identifier: Flex,
}

/// `auths.requestResetPasswordLink`: answers the same whether the account exists.
async fn reset_link(
    Device {
        app, org, client, ..
    }: Device,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<ResetBody>(body)?;
    same_org(&body.identifier, &org.slug)?;
    let email = body
        .email
        .text()
        .ok_or_else(|| Failure::bad("Email is required."))?;
    app.services()
        .forgot_password(CodeRequest {
            email: Some(email),
            organization: Some(org.slug),
            client,
            ..CodeRequest::default()
        })
        .await
        .map_err(common)?;
    Ok(success())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RenewBody {
    token: Flex,
    refresh_token: Flex,
    phone_number: Flex,
    identifier: Flex,
}

/// `auths.renew`, authenticated by the pair in the body (the header carries the device
/// token, maybe expired). A user pair or a device pair; and the JS client's
/// `auths.requestLoginCode`, which posts `{PhoneNumber, Identifier}` here.
async fn renew(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<RenewBody>(body)?;
    let services = app.services();
    match (body.token.text(), body.refresh_token.text()) {
        (Some(token), Some(refresh)) if token.starts_with(DEVICE_PREFIX) => {
            let (token, refresh) = services
                .renew_device(&token, &refresh, &client)
                .await
                .map_err(common)?;
            Ok(ok(json!({ "Token": token, "RefreshToken": refresh })))
        }
        (Some(token), Some(refresh)) => {
            let t = services
                .refresh_pair(&token, &refresh, &client)
                .await
                .map_err(common)?;
            Ok(tokens(&t))
        }
        (None, None) if body.phone_number.text().is_some() => {
            send_login_code(
                &app,
                body.phone_number.text(),
                body.identifier.text(),
                client,
            )
            .await
        }
        _ => Err(Failure::bad("Token and RefreshToken are required.")),
    }
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
