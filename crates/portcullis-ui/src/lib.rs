//! The hosted pages under `/ui/` and the admin console under `/ui/admin/`: server-rendered
//! HTML (askama templates, checked at compile time), no JavaScript, every asset served by
//! the binary. Each page is a thin translation onto the same use cases as `/v1`.
//!
//! Security: the page session is the access and refresh token of an ordinary session, sealed
//! (AES-GCM under a key derived from the master key) into an `HttpOnly`, `SameSite=Lax`
//! cookie (`Secure` when the issuer is `https://`), renewed by the refresh token as it
//! expires; every form carries a CSRF token, a MAC of a random cookie (the signed
//! double-submit pattern); pages send a Content-Security-Policy that allows no script at all.
//! A sign-in goes back to an application only through the OpenID Connect provider
//! (`oidc`): to a redirect URI the application registered, with a single-use code for its
//! back end, never with tokens in the URL.

mod account;
mod admin;
mod admin_clients;
mod admin_providers;
mod admin_scim;
mod admin_webhooks;
mod oidc;
mod pages;
mod passkey;
mod public;
mod upstream;
mod web;

use axum::routing::{get, post};
use portcullis_server::{AppState, Router};

/// The pages, to be mounted at the root (they live under `/ui`).
pub fn routes() -> Router<AppState> {
    let ui = Router::new()
        .route("/", get(public::home))
        .route("/assets/style.css", get(web::stylesheet))
        .route("/assets/brand.css", get(web::brand_stylesheet))
        .route("/assets/passkey.js", get(web::passkey_script))
        .route("/passkey/start", post(passkey::sign_in_start))
        .route("/passkey/finish", post(passkey::sign_in_finish))
        .route("/account/passkeys/start", post(passkey::register_start))
        .route("/account/passkeys/finish", post(passkey::register_finish))
        .route("/account/passkeys/delete", post(account::delete_passkey))
        .route("/signin", get(public::signin_page).post(public::signin))
        .route("/signin/mfa", post(public::signin_second_factor))
        .route("/signup", get(public::signup_page).post(public::signup))
        .route("/verify", get(public::verify_page).post(public::verify))
        .route("/code", get(public::code_page).post(public::code_request))
        .route("/code/signin", post(public::code_signin))
        .route("/forgot", get(public::forgot_page).post(public::forgot))
        .route("/reset", get(public::reset_page).post(public::reset))
        .route("/signout", post(public::signout))
        .route("/upstream/{id}/start", get(upstream::start))
        .route("/upstream/{id}/link", get(upstream::link))
        .route(
            "/upstream/{id}/callback",
            get(upstream::callback).post(upstream::callback),
        )
        .route("/account/identities/unlink", post(upstream::unlink))
        .route(
            "/authorize",
            get(oidc::continue_authorization).post(oidc::consent),
        )
        .route(
            "/logout",
            get(oidc::logout_page).post(oidc::logout_confirmed),
        )
        .route("/account", get(account::page))
        .route("/account/profile", post(account::profile))
        .route("/account/password", post(account::password))
        .route("/account/mfa/start", post(account::mfa_start))
        .route("/account/mfa/activate", post(account::mfa_activate))
        .route("/account/mfa/disable", post(account::mfa_disable))
        .route("/account/devices/remove", post(account::remove_device))
        .route("/account/sessions/revoke", post(account::revoke_session))
        .route("/account/sessions/revoke-all", post(account::revoke_all))
        .route("/account/tokens", post(account::create_token))
        .route("/account/tokens/revoke", post(account::revoke_token))
        .route("/account/apps/revoke", post(account::revoke_app))
        .route("/admin", get(admin::users))
        // As people type it.
        .route("/admin/", get(admin::users))
        .route("/admin/users", post(admin::create_user))
        .route(
            "/admin/users/{id}",
            get(admin::user).post(admin::update_user),
        )
        .route("/admin/users/{id}/action", post(admin::user_action))
        .route("/admin/orgs", get(admin::orgs).post(admin::create_org))
        .route(
            "/admin/orgs/{slug}",
            get(admin::org).post(admin::update_org),
        )
        .route("/admin/orgs/{slug}/licenses", post(admin::create_license))
        .route("/admin/orgs/{slug}/revoke", post(admin::revoke_in_org))
        .route(
            "/admin/orgs/{slug}/clients",
            post(admin_clients::create_client),
        )
        .route(
            "/admin/orgs/{slug}/clients/{id}",
            post(admin_clients::client_action),
        )
        .route(
            "/admin/orgs/{slug}/providers",
            post(admin_providers::create_provider),
        )
        .route(
            "/admin/orgs/{slug}/providers/{id}",
            post(admin_providers::provider_action),
        )
        .route(
            "/admin/orgs/{slug}/scim-tokens",
            post(admin_scim::create_scim_token),
        )
        .route(
            "/admin/orgs/{slug}/scim-tokens/{id}/revoke",
            post(admin_scim::revoke_scim_token),
        )
        .route(
            "/admin/orgs/{slug}/webhooks",
            post(admin_webhooks::create_webhook),
        )
        .route(
            "/admin/orgs/{slug}/webhooks/{id}",
            get(admin_webhooks::deliveries),
        )
        .route(
            "/admin/orgs/{slug}/webhooks/{id}/action",
            post(admin_webhooks::webhook_action),
        )
        .route(
            "/admin/orgs/{slug}/webhooks/{id}/redeliver",
            post(admin_webhooks::redeliver),
        )
        .route("/admin/audit", get(admin::audit))
        .fallback(web::not_found)
        .layer(axum::middleware::from_fn(web::guard));
    Router::new()
        .route(
            "/oauth2/authorize",
            get(oidc::authorize).post(oidc::authorize),
        )
        .route("/oauth2/logout", get(oidc::logout).post(oidc::logout))
        .route("/v1/auth/upstream/{id}/start", get(upstream::api_start))
        .nest("/ui", ui)
}
