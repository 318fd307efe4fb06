//! The OAuth 2.0 and OpenID Connect vocabulary: registered clients and what each of their
//! settings may be (client types, grant types, token endpoint authentication methods, ID
//! token signing algorithms, scopes), and the one rule for redirect URIs (RFC 9700 §2.1:
//! exact strings; `https`, or `http` only to a loopback address, RFC 8252 §7.3).

use chrono::{DateTime, Utc};

use crate::error::FieldError;
use crate::ids::OrgId;

/// What every client secret starts with (to recognise one in a leak report).
pub const CLIENT_SECRET_PREFIX: &str = "pcs_";

/// The scopes a client may be allowed, in the order discovery lists them.
pub const SCOPES: [&str; 5] = ["openid", "profile", "email", "phone", "offline_access"];

/// Redirect URIs (and post-logout ones) a client may register.
const MAX_URIS: usize = 20;
/// The longest URI a client may register.
const MAX_URI_LEN: usize = 2000;

/// Whether a client can keep a secret (RFC 6749 §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    /// A server-side application, holding a secret.
    Confidential,
    /// A browser or native application, which cannot; it must use PKCE.
    Public,
}

/// A grant a client may use at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum GrantType {
    /// A code from the authorization endpoint (RFC 6749 §4.1).
    AuthorizationCode,
    /// A refresh token (RFC 6749 §6).
    RefreshToken,
    /// The client for itself (RFC 6749 §4.4); confidential clients only.
    ClientCredentials,
}

/// How a client proves itself at the token endpoint (OpenID Connect Core §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// HTTP Basic with the client id and secret.
    ClientSecretBasic,
    /// The client id and secret in the form body.
    ClientSecretPost,
    /// No secret: a public client.
    None,
}

/// The algorithm a client's ID tokens are signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    /// RSASSA-PKCS1-v1_5 with SHA-256, the default every relying party supports.
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// Ed25519.
    EdDsa,
}

/// Wire names, one table per enum: how each setting is spelled in the API, the store and
/// discovery.
macro_rules! wire_names {
    ($ty:ty { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every value, in the order discovery lists them.
            pub const ALL: &'static [$ty] = &[$(<$ty>::$variant),+];

            /// The wire name.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $name),+
                }
            }

            /// Parses a wire name.
            pub fn parse(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|v| v.as_str() == s)
            }
        }
    };
}

wire_names!(ClientType { Confidential => "confidential", Public => "public" });
wire_names!(GrantType {
    AuthorizationCode => "authorization_code",
    RefreshToken => "refresh_token",
    ClientCredentials => "client_credentials",
});
wire_names!(AuthMethod {
    ClientSecretBasic => "client_secret_basic",
    ClientSecretPost => "client_secret_post",
    None => "none",
});
wire_names!(SigningAlg { Rs256 => "RS256", Es256 => "ES256", EdDsa => "EdDSA" });

/// A registered OAuth client of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthClient {
    /// The `client_id`.
    pub id: uuid::Uuid,
    /// The organization whose users it signs in.
    pub org_id: OrgId,
    /// Shown on the consent page and to users among their authorized applications.
    pub name: String,
    /// Confidential or public.
    pub client_type: ClientType,
    /// Where authorization answers may go, compared as exact strings.
    pub redirect_uris: Vec<String>,
    /// Where RP-initiated logout may send the browser back to.
    pub post_logout_redirect_uris: Vec<String>,
    /// The grants it may use.
    pub grant_types: Vec<GrantType>,
    /// The scopes it may be given.
    pub scopes: Vec<String>,
    /// How it authenticates at the token endpoint.
    pub token_endpoint_auth_method: AuthMethod,
    /// How its ID tokens are signed.
    pub id_token_signed_response_alg: SigningAlg,
    /// A first-party application: its users are not asked for consent.
    pub first_party: bool,
    /// Where back-channel logout tokens are posted.
    pub backchannel_logout_uri: Option<String>,
    /// Its access tokens' lifetime, seconds; `None` is the server's.
    pub access_token_lifetime_secs: Option<u32>,
    /// Its refresh tokens' (sessions') lifetime, seconds; `None` is the server's.
    pub refresh_token_lifetime_secs: Option<u32>,
    /// The first characters of its secret, to recognise it (confidential clients).
    pub secret_prefix: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// Checks a redirect URI (or a post-logout or back-channel logout one): an absolute URL
/// without a fragment or user information, `https`, or `http` to a loopback address.
pub fn check_uri(field: &str, raw: &str) -> Result<String, FieldError> {
    let bad = |why: &str| FieldError::new(field, why);
    if raw.len() > MAX_URI_LEN || raw.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad(
            "must be a URL of at most 2000 characters, without spaces",
        ));
    }
    let url = url::Url::parse(raw).map_err(|_| bad("must be an absolute URL"))?;
    if url.fragment().is_some() {
        return Err(bad("must not have a fragment"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("must not carry user information"));
    }
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    match url.scheme() {
        "https" if url.host().is_some() => Ok(raw.to_owned()),
        "http" if loopback => Ok(raw.to_owned()),
        "http" => Err(bad("may use http only to a loopback address; use https")),
        _ => Err(bad("must be an https URL (or http to a loopback address)")),
    }
}

/// Checks a list of URIs: each by [`check_uri`], no repeats, at most 20.
pub fn check_uris(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if raw.len() > MAX_URIS {
        return Err(FieldError::new(field, "at most 20 URLs"));
    }
    let mut out: Vec<String> = Vec::with_capacity(raw.len());
    for uri in raw {
        let uri = check_uri(field, uri)?;
        if out.contains(&uri) {
            return Err(FieldError::new(field, "lists a URL twice"));
        }
        out.push(uri);
    }
    Ok(out)
}

/// Checks a list of scopes against [`SCOPES`]; answers them in discovery's order.
pub fn check_scopes(field: &str, raw: &[String]) -> Result<Vec<String>, FieldError> {
    if let Some(unknown) = raw.iter().find(|s| !SCOPES.contains(&s.as_str())) {
        return Err(FieldError::new(
            field,
            format!("{unknown:?} is not one of openid, profile, email, phone, offline_access"),
        ));
    }
    Ok(SCOPES
        .iter()
        .filter(|s| raw.iter().any(|r| r == *s))
        .map(|s| (*s).to_owned())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragments() {
        for good in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?x=1",
            "http://127.0.0.1:8080/cb",
            "http://[::1]/cb",
            "http://localhost:3000/cb",
        ] {
            assert_eq!(check_uri("redirect_uris", good).unwrap(), good);
        }
        for bad in [
            "http://app.example.com/cb",
            "https://app.example.com/cb#x",
            "https://user:pw@app.example.com/cb",
            "javascript:alert(1)",
            "/relative",
            "https://app.example.com/a b",
            "ftp://app.example.com/",
        ] {
            assert!(check_uri("redirect_uris", bad).is_err(), "{bad}");
        }
        let twice = vec!["https://a.example/cb".to_owned(); 2];
        assert!(check_uris("redirect_uris", &twice).is_err());
    }

    #[test]
    fn wire_names_round_trip_and_scopes_keep_discovery_order() {
        for g in GrantType::ALL {
            assert_eq!(GrantType::parse(g.as_str()), Some(*g));
        }
        assert_eq!(SigningAlg::parse("RS256"), Some(SigningAlg::Rs256));
        assert_eq!(AuthMethod::parse("private_key_jwt"), None);
        assert_eq!(
            check_scopes("scopes", &["email".into(), "openid".into()]).unwrap(),
            ["openid", "email"]
        );
        assert!(check_scopes("scopes", &["admin".into()]).is_err());
    }
}
