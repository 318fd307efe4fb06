//! Cross-cutting request handling: one structured log line and metrics per request, and the
//! generic body of 5xx answers (the cause is logged here, once, with the request id).

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use portcullis_api::{Problem as ProblemBody, ProblemCode};

use crate::problem::InternalCause;

/// The header that carries the request id, set by the outer layer when the client sent none.
pub(crate) const REQUEST_ID: &str = "x-request-id";

/// The Content-Security-Policy of API answers: JSON needs nothing, so nothing is allowed
/// (pages that need more, like `/docs`, set their own).
pub(crate) const API_CSP: &str =
    "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// Protects the process from requests it cannot serve well: at most `permits` at once (the
/// rest are refused at once, not queued) and none waited for longer than `timeout`. Both answer 503
/// `overloaded` with `Retry-After`, so a client or load balancer backs off or goes elsewhere.
#[derive(Clone)]
pub(crate) struct Guard {
    timeout: std::time::Duration,
    body_timeout: std::time::Duration,
    permits: std::sync::Arc<tokio::sync::Semaphore>,
}

impl Guard {
    pub(crate) fn new(
        timeout: std::time::Duration,
        body_timeout: std::time::Duration,
        max_concurrent: usize,
    ) -> Self {
        Self {
            timeout,
            body_timeout,
            permits: std::sync::Arc::new(tokio::sync::Semaphore::new(max_concurrent.max(1))),
        }
    }

    pub(crate) async fn run(
        axum::extract::State(guard): axum::extract::State<Self>,
        req: Request,
        next: Next,
    ) -> Response {
        let Ok(_permit) = guard.permits.try_acquire() else {
            metrics::counter!("portcullis_http_shed_total", "why" => "concurrency").increment(1);
            return crate::problem::Problem::overloaded("too many requests in flight")
                .into_response();
        };
        let req = match guard.whole_body(req).await {
            Ok(req) => req,
            Err(refused) => return refused,
        };
        // The handler runs on a task of its own, so a client that hangs up or a request past
        // the timeout stops only the wait for its answer, never the work half-way: a use
        // case of several steps (write an account, then queue its code) finishes as one.
        let work = tokio::spawn(next.run(req));
        match tokio::time::timeout(guard.timeout, work).await {
            Ok(Ok(res)) => res,
            Ok(Err(e)) => crate::problem::Problem::internal(format!("request task failed: {e}"))
                .into_response(),
            Err(_) => {
                metrics::counter!("portcullis_http_shed_total", "why" => "timeout").increment(1);
                crate::problem::Problem::overloaded("the request timed out").into_response()
            }
        }
    }

    /// The request with its body wholly received, within the body deadline and the size
    /// limit. Bodies are small (64 KiB at most) and every handler reads its whole body, so
    /// reading it here costs nothing extra, bounds the time a client may take to send it
    /// (one deadline for the whole body, where a per-read timeout would let a byte every
    /// few seconds through), and leaves the handler's task independent of the connection.
    async fn whole_body(&self, req: Request) -> Result<Request, Response> {
        use axum::body::{Body, HttpBody as _};
        if req.body().size_hint().exact() == Some(0) {
            return Ok(req);
        }
        let (parts, body) = req.into_parts();
        let read = tokio::time::timeout(
            self.body_timeout,
            axum::body::to_bytes(body, crate::MAX_BODY_BYTES),
        )
        .await;
        match read {
            Ok(Ok(bytes)) => Ok(Request::from_parts(parts, Body::from(bytes))),
            // Over the limit: the handler's own body extractor says so, in its surface's
            // words (a dialect's envelope, a page), from a body that fails the same way.
            Ok(Err(e)) if too_large(&e) => Ok(Request::from_parts(
                parts,
                Body::new(http_body_util::Limited::new(
                    http_body_util::Full::new(axum::body::Bytes::from(vec![
                        0;
                        crate::MAX_BODY_BYTES
                            + 1
                    ])),
                    crate::MAX_BODY_BYTES,
                )),
            )),
            Ok(Err(_)) => Err(crate::problem::Problem::bad_json(
                "the request body could not be read",
            )
            .into_response()),
            Err(_) => {
                metrics::counter!("portcullis_http_shed_total", "why" => "body_timeout")
                    .increment(1);
                Err(crate::problem::Problem::request_timeout().into_response())
            }
        }
    }
}

/// Whether reading a body failed on the size limit.
fn too_large(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// Logs and counts each request; replaces the body of a 500 with the generic one.
/// The headers every answer carries: no caching (unless the handler set its own), no
/// sniffing, no framing, no referrer, HTTPS only, its own browsing context, and the API's
/// content security policy (unless a page set its own). One layer for all of them: as
/// separate layers, each was cloned and dropped for every request.
pub(crate) async fn security_headers(mut res: Response) -> Response {
    use axum::http::header;
    let h = res.headers_mut();
    h.entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
    h.entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(HeaderValue::from_static(API_CSP));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::STRICT_TRANSPORT_SECURITY,
        HeaderValue::from_static("max-age=31536000"),
    );
    h.insert(
        axum::http::HeaderName::from_static("cross-origin-opener-policy"),
        HeaderValue::from_static("same-origin"),
    );
    res
}

pub(crate) async fn observe(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    // The matched route's template, never the raw path: paths carry phone numbers, emails
    // and codes (`/dfx/users/auth/code/{org}/{phone}`).
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let request_id = req
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-")
        .to_owned();

    let mut res = next.run(req).await;
    let status = res.status();
    if let Some(InternalCause(cause)) = res.extensions_mut().remove::<InternalCause>() {
        tracing::error!(request_id = %request_id, %method, %route, status = status.as_u16(), cause = %cause, "request failed");
        // `/v1`'s 500 gets the generic body with the request id; a surface with its own
        // envelope (a dialect, a page) has already answered in its own generic words.
        let problem = res
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
        if status == StatusCode::INTERNAL_SERVER_ERROR && problem {
            res = internal_error_body(&request_id);
        }
    }
    let latency_ms = start.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(
        request_id = %request_id,
        %method,
        %route,
        status = status.as_u16(),
        latency_ms = format!("{latency_ms:.1}"),
        "request"
    );
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("portcullis_http_requests_total", &labels).increment(1);
    metrics::histogram!("portcullis_http_request_duration_seconds", &labels[..2])
        .record(latency_ms / 1000.0);
    res
}

fn internal_error_body(request_id: &str) -> Response {
    let body = ProblemBody {
        type_: "about:blank".to_owned(),
        title: "Internal Server Error".to_owned(),
        status: 500,
        detail: "internal error".to_owned(),
        code: ProblemCode::Internal,
        errors: Vec::new(),
        mfa_methods: None,
        request_id: Some(request_id.to_owned()),
    };
    let mut res = (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response();
    res.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

/// Turns a panic in a handler into a 500 problem (logged by [`observe`]).
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    crate::problem::Problem::internal("handler panicked").into_response()
}
