//! The storage of SCIM provisioning: an organization's SCIM tokens, and what is kept of a
//! SCIM user beside its account (its `userName`, `externalId` and other attributes), with
//! the search SCIM lists users by.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::{OrgId, UserId};
use crate::model::User;
pub use crate::scim::group::{Member, ScimGroup};
pub use crate::scim::query::{ScimColumn, ScimCond, ScimValue};
use crate::scim::user::ScimAttributes;
use crate::store::{NewUser, Profile};

/// A SCIM token of an organization (its secret is kept as a hash only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimToken {
    /// Identifier.
    pub id: uuid::Uuid,
    /// The organization it provisions.
    pub org_id: OrgId,
    /// What it is for.
    pub description: String,
    /// The first characters of the token, to recognise it by.
    pub prefix: String,
    /// Who made it.
    pub created_by: Option<UserId>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was last used (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A search of an organization's users (guests are never listed).
#[derive(Debug, Clone)]
pub struct ScimSearch {
    /// The organization.
    pub org_id: OrgId,
    /// Which users.
    pub cond: ScimCond,
    /// Sorted by this column (else by id), descending when `descending`.
    pub sort: Option<ScimColumn>,
    /// Descending.
    pub descending: bool,
    /// Skip this many.
    pub offset: u64,
    /// At most this many (`None`: all).
    pub limit: Option<u64>,
}

/// The storage of SCIM provisioning.
#[async_trait]
pub trait ScimStore: Send + Sync + 'static {
    /// Stores a token with the hash of its secret.
    async fn insert_scim_token(&self, token: &ScimToken, hash: &str) -> Result<(), StoreError>;
    /// An organization's tokens, newest first.
    async fn scim_tokens(&self, org_id: OrgId) -> Result<Vec<ScimToken>, StoreError>;
    /// Deletes a token of the organization; false when it has none such.
    async fn delete_scim_token(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// The token whose secret hashes to `hash`.
    async fn scim_token_by_hash(&self, hash: &str) -> Result<Option<ScimToken>, StoreError>;
    /// Records a token's use.
    async fn touch_scim_token(&self, id: uuid::Uuid, at: DateTime<Utc>) -> Result<(), StoreError>;
    /// Creates a user with what SCIM keeps of it, in one transaction (with the events
    /// attached to the write). A `userName` the organization already has is a conflict
    /// on `userName`.
    async fn insert_scim_user(
        &self,
        user: &NewUser,
        scim: &ScimAttributes,
    ) -> Result<User, StoreError>;
    /// Replaces a user's profile, `active` and SCIM attributes in one transaction; `None`
    /// when the user is gone. Deactivating ends the user's sessions in it.
    async fn update_scim_user(
        &self,
        id: UserId,
        profile: &Profile,
        active: bool,
        scim: &ScimAttributes,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    /// A user of the organization with its SCIM attributes (none for a guest).
    async fn scim_user(
        &self,
        org_id: OrgId,
        id: UserId,
    ) -> Result<Option<(User, ScimAttributes)>, StoreError>;
    /// The users a search finds, with their SCIM attributes, and how many it finds in all.
    async fn scim_users(
        &self,
        search: &ScimSearch,
    ) -> Result<(u64, Vec<(User, ScimAttributes)>), StoreError>;
    /// Makes a group, giving its role to `members` (those of the organization that are not
    /// guests), in one transaction with the events attached. A display name or role the
    /// organization's groups already have is a conflict on `displayName`.
    async fn insert_scim_group(
        &self,
        group: &ScimGroup,
        members: &[UserId],
    ) -> Result<(), StoreError>;
    /// An organization's groups, by display name.
    async fn scim_groups(&self, org_id: OrgId) -> Result<Vec<ScimGroup>, StoreError>;
    /// One group of the organization.
    async fn scim_group(
        &self,
        org_id: OrgId,
        id: uuid::Uuid,
    ) -> Result<Option<ScimGroup>, StoreError>;
    /// The users of the organization who hold `role`, with their `userName`, by id.
    async fn role_members(&self, org_id: OrgId, role: &str) -> Result<Vec<Member>, StoreError>;
    /// Which of `ids` are users of the organization (not guests).
    async fn org_users_among(
        &self,
        org_id: OrgId,
        ids: &[UserId],
    ) -> Result<Vec<UserId>, StoreError>;
    /// Changes a group (its name, role, `externalId`), moving the role from `old_role` when it
    /// changed, giving it to `add` and taking it from `remove`, in one transaction with the
    /// events attached; false when the group is gone.
    async fn update_scim_group(
        &self,
        group: &ScimGroup,
        old_role: &str,
        add: &[UserId],
        remove: &[UserId],
    ) -> Result<bool, StoreError>;
    /// Deletes a group and takes its role from every member; false when it is not the
    /// organization's.
    async fn delete_scim_group(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError>;
}
