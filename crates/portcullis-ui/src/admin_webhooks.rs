//! The console's webhooks, on an organization's page: adding an endpoint (its secret shown
//! once), a test event, a new secret, turning it on or off, deletion; and an endpoint's
//! recent deliveries, each of which can be sent again.

use axum::extract::Path;
use axum::response::Response;
use portcullis_core::service::WebhookSettings;
use serde::Deserialize;

use crate::admin::{org_page, when};
use crate::pages::{AdminWebhook, Once, Row};
use crate::web::{self, answer, ok, say, Posted, Signed};

#[derive(Deserialize)]
pub(crate) struct WebhookForm {
    #[serde(default)]
    url: String,
    #[serde(default)]
    event_types: String,
}

/// Adds an endpoint from the form; its secret is shown once.
pub(crate) async fn create_webhook(
    s: Signed,
    Path(slug): Path<String>,
    Posted(f): Posted<WebhookForm>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let settings = WebhookSettings {
        url: Some(f.url),
        event_types: Some(
            f.event_types
                .split(['\n', ','])
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        enabled: None,
    };
    match s
        .services
        .create_webhook(&admin, &slug, settings, &s.client)
        .await
    {
        Ok((w, secret)) => ok(&Once {
            c: s.chrome("New endpoint").await,
            intro: format!(
                "Events now go to {}. Its signing secret, shown only now: receivers check each request with it (any Standard Webhooks library does).",
                w.url
            ),
            items: vec![secret],
            next: format!("/ui/admin/orgs/{slug}"),
        }),
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}

#[derive(Deserialize)]
pub(crate) struct WebhookAction {
    #[serde(default)]
    action: String,
    #[serde(default)]
    event_id: String,
}

/// A test event, a new secret (shown once), on, off, or deletion.
pub(crate) async fn webhook_action(
    s: Signed,
    Path((slug, id)): Path<(String, String)>,
    Posted(f): Posted<WebhookAction>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return web::not_found().await;
    };
    let services = &s.services;
    let toggle = |enabled: bool| WebhookSettings {
        enabled: Some(enabled),
        ..WebhookSettings::default()
    };
    let result = match f.action.as_str() {
        "test" => services
            .test_webhook(&admin, &slug, id)
            .await
            .map(|_| "A test event is on its way; see its delivery."),
        "rotate" => match services
            .rotate_webhook_secret(&admin, &slug, id, &s.client)
            .await
        {
            Ok((secret, until)) => {
                return ok(&Once {
                    c: s.chrome("New secret").await,
                    intro: format!(
                        "The endpoint's new signing secret, shown only now. Deliveries are signed with it from now on, and with the old one too until {}, so the receiver can switch without refusing any.",
                        until.format("%Y-%m-%d %H:%M UTC")
                    ),
                    items: vec![secret],
                    next: format!("/ui/admin/orgs/{slug}"),
                })
            }
            Err(e) => Err(e),
        },
        "enable" | "disable" => services
            .update_webhook(&admin, &slug, id, toggle(f.action == "enable"), &s.client)
            .await
            .map(|_| "Changed."),
        "delete" => services
            .delete_webhook(&admin, &slug, id, &s.client)
            .await
            .map(|()| "Deleted."),
        _ => return web::not_found().await,
    };
    match result {
        Ok(notice) => org_page(&s, &admin, &slug, Some(notice.to_owned()), None).await,
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}

/// An endpoint's recent deliveries.
pub(crate) async fn deliveries(s: Signed, Path((slug, id)): Path<(String, String)>) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    deliveries_page(&s, &admin, &slug, &id, None).await
}

async fn deliveries_page(
    s: &Signed,
    admin: &portcullis_core::service::OrgAdmin,
    slug: &str,
    id: &str,
    notice: Option<String>,
) -> Response {
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return web::not_found().await;
    };
    let (Ok(w), Ok(list)) = (
        s.services.webhook(admin, slug, id).await,
        s.services.webhook_deliveries(admin, slug, id, 100).await,
    ) else {
        return web::not_found().await;
    };
    let deliveries = list
        .into_iter()
        .map(|d| Row {
            id: d.event_id.to_string(),
            cells: vec![
                d.event_id.to_string(),
                d.event_type,
                d.state.as_str().to_owned(),
                d.attempts.to_string(),
                d.last_status
                    .map(|c| c.to_string())
                    .or(d.last_error)
                    .unwrap_or_default(),
                d.last_latency_ms
                    .map(|ms| format!("{ms} ms"))
                    .unwrap_or_default(),
                d.next_at.map(when).unwrap_or_default(),
            ],
            current: false,
        })
        .collect();
    ok(&AdminWebhook {
        c: s.chrome("Deliveries").await.with_notice(notice),
        slug: slug.to_owned(),
        id: id.to_string(),
        url: w.url,
        deliveries,
    })
}

/// Sends a delivery again.
pub(crate) async fn redeliver(
    s: Signed,
    Path((slug, id)): Path<(String, String)>,
    Posted(f): Posted<WebhookAction>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let (Ok(webhook), Ok(event)) = (id.parse::<uuid::Uuid>(), f.event_id.parse::<uuid::Uuid>())
    else {
        return web::not_found().await;
    };
    match s.services.redeliver(&admin, &slug, webhook, event).await {
        Ok(()) => deliveries_page(&s, &admin, &slug, &id, Some("Queued again.".into())).await,
        Err(_) => web::not_found().await,
    }
}
