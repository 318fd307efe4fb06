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

mod app_tokens;
mod audit;
mod auth;
mod codes;
mod devices;
mod discovery;
mod identity_providers;
mod mfa;
mod oauth_clients;
mod orgs;
mod scim;
mod users;
mod webhooks;

use portcullis_api::{Problem, ProblemCode, RefreshRequest, TokenPair};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

pub use audit::AuditQuery;
pub use portcullis_api as api;
pub use users::UserQuery;

/// The invalid fields of a problem, for its message: ` [field: what is wrong; ...]`.
fn fields(errors: &[api::FieldProblem]) -> String {
    if errors.is_empty() {
        return String::new();
    }
    let each: Vec<String> = errors
        .iter()
        .map(|e| format!("{}: {}", e.field, e.message))
        .collect();
    format!(" [{}]", each.join("; "))
}

/// What a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server answered with a problem.
    #[error("{status}: {} ({}){}", problem.detail, problem.code.as_str(), fields(&problem.errors))]
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
}
