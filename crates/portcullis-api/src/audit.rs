//! The audit log's events.

use super::*;

/// A recorded security event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEvent {
    /// Identifier (time-ordered).
    pub id: Uuid,
    /// Kind, such as `login.failed`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The user the event is about.
    pub user_id: Option<Uuid>,
    /// Who acted.
    pub actor_id: Option<Uuid>,
    /// Client address.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Extra facts.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// A page of audit events, newest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AuditEventList {
    /// The events.
    pub items: Vec<AuditEvent>,
    /// Pass as `?cursor=` for older events; `null` on the last page.
    pub next_cursor: Option<String>,
}
