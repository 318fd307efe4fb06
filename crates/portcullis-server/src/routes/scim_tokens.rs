//! An organization's SCIM tokens: made (the secret shown once), listed and revoked by its
//! admins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    CreateScimTokenRequest, CreatedScimToken, Problem as ProblemBody, ScimToken, ScimTokenList,
};
use uuid::Uuid;

use crate::extract::{Admin, ApiJson, ApiPath, Client};
use crate::{AppState, Problem};

fn token(t: portcullis_core::store::ScimToken) -> ScimToken {
    ScimToken {
        id: t.id,
        description: t.description,
        prefix: t.prefix,
        created_at: t.created_at,
        created_by: t.created_by.map(|u| u.0),
        last_used_at: t.last_used_at,
    }
}

/// Make a SCIM token for the organization; its secret is in this answer only.
#[utoipa::path(post, path = "/v1/orgs/{slug}/scim-tokens", tag = "scim", security(("bearer" = [])),
    request_body = CreateScimTokenRequest,
    params(("slug" = String, Path, description = "Organization slug")),
    responses(
        (status = 201, body = CreatedScimToken),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn create_scim_token(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<CreateScimTokenRequest>,
) -> Result<(StatusCode, Json<CreatedScimToken>), Problem> {
    let (made, secret) = app
        .services
        .create_scim_token(&admin, &slug, &body.description, &client)
        .await?;
    let scim_base_url = format!(
        "{}/scim/v2/{slug}",
        app.services.config().issuer.trim_end_matches('/')
    );
    Ok((
        StatusCode::CREATED,
        Json(CreatedScimToken {
            token: secret,
            scim_base_url,
            details: token(made),
        }),
    ))
}

/// The organization's SCIM tokens (never their secrets).
#[utoipa::path(get, path = "/v1/orgs/{slug}/scim-tokens", tag = "scim", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = ScimTokenList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn list_scim_tokens(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<ScimTokenList>, Problem> {
    let items = app
        .services
        .scim_tokens(&admin, &slug)
        .await?
        .into_iter()
        .map(token)
        .collect();
    Ok(Json(ScimTokenList {
        items,
        next_cursor: None,
    }))
}

/// Revoke a SCIM token: refused from the next request on.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/scim-tokens/{id}", tag = "scim", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The token's id")),
    responses((status = 204, description = "Revoked"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn revoke_scim_token(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services
        .revoke_scim_token(&admin, &slug, id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
