//! The outbox of mail and SMS, leased to the couriers of every node.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::OrgId;

/// A message in the outbox, its payload sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Identifier (time-ordered).
    pub id: uuid::Uuid,
    /// Organization, for the audit log.
    pub org_id: Option<OrgId>,
    /// What it is for (the code purpose, or `notice`).
    pub purpose: String,
    /// Address it goes to (for per-recipient limits).
    pub recipient: String,
    /// The sealed [`crate::notify::Message`].
    pub payload: String,
    /// Enqueue time.
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// How the outbox stands, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Waiting to be sent, never tried.
    pub pending: u64,
    /// Waiting to be sent again after a failure.
    pub retrying: u64,
    /// Given up.
    pub failed: u64,
}

/// The storage of the outbox of mail and SMS, leased to the couriers of every node.
#[async_trait]
pub trait MessageStore: Send + Sync + 'static {
    /// Queues a message.
    async fn enqueue(&self, message: &QueuedMessage) -> Result<(), StoreError>;
    /// Leases up to `limit` due messages until `lease_until`, so that no other worker or
    /// node takes them meanwhile; a worker that dies leaves them to be taken again.
    async fn claim_messages(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<QueuedMessage>, StoreError>;
    /// Records a delivery and wipes the payload.
    async fn message_sent(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records a failed delivery: retried at `retry_at`, or given up when `None`.
    async fn message_failed(
        &self,
        id: uuid::Uuid,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Counts the outbox's messages by state.
    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;
}
