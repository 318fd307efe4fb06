//! Discovery and operations: the key set, OpenID configuration, health.

use super::*;

/// A public signing key (RFC 8037 OKP).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Jwk {
    /// `OKP`.
    pub kty: String,
    /// `Ed25519`.
    pub crv: String,
    /// Public key, base64url.
    pub x: String,
    /// Key id.
    pub kid: String,
    /// `EdDSA`.
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

/// `GET /.well-known/openid-configuration`: discovery for token verification.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OpenIdConfiguration {
    /// `iss` of every token.
    pub issuer: String,
    /// Where the public keys are.
    pub jwks_uri: String,
    /// Token refresh endpoint.
    pub token_endpoint: String,
    /// `["EdDSA"]`.
    pub id_token_signing_alg_values_supported: Vec<String>,
    /// `["public"]`.
    pub subject_types_supported: Vec<String>,
    /// Claims in access tokens.
    pub claims_supported: Vec<String>,
}

/// `GET /healthz`, `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
}
