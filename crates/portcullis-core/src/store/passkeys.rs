//! Passkeys and the WebAuthn ceremonies in progress.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::error::StoreError;
use crate::ids::UserId;
use crate::model::PasskeyInfo;

/// A WebAuthn ceremony in progress, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnChallenge {
    /// Identifier, handed to the client.
    pub id: uuid::Uuid,
    /// The user registering (none for a sign-in: the credential names the user).
    pub user_id: Option<UserId>,
    /// `register` or `authenticate`.
    pub kind: String,
    /// The verifier's state (JSON).
    pub state: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// The storage of passkeys and the WebAuthn ceremonies in progress.
#[async_trait]
pub trait PasskeyStore: Send + Sync + 'static {
    /// Stores a passkey with the verifier's record of it (`credential`, JSON).
    async fn insert_passkey(&self, info: &PasskeyInfo, credential: &str) -> Result<(), StoreError>;
    /// A user's passkeys with their records, oldest first.
    async fn passkeys(&self, user_id: UserId) -> Result<Vec<(PasskeyInfo, String)>, StoreError>;
    /// Records a use: the updated record, counter and backup state; false when gone.
    async fn use_passkey(
        &self,
        id: uuid::Uuid,
        credential: &str,
        counter: u32,
        backup_state: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Renames a user's passkey; false when not theirs.
    async fn rename_passkey(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
        name: &str,
    ) -> Result<bool, StoreError>;
    /// Deletes a user's passkey; false when not theirs.
    async fn delete_passkey(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// Keeps a WebAuthn ceremony's state until `expires_at`; drops expired ones.
    async fn insert_webauthn_challenge(
        &self,
        challenge: &WebauthnChallenge,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Takes a ceremony's state out (whatever its expiry: the caller checks), so it serves once.
    async fn take_webauthn_challenge(
        &self,
        id: uuid::Uuid,
    ) -> Result<Option<WebauthnChallenge>, StoreError>;
}
