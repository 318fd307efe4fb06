//! Upstream identity providers, as an organization's admins manage them: a generic OpenID
//! Connect provider or a preset (Google, Microsoft, GitHub, GitLab, Apple), with its client
//! secret sealed and never shown again. The sign-in flows through them are `upstream`.

use tracing::instrument;

use super::kernel::authz::OrgAdmin;
use super::kernel::services::stored_time;
use super::Services;
use crate::audit::{AuditKind, ClientInfo};
use crate::error::AuthError;
use crate::ids::OrgId;
use crate::upstream::{
    check_config, default_claims, IdentityProvider, ProviderConfig, ProviderKind, SECRET_PURPOSE,
};

/// Providers an organization may have.
const MAX_PROVIDERS: usize = 20;

/// A provider's settings as received: on creation, what is absent takes its default (the
/// kind's preset, sign-up and linking on, enabled); on a change, what is absent stays.
#[derive(Debug, Default, Clone)]
pub struct ProviderSettings {
    /// `oidc`, `google`, `microsoft`, `github`, `gitlab`, `apple` (creation only).
    pub kind: Option<String>,
    /// Shown on its button.
    pub name: Option<String>,
    /// The client secret (Apple: the private key, PEM); write-only.
    pub client_secret: Option<String>,
    /// Whether it is offered.
    pub enabled: Option<bool>,
    /// The settings given, merged over the current ones: each field present replaces.
    pub config: serde_json::Map<String, serde_json::Value>,
}

fn merge(
    current: &ProviderConfig,
    given: serde_json::Map<String, serde_json::Value>,
) -> Result<ProviderConfig, AuthError> {
    let mut doc = serde_json::to_value(current)
        .map_err(|e| AuthError::Internal(format!("provider settings: {e}")))?;
    if let serde_json::Value::Object(map) = &mut doc {
        for (k, v) in given {
            if k == "claims" {
                let mut claims = serde_json::to_value(&current.claims)
                    .map_err(|e| AuthError::Internal(e.to_string()))?;
                if let (serde_json::Value::Object(c), serde_json::Value::Object(new)) =
                    (&mut claims, v)
                {
                    for (ck, cv) in new {
                        if !c.contains_key(&ck) {
                            return Err(AuthError::invalid(
                                "claims",
                                &format!("{ck} is not a field to map"),
                            ));
                        }
                        c.insert(ck, cv);
                    }
                } else {
                    return Err(AuthError::invalid("claims", "must be an object"));
                }
                map.insert(k, claims);
            } else if map.contains_key(&k) {
                map.insert(k, v);
            } else {
                return Err(AuthError::invalid(&k, "is not a setting of a provider"));
            }
        }
    }
    let mut config: ProviderConfig =
        serde_json::from_value(doc).map_err(|e| AuthError::invalid("settings", &format!("{e}")))?;
    for url in [
        &mut config.issuer,
        &mut config.discovery_url,
        &mut config.authorization_endpoint,
        &mut config.token_endpoint,
        &mut config.userinfo_endpoint,
        &mut config.jwks_uri,
    ] {
        if url.as_deref().is_some_and(|u| u.trim().is_empty()) {
            *url = None;
        }
    }
    config.client_id = config.client_id.trim().to_owned();
    Ok(config)
}

impl Services {
    /// Adds a provider to an organization within the admin's reach.
    #[instrument(skip_all)]
    pub async fn create_identity_provider(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        settings: ProviderSettings,
        client: &ClientInfo,
    ) -> Result<IdentityProvider, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let kind = settings
            .kind
            .as_deref()
            .and_then(ProviderKind::parse)
            .ok_or_else(|| {
                AuthError::invalid(
                    "kind",
                    "must be one of oidc, google, microsoft, github, gitlab, apple",
                )
            })?;
        if self.store.providers(org.id).await?.len() >= MAX_PROVIDERS {
            return Err(AuthError::invalid(
                "kind",
                "an organization may have at most 20 identity providers",
            ));
        }
        let start = ProviderConfig {
            claims: default_claims(kind),
            allow_signup: true,
            allow_linking: true,
            ..ProviderConfig::default()
        };
        let now = stored_time(self.now());
        let mut p = IdentityProvider {
            id: uuid::Uuid::now_v7(),
            org_id: org.id,
            kind,
            name: kind.label().to_owned(),
            enabled: true,
            config: start,
            secret_sealed: None,
            created_at: now,
            updated_at: now,
        };
        self.settle_provider(&mut p, settings)?;
        let event = self.provider_event(
            admin,
            AuditKind::IdentityProviderCreated,
            org.id,
            &p,
            client,
        );
        self.changed(event, self.store.insert_provider(&p), |_| true)
            .await?;
        Ok(p)
    }

    fn settle_provider(
        &self,
        p: &mut IdentityProvider,
        s: ProviderSettings,
    ) -> Result<(), AuthError> {
        if let Some(name) = s.name {
            let name = name.trim();
            if name.is_empty() || name.chars().count() > 100 {
                return Err(AuthError::invalid("name", "must be 1 to 100 characters"));
            }
            name.clone_into(&mut p.name);
        }
        if let Some(enabled) = s.enabled {
            p.enabled = enabled;
        }
        p.config = merge(&p.config, s.config)?;
        if let Some(secret) = s.client_secret {
            if secret.is_empty() || secret.len() > 8_192 {
                return Err(AuthError::invalid(
                    "client_secret",
                    "must be 1 to 8192 bytes",
                ));
            }
            p.secret_sealed = Some(self.seal(SECRET_PURPOSE, secret.as_bytes()));
        }
        let errors = check_config(p.kind, &p.config, p.secret_sealed.is_some());
        if !errors.is_empty() {
            return Err(AuthError::Validation(errors));
        }
        Ok(())
    }

    fn provider_event(
        &self,
        admin: &OrgAdmin,
        kind: AuditKind,
        org: OrgId,
        p: &IdentityProvider,
        client: &ClientInfo,
    ) -> crate::audit::AuditEvent {
        self.event(kind, org, client)
            .actor(admin.actor().user.id)
            .detail("provider_id", p.id.to_string())
            .detail("kind", p.kind.as_str())
    }

    /// An organization's providers.
    pub async fn identity_providers(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
    ) -> Result<Vec<IdentityProvider>, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        Ok(self.store.providers(org.id).await?)
    }

    /// One provider of an organization within reach.
    pub async fn identity_provider(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
    ) -> Result<IdentityProvider, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        self.store
            .provider(Some(org.id), id)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// Changes a provider; answers it as it now is.
    #[instrument(skip_all)]
    pub async fn update_identity_provider(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        settings: ProviderSettings,
        client: &ClientInfo,
    ) -> Result<IdentityProvider, AuthError> {
        let mut p = self.identity_provider(admin, org_slug, id).await?;
        if settings
            .kind
            .as_deref()
            .is_some_and(|k| k != p.kind.as_str())
        {
            return Err(AuthError::invalid(
                "kind",
                "cannot change; add another provider",
            ));
        }
        self.settle_provider(&mut p, settings)?;
        p.updated_at = stored_time(self.now());
        let event = self.provider_event(
            admin,
            AuditKind::IdentityProviderUpdated,
            p.org_id,
            &p,
            client,
        );
        if !self
            .changed(event, self.store.update_provider(&p), |done| *done)
            .await?
        {
            return Err(AuthError::NotFound);
        }
        Ok(p)
    }

    /// Deletes a provider; the identities linked through it go with it (their users keep
    /// their accounts and other ways in).
    #[instrument(skip_all)]
    pub async fn delete_identity_provider(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let p = self.identity_provider(admin, org_slug, id).await?;
        let event = self.provider_event(
            admin,
            AuditKind::IdentityProviderDeleted,
            p.org_id,
            &p,
            client,
        );
        if !self
            .changed(event, self.store.delete_provider(p.org_id, id), |done| {
                *done
            })
            .await?
        {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }
}
