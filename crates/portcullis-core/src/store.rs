//! The storage port. Each method fits one use case and is atomic on its own; the SQLite and
//! PostgreSQL implementations in `portcullis-store` behave identically (their shared
//! conformance suite proves it).

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::audit::AuditEvent;
use crate::identity::Attributes;
use crate::ids::{AuditId, OrgId, SessionId, UserId};
use crate::model::{
    AppToken, Credentials, Device, License, MfaKey, Organization, PasskeyInfo, Role, Session,
    TrustedDevice, User,
};
use crate::tokens::StoredSigningKey;

/// Storage failures, in the terms the use cases need.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// A unique field is taken; `what` names it (`email`, `phone`, `username`, `slug`).
    #[error("{what} already exists")]
    Conflict {
        /// The field.
        what: &'static str,
    },
    /// The database cannot be reached or failed.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be read back (a bug or manual tampering).
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Identifier.
    pub id: UserId,
    /// Organization.
    pub org_id: OrgId,
    /// The profile.
    pub profile: Profile,
    /// PHC hash, if the account has a password.
    pub password_hash: Option<String>,
    /// Guest account.
    pub anonymous: bool,
    /// Active from the start.
    pub active: bool,
    /// Roles granted at creation.
    pub roles: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// The editable profile of a user, whole (the use case merges patches).
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    /// Normalised email.
    pub email: Option<String>,
    /// Email proven.
    pub email_verified: bool,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Phone proven.
    pub phone_verified: bool,
    /// Username as given.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// Application fields.
    pub attributes: Attributes,
}

impl Profile {
    /// The profile of an existing user.
    pub fn of(user: &User) -> Self {
        Self {
            email: user.email.clone(),
            email_verified: user.email_verified,
            phone: user.phone.clone(),
            phone_verified: user.phone_verified,
            username: user.username.clone(),
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            attributes: user.attributes.clone(),
        }
    }
}

/// How a user is looked up at sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LookupKey {
    /// Normalised email.
    Email(String),
    /// E.164 phone.
    Phone(String),
    /// Case-folded username.
    Username(String),
}

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

/// A hosted-page hand-off code, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UiCode {
    /// SHA-256 of the code.
    pub code_hash: String,
    /// Who signed in.
    pub user_id: UserId,
    /// The PKCE S256 challenge the code was issued for.
    pub challenge: String,
    /// How they signed in (the session's `amr`).
    pub amr: Vec<String>,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Filters for the admin user list.
#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    /// Only this organization; `None` is every organization.
    pub org_id: Option<OrgId>,
    /// Case-insensitive substring of email, phone, username or names.
    pub query: Option<String>,
    /// Holds this role.
    pub role: Option<String>,
    /// Active or not.
    pub active: Option<bool>,
    /// Ids strictly after this one (the cursor).
    pub after: Option<UserId>,
    /// At most this many.
    pub limit: usize,
}

/// Filters for the audit log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this organization; `None` is every organization.
    pub org_id: Option<OrgId>,
    /// Only about this user.
    pub user_id: Option<UserId>,
    /// Only this kind (wire name).
    pub kind: Option<String>,
    /// At or after this time.
    pub since: Option<DateTime<Utc>>,
    /// Strictly before this time.
    pub until: Option<DateTime<Utc>>,
    /// Ids strictly before this one (newest first; the cursor).
    pub before: Option<AuditId>,
    /// At most this many.
    pub limit: usize,
}

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
        session: Session,
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

/// A one-time code to store (only hashes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// Identifier; part of what the code hash covers.
    pub id: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// What it is for (`verify_email`, `login`, `reset`, ...).
    pub purpose: String,
    /// The address it was sent to.
    pub destination: String,
    /// Keyed hash of the code.
    pub code_hash: String,
    /// SHA-256 of the link token, for reset links.
    pub token_hash: Option<String>,
    /// Issue time.
    pub created_at: DateTime<Utc>,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
}

/// A stored code, as read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCode {
    /// Identifier.
    pub id: uuid::Uuid,
    /// Owner.
    pub user_id: UserId,
    /// What it is for.
    pub purpose: String,
    /// The address it was sent to.
    pub destination: String,
    /// Keyed hash of the code.
    pub code_hash: String,
    /// Wrong tries so far.
    pub attempts: u32,
    /// End of validity.
    pub expires_at: DateTime<Utc>,
    /// Already used or retired.
    pub consumed: bool,
}

/// A message in the outbox, its payload sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMessage {
    /// Identifier (time-ordered).
    pub id: uuid::Uuid,
    /// Organization, for the audit log.
    pub org_id: Option<OrgId>,
    /// What it is for (the code purpose, or `notice`).
    pub purpose: String,
    /// Address it goes to (for per-recipient limits).
    pub recipient: String,
    /// The sealed [`crate::notify::Message`].
    pub payload: String,
    /// Enqueue time.
    pub created_at: DateTime<Utc>,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// How the outbox stands, for metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxStats {
    /// Waiting to be sent, never tried.
    pub pending: u64,
    /// Waiting to be sent again after a failure.
    pub retrying: u64,
    /// Given up.
    pub failed: u64,
}

/// What registering a device with a license key did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Registration {
    /// Registered; the license's count went up by one.
    Registered(Device),
    /// No license has this key.
    UnknownLicense,
    /// The license has expired.
    Expired,
    /// The license has all the devices it allows.
    Full,
}

/// How failures turn into locks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LockoutRule {
    /// Failures (within `window`) that lock.
    pub threshold: u32,
    /// Failures older than this no longer count; locks older than a day are forgotten.
    pub window: chrono::Duration,
    /// The first lock's length; each further lock (within a day) doubles it...
    pub base: chrono::Duration,
    /// ...up to this.
    pub max: chrono::Duration,
}

/// The storage port.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// Checks that the database answers and takes a write (committed).
    async fn ping(&self) -> Result<(), StoreError>;

    /// Reads a value of the node-shared settings table.
    async fn meta_get(&self, key: &str) -> Result<Option<String>, StoreError>;
    /// Sets a value unless one is there; answers the value now stored.
    async fn meta_init(&self, key: &str, value: &str) -> Result<String, StoreError>;

    /// Inserts the organization unless one with its slug exists; answers the stored one.
    async fn ensure_org(&self, org: &Organization) -> Result<Organization, StoreError>;
    /// An organization by slug.
    async fn org_by_slug(&self, slug: &str) -> Result<Option<Organization>, StoreError>;
    /// An organization by id.
    async fn org_by_id(&self, id: OrgId) -> Result<Option<Organization>, StoreError>;
    /// Creates an organization; `Conflict { what: "slug" }` when the slug is taken.
    async fn insert_org(&self, org: &Organization) -> Result<Organization, StoreError>;
    /// Organizations by id order, after the cursor.
    async fn list_orgs(
        &self,
        after: Option<OrgId>,
        limit: usize,
    ) -> Result<Vec<Organization>, StoreError>;
    /// Replaces name and policy.
    async fn update_org(&self, org: &Organization) -> Result<Option<Organization>, StoreError>;

    /// Creates a user with roles.
    async fn insert_user(&self, user: &NewUser) -> Result<User, StoreError>;
    /// Inserts many users (with their roles) in one transaction: all or none. For imports.
    async fn insert_users(&self, users: &[NewUser]) -> Result<u64, StoreError>;
    /// The user's number (for the dialects whose clients type user ids as numbers), given
    /// on first ask: 1, 2, 3, ... never reused, even after the user is deleted.
    async fn user_number(&self, user_id: UserId) -> Result<u32, StoreError>;
    /// The user a number names, if it still names one.
    async fn user_by_number(&self, number: u32) -> Result<Option<UserId>, StoreError>;
    /// A user by id.
    async fn user_by_id(&self, id: UserId) -> Result<Option<User>, StoreError>;
    /// A user and password hash by sign-in identifier within an organization.
    async fn credentials(
        &self,
        org_id: OrgId,
        key: &LookupKey,
    ) -> Result<Option<Credentials>, StoreError>;
    /// The password hash of a user.
    async fn password_hash(&self, id: UserId) -> Result<Option<String>, StoreError>;
    /// Replaces the profile.
    async fn update_profile(
        &self,
        id: UserId,
        profile: &Profile,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    /// Sets `active`; deactivation revokes every session in the same transaction.
    async fn set_active(
        &self,
        id: UserId,
        active: bool,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    /// Replaces the hash after a login with outdated parameters.
    async fn upgrade_password_hash(&self, id: UserId, hash: &str) -> Result<(), StoreError>;
    /// Sets a new password and revokes every session but `keep`, atomically.
    async fn change_password(
        &self,
        id: UserId,
        hash: &str,
        keep: Option<SessionId>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Turns a guest into a full account: sets the profile's addresses and username, the
    /// password hash, and clears `anonymous`. `None` when the user is not anonymous.
    async fn upgrade_anonymous(
        &self,
        id: UserId,
        profile: &Profile,
        password_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<User>, StoreError>;
    /// Deletes guest accounts with no sign-in, refresh or change since `idle_since`;
    /// answers the ids (with their organizations) deleted.
    async fn delete_idle_anonymous(
        &self,
        idle_since: DateTime<Utc>,
    ) -> Result<Vec<(UserId, OrgId)>, StoreError>;
    /// Deletes the user and, by cascade, everything of theirs. False when absent.
    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError>;
    /// Lists users by id order, with their password hashes.
    async fn list_credentials(&self, filter: &UserFilter) -> Result<Vec<Credentials>, StoreError>;
    /// Lists users by id order.
    async fn list_users(&self, filter: &UserFilter) -> Result<Vec<User>, StoreError> {
        Ok(self
            .list_credentials(filter)
            .await?
            .into_iter()
            .map(|c| c.user)
            .collect())
    }
    /// Replaces the roles, keeping `added_at` of roles already held.
    async fn set_roles(
        &self,
        id: UserId,
        roles: &[String],
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<Role>>, StoreError>;

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

    /// Stores an application token by the hash of its secret.
    async fn insert_app_token(&self, token: &AppToken, token_hash: &str) -> Result<(), StoreError>;
    /// A user's application tokens, newest first.
    async fn list_app_tokens(&self, user_id: UserId) -> Result<Vec<AppToken>, StoreError>;
    /// Deletes one, with the sessions made from it; false when it was not the user's.
    async fn delete_app_token(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// An application token by the hash of its secret, marking it used at `now`.
    async fn use_app_token(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AppToken>, StoreError>;

    /// Stores a license by the hash of its key.
    async fn insert_license(&self, license: &License, key_hash: &str) -> Result<(), StoreError>;
    /// An organization's licenses, newest first.
    async fn list_licenses(&self, org_id: OrgId) -> Result<Vec<License>, StoreError>;
    /// Deletes a license with its devices and their sessions; false when not the org's.
    async fn delete_license(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// Registers a device under the license with this key hash, atomically within its limit.
    async fn register_device(
        &self,
        key_hash: &str,
        device: &Device,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Registration, StoreError>;
    /// A device by the hash of its token, with its license's expiry, marking it seen at `now`.
    async fn use_device(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<(Device, Option<DateTime<Utc>>)>, StoreError>;
    /// Replaces a device's token (by the hash of the old one); false when there is no such
    /// device.
    async fn rotate_device_token(&self, old_hash: &str, new_hash: &str)
        -> Result<bool, StoreError>;
    /// Keeps a hosted-page hand-off code (by its hash) until `expires_at`; drops expired ones.
    async fn insert_ui_code(&self, code: &UiCode, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Takes a hand-off code out (whatever its expiry: the caller checks), so it serves once.
    async fn take_ui_code(&self, code_hash: &str) -> Result<Option<UiCode>, StoreError>;
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
    /// An organization's devices, newest first.
    async fn list_devices(&self, org_id: OrgId) -> Result<Vec<Device>, StoreError>;
    /// Deletes a device and its sessions, freeing its license slot; false when not the org's.
    async fn delete_device(&self, org_id: OrgId, id: uuid::Uuid) -> Result<bool, StoreError>;

    /// Stores a new, not yet active, second-factor key with its sealed secret.
    async fn insert_mfa_key(&self, key: &MfaKey, secret_sealed: &str) -> Result<(), StoreError>;
    /// Which second factors a user has: an active TOTP key, a passkey (one statement: it is
    /// asked at every sign-in).
    async fn second_factors(&self, user_id: UserId) -> Result<(bool, bool), StoreError>;
    /// A user's second-factor keys with their sealed secrets.
    async fn mfa_keys(&self, user_id: UserId) -> Result<Vec<(MfaKey, String)>, StoreError>;
    /// Activates a pending key at TOTP step `step`, turns MFA on and replaces the recovery
    /// codes, in one transaction; false when there is no such pending key.
    async fn activate_mfa_key(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
        step: i64,
        recovery_hashes: &[String],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Records the TOTP step a code was accepted for; false when that step (or a later one)
    /// was used already: a replay.
    async fn use_totp_step(&self, id: uuid::Uuid, step: i64) -> Result<bool, StoreError>;
    /// Deletes a key; when no active key is left, MFA goes off with the recovery codes and
    /// trusted devices. False when there was no such key.
    async fn delete_mfa_key(&self, user_id: UserId, id: uuid::Uuid) -> Result<bool, StoreError>;
    /// Every second factor off: keys, recovery codes, trusted devices.
    async fn disable_mfa(&self, user_id: UserId) -> Result<(), StoreError>;
    /// Replaces the recovery codes.
    async fn replace_recovery_codes(
        &self,
        user_id: UserId,
        hashes: &[String],
    ) -> Result<(), StoreError>;
    /// Uses an unused recovery code, once.
    async fn use_recovery_code(
        &self,
        user_id: UserId,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Trusts a device by the hash of its token.
    async fn insert_trusted_device(
        &self,
        device: &TrustedDevice,
        token_hash: &str,
    ) -> Result<(), StoreError>;
    /// Whether this token is a live trusted device of the user (and marks it used).
    async fn use_trusted_device(
        &self,
        user_id: UserId,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// A user's trusted devices that have not expired.
    async fn list_trusted_devices(
        &self,
        user_id: UserId,
        now: DateTime<Utc>,
    ) -> Result<Vec<TrustedDevice>, StoreError>;
    /// Deletes one; false when it was not the user's.
    async fn delete_trusted_device(
        &self,
        user_id: UserId,
        id: uuid::Uuid,
    ) -> Result<bool, StoreError>;

    /// Replaces a user's security questions with `(question, answer hash)` pairs, in order.
    async fn set_security_questions(
        &self,
        user_id: UserId,
        questions: &[(String, String)],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// A user's security questions with their answer hashes, in order.
    async fn security_questions(
        &self,
        user_id: UserId,
    ) -> Result<Vec<(String, String)>, StoreError>;

    /// When the key is locked at `now`, the end of the lock.
    async fn locked_until(
        &self,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Counts a failure atomically; when it reaches the threshold, locks and answers the end.
    async fn record_failure(
        &self,
        key: &str,
        rule: &LockoutRule,
        now: DateTime<Utc>,
    ) -> Result<Option<DateTime<Utc>>, StoreError>;
    /// Forgets the failures and locks of a key (a success, or a password reset).
    async fn clear_failures(&self, key: &str) -> Result<(), StoreError>;

    /// Counts a hit on `key` in the window starting at `window_start` (a new window starts
    /// over); answers the hits in this window, this one included.
    async fn hit(&self, key: &str, window_start: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Deletes counters of windows that started before `before`.
    async fn purge_rate_limits(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Every signing key.
    async fn signing_keys(&self) -> Result<Vec<StoredSigningKey>, StoreError>;
    /// Adds a signing key.
    async fn insert_signing_key(&self, key: &StoredSigningKey) -> Result<(), StoreError>;
    /// Adds the first signing key unless another process already did (nodes starting
    /// together on a new database must agree on one); answers whether this one was added.
    async fn insert_first_signing_key(&self, key: &StoredSigningKey) -> Result<bool, StoreError>;

    /// Stores a code and the message that carries it, retiring earlier live codes of the
    /// same user and purpose, in one transaction.
    async fn issue_code(&self, code: &NewCode, message: &QueuedMessage) -> Result<(), StoreError>;
    /// The newest code of a user for a purpose that is neither used nor retired.
    async fn live_code(
        &self,
        user_id: UserId,
        purpose: &str,
    ) -> Result<Option<StoredCode>, StoreError>;
    /// The newest live code of `purpose` sent to `destination`, whoever asked for it (a
    /// proposed new address, which is no one's yet).
    async fn live_code_to(
        &self,
        purpose: &str,
        destination: &str,
    ) -> Result<Option<StoredCode>, StoreError>;
    /// A live code by the hash of its link token.
    async fn code_by_token(&self, token_hash: &str) -> Result<Option<StoredCode>, StoreError>;
    /// Takes one try at a code before it is compared, atomically, so that however many
    /// checks race, at most `max_attempts` are compared: the tries now counted, or `None`
    /// when none was left.
    async fn take_code_try(
        &self,
        id: uuid::Uuid,
        max_attempts: u32,
    ) -> Result<Option<u32>, StoreError>;
    /// Gives back the try that a right code took (only wrong codes count).
    async fn return_code_try(&self, id: uuid::Uuid) -> Result<(), StoreError>;
    /// Uses a code, once: false when it was already used, retired, or out of tries.
    async fn consume_code(
        &self,
        id: uuid::Uuid,
        max_attempts: u32,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Marks an address verified, if it is still the user's.
    async fn mark_verified(
        &self,
        user_id: UserId,
        key: &LookupKey,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;

    /// Queues a message.
    async fn enqueue(&self, message: &QueuedMessage) -> Result<(), StoreError>;
    /// Messages queued for a recipient and purpose at or after each of two instants (the
    /// latest interval and the last day, in one read).
    async fn count_messages(
        &self,
        recipient: &str,
        purpose: &str,
        since: [DateTime<Utc>; 2],
    ) -> Result<[u64; 2], StoreError>;
    /// Leases up to `limit` due messages until `lease_until`, so that no other worker or
    /// node takes them meanwhile; a worker that dies leaves them to be taken again.
    async fn claim_messages(
        &self,
        now: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<QueuedMessage>, StoreError>;
    /// Records a delivery and wipes the payload.
    async fn message_sent(&self, id: uuid::Uuid, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Records a failed delivery: retried at `retry_at`, or given up when `None`.
    async fn message_failed(
        &self,
        id: uuid::Uuid,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Counts the outbox's messages by state.
    async fn outbox_stats(&self) -> Result<OutboxStats, StoreError>;

    /// Records an audit event.
    async fn record_audit(&self, event: &AuditEvent) -> Result<(), StoreError>;
    /// Lists audit events, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEvent>, StoreError>;
    /// Deletes audit events recorded before `before`; answers how many.
    async fn purge_audit(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;
}
