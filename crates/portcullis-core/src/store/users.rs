//! Users: accounts, credentials, profiles, roles, numbers and security questions.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{CodeIssue, CodeOutcome};
use crate::error::StoreError;
use crate::identity::{Attributes, Username};
use crate::ids::{OrgId, SessionId, UserId};
use crate::model::{Credentials, Role, User};

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Identifier.
    pub id: UserId,
    /// Organization.
    pub org_id: OrgId,
    /// The profile.
    pub profile: Profile,
    /// PHC hash, if the account has a password.
    pub password_hash: Option<String>,
    /// Guest account.
    pub anonymous: bool,
    /// Active from the start.
    pub active: bool,
    /// Roles granted at creation.
    pub roles: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// The editable profile of a user, whole (the use case merges patches).
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Normalised email.
    pub email: Option<String>,
    /// Email proven.
    pub email_verified: bool,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Phone proven.
    pub phone_verified: bool,
    /// Username as given.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Application fields.
    pub attributes: Attributes,
}

impl Profile {
    /// The profile of an existing user.
    pub fn of(user: &User) -> Self {
        Self {
            email: user.email.clone(),
            email_verified: user.email_verified,
            phone: user.phone.clone(),
            phone_verified: user.phone_verified,
            username: user.username.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            attributes: user.attributes.clone(),
        }
    }

    /// The key the username is unique and found by (see [`Username::key_of`]).
    pub fn username_key(&self) -> Option<String> {
        self.username.as_deref().map(Username::key_of)
    }
}

/// How a user is looked up at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupKey {
    /// Normalised email.
    Email(String),
    /// E.164 phone.
    Phone(String),
    /// Case-folded username.
    Username(String),
}

/// Filters for the admin user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only this organization; `None` is every organization.
    pub org_id: Option<OrgId>,
    /// Case-insensitive substring of email, phone, username or names.
    pub query: Option<String>,
    /// Holds this role.
    pub role: Option<String>,
    /// Active or not.
    pub active: Option<bool>,
    /// Ids strictly after this one (the cursor).
    pub after: Option<UserId>,
    /// At most this many.
    pub limit: usize,
}

/// The storage of users: accounts, credentials, profiles, roles, numbers and security questions.
#[async_trait]
pub trait UserStore: Send + Sync + 'static {
    /// Creates a user with roles and issues `codes` (those proving its addresses, each
    /// within its limits, with its event), in one transaction.
    async fn create_user(
        &self,
        user: &NewUser,
        codes: &[CodeIssue],
    ) -> Result<(User, Vec<CodeOutcome>), StoreError>;
    /// Creates a user with roles.
    async fn insert_user(&self, user: &NewUser) -> Result<User, StoreError> {
        Ok(self.create_user(user, &[]).await?.0)
    }
    /// Inserts many users (with their roles) in one transaction: all or none. For imports.
    async fn insert_users(&self, users: &[NewUser]) -> Result<u64, StoreError>;
    /// The user's number (for the dialects whose clients type user ids as numbers), given
    /// on first ask: 1, 2, 3, ... never reused, even after the user is deleted.
    async fn user_number(&self, user_id: UserId) -> Result<u32, StoreError>;
    /// The user a number names, if it still names one.
    async fn user_by_number(&self, number: u32) -> Result<Option<UserId>, StoreError>;
    /// A user by id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// A user and password hash by sign-in identifier within an organization.
    async fn credentials(
        &self,
        org_id: OrgId,
        key: &LookupKey,
    ) -> Result<Option<Credentials>, StoreError>;
    /// The password hash of a user.
    async fn password_hash(&self, id: UserId) -> Result<Option<String>, StoreError>;
    /// Replaces the profile.
    async fn update_profile(
        &self,
        id: UserId,
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    /// Sets `active`; deactivation revokes every session in the same transaction.
    async fn set_active(
        &self,
        id: UserId,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    /// Replaces the hash after a login with outdated parameters.
    async fn upgrade_password_hash(&self, id: UserId, hash: &str) -> Result<(), StoreError>;
    /// Sets a new password and revokes every session but `keep`, atomically.
    async fn change_password(
        &self,
        id: UserId,
        hash: &str,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Turns a guest into a full account: sets the profile's addresses and username, the
    /// password hash, and clears `anonymous`. `None` when the user is not anonymous.
    async fn upgrade_anonymous(
        &self,
        id: UserId,
        profile: &Profile,
        password_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    /// Deletes guest accounts with no sign-in, refresh or change since `idle_since`;
    /// answers the ids (with their organizations) deleted.
    async fn delete_idle_anonymous(
        &self,
        idle_since: DateTime<Utc>,
    ) -> Result<Vec<(UserId, OrgId)>, StoreError>;
    /// Deletes the user and, by cascade, everything of theirs. False when absent.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError>;
    /// Lists users by id order, with their password hashes.
    async fn list_credentials(&self, filter: &UserFilter) -> Result<Vec<Credentials>, StoreError>;
    /// Lists users by id order.
    async fn list_users(&self, filter: &UserFilter) -> Result<Vec<User>, StoreError> {
        Ok(self
            .list_credentials(filter)
            .await?
            .into_iter()
            .map(|c| c.user)
            .collect())
    }
    /// Replaces the roles, keeping `added_at` of roles already held.
    async fn set_roles(
        &self,
        id: UserId,
        roles: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Role>>, StoreError>;
    /// Replaces a user's security questions with `(question, answer hash)` pairs, in order.
    async fn set_security_questions(
        &self,
        user_id: UserId,
        questions: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// A user's security questions with their answer hashes, in order.
    async fn security_questions(
        &self,
        user_id: UserId,
    ) -> Result<Vec<(String, String)>, StoreError>;
}
