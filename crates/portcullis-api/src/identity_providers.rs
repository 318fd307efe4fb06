//! Upstream identity providers of an organization ("Continue with ..."), and the upstream
//! accounts linked to a user.

use super::*;

/// Which upstream claim holds each of the user's fields (absent fields stay as they are).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimMapping {
    /// The email address (default `email`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the address is verified (default `email_verified`; Microsoft `xms_edov`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_verified: Option<String>,
    /// The phone number (default `phone_number`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// The given name (default `given_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// The family name (default `family_name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// The username (default `preferred_username`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// `POST /v1/orgs/{slug}/identity-providers` (then `kind`, `client_id` and `client_secret`
/// are required, and `issuer` for `oidc`) and `PATCH .../{id}` (absent fields stay; `kind`
/// cannot change).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityProviderRequest {
    /// `oidc`, `google`, `microsoft`, `github`, `gitlab` or `apple`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Shown on its button (default: the kind's name).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether it is offered (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
    /// The client id registered upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// The client secret (Apple: the private key, PEM). Write-only: never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// The issuer, as its ID tokens say; discovery is at its `/.well-known/openid-configuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The discovery document, when elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    /// Overrides the authorization endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authorization_endpoint: Option<String>,
    /// Overrides the token endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint: Option<String>,
    /// Overrides the userinfo endpoint (GitHub: its API's base URL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub userinfo_endpoint: Option<String>,
    /// Overrides the key set's URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The scopes asked for (default: the kind's, `openid email profile` for OpenID kinds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Where the user's fields are in the upstream's claims.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claims: Option<ClaimMapping>,
    /// Whether a first sign-in makes an account (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_signup: Option<bool>,
    /// Whether a sign-in may link to an existing account with the same address: at once
    /// when the upstream verified it, else after the user signs in to it (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_linking: Option<bool>,
    /// Whether a second factor the upstream proved (its `amr`) counts here (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trust_mfa: Option<bool>,
    /// Whether the upstream's refresh token is kept, sealed, for the user (default false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_refresh_token: Option<bool>,
    /// Microsoft: `common` (default), `organizations`, `consumers` or a tenant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// Apple: the team id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_id: Option<String>,
    /// Apple: the private key's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// A provider, as admins see it: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IdentityProvider {
    /// Identifier.
    pub id: Uuid,
    /// The kind.
    pub kind: String,
    /// Shown on its button.
    pub name: String,
    /// Whether it is offered.
    pub enabled: bool,
    /// The callback URL to register upstream.
    pub redirect_uri: String,
    /// The client id.
    pub client_id: String,
    /// Whether a client secret is set.
    pub has_client_secret: bool,
    /// The issuer, if set.
    pub issuer: Option<String>,
    /// The discovery URL, if set.
    pub discovery_url: Option<String>,
    /// The authorization endpoint, if set.
    pub authorization_endpoint: Option<String>,
    /// The token endpoint, if set.
    pub token_endpoint: Option<String>,
    /// The userinfo endpoint, if set.
    pub userinfo_endpoint: Option<String>,
    /// The key set's URL, if set.
    pub jwks_uri: Option<String>,
    /// The scopes asked for (empty: the kind's defaults).
    pub scopes: Vec<String>,
    /// The claim mapping.
    pub claims: ClaimMapping,
    /// Just-in-time sign-up.
    pub allow_signup: bool,
    /// Linking to existing accounts.
    pub allow_linking: bool,
    /// Whether the upstream's second factor counts.
    pub trust_mfa: bool,
    /// Whether upstream refresh tokens are kept.
    pub keep_refresh_token: bool,
    /// Microsoft's tenant.
    pub tenant: Option<String>,
    /// Apple's team id.
    pub team_id: Option<String>,
    /// Apple's key id.
    pub key_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// An organization's providers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct IdentityProviderList {
    /// Oldest first.
    pub items: Vec<IdentityProvider>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}

/// An upstream account linked to the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinkedIdentity {
    /// Identifier.
    pub id: Uuid,
    /// The provider.
    pub provider_id: Uuid,
    /// Its name.
    pub provider_name: String,
    /// Its kind.
    pub kind: String,
    /// The upstream's issuer.
    pub issuer: String,
    /// The upstream account's subject.
    pub subject: String,
    /// The address the upstream gave last.
    pub email: Option<String>,
    /// Whether an upstream refresh token is kept.
    pub has_refresh_token: bool,
    /// When linked.
    pub created_at: DateTime<Utc>,
    /// When last used to sign in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// The user's linked identities.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinkedIdentityList {
    /// Oldest first.
    pub items: Vec<LinkedIdentity>,
}

/// The upstream refresh token kept for an identity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UpstreamRefreshToken {
    /// Present it at the upstream's token endpoint (`grant_type=refresh_token`).
    pub refresh_token: String,
}
