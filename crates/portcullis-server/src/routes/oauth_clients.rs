//! OAuth clients of an organization, managed by its admins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    ClientSecret, CreateOAuthClientRequest, CreatedOAuthClient, OAuthClient, OAuthClientList,
    Problem as ProblemBody, UpdateOAuthClientRequest,
};
use portcullis_core::service::{OAuthClientSettings, Patch};
use uuid::Uuid;

use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, Client};
use crate::{AppState, Problem};

/// Register a client; a confidential client's secret is in this answer only.
#[utoipa::path(post, path = "/v1/orgs/{slug}/oauth-clients", tag = "oauth", security(("bearer" = [])),
    request_body = CreateOAuthClientRequest,
    params(("slug" = String, Path, description = "Organization slug")),
    responses(
        (status = 201, body = CreatedOAuthClient),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`: no such organization within reach", body = ProblemBody),
    ))]
pub(crate) async fn create_oauth_client(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<CreateOAuthClientRequest>,
) -> Result<(StatusCode, Json<CreatedOAuthClient>), Problem> {
    let settings = OAuthClientSettings {
        name: Some(body.name),
        redirect_uris: Some(body.redirect_uris),
        post_logout_redirect_uris: Some(body.post_logout_redirect_uris),
        grant_types: body.grant_types,
        scopes: body.scopes,
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        id_token_signed_response_alg: body.id_token_signed_response_alg,
        first_party: Some(body.first_party),
        backchannel_logout_uri: body.backchannel_logout_uri.map_or(Patch::Keep, Patch::Set),
        access_token_lifetime_secs: body
            .access_token_lifetime_secs
            .map_or(Patch::Keep, Patch::Set),
        refresh_token_lifetime_secs: body
            .refresh_token_lifetime_secs
            .map_or(Patch::Keep, Patch::Set),
    };
    let (c, secret) = app
        .services
        .create_oauth_client(
            &admin,
            &slug,
            body.client_type.as_deref(),
            settings,
            &client,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedOAuthClient {
            client_secret: secret,
            client: convert::oauth_client(c),
        }),
    ))
}

/// An organization's clients (never their secrets).
#[utoipa::path(get, path = "/v1/orgs/{slug}/oauth-clients", tag = "oauth", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = OAuthClientList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn list_oauth_clients(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<OAuthClientList>, Problem> {
    let items = app
        .services
        .oauth_clients(&admin, &slug)
        .await?
        .into_iter()
        .map(convert::oauth_client)
        .collect();
    Ok(Json(OAuthClientList {
        items,
        next_cursor: None,
    }))
}

/// One client.
#[utoipa::path(get, path = "/v1/orgs/{slug}/oauth-clients/{client_id}", tag = "oauth", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("client_id" = Uuid, Path, description = "The client's id")),
    responses((status = 200, body = OAuthClient), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn get_oauth_client(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<OAuthClient>, Problem> {
    Ok(Json(convert::oauth_client(
        app.services.oauth_client(&admin, &slug, id).await?,
    )))
}

/// Change a client's settings (not its type).
#[utoipa::path(patch, path = "/v1/orgs/{slug}/oauth-clients/{client_id}", tag = "oauth", security(("bearer" = [])),
    request_body = UpdateOAuthClientRequest,
    params(("slug" = String, Path, description = "Organization slug"), ("client_id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, body = OAuthClient),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn update_oauth_client(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
    ApiJson(body): ApiJson<UpdateOAuthClientRequest>,
) -> Result<Json<OAuthClient>, Problem> {
    let settings = OAuthClientSettings {
        name: body.name,
        redirect_uris: body.redirect_uris,
        post_logout_redirect_uris: body.post_logout_redirect_uris,
        grant_types: body.grant_types,
        scopes: body.scopes,
        token_endpoint_auth_method: body.token_endpoint_auth_method,
        id_token_signed_response_alg: body.id_token_signed_response_alg,
        first_party: body.first_party,
        backchannel_logout_uri: body.backchannel_logout_uri.into(),
        access_token_lifetime_secs: body.access_token_lifetime_secs.into(),
        refresh_token_lifetime_secs: body.refresh_token_lifetime_secs.into(),
    };
    Ok(Json(convert::oauth_client(
        app.services
            .update_oauth_client(&admin, &slug, id, settings, &client)
            .await?,
    )))
}

/// Give a confidential client a new secret; the old one stops working at once.
#[utoipa::path(post, path = "/v1/orgs/{slug}/oauth-clients/{client_id}/secret", tag = "oauth", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("client_id" = Uuid, Path, description = "The client's id")),
    responses(
        (status = 200, body = ClientSecret),
        (status = 400, description = "`validation_failed`: a public client has no secret", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn rotate_oauth_client_secret(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<ClientSecret>, Problem> {
    let client_secret = app
        .services
        .rotate_oauth_client_secret(&admin, &slug, id, &client)
        .await?;
    Ok(Json(ClientSecret { client_secret }))
}

/// Delete a client.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/oauth-clients/{client_id}", tag = "oauth", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("client_id" = Uuid, Path, description = "The client's id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn delete_oauth_client(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services
        .delete_oauth_client(&admin, &slug, id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
