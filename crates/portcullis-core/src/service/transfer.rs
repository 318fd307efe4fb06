//! Moving users in and out: export as records (with password hashes), and import of
//! records from Portcullis or from other systems, whose password hashes (bcrypt, Django
//! PBKDF2-SHA256, scrypt, argon2) are kept as they are and replaced by argon2id with this
//! server's parameters at each user's next sign-in.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::kernel::accounts::RegisterInput;
use super::kernel::authz::parse_roles;
use super::kernel::input::Fields;
use super::Services;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::identity::RoleName;
use crate::ids::UserId;
use crate::model::Organization;
use crate::password::HashFormat;
use crate::store::{NewUser, StoreError, UserFilter};

/// One user as exported, and as imported (one JSON object per line). On import only an
/// address or a username is required; absent fields take their defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserRecord {
    /// Kept on import when given (so references from other systems stay valid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Uuid>,
    /// Organization slug; `default` when absent.
    #[serde(default = "default_org")]
    pub organization: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default)]
    pub email_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default)]
    pub phone_verified: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
    /// Roles; `user` is always added.
    #[serde(default)]
    pub roles: Vec<String>,
    #[serde(default)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// argon2 or scrypt PHC string, bcrypt (`$2b$...`) or Django `pbkdf2_sha256$...`;
    /// absent for accounts that sign in by code only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

fn default_org() -> String {
    Organization::DEFAULT_SLUG.to_owned()
}

fn yes() -> bool {
    true
}

/// Why an import batch was refused: the record (0-based, within the batch) and the cause.
/// Nothing of the batch was stored.
#[derive(Debug, thiserror::Error)]
#[error("{}{error}", index.map(|i| format!("record {i}: ")).unwrap_or_default())]
pub struct ImportError {
    /// The first bad record, or `None` when the batch as a whole conflicted.
    pub index: Option<usize>,
    /// The cause.
    pub error: AuthError,
}

impl Services {
    /// A page of users (not guests) in id order, after `after`, with password hashes, and
    /// the id to continue after (guests included, so a page of guests does not end the
    /// export early); `None` at the end.
    pub async fn export_users(
        &self,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<(Vec<UserRecord>, Option<UserId>), AuthError> {
        let page = self
            .store
            .list_credentials(&UserFilter {
                after,
                limit: limit.clamp(1, 10_000),
                ..UserFilter::default()
            })
            .await?;
        let next = page.last().map(|c| c.user.id);
        let records = page
            .into_iter()
            .filter(|c| !c.user.anonymous)
            .map(|c| {
                let u = c.user;
                UserRecord {
                    id: Some(u.id.0),
                    organization: u.org_slug,
                    email: u.email,
                    email_verified: u.email_verified,
                    phone: u.phone,
                    phone_verified: u.phone_verified,
                    username: u.username,
                    first_name: u.first_name,
                    last_name: u.last_name,
                    active: u.active,
                    roles: u.roles.into_iter().map(|r| r.name).collect(),
                    attributes: u.attributes.as_map().clone(),
                    password_hash: c.password_hash,
                    created_at: Some(u.created_at),
                }
            })
            .collect();
        Ok((records, next))
    }

    /// Imports a batch of records in one transaction: every record is checked first (the
    /// same rules as registration, and a recognised hash format), then all are stored or,
    /// on a conflict with an existing account, none.
    pub async fn import_users(&self, records: Vec<UserRecord>) -> Result<u64, ImportError> {
        let mut orgs: HashMap<String, Organization> = HashMap::new();
        let mut users = Vec::with_capacity(records.len());
        let now = self.now();
        for (index, r) in records.into_iter().enumerate() {
            let bad = |error: AuthError| ImportError {
                index: Some(index),
                error,
            };
            if !orgs.contains_key(&r.organization) {
                let org = self.org(Some(&r.organization)).await.map_err(bad)?;
                orgs.insert(r.organization.clone(), org);
            }
            let org = &orgs[&r.organization];
            let mut f = Fields::default();
            let input = RegisterInput {
                email: r.email.clone(),
                phone: r.phone.clone(),
                username: r.username.clone(),
                first_name: r.first_name.clone(),
                last_name: r.last_name.clone(),
                attributes: Some(serde_json::Value::Object(r.attributes.clone())),
                ..RegisterInput::default()
            };
            let mut account = self.parse_new_account(&mut f, &input, false, false);
            if r.email.is_none() && r.phone.is_none() && account.profile.username.is_some() {
                // A username alone is enough for an imported account (it signs in with it).
                f.forget("email");
            }
            account.profile.email_verified = r.email_verified && account.profile.email.is_some();
            account.profile.phone_verified = r.phone_verified && account.profile.phone.is_some();
            let mut roles = parse_roles(&mut f, &r.roles);
            if !roles.iter().any(|n| n == RoleName::USER) {
                roles.push(RoleName::USER.to_owned());
            }
            if let Some(hash) = &r.password_hash {
                if HashFormat::of(hash).is_none() {
                    f.push(
                        "password_hash",
                        "is not a recognised format (argon2 or scrypt PHC, bcrypt, Django pbkdf2_sha256)",
                    );
                }
            }
            f.finish().map_err(bad)?;
            users.push(NewUser {
                id: r.id.map_or_else(UserId::new, UserId),
                org_id: org.id,
                profile: account.profile,
                password_hash: r.password_hash,
                anonymous: false,
                active: r.active,
                roles,
                created_at: r.created_at.unwrap_or(now),
            });
        }
        let events = orgs
            .values()
            .map(|org| {
                let count = users.iter().filter(|u| u.org_id == org.id).count();
                AuditEvent::new(
                    AuditKind::UsersImported,
                    Some(org.id),
                    now,
                    &ClientInfo::default(),
                )
                .detail("count", count)
            })
            .collect();
        let n = self
            .changed_with(events, self.store.insert_users(&users), |_| true)
            .await
            .map_err(|e| ImportError {
                index: None,
                error: match e {
                    StoreError::Conflict { what } => AuthError::Duplicate(what),
                    e => e.into(),
                },
            })?;
        Ok(n)
    }
}
