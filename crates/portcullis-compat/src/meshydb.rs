//! MeshyDB (`004_244e43d8a199c83d.txt`) under `/meshydb/{accountName}`: the account name is
//! the organization's slug. The five user routes of the document with their 204/400/401/
//! 403/429 rules and messages, and what a MeshyDB client needs first: an OAuth2-style
//! `POST /connect/token` (password and refresh-token grants, form-encoded).
//!
//! Errors are `{"message": "..."}` with the document's texts; the token endpoint answers
//! OAuth2's `{"error", "error_description"}`. A user's `username` is the username, or the
//! email or phone the account signs in with when it has none; security answers are kept
//! only as hashes, so a question's `answer` always reads `"..."`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use std::collections::HashMap;

use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{post, put};
use axum::Json;
use portcullis_core::service::{
    AdminUpdateInput, ChangePasswordInput, LoginInput, Patch, QuestionAnswer, Tokens,
    UpdateProfileInput,
};
use portcullis_core::{AuthError, ClientInfo, FieldError, Principal, User, UserId};
use portcullis_server::{AppState, Client, Router};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::envelope::{self, given, BodyError};

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/connect/token", post(token))
        .route("/users/register/anonymous", post(register_anonymous))
        .route("/users/me", put(update_me))
        .route("/users/{id}", put(update_user))
        .route("/users/me/questions", post(my_questions))
        .route("/users/{id}/questions", post(user_questions))
        .route("/users/me/password", post(change_password))
        .fallback(|| async { Failure::new(StatusCode::NOT_FOUND, "Route not found.") })
        .method_not_allowed_fallback(|| async {
            Failure::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed on this route.",
            )
        })
}

const UNAUTHORIZED: &str = "User is not authorized to make call.";
const NO_PERMISSION: &str = "User has insufficent permission to update users.";
const TOO_MANY: &str =
    "You have either hit your API or Database limit. Please review your account.";

/// An error in MeshyDB's shape.
#[derive(Debug)]
pub(crate) struct Failure {
    status: StatusCode,
    message: String,
    retry_after: Option<u64>,
    /// The internal cause of a 5xx, for the request log.
    cause: Option<String>,
}

impl Failure {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
            cause: None,
        }
    }

    fn bad(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut res = envelope::answer(
            self.status,
            json!({ "message": self.message }),
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
                "The request body is too large.",
            ),
            BodyError::Malformed(why) => {
                Self::bad(format!("The request body is not valid JSON: {why}."))
            }
        }
    }
}

/// A field error in the document's words where it has some.
fn field_message(f: &FieldError) -> String {
    match f.field.as_str() {
        "email" => "Email address must be in a valid format.".to_owned(),
        "phone" => "Phone number must be in an international format.".to_owned(),
        "new_password" | "password" => format!("New password {}.", f.message),
        "security_questions" => "At least one question is required.".to_owned(),
        other if other.ends_with(".question") => "Question text is required.".to_owned(),
        other if other.ends_with(".answer") => "Answer is required.".to_owned(),
        other => format!("{other} {}.", f.message),
    }
}

fn common(e: AuthError) -> Failure {
    match e {
        AuthError::Validation(f) | AuthError::WeakPassword(f) => {
            Failure::bad(f.iter().map(field_message).collect::<Vec<_>>().join(" "))
        }
        AuthError::Unauthorized | AuthError::TokenInvalid | AuthError::TokenReused => {
            Failure::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED)
        }
        AuthError::Forbidden(_) | AuthError::NotFound | AuthError::HookDenied(_) => {
            Failure::new(StatusCode::FORBIDDEN, NO_PERMISSION)
        }
        AuthError::RateLimited { retry_after_secs } | AuthError::Locked { retry_after_secs } => {
            Failure {
                retry_after: Some(retry_after_secs),
                ..Failure::new(StatusCode::TOO_MANY_REQUESTS, TOO_MANY)
            }
        }
        AuthError::Duplicate(what) => Failure::bad(format!("That {what} is already in use.")),
        AuthError::InvalidCredentials => {
            Failure::bad("Previous password does not match existing password.")
        }
        AuthError::Inactive => Failure::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED),
        AuthError::Overloaded { retry_after_secs } => Failure {
            retry_after: Some(retry_after_secs),
            ..Failure::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "The server is busy; try again shortly.",
            )
        },
        AuthError::MfaRequired { .. } | AuthError::CodeInvalid | AuthError::CodeExpired => {
            Failure::bad("A second factor is required.")
        }
        e @ (AuthError::Store(_) | AuthError::Internal(_) | AuthError::HookUnavailable) => {
            let u = portcullis_server::Unexpected::of(e);
            let message = if u.status == StatusCode::INTERNAL_SERVER_ERROR {
                "Internal server error."
            } else {
                "The server is busy; try again shortly."
            };
            Failure {
                retry_after: u.retry_after,
                cause: u.cause,
                ..Failure::new(u.status, message)
            }
        }
    }
}

/// The caller of a user route: signed in with `Authorization: Bearer`, a member of the
/// account in the path; with the services and where the request came from.
struct Caller {
    app: AppState,
    who: Principal,
    client: ClientInfo,
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, Failure> {
        let unauthorized = || Failure::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED);
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, app)
            .await
            .map_err(|_| unauthorized())?;
        let account = params.get("account").ok_or_else(unauthorized)?;
        let who = authenticate(app, &parts.headers).await?;
        if &who.user.org_slug != account {
            return Err(unauthorized());
        }
        let Ok(Client(client)) = Client::from_request_parts(parts, app).await;
        Ok(Self {
            app: app.clone(),
            who,
            client,
        })
    }
}

async fn authenticate(app: &AppState, headers: &HeaderMap) -> Result<Principal, Failure> {
    let token = envelope::bearer(headers)
        .ok_or_else(|| Failure::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED))?;
    app.services()
        .authenticate(token)
        .await
        .map_err(|_| Failure::new(StatusCode::UNAUTHORIZED, UNAUTHORIZED))
}

/// .NET's round-trip time format, as MeshyDB writes it.
fn net_time(t: chrono::DateTime<chrono::Utc>) -> String {
    use chrono::Timelike as _;
    // Seven fraction digits (100 ns ticks), which chrono's formats do not offer.
    let ticks = t.nanosecond() % 1_000_000_000 / 100;
    format!("{}.{ticks:07}+00:00", t.format("%Y-%m-%dT%H:%M:%S"))
}

async fn user_view(app: &AppState, u: &User) -> Result<Value, Failure> {
    let questions = app.services().question_texts(u).await.map_err(common)?;
    let username = u
        .username
        .as_ref()
        .or(u.email.as_ref())
        .or(u.phone.as_ref());
    Ok(json!({
        "id": u.id.to_string(),
        "username": username,
        "firstName": u.first_name,
        "lastName": u.last_name,
        "verified": u.email_verified || u.phone_verified,
        "isActive": u.active,
        "phoneNumber": u.phone,
        "emailAddress": u.email,
        "roles": u.roles.iter().map(|r| json!({"name": r.name, "addedDate": net_time(r.added_at)})).collect::<Vec<_>>(),
        "securityQuestions": questions.iter().map(|q| json!({"question": q, "answer": "..."})).collect::<Vec<_>>(),
        "anonymous": u.anonymous,
        "lastAccessed": u.last_login_at.map(net_time),
    }))
}

/// A field of a PUT: absent keeps, null or "" clears, a value sets.
fn patch(v: Option<Option<String>>) -> Patch<String> {
    match v {
        None => Patch::Keep,
        Some(v) => match given(v.as_deref()) {
            Some(s) => Patch::Set(s.to_owned()),
            None => Patch::Clear,
        },
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UserBody {
    #[serde(default, with = "double_option")]
    username: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    first_name: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    last_name: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    phone_number: Option<Option<String>>,
    #[serde(default, with = "double_option")]
    email_address: Option<Option<String>>,
    roles: Option<Value>,
}

/// `Option<Option<T>>` that tells an absent field (outer `None`) from a null one.
mod double_option {
    use serde::{Deserialize, Deserializer};

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

/// The role names a PUT body's `roles` lists, as MeshyDB answers them (`[{name, ...}]`) or
/// as plain names; `None` when it is neither.
fn role_names(roles: &Value) -> Option<std::collections::BTreeSet<String>> {
    roles
        .as_array()?
        .iter()
        .map(|r| {
            r.as_str()
                .or_else(|| r.get("name").and_then(Value::as_str))
                .map(str::to_owned)
        })
        .collect()
}

impl UserBody {
    /// The profile change; `target` is the user as stored, whose roles an app may send back
    /// unchanged (as it fetched them) but not change.
    fn profile(mut self, target: &User, client: ClientInfo) -> Result<UpdateProfileInput, Failure> {
        if let Some(roles) = &self.roles {
            let current: std::collections::BTreeSet<String> =
                target.roles.iter().map(|r| r.name.clone()).collect();
            if role_names(roles).as_ref() != Some(&current) {
                return Err(Failure::bad("Unable to change user roles via API."));
            }
        }
        if matches!(&self.email_address, Some(v) if given(v.as_deref()).is_none())
            && !target.anonymous
        {
            return Err(Failure::bad(
                "Email address is required when Email recovery is enabled and the user is not anonymous.",
            ));
        }
        // The view shows the email or phone as the username of an account without one; an
        // app sending that back is not asking for a change.
        let shown = target
            .username
            .as_ref()
            .or(target.email.as_ref())
            .or(target.phone.as_ref());
        if matches!(&self.username, Some(Some(v)) if Some(v) == shown) {
            self.username = None;
        }
        if matches!(&self.username, Some(v) if given(v.as_deref()).is_none()) {
            return Err(Failure::bad("Username is a required field."));
        }
        Ok(UpdateProfileInput {
            email: patch(self.email_address),
            phone: patch(self.phone_number),
            username: patch(self.username),
            first_name: patch(self.first_name),
            last_name: patch(self.last_name),
            attributes: None,
            client,
        })
    }
}

async fn update_me(
    Caller { app, who, client }: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Failure> {
    let input = envelope::json::<UserBody>(body)?.profile(&who.user, client)?;
    let user = app
        .services()
        .update_me(&who, input)
        .await
        .map_err(common)?;
    Ok(Json(user_view(&app, &user).await?))
}

fn user_id(raw: &str) -> Result<UserId, Failure> {
    // An id that names no user is a user this caller may not update.
    raw.parse()
        .map_err(|_| Failure::new(StatusCode::FORBIDDEN, NO_PERMISSION))
}

async fn update_user(
    Caller { app, who, client }: Caller,
    Path((_, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Failure> {
    let id = user_id(&id)?;
    let body = envelope::json::<UserBody>(body)?;
    let admin = app.services().admin(who).map_err(common)?;
    let target = app.services().get_user(&admin, id).await.map_err(common)?;
    let profile = body.profile(&target, client)?;
    let user = app
        .services()
        .admin_update_user(
            &admin,
            id,
            AdminUpdateInput {
                profile,
                active: None,
            },
        )
        .await
        .map_err(common)?;
    Ok(Json(user_view(&app, &user).await?))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct QuestionsBody {
    security_questions: Option<Vec<QuestionBody>>,
}

#[derive(Debug, Default, Deserialize)]
struct QuestionBody {
    question: Option<String>,
    answer: Option<String>,
}

impl QuestionsBody {
    fn items(self) -> Result<Vec<QuestionAnswer>, Failure> {
        let items = self.security_questions.unwrap_or_default();
        if items.is_empty() {
            return Err(Failure::bad("At least one question is required."));
        }
        items
            .into_iter()
            .map(|q| {
                let question = given(q.question.as_deref())
                    .ok_or_else(|| Failure::bad("Question text is required."))?;
                let answer = given(q.answer.as_deref())
                    .ok_or_else(|| Failure::bad("Answer is required."))?;
                Ok(QuestionAnswer {
                    question: question.to_owned(),
                    answer: answer.to_owned(),
                })
            })
            .collect()
    }
}

const NO_QUESTIONS_FOR_GUESTS: &str = "Anonymous user cannot have security questions.";

async fn my_questions(
    Caller { app, who, client }: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Failure> {
    if who.user.anonymous {
        return Err(Failure::bad(NO_QUESTIONS_FOR_GUESTS));
    }
    let items = envelope::json::<QuestionsBody>(body)?.items()?;
    app.services()
        .set_my_questions(&who, &items, &client)
        .await
        .map_err(common)?;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_questions(
    Caller { app, who, client }: Caller,
    Path((_, id)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Failure> {
    let id = user_id(&id)?;
    let items = envelope::json::<QuestionsBody>(body)?.items()?;
    let admin = app.services().admin(who).map_err(common)?;
    match app
        .services()
        .admin_set_questions(&admin, id, &items, &client)
        .await
    {
        Ok(()) => Ok(StatusCode::NO_CONTENT),
        // The only refusal left once the caller may manage the user: a guest account.
        Err(AuthError::Forbidden(why)) if why.contains("guest") => {
            Err(Failure::bad(NO_QUESTIONS_FOR_GUESTS))
        }
        Err(e) => Err(common(e)),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PasswordBody {
    new_password: Option<String>,
    previous_password: Option<String>,
}

async fn change_password(
    Caller { app, who, client }: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, Failure> {
    let b: PasswordBody = envelope::json(body)?;
    if who.user.anonymous {
        return Err(Failure::bad("Anonymous user cannot change password."));
    }
    let new_password = given(b.new_password.as_deref())
        .ok_or_else(|| Failure::bad("New password is required."))?;
    let previous = given(b.previous_password.as_deref())
        .ok_or_else(|| Failure::bad("Previous password is required."))?;
    app.services()
        .change_password(
            &who,
            ChangePasswordInput {
                current_password: previous.to_owned(),
                new_password: new_password.to_owned(),
                client,
            },
        )
        .await
        .map_err(common)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The token endpoint's answer: OAuth2's success or error shape.
enum Grant {
    Tokens(Box<Tokens>),
    Error(StatusCode, &'static str, String),
}

impl IntoResponse for Grant {
    fn into_response(self) -> Response {
        match self {
            Self::Tokens(t) => Json(json!({
                "access_token": t.access_token,
                "expires_in": t.expires_in,
                "token_type": "Bearer",
                "refresh_token": t.refresh_token,
            }))
            .into_response(),
            Self::Error(status, error, description) => (
                status,
                Json(json!({"error": error, "error_description": description})),
            )
                .into_response(),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
struct AnonymousBody {
    username: Option<String>,
}

/// `POST /users/register/anonymous` (MeshyDB's `registerAnonymousUser`): a guest of the
/// account, whose username is its credential: the one given when it is unguessable (the
/// clients send a random UUID), else a generated one. Answers 201 with the user.
async fn register_anonymous(
    State(app): State<AppState>,
    Path(account): Path<String>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<AnonymousBody>(body)?;
    let user = app
        .services()
        .register_guest_with_handle(Some(&account), given(body.username.as_deref()), &client)
        .await
        .map_err(|e| match e {
            AuthError::Validation(f) if f.iter().any(|f| f.field == "organization") => {
                Failure::new(StatusCode::NOT_FOUND, "Account not found.")
            }
            AuthError::Validation(f) => Failure::bad(
                f.iter()
                    .map(|f| format!("Username {}.", f.message))
                    .collect::<Vec<_>>()
                    .join(" "),
            ),
            AuthError::Forbidden(_) => Failure::new(
                StatusCode::FORBIDDEN,
                "Anonymous users are not allowed for this account.",
            ),
            e => common(e),
        })?;
    Ok((StatusCode::CREATED, Json(user_view(&app, &user).await?)).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct TokenForm {
    grant_type: Option<String>,
    username: Option<String>,
    password: Option<String>,
    refresh_token: Option<String>,
}

async fn token(
    State(app): State<AppState>,
    Path(account): Path<String>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Grant {
    let invalid = |d: &str| Grant::Error(StatusCode::BAD_REQUEST, "invalid_request", d.to_owned());
    let Ok(bytes) = body else {
        return invalid("the form could not be read");
    };
    let Ok(form) = serde_urlencoded::from_bytes::<TokenForm>(&bytes) else {
        return invalid("the body must be application/x-www-form-urlencoded");
    };
    let result = match form.grant_type.as_deref() {
        Some("password") => {
            let (Some(username), Some(password)) =
                (given(form.username.as_deref()), form.password.as_deref())
            else {
                return invalid("username and password are required");
            };
            // A guest signs in again by its handle alone (MeshyDB's `loginAnonymously`);
            // any other name goes on to the password.
            match app
                .services()
                .sign_in_guest(Some(&account), username, &client)
                .await
            {
                Err(AuthError::InvalidCredentials) => {
                    app.services()
                        .login(LoginInput {
                            identifier: username.to_owned(),
                            password: password.to_owned(),
                            organization: Some(account.clone()),
                            client,
                            ..LoginInput::default()
                        })
                        .await
                }
                guest => guest,
            }
        }
        Some("refresh_token") => {
            let Some(refresh) = given(form.refresh_token.as_deref()) else {
                return invalid("refresh_token is required");
            };
            app.services().refresh(refresh, &client).await
        }
        _ => {
            return Grant::Error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be password or refresh_token".to_owned(),
            )
        }
    };
    match result {
        Ok(t) if t.user.org_slug == account => Grant::Tokens(Box::new(t)),
        Ok(_) => Grant::Error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "the token belongs to another account".to_owned(),
        ),
        Err(AuthError::RateLimited { .. } | AuthError::Locked { .. }) => Grant::Error(
            StatusCode::TOO_MANY_REQUESTS,
            "invalid_grant",
            TOO_MANY.to_owned(),
        ),
        Err(AuthError::Overloaded { .. }) => Grant::Error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The server is busy; try again shortly.".to_owned(),
        ),
        Err(AuthError::Validation(_)) => Grant::Error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "no such account".to_owned(),
        ),
        Err(AuthError::Store(_) | AuthError::Internal(_)) => Grant::Error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "Internal server error.".to_owned(),
        ),
        Err(_) => Grant::Error(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            "The credentials are not valid.".to_owned(),
        ),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_written_as_dotnet_does() {
        let t = chrono::DateTime::from_timestamp(1_546_300_800, 123_456_789).unwrap();
        assert_eq!(super::net_time(t), "2019-01-01T00:00:00.1234567+00:00");
    }
}
