//! Application tokens: made, listed and revoked by their owner (and by admins), and
//! exchanged for access tokens.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    AccessToken, AppTokenExchange, AppTokenList, CreateAppTokenRequest, CreatedAppToken,
    Problem as ProblemBody,
};
use portcullis_core::UserId;
use uuid::Uuid;

use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, Auth, Client};
use crate::{AppState, Problem};

/// Make an application token; its secret is in this answer only.
#[utoipa::path(post, path = "/v1/users/me/app-tokens", tag = "me", security(("bearer" = [])), request_body = CreateAppTokenRequest,
    responses(
        (status = 201, body = CreatedAppToken),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`: guest accounts cannot", body = ProblemBody),
    ))]
pub(crate) async fn create_app_token(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiJson(body): ApiJson<CreateAppTokenRequest>,
) -> Result<(StatusCode, Json<CreatedAppToken>), Problem> {
    let made = app
        .services
        .create_app_token(&who, &body.description, body.expires_at, &client)
        .await?;
    let details = convert::app_token(made.token);
    Ok((
        StatusCode::CREATED,
        Json(CreatedAppToken {
            token: made.secret,
            details,
        }),
    ))
}

/// The own application tokens (never their secrets).
#[utoipa::path(get, path = "/v1/users/me/app-tokens", tag = "me", security(("bearer" = [])),
    responses((status = 200, body = AppTokenList), (status = 401, description = "`unauthorized`", body = ProblemBody)))]
pub(crate) async fn list_app_tokens(
    State(app): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<AppTokenList>, Problem> {
    Ok(Json(convert::app_tokens(
        app.services.my_app_tokens(&who).await?,
    )))
}

/// Revoke an own application token and every access token made from it.
#[utoipa::path(delete, path = "/v1/users/me/app-tokens/{id}", tag = "me", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Application token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn delete_app_token(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    app.services.revoke_my_app_token(&who, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's application tokens (admin).
#[utoipa::path(get, path = "/v1/users/{id}/app-tokens", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = AppTokenList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn list_user_app_tokens(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AppTokenList>, Problem> {
    Ok(Json(convert::app_tokens(
        app.services.user_app_tokens(&admin, UserId(id)).await?,
    )))
}

/// Revoke a user's application token (admin).
#[utoipa::path(delete, path = "/v1/users/{id}/app-tokens/{token_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"), ("token_id" = Uuid, Path, description = "Application token id")),
    responses((status = 204, description = "Revoked"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn delete_user_app_token(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((id, token_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services
        .admin_revoke_app_token(&admin, UserId(id), token_id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Exchange an application token for an access token (`amr: ["app_token"]`, no refresh token).
#[utoipa::path(post, path = "/v1/auth/app-token", tag = "auth", request_body = AppTokenExchange,
    responses(
        (status = 200, body = AccessToken),
        (status = 401, description = "`token_invalid`: unknown, revoked or expired", body = ProblemBody),
        (status = 403, description = "`account_inactive`", body = ProblemBody),
    ))]
pub(crate) async fn exchange_app_token(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<AppTokenExchange>,
) -> Result<Json<AccessToken>, Problem> {
    let access = app
        .services
        .exchange_app_token(&body.token, &client)
        .await?;
    Ok(Json(AccessToken {
        access_token: access.access_token,
        token_type: "Bearer".to_owned(),
        expires_in: access.expires_in,
    }))
}
