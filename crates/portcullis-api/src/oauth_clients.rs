//! OAuth clients: applications that sign an organization's users in through OpenID Connect.

use super::*;

/// `POST /v1/orgs/{slug}/oauth-clients`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOAuthClientRequest {
    /// Display name, shown on the consent page.
    pub name: String,
    /// `confidential` (default: it holds a secret) or `public` (a browser or native
    /// application: no secret, PKCE required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_type: Option<String>,
    /// Where authorization answers may go, compared as exact strings: `https`, or `http` to a
    /// loopback address; no fragment.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to (same rules).
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Of `authorization_code`, `refresh_token`, `client_credentials`; default the first two.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// Of `openid`, `profile`, `email`, `phone`, `offline_access`; default all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// `client_secret_basic` (default for confidential clients), `client_secret_post`, or
    /// `none` (public clients).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// `RS256` (default), `ES256` or `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// A first-party application: its users are not asked for consent.
    #[serde(default)]
    pub first_party: bool,
    /// Where back-channel logout tokens are posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// Its access tokens' lifetime, 60 to 86400 seconds; the server's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_lifetime_secs: Option<u32>,
    /// Its refresh tokens' lifetime, 300 seconds to a year; the server's when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_lifetime_secs: Option<u32>,
}

/// `PATCH /v1/orgs/{slug}/oauth-clients/{client_id}`: absent fields stay; `null` clears the
/// optional ones. The client type cannot change.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOAuthClientRequest {
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Redirect URIs (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// Post-logout redirect URIs (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Grant types (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// Scopes (replaces the list).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Token endpoint authentication method.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<String>,
    /// ID token signing algorithm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token_signed_response_alg: Option<String>,
    /// First-party application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_party: Option<bool>,
    /// Back-channel logout URI; `null` removes it.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub backchannel_logout_uri: Option<Option<String>>,
    /// Own access-token lifetime; `null` returns to the server's.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>)]
    pub access_token_lifetime_secs: Option<Option<u32>>,
    /// Own refresh-token lifetime; `null` returns to the server's.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<u32>)]
    pub refresh_token_lifetime_secs: Option<Option<u32>>,
}

/// A registered client, as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OAuthClient {
    /// The `client_id`.
    pub client_id: Uuid,
    /// Display name.
    pub name: String,
    /// `confidential` or `public`.
    pub client_type: String,
    /// Redirect URIs.
    pub redirect_uris: Vec<String>,
    /// Post-logout redirect URIs.
    pub post_logout_redirect_uris: Vec<String>,
    /// Grant types.
    pub grant_types: Vec<String>,
    /// Allowed scopes.
    pub scopes: Vec<String>,
    /// Token endpoint authentication method.
    pub token_endpoint_auth_method: String,
    /// ID token signing algorithm.
    pub id_token_signed_response_alg: String,
    /// First-party application (no consent page).
    pub first_party: bool,
    /// Back-channel logout URI.
    pub backchannel_logout_uri: Option<String>,
    /// Own access-token lifetime, seconds.
    pub access_token_lifetime_secs: Option<u32>,
    /// Own refresh-token lifetime, seconds.
    pub refresh_token_lifetime_secs: Option<u32>,
    /// The first characters of its secret (`pcs_` and six more); confidential clients.
    pub client_secret_prefix: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A new client: the only time a confidential client's secret is shown (until rotated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedOAuthClient {
    /// The secret, `pcs_...`, for a confidential client; `null` for a public one.
    pub client_secret: Option<String>,
    /// The client.
    #[serde(flatten)]
    pub client: OAuthClient,
}

/// A rotated secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ClientSecret {
    /// The new secret, `pcs_...`; the old one no longer works.
    pub client_secret: String,
}

/// An organization's clients.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OAuthClientList {
    /// Newest first.
    pub items: Vec<OAuthClient>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}
