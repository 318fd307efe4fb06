//! The console's identity providers, on an organization's page: adding one (its client
//! secret taken, never shown), turning it on or off, and deletion.

use axum::extract::Path;
use axum::response::Response;
use portcullis_core::service::ProviderSettings;
use serde::Deserialize;

use crate::admin::org_page;
use crate::web::{self, answer, say, Posted, Signed};

#[derive(Deserialize)]
pub(crate) struct ProviderForm {
    #[serde(default)]
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    issuer: String,
    #[serde(default)]
    client_id: String,
    #[serde(default)]
    client_secret: String,
}

/// Adds a provider from the form.
pub(crate) async fn create_provider(
    s: Signed,
    Path(slug): Path<String>,
    Posted(f): Posted<ProviderForm>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let mut config = serde_json::Map::new();
    config.insert("client_id".into(), f.client_id.trim().into());
    if !f.issuer.trim().is_empty() {
        config.insert("issuer".into(), f.issuer.trim().into());
    }
    let settings = ProviderSettings {
        kind: Some(f.kind),
        name: (!f.name.trim().is_empty()).then_some(f.name),
        client_secret: (!f.client_secret.is_empty()).then_some(f.client_secret),
        enabled: None,
        config,
    };
    match s
        .services
        .create_identity_provider(&admin, &slug, settings, &s.client)
        .await
    {
        Ok(p) => {
            let uri = portcullis_core::upstream::redirect_uri(&s.services.config().issuer, p.id);
            let notice = format!(
                "{} is added. Register this redirect URI with the provider: {uri}",
                p.name
            );
            org_page(&s, &admin, &slug, Some(notice), None).await
        }
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}

#[derive(Deserialize)]
pub(crate) struct ProviderAction {
    #[serde(default)]
    action: String,
}

/// Turns a provider on or off, or deletes it.
pub(crate) async fn provider_action(
    s: Signed,
    Path((slug, id)): Path<(String, String)>,
    Posted(f): Posted<ProviderAction>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return web::not_found().await;
    };
    let services = &s.services;
    let toggle = |enabled| ProviderSettings {
        enabled: Some(enabled),
        ..ProviderSettings::default()
    };
    let (result, done) = match f.action.as_str() {
        "enable" | "disable" => (
            services
                .update_identity_provider(
                    &admin,
                    &slug,
                    id,
                    toggle(f.action == "enable"),
                    &s.client,
                )
                .await
                .map(|_| ()),
            "Saved.",
        ),
        "delete" => (
            services
                .delete_identity_provider(&admin, &slug, id, &s.client)
                .await,
            "Deleted.",
        ),
        _ => return web::not_found().await,
    };
    match result {
        Ok(()) => org_page(&s, &admin, &slug, Some(done.to_owned()), None).await,
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}
