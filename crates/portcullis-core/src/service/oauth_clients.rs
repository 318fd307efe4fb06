//! OAuth clients: the applications an organization's admins register so that they can sign
//! the organization's users in through OpenID Connect. A confidential client gets a secret,
//! shown once at creation and at each rotation and stored as a hash; a public one has none
//! and must use PKCE.

use tracing::instrument;

use super::kernel::authz::OrgAdmin;
use super::kernel::input::{Fields, Patch};
use super::kernel::services::stored_time;
use super::Services;
use crate::audit::{AuditEvent, AuditKind, ClientInfo};
use crate::crypto::{hash_token, random_token};
use crate::error::AuthError;
use crate::ids::OrgId;
use crate::oauth::{
    check_scopes, check_uri, check_uris, AuthMethod, ClientType, GrantType, OAuthClient,
    SigningAlg, CLIENT_SECRET_PREFIX, SCOPES,
};

/// Bounds of a client's own access-token lifetime, seconds.
const ACCESS_LIFETIME: std::ops::RangeInclusive<u32> = 60..=86_400;
/// Bounds of a client's own refresh-token lifetime, seconds (up to a year).
const REFRESH_LIFETIME: std::ops::RangeInclusive<u32> = 300..=31_536_000;

/// A client's settings as received: on creation, what is absent takes its default; on a
/// change, what is absent stays as it is.
#[derive(Debug, Default, Clone)]
pub struct OAuthClientSettings {
    /// Display name (required on creation).
    pub name: Option<String>,
    /// Redirect URIs, exact strings.
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant type names (default `authorization_code`, `refresh_token`).
    pub grant_types: Option<Vec<String>>,
    /// Allowed scopes (default all of them).
    pub scopes: Option<Vec<String>>,
    /// `client_secret_basic` (default for confidential clients), `client_secret_post`, or
    /// `none` (public clients, and only they).
    pub token_endpoint_auth_method: Option<String>,
    /// `RS256` (default), `ES256` or `EdDSA`.
    pub id_token_signed_response_alg: Option<String>,
    /// Skip the consent page.
    pub first_party: Option<bool>,
    /// Where back-channel logout tokens go.
    pub backchannel_logout_uri: Patch<String>,
    /// Own access-token lifetime, seconds.
    pub access_token_lifetime_secs: Patch<u32>,
    /// Own refresh-token lifetime, seconds.
    pub refresh_token_lifetime_secs: Patch<u32>,
}

fn parse_list<T>(
    f: &mut Fields,
    field: &str,
    raw: &[String],
    parse: fn(&str) -> Option<T>,
    names: &str,
) -> Vec<T> {
    let mut out = Vec::new();
    for name in raw {
        match parse(name) {
            Some(v) => out.push(v),
            None => f.push(field, &format!("{name:?} is not one of {names}")),
        }
    }
    out
}

fn one_of<T>(
    f: &mut Fields,
    field: &str,
    raw: &str,
    parse: fn(&str) -> Option<T>,
    names: &str,
) -> Option<T> {
    let v = parse(raw);
    if v.is_none() {
        f.push(field, &format!("must be one of {names}"));
    }
    v
}

fn lifetime(
    f: &mut Fields,
    field: &str,
    current: Option<u32>,
    patch: Patch<u32>,
    bounds: &std::ops::RangeInclusive<u32>,
) -> Option<u32> {
    match patch {
        Patch::Keep => current,
        Patch::Clear => None,
        Patch::Set(v) if bounds.contains(&v) => Some(v),
        Patch::Set(_) => {
            f.push(
                field,
                &format!("must be {} to {} seconds", bounds.start(), bounds.end()),
            );
            current
        }
    }
}

/// Applies `s` to `c`, then checks the rules that tie the settings together; every problem
/// is reported at once.
fn settle(c: &mut OAuthClient, s: OAuthClientSettings) -> Result<(), AuthError> {
    let mut f = Fields::default();
    if let Some(name) = s.name {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            f.push("name", "must be 1 to 200 characters");
        } else {
            name.clone_into(&mut c.name);
        }
    }
    if let Some(uris) = s.redirect_uris {
        if let Some(uris) = f.take(check_uris("redirect_uris", &uris)) {
            c.redirect_uris = uris;
        }
    }
    if let Some(uris) = s.post_logout_redirect_uris {
        if let Some(uris) = f.take(check_uris("post_logout_redirect_uris", &uris)) {
            c.post_logout_redirect_uris = uris;
        }
    }
    if let Some(raw) = s.grant_types {
        let mut grants = parse_list(
            &mut f,
            "grant_types",
            &raw,
            GrantType::parse,
            "authorization_code, refresh_token, client_credentials",
        );
        grants.sort();
        grants.dedup();
        c.grant_types = grants;
    }
    if let Some(raw) = s.scopes {
        if let Some(scopes) = f.take(check_scopes("scopes", &raw)) {
            c.scopes = scopes;
        }
    }
    if let Some(raw) = s.token_endpoint_auth_method {
        let names = "client_secret_basic, client_secret_post, none";
        if let Some(m) = one_of(
            &mut f,
            "token_endpoint_auth_method",
            &raw,
            AuthMethod::parse,
            names,
        ) {
            c.token_endpoint_auth_method = m;
        }
    }
    if let Some(raw) = s.id_token_signed_response_alg {
        let names = "RS256, ES256, EdDSA";
        if let Some(a) = one_of(
            &mut f,
            "id_token_signed_response_alg",
            &raw,
            SigningAlg::parse,
            names,
        ) {
            c.id_token_signed_response_alg = a;
        }
    }
    if let Some(first_party) = s.first_party {
        c.first_party = first_party;
    }
    c.backchannel_logout_uri = match s.backchannel_logout_uri {
        Patch::Keep => c.backchannel_logout_uri.take(),
        Patch::Clear => None,
        Patch::Set(raw) if raw.trim().is_empty() => None,
        Patch::Set(raw) => f.take(check_uri("backchannel_logout_uri", raw.trim())),
    };
    c.access_token_lifetime_secs = lifetime(
        &mut f,
        "access_token_lifetime_secs",
        c.access_token_lifetime_secs,
        s.access_token_lifetime_secs,
        &ACCESS_LIFETIME,
    );
    c.refresh_token_lifetime_secs = lifetime(
        &mut f,
        "refresh_token_lifetime_secs",
        c.refresh_token_lifetime_secs,
        s.refresh_token_lifetime_secs,
        &REFRESH_LIFETIME,
    );
    // The rules between fields, on the settings as they would be.
    let public = c.client_type == ClientType::Public;
    if public && c.token_endpoint_auth_method != AuthMethod::None {
        f.push(
            "token_endpoint_auth_method",
            "must be none for a public client",
        );
    }
    if !public && c.token_endpoint_auth_method == AuthMethod::None {
        f.push(
            "token_endpoint_auth_method",
            "must be client_secret_basic or client_secret_post for a confidential client",
        );
    }
    if c.grant_types.is_empty() && !f.has("grant_types") {
        f.push("grant_types", "must name at least one grant type");
    }
    if public && c.grant_types.contains(&GrantType::ClientCredentials) {
        f.push(
            "grant_types",
            "client_credentials needs a confidential client",
        );
    }
    if c.grant_types.contains(&GrantType::RefreshToken)
        && !c.grant_types.contains(&GrantType::AuthorizationCode)
    {
        f.push("grant_types", "refresh_token comes with authorization_code");
    }
    if c.grant_types.contains(&GrantType::AuthorizationCode)
        && c.redirect_uris.is_empty()
        && !f.has("redirect_uris")
    {
        f.push(
            "redirect_uris",
            "authorization_code needs at least one redirect URI",
        );
    }
    if c.scopes.is_empty() && !f.has("scopes") {
        f.push("scopes", "must name at least one scope");
    }
    f.finish()
}

impl Services {
    /// Registers a client in an organization within the admin's reach; answers it and, for a
    /// confidential client, its secret (shown this once).
    #[instrument(skip_all)]
    pub async fn create_oauth_client(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        client_type: Option<&str>,
        settings: OAuthClientSettings,
        client: &ClientInfo,
    ) -> Result<(OAuthClient, Option<String>), AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let client_type = match client_type.map(str::trim) {
            None | Some("") => ClientType::Confidential,
            Some(raw) => ClientType::parse(raw).ok_or_else(|| {
                AuthError::invalid("client_type", "must be confidential or public")
            })?,
        };
        if settings.name.is_none() {
            return Err(AuthError::invalid("name", "is required"));
        }
        let now = stored_time(self.now());
        let secret = (client_type == ClientType::Confidential)
            .then(|| format!("{CLIENT_SECRET_PREFIX}{}", random_token(self.rng.as_ref())));
        let mut c = OAuthClient {
            id: uuid::Uuid::now_v7(),
            org_id: org.id,
            name: String::new(),
            client_type,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            scopes: SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            token_endpoint_auth_method: match client_type {
                ClientType::Confidential => AuthMethod::ClientSecretBasic,
                ClientType::Public => AuthMethod::None,
            },
            id_token_signed_response_alg: SigningAlg::Rs256,
            first_party: false,
            backchannel_logout_uri: None,
            access_token_lifetime_secs: None,
            refresh_token_lifetime_secs: None,
            secret_prefix: secret.as_deref().map(prefix_of),
            created_at: now,
            updated_at: now,
        };
        settle(&mut c, settings)?;
        self.changed(
            self.client_event(admin, AuditKind::OAuthClientCreated, org.id, c.id, client),
            self.store
                .insert_oauth_client(&c, secret.as_deref().map(hash_token).as_deref()),
            |_| true,
        )
        .await?;
        Ok((c, secret))
    }

    /// An organization's clients, newest first.
    pub async fn oauth_clients(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
    ) -> Result<Vec<OAuthClient>, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        Ok(self.store.oauth_clients(org.id).await?)
    }

    /// One client of an organization within reach.
    pub async fn oauth_client(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
    ) -> Result<OAuthClient, AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        self.store
            .oauth_client(org.id, id)
            .await?
            .ok_or(AuthError::NotFound)
    }

    /// Changes a client's settings (its type stays); answers the client as it now is.
    #[instrument(skip_all)]
    pub async fn update_oauth_client(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        settings: OAuthClientSettings,
        client: &ClientInfo,
    ) -> Result<OAuthClient, AuthError> {
        let mut c = self.oauth_client(admin, org_slug, id).await?;
        settle(&mut c, settings)?;
        c.updated_at = stored_time(self.now());
        let done = self
            .changed(
                self.client_event(admin, AuditKind::OAuthClientUpdated, c.org_id, c.id, client),
                self.store.update_oauth_client(&c),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(c)
    }

    /// Gives a confidential client a new secret (shown this once); the old one stops
    /// working at once.
    #[instrument(skip_all)]
    pub async fn rotate_oauth_client_secret(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<String, AuthError> {
        let c = self.oauth_client(admin, org_slug, id).await?;
        if c.client_type == ClientType::Public {
            return Err(AuthError::invalid(
                "client_type",
                "a public client has no secret",
            ));
        }
        let secret = format!("{CLIENT_SECRET_PREFIX}{}", random_token(self.rng.as_ref()));
        let done = self
            .changed(
                self.client_event(
                    admin,
                    AuditKind::OAuthClientSecretRotated,
                    c.org_id,
                    c.id,
                    client,
                ),
                self.store.set_oauth_client_secret(
                    c.org_id,
                    c.id,
                    &hash_token(&secret),
                    &prefix_of(&secret),
                    self.now(),
                ),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(secret)
    }

    /// Deletes a client.
    #[instrument(skip_all)]
    pub async fn delete_oauth_client(
        &self,
        admin: &OrgAdmin,
        org_slug: &str,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let org = self.admin_org(admin, Some(org_slug)).await?;
        let done = self
            .changed(
                self.client_event(admin, AuditKind::OAuthClientDeleted, org.id, id, client),
                self.store.delete_oauth_client(org.id, id),
                |done| *done,
            )
            .await?;
        if !done {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }

    fn client_event(
        &self,
        admin: &OrgAdmin,
        kind: AuditKind,
        org: OrgId,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> AuditEvent {
        self.event(kind, org, client)
            .actor(admin.actor().user.id)
            .detail("client_id", id.to_string())
    }
}

/// The first characters of a secret, to recognise it by.
fn prefix_of(secret: &str) -> String {
    secret
        .chars()
        .take(CLIENT_SECRET_PREFIX.len() + 6)
        .collect()
}
