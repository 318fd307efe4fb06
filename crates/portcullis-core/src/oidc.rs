//! OpenID Connect and OAuth 2.0 as the provider speaks them: the errors of RFC 6749 and
//! OpenID Connect Core, the authorization request and its checks, client authentication's
//! inputs, and the claims of the tokens it signs. Pure: no store, no clock.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256, Sha512};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use crate::error::AuthError;
use crate::oauth::SigningAlg;

/// How long an authorization code lives (RFC 6749 section 4.1.2 recommends ten minutes at
/// most; a code is redeemed by the client's back end at once).
pub const CODE_SECS: i64 = 60;

/// How long a started authorization waits for the user to sign in and consent.
pub const REQUEST_SECS: i64 = 30 * 60;

/// The `acr` of a sign-in with one factor, and with two or more.
pub const ACR_ONE_FACTOR: &str = "urn:portcullis:acr:1fa";
/// See [`ACR_ONE_FACTOR`].
pub const ACR_MULTI_FACTOR: &str = "urn:portcullis:acr:mfa";

/// An error of the provider's endpoints, with its RFC 6749 / OpenID Connect `error` code.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// A parameter is missing, repeated, malformed or not allowed.
    #[error("{0}")]
    InvalidRequest(String),
    /// Client authentication failed (unknown client, wrong secret, wrong method).
    #[error("client authentication failed")]
    InvalidClient,
    /// The code, refresh token or verifier is invalid, expired, spent or another client's.
    #[error("{0}")]
    InvalidGrant(String),
    /// The client may not use this grant or response type.
    #[error("{0}")]
    UnauthorizedClient(String),
    /// The grant type is not one this server knows.
    #[error("the grant type is not supported")]
    UnsupportedGrantType,
    /// The response type is not `code`.
    #[error("only response_type=code is supported")]
    UnsupportedResponseType,
    /// The scope asked for is beyond what was granted.
    #[error("{0}")]
    InvalidScope(String),
    /// The user declined.
    #[error("the user declined the request")]
    AccessDenied,
    /// `prompt=none`, and the user must sign in.
    #[error("the user must sign in")]
    LoginRequired,
    /// `prompt=none`, and the user must consent.
    #[error("the user must consent")]
    ConsentRequired,
    /// A `request` object was sent.
    #[error("request objects are not supported")]
    RequestNotSupported,
    /// A `request_uri` was sent.
    #[error("request_uri is not supported")]
    RequestUriNotSupported,
    /// A bearer token is missing, invalid, expired or its session ended.
    #[error("the access token is invalid")]
    InvalidToken,
    /// The token lacks the scope the resource needs.
    #[error("{0}")]
    InsufficientScope(String),
    /// The server failed (storage, overload, rate limit), in the kernel's terms.
    #[error(transparent)]
    Failed(#[from] AuthError),
}

impl From<crate::error::StoreError> for OidcError {
    fn from(e: crate::error::StoreError) -> Self {
        Self::Failed(e.into())
    }
}

impl OidcError {
    /// The `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnauthorizedClient(_) => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope(_) => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope(_) => "insufficient_scope",
            Self::Failed(AuthError::Overloaded { .. } | AuthError::RateLimited { .. }) => {
                "temporarily_unavailable"
            }
            Self::Failed(_) => "server_error",
        }
    }

    /// A shorthand for [`OidcError::InvalidRequest`].
    pub fn request(why: impl Into<String>) -> Self {
        Self::InvalidRequest(why.into())
    }
}

/// The parameters of an authorization request, as sent (GET query or POST form). Unknown
/// parameters are ignored (OpenID Connect Core section 3.1.2.1).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)] // the names are the protocol's
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub id_token_hint: Option<String>,
    pub login_hint: Option<String>,
    pub ui_locales: Option<String>,
    pub acr_values: Option<String>,
    pub display: Option<String>,
    pub claims: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub response_mode: Option<String>,
}

/// The names [`AuthorizeParams`] reads: each may appear once (RFC 6749 section 3.1).
const AUTHORIZE_NAMES: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "id_token_hint",
    "login_hint",
    "ui_locales",
    "acr_values",
    "display",
    "claims",
    "request",
    "request_uri",
    "response_mode",
];

impl AuthorizeParams {
    /// Reads name-value pairs; answers the name of a known parameter sent twice, if any
    /// (the first value is kept, so that the client and redirect can still be checked).
    pub fn from_pairs(pairs: &[(String, String)]) -> (Self, Option<String>) {
        let mut seen: Vec<&str> = Vec::new();
        let mut repeated = None;
        let mut map = serde_json::Map::new();
        for (name, value) in pairs {
            if !AUTHORIZE_NAMES.contains(&name.as_str()) {
                continue;
            }
            if seen.contains(&name.as_str()) {
                repeated.get_or_insert_with(|| name.clone());
                continue;
            }
            seen.push(name);
            map.insert(name.clone(), serde_json::Value::String(value.clone()));
        }
        let params = serde_json::from_value(serde_json::Value::Object(map)).unwrap_or_default();
        (params, repeated)
    }
}

/// A `prompt` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Prompt {
    /// No page may be shown.
    None,
    /// Sign in again.
    Login,
    /// Ask for consent again.
    Consent,
    /// Offer another account (the pages sign in again).
    SelectAccount,
}

/// A checked authorization request, kept (sealed) while the user signs in and consents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthRequest {
    /// The client.
    pub client_id: uuid::Uuid,
    /// The client's organization (slug), where the user signs in.
    pub org: String,
    /// The client's name, for the pages.
    pub client_name: String,
    /// Where the answer goes.
    pub redirect_uri: String,
    /// The scopes to grant, known ones the client may have, in discovery's order.
    pub scope: Vec<String>,
    /// Echoed back.
    pub state: Option<String>,
    /// Put in the ID token.
    pub nonce: Option<String>,
    /// PKCE S256 challenge.
    pub code_challenge: Option<String>,
    /// What may or must be shown.
    pub prompt: Vec<Prompt>,
    /// The oldest sign-in accepted, in seconds before now.
    pub max_age: Option<i64>,
    /// The sign-in identifier to suggest.
    pub login_hint: Option<String>,
    /// The user an `id_token_hint` named: only they may answer.
    pub hint_sub: Option<String>,
    /// When the request was made (seconds since the epoch): a `prompt=login` sign-in must
    /// be newer.
    pub started_at: i64,
}

/// A checked RP-initiated logout request (OpenID Connect RP-Initiated Logout 1.0), kept
/// (sealed) while the browser goes to the pages, which hold the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogoutRequest {
    /// The client that asked, when known.
    pub client_id: Option<uuid::Uuid>,
    /// Its name, for the pages.
    pub client_name: Option<String>,
    /// The organization (slug) whose pages answer.
    pub org: Option<String>,
    /// The browser session the `id_token_hint` named: signed out without asking when it is
    /// the browser's.
    pub sid: Option<String>,
    /// Where to go afterwards: a registered post-logout URI, with `state`.
    pub redirect: Option<String>,
    /// When it was made (seconds since the epoch).
    pub started_at: i64,
}

/// Whether `s` is a PKCE value of RFC 7636's shape: 43 to 128 unreserved characters.
pub fn pkce_shaped(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// The S256 challenge of a verifier (RFC 7636 section 4.2).
pub fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Parses `prompt`: known values, `none` alone.
pub fn parse_prompt(raw: Option<&str>) -> Result<Vec<Prompt>, OidcError> {
    let mut out = Vec::new();
    for word in raw.unwrap_or("").split(' ').filter(|w| !w.is_empty()) {
        let p = match word {
            "none" => Prompt::None,
            "login" => Prompt::Login,
            "consent" => Prompt::Consent,
            "select_account" => Prompt::SelectAccount,
            other => {
                return Err(OidcError::request(format!(
                    "unknown prompt value {other:?}"
                )))
            }
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    if out.contains(&Prompt::None) && out.len() > 1 {
        return Err(OidcError::request("prompt=none cannot be combined"));
    }
    Ok(out)
}

/// Parses `max_age`: a whole number of seconds.
pub fn parse_max_age(raw: Option<&str>) -> Result<Option<i64>, OidcError> {
    match raw.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(s) => s
            .parse::<u32>()
            .map(|n| Some(i64::from(n)))
            .map_err(|_| OidcError::request("max_age must be a whole number of seconds")),
    }
}

/// The scopes of a request: the known ones the client may have, in discovery's order
/// (unknown and unallowed ones are left out, as OpenID Connect Core section 3.1.2.1 asks).
pub fn granted_scopes(raw: Option<&str>, allowed: &[String]) -> Vec<String> {
    let asked: Vec<&str> = raw.unwrap_or("").split(' ').collect();
    crate::oauth::SCOPES
        .iter()
        .filter(|s| asked.contains(s) && allowed.iter().any(|a| a == *s))
        .map(|s| (*s).to_owned())
        .collect()
}

/// `at_hash` (OpenID Connect Core section 3.1.3.6): the left half of the hash of the access
/// token, with the hash of the ID token's algorithm (SHA-512 for Ed25519).
pub fn at_hash(alg: SigningAlg, access_token: &str) -> String {
    let digest: Vec<u8> = match alg {
        SigningAlg::Rs256 | SigningAlg::Es256 => Sha256::digest(access_token).to_vec(),
        SigningAlg::EdDsa => Sha512::digest(access_token).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

/// The claims of an access token issued to a client (RFC 9068 section 2.2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientAccessClaims {
    /// Issuer.
    pub iss: String,
    /// The user, or the client itself for `client_credentials`.
    pub sub: String,
    /// The client (the resource it may be presented to is the client's own API).
    pub aud: String,
    /// The client.
    pub client_id: String,
    /// Issued at.
    pub iat: i64,
    /// Expiry.
    pub exp: i64,
    /// Unique id.
    pub jti: String,
    /// Granted scopes, space-separated.
    pub scope: String,
    /// When the user signed in (absent for `client_credentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    /// How (absent for `client_credentials`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// The session made for the client (absent for `client_credentials`), which revocation
    /// and logout end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// The `acr` of a sign-in by its `amr`.
pub fn acr(amr: &[String]) -> &'static str {
    if amr.iter().any(|a| a == "mfa") {
        ACR_MULTI_FACTOR
    } else {
        ACR_ONE_FACTOR
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_named_and_unknown_ones_ignored() {
        let pairs: Vec<(String, String)> = [
            ("client_id", "a"),
            ("scope", "openid"),
            ("extra", "x"),
            ("scope", "email"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        let (p, repeated) = AuthorizeParams::from_pairs(&pairs);
        assert_eq!(p.client_id.as_deref(), Some("a"));
        assert_eq!(p.scope.as_deref(), Some("openid"));
        assert_eq!(repeated.as_deref(), Some("scope"));
    }

    #[test]
    fn prompt_max_age_and_scopes() {
        assert_eq!(
            parse_prompt(Some("login consent")).unwrap(),
            [Prompt::Login, Prompt::Consent]
        );
        assert!(parse_prompt(Some("none login")).is_err());
        assert!(parse_prompt(Some("sometimes")).is_err());
        assert_eq!(parse_max_age(Some("1")).unwrap(), Some(1));
        assert!(parse_max_age(Some("-1")).is_err());
        let allowed: Vec<String> = ["openid", "email", "profile"].map(String::from).to_vec();
        assert_eq!(
            granted_scopes(Some("email custom openid phone"), &allowed),
            ["openid", "email"]
        );
    }

    #[test]
    fn at_hash_and_s256_are_the_left_half_and_the_whole_hash() {
        // The left half of SHA-256, base64url, as Python's hashlib computes it.
        assert_eq!(
            at_hash(
                SigningAlg::Rs256,
                "jHkWEdUXMU1BwAsC4vtUsZwnhUUzdJ2OKnhQ7N4u5QU"
            ),
            "07P0e0sXX3g3zLubBLSScg"
        );
        // Ed25519: the left half of SHA-512, 32 bytes.
        assert_eq!(at_hash(SigningAlg::EdDsa, "x").len(), 43);
        // RFC 7636, appendix B.
        assert_eq!(
            s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
