//! HTTP hardening: security headers, the request timeout and in-flight limit, and audit
//! retention and filters.

use portcullis_testkit::client::AuditQuery;
use portcullis_testkit::{both_backends, Backend, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD};
use reqwest::Method;

async fn answers_carry_security_headers_and_no_version_banner(app: TestServer) {
    let c = app.client();
    for path in ["/v1/users/me", "/healthz", "/v1/openapi.json", "/nowhere"] {
        let res = c.request(Method::GET, path).send().await.unwrap();
        let h = res.headers();
        assert_eq!(
            h["content-security-policy"],
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
            "{path}"
        );
        assert_eq!(h["x-frame-options"], "DENY");
        assert_eq!(h["referrer-policy"], "no-referrer");
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["cross-origin-opener-policy"], "same-origin");
        assert!(h["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age="));
        assert!(h.get("server").is_none(), "{path} names its server");
        assert!(h.get("x-powered-by").is_none());
    }
    // The docs page has an inline stylesheet and nothing else.
    let docs = c.request(Method::GET, "/docs").send().await.unwrap();
    let csp = docs.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.starts_with("default-src 'none'; style-src 'unsafe-inline';"),
        "{csp}"
    );
    assert!(!docs.text().await.unwrap().contains("<script"));
}

/// Audit events past the retention time are deleted by the housekeeping job; `since` and
/// `until` select a time window.
async fn audit_events_past_retention_are_deleted(backend: Backend) {
    let Some(app) = TestServer::spawn_with(backend, |c| {
        c.janitor_interval_secs = 1;
        c.audit_retention_days = 30;
    })
    .await
    else {
        return;
    };
    let old = app.user("old@example.com").await;
    let old_time = app.now();
    app.advance(20 * 86_400);
    let new = app.user("new@example.com").await;
    let admin = app.admin().await;
    let registered = |until: Option<chrono::DateTime<chrono::Utc>>| AuditQuery {
        kind: Some("user.registered".into()),
        until: until.map(|t| t.to_rfc3339()),
        since: None,
        ..Default::default()
    };
    let window = admin
        .audit_events(&registered(Some(old_time + chrono::Duration::days(1))))
        .await
        .unwrap();
    assert_eq!(
        window.items.iter().map(|e| e.user_id).collect::<Vec<_>>(),
        [Some(old.id)]
    );
    app.advance(11 * 86_400);
    // A fresh sign-in: the first session is 31 days old by the moved clock.
    let admin = app.admin().await;
    for attempt in 0.. {
        let left = admin.audit_events(&registered(None)).await.unwrap().items;
        if left.len() == 1 {
            assert_eq!(left[0].user_id, Some(new.id), "the 11-day-old event stays");
            break;
        }
        assert!(attempt < 150, "31-day-old events still there after 15 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let bad = admin
        .request(Method::GET, "/v1/audit-events?until=yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

both_backends!(answers_carry_security_headers_and_no_version_banner);

mod retention {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        audit_events_past_retention_are_deleted(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        audit_events_past_retention_are_deleted(Backend::Postgres).await;
    }
}

/// A request that runs past the timeout is abandoned with 503 `overloaded`; while the
/// in-flight limit is reached, further requests are refused at once the same way. Password
/// hashing is made slow (64 MiB x 48 passes) so that one sign-in outlasts the one-second
/// timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_requests_time_out_and_excess_requests_are_shed() {
    let app = TestServer::spawn_with(Backend::Sqlite, |c| {
        c.request_timeout_secs = 1;
        c.max_concurrent_requests = 1;
        c.argon2_memory_kib = 64 * 1024;
        c.argon2_iterations = 48;
        c.hash_concurrency = Some(1);
    })
    .await
    .unwrap();
    let slow = {
        let c = app.client();
        tokio::spawn(async move {
            let started = std::time::Instant::now();
            let r = c
                .request(Method::POST, "/v1/auth/login")
                .json(&serde_json::json!({"identifier": ADMIN_EMAIL, "password": ADMIN_PASSWORD}))
                .send()
                .await
                .unwrap();
            (
                r.status(),
                r.headers().get("retry-after").cloned(),
                r.text().await.unwrap(),
                started.elapsed(),
            )
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let shed = app
        .client()
        .request(Method::GET, "/healthz")
        .send()
        .await
        .unwrap();
    assert_eq!(shed.status(), 503);
    assert_eq!(shed.headers()["retry-after"], "1");
    let body: serde_json::Value = shed.json().await.unwrap();
    assert_eq!(body["code"], "overloaded");

    let (status, retry, text, took) = slow.await.unwrap();
    assert_eq!(status, 503, "{text}");
    assert!(retry.is_some());
    assert!(text.contains("\"overloaded\""), "{text}");
    assert!(took >= std::time::Duration::from_secs(1));
    // Freed again.
    let ok = app
        .client()
        .request(Method::GET, "/healthz")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}
