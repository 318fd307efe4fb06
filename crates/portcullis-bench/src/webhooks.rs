//! Webhooks' figures: deliveries per second to a loopback receiver (the whole pipeline:
//! lease, sign, post, record), and sign-ins with a `custom_access_token_claims` hook beside
//! sign-ins without one. The endpoint and the hook are set through the admin API, as an
//! operator would; the receivers are bare axum handlers, so that they cost next to nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use portcullis_core::webhooks::{Delivery, DeliveryState};

/// The bench's admin (bootstrap admin of a server started here).
pub(crate) const ADMIN: &str = "bench-admin@bench.test";

/// When the first and the last post came.
type Arrivals = Arc<Mutex<Option<(Instant, Instant)>>>;

/// A loopback receiver answering every post with `answer` (JSON) or 204: its URL, how many
/// posts came, and when the first and the last did.
async fn receiver(
    answer: Option<serde_json::Value>,
) -> anyhow::Result<(String, Arc<AtomicU64>, Arrivals)> {
    let count = Arc::new(AtomicU64::new(0));
    let arrivals: Arrivals = Arc::new(Mutex::new(None));
    let (c, l) = (Arc::clone(&count), Arc::clone(&arrivals));
    let app = axum::Router::new().route(
        "/in",
        axum::routing::post(move || {
            let (c, l, answer) = (Arc::clone(&c), Arc::clone(&l), answer.clone());
            async move {
                c.fetch_add(1, Ordering::Relaxed);
                let now = Instant::now();
                let mut at = l.lock().unwrap_or_else(|e| e.into_inner());
                *at = Some(at.map_or((now, now), |(first, _)| (first, now)));
                match answer {
                    Some(a) => axum::Json(a).into_response(),
                    None => axum::http::StatusCode::NO_CONTENT.into_response(),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/in", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, count, arrivals))
}

use axum::response::IntoResponse as _;

/// The admin's access token, or `None` when the server has no such admin (a server started
/// elsewhere): the webhook figures are then left out.
pub(crate) async fn admin_token(url: &str, password: &str) -> Option<String> {
    let pair = crate::post_ok(
        &crate::http(),
        &format!("{url}/v1/auth/login"),
        serde_json::json!({"identifier": ADMIN, "password": password}),
    )
    .await?;
    pair["access_token"].as_str().map(str::to_owned)
}

async fn admin_call(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let res = crate::http()
        .request(method, &url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(res.status().is_success(), "{url}: {}", res.status());
    Ok(res.json().await.unwrap_or(serde_json::Value::Null))
}

/// Deliveries per second: `n` events queued to one endpoint (distinct subjects, so nothing
/// waits for order), all due two seconds on, timed from the first arrival to the last. Due
/// later than they are queued, so that the deliverer does not send them one by one as they
/// come in (on PostgreSQL it had, and the rate measured nothing).
pub(crate) async fn deliveries(
    url: &str,
    token: &str,
    store: &Arc<dyn portcullis_core::Store>,
    n: usize,
) -> anyhow::Result<f64> {
    let (target, count, arrivals) = receiver(None).await?;
    let made = admin_call(
        reqwest::Method::POST,
        format!("{url}/v1/orgs/default/webhooks"),
        token,
        serde_json::json!({"url": target, "event_types": ["webhook.created"]}),
    )
    .await?;
    let id: uuid::Uuid = made["id"].as_str().context("webhook id")?.parse()?;
    let now = portcullis_core::Clock::now(&portcullis_core::SystemClock);
    let due = now + chrono::Duration::seconds(2);
    for _ in 0..n {
        store
            .queue_delivery(&Delivery {
                webhook_id: id,
                event_id: uuid::Uuid::now_v7(),
                event_type: "bench.event".into(),
                body: r#"{"type":"bench.event","timestamp":"2026-01-01T00:00:00Z","data":{}}"#
                    .into(),
                state: DeliveryState::Pending,
                attempts: 0,
                last_status: None,
                last_latency_ms: None,
                last_error: None,
                next_at: Some(due),
                created_at: now,
                delivered_at: None,
            })
            .await?;
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while count.load(Ordering::Relaxed) < n as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let got = count.load(Ordering::Relaxed);
    anyhow::ensure!(got >= n as u64, "only {got} of {n} deliveries arrived");
    let (first, end) = arrivals
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .context("no delivery arrived")?;
    admin_call(
        reqwest::Method::DELETE,
        format!("{url}/v1/orgs/default/webhooks/{id}"),
        token,
        serde_json::Value::Null,
    )
    .await?;
    Ok(n.saturating_sub(1) as f64 / end.duration_since(first).as_secs_f64().max(1e-3))
}

/// Sets a `custom_access_token_claims` hook that answers at once with one claim.
pub(crate) async fn set_claims_hook(url: &str, token: &str) -> anyhow::Result<()> {
    let (target, _, _) = receiver(Some(serde_json::json!({"claims": {"tier": "gold"}}))).await?;
    admin_call(
        reqwest::Method::PUT,
        format!("{url}/v1/orgs/default/hooks/custom_access_token_claims"),
        token,
        serde_json::json!({"url": target, "on_failure": "closed"}),
    )
    .await?;
    Ok(())
}

/// Removes the hook.
pub(crate) async fn remove_claims_hook(url: &str, token: &str) -> anyhow::Result<()> {
    let res = crate::http()
        .delete(format!(
            "{url}/v1/orgs/default/hooks/custom_access_token_claims"
        ))
        .bearer_auth(token)
        .send()
        .await?;
    anyhow::ensure!(
        res.status().is_success(),
        "removing the hook: {}",
        res.status()
    );
    Ok(())
}
