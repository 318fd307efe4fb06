//! SCIM provisioning's use cases: an organization's SCIM tokens (made, listed and revoked by
//! its admins), the caller a token proves, and its users read, searched, created, replaced,
//! patched and deleted. Changes are audited like an admin's (`admin.user_*`, with `via:
//! scim` and the token), commit with their events, and ask `before_user_created`.

use serde_json::Value;
use tracing::instrument;

use super::kernel::authz::OrgAdmin;
use super::Services;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::crypto::{hash_token, random_token};
use crate::error::{AuthError, StoreError};
use crate::identity::RoleName;
use crate::ids::UserId;
use crate::model::{Organization, User};
use crate::scim::filter::Filter;
use crate::scim::group::{self as scim_group, GroupInput, GroupShape, ScimGroup};
use crate::scim::patch;
use crate::scim::user::{self as scim_user, ScimAttributes, UserInput, UserShape};
use crate::scim::{ScimError, ENTERPRISE_SCHEMA, MAX_RESULTS};
use crate::store::{NewUser, Profile, ScimCond, ScimSearch, ScimToken};

/// What a SCIM token looks like: `pcscim_` and 256 random bits.
pub const SCIM_TOKEN_PREFIX: &str = "pcscim_";
/// A token's use is recorded at most this often.
const TOUCH_EVERY_SECS: i64 = 60;

/// A SCIM client, proven by its token: only [`Services::scim_client`] makes one, and it
/// reaches only its organization.
#[derive(Debug, Clone)]
pub struct ScimClient {
    org: Organization,
    token_id: uuid::Uuid,
}

impl ScimClient {
    /// The organization it provisions.
    pub fn org(&self) -> &Organization {
        &self.org
    }
}

/// A list request: `filter`, `startIndex` (1-based), `count`, `sortBy`, `sortOrder`.
#[derive(Debug, Clone, Default)]
pub struct ScimListQuery {
    /// The filter.
    pub filter: Option<String>,
    /// 1-based index of the first result.
    pub start_index: Option<i64>,
    /// How many at most.
    pub count: Option<i64>,
    /// The attribute to sort by.
    pub sort_by: Option<String>,
    /// `ascending` or `descending`.
    pub sort_order: Option<String>,
}

/// A page of resources.
#[derive(Debug, Clone, PartialEq)]
pub struct ScimPage {
    /// How many match in all.
    pub total: u64,
    /// The 1-based index of the first.
    pub start_index: u64,
    /// The resources.
    pub resources: Vec<Value>,
}

impl From<AuthError> for ScimError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Store(StoreError::Conflict { what }) | AuthError::Duplicate(what) => {
                let attr = match what {
                    "email" => "emails",
                    "phone" => "phoneNumbers",
                    other => other,
                };
                Self::uniqueness(&format!("this {attr} is taken in the organization"))
            }
            AuthError::HookDenied(message) => Self::status(403, &message),
            AuthError::HookUnavailable => Self::status(503, "a hook did not answer"),
            AuthError::Forbidden(why) => Self::status(403, why),
            AuthError::NotFound => Self::not_found("no such resource"),
            AuthError::Store(StoreError::Unavailable(_)) | AuthError::Overloaded { .. } => {
                Self::status(503, "the service is unavailable; try again")
            }
            AuthError::Validation(fields) => Self::invalid_value(
                &fields
                    .iter()
                    .map(|f| format!("{} {}", f.field, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            other => {
                tracing::error!(error = %other, "scim request failed");
                Self::status(500, "the request could not be carried out")
            }
        }
    }
}

impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        AuthError::Store(e).into()
    }
}

impl Services {
    /// Makes a SCIM token for an organization; answers it and its secret (shown once).
    #[instrument(skip_all)]
    pub async fn create_scim_token(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        description: &str,
        client: &ClientInfo,
    ) -> Result<(ScimToken, String), AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let description = description.trim();
        if description.is_empty() || description.chars().count() > 200 {
            return Err(AuthError::invalid(
                "description",
                "must be 1 to 200 characters",
            ));
        }
        let secret = format!("{SCIM_TOKEN_PREFIX}{}", random_token(self.rng.as_ref()));
        let token = ScimToken {
            id: uuid::Uuid::now_v7(),
            org_id: org.id,
            description: description.to_owned(),
            prefix: secret.chars().take(SCIM_TOKEN_PREFIX.len() + 6).collect(),
            created_by: Some(admin.actor().user.id),
            created_at: super::kernel::services::stored_time(self.now()),
            last_used_at: None,
        };
        let event = self
            .event(AuditKind::ScimTokenCreated, org.id, client)
            .actor(admin.actor().user.id)
            .detail("scim_token_id", token.id.to_string());
        self.changed(
            event,
            self.store.insert_scim_token(&token, &hash_token(&secret)),
            |_| true,
        )
        .await?;
        Ok((token, secret))
    }

    /// An organization's SCIM tokens (never their secrets).
    pub async fn scim_tokens(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
    ) -> Result<Vec<ScimToken>, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        Ok(self.store.scim_tokens(org.id).await?)
    }

    /// Revokes a SCIM token: refused from the next request on, on every node.
    #[instrument(skip_all)]
    pub async fn revoke_scim_token(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let event = self
            .event(AuditKind::ScimTokenRevoked, org.id, client)
            .actor(admin.actor().user.id)
            .detail("scim_token_id", id.to_string());
        if !self
            .changed(event, self.store.delete_scim_token(org.id, id), |d| *d)
            .await?
        {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }

    /// The SCIM client a bearer token proves for the organization `org_slug`. Any failure is
    /// the same 401: no token, an unknown or revoked one, or another organization's.
    pub async fn scim_client(
        &self,
        org_slug: &str,
        bearer: Option<&str>,
    ) -> Result<ScimClient, ScimError> {
        let refused =
            || ScimError::status(401, "a valid SCIM token for this organization is required");
        let token = bearer
            .filter(|t| t.starts_with(SCIM_TOKEN_PREFIX) && t.len() <= 128)
            .ok_or_else(refused)?;
        let found = self
            .store
            .scim_token_by_hash(&hash_token(token))
            .await?
            .ok_or_else(refused)?;
        let org = self
            .store
            .org_by_slug(org_slug)
            .await?
            .ok_or_else(refused)?;
        if org.id != found.org_id {
            return Err(refused());
        }
        let now = self.now();
        if found
            .last_used_at
            .is_none_or(|at| (now - at).num_seconds() >= TOUCH_EVERY_SECS)
        {
            // Bookkeeping: a failure here does not refuse the request.
            if let Err(e) = self.store.touch_scim_token(found.id, now).await {
                tracing::warn!(error = %e, "could not record a SCIM token's use");
            }
        }
        Ok(ScimClient {
            org,
            token_id: found.id,
        })
    }

    fn scim_base(&self, c: &ScimClient) -> String {
        format!(
            "{}/scim/v2/{}",
            self.config.issuer.trim_end_matches('/'),
            c.org.slug
        )
    }

    fn scim_event(
        &self,
        c: &ScimClient,
        kind: AuditKind,
        user: UserId,
        client: &ClientInfo,
    ) -> AuditEvent {
        self.event(kind, c.org.id, client)
            .user(user)
            .detail("via", "scim")
            .detail("scim_token_id", c.token_id.to_string())
    }

    async fn scim_found(
        &self,
        c: &ScimClient,
        id: &str,
    ) -> Result<(User, ScimAttributes), ScimError> {
        let gone = || ScimError::not_found("no such user");
        let id: UserId = id.parse().map_err(|_| gone())?;
        self.store.scim_user(c.org.id, id).await?.ok_or_else(gone)
    }

    /// Refuses a `userName` another user of the organization answers to (409 `uniqueness`),
    /// SCIM's or the username, address or phone an account SCIM did not make answers to: a
    /// lookup by it would otherwise find two users. The database's unique key on SCIM's own
    /// names decides a race between two requests.
    async fn user_name_free(
        &self,
        c: &ScimClient,
        user_name: &str,
        except: Option<UserId>,
    ) -> Result<(), ScimError> {
        let (_, found) = self
            .store
            .scim_users(&ScimSearch {
                org_id: c.org.id,
                cond: ScimCond::Compare {
                    column: crate::store::ScimColumn::UserName,
                    op: crate::scim::CompareOp::Eq,
                    value: crate::store::ScimValue::Text(user_name.to_owned()),
                    case_exact: false,
                },
                sort: None,
                descending: false,
                offset: 0,
                limit: Some(2),
            })
            .await?;
        if found.iter().any(|(u, _)| Some(u.id) != except) {
            return Err(ScimError::uniqueness(
                "this userName is taken in the organization",
            ));
        }
        Ok(())
    }

    /// A user as SCIM shows it.
    pub async fn scim_user(&self, c: &ScimClient, id: &str) -> Result<Value, ScimError> {
        let groups = self.store.scim_groups(c.org.id).await?;
        let (user, scim) = self.scim_found(c, id).await?;
        Ok(scim_user::render_user(
            &user,
            &scim,
            &self.scim_base(c),
            &groups,
        ))
    }

    /// Users found by a filter, a page of them, sorted.
    pub async fn scim_users(
        &self,
        c: &ScimClient,
        q: &ScimListQuery,
    ) -> Result<ScimPage, ScimError> {
        let groups = self.store.scim_groups(c.org.id).await?;
        let filter = q
            .filter
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .map(Filter::parse)
            .transpose()?;
        if let Some(f) = &filter {
            f.check()?;
        }
        let (cond, exact) = match &filter {
            Some(f) => scim_user::condition(f)?,
            None => (ScimCond::True, true),
        };
        let start = u64::try_from(q.start_index.unwrap_or(1).max(1)).unwrap_or(1);
        let count = u64::try_from(q.count.unwrap_or(100).clamp(0, MAX_RESULTS as i64)).unwrap_or(0);
        let sort = q
            .sort_by
            .as_deref()
            .map(scim_user::sort_column)
            .transpose()?
            .flatten();
        let descending = q
            .sort_order
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case("descending"));
        let render = |(u, s): &(User, ScimAttributes)| {
            scim_user::render_user(u, s, &self.scim_base(c), &groups)
        };
        if exact {
            let (total, found) = self
                .store
                .scim_users(&ScimSearch {
                    org_id: c.org.id,
                    cond,
                    sort,
                    descending,
                    offset: start - 1,
                    limit: Some(count),
                })
                .await?;
            return Ok(ScimPage {
                total,
                start_index: start,
                resources: found.iter().map(render).collect(),
            });
        }
        // The store narrows; the filter decides, then the page is cut. Within a bound: one
        // request may not load every user of a large organization.
        let cap = self.config.scim_max_candidates;
        let (_, found) = self
            .store
            .scim_users(&ScimSearch {
                org_id: c.org.id,
                cond,
                sort,
                descending,
                offset: 0,
                limit: Some(cap.saturating_add(1)),
            })
            .await?;
        if found.len() as u64 > cap {
            return Err(ScimError::too_many(
                "this filter needs more users weighed than allowed: filter on userName, externalId, a name, an address, active or the times as well",
            ));
        }
        let filter = filter.ok_or_else(|| ScimError::status(500, "no filter"))?;
        let matching: Vec<Value> = found
            .iter()
            .map(render)
            .filter(|r| filter.matches(r, &scim_user::case_exact))
            .collect();
        let total = matching.len() as u64;
        let resources = matching
            .into_iter()
            .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
            .take(usize::try_from(count).unwrap_or(0))
            .collect();
        Ok(ScimPage {
            total,
            start_index: start,
            resources,
        })
    }

    /// Creates a user from a SCIM `User`: no password; `before_user_created` is asked
    /// (source `scim`). The address given is not taken as proven: a code proves it.
    #[instrument(skip_all)]
    pub async fn scim_create_user(
        &self,
        c: &ScimClient,
        doc: &Value,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let groups = self.store.scim_groups(c.org.id).await?;
        let input = scim_user::read_user(doc)?;
        self.user_name_free(c, &input.user_name, None).await?;
        let profile = profile_of(&input, None);
        let roles = vec![RoleName::USER.to_owned()];
        self.allow_new_user(&c.org, &profile, &roles, "scim")
            .await?;
        let new = NewUser {
            id: UserId::new(),
            org_id: c.org.id,
            profile,
            password_hash: None,
            anonymous: false,
            active: input.active,
            roles,
            created_at: self.now(),
        };
        let event = self.scim_event(c, AuditKind::AdminUserCreated, new.id, client);
        let user = self
            .changed(
                event,
                self.store.insert_scim_user(&new, &input.attributes()),
                |_| true,
            )
            .await?;
        Ok(scim_user::render_user(
            &user,
            &input.attributes(),
            &self.scim_base(c),
            &groups,
        ))
    }

    /// Replaces a user with a SCIM `User` (PUT), if it is still at `if_match`'s version.
    #[instrument(skip_all)]
    pub async fn scim_replace_user(
        &self,
        c: &ScimClient,
        id: &str,
        doc: &Value,
        if_match: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let groups = self.store.scim_groups(c.org.id).await?;
        let (user, scim) = self.scim_found(c, id).await?;
        let current = scim_user::render_user(&user, &scim, &self.scim_base(c), &groups);
        check_version(&current, if_match)?;
        let input = scim_user::read_user(doc)?;
        self.scim_store_user(c, &user, input, client).await
    }

    /// Applies a PATCH to a user, if it is still at `if_match`'s version.
    #[instrument(skip_all)]
    pub async fn scim_patch_user(
        &self,
        c: &ScimClient,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let groups = self.store.scim_groups(c.org.id).await?;
        let (user, scim) = self.scim_found(c, id).await?;
        let mut doc = scim_user::render_user(&user, &scim, &self.scim_base(c), &groups);
        check_version(&doc, if_match)?;
        let ops = patch::parse_request(body, &[ENTERPRISE_SCHEMA])?;
        patch::apply(&mut doc, &ops, &UserShape)?;
        let input = scim_user::read_user(&doc)?;
        self.scim_store_user(c, &user, input, client).await
    }

    async fn scim_store_user(
        &self,
        c: &ScimClient,
        user: &User,
        input: UserInput,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let groups = self.store.scim_groups(c.org.id).await?;
        self.user_name_free(c, &input.user_name, Some(user.id))
            .await?;
        let profile = profile_of(&input, Some(user));
        let kind = match (user.active, input.active) {
            (true, false) => AuditKind::AdminUserDeactivated,
            (false, true) => AuditKind::AdminUserActivated,
            _ => AuditKind::AdminUserUpdated,
        };
        let event = self.scim_event(c, kind, user.id, client);
        let scim = input.attributes();
        let stored = self
            .changed(
                event,
                self.store
                    .update_scim_user(user.id, &profile, input.active, &scim, self.now()),
                Option::is_some,
            )
            .await?
            .ok_or_else(|| ScimError::not_found("no such user"))?;
        if !input.active {
            self.sessions.forget_user(user.id);
        }
        Ok(scim_user::render_user(
            &stored,
            &scim,
            &self.scim_base(c),
            &groups,
        ))
    }

    /// Deletes a user and all their data, if it is still at `if_match`'s version.
    #[instrument(skip_all)]
    pub async fn scim_delete_user(
        &self,
        c: &ScimClient,
        id: &str,
        if_match: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), ScimError> {
        let groups = self.store.scim_groups(c.org.id).await?;
        let (user, scim) = self.scim_found(c, id).await?;
        let current = scim_user::render_user(&user, &scim, &self.scim_base(c), &groups);
        check_version(&current, if_match)?;
        let event = self.scim_event(c, AuditKind::AdminUserDeleted, user.id, client);
        if !self
            .changed(event, self.store.delete_user(user.id), |d| *d)
            .await?
        {
            return Err(ScimError::not_found("no such user"));
        }
        self.sessions.forget_user(user.id);
        Ok(())
    }

    async fn group_found(&self, c: &ScimClient, id: &str) -> Result<ScimGroup, ScimError> {
        let gone = || ScimError::not_found("no such group");
        let id: uuid::Uuid = id.parse().map_err(|_| gone())?;
        self.store.scim_group(c.org.id, id).await?.ok_or_else(gone)
    }

    async fn render_group(&self, c: &ScimClient, g: &ScimGroup) -> Result<Value, ScimError> {
        self.render_group_named(c, g, false).await
    }

    async fn render_group_named(
        &self,
        c: &ScimClient,
        g: &ScimGroup,
        names: bool,
    ) -> Result<Value, ScimError> {
        let members = self.store.role_members(c.org.id, &g.role).await?;
        Ok(scim_group::render_group(
            g,
            Some(&members),
            &self.scim_base(c),
            names,
        ))
    }

    /// The members a group names, as the organization's users: an id that is not one is
    /// refused (`invalidValue`).
    async fn group_members(
        &self,
        c: &ScimClient,
        input: &GroupInput,
    ) -> Result<Vec<UserId>, ScimError> {
        let mut ids: Vec<UserId> = input
            .members
            .iter()
            .map(|m| {
                m.parse()
                    .map_err(|_| ScimError::invalid_value(&format!("members: no user '{m}'")))
            })
            .collect::<Result<_, _>>()?;
        ids.sort_by_key(|u| u.0);
        ids.dedup();
        let found = self.store.org_users_among(c.org.id, &ids).await?;
        if let Some(missing) = ids.iter().find(|id| !found.contains(id)) {
            return Err(ScimError::invalid_value(&format!(
                "members: no user '{missing}'"
            )));
        }
        Ok(ids)
    }

    fn group_event(
        &self,
        c: &ScimClient,
        kind: AuditKind,
        g: &ScimGroup,
        added: &[UserId],
        removed: &[UserId],
        client: &ClientInfo,
    ) -> AuditEvent {
        let ids = |v: &[UserId]| {
            v.iter()
                .take(100)
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        };
        self.event(kind, c.org.id, client)
            .detail("via", "scim")
            .detail("scim_token_id", c.token_id.to_string())
            .detail("group_id", g.id.to_string())
            .detail("role", g.role.clone())
            .detail("added", ids(added))
            .detail("removed", ids(removed))
    }

    /// The organization's groups, filtered, sorted and paged (groups are few: in memory);
    /// members carry their `display` when `names`.
    pub async fn scim_groups(
        &self,
        c: &ScimClient,
        q: &ScimListQuery,
        names: bool,
    ) -> Result<ScimPage, ScimError> {
        let filter = q
            .filter
            .as_deref()
            .filter(|f| !f.trim().is_empty())
            .map(Filter::parse)
            .transpose()?;
        if let Some(f) = &filter {
            f.check()?;
        }
        let mut found = Vec::new();
        for g in self.store.scim_groups(c.org.id).await? {
            let r = self.render_group_named(c, &g, names).await?;
            if filter
                .as_ref()
                .is_none_or(|f| f.matches(&r, &scim_group::case_exact))
            {
                found.push(r);
            }
        }
        if let Some(by) = q.sort_by.as_deref() {
            let path = crate::scim::AttrPath::parse(by)
                .map_err(|_| ScimError::invalid_value("sortBy is not an attribute"))?;
            let key = |r: &Value| {
                let v = crate::scim::filter::get_ci(r, &path.name)
                    .cloned()
                    .unwrap_or(Value::Null);
                let v = match &path.sub {
                    Some(sub) => crate::scim::filter::get_ci(&v, sub)
                        .cloned()
                        .unwrap_or(Value::Null),
                    None => v,
                };
                v.as_str().map(str::to_lowercase).unwrap_or_default()
            };
            found.sort_by_key(key);
        }
        if q.sort_order
            .as_deref()
            .is_some_and(|o| o.eq_ignore_ascii_case("descending"))
        {
            found.reverse();
        }
        let start = u64::try_from(q.start_index.unwrap_or(1).max(1)).unwrap_or(1);
        let count =
            usize::try_from(q.count.unwrap_or(100).clamp(0, MAX_RESULTS as i64)).unwrap_or(0);
        let total = found.len() as u64;
        let resources = found
            .into_iter()
            .skip(usize::try_from(start - 1).unwrap_or(usize::MAX))
            .take(count)
            .collect();
        Ok(ScimPage {
            total,
            start_index: start,
            resources,
        })
    }

    /// A group as SCIM shows it; members carry their `display` when `names`.
    pub async fn scim_group(
        &self,
        c: &ScimClient,
        id: &str,
        names: bool,
    ) -> Result<Value, ScimError> {
        let g = self.group_found(c, id).await?;
        self.render_group_named(c, &g, names).await
    }

    /// Makes a group: a role, given to its members.
    #[instrument(skip_all)]
    pub async fn scim_create_group(
        &self,
        c: &ScimClient,
        doc: &Value,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let input = scim_group::read_group(doc)?;
        let role = scim_group::role_for(&input.display_name)?;
        let members = self.group_members(c, &input).await?;
        let now = super::kernel::services::stored_time(self.now());
        let g = ScimGroup {
            id: uuid::Uuid::now_v7(),
            org_id: c.org.id,
            display_name: input.display_name,
            role,
            external_id: input.external_id,
            created_at: now,
            updated_at: now,
        };
        let event = self.group_event(c, AuditKind::ScimGroupCreated, &g, &members, &[], client);
        self.changed(event, self.store.insert_scim_group(&g, &members), |_| true)
            .await?;
        for m in &members {
            self.sessions.forget_user(*m);
        }
        self.render_group(c, &g).await
    }

    /// Replaces a group (PUT): its name and exactly these members.
    #[instrument(skip_all)]
    pub async fn scim_replace_group(
        &self,
        c: &ScimClient,
        id: &str,
        doc: &Value,
        if_match: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let g = self.group_found(c, id).await?;
        check_version(&self.render_group(c, &g).await?, if_match)?;
        let input = scim_group::read_group(doc)?;
        self.scim_store_group(c, g, input, client).await
    }

    /// Applies a PATCH to a group (members added or removed, a new name).
    #[instrument(skip_all)]
    pub async fn scim_patch_group(
        &self,
        c: &ScimClient,
        id: &str,
        body: &Value,
        if_match: Option<&str>,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let g = self.group_found(c, id).await?;
        let mut doc = self.render_group(c, &g).await?;
        check_version(&doc, if_match)?;
        let ops = patch::parse_request(body, &[])?;
        patch::apply(&mut doc, &ops, &GroupShape)?;
        let input = scim_group::read_group(&doc)?;
        self.scim_store_group(c, g, input, client).await
    }

    async fn scim_store_group(
        &self,
        c: &ScimClient,
        g: ScimGroup,
        input: GroupInput,
        client: &ClientInfo,
    ) -> Result<Value, ScimError> {
        let wanted = self.group_members(c, &input).await?;
        let had: Vec<UserId> = self
            .store
            .role_members(c.org.id, &g.role)
            .await?
            .iter()
            .filter_map(|m| m.id.parse().ok())
            .collect();
        let add: Vec<UserId> = wanted
            .iter()
            .filter(|u| !had.contains(u))
            .copied()
            .collect();
        let remove: Vec<UserId> = had
            .iter()
            .filter(|u| !wanted.contains(u))
            .copied()
            .collect();
        let old_role = g.role.clone();
        let next = ScimGroup {
            role: scim_group::role_for(&input.display_name)?,
            display_name: input.display_name,
            external_id: input.external_id,
            updated_at: super::kernel::services::stored_time(self.now()),
            ..g
        };
        let event = self.group_event(c, AuditKind::ScimGroupUpdated, &next, &add, &remove, client);
        if !self
            .changed(
                event,
                self.store
                    .update_scim_group(&next, &old_role, &add, &remove),
                |d| *d,
            )
            .await?
        {
            return Err(ScimError::not_found("no such group"));
        }
        for m in add.iter().chain(&remove).chain(if old_role == next.role {
            &[][..]
        } else {
            &had[..]
        }) {
            self.sessions.forget_user(*m);
        }
        self.render_group(c, &next).await
    }

    /// Deletes a group: its role is taken from every member.
    #[instrument(skip_all)]
    pub async fn scim_delete_group(
        &self,
        c: &ScimClient,
        id: &str,
        if_match: Option<&str>,
        client: &ClientInfo,
    ) -> Result<(), ScimError> {
        let g = self.group_found(c, id).await?;
        check_version(&self.render_group(c, &g).await?, if_match)?;
        let had: Vec<UserId> = self
            .store
            .role_members(c.org.id, &g.role)
            .await?
            .iter()
            .filter_map(|m| m.id.parse().ok())
            .collect();
        let event = self.group_event(c, AuditKind::ScimGroupDeleted, &g, &[], &had, client);
        if !self
            .changed(event, self.store.delete_scim_group(c.org.id, g.id), |d| *d)
            .await?
        {
            return Err(ScimError::not_found("no such group"));
        }
        for m in &had {
            self.sessions.forget_user(*m);
        }
        Ok(())
    }
}

/// The account's profile for a SCIM user: what SCIM names; an address kept proven only if
/// it is unchanged.
fn profile_of(input: &UserInput, before: Option<&User>) -> Profile {
    let email = input.email.as_ref().map(|e| e.as_str().to_owned());
    let phone = input.phone.as_ref().map(|p| p.as_str().to_owned());
    Profile {
        email_verified: before.is_some_and(|u| u.email_verified && u.email == email),
        phone_verified: before.is_some_and(|u| u.phone_verified && u.phone == phone),
        email,
        phone,
        username: before.and_then(|u| u.username.clone()),
        first_name: input.given_name.clone(),
        last_name: input.family_name.clone(),
        attributes: before.map(|u| u.attributes.clone()).unwrap_or_default(),
    }
}

/// `If-Match`: the resource must still be at one of the versions named (or `*`).
fn check_version(current: &Value, if_match: Option<&str>) -> Result<(), ScimError> {
    let Some(want) = if_match else { return Ok(()) };
    let version = current["meta"]["version"].as_str().unwrap_or_default();
    let bare = |v: &str| {
        v.trim()
            .trim_start_matches("W/")
            .trim_matches('"')
            .to_owned()
    };
    if want.trim() == "*" || want.split(',').any(|v| bare(v) == bare(version)) {
        Ok(())
    } else {
        Err(ScimError::precondition_failed())
    }
}
