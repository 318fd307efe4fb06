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
