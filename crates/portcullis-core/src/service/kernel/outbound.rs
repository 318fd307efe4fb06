//! The outbound queue's two ends: a use case queues an HTTP call (sealed, with the master
//! key, since a body may carry personal data) and returns at once; the [`Dispatcher`], one
//! per node, leases due calls from the store, makes them, and records the outcome, retrying
//! with backoff. A lease that runs out unreleased (the node died mid-call) makes the call due
//! again, so an acknowledged call is made at least once; receivers tell repeats apart by the
//! token's `jti` (back-channel logout) or the call's id (webhooks).

use std::sync::Arc;

use chrono::Duration;
use tokio::sync::Notify;

use super::services::Services;
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::error::AuthError;
use crate::ids::OrgId;
use crate::notify::{Caller, OutboundRequest};
use crate::store::{OutboundJob, Store, StoreError};

/// Attempts before a call is given up.
const MAX_ATTEMPTS: u32 = 10;
/// Calls leased per round.
const BATCH: usize = 16;
const SEAL_PURPOSE: &str = "outbound call";

/// Wait before retry `attempt` (1-based): 2, 4, 8 ... seconds, at most an hour.
fn backoff(attempt: u32) -> Duration {
    Duration::seconds(2_i64.saturating_pow(attempt.min(12)).min(3600))
}

impl Services {
    /// Queues `request` for the dispatchers; `kind` names it in metrics and logs.
    pub(crate) async fn call_out(
        &self,
        org_id: Option<OrgId>,
        kind: &str,
        request: &OutboundRequest,
    ) -> Result<(), AuthError> {
        let plain = serde_json::to_vec(request)
            .map_err(|e| AuthError::Internal(format!("outbound call: {e}")))?;
        self.store
            .enqueue_call(&OutboundJob {
                id: uuid::Uuid::now_v7(),
                org_id,
                kind: kind.to_owned(),
                payload: self.seal(SEAL_PURPOSE, &plain),
                attempts: 0,
                created_at: self.now(),
            })
            .await?;
        self.outbound_wake.notify_one();
        Ok(())
    }

    /// The outbound queue's worker for this node, calling through `caller`.
    pub fn dispatcher(&self, caller: Arc<dyn Caller>) -> Dispatcher {
        Dispatcher {
            store: Arc::clone(&self.store),
            clock: Arc::clone(&self.clock),
            master: self.master.clone(),
            caller,
            wake: Arc::clone(&self.outbound_wake),
            lease: Duration::seconds(60),
        }
    }
}

/// Works the outbound queue; one per node, several nodes share it safely.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    master: MasterKey,
    caller: Arc<dyn Caller>,
    wake: Arc<Notify>,
    lease: Duration,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher")
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl Dispatcher {
    /// One round: leases the due calls and makes each. Answers how many succeeded.
    pub async fn call_due(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let batch = self.store.claim_calls(now, now + self.lease, BATCH).await?;
        let mut done = 0;
        for job in batch {
            if self.call(&job).await? {
                done += 1;
            }
        }
        Ok(done)
    }

    fn open(&self, job: &OutboundJob) -> Option<OutboundRequest> {
        let plain = super::services::open_sealed(&self.master, SEAL_PURPOSE, &job.payload)?;
        serde_json::from_slice(&plain).ok()
    }

    async fn call(&self, job: &OutboundJob) -> Result<bool, StoreError> {
        let Some(request) = self.open(job) else {
            self.store
                .call_failed(job.id, None, "unreadable payload", self.clock.now())
                .await?;
            return Ok(false);
        };
        let result = self.caller.post(&request).await;
        let now = self.clock.now();
        let kind = job.kind.clone();
        match result {
            Ok(_) => {
                self.store.call_done(job.id, now).await?;
                metrics::counter!("portcullis_outbound_calls_total", "kind" => kind, "result" => "ok")
                    .increment(1);
                Ok(true)
            }
            Err(e) => {
                let retry_at = (!e.permanent && job.attempts < MAX_ATTEMPTS)
                    .then(|| now + backoff(job.attempts));
                metrics::counter!("portcullis_outbound_calls_total", "kind" => kind, "result" => "failed")
                    .increment(1);
                tracing::warn!(call.id = %job.id, call.kind = %job.kind, attempts = job.attempts,
                    error = %e, gave_up = retry_at.is_none(), "outbound call failed");
                self.store
                    .call_failed(job.id, retry_at, &e.reason, now)
                    .await?;
                Ok(false)
            }
        }
    }

    /// Works the queue until `shutdown` completes: at once when a call is queued on this
    /// node, and every second for calls queued elsewhere or due for retry.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        super::queue::work(
            "outbound",
            BATCH,
            &self.wake,
            shutdown,
            || self.call_due(),
            || async {},
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
        assert_eq!(backoff(30), Duration::seconds(3600));
    }
}
