//! The console's OAuth clients, on an organization's page: registering one (its secret
//! shown once), a new secret, and deletion.

use axum::extract::Path;
use axum::response::Response;
use portcullis_core::service::OAuthClientSettings;
use serde::Deserialize;

use crate::admin::org_page;
use crate::pages::Once;
use crate::web::{self, answer, ok, say, Posted, Signed};

#[derive(Deserialize)]
pub(crate) struct ClientForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    client_type: String,
    #[serde(default)]
    redirect_uris: String,
    #[serde(default)]
    first_party: Option<String>,
}

/// Registers a client from the form; a confidential client's secret is shown once.
pub(crate) async fn create_client(
    s: Signed,
    Path(slug): Path<String>,
    Posted(f): Posted<ClientForm>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let settings = OAuthClientSettings {
        name: Some(f.name),
        redirect_uris: Some(
            f.redirect_uris
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
        ),
        first_party: Some(f.first_party.is_some()),
        ..OAuthClientSettings::default()
    };
    let made = s
        .services
        .create_oauth_client(&admin, &slug, Some(&f.client_type), settings, &s.client)
        .await;
    match made {
        Ok((client, secret)) => ok(&Once {
            c: s.chrome("New application").await,
            intro: match &secret {
                Some(_) => format!(
                    "Application {} is registered. Its client id is first, its secret second: the secret is shown only now.",
                    client.name
                ),
                None => format!(
                    "Application {} is registered as a public client: it has no secret and must use PKCE. Its client id:",
                    client.name
                ),
            },
            items: std::iter::once(client.id.to_string()).chain(secret).collect(),
            next: format!("/ui/admin/orgs/{slug}"),
        }),
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}

#[derive(Deserialize)]
pub(crate) struct ClientAction {
    #[serde(default)]
    action: String,
}

/// A new secret for a client (shown once), or its deletion.
pub(crate) async fn client_action(
    s: Signed,
    Path((slug, id)): Path<(String, String)>,
    Posted(f): Posted<ClientAction>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return web::not_found().await;
    };
    let services = &s.services;
    let result =
        match f.action.as_str() {
            "rotate" => match services
                .rotate_oauth_client_secret(&admin, &slug, id, &s.client)
                .await
            {
                Ok(secret) => return ok(&Once {
                    c: s.chrome("New secret").await,
                    intro:
                        "The application's new secret, shown only now; the old one no longer works."
                            .to_owned(),
                    items: vec![secret],
                    next: format!("/ui/admin/orgs/{slug}"),
                }),
                Err(e) => Err(e),
            },
            "delete" => {
                services
                    .delete_oauth_client(&admin, &slug, id, &s.client)
                    .await
            }
            _ => return web::not_found().await,
        };
    match result {
        Ok(()) => org_page(&s, &admin, &slug, Some("Deleted.".to_owned()), None).await,
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}
