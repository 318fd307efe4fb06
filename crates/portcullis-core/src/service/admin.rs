//! Administration: users, roles, sessions and the audit log, within the admin's reach.

use tracing::instrument;

use super::kernel::accounts::{RegisterInput, UpdateProfileInput};
use super::kernel::authz::{parse_roles, OrgAdmin};
use super::kernel::input::Fields;
use super::Services;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::identity::{Email, RoleName};
use crate::ids::UserId;
use crate::model::{Role, User};
use crate::store::{AuditFilter, UserFilter};

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

impl Services {
    /// Lists users within reach.
    pub async fn list_users(
        &self,
        admin: &OrgAdmin,
        mut filter: UserFilter,
    ) -> Result<Vec<User>, AuthError> {
        if let Some(own) = admin.scope() {
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
        let created = |id| {
            self.event(AuditKind::AdminUserCreated, org.id, &input.account.client)
                .user(id)
                .actor(admin.actor().user.id)
        };
        self.create_account(
            &org,
            account,
            roles,
            "admin",
            created,
            Some((&input.account.client, Some(admin.actor().user.id))),
        )
        .await
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
        if input.active == Some(false) && target.id == admin.actor().user.id {
            return Err(AuthError::Forbidden(
                "you cannot deactivate your own account",
            ));
        }
        let client = input.profile.client.clone();
        let updated = self.admin_event(admin, AuditKind::AdminUserUpdated, &target, &client);
        let mut user = self
            .patch_profile(&target, input.profile, admin.actor().user.id, updated)
            .await?;
        if let Some(active) = input.active.filter(|a| *a != target.active) {
            let kind = if active {
                AuditKind::AdminUserActivated
            } else {
                AuditKind::AdminUserDeactivated
            };
            let event = self.admin_event(admin, kind, &target, &client);
            user = self
                .changed(
                    event,
                    self.store.set_active(id, active, self.now()),
                    Option::is_some,
                )
                .await?
                .ok_or(AuthError::NotFound)?;
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
        if target.id == admin.actor().user.id {
            return Err(AuthError::Forbidden(
                "delete your own account through /v1/users/me",
            ));
        }
        let deleted = self.admin_event(admin, AuditKind::AdminUserDeleted, &target, client);
        self.changed(deleted, self.store.delete_user(id), |d| *d)
            .await?;
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
        let drops_own_admin = target.id == admin.actor().user.id
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
        let set = self
            .admin_event(admin, AuditKind::AdminRolesSet, &target, client)
            .detail("roles", roles.clone());
        let stored = self
            .changed(
                set,
                self.store.set_roles(id, &roles, self.now()),
                Option::is_some,
            )
            .await?
            .ok_or(AuthError::NotFound)?;
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
        let revoked = self.admin_event(admin, AuditKind::AdminSessionsRevoked, &target, client);
        self.changed(
            revoked,
            self.store
                .revoke_sessions(id, None, "revoked_by_admin", self.now()),
            |_| true,
        )
        .await?;
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
        if let Some(own) = admin.scope() {
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
        let created = |id| {
            self.event(
                AuditKind::BootstrapAdminCreated,
                org.id,
                &ClientInfo::default(),
            )
            .user(id)
            .detail("role", role)
        };
        let user = self
            .create_account(&org, account, vec![role.to_owned()], "admin", created, None)
            .await?;
        Ok(user)
    }
}
