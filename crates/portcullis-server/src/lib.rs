//! Portcullis HTTP layer: routing, extractors, problem+json errors, metrics and the OpenAPI
//! document. Handlers are thin: they parse, call one use case of
//! [`portcullis_core::Services`], and map the answer.

mod convert;
mod extract;
mod listener;
mod middleware;
mod openapi;
mod problem;
mod routes;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::{header, HeaderName};
use metrics_exporter_prometheus::PrometheusHandle;
use portcullis_core::Services;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};

pub use axum::http::HeaderValue;
pub use axum::Router;
pub use extract::Client;
pub use listener::{serve, ConnectionSettings};
pub use problem::{with_cause, Problem, Unexpected};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Settings of the HTTP layer.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Proxies whose `X-Forwarded-For` is believed; anyone else's is ignored.
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Browser origins allowed to call the API (CORS); none when empty.
    pub cors_origins: Vec<HeaderValue>,
    /// A request still unanswered after this long is abandoned with 503 `overloaded`.
    pub request_timeout: std::time::Duration,
    /// Requests handled at once; more are refused at once with 503 `overloaded`.
    pub max_concurrent_requests: usize,
    /// A request body not wholly received this long after its head is answered 408
    /// `request_timeout` (a body trickled byte by byte cannot hold a connection).
    pub body_read_timeout: std::time::Duration,
    /// The bearer token that `/metrics` on the API's listener asks for; unset, metrics are
    /// not served there (see [`metrics_router`]).
    pub metrics_token: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            request_timeout: std::time::Duration::from_secs(30),
            max_concurrent_requests: 1024,
            body_read_timeout: std::time::Duration::from_secs(10),
            metrics_token: None,
        }
    }
}

/// What every handler can reach. One `Arc`: the state is cloned several times for every
/// request (each extractor and middleware that takes it), and a profile of `/v1/users/me`
/// under load found the clones and drops of five separate `Arc`s at 1% of the server's time.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

/// The state itself.
pub struct Shared {
    settings: HttpSettings,
    services: Arc<Services>,
    metrics: PrometheusHandle,
    openapi_json: String,
    docs_html: String,
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl AppState {
    /// The use cases, for routes mounted from outside this crate (the compatibility
    /// dialects).
    pub fn services(&self) -> &Arc<Services> {
        &self.services
    }
}

/// Builds the whole HTTP application; `extra` are further routes (the compatibility
/// dialects, each under its own prefix) behind the same layers.
pub fn router(
    services: Arc<Services>,
    metrics: PrometheusHandle,
    settings: HttpSettings,
    extra: Router<AppState>,
) -> Router {
    let (routes, mut doc) = routes::all().split_for_parts();
    let routes = routes.merge(routes::scim::router()).merge(extra);
    openapi::complete_answers(&mut doc);
    let openapi_json = doc.to_pretty_json().unwrap_or_else(|_| "{}".to_owned());
    let state = AppState(Arc::new(Shared {
        settings,
        services,
        metrics,
        openapi_json,
        docs_html: openapi::docs_page(&doc),
    }));
    let request_id = HeaderName::from_static(middleware::REQUEST_ID);
    let cors = cors_layer(&state.settings.cors_origins);
    let guard = middleware::Guard::new(
        state.settings.request_timeout,
        state.settings.body_read_timeout,
        state.settings.max_concurrent_requests,
    );
    routes
        .fallback(|| async { Problem::not_found() })
        .method_not_allowed_fallback(|| async { Problem::method_not_allowed() })
        .with_state(state.clone())
        // Middleware of the routes mounted from outside this crate (the hosted pages) reach
        // the services through this.
        .layer(axum::Extension(state))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .layer(axum::middleware::map_response(middleware::security_headers))
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .layer(axum::middleware::from_fn_with_state(
            guard,
            middleware::Guard::run,
        ))
        .layer(axum::middleware::from_fn(middleware::observe))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
}

/// CORS for the listed origins only: bearer tokens (no cookies), the API's methods, and the
/// request and problem headers a browser application needs to read.
fn cors_layer(origins: &[HeaderValue]) -> tower_http::cors::CorsLayer {
    use axum::http::Method;
    // A predicate over a shared list, not the list itself: the layer is cloned for every
    // request, and a list is cloned with it.
    let allowed: Arc<[HeaderValue]> = origins.into();
    tower_http::cors::CorsLayer::new()
        .allow_origin(tower_http::cors::AllowOrigin::predicate(
            move |origin, _| allowed.contains(origin),
        ))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        // `x-nura-session` and credentials: the DeepAffex JS client sends both from browsers
        // (`credentials: 'include'`). Safe with an explicit origin list: the only cookies
        // are the hosted pages', `SameSite=Lax`, which cross-site requests do not carry.
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-nura-session"),
        ])
        .allow_credentials(true)
        .expose_headers([
            header::RETRY_AFTER,
            HeaderName::from_static(middleware::REQUEST_ID),
        ])
        .max_age(std::time::Duration::from_secs(600))
}

/// `GET /metrics` alone, without a token, for a listener of its own on an address that only
/// the operator's scraper reaches: metrics tell how the server is used, which is no one
/// else's business.
pub fn metrics_router(metrics: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        axum::routing::get(move || {
            let metrics = metrics.clone();
            async move { routes::render_metrics(&metrics) }
        }),
    )
}

/// The process-wide Prometheus recorder (metrics are global to a process, so every server
/// in it, as in tests, shares one).
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: std::sync::OnceLock<PrometheusHandle> = std::sync::OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            // Fails only when another recorder was installed first; metrics then go there.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}
