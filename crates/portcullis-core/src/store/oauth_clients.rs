//! Registered OAuth clients.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::OrgId;
use crate::oauth::OAuthClient;

/// The storage of registered OAuth clients.
#[async_trait]
pub trait OAuthClientStore: Send + Sync + 'static {
    /// Registers a client with the hash of its secret (none for a public client).
    async fn insert_oauth_client(
        &self,
        client: &OAuthClient,
        secret_hash: Option<&str>,
    ) -> Result<(), StoreError>;
    /// An organization's clients, newest first.
    async fn oauth_clients(&self, org_id: OrgId) -> Result<Vec<OAuthClient>, StoreError>;
    /// One client of an organization.
    async fn oauth_client(
        &self,
        org_id: OrgId,
        id: uuid::Uuid,
    ) -> Result<Option<OAuthClient>, StoreError>;
    /// Replaces a client's settings (by its organization and id); false when there is none.
    async fn update_oauth_client(&self, client: &OAuthClient) -> Result<bool, StoreError>;
    /// Replaces a client's secret; false when the organization has no such client.
    async fn set_oauth_client_secret(
        &self,
        org_id: OrgId,
        id: uuid::Uuid,
        secret_hash: &str,
        secret_prefix: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Deletes a client; false when the organization has no such client.
    async fn delete_oauth_client(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError>;
}
