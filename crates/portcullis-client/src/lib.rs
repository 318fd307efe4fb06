//! A typed async client for the Portcullis v1 HTTP API.
//!
//! ```no_run
//! # async fn demo() -> Result<(), portcullis_client::Error> {
//! use portcullis_api::{LoginRequest, RegisterRequest};
//! let client = portcullis_client::Client::new("http://127.0.0.1:8080");
//! client.register(&RegisterRequest {
//!     email: Some("ann@example.com".into()),
//!     password: Some("correct horse battery".into()),
//!     ..Default::default()
//! }).await?;
//! let pair = client.login(&LoginRequest {
//!     identifier: "ann@example.com".into(),
//!     password: "correct horse battery".into(),
//!     ..Default::default()
//! }).await?;
//! let me = client.with_token(&pair.access_token).me().await?;
//! assert_eq!(me.email.as_deref(), Some("ann@example.com"));
//! # Ok(()) }
//! ```
//!
//! A long-running program signs in once and lets the client refresh the access token
//! before it expires (the refresh token rotates each time, as the server requires):
//!
//! ```no_run
//! # async fn demo(pair: portcullis_api::TokenPair) -> Result<(), portcullis_client::Error> {
//! let client = portcullis_client::Client::new("http://127.0.0.1:8080").with_session(&pair);
//! loop {
//!     let me = client.me().await?; // refreshed first when within a minute of expiry
//!     println!("{}", me.id);
//!     # break;
//! }
//! # Ok(()) }
//! ```
//!
//! Every error from the server carries its stable problem code: [`Error::code`].

use portcullis_api::{
    AuditEventList, ChangePasswordRequest, CreateUserRequest, DeleteAccountRequest, Health, Jwks,
    LoginRequest, OpenIdConfiguration, Problem, ProblemCode, RefreshRequest, RegisterRequest,
    RolesResponse, SessionList, SetRolesRequest, TokenPair, UpdateUserRequest, User, UserList,
};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use uuid::Uuid;

pub use portcullis_api as api;

/// What a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a problem.
    #[error("{status}: {} ({})", problem.detail, problem.code.as_str())]
    Api {
        /// HTTP status.
        status: StatusCode,
        /// The problem+json body.
        problem: Box<Problem>,
        /// `Retry-After`, seconds, when sent.
        retry_after: Option<u64>,
    },
    /// The request could not be made or the answer not read.
    #[error("transport: {0}")]
    Transport(#[from] reqwest::Error),
    /// The server answered something that is not this API.
    #[error("unexpected answer {status}: {body}")]
    Unexpected {
        /// HTTP status.
        status: StatusCode,
        /// The body, as text.
        body: String,
    },
}

impl Error {
    /// The problem code, when the server sent one.
    pub fn code(&self) -> Option<ProblemCode> {
        match self {
            Self::Api { problem, .. } => Some(problem.code),
            _ => None,
        }
    }

    /// The HTTP status, when there was an answer.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Api { status, .. } | Self::Unexpected { status, .. } => Some(*status),
            Self::Transport(e) => e.status(),
        }
    }

    /// The problem body, when the server sent one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            Self::Api { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// Filters for [`Client::list_users`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserQuery {
    /// Case-insensitive part of email, phone, username or names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Holds this role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Active or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Filters for [`Client::audit_events`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct AuditQuery {
    /// About this user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<Uuid>,
    /// Of this type.
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// At or after (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Before (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// A client for one server, optionally carrying an access token.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    auth: Auth,
}

/// How a client authenticates.
#[derive(Debug, Clone)]
enum Auth {
    None,
    /// A fixed bearer token (access, application or device token).
    Bearer(String),
    /// A signed-in session whose access token is refreshed before it expires.
    Session(std::sync::Arc<tokio::sync::Mutex<SessionTokens>>),
}

#[derive(Debug)]
struct SessionTokens {
    access: String,
    refresh: String,
    expires_at: std::time::Instant,
}

/// An access token this close to expiry is refreshed before use.
const REFRESH_MARGIN: std::time::Duration = std::time::Duration::from_secs(60);

async fn decode<T: DeserializeOwned>(res: Response) -> Result<T, Error> {
    let res = check(res).await?;
    let status = res.status();
    let bytes = res.bytes().await?;
    serde_json::from_slice(&bytes).map_err(|_| Error::Unexpected {
        status,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    })
}

async fn check(res: Response) -> Result<Response, Error> {
    let status = res.status();
    if status.is_success() {
        return Ok(res);
    }
    let retry_after = res
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let bytes = res.bytes().await?;
    match serde_json::from_slice::<Problem>(&bytes) {
        Ok(problem) => Err(Error::Api {
            status,
            problem: Box::new(problem),
            retry_after,
        }),
        Err(_) => Err(Error::Unexpected {
            status,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }),
    }
}

impl Client {
    /// A client for the server at `base_url` (such as `http://127.0.0.1:8080`).
    pub fn new(base_url: &str) -> Self {
        Self {
            http: reqwest::Client::new(),
            base: base_url.trim_end_matches('/').to_owned(),
            auth: Auth::None,
        }
    }

    /// The same client, sending `token` as `Authorization: Bearer`.
    pub fn with_token(&self, token: &str) -> Self {
        Self {
            auth: Auth::Bearer(token.to_owned()),
            ..self.clone()
        }
    }

    /// The same client, acting for the session of `pair`: every call sends its access
    /// token, refreshed through `POST /v1/auth/token/refresh` when it is within a minute
    /// of expiry. Clones share the session.
    pub fn with_session(&self, pair: &TokenPair) -> Self {
        let expires_in =
            std::time::Duration::from_secs(u64::try_from(pair.expires_in).unwrap_or(0));
        Self {
            auth: Auth::Session(std::sync::Arc::new(tokio::sync::Mutex::new(
                SessionTokens {
                    access: pair.access_token.clone(),
                    refresh: pair.refresh_token.clone(),
                    expires_at: std::time::Instant::now() + expires_in,
                },
            ))),
            ..self.clone()
        }
    }

    /// The session's current access token, refreshed first when it is about to expire.
    pub async fn access_token(&self) -> Result<Option<String>, Error> {
        match &self.auth {
            Auth::None => Ok(None),
            Auth::Bearer(t) => Ok(Some(t.clone())),
            Auth::Session(s) => {
                let mut s = s.lock().await;
                if s.expires_at <= std::time::Instant::now() + REFRESH_MARGIN {
                    let body = RefreshRequest {
                        refresh_token: s.refresh.clone(),
                    };
                    let res = self
                        .http
                        .post(format!("{}/v1/auth/token/refresh", self.base))
                        .json(&body)
                        .send()
                        .await?;
                    let pair: TokenPair = decode(res).await?;
                    let expires_in =
                        std::time::Duration::from_secs(u64::try_from(pair.expires_in).unwrap_or(0));
                    *s = SessionTokens {
                        access: pair.access_token,
                        refresh: pair.refresh_token,
                        expires_at: std::time::Instant::now() + expires_in,
                    };
                }
                Ok(Some(s.access.clone()))
            }
        }
    }

    /// The server's base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// A request to `path`, with the token when set; for calls this client has no method for.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match &self.auth {
            Auth::Bearer(t) => req.bearer_auth(t),
            Auth::None | Auth::Session(_) => req,
        }
    }

    /// Sends a request from [`Client::request`], with a fresh session token when acting
    /// for a session.
    pub async fn execute(&self, req: RequestBuilder) -> Result<Response, Error> {
        let mut req = req.build()?;
        if let Auth::Session(_) = &self.auth {
            if let Some(token) = self.access_token().await? {
                if let Ok(value) =
                    reqwest::header::HeaderValue::from_str(&format!("Bearer {token}"))
                {
                    req.headers_mut()
                        .insert(reqwest::header::AUTHORIZATION, value);
                }
            }
        }
        Ok(self.http.execute(req).await?)
    }

    async fn send<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, Error> {
        decode(self.execute(req).await?).await
    }

    async fn send_empty(&self, req: RequestBuilder) -> Result<(), Error> {
        check(self.execute(req).await?).await.map(|_| ())
    }

    /// `POST /v1/auth/register`.
    pub async fn register(&self, body: &RegisterRequest) -> Result<User, Error> {
        self.send(self.request(Method::POST, "/v1/auth/register").json(body))
            .await
    }

    /// `POST /v1/auth/register/anonymous`.
    pub async fn register_anonymous(&self, organization: Option<&str>) -> Result<TokenPair, Error> {
        let body = api::AnonymousRequest {
            organization: organization.map(str::to_owned),
        };
        self.send(
            self.request(Method::POST, "/v1/auth/register/anonymous")
                .json(&body),
        )
        .await
    }

    /// `POST /v1/users/me/upgrade`.
    pub async fn upgrade_me(&self, body: &RegisterRequest) -> Result<User, Error> {
        self.send(
            self.request(Method::POST, "/v1/users/me/upgrade")
                .json(body),
        )
        .await
    }

    /// `POST /v1/users/me/app-tokens`.
    pub async fn create_app_token(
        &self,
        body: &api::CreateAppTokenRequest,
    ) -> Result<api::CreatedAppToken, Error> {
        self.send(
            self.request(Method::POST, "/v1/users/me/app-tokens")
                .json(body),
        )
        .await
    }

    /// `GET /v1/users/me/app-tokens`.
    pub async fn app_tokens(&self) -> Result<api::AppTokenList, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/app-tokens"))
            .await
    }

    /// `DELETE /v1/users/me/app-tokens/{id}`.
    pub async fn delete_app_token(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/me/app-tokens/{id}")))
            .await
    }

    /// `GET /v1/users/{id}/app-tokens` (admin).
    pub async fn user_app_tokens(&self, user: Uuid) -> Result<api::AppTokenList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/users/{user}/app-tokens")))
            .await
    }

    /// `DELETE /v1/users/{id}/app-tokens/{token_id}` (admin).
    pub async fn delete_user_app_token(&self, user: Uuid, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/{user}/app-tokens/{id}")))
            .await
    }

    /// `POST /v1/auth/app-token`: an application token for an access token.
    pub async fn exchange_app_token(&self, token: &str) -> Result<api::AccessToken, Error> {
        let body = api::AppTokenExchange {
            token: token.to_owned(),
        };
        self.send(self.request(Method::POST, "/v1/auth/app-token").json(&body))
            .await
    }

    /// `POST /v1/auth/login`.
    pub async fn login(&self, body: &LoginRequest) -> Result<TokenPair, Error> {
        self.send(self.request(Method::POST, "/v1/auth/login").json(body))
            .await
    }

    /// `POST /v1/auth/token/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Error> {
        let body = RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        self.send(
            self.request(Method::POST, "/v1/auth/token/refresh")
                .json(&body),
        )
        .await
    }

    /// `POST /v1/auth/logout`.
    pub async fn logout(&self) -> Result<(), Error> {
        self.send_empty(self.request(Method::POST, "/v1/auth/logout"))
            .await
    }

    /// `POST /v1/auth/logout/all`.
    pub async fn logout_all(&self) -> Result<(), Error> {
        self.send_empty(self.request(Method::POST, "/v1/auth/logout/all"))
            .await
    }

    /// `GET /v1/users/me`.
    pub async fn me(&self) -> Result<User, Error> {
        self.send(self.request(Method::GET, "/v1/users/me")).await
    }

    /// `PATCH /v1/users/me`.
    pub async fn update_me(&self, body: &UpdateUserRequest) -> Result<User, Error> {
        self.send(self.request(Method::PATCH, "/v1/users/me").json(body))
            .await
    }

    /// `DELETE /v1/users/me`.
    pub async fn delete_me(&self, password: Option<&str>) -> Result<(), Error> {
        let body = DeleteAccountRequest {
            password: password.map(str::to_owned),
        };
        self.send_empty(self.request(Method::DELETE, "/v1/users/me").json(&body))
            .await
    }

    /// `GET /v1/users/me/roles`.
    pub async fn my_roles(&self) -> Result<RolesResponse, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/roles"))
            .await
    }

    /// `POST /v1/users/me/password`.
    pub async fn change_password(
        &self,
        current_password: &str,
        new_password: &str,
    ) -> Result<(), Error> {
        let body = ChangePasswordRequest {
            current_password: current_password.to_owned(),
            new_password: new_password.to_owned(),
        };
        self.send_empty(
            self.request(Method::POST, "/v1/users/me/password")
                .json(&body),
        )
        .await
    }

    /// `GET /v1/users/me/sessions`.
    pub async fn my_sessions(&self) -> Result<SessionList, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/sessions"))
            .await
    }

    /// `DELETE /v1/users/me/sessions/{id}`.
    pub async fn delete_my_session(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/me/sessions/{id}")))
            .await
    }

    /// `GET /v1/users` (admin).
    pub async fn list_users(&self, query: &UserQuery) -> Result<UserList, Error> {
        self.send(self.request(Method::GET, "/v1/users").query(query))
            .await
    }

    /// `POST /v1/users` (admin).
    pub async fn create_user(&self, body: &CreateUserRequest) -> Result<User, Error> {
        self.send(self.request(Method::POST, "/v1/users").json(body))
            .await
    }

    /// `GET /v1/users/{id}` (admin).
    pub async fn get_user(&self, id: Uuid) -> Result<User, Error> {
        self.send(self.request(Method::GET, &format!("/v1/users/{id}")))
            .await
    }

    /// `PATCH /v1/users/{id}` (admin).
    pub async fn update_user(&self, id: Uuid, body: &UpdateUserRequest) -> Result<User, Error> {
        self.send(
            self.request(Method::PATCH, &format!("/v1/users/{id}"))
                .json(body),
        )
        .await
    }

    /// `DELETE /v1/users/{id}` (admin).
    pub async fn delete_user(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/{id}")))
            .await
    }

    /// `PUT /v1/users/{id}/roles` (admin).
    pub async fn set_roles(&self, id: Uuid, roles: &[&str]) -> Result<RolesResponse, Error> {
        let body = SetRolesRequest {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        };
        self.send(
            self.request(Method::PUT, &format!("/v1/users/{id}/roles"))
                .json(&body),
        )
        .await
    }

    /// `POST /v1/users/{id}/sessions/revoke` (admin).
    pub async fn revoke_sessions(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::POST, &format!("/v1/users/{id}/sessions/revoke")))
            .await
    }

    /// `GET /v1/audit-events` (admin).
    pub async fn audit_events(&self, query: &AuditQuery) -> Result<AuditEventList, Error> {
        self.send(self.request(Method::GET, "/v1/audit-events").query(query))
            .await
    }

    /// `POST /v1/orgs` (system admin).
    pub async fn create_org(
        &self,
        body: &api::CreateOrgRequest,
    ) -> Result<api::Organization, Error> {
        self.send(self.request(Method::POST, "/v1/orgs").json(body))
            .await
    }

    /// `GET /v1/orgs` (system admin).
    pub async fn list_orgs(
        &self,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<api::OrgList, Error> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(c) = cursor {
            q.push(("cursor", c.to_owned()));
        }
        self.send(self.request(Method::GET, "/v1/orgs").query(&q))
            .await
    }

    /// `GET /v1/orgs/{slug}`.
    pub async fn get_org(&self, slug: &str) -> Result<api::Organization, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{slug}")))
            .await
    }

    /// `PATCH /v1/orgs/{slug}` (system admin).
    pub async fn update_org(
        &self,
        slug: &str,
        body: &api::UpdateOrgRequest,
    ) -> Result<api::Organization, Error> {
        self.send(
            self.request(Method::PATCH, &format!("/v1/orgs/{slug}"))
                .json(body),
        )
        .await
    }

    /// `POST /v1/orgs/{slug}/licenses` (admin).
    pub async fn create_license(
        &self,
        org: &str,
        body: &api::CreateLicenseRequest,
    ) -> Result<api::CreatedLicense, Error> {
        self.send(
            self.request(Method::POST, &format!("/v1/orgs/{org}/licenses"))
                .json(body),
        )
        .await
    }

    /// `GET /v1/orgs/{slug}/licenses` (admin).
    pub async fn licenses(&self, org: &str) -> Result<api::LicenseList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/licenses")))
            .await
    }

    /// `DELETE /v1/orgs/{slug}/licenses/{id}` (admin).
    pub async fn delete_license(&self, org: &str, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/orgs/{org}/licenses/{id}")))
            .await
    }

    /// `POST /v1/devices/register`.
    pub async fn register_device(
        &self,
        body: &api::RegisterDeviceRequest,
    ) -> Result<api::RegisteredDevice, Error> {
        self.send(
            self.request(Method::POST, "/v1/devices/register")
                .json(body),
        )
        .await
    }

    /// `GET /v1/orgs/{slug}/devices` (admin).
    pub async fn devices(&self, org: &str) -> Result<api::DeviceList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/devices")))
            .await
    }

    /// `DELETE /v1/orgs/{slug}/devices/{id}` (admin).
    pub async fn delete_device(&self, org: &str, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/orgs/{org}/devices/{id}")))
            .await
    }

    /// `POST /v1/users/me/mfa/keys`.
    pub async fn create_mfa_key(&self, password: Option<&str>) -> Result<api::NewMfaKey, Error> {
        let body = api::CreateMfaKeyRequest {
            kind: "totp".into(),
            password: password.map(str::to_owned),
        };
        self.send(
            self.request(Method::POST, "/v1/users/me/mfa/keys")
                .json(&body),
        )
        .await
    }

    /// `GET /v1/users/me/mfa/keys`.
    pub async fn mfa_keys(&self) -> Result<api::MfaKeyList, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/mfa/keys"))
            .await
    }

    /// `POST /v1/users/me/mfa/keys/{id}/activate`.
    pub async fn activate_mfa_key(
        &self,
        id: Uuid,
        code: &str,
    ) -> Result<api::ActivatedMfaKey, Error> {
        let body = api::ActivateMfaKeyRequest {
            code: code.to_owned(),
        };
        self.send(
            self.request(
                Method::POST,
                &format!("/v1/users/me/mfa/keys/{id}/activate"),
            )
            .json(&body),
        )
        .await
    }

    /// `DELETE /v1/users/me/mfa/keys/{id}`.
    pub async fn delete_mfa_key(
        &self,
        id: Uuid,
        reauth: &api::Reauthentication,
    ) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::DELETE, &format!("/v1/users/me/mfa/keys/{id}"))
                .json(reauth),
        )
        .await
    }

    /// `DELETE /v1/users/me/mfa`.
    pub async fn disable_mfa(&self, reauth: &api::Reauthentication) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::DELETE, "/v1/users/me/mfa")
                .json(reauth),
        )
        .await
    }

    /// `POST /v1/users/me/mfa/recovery-codes`.
    pub async fn regenerate_recovery_codes(
        &self,
        password: &str,
    ) -> Result<api::RecoveryCodes, Error> {
        let body = api::Reauthentication {
            password: Some(password.to_owned()),
            mfa_code: None,
        };
        self.send(
            self.request(Method::POST, "/v1/users/me/mfa/recovery-codes")
                .json(&body),
        )
        .await
    }

    /// `GET /v1/users/me/trusted-devices`.
    pub async fn trusted_devices(&self) -> Result<api::TrustedDeviceList, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/trusted-devices"))
            .await
    }

    /// `DELETE /v1/users/me/trusted-devices/{id}`.
    pub async fn delete_trusted_device(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(
            Method::DELETE,
            &format!("/v1/users/me/trusted-devices/{id}"),
        ))
        .await
    }

    /// `POST /v1/auth/login/otp`.
    pub async fn login_otp(&self, body: &api::LoginOtpRequest) -> Result<api::Sent, Error> {
        self.send(self.request(Method::POST, "/v1/auth/login/otp").json(body))
            .await
    }

    /// `POST /v1/auth/verify`: proves an address with the code sent to it.
    pub async fn verify(&self, body: &api::CodeSubmission) -> Result<(), Error> {
        self.send_empty(self.request(Method::POST, "/v1/auth/verify").json(body))
            .await
    }

    /// `POST /v1/auth/verify/resend`.
    pub async fn resend_verification(&self, body: &api::CodeRequest) -> Result<api::Sent, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/verify/resend")
                .json(body),
        )
        .await
    }

    /// `POST /v1/auth/code/request`: a passwordless sign-in code.
    pub async fn request_login_code(&self, body: &api::CodeRequest) -> Result<api::Sent, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/code/request")
                .json(body),
        )
        .await
    }

    /// `POST /v1/auth/code/login`.
    pub async fn login_with_code(&self, body: &api::CodeSubmission) -> Result<TokenPair, Error> {
        self.send(self.request(Method::POST, "/v1/auth/code/login").json(body))
            .await
    }

    /// `POST /v1/auth/password/forgot`.
    pub async fn forgot_password(&self, body: &api::CodeRequest) -> Result<api::Sent, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/password/forgot")
                .json(body),
        )
        .await
    }

    /// `POST /v1/auth/password/verify`: checks a reset code or link token without using it.
    pub async fn check_reset(&self, body: &api::CodeSubmission) -> Result<api::Validity, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/password/verify")
                .json(body),
        )
        .await
    }

    /// `POST /v1/auth/password/reset`.
    pub async fn reset_password(&self, body: &api::ResetPasswordRequest) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::POST, "/v1/auth/password/reset")
                .json(body),
        )
        .await
    }

    /// `POST /v1/auth/password/questions`.
    pub async fn security_questions(
        &self,
        body: &api::QuestionsRequest,
    ) -> Result<api::QuestionsResponse, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/password/questions")
                .json(body),
        )
        .await
    }

    /// `PUT /v1/users/me/security-questions`.
    pub async fn set_my_security_questions(
        &self,
        body: &api::SecurityQuestionsRequest,
    ) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::PUT, "/v1/users/me/security-questions")
                .json(body),
        )
        .await
    }

    /// `PUT /v1/users/{id}/security-questions` (admin).
    pub async fn set_user_security_questions(
        &self,
        id: Uuid,
        body: &api::SecurityQuestionsRequest,
    ) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::PUT, &format!("/v1/users/{id}/security-questions"))
                .json(body),
        )
        .await
    }

    /// `POST /v1/users/{id}/verification-code` (admin).
    pub async fn send_verification_code(
        &self,
        id: Uuid,
        body: &api::VerificationCodeRequest,
    ) -> Result<api::Sent, Error> {
        self.send(
            self.request(Method::POST, &format!("/v1/users/{id}/verification-code"))
                .json(body),
        )
        .await
    }

    /// `DELETE /v1/users/{id}/mfa` (admin): every second factor of the user off.
    pub async fn reset_user_mfa(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/{id}/mfa")))
            .await
    }

    /// `DELETE /v1/users/{id}/mfa/keys/{key_id}` (admin).
    pub async fn delete_user_mfa_key(&self, id: Uuid, key_id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/{id}/mfa/keys/{key_id}")))
            .await
    }

    /// `GET /v1/users/{id}/trusted-devices` (admin).
    pub async fn user_trusted_devices(&self, id: Uuid) -> Result<api::TrustedDeviceList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/users/{id}/trusted-devices")))
            .await
    }

    /// `DELETE /v1/users/{id}/trusted-devices/{device_id}` (admin).
    pub async fn delete_user_trusted_device(&self, id: Uuid, device_id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(
            Method::DELETE,
            &format!("/v1/users/{id}/trusted-devices/{device_id}"),
        ))
        .await
    }

    /// `GET /v1/mfa/types`.
    pub async fn mfa_types(&self) -> Result<Vec<api::LookupItem>, Error> {
        self.send(self.request(Method::GET, "/v1/mfa/types")).await
    }

    /// `GET /v1/mfa/statuses`.
    pub async fn mfa_statuses(&self) -> Result<Vec<api::LookupItem>, Error> {
        self.send(self.request(Method::GET, "/v1/mfa/statuses"))
            .await
    }

    /// `GET /.well-known/jwks.json`.
    pub async fn jwks(&self) -> Result<Jwks, Error> {
        self.send(self.request(Method::GET, "/.well-known/jwks.json"))
            .await
    }

    /// `GET /.well-known/openid-configuration`.
    pub async fn openid_configuration(&self) -> Result<OpenIdConfiguration, Error> {
        self.send(self.request(Method::GET, "/.well-known/openid-configuration"))
            .await
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<Health, Error> {
        self.send(self.request(Method::GET, "/healthz")).await
    }

    /// `GET /readyz`.
    pub async fn readyz(&self) -> Result<Health, Error> {
        self.send(self.request(Method::GET, "/readyz")).await
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> Result<String, Error> {
        Ok(
            check(self.execute(self.request(Method::GET, "/metrics")).await?)
                .await?
                .text()
                .await?,
        )
    }

    /// `GET /v1/openapi.json`.
    pub async fn openapi(&self) -> Result<serde_json::Value, Error> {
        self.send(self.request(Method::GET, "/v1/openapi.json"))
            .await
    }
}
