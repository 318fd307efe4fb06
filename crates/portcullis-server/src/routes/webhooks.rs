//! Webhooks and hooks of an organization, managed by its admins.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    CreateWebhookRequest, CreatedWebhook, HookList, Problem as ProblemBody, SetHook,
    SetHookRequest, UpdateWebhookRequest, Webhook, WebhookDelivery, WebhookDeliveryList,
    WebhookList, WebhookSecret,
};
use portcullis_core::service::{HookSettings, WebhookSettings};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::limit;
use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, ApiQuery, Client};
use crate::{AppState, Problem};

/// Add an endpoint; its secret is in this answer only.
#[utoipa::path(post, path = "/v1/orgs/{slug}/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhookRequest,
    params(("slug" = String, Path, description = "Organization slug")),
    responses(
        (status = 201, body = CreatedWebhook),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`: no such organization within reach", body = ProblemBody),
    ))]
pub(crate) async fn create_webhook(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(slug): ApiPath<String>,
    ApiJson(body): ApiJson<CreateWebhookRequest>,
) -> Result<(StatusCode, Json<CreatedWebhook>), Problem> {
    let settings = WebhookSettings {
        url: Some(body.url),
        event_types: Some(body.event_types),
        enabled: body.enabled,
    };
    let (w, secret) = app
        .services
        .create_webhook(&admin, &slug, settings, &client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedWebhook {
            secret,
            webhook: convert::webhook(w, app.services.now()),
        }),
    ))
}

/// An organization's endpoints (never their secrets).
#[utoipa::path(get, path = "/v1/orgs/{slug}/webhooks", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = WebhookList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn list_webhooks(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<WebhookList>, Problem> {
    let items = app
        .services
        .webhooks(&admin, &slug)
        .await?
        .into_iter()
        .map(|w| convert::webhook(w, app.services.now()))
        .collect();
    Ok(Json(WebhookList {
        items,
        next_cursor: None,
    }))
}

/// One endpoint.
#[utoipa::path(get, path = "/v1/orgs/{slug}/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 200, body = Webhook), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn get_webhook(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<Webhook>, Problem> {
    let w = app.services.webhook(&admin, &slug, id).await?;
    Ok(Json(convert::webhook(w, app.services.now())))
}

/// Change an endpoint.
#[utoipa::path(patch, path = "/v1/orgs/{slug}/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    request_body = UpdateWebhookRequest,
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The endpoint's id")),
    responses(
        (status = 200, body = Webhook),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn update_webhook(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
    ApiJson(body): ApiJson<UpdateWebhookRequest>,
) -> Result<Json<Webhook>, Problem> {
    let settings = WebhookSettings {
        url: body.url,
        event_types: body.event_types,
        enabled: body.enabled,
    };
    let w = app
        .services
        .update_webhook(&admin, &slug, id, settings, &client)
        .await?;
    Ok(Json(convert::webhook(w, app.services.now())))
}

/// Delete an endpoint, and what it had still to receive.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn delete_webhook(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services
        .delete_webhook(&admin, &slug, id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Give an endpoint a new secret; deliveries are signed with it from now on, and with the old one too for a day.
#[utoipa::path(post, path = "/v1/orgs/{slug}/webhooks/{id}/secret", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 200, body = WebhookSecret), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn rotate_webhook_secret(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<Json<WebhookSecret>, Problem> {
    let (secret, previous_secret_expires_at) = app
        .services
        .rotate_webhook_secret(&admin, &slug, id, &client)
        .await?;
    Ok(Json(WebhookSecret {
        secret,
        previous_secret_expires_at,
    }))
}

/// Send a `webhook.test` event to the endpoint; answers the queued delivery.
#[utoipa::path(post, path = "/v1/orgs/{slug}/webhooks/{id}/test", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The endpoint's id")),
    responses((status = 202, body = WebhookDelivery), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn test_webhook(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<(StatusCode, Json<WebhookDelivery>), Problem> {
    let d = app.services.test_webhook(&admin, &slug, id).await?;
    Ok((StatusCode::ACCEPTED, Json(convert::delivery(d))))
}

/// The size of the deliveries page.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveriesQuery {
    /// At most this many, 1 to 200 (default 50).
    limit: Option<usize>,
}

/// An endpoint's recent deliveries, newest first: status, response code, latency, next
/// attempt.
#[utoipa::path(get, path = "/v1/orgs/{slug}/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The endpoint's id"), DeliveriesQuery),
    responses((status = 200, body = WebhookDeliveryList), (status = 400, description = "`validation_failed`: a bad limit", body = ProblemBody), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn list_deliveries(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
    ApiQuery(q): ApiQuery<DeliveriesQuery>,
) -> Result<Json<WebhookDeliveryList>, Problem> {
    let limit = limit(q.limit)?;
    let items = app
        .services
        .webhook_deliveries(&admin, &slug, id, limit)
        .await?
        .into_iter()
        .map(convert::delivery)
        .collect();
    Ok(Json(WebhookDeliveryList {
        items,
        next_cursor: None,
    }))
}

/// Send a delivery again, with the same `webhook-id`, whatever became of it.
#[utoipa::path(post, path = "/v1/orgs/{slug}/webhooks/{id}/deliveries/{event_id}/redeliver", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "The endpoint's id"), ("event_id" = Uuid, Path, description = "The event's id")),
    responses((status = 202, description = "Queued"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn redeliver(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath((slug, id, event_id)): ApiPath<(String, Uuid, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services.redeliver(&admin, &slug, id, event_id).await?;
    Ok(StatusCode::ACCEPTED)
}

/// An organization's hooks (never their secrets).
#[utoipa::path(get, path = "/v1/orgs/{slug}/hooks", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = HookList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn list_hooks(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<HookList>, Problem> {
    let items = app
        .services
        .hooks(&admin, &slug)
        .await?
        .into_iter()
        .map(convert::hook)
        .collect();
    Ok(Json(HookList {
        items,
        next_cursor: None,
    }))
}

/// One hook.
#[utoipa::path(get, path = "/v1/orgs/{slug}/hooks/{name}", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("name" = String, Path, description = "`before_user_created` or `custom_access_token_claims`")),
    responses((status = 200, body = portcullis_api::Hook), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`: no such hook set", body = ProblemBody)))]
pub(crate) async fn get_hook(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath((slug, name)): ApiPath<(String, String)>,
) -> Result<Json<portcullis_api::Hook>, Problem> {
    Ok(Json(convert::hook(
        app.services.hook(&admin, &slug, &name).await?,
    )))
}

/// Set a hook: add it (its secret is in this answer only) or change it.
#[utoipa::path(put, path = "/v1/orgs/{slug}/hooks/{name}", tag = "webhooks", security(("bearer" = [])),
    request_body = SetHookRequest,
    params(("slug" = String, Path, description = "Organization slug"), ("name" = String, Path, description = "`before_user_created` or `custom_access_token_claims`")),
    responses(
        (status = 200, body = SetHook),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`: no such hook name", body = ProblemBody),
    ))]
pub(crate) async fn set_hook(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, name)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<SetHookRequest>,
) -> Result<Json<SetHook>, Problem> {
    let settings = HookSettings {
        url: body.url,
        timeout_ms: body.timeout_ms,
        on_failure: body.on_failure,
        enabled: body.enabled,
    };
    let (hook, secret) = app
        .services
        .set_hook(&admin, &slug, &name, settings, &client)
        .await?;
    Ok(Json(SetHook {
        secret,
        hook: convert::hook(hook),
    }))
}

/// Give a hook a new secret; calls are signed with the old one too for a day.
#[utoipa::path(post, path = "/v1/orgs/{slug}/hooks/{name}/secret", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("name" = String, Path, description = "The hook's name")),
    responses((status = 200, body = WebhookSecret), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn rotate_hook_secret(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, name)): ApiPath<(String, String)>,
) -> Result<Json<WebhookSecret>, Problem> {
    let (secret, previous_secret_expires_at) = app
        .services
        .rotate_hook_secret(&admin, &slug, &name, &client)
        .await?;
    Ok(Json(WebhookSecret {
        secret,
        previous_secret_expires_at,
    }))
}

/// Remove a hook.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/hooks/{name}", tag = "webhooks", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("name" = String, Path, description = "The hook's name")),
    responses((status = 204, description = "Removed"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn delete_hook(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, name)): ApiPath<(String, String)>,
) -> Result<StatusCode, Problem> {
    app.services
        .delete_hook(&admin, &slug, &name, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
