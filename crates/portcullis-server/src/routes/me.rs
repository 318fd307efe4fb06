//! The signed-in user's own account.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    ChangePasswordRequest, DeleteAccountRequest, Problem as ProblemBody, RolesResponse,
    SessionList, UpdateUserRequest, User,
};
use portcullis_core::service::{ChangePasswordInput, Proof, UpdateProfileInput};
use portcullis_core::{ClientInfo, SessionId};
use uuid::Uuid;

use crate::convert;
use crate::extract::{ApiJson, ApiPath, Auth, Client, EnrolAuth, OptionalJson};
use crate::{AppState, Problem};

/// The profile part of an update; `roles` and `active` are refused (they are admin matters).
pub(crate) fn profile_input(body: UpdateUserRequest, client: ClientInfo) -> UpdateProfileInput {
    UpdateProfileInput {
        email: body.email.into(),
        phone: body.phone.into(),
        username: body.username.into(),
        first_name: body.first_name.into(),
        last_name: body.last_name.into(),
        attributes: body.attributes,
        client,
    }
}

/// The signed-in user.
#[utoipa::path(get, path = "/v1/users/me", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, body = User),
        (status = 401, description = "`unauthorized` or `token_invalid`", body = ProblemBody),
    ))]
pub(crate) async fn get_me(EnrolAuth(who): EnrolAuth) -> Json<User> {
    Json(convert::user(who.user))
}

/// Change the own profile. Only fields sent change; `null` clears one; a new email or phone
/// becomes unverified. `roles` is refused.
#[utoipa::path(patch, path = "/v1/users/me", tag = "me", security(("bearer" = [])), request_body = UpdateUserRequest,
    responses(
        (status = 200, body = User),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 401, description = "`unauthorized` or `token_invalid`", body = ProblemBody),
        (status = 409, description = "`duplicate`", body = ProblemBody),
    ))]
pub(crate) async fn update_me(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<Json<User>, Problem> {
    if body.roles.is_some() {
        return Err(Problem::invalid(
            "roles",
            "roles are changed by an administrator, not here",
        ));
    }
    if body.active.is_some() {
        return Err(Problem::invalid(
            "active",
            "an account is (de)activated by an administrator, not here",
        ));
    }
    let user = app
        .services
        .update_me(&who, profile_input(body, client))
        .await?;
    Ok(Json(convert::user(user)))
}

/// Delete the own account and all its data (sessions, roles, everything).
#[utoipa::path(delete, path = "/v1/users/me", tag = "me", security(("bearer" = [])), request_body = DeleteAccountRequest,
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`validation_failed`: password missing", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`, `unauthorized` or `token_invalid`", body = ProblemBody),
        (status = 403, description = "`account_locked`: too many wrong passwords; see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn delete_me(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    OptionalJson(body): OptionalJson<DeleteAccountRequest>,
) -> Result<StatusCode, Problem> {
    app.services
        .delete_me(&who, Proof::password(body.password.as_deref()), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The own roles, with the date each was granted.
#[utoipa::path(get, path = "/v1/users/me/roles", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, body = RolesResponse),
        (status = 401, description = "`unauthorized` or `token_invalid`", body = ProblemBody),
    ))]
pub(crate) async fn get_my_roles(Auth(who): Auth) -> Json<RolesResponse> {
    Json(convert::roles(who.user.roles))
}

/// Change the own password; every other session ends.
#[utoipa::path(post, path = "/v1/users/me/password", tag = "me", security(("bearer" = [])), request_body = ChangePasswordRequest,
    responses(
        (status = 204, description = "Changed"),
        (status = 400, description = "`validation_failed` or `weak_password`", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`: wrong current password", body = ProblemBody),
        (status = 403, description = "`account_locked`: too many wrong passwords; see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn change_my_password(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiJson(body): ApiJson<ChangePasswordRequest>,
) -> Result<StatusCode, Problem> {
    let input = ChangePasswordInput {
        current_password: body.current_password,
        new_password: body.new_password,
        client,
    };
    app.services.change_password(&who, input).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The own live sessions, newest first.
#[utoipa::path(get, path = "/v1/users/me/sessions", tag = "me", security(("bearer" = [])),
    responses(
        (status = 200, body = SessionList),
        (status = 401, description = "`unauthorized` or `token_invalid`", body = ProblemBody),
    ))]
pub(crate) async fn list_my_sessions(
    State(app): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<SessionList>, Problem> {
    let sessions = app.services.my_sessions(&who).await?;
    let items = sessions
        .into_iter()
        .map(|s| convert::session(s, who.session_id))
        .collect();
    Ok(Json(SessionList {
        items,
        next_cursor: None,
    }))
}

/// End one of the own sessions.
#[utoipa::path(delete, path = "/v1/users/me/sessions/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Session id")),
    responses(
        (status = 204, description = "Ended"),
        (status = 401, description = "`unauthorized` or `token_invalid`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn delete_my_session(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    app.services
        .revoke_my_session(&who, SessionId(id), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
