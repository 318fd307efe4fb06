//! The OpenID provider's use cases: an authorization request checked, continued through the
//! hosted sign-in and consent, and answered with a code; the token endpoint's grants
//! (authorization code with PKCE, refresh token, client credentials); userinfo,
//! introspection (RFC 7662) and revocation (RFC 7009); the authorizations a user gave.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use tracing::instrument;

use super::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::{ct_eq, hash_token, random_token};
use crate::error::AuthError;
use crate::ids::SessionId;
use crate::model::{Grant, Session, User};
use crate::oauth::{AuthMethod, ClientType, GrantType, OAuthClient, SigningAlg};
use crate::oidc::{
    acr, at_hash, granted_scopes, parse_max_age, parse_prompt, pkce_shaped, s256, AuthRequest,
    AuthorizeParams, ClientAccessClaims, LogoutRequest, OidcError, Prompt, CODE_SECS,
};
use crate::store::{AuthCode, Consent, Redeemed, RotateOutcome};

/// Why an authorization request was refused.
#[derive(Debug)]
pub enum AuthorizeRefusal {
    /// Shown to the user and never redirected: the client or its redirect URI is unknown.
    Page(String),
    /// Sent back to the client's redirect URI (a URL with `error`, `error_description`,
    /// `state` and `iss`).
    Redirect(String),
    /// The server failed.
    Failed(AuthError),
}

/// What an authorization needs next from the browser.
#[derive(Debug)]
pub enum AuthorizeNext {
    /// The user must sign in (in the client's organization).
    SignIn,
    /// The user must consent to these scopes.
    Consent,
    /// Done: go back to the client (with a code, or an error).
    Redirect(String),
}

/// How a client authenticates at the token, introspection and revocation endpoints.
#[derive(Debug, Default)]
pub struct ClientCredentials {
    /// From `Authorization: Basic` (already form-decoded, RFC 6749 section 2.3.1).
    pub basic: Option<(String, String)>,
    /// The form's `client_id`.
    pub client_id: Option<String>,
    /// The form's `client_secret`.
    pub client_secret: Option<String>,
}

/// A token request's parameters (RFC 6749 sections 4.1.3, 4.4.2, 6).
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
#[allow(missing_docs)] // the names are the protocol's
pub struct TokenForm {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// A successful token response (RFC 6749 section 5.1).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenAnswer {
    /// An RFC 9068 JWT.
    pub access_token: String,
    /// `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
    /// The scopes granted.
    pub scope: String,
    /// When `openid` was granted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// When the client may refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
}

/// An application a user authorized.
#[derive(Debug, Clone)]
pub struct Authorization {
    /// The client.
    pub client_id: uuid::Uuid,
    /// Its name.
    pub client_name: String,
    /// The scopes the user let it have.
    pub scope: String,
    /// When.
    pub granted_at: DateTime<Utc>,
}

/// How long a logout token may be accepted (the specification recommends two minutes).
const LOGOUT_TOKEN_SECS: i64 = 120;
/// The event a logout token carries.
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// `url` with `params` added to its query.
fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let query = serde_urlencoded::to_string(params).unwrap_or_default();
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{query}")
}

impl Services {
    /// The issuer, without a trailing slash.
    fn oidc_issuer(&self) -> String {
        self.config.issuer.trim_end_matches('/').to_owned()
    }

    /// An error answer for a redirect URI (RFC 6749 section 4.1.2.1, RFC 9207).
    fn error_redirect(&self, redirect_uri: &str, state: Option<&str>, e: &OidcError) -> String {
        let description = e.to_string();
        let issuer = self.oidc_issuer();
        let mut params = vec![("error", e.code()), ("error_description", &description)];
        if let Some(s) = state {
            params.push(("state", s));
        }
        params.push(("iss", &issuer));
        with_query(redirect_uri, &params)
    }

    /// A client by its `client_id` as sent.
    async fn client_by_text(
        &self,
        id: &str,
    ) -> Result<Option<(OAuthClient, Option<String>)>, AuthError> {
        let Ok(id) = id.trim().parse::<uuid::Uuid>() else {
            return Ok(None);
        };
        self.client_by_id(id).await
    }

    /// A client and its secret's hash, from this node's cache when it was read lately (every
    /// change to a client forgets it here, and on other nodes through the change feed).
    async fn client_by_id(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<(OAuthClient, Option<String>)>, AuthError> {
        let now = self.now();
        if let Some(hit) = self.sessions.client(id, now) {
            return Ok(Some(hit));
        }
        let generation = self.sessions.generation();
        let found = self.store.oauth_client_by_id(id).await?;
        if let Some((client, hash)) = &found {
            self.sessions
                .put_client(client.clone(), hash.clone(), generation, now);
        }
        Ok(found)
    }

    /// `GET`/`POST /oauth2/authorize`: checks the request. An unknown client or redirect URI
    /// is answered with a page, every other fault with a redirect to the client.
    #[instrument(skip_all)]
    pub async fn start_authorization(
        &self,
        pairs: &[(String, String)],
    ) -> Result<AuthRequest, AuthorizeRefusal> {
        let (p, repeated) = AuthorizeParams::from_pairs(pairs);
        let Some(client_id) = p.client_id.as_deref().filter(|s| !s.is_empty()) else {
            return Err(AuthorizeRefusal::Page(
                "The application sent no client_id.".into(),
            ));
        };
        let client = match self.client_by_text(client_id).await {
            Ok(Some((client, _))) => client,
            Ok(None) => {
                return Err(AuthorizeRefusal::Page(
                    "The application is not registered here (unknown client_id).".into(),
                ))
            }
            Err(e) => return Err(AuthorizeRefusal::Failed(e)),
        };
        let Some(redirect_uri) = p
            .redirect_uri
            .as_deref()
            .filter(|r| client.redirect_uris.iter().any(|u| u == r))
        else {
            return Err(AuthorizeRefusal::Page(
                "The application asked to send you to an address it has not registered \
                 (redirect_uri)."
                    .into(),
            ));
        };
        let state = p.state.as_deref();
        let refuse =
            |e: OidcError| AuthorizeRefusal::Redirect(self.error_redirect(redirect_uri, state, &e));
        let org = match self.store.org_by_id(client.org_id).await {
            Ok(Some(org)) => org,
            Ok(None) => return Err(AuthorizeRefusal::Failed(AuthError::NotFound)),
            Err(e) => return Err(AuthorizeRefusal::Failed(e.into())),
        };
        self.check_authorization(&p, repeated.as_deref(), &client)
            .await
            .map_err(refuse)?;
        let prompt = parse_prompt(p.prompt.as_deref()).map_err(refuse)?;
        let max_age = parse_max_age(p.max_age.as_deref()).map_err(refuse)?;
        let hint_sub = match p.id_token_hint.as_deref().filter(|h| !h.is_empty()) {
            Some(hint) => Some(self.id_token_hint(hint, &client).map_err(refuse)?),
            None => None,
        };
        Ok(AuthRequest {
            client_id: client.id,
            org: org.slug,
            client_name: client.name.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope: granted_scopes(p.scope.as_deref(), &client.scopes),
            state: p.state.clone(),
            nonce: p.nonce.clone().filter(|n| !n.is_empty()),
            code_challenge: p.code_challenge.clone().filter(|c| !c.is_empty()),
            prompt,
            max_age,
            login_hint: p.login_hint.clone().filter(|h| !h.is_empty()),
            hint_sub,
            started_at: self.now().timestamp(),
        })
    }

    /// The checks of an authorization request once its redirect URI is trusted.
    async fn check_authorization(
        &self,
        p: &AuthorizeParams,
        repeated: Option<&str>,
        client: &OAuthClient,
    ) -> Result<(), OidcError> {
        if p.request.is_some() {
            return Err(OidcError::RequestNotSupported);
        }
        if p.request_uri.is_some() {
            return Err(OidcError::RequestUriNotSupported);
        }
        if let Some(name) = repeated {
            return Err(OidcError::request(format!(
                "{name} was sent more than once"
            )));
        }
        match p.response_type.as_deref() {
            None | Some("") => return Err(OidcError::request("response_type is required")),
            Some("code") => {}
            Some(_) => return Err(OidcError::UnsupportedResponseType),
        }
        if !client.grant_types.contains(&GrantType::AuthorizationCode) {
            return Err(OidcError::UnauthorizedClient(
                "this client may not use the authorization code flow".into(),
            ));
        }
        if p.response_mode.as_deref().is_some_and(|m| m != "query") {
            return Err(OidcError::request("only response_mode=query is supported"));
        }
        match (
            p.code_challenge.as_deref(),
            p.code_challenge_method.as_deref(),
        ) {
            (Some(c), m) if !c.is_empty() => {
                if m.unwrap_or("plain") != "S256" {
                    return Err(OidcError::request("code_challenge_method must be S256"));
                }
                if c.len() != 43 || !pkce_shaped(c) {
                    return Err(OidcError::request(
                        "code_challenge must be the base64url SHA-256 of the verifier",
                    ));
                }
            }
            _ if client.client_type == ClientType::Public => {
                return Err(OidcError::request(
                    "a public client must send a PKCE code_challenge (S256)",
                ));
            }
            _ => {}
        }
        if p.nonce.as_deref().is_some_and(|n| n.len() > 512)
            || p.state.as_deref().is_some_and(|s| s.len() > 2048)
        {
            return Err(OidcError::request("nonce or state is too long"));
        }
        Ok(())
    }

    /// The claims of an ID token this server signed, expired or not.
    fn verified_id_token(&self, token: &str) -> Option<Map<String, Value>> {
        let ring = self.key_ring();
        let claims: Map<String, Value> = SigningAlg::ALL
            .iter()
            .find_map(|&alg| ring.verify_jwt(token, alg, "JWT").ok())?;
        // A first-party access token is a JWT too; it names an organization.
        (!claims.contains_key("org")).then_some(claims)
    }

    /// The subject of an `id_token_hint`: an ID token this server signed for `client`,
    /// expired or not.
    fn id_token_hint(&self, hint: &str, client: &OAuthClient) -> Result<String, OidcError> {
        let bad = || OidcError::request("id_token_hint is not an ID token issued here");
        let claims = self.verified_id_token(hint).ok_or_else(bad)?;
        if audience(&claims) != Some(client.id) {
            return Err(bad());
        }
        claims["sub"].as_str().map(str::to_owned).ok_or_else(bad)
    }

    /// `GET`/`POST /oauth2/logout`: checks an RP-initiated logout. A bad hint, an unknown
    /// client or an unregistered `post_logout_redirect_uri` is refused (with a page, never a
    /// redirect).
    #[instrument(skip_all)]
    pub async fn start_logout(
        &self,
        pairs: &[(String, String)],
    ) -> Result<LogoutRequest, OidcError> {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, v)| n == name && !v.is_empty())
                .map(|(_, v)| v.as_str())
        };
        let hint = match get("id_token_hint") {
            Some(h) => Some(self.verified_id_token(h).ok_or_else(|| {
                OidcError::request("id_token_hint is not an ID token issued here")
            })?),
            None => None,
        };
        let hinted = hint.as_ref().and_then(audience);
        let named = match get("client_id") {
            Some(id) => Some(
                id.parse::<uuid::Uuid>()
                    .map_err(|_| OidcError::request("unknown client_id"))?,
            ),
            None => None,
        };
        if let (Some(a), Some(b)) = (hinted, named) {
            if a != b {
                return Err(OidcError::request(
                    "client_id is not the audience of id_token_hint",
                ));
            }
        }
        let client = match hinted.or(named) {
            Some(id) => Some(
                self.client_by_id(id)
                    .await?
                    .ok_or_else(|| OidcError::request("unknown client_id"))?
                    .0,
            ),
            None => None,
        };
        let redirect = match get("post_logout_redirect_uri") {
            None => None,
            Some(uri) => {
                let registered = client
                    .as_ref()
                    .is_some_and(|c| c.post_logout_redirect_uris.iter().any(|u| u == uri));
                if !registered {
                    return Err(OidcError::request(
                        "post_logout_redirect_uri is not registered for this client",
                    ));
                }
                Some(match get("state") {
                    Some(state) => with_query(uri, &[("state", state)]),
                    None => uri.to_owned(),
                })
            }
        };
        let org = match &client {
            Some(c) => self.store.org_by_id(c.org_id).await?.map(|o| o.slug),
            None => None,
        };
        Ok(LogoutRequest {
            client_id: client.as_ref().map(|c| c.id),
            client_name: client.map(|c| c.name),
            org,
            sid: hint.and_then(|h| h.get("sid").and_then(Value::as_str).map(str::to_owned)),
            redirect,
            started_at: self.now().timestamp(),
        })
    }

    /// Ends a browser session (the hosted pages' sign-out, or an RP-initiated logout): the
    /// session itself, and the sessions it gave clients (all but those granted
    /// `offline_access`).
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn end_browser_session(
        &self,
        who: &Principal,
        asked_by: Option<uuid::Uuid>,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        self.logout(who, client).await?;
        let now = self.now();
        let mut reached: Vec<uuid::Uuid> = Vec::new();
        for s in self
            .store
            .sessions_from_browser(who.session_id, now)
            .await?
        {
            let Some(grant) = &s.grant else { continue };
            if !reached.contains(&grant.client_id) {
                reached.push(grant.client_id);
            }
            let offline = grant.scope.split(' ').any(|x| x == "offline_access");
            if !offline {
                self.store
                    .revoke_session(s.user_id, s.id, "logout", now)
                    .await?;
            }
        }
        for client_id in reached {
            self.tell_of_logout(client_id, who).await?;
        }
        self.sessions.forget_user(who.user.id);
        if let Some(id) = asked_by {
            self.audit(
                self.event(AuditKind::OAuthLogout, who.user.org_id, client)
                    .user(who.user.id)
                    .actor(who.user.id)
                    .detail("client_id", id.to_string()),
            )
            .await;
        }
        Ok(())
    }

    /// Queues a back-channel logout token (OpenID Connect Back-Channel Logout 1.0) for a
    /// client that registered where to receive one.
    async fn tell_of_logout(
        &self,
        client_id: uuid::Uuid,
        who: &Principal,
    ) -> Result<(), AuthError> {
        let Some((oauth_client, _)) = self.client_by_id(client_id).await? else {
            return Ok(());
        };
        let Some(uri) = oauth_client.backchannel_logout_uri.clone() else {
            return Ok(());
        };
        let now = self.now().timestamp();
        let claims = json!({
            "iss": self.oidc_issuer(),
            "aud": oauth_client.id.to_string(),
            "iat": now,
            "exp": now + LOGOUT_TOKEN_SECS,
            "jti": uuid::Uuid::new_v4().simple().to_string(),
            "sub": who.user.id.to_string(),
            "sid": who.session_id.to_string(),
            "events": { BACKCHANNEL_EVENT: {} },
        });
        let token = self.key_ring().sign_jwt(
            oauth_client.id_token_signed_response_alg,
            "logout+jwt",
            now,
            &claims,
        )?;
        let body = serde_urlencoded::to_string([("logout_token", token)])
            .map_err(|e| AuthError::Internal(format!("logout token form: {e}")))?;
        self.call_out(
            Some(oauth_client.org_id),
            "backchannel_logout",
            &crate::notify::OutboundRequest {
                url: uri,
                content_type: "application/x-www-form-urlencoded".into(),
                body,
                ..Default::default()
            },
        )
        .await
    }

    /// What an authorization needs next, for the browser session `who` (if any).
    #[instrument(skip_all)]
    pub async fn continue_authorization(
        &self,
        req: &AuthRequest,
        who: Option<&Principal>,
        client: &ClientInfo,
    ) -> Result<AuthorizeNext, AuthError> {
        let oauth_client = self
            .client_by_id(req.client_id)
            .await?
            .ok_or(AuthError::NotFound)?
            .0;
        let refuse = |e: OidcError| {
            AuthorizeNext::Redirect(self.error_redirect(
                &req.redirect_uri,
                req.state.as_deref(),
                &e,
            ))
        };
        let session = match who {
            Some(who) if who.user.org_id == oauth_client.org_id && !who.enrolment_only() => {
                self.store.session_by_id(who.session_id).await?
            }
            _ => None,
        };
        let fresh_enough = session.as_ref().is_some_and(|s| {
            let at = s.created_at.timestamp();
            !(req.prompt.contains(&Prompt::Login) || req.prompt.contains(&Prompt::SelectAccount))
                || at >= req.started_at
        }) && session.as_ref().is_some_and(|s| {
            req.max_age
                .is_none_or(|max| self.now().timestamp() - s.created_at.timestamp() <= max)
        });
        let (Some(who), Some(session)) = (who, session.filter(|_| fresh_enough)) else {
            return Ok(if req.prompt.contains(&Prompt::None) {
                refuse(OidcError::LoginRequired)
            } else {
                AuthorizeNext::SignIn
            });
        };
        if req
            .hint_sub
            .as_deref()
            .is_some_and(|sub| sub != who.user.id.to_string())
        {
            return Ok(if req.prompt.contains(&Prompt::None) {
                refuse(OidcError::LoginRequired)
            } else {
                AuthorizeNext::SignIn
            });
        }
        if !oauth_client.first_party {
            let consented = self
                .store
                .consent(who.user.id, oauth_client.id)
                .await?
                .is_some_and(|c| {
                    let given: Vec<&str> = c.scope.split(' ').collect();
                    req.scope.iter().all(|s| given.contains(&s.as_str()))
                });
            if !consented || req.prompt.contains(&Prompt::Consent) {
                return Ok(if req.prompt.contains(&Prompt::None) {
                    refuse(OidcError::ConsentRequired)
                } else {
                    AuthorizeNext::Consent
                });
            }
        } else {
            self.remember_consent(who, &oauth_client, req, client)
                .await?;
        }
        Ok(AuthorizeNext::Redirect(
            self.issue_code(req, who, &session).await?,
        ))
    }

    /// The consent page's answer: a code when the user agreed, `access_denied` when not.
    #[instrument(skip_all)]
    pub async fn answer_consent(
        &self,
        req: &AuthRequest,
        who: &Principal,
        agreed: bool,
        client: &ClientInfo,
    ) -> Result<String, AuthError> {
        if !agreed {
            return Ok(self.error_redirect(
                &req.redirect_uri,
                req.state.as_deref(),
                &OidcError::AccessDenied,
            ));
        }
        let oauth_client = self
            .client_by_id(req.client_id)
            .await?
            .ok_or(AuthError::NotFound)?
            .0;
        if who.user.org_id != oauth_client.org_id {
            return Err(AuthError::NotFound);
        }
        let session = self
            .store
            .session_by_id(who.session_id)
            .await?
            .ok_or(AuthError::Unauthorized)?;
        self.remember_consent(who, &oauth_client, req, client)
            .await?;
        self.issue_code(req, who, &session).await
    }

    /// Records that the user let the client have the request's scopes (added to what they
    /// gave before), audited.
    async fn remember_consent(
        &self,
        who: &Principal,
        oauth_client: &OAuthClient,
        req: &AuthRequest,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let before = self.store.consent(who.user.id, oauth_client.id).await?;
        let mut scope: Vec<String> = before
            .as_ref()
            .map(|c| {
                c.scope
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_default();
        let mut added = false;
        for s in &req.scope {
            if !scope.contains(s) {
                scope.push(s.clone());
                added = true;
            }
        }
        if before.is_some() && !added {
            return Ok(());
        }
        self.changed(
            self.event(AuditKind::OAuthGranted, oauth_client.org_id, client)
                .user(who.user.id)
                .actor(who.user.id)
                .detail("client_id", oauth_client.id.to_string())
                .detail("scope", scope.join(" ")),
            self.store.save_consent(
                who.user.id,
                &Consent {
                    client_id: oauth_client.id,
                    scope: scope.join(" "),
                    granted_at: self.now(),
                },
            ),
            |_| true,
        )
        .await?;
        Ok(())
    }

    /// A code for the request, and the URL that takes it back to the client.
    async fn issue_code(
        &self,
        req: &AuthRequest,
        who: &Principal,
        session: &Session,
    ) -> Result<String, AuthError> {
        let code = random_token(self.rng.as_ref());
        let now = self.now();
        self.store
            .insert_auth_code(
                &AuthCode {
                    code_hash: hash_token(&code),
                    client_id: req.client_id,
                    user_id: who.user.id,
                    browser_sid: session.id,
                    redirect_uri: req.redirect_uri.clone(),
                    scope: req.scope.join(" "),
                    nonce: req.nonce.clone(),
                    code_challenge: req.code_challenge.clone(),
                    auth_time: session.created_at,
                    amr: session.amr.clone(),
                    expires_at: now + chrono::Duration::seconds(CODE_SECS),
                },
                now,
            )
            .await?;
        let issuer = self.oidc_issuer();
        let mut params = vec![("code", code.as_str())];
        if let Some(s) = req.state.as_deref() {
            params.push(("state", s));
        }
        params.push(("iss", &issuer));
        Ok(with_query(&req.redirect_uri, &params))
    }

    /// Authenticates a client at the token, introspection or revocation endpoint by the
    /// method it registered (RFC 6749 section 2.3).
    pub async fn authenticate_client(
        &self,
        creds: &ClientCredentials,
    ) -> Result<OAuthClient, OidcError> {
        if creds.basic.is_some() && creds.client_secret.is_some() {
            return Err(OidcError::request(
                "use one way of client authentication, not two",
            ));
        }
        let (id, secret, method) = match (&creds.basic, &creds.client_id) {
            (Some((id, _)), Some(form)) if form != id => {
                return Err(OidcError::request("client_id differs from the Basic one"))
            }
            (Some((id, secret)), _) => (
                id.as_str(),
                Some(secret.as_str()),
                AuthMethod::ClientSecretBasic,
            ),
            (None, Some(id)) => match creds.client_secret.as_deref() {
                Some(secret) => (id.as_str(), Some(secret), AuthMethod::ClientSecretPost),
                None => (id.as_str(), None, AuthMethod::None),
            },
            (None, None) => return Err(OidcError::InvalidClient),
        };
        let (client, stored) = self
            .client_by_text(id)
            .await?
            .ok_or(OidcError::InvalidClient)?;
        if client.token_endpoint_auth_method != method {
            return Err(OidcError::InvalidClient);
        }
        if let Some(secret) = secret {
            let ok = stored
                .as_deref()
                .is_some_and(|h| ct_eq(hash_token(secret).as_bytes(), h.as_bytes()));
            if !ok {
                return Err(OidcError::InvalidClient);
            }
        }
        Ok(client)
    }

    /// `POST /oauth2/token`.
    #[instrument(skip_all, fields(grant_type))]
    pub async fn token(
        &self,
        form: &TokenForm,
        creds: &ClientCredentials,
        client: &ClientInfo,
    ) -> Result<TokenAnswer, OidcError> {
        let oauth_client = self.authenticate_client(creds).await?;
        let grant = match form.grant_type.as_deref() {
            None | Some("") => return Err(OidcError::request("grant_type is required")),
            Some(g) => GrantType::parse(g).ok_or(OidcError::UnsupportedGrantType)?,
        };
        tracing::Span::current().record("grant_type", grant.as_str());
        if !oauth_client.grant_types.contains(&grant) {
            return Err(OidcError::UnauthorizedClient(format!(
                "this client may not use the {} grant",
                grant.as_str()
            )));
        }
        match grant {
            GrantType::AuthorizationCode => self.code_grant(form, &oauth_client, client).await,
            GrantType::RefreshToken => self.refresh_grant(form, &oauth_client, client).await,
            GrantType::ClientCredentials => self.client_grant(form, &oauth_client, client).await,
        }
    }

    async fn code_grant(
        &self,
        form: &TokenForm,
        oauth_client: &OAuthClient,
        client: &ClientInfo,
    ) -> Result<TokenAnswer, OidcError> {
        let code = form
            .code
            .as_deref()
            .filter(|c| !c.is_empty() && c.len() <= 128)
            .ok_or_else(|| OidcError::request("code is required"))?;
        let redirect_uri = form
            .redirect_uri
            .as_deref()
            .ok_or_else(|| OidcError::request("redirect_uri is required"))?;
        if let Some(v) = form.code_verifier.as_deref() {
            if !pkce_shaped(v) {
                return Err(OidcError::request(
                    "code_verifier must be 43 to 128 unreserved characters (RFC 7636)",
                ));
            }
        }
        let grant_sid = SessionId::new();
        let invalid = |why: &str| OidcError::InvalidGrant(why.to_owned());
        let code = match self
            .store
            .redeem_auth_code(&hash_token(code), grant_sid)
            .await?
        {
            Redeemed::Fresh(code) => code,
            Redeemed::Reused {
                user_id,
                grant_sid,
                client_id,
            } => {
                // A code used twice has leaked: what its first use issued ends now.
                let event = self
                    .event(AuditKind::OAuthRevoked, oauth_client.org_id, client)
                    .user(user_id)
                    .detail("client_id", client_id.to_string())
                    .detail("reason", "authorization code used twice");
                match grant_sid {
                    Some(sid) => {
                        let revoke =
                            self.store
                                .revoke_session(user_id, sid, "code_reused", self.now());
                        self.changed(event, revoke, |_| true).await?;
                    }
                    None => self.audit(event).await,
                }
                self.sessions.forget_user(user_id);
                return Err(invalid("the code was already used"));
            }
            Redeemed::Unknown => return Err(invalid("unknown code")),
        };
        if code.client_id != oauth_client.id {
            return Err(invalid("the code was issued to another client"));
        }
        if code.expires_at <= self.now() {
            return Err(invalid("the code has expired"));
        }
        if code.redirect_uri != redirect_uri {
            return Err(invalid(
                "redirect_uri differs from the authorization request's",
            ));
        }
        match (&code.code_challenge, form.code_verifier.as_deref()) {
            (Some(challenge), Some(verifier)) => {
                if !ct_eq(s256(verifier).as_bytes(), challenge.as_bytes()) {
                    return Err(invalid("code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => return Err(invalid("code_verifier is required")),
            (None, Some(_)) => {
                return Err(invalid("the authorization request sent no code_challenge"))
            }
            (None, None) => {}
        }
        let user = self.grant_user(&code.user_id, oauth_client).await?;
        let now = self.now();
        let lifetime = oauth_client
            .refresh_token_lifetime_secs
            .map_or(self.config.session_absolute_lifetime, |s| {
                chrono::Duration::seconds(i64::from(s))
            });
        let session = Session {
            id: grant_sid,
            user_id: user.id,
            created_at: now,
            last_seen_at: now,
            expires_at: now + lifetime,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            amr: code.amr.clone(),
            app_token_id: None,
            device_id: None,
            grant: Some(Grant {
                client_id: oauth_client.id,
                scope: code.scope.clone(),
                browser_sid: code.browser_sid,
                auth_time: code.auth_time,
            }),
        };
        let refresh = random_token(self.rng.as_ref());
        self.store
            .create_session(&session, &hash_token(&refresh))
            .await?;
        let answer = self
            .grant_tokens(
                oauth_client,
                &user,
                &session,
                code.nonce.as_deref(),
                refresh,
            )
            .await?;
        self.audit(
            self.event(AuditKind::OAuthTokenIssued, oauth_client.org_id, client)
                .user(user.id)
                .actor(user.id)
                .detail("client_id", oauth_client.id.to_string())
                .detail("grant_type", "authorization_code")
                .detail("scope", code.scope),
        )
        .await;
        Ok(answer)
    }

    /// The user of a grant: present, active, in the client's organization.
    async fn grant_user(
        &self,
        id: &crate::ids::UserId,
        oauth_client: &OAuthClient,
    ) -> Result<User, OidcError> {
        let user = self
            .store
            .user_by_id(*id)
            .await?
            .filter(|u| u.active && u.org_id == oauth_client.org_id)
            .ok_or_else(|| OidcError::InvalidGrant("the user can no longer sign in".into()))?;
        Ok(user)
    }

    /// The tokens of a client session: an access token, an ID token when `openid` was
    /// granted, the refresh token when the client may refresh.
    async fn grant_tokens(
        &self,
        oauth_client: &OAuthClient,
        user: &User,
        session: &Session,
        nonce: Option<&str>,
        refresh: String,
    ) -> Result<TokenAnswer, OidcError> {
        let grant = session
            .grant
            .as_ref()
            .ok_or_else(|| AuthError::Internal("a client session without its grant".into()))?;
        let now = self.now().timestamp();
        let ttl = self.client_token_ttl(oauth_client);
        let issuer = self.oidc_issuer();
        let claims = ClientAccessClaims {
            iss: issuer.clone(),
            sub: user.id.to_string(),
            aud: oauth_client.id.to_string(),
            client_id: oauth_client.id.to_string(),
            iat: now,
            exp: now + ttl,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            scope: grant.scope.clone(),
            auth_time: Some(grant.auth_time.timestamp()),
            amr: Some(session.amr.clone()),
            sid: Some(session.id.to_string()),
        };
        let extra = self.hook_claims(user, &claims).await?;
        let ring = self.key_ring();
        let access_token = ring.sign_jwt_with(SigningAlg::Rs256, "at+jwt", now, &claims, &extra)?;
        let scopes: Vec<&str> = grant.scope.split(' ').collect();
        let id_token = if scopes.contains(&"openid") {
            let alg = oauth_client.id_token_signed_response_alg;
            let mut c = Map::new();
            c.insert("iss".into(), json!(issuer));
            c.insert("sub".into(), json!(user.id.to_string()));
            c.insert("aud".into(), json!(oauth_client.id.to_string()));
            c.insert("exp".into(), json!(now + ttl));
            c.insert("iat".into(), json!(now));
            c.insert("auth_time".into(), json!(grant.auth_time.timestamp()));
            if let Some(n) = nonce {
                c.insert("nonce".into(), json!(n));
            }
            c.insert("acr".into(), json!(acr(&session.amr)));
            c.insert("amr".into(), json!(session.amr));
            c.insert("azp".into(), json!(oauth_client.id.to_string()));
            c.insert("sid".into(), json!(grant.browser_sid.to_string()));
            c.insert("at_hash".into(), json!(at_hash(alg, &access_token)));
            c.extend(user_claims(user, &scopes));
            Some(ring.sign_jwt(alg, "JWT", now, &Value::Object(c))?)
        } else {
            None
        };
        Ok(TokenAnswer {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            scope: grant.scope.clone(),
            id_token,
            refresh_token: oauth_client
                .grant_types
                .contains(&GrantType::RefreshToken)
                .then_some(refresh),
        })
    }

    fn client_token_ttl(&self, oauth_client: &OAuthClient) -> i64 {
        oauth_client
            .access_token_lifetime_secs
            .map_or(self.config.access_token_ttl.num_seconds(), i64::from)
    }

    async fn refresh_grant(
        &self,
        form: &TokenForm,
        oauth_client: &OAuthClient,
        client: &ClientInfo,
    ) -> Result<TokenAnswer, OidcError> {
        let token = form
            .refresh_token
            .as_deref()
            .filter(|t| !t.is_empty() && t.len() <= 256)
            .ok_or_else(|| OidcError::request("refresh_token is required"))?;
        let next = random_token(self.rng.as_ref());
        let invalid = |why: &str| OidcError::InvalidGrant(why.to_owned());
        let session = match self
            .store
            .rotate_refresh_token(&hash_token(token), &hash_token(&next), self.liveness())
            .await?
        {
            RotateOutcome::Rotated { session } => *session,
            RotateOutcome::Reused {
                session_id,
                user_id,
            } => {
                self.sessions.forget_user(user_id);
                self.audit(
                    self.event(AuditKind::TokenReused, oauth_client.org_id, client)
                        .user(user_id)
                        .detail("session_id", session_id.to_string())
                        .detail("client_id", oauth_client.id.to_string()),
                )
                .await;
                return Err(invalid(
                    "the refresh token was already used; its session has ended",
                ));
            }
            RotateOutcome::SessionEnded | RotateOutcome::Unknown => {
                return Err(invalid("unknown or expired refresh token"))
            }
        };
        // A refresh token is bound to the client it was issued to; in another's hands it
        // has leaked, and its session ends.
        let Some(grant) = session
            .grant
            .as_ref()
            .filter(|g| g.client_id == oauth_client.id)
        else {
            self.changed(
                self.event(AuditKind::OAuthRevoked, oauth_client.org_id, client)
                    .user(session.user_id)
                    .detail("client_id", oauth_client.id.to_string())
                    .detail("reason", "refresh token presented by another client"),
                self.store.revoke_session(
                    session.user_id,
                    session.id,
                    "refresh_by_other_client",
                    self.now(),
                ),
                |_| true,
            )
            .await?;
            self.sessions.forget_user(session.user_id);
            return Err(invalid("the refresh token was issued to another client"));
        };
        if let Some(asked) = form.scope.as_deref().filter(|s| !s.is_empty()) {
            let have: Vec<&str> = grant.scope.split(' ').collect();
            if asked
                .split(' ')
                .any(|s| !s.is_empty() && !have.contains(&s))
            {
                return Err(OidcError::InvalidScope(
                    "a refresh cannot add scopes to the grant".into(),
                ));
            }
        }
        let user = self.grant_user(&session.user_id, oauth_client).await?;
        let answer = self
            .grant_tokens(oauth_client, &user, &session, None, next)
            .await?;
        self.audit(
            self.event(AuditKind::OAuthTokenRefreshed, oauth_client.org_id, client)
                .user(user.id)
                .detail("client_id", oauth_client.id.to_string()),
        )
        .await;
        Ok(answer)
    }

    async fn client_grant(
        &self,
        form: &TokenForm,
        oauth_client: &OAuthClient,
        client: &ClientInfo,
    ) -> Result<TokenAnswer, OidcError> {
        if oauth_client.client_type != ClientType::Confidential {
            return Err(OidcError::UnauthorizedClient(
                "only confidential clients may use client_credentials".into(),
            ));
        }
        // The scopes a client may have for itself: not the user's (openid, offline_access).
        let own: Vec<String> = oauth_client
            .scopes
            .iter()
            .filter(|s| !matches!(s.as_str(), "openid" | "offline_access"))
            .cloned()
            .collect();
        let scope = match form.scope.as_deref().filter(|s| !s.trim().is_empty()) {
            None => own,
            Some(asked) => {
                let asked: Vec<&str> = asked.split(' ').filter(|s| !s.is_empty()).collect();
                if let Some(bad) = asked.iter().find(|s| !own.iter().any(|o| o == *s)) {
                    return Err(OidcError::InvalidScope(format!(
                        "{bad:?} is not a scope this client may have for itself"
                    )));
                }
                own.into_iter()
                    .filter(|o| asked.contains(&o.as_str()))
                    .collect()
            }
        }
        .join(" ");
        let now = self.now().timestamp();
        let ttl = self.client_token_ttl(oauth_client);
        let claims = ClientAccessClaims {
            iss: self.oidc_issuer(),
            sub: oauth_client.id.to_string(),
            aud: oauth_client.id.to_string(),
            client_id: oauth_client.id.to_string(),
            iat: now,
            exp: now + ttl,
            jti: uuid::Uuid::new_v4().simple().to_string(),
            scope: scope.clone(),
            auth_time: None,
            amr: None,
            sid: None,
        };
        let access_token = self
            .key_ring()
            .sign_jwt(SigningAlg::Rs256, "at+jwt", now, &claims)?;
        self.audit(
            self.event(AuditKind::OAuthTokenIssued, oauth_client.org_id, client)
                .detail("client_id", oauth_client.id.to_string())
                .detail("grant_type", "client_credentials"),
        )
        .await;
        Ok(TokenAnswer {
            access_token,
            token_type: "Bearer",
            expires_in: ttl,
            scope,
            id_token: None,
            refresh_token: None,
        })
    }

    /// The claims of a live client access token: signature, expiry, the client still
    /// registered, and (for a user's token) its session still live.
    async fn live_access_token(
        &self,
        token: &str,
    ) -> Result<(ClientAccessClaims, Option<User>), OidcError> {
        let claims: ClientAccessClaims = self
            .key_ring()
            .verify_jwt(token, SigningAlg::Rs256, "at+jwt")
            .map_err(|_| OidcError::InvalidToken)?;
        if claims.exp <= self.now().timestamp() {
            return Err(OidcError::InvalidToken);
        }
        let client_id = claims
            .client_id
            .parse::<uuid::Uuid>()
            .map_err(|_| OidcError::InvalidToken)?;
        if self.client_by_id(client_id).await?.is_none() {
            return Err(OidcError::InvalidToken);
        }
        let Some(sid) = claims.sid.as_deref() else {
            return Ok((claims, None));
        };
        let sid: SessionId = sid.parse().map_err(|_| OidcError::InvalidToken)?;
        let user = self
            .live_session_user(sid)
            .await?
            .ok_or(OidcError::InvalidToken)?;
        Ok((claims, Some(user)))
    }

    /// `GET`/`POST /oauth2/userinfo`: the user's claims, by the scopes of the token.
    #[instrument(skip_all)]
    pub async fn userinfo(&self, token: &str) -> Result<Map<String, Value>, OidcError> {
        let (claims, user) = self.live_access_token(token).await?;
        let scopes: Vec<&str> = claims.scope.split(' ').collect();
        let Some(user) = user.filter(|_| scopes.contains(&"openid")) else {
            return Err(OidcError::InsufficientScope(
                "the token was not granted the openid scope".into(),
            ));
        };
        let mut out = Map::new();
        out.insert("sub".into(), json!(user.id.to_string()));
        out.extend(user_claims(&user, &scopes));
        Ok(out)
    }

    /// `POST /oauth2/introspect` (RFC 7662): what a token of the calling client is, or
    /// `{"active": false}` for anything else.
    #[instrument(skip_all)]
    pub async fn introspect(
        &self,
        creds: &ClientCredentials,
        token: &str,
    ) -> Result<Value, OidcError> {
        let caller = self.authenticate_client(creds).await?;
        let inactive = json!({"active": false});
        if token.is_empty() || token.len() > 4096 {
            return Ok(inactive);
        }
        if token.contains('.') {
            return Ok(match self.live_access_token(token).await {
                Ok((c, _)) if c.client_id == caller.id.to_string() => json!({
                    "active": true,
                    "scope": c.scope,
                    "client_id": c.client_id,
                    "token_type": "Bearer",
                    "exp": c.exp,
                    "iat": c.iat,
                    "sub": c.sub,
                    "aud": c.aud,
                    "iss": c.iss,
                    "jti": c.jti,
                }),
                Ok(_) | Err(OidcError::InvalidToken) => inactive,
                Err(e) => return Err(e),
            });
        }
        let session = self
            .store
            .session_by_refresh(&hash_token(token), self.liveness())
            .await?;
        Ok(match session {
            Some(s) if s.grant.as_ref().is_some_and(|g| g.client_id == caller.id) => {
                let scope = s
                    .grant
                    .as_ref()
                    .map(|g| g.scope.clone())
                    .unwrap_or_default();
                json!({
                    "active": true,
                    "scope": scope,
                    "client_id": caller.id.to_string(),
                    "token_type": "refresh_token",
                    "exp": s.expires_at.timestamp(),
                    "iat": s.last_seen_at.timestamp(),
                    "sub": s.user_id.to_string(),
                    "iss": self.oidc_issuer(),
                })
            }
            _ => inactive,
        })
    }

    /// `POST /oauth2/revoke` (RFC 7009): ends the session behind a refresh or access token
    /// of the calling client. Anything else is answered the same way, and changes nothing.
    #[instrument(skip_all)]
    pub async fn revoke_token(
        &self,
        creds: &ClientCredentials,
        token: &str,
        client: &ClientInfo,
    ) -> Result<(), OidcError> {
        let caller = self.authenticate_client(creds).await?;
        if token.is_empty() || token.len() > 4096 {
            return Ok(());
        }
        let session = if token.contains('.') {
            match self.live_access_token(token).await {
                Ok((c, _)) if c.client_id == caller.id.to_string() => match c.sid {
                    Some(sid) => {
                        self.store
                            .session_by_id(sid.parse().map_err(|_| OidcError::InvalidToken)?)
                            .await?
                    }
                    None => None,
                },
                Ok(_) | Err(OidcError::InvalidToken) => None,
                Err(e) => return Err(e),
            }
        } else {
            self.store
                .session_by_refresh(&hash_token(token), self.liveness())
                .await?
        };
        let Some(session) =
            session.filter(|s| s.grant.as_ref().is_some_and(|g| g.client_id == caller.id))
        else {
            return Ok(());
        };
        self.changed(
            self.event(AuditKind::OAuthRevoked, caller.org_id, client)
                .user(session.user_id)
                .detail("client_id", caller.id.to_string())
                .detail("reason", "revoked by the client"),
            self.store
                .revoke_session(session.user_id, session.id, "revoked_by_client", self.now()),
            |_| true,
        )
        .await?;
        self.sessions.forget_user(session.user_id);
        Ok(())
    }

    /// `GET /v1/users/me/authorizations`: the applications the caller let in.
    pub async fn authorizations(&self, who: &Principal) -> Result<Vec<Authorization>, AuthError> {
        let mut out = Vec::new();
        for c in self.store.consents(who.user.id).await? {
            if let Some((client, _)) = self.client_by_id(c.client_id).await? {
                out.push(Authorization {
                    client_id: c.client_id,
                    client_name: client.name,
                    scope: c.scope,
                    granted_at: c.granted_at,
                });
            }
        }
        Ok(out)
    }

    /// `DELETE /v1/users/me/authorizations/{client_id}`: withdraws the consent and ends every
    /// session the application holds for the caller.
    pub async fn revoke_authorization(
        &self,
        who: &Principal,
        client_id: uuid::Uuid,
        client: &ClientInfo,
    ) -> Result<(), AuthError> {
        let event = self
            .event(AuditKind::OAuthRevoked, who.user.org_id, client)
            .user(who.user.id)
            .actor(who.user.id)
            .detail("client_id", client_id.to_string())
            .detail("reason", "the user withdrew the authorization");
        // Two writes; the first that changes something carries the event.
        let withdraw = async {
            let had = self.store.delete_consent(who.user.id, client_id).await?;
            let ended = self
                .store
                .revoke_client_sessions(who.user.id, client_id, "authorization_revoked", self.now())
                .await?;
            Ok(had || ended > 0)
        };
        let withdrawn = self.changed(event, withdraw, |done| *done).await?;
        self.sessions.forget_user(who.user.id);
        if !withdrawn {
            return Err(AuthError::NotFound);
        }
        Ok(())
    }
}

/// The single audience of an ID token (ours have one: the client).
fn audience(claims: &Map<String, Value>) -> Option<uuid::Uuid> {
    match claims.get("aud")? {
        Value::String(a) => a.parse().ok(),
        Value::Array(a) if a.len() == 1 => a[0].as_str()?.parse().ok(),
        _ => None,
    }
}

/// The claims of `user` that `scopes` release (OpenID Connect Core section 5.4).
fn user_claims(user: &User, scopes: &[&str]) -> Map<String, Value> {
    let mut c = Map::new();
    if scopes.contains(&"profile") {
        let name = [user.first_name.as_deref(), user.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !name.is_empty() {
            c.insert("name".into(), json!(name));
        }
        if let Some(v) = &user.first_name {
            c.insert("given_name".into(), json!(v));
        }
        if let Some(v) = &user.last_name {
            c.insert("family_name".into(), json!(v));
        }
        if let Some(v) = &user.username {
            c.insert("preferred_username".into(), json!(v));
        }
        c.insert("updated_at".into(), json!(user.updated_at.timestamp()));
    }
    if scopes.contains(&"email") {
        if let Some(v) = &user.email {
            c.insert("email".into(), json!(v));
            c.insert("email_verified".into(), json!(user.email_verified));
        }
    }
    if scopes.contains(&"phone") {
        if let Some(v) = &user.phone {
            c.insert("phone_number".into(), json!(v));
            c.insert("phone_number_verified".into(), json!(user.phone_verified));
        }
    }
    c
}
