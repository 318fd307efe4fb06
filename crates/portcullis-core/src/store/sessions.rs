//! Sessions, refresh-token rotation and signing keys.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::{SessionId, UserId};
use crate::model::{Session, User};
use crate::tokens::StoredSigningKey;

/// When a session counts as live.
#[derive(Debug, Clone, Copy)]
pub struct Liveness {
    /// Now.
    pub now: DateTime<Utc>,
    /// Sessions last seen before this are idle and dead.
    pub idle_cutoff: DateTime<Utc>,
}

/// What presenting a refresh token did.
#[derive(Debug, Clone, PartialEq)]
pub enum RotateOutcome {
    /// The token was live and is now retired; the new one is stored.
    Rotated {
        /// The session, with `last_seen_at` updated.
        session: Box<Session>,
    },
    /// The token had already been used: its session is now revoked.
    Reused {
        /// The revoked session.
        session_id: SessionId,
        /// Its owner.
        user_id: UserId,
    },
    /// The token was live but its session had ended (logout, expiry, deactivation).
    SessionEnded,
    /// No such token.
    Unknown,
}

/// The storage of sessions, refresh-token rotation and signing keys.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Starts a session with its first refresh token and records the login time.
    async fn create_session(&self, session: &Session, refresh_hash: &str)
        -> Result<(), StoreError>;
    /// Consumes a refresh token in one atomic step and stores its successor.
    async fn rotate_refresh_token(
        &self,
        old_hash: &str,
        new_hash: &str,
        live: Liveness,
    ) -> Result<RotateOutcome, StoreError>;
    /// The user behind a live session, if both the session and the user are live.
    async fn session_user(&self, id: SessionId, live: Liveness)
        -> Result<Option<User>, StoreError>;
    /// The live sessions of a user, newest first.
    async fn list_sessions(
        &self,
        user_id: UserId,
        live: Liveness,
    ) -> Result<Vec<Session>, StoreError>;
    /// Revokes one session of a user; false when there was no live one.
    async fn revoke_session(
        &self,
        user_id: UserId,
        id: SessionId,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Revokes every session of a user but `keep`; answers how many.
    async fn revoke_sessions(
        &self,
        user_id: UserId,
        keep: Option<SessionId>,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError>;
    /// Every signing key.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Adds a signing key.
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;
    /// Adds the first signing key unless another process already did (nodes starting
    /// together on a new database must agree on one); answers whether this one was added.
    async fn insert_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError>;
}
