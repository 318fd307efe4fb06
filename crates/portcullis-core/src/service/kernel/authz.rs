//! Authorization: who may administer what. Only [`Services::admin`] makes an [`OrgAdmin`], so an
//! admin use case cannot forget the check.

use super::input::Fields;
use super::services::{Principal, Services};
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::identity::RoleName;
use crate::ids::OrgId;
use crate::model::{Organization, User};

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

    /// The one organization of an `org_admin`; `None` for a `system_admin`.
    pub(crate) fn scope(&self) -> Option<OrgId> {
        self.scope
    }

    /// Whether this admin reaches every organization (`system_admin`).
    pub fn is_system(&self) -> bool {
        self.scope.is_none()
    }

    /// Whether the organization is within this admin's reach.
    pub(crate) fn reaches_org(&self, org: OrgId) -> bool {
        self.scope.is_none_or(|own| own == org)
    }

    /// The user, if within reach; others are invisible (not found, not forbidden).
    pub(crate) fn reach(&self, user: Option<User>) -> Result<User, AuthError> {
        match user {
            Some(u) if self.scope.is_none_or(|org| org == u.org_id) => Ok(u),
            _ => Err(AuthError::NotFound),
        }
    }

    /// Only a system admin may grant `system_admin`.
    pub(crate) fn may_grant(&self, roles: &[String]) -> Result<(), AuthError> {
        if roles.iter().any(|r| r == RoleName::SYSTEM_ADMIN) && !self.is_system() {
            return Err(AuthError::Forbidden(
                "only a system_admin may grant system_admin",
            ));
        }
        Ok(())
    }

    /// Only a system admin may act on a system admin.
    pub(crate) fn may_manage(&self, target: &User) -> Result<(), AuthError> {
        if target.has_role(RoleName::SYSTEM_ADMIN) && !self.is_system() {
            return Err(AuthError::Forbidden(
                "only a system_admin may manage a system_admin",
            ));
        }
        Ok(())
    }
}

pub(crate) fn parse_roles(f: &mut Fields, raw: &[String]) -> Vec<String> {
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

    pub(crate) fn admin_event(
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
    pub(crate) async fn admin_org(
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
}
