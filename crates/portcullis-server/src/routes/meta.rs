//! Discovery, health, metrics and documentation.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use axum::Json;
use portcullis_api::{Health, Jwk, Jwks, OpenIdConfiguration, Problem as ProblemBody};

use portcullis_core::oauth::{AuthMethod, GrantType, SigningAlg, SCOPES};
use portcullis_core::oidc::{ACR_MULTI_FACTOR, ACR_ONE_FACTOR};
use portcullis_core::tokens::PublicParams;

use crate::{AppState, Problem};

/// The public keys that verify every token Portcullis signs (RFC 7517): Ed25519, RSA, P-256.
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "discovery", responses((status = 200, body = Jwks)))]
pub(crate) async fn jwks(State(app): State<AppState>) -> impl IntoResponse {
    let keys = app
        .services
        .public_keys()
        .into_iter()
        .map(|k| {
            let mut jwk = Jwk {
                kty: String::new(),
                crv: None,
                x: None,
                y: None,
                n: None,
                e: None,
                kid: k.kid,
                alg: k.alg.as_str().into(),
                use_: "sig".into(),
            };
            match k.params {
                PublicParams::Okp { x } => {
                    jwk.kty = "OKP".into();
                    jwk.crv = Some("Ed25519".into());
                    jwk.x = Some(x);
                }
                PublicParams::Ec { x, y } => {
                    jwk.kty = "EC".into();
                    jwk.crv = Some("P-256".into());
                    jwk.x = Some(x);
                    jwk.y = Some(y);
                }
                PublicParams::Rsa { n, e } => {
                    jwk.kty = "RSA".into();
                    jwk.n = Some(n);
                    jwk.e = Some(e);
                }
            }
            jwk
        })
        .collect();
    // Verifiers may cache the keys for a few minutes; rotation keeps old keys long enough.
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(Jwks { keys }),
    )
}

/// Discovery (OpenID Connect Discovery 1.0): the issuer, its endpoints, keys and what it
/// supports.
#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "discovery",
    responses((status = 200, body = OpenIdConfiguration)))]
pub(crate) async fn openid_configuration(State(app): State<AppState>) -> impl IntoResponse {
    let issuer = app
        .services
        .config()
        .issuer
        .trim_end_matches('/')
        .to_owned();
    let list = |items: &[&str]| items.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let at = |path: &str| format!("{issuer}{path}");
    let client_auth = list(&["client_secret_basic", "client_secret_post"]);
    let body = OpenIdConfiguration {
        authorization_endpoint: at("/oauth2/authorize"),
        token_endpoint: at("/oauth2/token"),
        userinfo_endpoint: at("/oauth2/userinfo"),
        jwks_uri: at("/.well-known/jwks.json"),
        end_session_endpoint: at("/oauth2/logout"),
        introspection_endpoint: at("/oauth2/introspect"),
        revocation_endpoint: at("/oauth2/revoke"),
        issuer,
        scopes_supported: list(&SCOPES),
        response_types_supported: list(&["code"]),
        response_modes_supported: list(&["query"]),
        grant_types_supported: GrantType::ALL
            .iter()
            .map(|g| g.as_str().to_owned())
            .collect(),
        subject_types_supported: list(&["public"]),
        id_token_signing_alg_values_supported: SigningAlg::ALL
            .iter()
            .map(|a| a.as_str().to_owned())
            .collect(),
        token_endpoint_auth_methods_supported: AuthMethod::ALL
            .iter()
            .map(|m| m.as_str().to_owned())
            .collect(),
        introspection_endpoint_auth_methods_supported: client_auth.clone(),
        revocation_endpoint_auth_methods_supported: client_auth,
        code_challenge_methods_supported: list(&["S256"]),
        claims_supported: list(&[
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "acr",
            "amr",
            "azp",
            "sid",
            "at_hash",
            "name",
            "given_name",
            "family_name",
            "preferred_username",
            "updated_at",
            "email",
            "email_verified",
            "phone_number",
            "phone_number_verified",
        ]),
        acr_values_supported: list(&[ACR_ONE_FACTOR, ACR_MULTI_FACTOR]),
        prompt_values_supported: list(&["none", "login", "consent", "select_account"]),
        claims_parameter_supported: false,
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        authorization_response_iss_parameter_supported: true,
        backchannel_logout_supported: true,
        backchannel_logout_session_supported: true,
    };
    ([(header::CACHE_CONTROL, "public, max-age=300")], Json(body))
}

/// Liveness: the process answers.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub(crate) async fn healthz() -> Json<Health> {
    Json(Health {
        status: "ok".into(),
    })
}

/// How long readiness waits for the database's write.
const READY_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// Readiness: the database takes a write (not ready while the writer is stuck, the disk is
/// full or read-only, or the database is gone; ready again by itself once it can write).
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, description = "`overloaded`: the database cannot take a write", body = ProblemBody)))]
pub(crate) async fn readyz(State(app): State<AppState>) -> Result<Json<Health>, Problem> {
    // A load balancer's probe wants an answer in time: a writer that does not answer within
    // a few seconds is as unready as one that fails.
    tokio::time::timeout(READY_WITHIN, app.services.ready())
        .await
        .map_err(|_| Problem::unavailable("the database did not take a write in time"))?
        .map_err(|e| Problem::unavailable(e.to_string()))?;
    Ok(Json(Health {
        status: "ok".into(),
    }))
}

/// Prometheus metrics, on the API's listener only for a scraper that shows the metrics token
/// (`PORTCULLIS_METRICS_TOKEN`); without one set, metrics are served only on their own
/// listener (`PORTCULLIS_METRICS_LISTEN`) and this answers 404.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain"),
        (status = 401, description = "`unauthorized`: no or a wrong metrics token", body = ProblemBody),
        (status = 404, description = "`not_found`: no metrics token is set", body = ProblemBody)))]
pub(crate) async fn metrics(
    State(app): State<AppState>,
    headers: axum::http::HeaderMap,
) -> Result<axum::response::Response, Problem> {
    let Some(expected) = &app.settings.metrics_token else {
        return Err(Problem::not_found());
    };
    let shown = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    if !portcullis_core::crypto::ct_eq(shown.as_bytes(), expected.as_bytes()) {
        return Err(Problem::unauthorized(
            "the metrics token is missing or wrong",
        ));
    }
    Ok(render_metrics(&app.metrics).into_response())
}

/// The metrics in Prometheus's text format.
pub(crate) fn render_metrics(
    metrics: &metrics_exporter_prometheus::PrometheusHandle,
) -> impl IntoResponse {
    metrics.run_upkeep();
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        metrics.render(),
    )
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(get, path = "/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1", content_type = "application/json")))]
pub(crate) async fn openapi_json(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        app.openapi_json.as_str().to_owned(),
    )
}

/// A readable page of every operation, made from the OpenAPI document.
#[utoipa::path(get, path = "/docs", tag = "operations",
    responses((status = 200, description = "HTML", content_type = "text/html")))]
pub(crate) async fn docs(State(app): State<AppState>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_SECURITY_POLICY,
            // The page has no script; its one stylesheet is inline.
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
        )],
        Html(app.docs_html.as_str().to_owned()),
    )
}
