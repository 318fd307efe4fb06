//! Upstream identity providers, the pure part: what a provider is (a generic OpenID Connect
//! one, or a preset that fills in a well-known one's endpoints and quirks), the checks of an
//! ID token it issued, what its claims say about the user, and Apple's signed client secret.
//! The flows are `service::upstream`; the admin's side `service::identity_providers`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::FieldError;
use crate::ids::{OrgId, UserId};
use crate::tokens::{ForeignKeys, KeyProblem};

/// The kinds of provider: a generic OpenID Connect provider, or a preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Any OpenID Connect provider, found by discovery from its issuer.
    Oidc,
    /// Google (OpenID Connect).
    Google,
    /// Microsoft Entra ID, one tenant or the `common`/`organizations`/`consumers` endpoints.
    Microsoft,
    /// GitHub (OAuth 2 without OpenID Connect: the user and verified emails from its API).
    Github,
    /// GitLab, gitlab.com or a self-managed instance (OpenID Connect).
    Gitlab,
    /// Sign in with Apple (OpenID Connect; the client secret is a JWT Portcullis signs).
    Apple,
}

impl ProviderKind {
    /// Every kind.
    pub const ALL: [Self; 6] = [
        Self::Oidc,
        Self::Google,
        Self::Microsoft,
        Self::Github,
        Self::Gitlab,
        Self::Apple,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Google => "google",
            Self::Microsoft => "microsoft",
            Self::Github => "github",
            Self::Gitlab => "gitlab",
            Self::Apple => "apple",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The name shown on a "Continue with" button when the admin gives none.
    pub fn label(self) -> &'static str {
        match self {
            Self::Oidc => "single sign-on",
            Self::Google => "Google",
            Self::Microsoft => "Microsoft",
            Self::Github => "GitHub",
            Self::Gitlab => "GitLab",
            Self::Apple => "Apple",
        }
    }
}

/// Which upstream claim holds each of the user's fields.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ClaimMapping {
    /// The email address.
    pub email: String,
    /// Whether the upstream verified the address (a boolean, or the strings `true`/`false`).
    pub email_verified: String,
    /// The phone number.
    pub phone: String,
    /// The given name.
    pub given_name: String,
    /// The family name.
    pub family_name: String,
    /// The username.
    pub username: String,
}

impl Default for ClaimMapping {
    fn default() -> Self {
        Self {
            email: "email".into(),
            email_verified: "email_verified".into(),
            phone: "phone_number".into(),
            given_name: "given_name".into(),
            family_name: "family_name".into(),
            username: "preferred_username".into(),
        }
    }
}

/// A provider's settings (everything but its secret). What a preset knows is filled in when
/// absent; an admin may override any endpoint (a GitHub Enterprise or self-managed GitLab).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ProviderConfig {
    /// The issuer, exactly as its ID tokens say (OpenID kinds). Microsoft's multi-tenant
    /// endpoints publish `https://login.microsoftonline.com/{tenantid}/v2.0`, checked against
    /// each token's `tid`.
    pub issuer: Option<String>,
    /// Where the discovery document is, when not at the issuer's
    /// `/.well-known/openid-configuration`.
    pub discovery_url: Option<String>,
    /// The authorization endpoint (else from discovery, or the preset's).
    pub authorization_endpoint: Option<String>,
    /// The token endpoint (else from discovery, or the preset's).
    pub token_endpoint: Option<String>,
    /// The userinfo endpoint; for GitHub, its API's base URL.
    pub userinfo_endpoint: Option<String>,
    /// The key set's URL (else from discovery).
    pub jwks_uri: Option<String>,
    /// The client id registered upstream.
    pub client_id: String,
    /// The scopes asked for.
    pub scopes: Vec<String>,
    /// Where each field of the user is in the upstream's claims.
    pub claims: ClaimMapping,
    /// Whether a first sign-in creates an account (just in time).
    pub allow_signup: bool,
    /// Whether a sign-in may link to an existing account with the same address: at once
    /// when the upstream verified it, else after the user proves the account.
    pub allow_linking: bool,
    /// Whether the upstream's `amr` proving a second factor counts as one here.
    pub trust_mfa: bool,
    /// Whether the upstream's refresh token is kept (sealed) for the user's applications.
    pub keep_refresh_token: bool,
    /// Microsoft: the tenant (`common`, `organizations`, `consumers`, or a tenant id).
    pub tenant: Option<String>,
    /// Apple: the team id (the client secret's `iss`).
    pub team_id: Option<String>,
    /// Apple: the key id of the private key (the client secret's `kid`).
    pub key_id: Option<String>,
}

/// A provider of an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdentityProvider {
    /// Its id.
    pub id: uuid::Uuid,
    /// The organization it signs users in to.
    pub org_id: OrgId,
    /// What kind.
    pub kind: ProviderKind,
    /// Shown on its button.
    pub name: String,
    /// Whether it is offered.
    pub enabled: bool,
    /// Its settings.
    pub config: ProviderConfig,
    /// The client secret (Apple: the private key, PEM), sealed with the master key.
    pub secret_sealed: Option<String>,
    /// When made.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// An upstream account linked to a user: the key is (issuer, subject), never the email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    /// Its id.
    pub id: uuid::Uuid,
    /// The user.
    pub user_id: UserId,
    /// The provider.
    pub provider_id: uuid::Uuid,
    /// The token's `iss`.
    pub issuer: String,
    /// The token's `sub` (GitHub: the user's numeric id).
    pub subject: String,
    /// The address the upstream gave at the last sign-in, for the user to recognise it.
    pub email: Option<String>,
    /// The upstream refresh token, sealed, when the provider keeps it.
    pub refresh_token_sealed: Option<String>,
    /// When linked.
    pub created_at: DateTime<Utc>,
    /// When last used to sign in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// Where a provider's endpoints are, as far as its kind knows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Preset {
    /// The issuer (OpenID kinds).
    pub issuer: Option<String>,
    /// The discovery document.
    pub discovery_url: Option<String>,
    /// Authorization endpoint.
    pub authorization_endpoint: Option<String>,
    /// Token endpoint.
    pub token_endpoint: Option<String>,
    /// Userinfo endpoint (GitHub: the API).
    pub userinfo_endpoint: Option<String>,
    /// Default scopes.
    pub scopes: Vec<String>,
    /// Whether it speaks OpenID Connect (an ID token comes back).
    pub openid: bool,
}

fn words(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// What `kind` fills in, given the settings so far (Microsoft's tenant).
pub fn preset(kind: ProviderKind, config: &ProviderConfig) -> Preset {
    let oidc_scopes = words(&["openid", "email", "profile"]);
    match kind {
        ProviderKind::Oidc => Preset {
            scopes: oidc_scopes,
            openid: true,
            ..Preset::default()
        },
        ProviderKind::Google => Preset {
            issuer: Some("https://accounts.google.com".into()),
            scopes: oidc_scopes,
            openid: true,
            ..Preset::default()
        },
        ProviderKind::Microsoft => {
            let tenant = config.tenant.as_deref().unwrap_or("common");
            Preset {
                discovery_url: Some(format!(
                    "https://login.microsoftonline.com/{tenant}/v2.0/.well-known/openid-configuration"
                )),
                scopes: oidc_scopes,
                openid: true,
                ..Preset::default()
            }
        }
        ProviderKind::Gitlab => Preset {
            issuer: Some("https://gitlab.com".into()),
            scopes: oidc_scopes,
            openid: true,
            ..Preset::default()
        },
        ProviderKind::Apple => Preset {
            issuer: Some("https://appleid.apple.com".into()),
            scopes: words(&["openid", "email", "name"]),
            openid: true,
            ..Preset::default()
        },
        ProviderKind::Github => Preset {
            authorization_endpoint: Some("https://github.com/login/oauth/authorize".into()),
            token_endpoint: Some("https://github.com/login/oauth/access_token".into()),
            userinfo_endpoint: Some("https://api.github.com".into()),
            scopes: words(&["read:user", "user:email"]),
            openid: false,
            ..Preset::default()
        },
    }
}

/// The claim mapping a kind starts with: Microsoft's `email` is not verified by default,
/// its `xms_edov` claim says whether the address's domain is the tenant's own.
pub fn default_claims(kind: ProviderKind) -> ClaimMapping {
    let mut c = ClaimMapping::default();
    if kind == ProviderKind::Microsoft {
        c.email_verified = "xms_edov".into();
    }
    c
}

fn url_problem(field: &str, value: &str) -> Option<FieldError> {
    match url::Url::parse(value) {
        Ok(u) if u.scheme() == "https" => None,
        Ok(u)
            if u.scheme() == "http"
                && matches!(u.host_str(), Some("localhost" | "127.0.0.1" | "[::1]")) =>
        {
            None
        }
        Ok(u) if u.scheme() == "http" => Some(FieldError::new(field, "must be https")),
        _ => Some(FieldError::new(field, "is not a URL")),
    }
}

/// Every problem with a provider's settings, at once: what it needs to work is present
/// (an issuer or discovery URL for OpenID kinds; Apple's team and key ids), URLs are
/// `https` (or `http` to a loopback address), scopes are words.
pub fn check_config(kind: ProviderKind, c: &ProviderConfig, has_secret: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let p = preset(kind, c);
    if c.client_id.trim().is_empty() || c.client_id.len() > 512 {
        errors.push(FieldError::new("client_id", "is required"));
    }
    if !has_secret {
        errors.push(FieldError::new(
            "client_secret",
            if kind == ProviderKind::Apple {
                "is required (the private key, PEM)"
            } else {
                "is required"
            },
        ));
    }
    for (field, value) in [
        ("issuer", &c.issuer),
        ("discovery_url", &c.discovery_url),
        ("authorization_endpoint", &c.authorization_endpoint),
        ("token_endpoint", &c.token_endpoint),
        ("userinfo_endpoint", &c.userinfo_endpoint),
        ("jwks_uri", &c.jwks_uri),
    ] {
        if let Some(problem) = value.as_deref().and_then(|v| url_problem(field, v)) {
            errors.push(problem);
        }
    }
    if p.openid
        && c.issuer.is_none()
        && p.issuer.is_none()
        && c.discovery_url.is_none()
        && p.discovery_url.is_none()
    {
        errors.push(FieldError::new("issuer", "is required"));
    }
    if !p.openid
        && (c
            .authorization_endpoint
            .as_ref()
            .or(p.authorization_endpoint.as_ref()))
        .is_none()
    {
        errors.push(FieldError::new("authorization_endpoint", "is required"));
    }
    if c.scopes.iter().any(|s| {
        s.is_empty() || s.len() > 200 || s.chars().any(|ch| ch.is_whitespace() || ch == '"')
    }) {
        errors.push(FieldError::new("scopes", "each scope is one word"));
    }
    if p.openid && !c.scopes.is_empty() && !c.scopes.iter().any(|s| s == "openid") {
        errors.push(FieldError::new("scopes", "must include openid"));
    }
    if let Some(t) = &c.tenant {
        if kind != ProviderKind::Microsoft {
            errors.push(FieldError::new("tenant", "is for the microsoft kind only"));
        } else if t.is_empty()
            || !t
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '.')
        {
            errors.push(FieldError::new("tenant", "is not a tenant name or id"));
        }
    }
    if kind == ProviderKind::Apple {
        for (field, value) in [("team_id", &c.team_id), ("key_id", &c.key_id)] {
            if value.as_deref().is_none_or(|v| v.trim().is_empty()) {
                errors.push(FieldError::new(field, "is required for Apple"));
            }
        }
    }
    errors
}

/// Whether `iss`, from a token, is the issuer `expected`. A `{tenantid}` in `expected`
/// (Microsoft's multi-tenant endpoints) stands for the token's own `tid`, which must be a
/// tenant id: never compared as a literal string, never a wildcard.
pub fn issuer_matches(expected: &str, iss: &str, tid: Option<&str>) -> bool {
    if expected.contains("{tenantid}") {
        let Some(tid) = tid else { return false };
        let tenant_id = tid.len() == 36 && tid.chars().all(|c| c.is_ascii_hexdigit() || c == '-');
        tenant_id && expected.replace("{tenantid}", tid) == iss
    } else {
        expected == iss
    }
}

/// The callback URL to register upstream for provider `id` of a server at `issuer`.
pub fn redirect_uri(issuer: &str, id: uuid::Uuid) -> String {
    format!("{}/ui/upstream/{id}/callback", issuer.trim_end_matches('/'))
}

/// The purpose a provider's client secret is sealed for.
pub const SECRET_PURPOSE: &str = "upstream client secret";
/// The purpose an upstream refresh token is sealed for.
pub const REFRESH_PURPOSE: &str = "upstream refresh token";

/// Why an upstream sign-in failed; each has its own page, none is a 500.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No sign-in was started in this browser, or it expired, or `state` does not match.
    #[error("the sign-in's state does not match")]
    State,
    /// The upstream answered with an error (the user said no, or it refused us).
    #[error("the provider answered {error}")]
    Refused {
        /// The OAuth error code.
        error: String,
        /// Its words, if any.
        description: Option<String>,
    },
    /// The upstream could not be reached, or answered nonsense.
    #[error("the provider could not be reached: {0}")]
    Unavailable(String),
    /// The ID token failed a check (issuer, audience, signature, expiry, nonce).
    #[error("the provider's ID token failed a check: {0}")]
    Token(&'static str),
    /// No account, and the provider may not create one.
    #[error("signing up through this provider is off")]
    SignUpClosed,
    /// An account has the address, and the provider may not link to it.
    #[error("an account with this address exists")]
    LinkRefused,
    /// The upstream shared no usable email address.
    #[error("the provider shared no email address")]
    NoEmail,
    /// This upstream account is already another user's.
    #[error("this account is linked to another user")]
    LinkedElsewhere,
    /// The rest: inactive account, a hook's refusal, a store failure...
    #[error(transparent)]
    Auth(#[from] crate::error::AuthError),
}

impl From<crate::error::StoreError> for UpstreamError {
    fn from(e: crate::error::StoreError) -> Self {
        Self::Auth(e.into())
    }
}

/// What an upstream said about the user, mapped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamUser {
    /// The issuer of the identity (GitHub: its API base).
    pub issuer: String,
    /// The subject.
    pub subject: String,
    /// The address, lower-cased.
    pub email: Option<String>,
    /// Whether the upstream verified it.
    pub email_verified: bool,
    /// A phone number.
    pub phone: Option<String>,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Username.
    pub username: Option<String>,
    /// The ID token's `amr`.
    pub amr: Vec<String>,
}

fn text_claim(claims: &serde_json::Value, name: &str) -> Option<String> {
    if name.is_empty() {
        return None;
    }
    match claims.get(name)? {
        serde_json::Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A boolean claim, also spelled as a string (`"true"`, `"True"`), as some providers do.
fn bool_claim(claims: &serde_json::Value, name: &str) -> bool {
    match claims.get(name) {
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

/// The user in `claims` (an ID token's, merged with userinfo's), by `mapping`.
pub fn map_claims(
    issuer: &str,
    subject: &str,
    claims: &serde_json::Value,
    mapping: &ClaimMapping,
) -> UpstreamUser {
    UpstreamUser {
        issuer: issuer.to_owned(),
        subject: subject.to_owned(),
        email: text_claim(claims, &mapping.email).map(|e| e.to_lowercase()),
        email_verified: bool_claim(claims, &mapping.email_verified),
        phone: text_claim(claims, &mapping.phone),
        given_name: text_claim(claims, &mapping.given_name),
        family_name: text_claim(claims, &mapping.family_name),
        username: text_claim(claims, &mapping.username),
        amr: claims
            .get("amr")
            .and_then(|a| a.as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// What an ID token must be: from `issuer`, for `client_id`, unexpired, with `nonce`.
#[derive(Debug, Clone)]
pub struct IdTokenCheck<'a> {
    /// The expected issuer (may hold `{tenantid}`).
    pub issuer: &'a str,
    /// Our client id.
    pub client_id: &'a str,
    /// The nonce sent with the request.
    pub nonce: &'a str,
    /// Now.
    pub now: DateTime<Utc>,
}

/// How far clocks may disagree, seconds.
const LEEWAY_SECS: i64 = 60;

/// The claims of a valid ID token (OpenID Connect Core 3.1.3.7): signed by a key of `keys`
/// with an asymmetric algorithm, `iss` as expected, `aud` containing the client (and `azp`
/// naming it when there are several), unexpired, issued in the past, the nonce ours.
/// `Err(None)` when the signing key is unknown (fetch the key set again, once).
pub fn check_id_token(
    token: &str,
    keys: &ForeignKeys,
    check: &IdTokenCheck<'_>,
) -> Result<serde_json::Value, Option<&'static str>> {
    let payload = match keys.verify(token) {
        Ok(p) => p,
        Err(KeyProblem::UnknownKey) => return Err(None),
        Err(KeyProblem::Malformed) => return Err(Some("it is not a signed JWT")),
        Err(KeyProblem::Algorithm) => return Err(Some("its algorithm is not allowed")),
        Err(KeyProblem::Signature) => return Err(Some("its signature does not verify")),
    };
    let claims: serde_json::Value =
        serde_json::from_slice(&payload).map_err(|_| Some("its claims are not JSON"))?;
    let iss = claims.get("iss").and_then(|v| v.as_str()).unwrap_or("");
    let tid = claims.get("tid").and_then(|v| v.as_str());
    if !issuer_matches(check.issuer, iss, tid) {
        return Err(Some("its issuer is not the provider's"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(serde_json::Value::String(s)) => vec![s.as_str()],
        Some(serde_json::Value::Array(a)) => a.iter().filter_map(|v| v.as_str()).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&check.client_id) {
        return Err(Some("its audience is not this client"));
    }
    if audiences.len() > 1 && claims.get("azp").and_then(|v| v.as_str()) != Some(check.client_id) {
        return Err(Some("its authorized party is not this client"));
    }
    let now = check.now.timestamp();
    let exp = claims.get("exp").and_then(serde_json::Value::as_i64);
    if exp.is_none_or(|exp| exp + LEEWAY_SECS <= now) {
        return Err(Some("it has expired"));
    }
    if claims
        .get("iat")
        .and_then(serde_json::Value::as_i64)
        .is_some_and(|iat| iat > now + LEEWAY_SECS)
    {
        return Err(Some("it was issued in the future"));
    }
    let nonce = claims.get("nonce").and_then(|v| v.as_str()).unwrap_or("");
    if !crate::crypto::ct_eq(nonce.as_bytes(), check.nonce.as_bytes()) {
        return Err(Some("its nonce is not this sign-in's"));
    }
    if claims
        .get("sub")
        .and_then(|v| v.as_str())
        .is_none_or(|s| s.is_empty() || s.len() > 255)
    {
        return Err(Some("it has no subject"));
    }
    Ok(claims)
}

/// The `amr` values that prove a second factor upstream, and the stronger ones that prove
/// a phishing-resistant one (RFC 8176: `hwk` a hardware key; `phr`/`phrh` are in use for
/// phishing-resistant authenticators).
pub fn upstream_factor(amr: &[String]) -> Option<&'static str> {
    let has = |v: &str| amr.iter().any(|a| a == v);
    if has("hwk") || has("phr") || has("phrh") {
        Some("upstream_phr")
    } else if has("mfa") {
        Some("upstream_mfa")
    } else {
        None
    }
}

/// Apple's client secret: a JWT signed ES256 with the team's private key (PKCS#8 PEM),
/// valid for five minutes (Apple allows up to six months; short is safer and costs one
/// signature per sign-in).
pub fn apple_client_secret(
    pem: &str,
    team_id: &str,
    key_id: &str,
    client_id: &str,
    now: DateTime<Utc>,
    rng: &dyn crate::crypto::Rng,
) -> Result<String, String> {
    use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    let body: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::trim)
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body)
        .map_err(|_| "the private key is not PEM".to_owned())?;
    let system = ring::rand::SystemRandom::new();
    let key = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &system)
        .map_err(|_| "the private key is not a P-256 key in PKCS#8".to_owned())?;
    let header = serde_json::json!({"alg": "ES256", "kid": key_id, "typ": "JWT"});
    let iat = now.timestamp();
    let claims = serde_json::json!({
        "iss": team_id,
        "iat": iat,
        "exp": iat + 300,
        "aud": "https://appleid.apple.com",
        "sub": client_id,
        "jti": crate::crypto::random_token(rng),
    });
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature = key
        .sign(&system, input.as_bytes())
        .map_err(|_| "signing failed".to_owned())?;
    Ok(format!(
        "{input}.{}",
        URL_SAFE_NO_PAD.encode(signature.as_ref())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microsofts_tenant_issuer_is_checked_against_tid() {
        let template = "https://login.microsoftonline.com/{tenantid}/v2.0";
        let tid = "9188040d-6c67-4c5b-b112-36a304b66dad";
        let iss = format!("https://login.microsoftonline.com/{tid}/v2.0");
        assert!(issuer_matches(template, &iss, Some(tid)));
        // Another tenant's issuer with this token's tid, or no tid, or the literal template.
        let other = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000001/v2.0";
        assert!(!issuer_matches(template, other, Some(tid)));
        assert!(!issuer_matches(template, &iss, None));
        assert!(!issuer_matches(template, template, Some("{tenantid}")));
        assert!(!issuer_matches(
            template,
            "https://evil/x/v2.0",
            Some("../../evil")
        ));
        assert!(issuer_matches(
            "https://accounts.google.com",
            "https://accounts.google.com",
            None
        ));
        assert!(!issuer_matches(
            "https://accounts.google.com",
            "https://accounts.google.com/",
            None
        ));
    }

    #[test]
    fn claims_map_with_string_booleans_and_missing_fields() {
        let claims = serde_json::json!({
            "email": "Ann@Example.COM", "email_verified": "True", "given_name": "Ann",
            "amr": ["pwd", "mfa"], "preferred_username": 7
        });
        let u = map_claims("https://i", "s", &claims, &ClaimMapping::default());
        assert_eq!(u.email.as_deref(), Some("ann@example.com"));
        assert!(u.email_verified);
        assert_eq!(u.username.as_deref(), Some("7"));
        assert_eq!(u.family_name, None);
        assert_eq!(upstream_factor(&u.amr), Some("upstream_mfa"));
        let unverified = map_claims(
            "i",
            "s",
            &serde_json::json!({"email": "a@b.c"}),
            &ClaimMapping::default(),
        );
        assert!(!unverified.email_verified);
    }

    #[test]
    fn settings_are_checked_all_at_once() {
        let errors = check_config(ProviderKind::Oidc, &ProviderConfig::default(), false);
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["client_id", "client_secret", "issuer"]);
        let google = ProviderConfig {
            client_id: "x".into(),
            issuer: Some("http://accounts.example.com".into()),
            ..ProviderConfig::default()
        };
        let errors = check_config(ProviderKind::Google, &google, true);
        assert_eq!(errors.len(), 1, "{errors:?}");
        let apple = ProviderConfig {
            client_id: "x".into(),
            ..ProviderConfig::default()
        };
        assert_eq!(check_config(ProviderKind::Apple, &apple, true).len(), 2);
        assert!(check_config(ProviderKind::Github, &apple, true).is_empty());
    }

    #[test]
    fn apples_client_secret_is_an_es256_jwt_its_key_verifies() {
        use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let jwt = apple_client_secret(
            &pem,
            "TEAM",
            "KID",
            "com.example.app",
            now,
            &crate::crypto::OsRng,
        )
        .unwrap();
        let (input, sig) = jwt.rsplit_once('.').unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            pair.public_key().as_ref(),
        )
        .verify(input.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
        .unwrap();
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD
                .decode(input.split('.').nth(1).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(claims["iss"], "TEAM");
        assert_eq!(claims["sub"], "com.example.app");
        assert_eq!(claims["aud"], "https://appleid.apple.com");
        assert!(
            apple_client_secret("nonsense", "T", "K", "c", now, &crate::crypto::OsRng).is_err()
        );
    }
}
