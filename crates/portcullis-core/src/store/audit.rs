//! The audit log.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditEvent;
use crate::error::StoreError;
use crate::ids::{AuditId, OrgId, UserId};

/// Filters for the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this organization; `None` is every organization.
    pub org_id: Option<OrgId>,
    /// Only about this user.
    pub user_id: Option<UserId>,
    /// Only this kind (wire name).
    pub kind: Option<String>,
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Strictly before this time.
    pub until: Option<DateTime<Utc>>,
    /// Ids strictly before this one (newest first; the cursor).
    pub before: Option<AuditId>,
    /// At most this many.
    pub limit: usize,
}

tokio::task_local! {
    /// The audit events attached to the store write in progress (see [`with_events`]).
    static ATTACHED: std::cell::RefCell<Vec<AuditEvent>>;
}

/// Runs `change`, one store write, with `events` attached to it: a write that commits a
/// transaction records them in that transaction, so an event exists exactly when its change
/// does (and the webhook deliveries it queues with it). Answers the write's output and the
/// events no transaction took (a write without one): those are for the caller to record
/// after it.
pub async fn with_events<F: std::future::Future>(
    events: Vec<AuditEvent>,
    change: F,
) -> (F::Output, Vec<AuditEvent>) {
    ATTACHED
        .scope(std::cell::RefCell::new(events), async move {
            let out = change.await;
            (out, attached_events())
        })
        .await
}

/// For the store, as it commits a write's transaction: the events attached to the write
/// (taken, so that they are recorded once); none outside [`with_events`].
pub fn attached_events() -> Vec<AuditEvent> {
    ATTACHED
        .try_with(|a| std::mem::take(&mut *a.borrow_mut()))
        .unwrap_or_default()
}

/// Whether the store write in progress has events attached to it, without taking them: a
/// one-statement write needs a transaction only for them.
pub fn events_attached() -> bool {
    ATTACHED
        .try_with(|a| !a.borrow().is_empty())
        .unwrap_or(false)
}

/// The storage of the audit log.
#[async_trait]
pub trait AuditStore: Send + Sync + 'static {
    /// Records an audit event.
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Lists audit events, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError>;
    /// Deletes audit events recorded before `before`; answers how many.
    async fn purge_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
