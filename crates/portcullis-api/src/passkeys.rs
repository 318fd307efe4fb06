//! Passkeys (WebAuthn) and the hosted pages' hand-off.

use super::*;

/// A WebAuthn ceremony's options, for `navigator.credentials.create()` or `.get()`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyChallenge {
    /// Hand back with the result.
    pub challenge_id: Uuid,
    /// Pass as is: `{"publicKey": {...}}` (binary values base64url).
    #[schema(value_type = Object)]
    pub options: serde_json::Value,
}

/// The result of a WebAuthn ceremony, handed back.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyAssertion {
    /// From the start call.
    pub challenge_id: Uuid,
    /// The browser's `PublicKeyCredential`, as JSON (binary values base64url).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// `POST /v1/users/me/passkeys/register/finish`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyRegisterFinish {
    /// From the start call.
    pub challenge_id: Uuid,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.create()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// A name for it ("Passkey" when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `PATCH /v1/users/me/passkeys/{id}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeyRename {
    /// The new name (1 to 100 characters).
    pub name: String,
}

/// `POST /v1/auth/passkey/start`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct PasskeySignInStart {
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// `POST /v1/auth/passkey/finish`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PasskeySignInFinish {
    /// From the start call.
    pub challenge_id: Uuid,
    /// The browser's `PublicKeyCredential` from `navigator.credentials.get()`.
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
    /// Organization slug; `default` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organization: Option<String>,
}

/// A passkey, as listed (never its key).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Passkey {
    /// Identifier.
    pub id: Uuid,
    /// The user's name for it.
    pub name: String,
    /// The credential id the authenticator gave it (base64url).
    pub credential_id: String,
    /// The signature counter at its last use (0: the authenticator keeps none).
    pub counter: u32,
    /// Whether it may be backed up (synced between devices).
    pub backup_eligible: bool,
    /// Whether it is backed up.
    pub backup_state: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
    /// Its last sign-in.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A user's passkeys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PasskeyList {
    /// Oldest first.
    pub items: Vec<Passkey>,
}
