//! Signing in through an upstream identity provider ("Continue with ..."): the request to
//! it (authorization code with PKCE, `state` and `nonce`), the callback (the code exchanged,
//! the ID token checked, GitHub's user read from its API), and what the identity means
//! here: the account linked to its (issuer, subject), a new account (just in time), a link
//! to an existing account (at once when the upstream verified the address, else after the
//! user proves the account), or a link the signed-in user asked for. The organization's
//! policies apply as to any first factor: a second factor where required, unless the
//! provider is trusted to have asked for one.
//!
//! The browser carries the started sign-in, sealed by the pages; nothing is stored until
//! it succeeds, so that any node finishes what another started.

use serde::{Deserialize, Serialize};
use tracing::instrument;

use super::kernel::accounts::RegisterInput;
use super::kernel::identifiers::lookup_key;
use super::kernel::input::Fields;
use super::kernel::second_factors::{Passed, SecondFactor};
use super::kernel::services::Principal;
use super::kernel::sign_in::{SignInPlace, Tokens};
use super::kernel::upstream_meta::{fetch_json, UPSTREAM_TIMEOUT_MS};
use super::Services;
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::{ct_eq, random_token};
use crate::error::AuthError;
use crate::identity::{Address, Email};
use crate::ids::UserId;
use crate::model::{Organization, User};
use crate::notify::OutboundRequest;
use crate::oidc::s256;
use crate::store::LockKey;
use crate::upstream::{
    apple_client_secret, check_id_token, map_claims, preset, redirect_uri, upstream_factor,
    IdTokenCheck, IdentityProvider, LinkedIdentity, ProviderKind, UpstreamError, UpstreamUser,
    REFRESH_PURPOSE, SECRET_PURPOSE,
};

/// How long a started sign-in may take at the provider, seconds.
const START_SECS: i64 = 600;
/// How long a ticket (a first factor passed upstream, awaiting the second; or an identity
/// awaiting proof of an existing account) lasts, seconds.
const TICKET_SECS: i64 = 600;

/// A provider as a sign-in page offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamButton {
    /// Its id.
    pub id: uuid::Uuid,
    /// Its name.
    pub name: String,
    /// Its kind.
    pub kind: ProviderKind,
}

/// A started sign-in: what the callback needs, sealed into the browser by the pages.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamStart {
    /// The provider.
    pub provider_id: uuid::Uuid,
    /// The `state` sent.
    pub state: String,
    /// The `nonce` sent.
    pub nonce: String,
    /// The PKCE verifier.
    pub verifier: String,
    /// When started (Unix seconds).
    pub started_at: i64,
    /// Set when a signed-in user links another identity.
    pub link_user: Option<uuid::Uuid>,
}

/// What came back to the callback.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct UpstreamCallback {
    /// The authorization code.
    pub code: Option<String>,
    /// The `state`.
    pub state: Option<String>,
    /// An error code, when the provider refused.
    pub error: Option<String>,
    /// Its words.
    pub error_description: Option<String>,
    /// The issuer (RFC 9207), when the provider says.
    pub iss: Option<String>,
}

/// A first factor passed upstream, awaiting the second.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UpstreamTicket {
    /// The user.
    pub user_id: uuid::Uuid,
    /// The provider.
    pub provider_id: uuid::Uuid,
    /// When (Unix seconds).
    pub at: i64,
}

/// An upstream identity with the address of an existing account, awaiting proof that the
/// user owns that account (signing in to it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinkTicket {
    /// The provider.
    pub provider_id: uuid::Uuid,
    /// The identity.
    pub user: UpstreamUser,
    /// When (Unix seconds).
    pub at: i64,
    /// The upstream refresh token, sealed, when kept.
    pub refresh_sealed: Option<String>,
}

/// How an upstream sign-in ended.
#[derive(Debug)]
pub enum UpstreamOutcome {
    /// Signed in.
    SignedIn(Box<Tokens>),
    /// The second factor is next (these are the user's).
    SecondStep {
        /// Carry it to the second step.
        ticket: UpstreamTicket,
        /// The factors the user has.
        methods: Vec<String>,
    },
    /// An account has this address; the user proves it to link.
    ProveAccount(LinkTicket),
    /// The signed-in user linked the identity.
    Linked {
        /// The provider's name.
        provider: String,
    },
}

/// A linked identity as its user sees it.
#[derive(Debug, Clone)]
pub struct IdentityView {
    /// The identity.
    pub identity: LinkedIdentity,
    /// The provider's name.
    pub provider_name: String,
    /// The provider's kind.
    pub kind: ProviderKind,
}

/// Where a provider's endpoints are, resolved.
struct Endpoints {
    issuer: Option<String>,
    authorization: String,
    token: String,
    userinfo: Option<String>,
    jwks: Option<String>,
    basic_auth: bool,
}

fn unavailable(why: impl std::fmt::Display) -> UpstreamError {
    UpstreamError::Unavailable(why.to_string())
}

impl Services {
    fn caller(&self) -> Result<&dyn crate::notify::Caller, UpstreamError> {
        self.caller
            .as_deref()
            .ok_or_else(|| unavailable("this server makes no outbound calls"))
    }

    /// The enabled providers of an organization, for its sign-in page.
    pub async fn upstream_buttons(
        &self,
        org_slug: Option<&str>,
    ) -> Result<Vec<UpstreamButton>, AuthError> {
        let org = self.org(org_slug).await?;
        Ok(self
            .store
            .providers(org.id)
            .await?
            .into_iter()
            .filter(|p| p.enabled)
            .map(|p| UpstreamButton {
                id: p.id,
                name: p.name,
                kind: p.kind,
            })
            .collect())
    }

    async fn endpoints(&self, p: &IdentityProvider) -> Result<Endpoints, UpstreamError> {
        let c = &p.config;
        let pre = preset(p.kind, c);
        let issuer = c.issuer.clone().or(pre.issuer);
        let discovery = c.discovery_url.clone().or(pre.discovery_url).or_else(|| {
            issuer.as_ref().map(|i| {
                format!(
                    "{}/.well-known/openid-configuration",
                    i.trim_end_matches('/')
                )
            })
        });
        let given_all = c.authorization_endpoint.is_some()
            && c.token_endpoint.is_some()
            && (!pre.openid || c.jwks_uri.is_some());
        let doc = match (&discovery, pre.openid && !given_all) {
            (Some(url), true) => Some(
                self.upstream_meta
                    .document(self.caller()?, url, self.now())
                    .await
                    .map_err(unavailable)?,
            ),
            _ => None,
        };
        let field = |name: &str| {
            doc.as_ref()
                .and_then(|d| d.get(name))
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        };
        let issuer = match (&issuer, field("issuer")) {
            // The discovery document must be the issuer's own (OpenID Discovery 4.3).
            (Some(want), Some(got)) if *want != got => {
                return Err(unavailable(format!(
                    "the discovery document names issuer {got}, not {want}"
                )))
            }
            (Some(want), _) => Some(want.clone()),
            (None, got) => got,
        };
        if pre.openid && issuer.is_none() {
            return Err(unavailable("the provider's issuer is unknown"));
        }
        let authorization = c
            .authorization_endpoint
            .clone()
            .or_else(|| field("authorization_endpoint"))
            .or(pre.authorization_endpoint)
            .ok_or_else(|| unavailable("the provider has no authorization endpoint"))?;
        let token = c
            .token_endpoint
            .clone()
            .or_else(|| field("token_endpoint"))
            .or(pre.token_endpoint)
            .ok_or_else(|| unavailable("the provider has no token endpoint"))?;
        let methods = doc
            .as_ref()
            .and_then(|d| d.get("token_endpoint_auth_methods_supported"))
            .and_then(|m| m.as_array())
            .map(|m| m.iter().filter_map(|v| v.as_str()).collect::<Vec<_>>());
        // client_secret_basic is the default (RFC 8414); GitHub and Apple take the secret
        // in the form.
        let basic_auth = !matches!(p.kind, ProviderKind::Github | ProviderKind::Apple)
            && methods.is_none_or(|m| m.contains(&"client_secret_basic"));
        Ok(Endpoints {
            issuer: pre.openid.then_some(issuer).flatten(),
            authorization,
            token,
            userinfo: c
                .userinfo_endpoint
                .clone()
                .or_else(|| field("userinfo_endpoint"))
                .or(pre.userinfo_endpoint),
            jwks: c.jwks_uri.clone().or_else(|| field("jwks_uri")),
            basic_auth,
        })
    }

    async fn usable_provider(
        &self,
        id: uuid::Uuid,
        org: Option<&Organization>,
    ) -> Result<IdentityProvider, UpstreamError> {
        let p = self
            .store
            .provider(org.map(|o| o.id), id)
            .await?
            .filter(|p| p.enabled)
            .ok_or(AuthError::NotFound)?;
        Ok(p)
    }

    /// Starts a sign-in through provider `id` of organization `org_slug` (or, with `link`,
    /// links another identity to that signed-in user): the URL to send the browser to, and
    /// what to keep in it for the callback.
    #[instrument(skip_all)]
    pub async fn start_upstream(
        &self,
        id: uuid::Uuid,
        org_slug: &str,
        link: Option<&Principal>,
    ) -> Result<(String, UpstreamStart), UpstreamError> {
        let org = match link {
            Some(who) => self
                .store
                .org_by_id(who.user.org_id)
                .await?
                .ok_or(AuthError::NotFound)?,
            None => self.org(Some(org_slug)).await?,
        };
        let p = self.usable_provider(id, Some(&org)).await?;
        let ends = self.endpoints(&p).await?;
        let start = UpstreamStart {
            provider_id: p.id,
            state: random_token(self.rng.as_ref()),
            nonce: random_token(self.rng.as_ref()),
            verifier: random_token(self.rng.as_ref()),
            started_at: self.now().timestamp(),
            link_user: link.map(|w| w.user.id.0),
        };
        let pre = preset(p.kind, &p.config);
        let scopes = if p.config.scopes.is_empty() {
            pre.scopes
        } else {
            p.config.scopes.clone()
        };
        let mut query = vec![
            ("response_type", "code".to_owned()),
            ("client_id", p.config.client_id.clone()),
            ("redirect_uri", redirect_uri(&self.config.issuer, p.id)),
            ("scope", scopes.join(" ")),
            ("state", start.state.clone()),
            ("code_challenge", s256(&start.verifier)),
            ("code_challenge_method", "S256".to_owned()),
        ];
        if pre.openid {
            query.push(("nonce", start.nonce.clone()));
        }
        // Apple answers by a form post whenever it is asked for the name or email.
        if p.kind == ProviderKind::Apple && scopes.iter().any(|s| s == "name" || s == "email") {
            query.push(("response_mode", "form_post".to_owned()));
        }
        let mut url = url::Url::parse(&ends.authorization).map_err(unavailable)?;
        url.query_pairs_mut().extend_pairs(query);
        Ok((url.into(), start))
    }

    fn client_secret(&self, p: &IdentityProvider) -> Result<String, UpstreamError> {
        let sealed = p
            .secret_sealed
            .as_deref()
            .ok_or_else(|| unavailable("the provider has no client secret"))?;
        let plain = self
            .open(SECRET_PURPOSE, sealed)
            .ok_or_else(|| AuthError::Internal("unreadable upstream client secret".into()))?;
        let secret = String::from_utf8_lossy(&plain).into_owned();
        if p.kind == ProviderKind::Apple {
            return apple_client_secret(
                &secret,
                p.config.team_id.as_deref().unwrap_or_default(),
                p.config.key_id.as_deref().unwrap_or_default(),
                &p.config.client_id,
                self.now(),
                self.rng.as_ref(),
            )
            .map_err(|e| UpstreamError::Auth(AuthError::Internal(format!("apple: {e}"))));
        }
        Ok(secret)
    }

    /// Exchanges the code at the token endpoint: the token response.
    async fn exchange(
        &self,
        p: &IdentityProvider,
        ends: &Endpoints,
        code: &str,
        verifier: &str,
    ) -> Result<serde_json::Value, UpstreamError> {
        let secret = self.client_secret(p)?;
        let redirect = redirect_uri(&self.config.issuer, p.id);
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect.as_str()),
            ("code_verifier", verifier),
        ];
        let mut headers = vec![("accept".to_owned(), "application/json".to_owned())];
        if ends.basic_auth {
            use base64::Engine as _;
            // RFC 6749 2.3.1: each part form-encoded first.
            let enc =
                |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", enc(&p.config.client_id), enc(&secret));
            headers.push((
                "authorization".to_owned(),
                format!(
                    "Basic {}",
                    base64::engine::general_purpose::STANDARD.encode(pair)
                ),
            ));
        } else {
            form.push(("client_id", p.config.client_id.as_str()));
            form.push(("client_secret", secret.as_str()));
        }
        let body = serde_urlencoded::to_string(&form).map_err(unavailable)?;
        let reply = self
            .caller()?
            .post(&OutboundRequest {
                url: ends.token.clone(),
                content_type: "application/x-www-form-urlencoded".into(),
                body,
                headers,
                timeout_ms: Some(UPSTREAM_TIMEOUT_MS),
            })
            .await
            .map_err(|e| match e.status {
                Some(status @ 400..=499) => UpstreamError::Refused {
                    error: "invalid_grant".into(),
                    description: Some(format!("the token endpoint answered {status}")),
                },
                _ => unavailable(e.reason),
            })?;
        let answer: serde_json::Value = serde_json::from_str(&reply.body)
            .map_err(|_| unavailable("the token endpoint did not answer JSON"))?;
        // GitHub answers errors with 200.
        if let Some(error) = answer.get("error").and_then(|e| e.as_str()) {
            return Err(UpstreamError::Refused {
                error: error.to_owned(),
                description: answer
                    .get("error_description")
                    .and_then(|d| d.as_str())
                    .map(str::to_owned),
            });
        }
        Ok(answer)
    }

    /// The user an OpenID provider's token response names, its ID token checked.
    async fn openid_user(
        &self,
        p: &IdentityProvider,
        ends: &Endpoints,
        answer: &serde_json::Value,
        nonce: &str,
    ) -> Result<UpstreamUser, UpstreamError> {
        let id_token = answer
            .get("id_token")
            .and_then(|t| t.as_str())
            .ok_or(UpstreamError::Token("there is none"))?;
        let jwks = ends
            .jwks
            .as_deref()
            .ok_or_else(|| unavailable("the provider publishes no keys"))?;
        let issuer = ends.issuer.as_deref().unwrap_or_default();
        let check = IdTokenCheck {
            issuer,
            client_id: &p.config.client_id,
            nonce,
            now: self.now(),
        };
        let caller = self.caller()?;
        let keys = self
            .upstream_meta
            .keys(caller, jwks, self.now(), false)
            .await
            .map_err(unavailable)?;
        let mut claims = match check_id_token(id_token, &keys, &check) {
            Ok(c) => c,
            Err(Some(why)) => return Err(UpstreamError::Token(why)),
            // A key we have not seen: the provider may have rotated; fetch once more.
            Err(None) => {
                let keys = self
                    .upstream_meta
                    .keys(caller, jwks, self.now(), true)
                    .await
                    .map_err(unavailable)?;
                check_id_token(id_token, &keys, &check).map_err(|e| {
                    UpstreamError::Token(
                        e.unwrap_or("it is signed by a key the provider does not publish"),
                    )
                })?
            }
        };
        let sub = claims
            .get("sub")
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_owned();
        let iss = claims
            .get("iss")
            .and_then(|s| s.as_str())
            .unwrap_or_default()
            .to_owned();
        // Claims the ID token leaves to userinfo (as many providers do for scope claims).
        if claims.get(&p.config.claims.email).is_none() {
            if let (Some(url), Some(token)) = (
                ends.userinfo.as_deref(),
                answer.get("access_token").and_then(|t| t.as_str()),
            ) {
                if let Ok(info) = fetch_json(caller, url, Some(token)).await {
                    // Only about the same subject (OpenID Connect Core 5.3.2).
                    if info.get("sub").and_then(|s| s.as_str()) == Some(sub.as_str()) {
                        if let (Some(c), Some(i)) = (claims.as_object_mut(), info.as_object()) {
                            for (k, v) in i {
                                c.entry(k.clone()).or_insert_with(|| v.clone());
                            }
                        }
                    }
                }
            }
        }
        Ok(map_claims(&iss, &sub, &claims, &p.config.claims))
    }

    /// GitHub's user, from its API: the numeric id is the subject; the address is the
    /// primary one, verified or not as GitHub says.
    async fn github_user(
        &self,
        ends: &Endpoints,
        answer: &serde_json::Value,
    ) -> Result<UpstreamUser, UpstreamError> {
        let token = answer
            .get("access_token")
            .and_then(|t| t.as_str())
            .ok_or_else(|| unavailable("GitHub gave no access token"))?;
        let api = ends
            .userinfo
            .as_deref()
            .unwrap_or("https://api.github.com")
            .trim_end_matches('/');
        let caller = self.caller()?;
        let user = fetch_json(caller, &format!("{api}/user"), Some(token))
            .await
            .map_err(unavailable)?;
        let id = user
            .get("id")
            .and_then(serde_json::Value::as_i64)
            .ok_or_else(|| unavailable("GitHub's user has no id"))?;
        let emails = fetch_json(caller, &format!("{api}/user/emails"), Some(token))
            .await
            .unwrap_or_default();
        let primary = emails
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e.get("primary").and_then(serde_json::Value::as_bool) == Some(true));
        let name = user.get("name").and_then(|n| n.as_str()).unwrap_or("");
        let (given, family) = name.split_once(' ').unwrap_or((name, ""));
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        Ok(UpstreamUser {
            issuer: api.to_owned(),
            subject: id.to_string(),
            email: primary
                .and_then(|e| e.get("email"))
                .and_then(|e| e.as_str())
                .map(str::to_lowercase),
            email_verified: primary
                .and_then(|e| e.get("verified"))
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false),
            phone: None,
            given_name: text(given),
            family_name: text(family),
            username: user
                .get("login")
                .and_then(|l| l.as_str())
                .map(str::to_owned),
            amr: Vec::new(),
        })
    }

    /// Finishes a sign-in started by [`Services::start_upstream`]: checks that the callback
    /// is this browser's, exchanges the code, checks the ID token, and signs in, links or
    /// creates as the provider allows.
    /// A failure is audited (`login.failed`, with the provider and why in words that
    /// name no one).
    #[instrument(skip_all)]
    pub async fn finish_upstream(
        &self,
        start: &UpstreamStart,
        callback: UpstreamCallback,
        proof: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<UpstreamOutcome, UpstreamError> {
        let result = self.try_upstream(start, callback, proof, client).await;
        if let Err(e) = &result {
            let why = match e {
                UpstreamError::State => "state",
                UpstreamError::Refused { .. } => "refused_upstream",
                UpstreamError::Unavailable(_) => "upstream_unavailable",
                UpstreamError::Token(_) => "id_token_invalid",
                UpstreamError::SignUpClosed => "sign_up_closed",
                UpstreamError::LinkRefused => "linking_off",
                UpstreamError::NoEmail => "no_email",
                UpstreamError::LinkedElsewhere => "linked_elsewhere",
                UpstreamError::Auth(AuthError::Store(_) | AuthError::Internal(_)) => "",
                UpstreamError::Auth(AuthError::MfaRequired { .. }) => "",
                UpstreamError::Auth(_) => "refused",
            };
            if let (false, Ok(Some(p))) = (
                why.is_empty(),
                self.store.provider(None, start.provider_id).await,
            ) {
                let detail = match e {
                    UpstreamError::Token(check) => (*check).to_owned(),
                    _ => String::new(),
                };
                metrics::counter!("portcullis_logins_total", "result" => "failed").increment(1);
                self.audit(
                    self.event(AuditKind::LoginFailed, p.org_id, client)
                        .detail("method", "upstream")
                        .detail("provider_id", p.id.to_string())
                        .detail("reason", why)
                        .detail("check", detail),
                )
                .await;
            }
        }
        result
    }

    async fn try_upstream(
        &self,
        start: &UpstreamStart,
        callback: UpstreamCallback,
        proof: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<UpstreamOutcome, UpstreamError> {
        let now = self.now();
        let state_ok = callback
            .state
            .as_deref()
            .is_some_and(|s| ct_eq(s.as_bytes(), start.state.as_bytes()));
        if !state_ok || now.timestamp() - start.started_at > START_SECS {
            return Err(UpstreamError::State);
        }
        if let Some(error) = callback.error {
            return Err(UpstreamError::Refused {
                error: error.chars().take(100).collect(),
                description: callback
                    .error_description
                    .map(|d| d.chars().take(300).collect()),
            });
        }
        let p = self.usable_provider(start.provider_id, None).await?;
        let ends = self.endpoints(&p).await?;
        // RFC 9207: a provider that names itself must be the one we asked.
        if let (Some(iss), Some(want)) = (callback.iss.as_deref(), ends.issuer.as_deref()) {
            if !want.contains("{tenantid}") && iss != want {
                return Err(UpstreamError::Token(
                    "the callback's issuer is not the provider's",
                ));
            }
        }
        let code = callback
            .code
            .filter(|c| !c.is_empty() && c.len() <= 2048)
            .ok_or(UpstreamError::Refused {
                error: "invalid_request".into(),
                description: Some("the provider sent no code".into()),
            })?;
        let answer = self.exchange(&p, &ends, &code, &start.verifier).await?;
        let user = if ends.issuer.is_some() {
            self.openid_user(&p, &ends, &answer, &start.nonce).await?
        } else {
            self.github_user(&ends, &answer).await?
        };
        let refresh_sealed = p
            .config
            .keep_refresh_token
            .then(|| answer.get("refresh_token").and_then(|t| t.as_str()))
            .flatten()
            .map(|t| self.seal(REFRESH_PURPOSE, t.as_bytes()));
        let org = self
            .store
            .org_by_id(p.org_id)
            .await?
            .ok_or(AuthError::NotFound)?;
        let known = self
            .store
            .identity_by_subject(p.id, &user.issuer, &user.subject)
            .await?;
        if let Some(user_id) = start.link_user {
            return self
                .link_asked(
                    &p,
                    &org,
                    UserId(user_id),
                    known,
                    &user,
                    refresh_sealed,
                    client,
                )
                .await;
        }
        // Two first sign-ins of one identity at once (two tabs, two nodes): the loser of the
        // race finds the winner's link on its second look.
        let mut known = known;
        let mut tries = 0;
        let account = loop {
            tries += 1;
            match self
                .resolve_identity(
                    &p,
                    &org,
                    known.take(),
                    &user,
                    refresh_sealed.clone(),
                    client,
                )
                .await
            {
                Ok(Some(account)) => break account,
                Ok(None) => {
                    return Ok(UpstreamOutcome::ProveAccount(LinkTicket {
                        provider_id: p.id,
                        user,
                        at: now.timestamp(),
                        refresh_sealed,
                    }))
                }
                Err(
                    UpstreamError::LinkedElsewhere | UpstreamError::Auth(AuthError::Duplicate(_)),
                ) if tries == 1 => {
                    known = self
                        .store
                        .identity_by_subject(p.id, &user.issuer, &user.subject)
                        .await?;
                }
                Err(e) => return Err(e),
            }
        };
        self.sign_in_upstream(&org, &p, account, &user.amr, proof, client)
            .await
    }

    /// The account an upstream identity signs in to (`None`: the user must prove the
    /// account with its address first): its linked one; else the account with
    /// its address (linked at once when the upstream verified the address); else a new one.
    /// An address the upstream did not verify is never taken on its word: the user proves
    /// the account first. Where the organization conceals which addresses have accounts,
    /// such an address gets that same answer whether or not an account has it.
    async fn resolve_identity(
        &self,
        p: &IdentityProvider,
        org: &Organization,
        known: Option<LinkedIdentity>,
        user: &UpstreamUser,
        refresh_sealed: Option<String>,
        client: &ClientInfo,
    ) -> Result<Option<User>, UpstreamError> {
        if let Some(identity) = known {
            self.store
                .touch_identity(
                    identity.id,
                    self.now(),
                    user.email.as_deref(),
                    refresh_sealed.as_deref(),
                )
                .await?;
            let account = self
                .store
                .user_by_id(identity.user_id)
                .await?
                .ok_or(AuthError::InvalidCredentials)?;
            return Ok(Some(account));
        }
        if !user.email_verified && user.email.is_some() && org.policy.conceal_existing_accounts {
            return Ok(None);
        }
        let existing = match user.email.as_deref().map(|e| Email::parse(e, "email")) {
            Some(Ok(email)) => self
                .store
                .credentials(org.id, &lookup_key(&Address::Email(email)))
                .await?
                .map(|c| c.user),
            _ => None,
        };
        match existing {
            Some(_) if !p.config.allow_linking => Err(UpstreamError::LinkRefused),
            Some(_) if !user.email_verified => Ok(None),
            Some(existing) => {
                self.link(p, &existing, user, refresh_sealed, "verified_email", client)
                    .await?;
                Ok(Some(existing))
            }
            None if !p.config.allow_signup => Err(UpstreamError::SignUpClosed),
            None => Ok(Some(
                self.sign_up_upstream(p, org, user, refresh_sealed, client)
                    .await?,
            )),
        }
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "one call site, each part distinct"
    )]
    async fn link_asked(
        &self,
        p: &IdentityProvider,
        org: &Organization,
        user_id: UserId,
        known: Option<LinkedIdentity>,
        user: &UpstreamUser,
        refresh_sealed: Option<String>,
        client: &ClientInfo,
    ) -> Result<UpstreamOutcome, UpstreamError> {
        let me = self
            .store
            .user_by_id(user_id)
            .await?
            .filter(|u| u.org_id == org.id && u.active)
            .ok_or(AuthError::Unauthorized)?;
        match known {
            Some(i) if i.user_id == me.id => {}
            Some(_) => return Err(UpstreamError::LinkedElsewhere),
            None => {
                self.link(p, &me, user, refresh_sealed, "account_page", client)
                    .await?;
            }
        }
        Ok(UpstreamOutcome::Linked {
            provider: p.name.clone(),
        })
    }

    async fn link(
        &self,
        p: &IdentityProvider,
        to: &User,
        user: &UpstreamUser,
        refresh_sealed: Option<String>,
        how: &str,
        client: &ClientInfo,
    ) -> Result<(), UpstreamError> {
        let now = self.now();
        let identity = LinkedIdentity {
            id: uuid::Uuid::now_v7(),
            user_id: to.id,
            provider_id: p.id,
            issuer: user.issuer.clone(),
            subject: user.subject.clone(),
            email: user.email.clone(),
            refresh_token_sealed: refresh_sealed,
            created_at: super::kernel::services::stored_time(now),
            last_used_at: Some(super::kernel::services::stored_time(now)),
        };
        let event = self
            .event(AuditKind::IdentityLinked, to.org_id, client)
            .user(to.id)
            .actor(to.id)
            .detail("provider_id", p.id.to_string())
            .detail("how", how);
        match self
            .changed(event, self.store.link_identity(&identity), |_| true)
            .await
        {
            Ok(()) => {}
            // Linked a moment ago by a sign-in racing this one: fine if to the same user.
            Err(crate::store::StoreError::Conflict { .. }) => {
                let now_linked = self
                    .store
                    .identity_by_subject(p.id, &user.issuer, &user.subject)
                    .await?;
                if now_linked.is_none_or(|i| i.user_id != to.id) {
                    return Err(UpstreamError::LinkedElsewhere);
                }
            }
            Err(e) => return Err(e.into()),
        }
        self.sessions.forget_user(to.id);
        Ok(())
    }

    async fn sign_up_upstream(
        &self,
        p: &IdentityProvider,
        org: &Organization,
        user: &UpstreamUser,
        refresh_sealed: Option<String>,
        client: &ClientInfo,
    ) -> Result<User, UpstreamError> {
        let Some(email) = user.email.clone() else {
            return Err(UpstreamError::NoEmail);
        };
        let input = RegisterInput {
            email: Some(email),
            first_name: user.given_name.clone(),
            last_name: user.family_name.clone(),
            organization: Some(org.slug.clone()),
            client: client.clone(),
            ..RegisterInput::default()
        };
        let mut f = Fields::default();
        let mut account = self.parse_new_account(&mut f, &input, false, false);
        // A name the upstream spells in a way we do not take is left out, not fatal.
        if f.has("first_name") {
            f.forget("first_name");
            account.profile.first_name = None;
        }
        if f.has("last_name") {
            f.forget("last_name");
            account.profile.last_name = None;
        }
        f.finish()?;
        account.profile.email_verified = user.email_verified;
        let provider = p.id.to_string();
        let created = self
            .create_account(
                org,
                account,
                Vec::new(),
                "upstream",
                |id| {
                    self.event(AuditKind::UserRegistered, org.id, client)
                        .user(id)
                        .actor(id)
                        .detail("method", "upstream")
                        .detail("provider_id", provider.clone())
                },
                None,
            )
            .await?;
        self.link(p, &created, user, refresh_sealed, "sign_up", client)
            .await?;
        Ok(created)
    }

    /// The organization's rules for a first factor passed upstream: a registered device
    /// where required, then the second factor (which a trusted provider's `amr` may prove).
    async fn sign_in_upstream(
        &self,
        org: &Organization,
        p: &IdentityProvider,
        user: User,
        upstream_amr: &[String],
        proof: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<UpstreamOutcome, UpstreamError> {
        if !user.active {
            return Err(AuthError::Inactive.into());
        }
        if org.policy.require_device_token {
            return Err(AuthError::Forbidden(
                "this organization requires signing in from a registered device",
            )
            .into());
        }
        let trusted = p
            .config
            .trust_mfa
            .then(|| upstream_factor(upstream_amr))
            .flatten()
            .filter(|f| !org.policy.phishing_resistant_required || *f == "upstream_phr");
        let passed = match trusted {
            Some(how) => Passed::By(how),
            None => match self.second_factor(&user, &org.policy, proof, client).await {
                Ok(passed) => passed,
                Err(AuthError::MfaRequired { methods }) => {
                    return Ok(UpstreamOutcome::SecondStep {
                        ticket: UpstreamTicket {
                            user_id: user.id.0,
                            provider_id: p.id,
                            at: self.now().timestamp(),
                        },
                        methods,
                    })
                }
                Err(e) => return Err(e.into()),
            },
        };
        let place = SignInPlace { org, device: None };
        let tokens = self
            .finish_sign_in(place, user, vec!["fed".to_owned()], passed, proof, client)
            .await?;
        Ok(UpstreamOutcome::SignedIn(Box::new(tokens)))
    }

    /// The second step of an upstream sign-in.
    #[instrument(skip_all)]
    pub async fn upstream_second_step(
        &self,
        ticket: &UpstreamTicket,
        proof: &SecondFactor,
        client: &ClientInfo,
    ) -> Result<Tokens, AuthError> {
        if self.now().timestamp() - ticket.at > TICKET_SECS {
            return Err(AuthError::Unauthorized);
        }
        let user = self
            .store
            .user_by_id(UserId(ticket.user_id))
            .await?
            .ok_or(AuthError::Unauthorized)?;
        let org = self
            .store
            .org_by_id(user.org_id)
            .await?
            .ok_or(AuthError::Unauthorized)?;
        let p = self
            .usable_provider(ticket.provider_id, Some(&org))
            .await
            .map_err(|_| AuthError::Unauthorized)?;
        // Wrong codes count towards the account's lock, as after a password.
        let lock = LockKey::user(user.id);
        self.check_lock(&lock).await?;
        let user_id = user.id;
        match self
            .sign_in_upstream(&org, &p, user, &[], proof, client)
            .await
        {
            Ok(UpstreamOutcome::SignedIn(tokens)) => Ok(*tokens),
            Ok(UpstreamOutcome::SecondStep { methods, .. }) => {
                Err(AuthError::MfaRequired { methods })
            }
            Ok(_) => Err(AuthError::Internal("unexpected upstream outcome".into())),
            Err(UpstreamError::Auth(AuthError::InvalidCredentials)) => {
                let event = self
                    .event(AuditKind::LoginFailed, org.id, client)
                    .user(user_id)
                    .detail("method", "upstream")
                    .detail("reason", "wrong_second_factor");
                self.audit(event).await;
                self.count_failure(&lock, &org.policy, org.id, Some(user_id), client)
                    .await?;
                Err(AuthError::InvalidCredentials)
            }
            Err(UpstreamError::Auth(e)) => Err(e),
            Err(e) => Err(AuthError::Internal(e.to_string())),
        }
    }

    /// Links the identity of `ticket` to `who`, who just proved their account by signing
    /// in to it.
    #[instrument(skip_all)]
    pub async fn link_proven(
        &self,
        ticket: &LinkTicket,
        who: &User,
        client: &ClientInfo,
    ) -> Result<String, UpstreamError> {
        if self.now().timestamp() - ticket.at > TICKET_SECS {
            return Err(UpstreamError::State);
        }
        let org = self
            .store
            .org_by_id(who.org_id)
            .await?
            .ok_or(AuthError::NotFound)?;
        let p = self.usable_provider(ticket.provider_id, Some(&org)).await?;
        if !p.config.allow_linking {
            return Err(UpstreamError::LinkRefused);
        }
        if let Some(known) = self
            .store
            .identity_by_subject(p.id, &ticket.user.issuer, &ticket.user.subject)
            .await?
        {
            return if known.user_id == who.id {
                Ok(p.name)
            } else {
                Err(UpstreamError::LinkedElsewhere)
            };
        }
        self.link(
            &p,
            who,
            &ticket.user,
            ticket.refresh_sealed.clone(),
            "proven",
            client,
        )
        .await?;
        Ok(p.name)
    }

    /// The signed-in user's linked identities.
    pub async fn my_identities(&self, who: &Principal) -> Result<Vec<IdentityView>, AuthError> {
        let providers = self.store.providers(who.user.org_id).await?;
        Ok(self
            .store
            .identities(who.user.id)
            .await?
            .into_iter()
            .filter_map(|identity| {
                let p = providers.iter().find(|p| p.id == identity.provider_id)?;
                Some(IdentityView {
                    provider_name: p.name.clone(),
                    kind: p.kind,
                    identity,
                })
            })
            .collect())
    }

    /// Unlinks one of the signed-in user's identities; refused when it is the last way to
    /// sign in (no password, passkey, other identity, or verified address for a code).
    #[instrument(skip_all)]
    pub async fn unlink_identity(
        &self,
        who: &Principal,
        id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let mine = self.store.identities(who.user.id).await?;
        let Some(identity) = mine.iter().find(|i| i.id == id) else {
            return Err(AuthError::NotFound);
        };
        let others = mine.len() > 1;
        let password = self.store.password_hash(who.user.id).await?.is_some();
        let passkey = self.store.second_factors(who.user.id).await?.passkey;
        let address = who.user.email_verified || who.user.phone_verified;
        if !(others || password || passkey || address) {
            return Err(AuthError::Forbidden(
                "this is your only way to sign in; set a password or add a passkey first",
            ));
        }
        let event = self
            .event(AuditKind::IdentityUnlinked, who.user.org_id, client)
            .user(who.user.id)
            .actor(who.user.id)
            .detail("provider_id", identity.provider_id.to_string());
        if !self
            .changed(event, self.store.unlink_identity(who.user.id, id), |done| {
                *done
            })
            .await?
        {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }

    /// The upstream refresh token kept for one of the signed-in user's identities, for the
    /// user's own applications to call the upstream's API.
    pub async fn identity_refresh_token(
        &self,
        who: &Principal,
        id: uuid::Uuid,
    ) -> Result<String, AuthError> {
        let identity = self
            .store
            .identities(who.user.id)
            .await?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or(AuthError::NotFound)?;
        let sealed = identity.refresh_token_sealed.ok_or(AuthError::NotFound)?;
        let plain = self
            .open(REFRESH_PURPOSE, &sealed)
            .ok_or_else(|| AuthError::Internal("unreadable upstream refresh token".into()))?;
        Ok(String::from_utf8_lossy(&plain).into_owned())
    }
}
