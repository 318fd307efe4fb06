//! Upstream identity providers of organizations, and the upstream accounts linked to users.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::{OrgId, UserId};
use crate::upstream::{IdentityProvider, LinkedIdentity};

/// The storage of identity providers and linked identities.
#[async_trait]
pub trait UpstreamStore: Send + Sync + 'static {
    /// Adds a provider.
    async fn insert_provider(&self, provider: &IdentityProvider) -> Result<(), StoreError>;
    /// An organization's providers, oldest first.
    async fn providers(&self, org_id: OrgId) -> Result<Vec<IdentityProvider>, StoreError>;
    /// One provider (of an organization, when named).
    async fn provider(
        &self,
        org_id: Option<OrgId>,
        id: uuid::Uuid,
    ) -> Result<Option<IdentityProvider>, StoreError>;
    /// Replaces a provider's name, settings, enabled flag and secret; false when none.
    async fn update_provider(&self, provider: &IdentityProvider) -> Result<bool, StoreError>;
    /// Deletes a provider and every identity linked through it; false when none.
    async fn delete_provider(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError>;

    /// The identity with this key, through this provider.
    async fn identity_by_subject(
        &self,
        provider_id: uuid::Uuid,
        issuer: &str,
        subject: &str,
    ) -> Result<Option<LinkedIdentity>, StoreError>;
    /// A user's identities, oldest first.
    async fn identities(&self, user_id: UserId) -> Result<Vec<LinkedIdentity>, StoreError>;
    /// Links an identity; `Duplicate` when the key is already linked.
    async fn link_identity(&self, identity: &LinkedIdentity) -> Result<(), StoreError>;
    /// Records a sign-in through an identity: when, the address it gave, and (when kept)
    /// the refresh token.
    async fn touch_identity(
        &self,
        id: uuid::Uuid,
        at: DateTime<Utc>,
        email: Option<&str>,
        refresh_token_sealed: Option<&str>,
    ) -> Result<(), StoreError>;
    /// Unlinks one of a user's identities; false when the user has none by that id.
    async fn unlink_identity(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError>;
}
