//! The console's SCIM tokens, on an organization's page: making one (its secret and the
//! SCIM base URL shown once), and revoking it.

use axum::extract::Path;
use axum::response::Response;
use serde::Deserialize;

use crate::admin::org_page;
use crate::pages::Once;
use crate::web::{self, answer, ok, say, Posted, Signed};

#[derive(Deserialize)]
pub(crate) struct ScimTokenForm {
    #[serde(default)]
    description: String,
}

/// Makes a token; shows its secret this once.
pub(crate) async fn create_scim_token(
    s: Signed,
    Path(slug): Path<String>,
    Posted(f): Posted<ScimTokenForm>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    match s
        .services
        .create_scim_token(&admin, &slug, &f.description, &s.client)
        .await
    {
        Ok((_, secret)) => {
            let base = format!(
                "{}/scim/v2/{slug}",
                s.services.config().issuer.trim_end_matches('/')
            );
            ok(&Once {
                c: s.chrome("New SCIM token").await,
                intro: format!(
                    "Give your identity provider the SCIM base URL {base} and this token, shown only now, as its bearer token."
                ),
                items: vec![secret],
                next: format!("/ui/admin/orgs/{slug}"),
            })
        }
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}

/// Revokes a token.
pub(crate) async fn revoke_scim_token(
    s: Signed,
    Path((slug, id)): Path<(String, String)>,
) -> Response {
    let Some(admin) = s.admin() else {
        return web::not_admin();
    };
    let Ok(id) = id.parse::<uuid::Uuid>() else {
        return web::not_found().await;
    };
    match s
        .services
        .revoke_scim_token(&admin, &slug, id, &s.client)
        .await
    {
        Ok(()) => org_page(&s, &admin, &slug, Some("Revoked.".to_owned()), None).await,
        Err(e) => answer(&e, org_page(&s, &admin, &slug, None, Some(say(&e))).await),
    }
}
