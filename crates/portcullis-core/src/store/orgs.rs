//! Organizations and their policies.

use async_trait::async_trait;

use crate::error::StoreError;
use crate::ids::OrgId;
use crate::model::Organization;

/// The storage of organizations and their policies.
#[async_trait]
pub trait OrgStore: Send + Sync + 'static {
    /// Inserts the organization unless one with its slug exists; answers the stored one.
    async fn ensure_org(&self, org: &Organization) -> Result<Organization, StoreError>;
    /// An organization by slug.
    async fn org_by_slug(&self, slug: &str) -> Result<Option<Organization>, StoreError>;
    /// An organization by id.
    async fn org_by_id(&self, id: OrgId) -> Result<Option<Organization>, StoreError>;
    /// Creates an organization; `Conflict { what: "slug" }` when the slug is taken.
    async fn insert_org(&self, org: &Organization) -> Result<Organization, StoreError>;
    /// Organizations by id order, after the cursor.
    async fn list_orgs(
        &self,
        after: Option<OrgId>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError>;
    /// Replaces name and policy.
    async fn update_org(&self, org: &Organization) -> Result<Option<Organization>, StoreError>;
}
