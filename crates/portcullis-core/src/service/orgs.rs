//! Organizations (tenants) and their policies: `system_admin` creates, lists and changes
//! them; an `org_admin` may read its own.

use tracing::instrument;

use super::kernel::authz::OrgAdmin;
use super::Services;
use crate::audit::{AuditKind, ClientInfo};
use crate::error::{AuthError, FieldError};
use crate::ids::OrgId;
use crate::model::{OrgPolicy, Organization};
use crate::store::StoreError;

/// An organization to create, or changes to one (absent fields are kept).
#[derive(Debug, Default, Clone)]
pub struct OrgInput {
    /// URL-safe name (creation only).
    pub slug: Option<String>,
    /// Display name.
    pub name: Option<String>,
    /// Policy fields to set, as a JSON object; others keep their value (or default).
    pub policy: Option<serde_json::Value>,
    /// Where the request came from.
    pub client: ClientInfo,
}

fn parse_slug(raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    let ok = (2..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-');
    if ok {
        Ok(s.to_owned())
    } else {
        Err(FieldError::new(
            "slug",
            "must be 2 to 63 of a-z, 0-9 and '-', not starting or ending with '-'",
        ))
    }
}

fn parse_name(raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
        return Err(FieldError::new("name", "must be 1 to 100 characters"));
    }
    Ok(s.to_owned())
}

/// Applies a partial policy (a JSON object of policy fields) to `current`, and checks the
/// result: unknown fields and out-of-range values are refused.
fn patched_policy(
    current: &OrgPolicy,
    patch: Option<serde_json::Value>,
) -> Result<OrgPolicy, AuthError> {
    let Some(patch) = patch else {
        return Ok(current.clone());
    };
    let serde_json::Value::Object(changes) = patch else {
        return Err(AuthError::invalid(
            "policy",
            "must be a JSON object of policy fields",
        ));
    };
    let serde_json::Value::Object(mut merged) =
        serde_json::to_value(current).map_err(|e| AuthError::Internal(e.to_string()))?
    else {
        return Err(AuthError::Internal("policy is not an object".into()));
    };
    let mut errors = Vec::new();
    for (key, value) in changes {
        if merged.contains_key(&key) {
            merged.insert(key, value);
        } else {
            errors.push(FieldError::new(
                format!("policy.{key}"),
                "is not a policy field",
            ));
        }
    }
    if !errors.is_empty() {
        return Err(AuthError::Validation(errors));
    }
    let policy: OrgPolicy =
        serde_json::from_value(serde_json::Value::Object(merged)).map_err(|e| {
            AuthError::invalid("policy", &format!("has a value of the wrong type: {e}"))
        })?;
    let mut f = Vec::new();
    if !(8..=128).contains(&policy.password_min_length) {
        f.push(FieldError::new(
            "policy.password_min_length",
            "must be 8 to 128 (NIST SP 800-63B asks for at least 8)",
        ));
    }
    if !(64..=1024).contains(&policy.password_max_length)
        || policy.password_max_length < policy.password_min_length
    {
        f.push(FieldError::new(
            "policy.password_max_length",
            "must be 64 to 1024 and at least the minimum",
        ));
    }
    if policy
        .session_ttl_secs
        .is_some_and(|t| !(300..=90 * 86_400).contains(&t))
    {
        f.push(FieldError::new(
            "policy.session_ttl_secs",
            "must be 300 seconds to 90 days",
        ));
    }
    if !(60..=policy.session_ttl_secs.unwrap_or(90 * 86_400)).contains(&policy.recent_sign_in_secs)
    {
        f.push(FieldError::new(
            "policy.recent_sign_in_secs",
            "must be 60 seconds to the session lifetime",
        ));
    }
    if !(3..=100).contains(&policy.lockout_threshold) {
        f.push(FieldError::new(
            "policy.lockout_threshold",
            "must be 3 to 100",
        ));
    }
    if !(1..=86_400).contains(&policy.lockout_base_secs) {
        f.push(FieldError::new(
            "policy.lockout_base_secs",
            "must be 1 second to a day",
        ));
    }
    if !(policy.lockout_base_secs..=7 * 86_400).contains(&policy.lockout_max_secs) {
        f.push(FieldError::new(
            "policy.lockout_max_secs",
            "must be at least the base and at most 7 days",
        ));
    }
    if policy.brand_logo_url.as_deref().is_some_and(|u| {
        !u.starts_with("https://")
            || u.len() > 500
            || u.chars()
                .any(|c| c.is_whitespace() || matches!(c, '"' | '\'' | '<' | '>'))
    }) {
        f.push(FieldError::new(
            "policy.brand_logo_url",
            "must be an https:// URL of at most 500 characters",
        ));
    }
    if policy.brand_color.as_deref().is_some_and(|c| {
        c.len() != 7 || !c.starts_with('#') || !c[1..].bytes().all(|b| b.is_ascii_hexdigit())
    }) {
        f.push(FieldError::new("policy.brand_color", "must be #rrggbb"));
    }
    if policy.webauthn_rp_id.as_deref().is_some_and(|d| {
        d.is_empty()
            || d.len() > 253
            || !d
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    }) || (policy.webauthn_rp_id.is_some() && policy.webauthn_origins.is_empty())
        || policy.webauthn_origins.len() > 20
        || !policy.webauthn_origins.iter().all(|o| is_origin(o))
    {
        f.push(FieldError::new(
            "policy.webauthn_rp_id",
            "must be a domain, with webauthn_origins: at most 20 origins such as https://id.example.com",
        ));
    } else if let Some(rp) = &policy.webauthn_rp_id {
        // The verifier's own checks (each origin within the relying party's domain).
        if super::kernel::webauthn::relying_party(rp, &policy.webauthn_origins, "check").is_err() {
            f.push(FieldError::new(
                "policy.webauthn_origins",
                "must be origins of webauthn_rp_id or its subdomains",
            ));
        }
    }
    if f.is_empty() {
        Ok(policy)
    } else {
        Err(AuthError::Validation(f))
    }
}

/// Whether `s` is an origin: `http(s)://host[:port]`, nothing after.
fn is_origin(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
    else {
        return false;
    };
    let (host, port) = match rest.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (rest, None),
    };
    s.len() <= 200
        && !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
        && port
            .is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

impl Services {
    fn system_only(admin: &OrgAdmin) -> Result<(), AuthError> {
        if admin.is_system() {
            Ok(())
        } else {
            Err(AuthError::Forbidden(
                "organizations are managed by a system_admin",
            ))
        }
    }

    /// Creates an organization.
    #[instrument(skip_all)]
    pub async fn create_org(
        &self,
        admin: &OrgAdmin,
        input: OrgInput,
    ) -> Result<Organization, AuthError> {
        Self::system_only(admin)?;
        let mut errors = Vec::new();
        let slug = parse_slug(input.slug.as_deref().unwrap_or(""))
            .map_err(|e| errors.push(e))
            .ok();
        let name = parse_name(input.name.as_deref().unwrap_or(""))
            .map_err(|e| errors.push(e))
            .ok();
        let policy = match patched_policy(&OrgPolicy::default(), input.policy) {
            Ok(p) => Some(p),
            Err(AuthError::Validation(mut e)) => {
                errors.append(&mut e);
                None
            }
            Err(e) => return Err(e),
        };
        let (Some(slug), Some(name), Some(policy)) = (slug, name, policy) else {
            return Err(AuthError::Validation(errors));
        };
        let now = self.now();
        let org = Organization {
            id: OrgId::new(),
            slug,
            name,
            policy,
            created_at: now,
            updated_at: now,
        };
        let org = self
            .changed(
                self.event(AuditKind::OrgCreated, org.id, &input.client)
                    .actor(admin.actor().user.id)
                    .detail("slug", org.slug.clone()),
                self.store.insert_org(&org),
                |_| true,
            )
            .await
            .map_err(|e| match e {
                StoreError::Conflict { .. } => AuthError::Duplicate("slug"),
                e => e.into(),
            })?;
        Ok(org)
    }

    /// Every organization, by creation.
    pub async fn list_orgs(
        &self,
        admin: &OrgAdmin,
        after: Option<OrgId>,
        limit: usize,
    ) -> Result<Vec<Organization>, AuthError> {
        Self::system_only(admin)?;
        Ok(self.store.list_orgs(after, limit).await?)
    }

    /// One organization: any for a system admin, its own for an org admin.
    pub async fn get_org(&self, admin: &OrgAdmin, slug: &str) -> Result<Organization, AuthError> {
        let org = self
            .store
            .org_by_slug(slug.trim())
            .await?
            .ok_or(AuthError::NotFound)?;
        if admin.reaches_org(org.id) {
            Ok(org)
        } else {
            Err(AuthError::NotFound)
        }
    }

    /// Changes an organization's name and policy.
    #[instrument(skip_all)]
    pub async fn update_org(
        &self,
        admin: &OrgAdmin,
        slug: &str,
        input: OrgInput,
    ) -> Result<Organization, AuthError> {
        Self::system_only(admin)?;
        let mut org = self.get_org(admin, slug).await?;
        if let Some(name) = input.name.as_deref() {
            org.name = parse_name(name).map_err(|e| AuthError::Validation(vec![e]))?;
        }
        org.policy = patched_policy(&org.policy, input.policy)?;
        org.updated_at = self.now();
        let updated = self
            .event(AuditKind::OrgUpdated, org.id, &input.client)
            .actor(admin.actor().user.id)
            .detail(
                "policy",
                serde_json::to_value(&org.policy).unwrap_or_default(),
            );
        let org = self
            .changed(updated, self.store.update_org(&org), Option::is_some)
            .await?
            .ok_or(AuthError::NotFound)?;
        Ok(org)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_patches_are_checked() {
        let base = OrgPolicy::default();
        let p = patched_policy(
            &base,
            Some(serde_json::json!({"mfa_required": true, "password_min_length": 12})),
        )
        .unwrap();
        assert!(p.mfa_required && p.password_min_length == 12 && p.allow_self_registration);
        assert!(patched_policy(&base, Some(serde_json::json!({"nope": 1}))).is_err());
        assert!(patched_policy(&base, Some(serde_json::json!({"mfa_required": "yes"}))).is_err());
        assert!(
            patched_policy(&base, Some(serde_json::json!({"password_min_length": 4}))).is_err()
        );
        assert!(
            patched_policy(&base, Some(serde_json::json!({"password_max_length": 32}))).is_err()
        );
        assert!(patched_policy(&base, Some(serde_json::json!({"session_ttl_secs": 10}))).is_err());
        assert!(patched_policy(&base, Some(serde_json::json!([1]))).is_err());
        assert_eq!(patched_policy(&base, None).unwrap(), base);
        assert!(
            parse_slug("acme-corp").is_ok()
                && parse_slug("-x").is_err()
                && parse_slug("Acme").is_err()
        );
    }
}

#[cfg(test)]
mod origin_tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port() {
        assert!(is_origin("https://a.b:8443"));
        assert!(!is_origin("https://a.b/"));
        assert!(!is_origin("ftp://a.b"));
    }
}
