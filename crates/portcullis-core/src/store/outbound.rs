//! The outbound queue: HTTP calls to other systems, kept until they succeed or are given up,
//! leased so that any node can work them and none twice at once.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::OrgId;

/// A queued call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundJob {
    /// Identifier (time-ordered).
    pub id: uuid::Uuid,
    /// The organization it is for, if any.
    pub org_id: Option<OrgId>,
    /// What it is (`backchannel_logout`), for the audit log and metrics.
    pub kind: String,
    /// The request, sealed with the master key (it may carry personal data).
    pub payload: String,
    /// Attempts so far (counting the one a claim starts).
    pub attempts: u32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
}

/// The storage of the outbound queue.
#[async_trait]
pub trait OutboundStore: Send + Sync + 'static {
    /// Queues a call, due at once.
    async fn enqueue_call(&self, job: &OutboundJob) -> Result<(), StoreError>;
    /// Leases up to `limit` due calls until `lease_until`, counting an attempt for each.
    async fn claim_calls(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboundJob>, StoreError>;
    /// Records a call's success.
    async fn call_done(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records a failure: due again at `retry_at`, or given up when `None`.
    async fn call_failed(
        &self,
        id: uuid::Uuid,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}
