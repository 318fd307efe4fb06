//! Webhook endpoints, their deliveries (queued by the audit log's writer, in the transaction
//! that records the event), and hooks.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::OrgId;
use crate::webhooks::{Attempt, Delivery, DueDelivery, Hook, HookName, Webhook};

/// The storage of webhooks and hooks.
#[async_trait]
pub trait WebhookStore: Send + Sync + 'static {
    /// Adds an endpoint.
    async fn insert_webhook(&self, webhook: &Webhook) -> Result<(), StoreError>;
    /// An organization's endpoints, oldest first.
    async fn webhooks(&self, org_id: OrgId) -> Result<Vec<Webhook>, StoreError>;
    /// One endpoint of an organization.
    async fn webhook(&self, org_id: OrgId, id: uuid::Uuid) -> Result<Option<Webhook>, StoreError>;
    /// Replaces an endpoint's url, types, enabled flag and secret; false when there is none.
    async fn update_webhook(&self, webhook: &Webhook) -> Result<bool, StoreError>;
    /// Deletes an endpoint and its deliveries; false when there is none.
    async fn delete_webhook(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// Queues one delivery to one endpoint (a test event), due at once.
    async fn queue_delivery(&self, delivery: &Delivery) -> Result<(), StoreError>;
    /// An endpoint's deliveries, newest first, at most `limit`.
    async fn deliveries(
        &self,
        webhook_id: uuid::Uuid,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;
    /// Makes a delivery due again at once, whatever became of it; false when there is none.
    async fn redeliver(
        &self,
        webhook_id: uuid::Uuid,
        event_id: uuid::Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Leases up to `limit` due deliveries to enabled endpoints until `lease_until`, counting
    /// an attempt for each; a delivery waits while an earlier one about the same user to the
    /// same endpoint is pending, so that each user's events arrive in order.
    async fn claim_deliveries(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<DueDelivery>, StoreError>;
    /// Records an attempt: delivered when it has no error; else due again at `retry_at`, or
    /// given up (and the endpoint marked failing) when `None`. A success clears the mark.
    async fn record_attempt(
        &self,
        webhook_id: uuid::Uuid,
        event_id: uuid::Uuid,
        attempt: &Attempt,
        retry_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError>;
    /// Deletes finished deliveries older than `before`; answers how many.
    async fn purge_deliveries(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Sets (adds or replaces) a hook.
    async fn put_hook(&self, hook: &Hook) -> Result<(), StoreError>;
    /// An organization's hooks.
    async fn hooks(&self, org_id: OrgId) -> Result<Vec<Hook>, StoreError>;
    /// One hook of an organization.
    async fn hook(&self, org_id: OrgId, name: HookName) -> Result<Option<Hook>, StoreError>;
    /// Removes a hook; false when there is none.
    async fn delete_hook(&self, org_id: OrgId, name: HookName) -> Result<bool, StoreError>;
}
