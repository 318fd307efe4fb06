//! Administration of users and the audit log (`org_admin` within its organization,
//! `system_admin` everywhere).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use portcullis_api::{
    AuditEventList, CreateUserRequest, Problem as ProblemBody, RolesResponse, SetRolesRequest,
    UpdateUserRequest, User, UserList,
};
use portcullis_core::ids::AuditId;
use portcullis_core::service::{AdminCreateInput, AdminUpdateInput, RegisterInput};
use portcullis_core::store::{AuditFilter, UserFilter};
use portcullis_core::UserId;
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{limit, me::profile_input};
use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery, Client};
use crate::{AppState, Problem};

/// Filters of the user list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListUsersQuery {
    /// Case-insensitive part of the email, phone, username or names.
    query: Option<String>,
    /// Holds this role.
    role: Option<String>,
    /// Active or deactivated.
    active: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct AuditQuery {
    /// Events about this user.
    user_id: Option<Uuid>,
    /// Events of this type, such as `login.failed`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    kind: Option<String>,
    /// Events at or after this time (RFC 3339).
    since: Option<DateTime<Utc>>,
    /// Events before this time (RFC 3339).
    until: Option<DateTime<Utc>>,
    /// Page size, 1 to 200 (default 50).
    limit: Option<usize>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

pub(super) fn cursor<T: std::str::FromStr>(raw: Option<&str>) -> Result<Option<T>, Problem> {
    raw.filter(|c| !c.is_empty())
        .map(|c| {
            c.parse()
                .map_err(|_| Problem::invalid("cursor", "is not a cursor this server gave out"))
        })
        .transpose()
}

pub(super) fn next_cursor<T>(
    items: &[T],
    limit: usize,
    id: impl Fn(&T) -> String,
) -> Option<String> {
    (items.len() == limit)
        .then(|| items.last().map(id))
        .flatten()
}

/// List and search users.
#[utoipa::path(get, path = "/v1/users", tag = "admin", security(("bearer" = [])), params(ListUsersQuery),
    responses(
        (status = 200, body = UserList),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 401, description = "`unauthorized` or `token_invalid`", body = ProblemBody),
        (status = 403, description = "`forbidden`: not an admin", body = ProblemBody),
    ))]
pub(crate) async fn list_users(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<ListUsersQuery>,
) -> Result<Json<UserList>, Problem> {
    let limit = limit(q.limit)?;
    let filter = UserFilter {
        org_id: None,
        query: q
            .query
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty()),
        role: q.role,
        active: q.active,
        after: cursor::<Uuid>(q.cursor.as_deref())?.map(UserId),
        limit,
    };
    let users = app.services.list_users(&admin, filter).await?;
    let next = next_cursor(&users, limit, |u| u.id.to_string());
    Ok(Json(UserList {
        items: users.into_iter().map(convert::user).collect(),
        next_cursor: next,
    }))
}

/// Create a user, optionally with roles and verified addresses.
#[utoipa::path(post, path = "/v1/users", tag = "admin", security(("bearer" = [])), request_body = CreateUserRequest,
    responses(
        (status = 201, body = User),
        (status = 400, description = "`validation_failed` or `weak_password`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`: organization out of reach", body = ProblemBody),
        (status = 409, description = "`duplicate`", body = ProblemBody),
    ))]
pub(crate) async fn create_user(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiJson(body): ApiJson<CreateUserRequest>,
) -> Result<(StatusCode, Json<User>), Problem> {
    let a = body.account;
    let input = AdminCreateInput {
        account: RegisterInput {
            email: a.email,
            password: a.password,
            phone: a.phone,
            username: a.username,
            first_name: a.first_name,
            last_name: a.last_name,
            attributes: a.attributes,
            organization: a.organization,
            client,
        },
        roles: body.roles,
        verified: body.verified,
    };
    let user = app.services.admin_create_user(&admin, input).await?;
    Ok((StatusCode::CREATED, Json(convert::user(user))))
}

/// One user.
#[utoipa::path(get, path = "/v1/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = User),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn get_user(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<User>, Problem> {
    Ok(Json(convert::user(
        app.services.get_user(&admin, UserId(id)).await?,
    )))
}

/// Change a user's profile; `active: false` deactivates the account and ends its sessions.
#[utoipa::path(patch, path = "/v1/users/{id}", tag = "admin", security(("bearer" = [])), request_body = UpdateUserRequest,
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = User),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
        (status = 409, description = "`duplicate`", body = ProblemBody),
    ))]
pub(crate) async fn update_user(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<UpdateUserRequest>,
) -> Result<Json<User>, Problem> {
    if body.roles.is_some() {
        return Err(Problem::invalid("roles", "use PUT /v1/users/{id}/roles"));
    }
    let active = body.active;
    let input = AdminUpdateInput {
        profile: profile_input(body, client),
        active,
    };
    Ok(Json(convert::user(
        app.services
            .admin_update_user(&admin, UserId(id), input)
            .await?,
    )))
}

/// Delete a user and all their data.
#[utoipa::path(delete, path = "/v1/users/{id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn delete_user(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    app.services
        .admin_delete_user(&admin, UserId(id), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replace a user's roles (`user` is always kept; only a `system_admin` grants `system_admin`).
#[utoipa::path(put, path = "/v1/users/{id}/roles", tag = "admin", security(("bearer" = [])), request_body = SetRolesRequest,
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 200, body = RolesResponse),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn set_user_roles(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<SetRolesRequest>,
) -> Result<Json<RolesResponse>, Problem> {
    let roles = app
        .services
        .admin_set_roles(&admin, UserId(id), &body.roles, &client)
        .await?;
    Ok(Json(convert::roles(roles)))
}

/// End every session of a user.
#[utoipa::path(post, path = "/v1/users/{id}/sessions/revoke", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 204, description = "Every session ended"),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn revoke_user_sessions(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    app.services
        .admin_revoke_sessions(&admin, UserId(id), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The audit log, newest first.
#[utoipa::path(get, path = "/v1/audit-events", tag = "admin", security(("bearer" = [])), params(AuditQuery),
    responses(
        (status = 200, body = AuditEventList),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
    ))]
pub(crate) async fn list_audit_events(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditEventList>, Problem> {
    let limit = limit(q.limit)?;
    let filter = AuditFilter {
        org_id: None,
        user_id: q.user_id.map(UserId),
        kind: q.kind.filter(|k| !k.is_empty()),
        since: q.since,
        until: q.until,
        before: cursor::<Uuid>(q.cursor.as_deref())?.map(AuditId),
        limit,
    };
    let events = app.services.list_audit(&admin, filter).await?;
    let next = next_cursor(&events, limit, |e| e.id.to_string());
    Ok(Json(AuditEventList {
        items: events.into_iter().map(convert::audit_event).collect(),
        next_cursor: next,
    }))
}
