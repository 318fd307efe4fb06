//! Upstream identity providers of an organization, managed by its admins; and the upstream
//! accounts linked to the signed-in user. The sign-in flows through them are browser
//! redirects, served with the hosted pages (`portcullis-ui`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    IdentityProvider, IdentityProviderList, IdentityProviderRequest, LinkedIdentityList,
    Problem as ProblemBody, UpstreamRefreshToken,
};
use portcullis_core::service::ProviderSettings;
use uuid::Uuid;

use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, Auth, Client};
use crate::{AppState, Problem};

/// The request's settings: the provider's own fields apart, the rest as given.
fn settings(body: IdentityProviderRequest) -> ProviderSettings {
    let mut config = match serde_json::to_value(&body) {
        Ok(serde_json::Value::Object(map)) => map,
        _ => serde_json::Map::new(),
    };
    for own in ["kind", "name", "enabled", "client_secret"] {
        config.remove(own);
    }
    ProviderSettings {
        kind: body.kind,
        name: body.name,
        client_secret: body.client_secret,
        enabled: body.enabled,
        config,
    }
}

/// Add a provider. The answer's `redirect_uri` is the callback to register upstream.
#[utoipa::path(post, path = "/v1/orgs/{slug}/identity-providers", tag = "identity providers", security(("bearer" = [])),
    request_body = IdentityProviderRequest,
    params(("slug" = String, Path, description = "Organization slug")),
    responses(
        (status = 201, body = IdentityProvider),
        (status = 400, description = "`validation_failed`: every problem with the settings, in `errors`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`: no such organization within reach", body = ProblemBody),
    ))]
pub(crate) async fn create_identity_provider(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<IdentityProviderRequest>,
) -> Result<(StatusCode, Json<IdentityProvider>), Problem> {
    let p = app
        .services
        .create_identity_provider(&admin, &slug, settings(body), &client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(convert::identity_provider(&app.services.config().issuer, p)),
    ))
}

/// An organization's providers (never their secrets).
#[utoipa::path(get, path = "/v1/orgs/{slug}/identity-providers", tag = "identity providers", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = IdentityProviderList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn list_identity_providers(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<IdentityProviderList>, Problem> {
    let issuer = app.services.config().issuer.clone();
    let items = app
        .services
        .identity_providers(&admin, &slug)
        .await?
        .into_iter()
        .map(|p| convert::identity_provider(&issuer, p))
        .collect();
    Ok(Json(IdentityProviderList {
        items,
        next_cursor: None,
    }))
}

/// One provider.
#[utoipa::path(get, path = "/v1/orgs/{slug}/identity-providers/{id}", tag = "identity providers", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The provider's id")),
    responses((status = 200, body = IdentityProvider), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn get_identity_provider(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<IdentityProvider>, Problem> {
    let p = app.services.identity_provider(&admin, &slug, id).await?;
    Ok(Json(convert::identity_provider(
        &app.services.config().issuer,
        p,
    )))
}

/// Change a provider (absent fields stay).
#[utoipa::path(patch, path = "/v1/orgs/{slug}/identity-providers/{id}", tag = "identity providers", security(("bearer" = [])),
    request_body = IdentityProviderRequest,
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The provider's id")),
    responses(
        (status = 200, body = IdentityProvider),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn update_identity_provider(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
    ApiJson(body): ApiJson<IdentityProviderRequest>,
) -> Result<Json<IdentityProvider>, Problem> {
    let p = app
        .services
        .update_identity_provider(&admin, &slug, id, settings(body), &client)
        .await?;
    Ok(Json(convert::identity_provider(
        &app.services.config().issuer,
        p,
    )))
}

/// Delete a provider; the identities linked through it go too (their users keep their
/// accounts and other ways in).
#[utoipa::path(delete, path = "/v1/orgs/{slug}/identity-providers/{id}", tag = "identity providers", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The provider's id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn delete_identity_provider(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services
        .delete_identity_provider(&admin, &slug, id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's linked upstream identities.
#[utoipa::path(get, path = "/v1/users/me/identities", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = LinkedIdentityList), (status = 401, description = "`unauthorized`", body = ProblemBody)))]
pub(crate) async fn list_my_identities(
    State(app): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<LinkedIdentityList>, Problem> {
    let items = app
        .services
        .my_identities(&who)
        .await?
        .into_iter()
        .map(convert::linked_identity)
        .collect();
    Ok(Json(LinkedIdentityList { items }))
}

/// Unlink an upstream identity; refused while it is the caller's only way to sign in.
#[utoipa::path(delete, path = "/v1/users/me/identities/{id}", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The identity's id")),
    responses(
        (status = 204, description = "Unlinked"),
        (status = 403, description = "`forbidden`: it is the only way to sign in", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn unlink_my_identity(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    app.services.unlink_identity(&who, id, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The upstream refresh token kept for an identity (providers with `keep_refresh_token`),
/// for the caller's own application to call the upstream's API.
#[utoipa::path(get, path = "/v1/users/me/identities/{id}/refresh-token", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The identity's id")),
    responses((status = 200, body = UpstreamRefreshToken), (status = 404, description = "`not_found`: none kept", body = ProblemBody)))]
pub(crate) async fn my_identity_refresh_token(
    State(app): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<UpstreamRefreshToken>, Problem> {
    let refresh_token = app.services.identity_refresh_token(&who, id).await?;
    Ok(Json(UpstreamRefreshToken { refresh_token }))
}
