//! Administration: users, roles, sessions and the audit log, within the admin's reach.

use tracing::instrument;

use super::account::UpdateProfileInput;
use super::auth::RegisterInput;
use super::input::Fields;
use super::{Principal, Services};
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::identity::{Email, RoleName};
use crate::ids::{OrgId, UserId};
use crate::model::{Organization, Role, User};
use crate::store::{AuditFilter, UserFilter};

/// An administrator, proven: only [`Services::admin`] makes one, so an admin use case
/// cannot forget the check. `scope` is the one organization of an `org_admin`, or `None`
/// for a `system_admin`.
#[derive(Debug, Clone)]
pub struct OrgAdmin {
    actor: Principal,
    scope: Option<OrgId>,
}

impl OrgAdmin {
    /// Who is acting.
    pub fn actor(&self) -> &Principal {
        &self.actor
    }

    /// Whether this admin reaches every organization (`system_admin`).
    pub fn is_system(&self) -> bool {
        self.scope.is_none()
    }

    /// Whether the organization is within this admin's reach.
    pub(super) fn reaches_org(&self, org: OrgId) -> bool {
        self.scope.is_none_or(|own| own == org)
    }

    /// The user, if within reach; others are invisible (not found, not forbidden).
    fn reach(&self, user: Option<User>) -> Result<User, AuthError> {
        match user {
            Some(u) if self.scope.is_none_or(|org| org == u.org_id) => Ok(u),
            _ => Err(AuthError::NotFound),
        }
    }

    /// Only a system admin may grant `system_admin`.
    fn may_grant(&self, roles: &[String]) -> Result<(), AuthError> {
        if roles.iter().any(|r| r == RoleName::SYSTEM_ADMIN) && !self.is_system() {
            return Err(AuthError::Forbidden(
                "only a system_admin may grant system_admin",
            ));
        }
        Ok(())
    }

    /// Only a system admin may act on a system admin.
    pub(super) fn may_manage(&self, target: &User) -> Result<(), AuthError> {
        if target.has_role(RoleName::SYSTEM_ADMIN) && !self.is_system() {
            return Err(AuthError::Forbidden(
                "only a system_admin may manage a system_admin",
            ));
        }
        Ok(())
    }
}

/// An admin's new user: a registration plus roles and pre-verified addresses.
#[derive(Debug, Default)]
pub struct AdminCreateInput {
    /// The account fields.
    pub account: RegisterInput,
    /// Roles beyond `user`.
    pub roles: Vec<String>,
    /// Mark the given email/phone as verified.
    pub verified: bool,
}

/// An admin's change to a user: profile fields and `active`.
#[derive(Debug, Default)]
pub struct AdminUpdateInput {
    /// Profile changes.
    pub profile: UpdateProfileInput,
    /// Activate or deactivate.
    pub active: Option<bool>,
}

pub(super) fn parse_roles(f: &mut Fields, raw: &[String]) -> Vec<String> {
    let mut roles: Vec<String> = raw
        .iter()
        .filter_map(|r| {
            f.take(RoleName::parse(r.trim(), "roles"))
                .map(|r| r.as_str().to_owned())
        })
        .collect();
    if roles.len() > 32 {
        f.push("roles", "at most 32 roles");
    }
    roles.sort();
    roles.dedup();
    roles
}

impl Services {
    /// Proves the caller is an administrator.
    pub fn admin(&self, who: Principal) -> Result<OrgAdmin, AuthError> {
        if who.user.has_role(RoleName::SYSTEM_ADMIN) {
            Ok(OrgAdmin {
                actor: who,
                scope: None,
            })
        } else if who.user.has_role(RoleName::ORG_ADMIN) {
            let org = who.user.org_id;
            Ok(OrgAdmin {
                actor: who,
                scope: Some(org),
            })
        } else {
            Err(AuthError::Forbidden(
                "this needs the org_admin or system_admin role",
            ))
        }
    }

    fn admin_event(
        &self,
        admin: &OrgAdmin,
        kind: AuditKind,
        target: &User,
        client: &ClientInfo,
    ) -> AuditEvent {
        self.event(kind, target.org_id, client)
            .user(target.id)
            .actor(admin.actor.user.id)
    }

    /// The organization an admin names, within reach.
    pub(super) async fn admin_org(
        &self,
        admin: &OrgAdmin,
        slug: Option<&str>,
    ) -> Result<Organization, AuthError> {
        let org = match slug {
            None => self.org(Some(&admin.actor.user.org_slug)).await?,
            Some(s) => self.org(Some(s)).await?,
        };
        if admin.scope.is_some_and(|own| own != org.id) {
            return Err(AuthError::NotFound);
        }
        Ok(org)
    }

    /// Lists users within reach.
    pub async fn list_users(
        &self,
        admin: &OrgAdmin,
        mut filter: UserFilter,
    ) -> Result<Vec<User>, AuthError> {
        if let Some(own) = admin.scope {
            filter.org_id = Some(own);
        }
        Ok(self.store.list_users(&filter).await?)
    }

    /// One user within reach.
    pub async fn get_user(&self, admin: &OrgAdmin, id: UserId) -> Result<User, AuthError> {
        admin.reach(self.store.user_by_id(id).await?)
    }

    /// A user within reach whom this admin may act on or look into (keys, tokens, devices,
    /// codes): an organization admin acts on no one who holds a role above its own.
    pub async fn managed_user(&self, admin: &OrgAdmin, id: UserId) -> Result<User, AuthError> {
        let user = self.get_user(admin, id).await?;
        admin.may_manage(&user)?;
        Ok(user)
    }

    /// Creates a user, optionally with roles and verified addresses, password optional.
    #[instrument(skip_all)]
    pub async fn admin_create_user(
        &self,
        admin: &OrgAdmin,
        input: AdminCreateInput,
    ) -> Result<User, AuthError> {
        let org = self
            .admin_org(admin, input.account.organization.as_deref())
            .await?;
        let mut f = Fields::default();
        let account = self.parse_new_account(&mut f, &input.account, input.verified, false);
        let roles = parse_roles(&mut f, &input.roles);
        f.finish()?;
        admin.may_grant(&roles)?;
        let user = self.create_account(&org, account, roles).await?;
        self.audit(self.admin_event(
            admin,
            AuditKind::AdminUserCreated,
            &user,
            &input.account.client,
        ))
        .await;
        self.send_verifications(&user, &input.account.client, Some(admin.actor.user.id))
            .await;
        Ok(user)
    }

    /// Changes a user's profile and/or `active`. Deactivation ends every session at once.
    #[instrument(skip_all, fields(user.id = %id))]
    pub async fn admin_update_user(
        &self,
        admin: &OrgAdmin,
        id: UserId,
        input: AdminUpdateInput,
    ) -> Result<User, AuthError> {
        let target = self.managed_user(admin, id).await?;
        if input.active == Some(false) && target.id == admin.actor.user.id {
            return Err(AuthError::Forbidden(
                "you cannot deactivate your own account",
            ));
        }
        let client = input.profile.client.clone();
        let mut user = self
            .patch_profile(&target, input.profile, admin.actor.user.id)
            .await?;
        self.audit(self.admin_event(admin, AuditKind::AdminUserUpdated, &user, &client))
            .await;
        if let Some(active) = input.active.filter(|a| *a != target.active) {
            user = self
                .store
                .set_active(id, active, self.now())
                .await?
                .ok_or(AuthError::NotFound)?;
            let kind = if active {
                AuditKind::AdminUserActivated
            } else {
                AuditKind::AdminUserDeactivated
            };
            self.audit(self.admin_event(admin, kind, &user, &client))
                .await;
        }
        Ok(user)
    }

    /// Deletes a user and all their data.
    #[instrument(skip_all, fields(user.id = %id))]
    pub async fn admin_delete_user(
        &self,
        admin: &OrgAdmin,
        id: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let target = self.managed_user(admin, id).await?;
        if target.id == admin.actor.user.id {
            return Err(AuthError::Forbidden(
                "delete your own account through /v1/users/me",
            ));
        }
        self.store.delete_user(id).await?;
        self.audit(self.admin_event(admin, AuditKind::AdminUserDeleted, &target, client))
            .await;
        Ok(())
    }

    /// Replaces a user's roles (`user` is always kept).
    #[instrument(skip_all, fields(user.id = %id))]
    pub async fn admin_set_roles(
        &self,
        admin: &OrgAdmin,
        id: UserId,
        roles: &[String],
        client: &ClientInfo,
    ) -> Result<Vec<Role>, AuthError> {
        let target = self.managed_user(admin, id).await?;
        let mut f = Fields::default();
        let mut roles = parse_roles(&mut f, roles);
        f.finish()?;
        admin.may_grant(&roles)?;
        let drops_own_admin = target.id == admin.actor.user.id
            && [RoleName::ORG_ADMIN, RoleName::SYSTEM_ADMIN]
                .into_iter()
                .any(|r| target.has_role(r) && !roles.iter().any(|n| n == r));
        if drops_own_admin {
            // As with deactivating or deleting oneself: another administrator must do it,
            // so that an organization cannot lose its last administrator by a slip.
            return Err(AuthError::Forbidden(
                "you cannot remove your own administrator role",
            ));
        }
        if !roles.iter().any(|r| r == RoleName::USER) {
            roles.push(RoleName::USER.to_owned());
            roles.sort();
        }
        let stored = self
            .store
            .set_roles(id, &roles, self.now())
            .await?
            .ok_or(AuthError::NotFound)?;
        self.audit(
            self.admin_event(admin, AuditKind::AdminRolesSet, &target, client)
                .detail("roles", roles),
        )
        .await;
        Ok(stored)
    }

    /// Ends every session of a user.
    #[instrument(skip_all, fields(user.id = %id))]
    pub async fn admin_revoke_sessions(
        &self,
        admin: &OrgAdmin,
        id: UserId,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let target = self.managed_user(admin, id).await?;
        let n = self
            .store
            .revoke_sessions(id, None, "revoked_by_admin", self.now())
            .await?;
        self.audit(
            self.admin_event(admin, AuditKind::AdminSessionsRevoked, &target, client)
                .detail("sessions", n),
        )
        .await;
        Ok(())
    }

    /// The audit log within reach, newest first.
    pub async fn list_audit(
        &self,
        admin: &OrgAdmin,
        mut filter: AuditFilter,
    ) -> Result<Vec<AuditEvent>, AuthError> {
        if let Some(kind) = &filter.kind {
            if AuditKind::parse(kind).is_none() {
                return Err(AuthError::invalid("type", "unknown event type"));
            }
        }
        if let Some(own) = admin.scope {
            filter.org_id = Some(own);
        }
        Ok(self.store.list_audit(&filter).await?)
    }

    /// Creates the bootstrap admin (`system_admin` in `default`) unless it exists; answers
    /// whether it was made. Nodes starting together may race: the loser finds it made.
    pub async fn bootstrap_admin(&self, email: &str, password: &str) -> Result<bool, AuthError> {
        let parsed = Email::parse(email, "PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL")
            .map_err(|e| AuthError::Validation(vec![e]))?;
        let key = crate::store::LookupKey::Email(parsed.as_str().to_owned());
        if self
            .store
            .credentials(self.default_org.id, &key)
            .await?
            .is_some()
        {
            return Ok(false);
        }
        match self
            .create_admin(email, password, RoleName::SYSTEM_ADMIN, None)
            .await
        {
            Ok(_) => Ok(true),
            Err(AuthError::Duplicate(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Creates an administrator (`org_admin` or `system_admin`) with a verified email, from
    /// the operator's console (`portcullis admin create`); a `system_admin` belongs to
    /// `default`. Answers 409 `duplicate` when the address is taken.
    pub async fn create_admin(
        &self,
        email: &str,
        password: &str,
        role: &str,
        org: Option<&str>,
    ) -> Result<User, AuthError> {
        if ![RoleName::ORG_ADMIN, RoleName::SYSTEM_ADMIN].contains(&role) {
            return Err(AuthError::invalid(
                "role",
                "must be org_admin or system_admin",
            ));
        }
        if role == RoleName::SYSTEM_ADMIN
            && org.is_some_and(|o| o != crate::model::Organization::DEFAULT_SLUG)
        {
            return Err(AuthError::invalid(
                "organization",
                "a system_admin belongs to default",
            ));
        }
        let input = RegisterInput {
            email: Some(email.to_owned()),
            password: Some(password.to_owned()),
            organization: org.map(str::to_owned),
            ..RegisterInput::default()
        };
        let org = self.org(org).await?;
        let mut f = Fields::default();
        let account = self.parse_new_account(&mut f, &input, true, true);
        f.finish()?;
        let user = self
            .create_account(&org, account, vec![role.to_owned()])
            .await?;
        self.audit(
            self.event(
                AuditKind::BootstrapAdminCreated,
                org.id,
                &ClientInfo::default(),
            )
            .user(user.id)
            .detail("role", role),
        )
        .await;
        Ok(user)
    }
}
