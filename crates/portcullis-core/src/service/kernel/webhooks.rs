//! Webhook delivery: the [`Deliverer`], one per node, leases due deliveries from the store
//! (queued by the audit log's writer with the events they report), signs each per Standard
//! Webhooks at the moment it is sent, posts it, and records the attempt: delivered on a 2xx,
//! else due again after the next wait of the retry schedule, or given up after the last
//! (marking the endpoint failing). A lease that runs out unreleased (the node died mid-call)
//! makes the delivery due again, with the same `webhook-id`: receivers dedupe on it.

use std::sync::Arc;
use std::time::Instant;

use chrono::Duration;
use tokio::sync::Notify;

use super::services::Services;
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::notify::{Caller, OutboundRequest};
use crate::store::{Store, StoreError};
use crate::webhooks::{next_retry, signed_headers, Attempt, DueDelivery};

/// Deliveries leased per round, sent at once.
const BATCH: usize = 32;
/// How long a receiver may take to answer, milliseconds.
const DELIVERY_TIMEOUT_MS: u64 = 10_000;
/// What webhook secrets are sealed for.
pub(crate) const SECRET_PURPOSE: &str = "webhook secret";

impl Services {
    /// The webhook deliverer for this node, calling through `caller`.
    pub fn deliverer(&self, caller: Arc<dyn Caller>) -> Deliverer {
        Deliverer {
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
            master: self.master.clone(),
            caller,
            wake: Arc::clone(&self.webhook_wake),
            lease: Duration::seconds(60),
            schedule: self.config.webhook_retry.clone(),
        }
    }
}

/// Works the webhook deliveries; one per node, several nodes share them safely.
pub struct Deliverer {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    master: MasterKey,
    caller: Arc<dyn Caller>,
    wake: Arc<Notify>,
    lease: Duration,
    schedule: Vec<Duration>,
}

impl std::fmt::Debug for Deliverer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deliverer")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Deliverer {
    /// One round: leases the due deliveries and sends them together (a user's events are
    /// never in one round together, so order holds). Answers how many were attempted.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let batch = self
            .store
            .claim_deliveries(now, now + self.lease, BATCH)
            .await?;
        let n = batch.len();
        let results = futures_util::future::join_all(batch.iter().map(|d| self.deliver(d))).await;
        for r in results {
            r?;
        }
        Ok(n)
    }

    fn secret(&self, sealed: &str) -> Option<String> {
        let plain = super::services::open_sealed(&self.master, SECRET_PURPOSE, sealed)?;
        String::from_utf8(plain.to_vec()).ok()
    }

    async fn deliver(&self, d: &DueDelivery) -> Result<(), StoreError> {
        let started = Instant::now();
        let sent_at = self.clock.now();
        // The current secret, and the one before it while it still signs; a secret that
        // cannot be read fails the delivery rather than sending it with fewer signatures.
        let secrets = std::iter::once(&d.secret_sealed)
            .chain(&d.previous_secret_sealed)
            .map(|sealed| self.secret(sealed))
            .collect::<Option<Vec<String>>>();
        let headers = secrets.and_then(|secrets| {
            let secrets: Vec<&str> = secrets.iter().map(String::as_str).collect();
            signed_headers(&secrets, &d.event_id.to_string(), sent_at, &d.body)
        });
        let result = match headers {
            Some(headers) => self
                .caller
                .post(&OutboundRequest {
                    url: d.url.clone(),
                    content_type: "application/json".into(),
                    body: d.body.clone(),
                    headers,
                    timeout_ms: Some(DELIVERY_TIMEOUT_MS),
                })
                .await
                .map(|reply| reply.status)
                .map_err(|e| (e.status, e.reason, e.permanent)),
            None => Err((None, "the endpoint's secret cannot be read".into(), true)),
        };
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        metrics::histogram!("portcullis_webhook_delivery_seconds")
            .record(started.elapsed().as_secs_f64());
        let at = self.clock.now();
        let (attempt, retry_at) = match result {
            Ok(status) => {
                metrics::counter!("portcullis_webhook_deliveries_total", "result" => "delivered")
                    .increment(1);
                (
                    Attempt {
                        status: Some(status),
                        latency_ms,
                        error: None,
                        at,
                    },
                    None,
                )
            }
            Err((status, reason, permanent)) => {
                let retry_at = if permanent {
                    None
                } else {
                    next_retry(&self.schedule, d.attempts, at)
                };
                let result = if retry_at.is_some() {
                    "retry"
                } else {
                    "failed"
                };
                metrics::counter!("portcullis_webhook_deliveries_total", "result" => result)
                    .increment(1);
                tracing::warn!(webhook.id = %d.webhook_id, event.id = %d.event_id,
                    attempts = d.attempts, error = %reason, gave_up = retry_at.is_none(),
                    "webhook delivery failed");
                (
                    Attempt {
                        status,
                        latency_ms,
                        error: Some(reason),
                        at,
                    },
                    retry_at,
                )
            }
        };
        self.store
            .record_attempt(d.webhook_id, d.event_id, &attempt, retry_at)
            .await
    }

    /// Delivers until `shutdown` completes: at once when an event is recorded on this node,
    /// again at once after a round that sent anything (a user's next event may be waiting
    /// for it), and every second for events recorded elsewhere or due for retry.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        super::queue::work(
            "webhooks",
            1,
            &self.wake,
            shutdown,
            || self.deliver_due(),
            || async {},
        )
        .await;
    }
}
