//! The audit log.

use portcullis_api::AuditEventList;
use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;

use crate::{Client, Error};

/// Filters for [`Client::audit_events`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditQuery {
    /// About this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// Of this type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// At or after (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Before (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl Client {
    /// `GET /v1/audit-events` (admin).
    pub async fn audit_events(&self, query: &AuditQuery) -> Result<AuditEventList, Error> {
        self.send(self.request(Method::GET, "/v1/audit-events").query(query))
            .await
    }
}
