//! The outbox worker: leases due messages, delivers them, and records the outcome. Messages
//! are written to the outbox in the same transaction as what they announce, so an HTTP
//! answer never waits for SMTP or SMS and a crash loses nothing: a lease that runs out
//! unreleased (the worker died mid-way) makes its messages due again.

use std::sync::Arc;

use chrono::Duration;
use tokio::sync::Notify;

use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::notify::{Mailer, Message, SmsSender};
use crate::store::{QueuedMessage, Store, StoreError};

/// Delivery attempts before a message is given up.
const MAX_ATTEMPTS: u32 = 10;
/// Messages leased per round.
const BATCH: usize = 16;

/// Delivers the outbox; one per node, several nodes share the queue safely.
pub struct Courier {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    master: MasterKey,
    mailer: Arc<dyn Mailer>,
    sms: Arc<dyn SmsSender>,
    wake: Arc<Notify>,
    lease: Duration,
}

impl std::fmt::Debug for Courier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Courier")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

/// Wait before retry `attempt` (1-based): 2, 4, 8 ... seconds, at most an hour.
fn backoff(attempt: u32) -> Duration {
    Duration::seconds(2_i64.saturating_pow(attempt.min(12)).min(3600))
}

impl Courier {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        master: MasterKey,
        mailer: Arc<dyn Mailer>,
        sms: Arc<dyn SmsSender>,
        wake: Arc<Notify>,
    ) -> Self {
        Self {
            store,
            clock,
            master,
            mailer,
            sms,
            wake,
            lease: Duration::seconds(60),
        }
    }

    /// One round: leases the due messages and delivers each. Answers how many were sent.
    pub async fn deliver_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let batch = self
            .store
            .claim_messages(now, now + self.lease, BATCH)
            .await?;
        let mut sent = 0;
        for queued in batch {
            if self.deliver(&queued).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    async fn deliver(&self, queued: &QueuedMessage) -> Result<bool, StoreError> {
        let message = self
            .master
            .open(&queued.payload)
            .ok()
            .and_then(|plain| serde_json::from_slice::<Message>(&plain).ok());
        let Some(message) = message else {
            // Sealed with another master key, or damaged: it can never be sent.
            self.store
                .message_failed(queued.id, None, "unreadable payload", self.clock.now())
                .await?;
            self.record(AuditKind::MessageFailed, queued, "unreadable")
                .await;
            return Ok(false);
        };
        let (channel, result) = match &message {
            Message::Email(m) => ("email", self.mailer.send(m).await),
            Message::Sms(m) => ("sms", self.sms.send(m).await),
        };
        let now = self.clock.now();
        match result {
            Ok(()) => {
                self.store.message_sent(queued.id, now).await?;
                metrics::counter!("portcullis_messages_sent_total", "channel" => channel)
                    .increment(1);
                self.record(AuditKind::MessageDelivered, queued, channel)
                    .await;
                Ok(true)
            }
            Err(e) => {
                metrics::counter!("portcullis_message_failures_total", "channel" => channel)
                    .increment(1);
                let retry_at =
                    (queued.attempts < MAX_ATTEMPTS).then(|| now + backoff(queued.attempts));
                tracing::warn!(message.id = %queued.id, attempts = queued.attempts, error = %e, gave_up = retry_at.is_none(), "message delivery failed");
                self.store
                    .message_failed(queued.id, retry_at, &e.0, now)
                    .await?;
                if retry_at.is_none() {
                    self.record(AuditKind::MessageFailed, queued, channel).await;
                }
                Ok(false)
            }
        }
    }

    async fn record(&self, kind: AuditKind, queued: &QueuedMessage, channel: &str) {
        let event = AuditEvent::new(
            kind,
            queued.org_id,
            self.clock.now(),
            &ClientInfo::default(),
        )
        .detail("message_id", queued.id.to_string())
        .detail("purpose", queued.purpose.clone())
        .detail("channel", channel);
        if let Err(e) = self.store.record_audit(&event).await {
            tracing::error!(error = %e, "could not record audit event");
        }
    }

    /// Publishes the outbox's state as gauges.
    async fn report(&self) {
        if let Ok(stats) = self.store.outbox_stats().await {
            #[expect(
                clippy::cast_precision_loss,
                reason = "gauges are f64; counts stay far below 2^52"
            )]
            for (state, n) in [
                ("pending", stats.pending),
                ("retrying", stats.retrying),
                ("failed", stats.failed),
            ] {
                metrics::gauge!("portcullis_outbox_messages", "state" => state).set(n as f64);
            }
        }
    }

    /// Delivers until `shutdown` completes: at once when a message is queued on this node,
    /// and every second for messages queued elsewhere or due for retry.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        // The gauges are refreshed once a second at most: a read of the whole queue per
        // message would cost more than the message.
        let reported = std::sync::Mutex::new(None::<std::time::Instant>);
        super::queue::work(
            "outbox",
            BATCH,
            &self.wake,
            shutdown,
            || self.deliver_due(),
            || async {
                let due = {
                    let mut last = reported.lock().unwrap_or_else(|e| e.into_inner());
                    let due =
                        last.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(1));
                    if due {
                        *last = Some(std::time::Instant::now());
                    }
                    due
                };
                if due {
                    self.report().await;
                }
            },
        )
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff(1), Duration::seconds(2));
        assert_eq!(backoff(3), Duration::seconds(8));
        assert_eq!(backoff(30), Duration::seconds(3600));
    }
}
