//! Discovery and operations: the key set, OpenID configuration, health.

use super::*;

/// A public signing key (RFC 7517): RSA (RFC 7518 6.3), P-256 (6.2) or Ed25519 (RFC 8037).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `RSA`, `EC` or `OKP`.
    pub kty: String,
    /// `P-256` or `Ed25519`; absent for RSA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crv: Option<String>,
    /// The EC point's x, or the Ed25519 public key, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<String>,
    /// The EC point's y, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub y: Option<String>,
    /// The RSA modulus, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n: Option<String>,
    /// The RSA public exponent, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e: Option<String>,
    /// Key id.
    pub kid: String,
    /// `RS256`, `ES256` or `EdDSA`.
    pub alg: String,
    /// `sig`.
    #[serde(rename = "use")]
    pub use_: String,
}

/// `GET /.well-known/jwks.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jwks {
    /// Keys that may have signed a live token; the first signs new ones.
    pub keys: Vec<Jwk>,
}

/// `GET /.well-known/openid-configuration` (OpenID Connect Discovery 1.0, RFC 8414).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenIdConfiguration {
    /// `iss` of every token: exactly the configured public URL.
    pub issuer: String,
    /// Where a relying party sends the browser to sign in.
    pub authorization_endpoint: String,
    /// The token endpoint.
    pub token_endpoint: String,
    /// The userinfo endpoint.
    pub userinfo_endpoint: String,
    /// Where the public keys are.
    pub jwks_uri: String,
    /// RP-initiated logout.
    pub end_session_endpoint: String,
    /// RFC 7662.
    pub introspection_endpoint: String,
    /// RFC 7009.
    pub revocation_endpoint: String,
    /// `openid profile email phone offline_access`.
    pub scopes_supported: Vec<String>,
    /// `["code"]`.
    pub response_types_supported: Vec<String>,
    /// `["query"]`.
    pub response_modes_supported: Vec<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials`.
    pub grant_types_supported: Vec<String>,
    /// `["public"]`.
    pub subject_types_supported: Vec<String>,
    /// `RS256`, `ES256`, `EdDSA`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `client_secret_basic`, `client_secret_post`, `none`.
    pub token_endpoint_auth_methods_supported: Vec<String>,
    /// `client_secret_basic`, `client_secret_post`.
    pub introspection_endpoint_auth_methods_supported: Vec<String>,
    /// `client_secret_basic`, `client_secret_post`.
    pub revocation_endpoint_auth_methods_supported: Vec<String>,
    /// `["S256"]`.
    pub code_challenge_methods_supported: Vec<String>,
    /// The claims ID tokens and userinfo may carry.
    pub claims_supported: Vec<String>,
    /// The `acr` values ID tokens carry.
    pub acr_values_supported: Vec<String>,
    /// `none login consent select_account`.
    pub prompt_values_supported: Vec<String>,
    /// `false`.
    pub claims_parameter_supported: bool,
    /// `false`.
    pub request_parameter_supported: bool,
    /// `false`.
    pub request_uri_parameter_supported: bool,
    /// `true`: authorization answers carry `iss` (RFC 9207).
    pub authorization_response_iss_parameter_supported: bool,
    /// `true`.
    pub backchannel_logout_supported: bool,
    /// `true`: logout tokens carry `sid`.
    pub backchannel_logout_session_supported: bool,
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}
