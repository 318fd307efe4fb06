//! Every route, registered with its OpenAPI description in one place.

mod admin;
mod app_tokens;
mod auth;
mod codes;
mod devices;
mod guests;
mod me;
mod meta;
pub(crate) use meta::render_metrics;
mod identity_providers;
mod mfa;
mod oauth_clients;
mod oidc;
mod orgs;
mod passkeys;
mod questions;
pub(crate) mod scim;
mod scim_tokens;
mod webhooks;

use admin::{cursor, next_cursor};

use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::openapi::ApiDoc;
use crate::AppState;

/// The default and the largest page size of lists.
pub(crate) const DEFAULT_LIMIT: usize = 50;
pub(crate) const MAX_LIMIT: usize = 200;

/// Checks `?limit=`.
pub(crate) fn limit(raw: Option<usize>) -> Result<usize, crate::Problem> {
    match raw {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(crate::Problem::invalid(
            "limit",
            format!("must be 1 to {MAX_LIMIT}"),
        )),
    }
}

pub(crate) fn all() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(auth::register))
        .routes(routes!(auth::login))
        .routes(routes!(passkeys::register_start))
        .routes(routes!(passkeys::register_finish))
        .routes(routes!(passkeys::list))
        .routes(routes!(passkeys::rename, passkeys::delete))
        .routes(routes!(passkeys::sign_in_start))
        .routes(routes!(passkeys::sign_in_finish))
        .routes(routes!(passkeys::admin_list))
        .routes(routes!(passkeys::admin_delete))
        .routes(routes!(guests::register_anonymous))
        .routes(routes!(guests::upgrade_me))
        .routes(routes!(app_tokens::exchange_app_token))
        .routes(routes!(
            app_tokens::create_app_token,
            app_tokens::list_app_tokens
        ))
        .routes(routes!(app_tokens::delete_app_token))
        .routes(routes!(app_tokens::list_user_app_tokens))
        .routes(routes!(app_tokens::delete_user_app_token))
        .routes(routes!(auth::refresh_token))
        .routes(routes!(auth::logout))
        .routes(routes!(auth::logout_all))
        .routes(routes!(codes::verify_address))
        .routes(routes!(codes::resend_verification))
        .routes(routes!(codes::request_login_code))
        .routes(routes!(codes::login_with_code))
        .routes(routes!(codes::forgot_password))
        .routes(routes!(codes::check_reset))
        .routes(routes!(codes::reset_password))
        .routes(routes!(codes::send_verification_code))
        .routes(routes!(me::get_me, me::update_me, me::delete_me))
        .routes(routes!(me::get_my_roles))
        .routes(routes!(me::change_my_password))
        .routes(routes!(me::list_my_sessions))
        .routes(routes!(me::delete_my_session))
        .routes(routes!(admin::list_users, admin::create_user))
        .routes(routes!(
            admin::get_user,
            admin::update_user,
            admin::delete_user
        ))
        .routes(routes!(admin::set_user_roles))
        .routes(routes!(admin::revoke_user_sessions))
        .routes(routes!(admin::list_audit_events))
        .routes(routes!(orgs::create_org, orgs::list_orgs))
        .routes(routes!(orgs::get_org, orgs::update_org))
        .routes(routes!(devices::create_license, devices::list_licenses))
        .routes(routes!(devices::delete_license))
        .routes(routes!(devices::register_device))
        .routes(routes!(devices::list_devices))
        .routes(routes!(devices::delete_device))
        .routes(routes!(
            oauth_clients::create_oauth_client,
            oauth_clients::list_oauth_clients
        ))
        .routes(routes!(
            oauth_clients::get_oauth_client,
            oauth_clients::update_oauth_client,
            oauth_clients::delete_oauth_client
        ))
        .routes(routes!(oauth_clients::rotate_oauth_client_secret))
        .routes(routes!(
            identity_providers::create_identity_provider,
            identity_providers::list_identity_providers
        ))
        .routes(routes!(
            identity_providers::get_identity_provider,
            identity_providers::update_identity_provider,
            identity_providers::delete_identity_provider
        ))
        .routes(routes!(identity_providers::list_my_identities))
        .routes(routes!(identity_providers::unlink_my_identity))
        .routes(routes!(identity_providers::my_identity_refresh_token))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::update_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(
            scim_tokens::create_scim_token,
            scim_tokens::list_scim_tokens
        ))
        .routes(routes!(scim_tokens::revoke_scim_token))
        .routes(routes!(webhooks::test_webhook))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(webhooks::list_hooks))
        .routes(routes!(
            webhooks::get_hook,
            webhooks::set_hook,
            webhooks::delete_hook
        ))
        .routes(routes!(webhooks::rotate_hook_secret))
        .routes(routes!(mfa::mfa_types))
        .routes(routes!(mfa::mfa_statuses))
        .routes(routes!(mfa::create_mfa_key, mfa::list_mfa_keys))
        .routes(routes!(mfa::activate_mfa_key))
        .routes(routes!(mfa::delete_mfa_key))
        .routes(routes!(mfa::disable_mfa))
        .routes(routes!(mfa::regenerate_recovery_codes))
        .routes(routes!(mfa::list_trusted_devices))
        .routes(routes!(mfa::delete_trusted_device))
        .routes(routes!(mfa::admin_disable_mfa))
        .routes(routes!(mfa::admin_delete_mfa_key))
        .routes(routes!(mfa::admin_list_trusted_devices))
        .routes(routes!(mfa::admin_delete_trusted_device))
        .routes(routes!(auth::login_otp))
        .routes(routes!(questions::set_my_questions))
        .routes(routes!(questions::set_user_questions))
        .routes(routes!(questions::recovery_questions))
        .routes(routes!(oidc::token))
        .routes(routes!(oidc::userinfo_get, oidc::userinfo_post))
        .routes(routes!(oidc::introspect))
        .routes(routes!(oidc::revoke))
        .routes(routes!(oidc::list_authorizations))
        .routes(routes!(oidc::revoke_authorization))
        .routes(routes!(meta::jwks))
        .routes(routes!(meta::openid_configuration))
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(meta::metrics))
        .routes(routes!(meta::openapi_json))
        .routes(routes!(meta::docs))
}
