//! The OpenID provider's storage: clients looked up by id alone, authorization codes,
//! consents, and the sessions made for clients.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::{SessionId, UserId};
use crate::model::Session;
use crate::oauth::OAuthClient;
use crate::store::Liveness;

/// An authorization code, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthCode {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// The client it was issued to.
    pub client_id: uuid::Uuid,
    /// Who authorized it.
    pub user_id: UserId,
    /// The browser session they authorized it in.
    pub browser_sid: SessionId,
    /// The redirect URI of the request, which the token request must repeat.
    pub redirect_uri: String,
    /// The scopes granted, space-separated.
    pub scope: String,
    /// The request's nonce, for the ID token.
    pub nonce: Option<String>,
    /// The PKCE S256 challenge, when the request had one.
    pub code_challenge: Option<String>,
    /// When the user signed in to the browser session.
    pub auth_time: DateTime<Utc>,
    /// How they signed in.
    pub amr: Vec<String>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// What presenting an authorization code found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redeemed {
    /// First use: the code, now spent, and bound to the session about to be made.
    Fresh(AuthCode),
    /// Used before; the session its first use made (which a second use ends).
    Reused {
        /// The code's user.
        user_id: UserId,
        /// The session made by the first use.
        grant_sid: Option<SessionId>,
        /// The client it was issued to.
        client_id: uuid::Uuid,
    },
    /// No such code.
    Unknown,
}

/// A user's consent to a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    /// The client.
    pub client_id: uuid::Uuid,
    /// The scopes consented to, space-separated.
    pub scope: String,
    /// When last given.
    pub granted_at: DateTime<Utc>,
}

/// The storage of the OpenID provider.
#[async_trait]
pub trait OidcStore: Send + Sync + 'static {
    /// A client by its id alone, with the SHA-256 of its secret (confidential clients).
    async fn oauth_client_by_id(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<(OAuthClient, Option<String>)>, StoreError>;
    /// Keeps a new authorization code; drops codes long expired.
    async fn insert_auth_code(&self, code: &AuthCode, now: DateTime<Utc>)
        -> Result<(), StoreError>;
    /// Spends a code in one atomic step, recording `grant_sid` as the session its use makes.
    async fn redeem_auth_code(
        &self,
        code_hash: &str,
        grant_sid: SessionId,
    ) -> Result<Redeemed, StoreError>;
    /// The live session of an unused refresh token, without spending it.
    async fn session_by_refresh(
        &self,
        token_hash: &str,
        live: Liveness,
    ) -> Result<Option<Session>, StoreError>;
    /// One session, live or not.
    async fn session_by_id(&self, id: SessionId) -> Result<Option<Session>, StoreError>;
    /// A user's consent to a client.
    async fn consent(
        &self,
        user_id: UserId,
        client_id: uuid::Uuid,
    ) -> Result<Option<Consent>, StoreError>;
    /// Records (or replaces) a user's consent to a client.
    async fn save_consent(&self, user_id: UserId, consent: &Consent) -> Result<(), StoreError>;
    /// A user's consents, newest first.
    async fn consents(&self, user_id: UserId) -> Result<Vec<Consent>, StoreError>;
    /// Withdraws a consent; false when there was none.
    async fn delete_consent(
        &self,
        user_id: UserId,
        client_id: uuid::Uuid,
    ) -> Result<bool, StoreError>;
    /// Ends every live session a user's authorization of a client made; answers how many.
    async fn revoke_client_sessions(
        &self,
        user_id: UserId,
        client_id: uuid::Uuid,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// The live client sessions made from a browser session (whose clients a logout of it
    /// reaches).
    async fn sessions_from_browser(
        &self,
        browser_sid: SessionId,
        now: DateTime<Utc>,
    ) -> Result<Vec<Session>, StoreError>;
}
