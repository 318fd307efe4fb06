//! Row types as read from either database, and their mapping to core types.

use chrono::{DateTime, Utc};
use portcullis_core::audit::AuditEvent;
use portcullis_core::identity::Attributes;
use portcullis_core::model::{Credentials, Grant, OrgPolicy, Organization, Role, Session, User};
use portcullis_core::store::{AuthCode, Consent, NewUser, StoreError};
use portcullis_core::tokens::StoredSigningKey;
use sqlx::FromRow;

/// Milliseconds since the epoch, the stored form of every time.
pub(crate) fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub(crate) fn time(v: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_millis(v).ok_or_else(|| StoreError::Corrupt(format!("time {v}")))
}

fn id<T: std::str::FromStr>(s: &str) -> Result<T, StoreError> {
    s.parse()
        .map_err(|_| StoreError::Corrupt(format!("id {s}")))
}

/// Maps a database error: unique violations become [`StoreError::Conflict`] naming the field.
#[expect(clippy::needless_pass_by_value, reason = "shaped for map_err(db_err)")]
pub(crate) fn db_err(e: sqlx::Error) -> StoreError {
    if let Some(hint) = pooler_hint(&e) {
        tracing::error!("{hint}");
        return StoreError::Unavailable(hint.to_owned());
    }
    if let sqlx::Error::Database(db) = &e {
        if db.is_unique_violation() {
            let text = db
                .constraint()
                .map_or_else(|| db.message().to_owned(), str::to_owned);
            let what = ["email", "phone", "username", "slug"]
                .into_iter()
                .find(|w| text.contains(w))
                .unwrap_or("record");
            return StoreError::Conflict { what };
        }
    }
    StoreError::Unavailable(e.to_string())
}

/// What to set when `e` says that statements prepared under a name went astray: what a
/// transaction pooler does to a node not told it is behind one (a name prepared on one
/// server connection is missing on, or already taken on, the next).
pub(crate) fn pooler_hint(e: &sqlx::Error) -> Option<&'static str> {
    let db = e.as_database_error()?;
    let astray = matches!(db.code().as_deref(), Some("42P05" | "26000"))
        && db.message().contains("\"sqlx_s_");
    astray.then_some(
        "prepared statements go astray between transactions: PORTCULLIS_DATABASE_URL \
         names a transaction pooler (PgBouncer's pool_mode = transaction); set \
         PORTCULLIS_DATABASE_POOL_MODE=transaction",
    )
}

/// The columns every user query selects.
pub(crate) const USER_COLUMNS: &str = "u.id, u.org_id, o.slug AS org_slug, u.email, u.email_verified, u.phone, \
     u.phone_verified, u.username, u.first_name, u.last_name, u.anonymous, u.active, u.mfa_enabled, \
     u.attributes, u.created_at, u.updated_at, u.last_login_at, u.password_hash \
     FROM users u JOIN organizations o ON o.id = u.org_id";

/// The columns of a query for one user with its roles in the same read: the user's row once
/// for each role ([`UserRoleRow`], folded by [`user_with_roles`]).
pub(crate) const USER_ROLE_COLUMNS: &str = "u.id, u.org_id, o.slug AS org_slug, u.email, u.email_verified, u.phone, \
     u.phone_verified, u.username, u.first_name, u.last_name, u.anonymous, u.active, u.mfa_enabled, \
     u.attributes, u.created_at, u.updated_at, u.last_login_at, u.password_hash, \
     r.role AS role, r.added_at AS role_added_at \
     FROM users u JOIN organizations o ON o.id = u.org_id LEFT JOIN user_roles r ON r.user_id = u.id";

/// A user's row with one of its roles (none: a user without roles).
#[derive(Debug, FromRow)]
pub(crate) struct UserRoleRow {
    #[sqlx(flatten)]
    user: UserRow,
    role: Option<String>,
    role_added_at: Option<i64>,
}

/// The one user of `rows` (read with [`USER_ROLE_COLUMNS`]), with its roles.
pub(crate) fn user_with_roles(rows: Vec<UserRoleRow>) -> Result<Option<Credentials>, StoreError> {
    let mut roles = Vec::with_capacity(rows.len());
    let mut user = None;
    for row in rows {
        if let (Some(role), Some(added_at)) = (row.role, row.role_added_at) {
            roles.push(RoleRow {
                user_id: row.user.id.clone(),
                role,
                added_at,
            });
        }
        user.get_or_insert(row.user);
    }
    user.map(|u| u.into_credentials(&mut roles)).transpose()
}

#[derive(Debug, FromRow)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    org_id: String,
    org_slug: String,
    email: Option<String>,
    email_verified: bool,
    phone: Option<String>,
    phone_verified: bool,
    username: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    anonymous: bool,
    active: bool,
    mfa_enabled: bool,
    attributes: String,
    created_at: i64,
    updated_at: i64,
    last_login_at: Option<i64>,
    password_hash: Option<String>,
}

#[derive(Debug, FromRow)]
pub(crate) struct RoleRow {
    pub(crate) user_id: String,
    role: String,
    added_at: i64,
}

impl RoleRow {
    pub(crate) fn into_role(self) -> Result<Role, StoreError> {
        Ok(Role {
            name: self.role,
            added_at: time(self.added_at)?,
        })
    }
}

/// The user just written from `new`, as a read would give it back (times at the stored
/// millisecond precision, roles sorted), without the read.
pub(crate) fn inserted_user(new: &NewUser, org_slug: String) -> Result<User, StoreError> {
    let at = time(ms(new.created_at))?;
    let mut roles: Vec<Role> = new
        .roles
        .iter()
        .map(|name| Role {
            name: name.clone(),
            added_at: at,
        })
        .collect();
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    let p = &new.profile;
    Ok(User {
        id: new.id,
        org_id: new.org_id,
        org_slug,
        email: p.email.clone(),
        email_verified: p.email_verified,
        phone: p.phone.clone(),
        phone_verified: p.phone_verified,
        username: p.username.clone(),
        first_name: p.first_name.clone(),
        last_name: p.last_name.clone(),
        anonymous: new.anonymous,
        active: new.active,
        roles,
        mfa_enabled: false,
        attributes: p.attributes.clone(),
        created_at: at,
        updated_at: at,
        last_login_at: None,
    })
}

impl UserRow {
    /// The user with the roles from `roles` that are theirs.
    pub(crate) fn into_credentials(
        self,
        roles: &mut Vec<RoleRow>,
    ) -> Result<Credentials, StoreError> {
        let mine: Vec<RoleRow> = {
            let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(roles)
                .into_iter()
                .partition(|r| r.user_id == self.id);
            *roles = rest;
            mine
        };
        let mut roles: Vec<Role> = mine
            .into_iter()
            .map(RoleRow::into_role)
            .collect::<Result<_, _>>()?;
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        let user = User {
            id: id(&self.id)?,
            org_id: id(&self.org_id)?,
            org_slug: self.org_slug,
            email: self.email,
            email_verified: self.email_verified,
            phone: self.phone,
            phone_verified: self.phone_verified,
            username: self.username,
            first_name: self.first_name,
            last_name: self.last_name,
            anonymous: self.anonymous,
            active: self.active,
            roles,
            mfa_enabled: self.mfa_enabled,
            attributes: Attributes::from_json(&self.attributes),
            created_at: time(self.created_at)?,
            updated_at: time(self.updated_at)?,
            last_login_at: self.last_login_at.map(time).transpose()?,
        };
        Ok(Credentials {
            user,
            password_hash: self.password_hash,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct OrgRow {
    id: String,
    slug: String,
    name: String,
    policy: String,
    created_at: i64,
    updated_at: i64,
}

pub(crate) const ORG_COLUMNS: &str =
    "id, slug, name, policy, created_at, updated_at FROM organizations";

impl TryFrom<OrgRow> for Organization {
    type Error = StoreError;
    fn try_from(r: OrgRow) -> Result<Self, StoreError> {
        let policy: OrgPolicy = serde_json::from_str(&r.policy)
            .map_err(|e| StoreError::Corrupt(format!("policy: {e}")))?;
        Ok(Self {
            id: id(&r.id)?,
            slug: r.slug,
            name: r.name,
            policy,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

pub(crate) fn policy_json(p: &OrgPolicy) -> String {
    serde_json::to_string(p).unwrap_or_else(|_| "{}".to_owned())
}

#[derive(Debug, FromRow)]
pub(crate) struct SessionRow {
    id: String,
    user_id: String,
    created_at: i64,
    last_seen_at: i64,
    expires_at: i64,
    ip: Option<String>,
    user_agent: Option<String>,
    amr: String,
    app_token_id: Option<String>,
    device_id: Option<String>,
    client_id: Option<String>,
    scope: Option<String>,
    browser_sid: Option<String>,
    auth_time: Option<i64>,
}

pub(crate) const SESSION_COLUMNS: &str =
    "s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, \
     s.user_agent, s.amr, s.app_token_id, s.device_id, s.client_id, s.scope, s.browser_sid, \
     s.auth_time FROM sessions s";

impl TryFrom<SessionRow> for Session {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            user_id: id(&r.user_id)?,
            created_at: time(r.created_at)?,
            last_seen_at: time(r.last_seen_at)?,
            expires_at: time(r.expires_at)?,
            ip: r.ip,
            user_agent: r.user_agent,
            amr: serde_json::from_str(&r.amr).unwrap_or_default(),
            app_token_id: r.app_token_id.as_deref().map(id).transpose()?,
            device_id: r.device_id.as_deref().map(id).transpose()?,
            grant: match (r.client_id, r.browser_sid, r.auth_time) {
                (Some(client), Some(browser), Some(at)) => Some(Grant {
                    client_id: id(&client)?,
                    scope: r.scope.unwrap_or_default(),
                    browser_sid: id(&browser)?,
                    auth_time: time(at)?,
                }),
                _ => None,
            },
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct KeyRow {
    kid: String,
    algorithm: String,
    public_x: String,
    private_sealed: String,
    created_at: i64,
}

impl TryFrom<KeyRow> for StoredSigningKey {
    type Error = StoreError;
    fn try_from(r: KeyRow) -> Result<Self, StoreError> {
        Ok(Self {
            kid: r.kid,
            algorithm: portcullis_core::oauth::SigningAlg::parse(&r.algorithm)
                .ok_or_else(|| StoreError::Corrupt("signing_keys.algorithm".into()))?,
            public_x: r.public_x,
            private_sealed: r.private_sealed,
            created_at: time(r.created_at)?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct AuditRow {
    id: String,
    org_id: Option<String>,
    #[sqlx(rename = "type")]
    kind: String,
    user_id: Option<String>,
    actor_id: Option<String>,
    ip: Option<String>,
    user_agent: Option<String>,
    at: i64,
    details: String,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            org_id: r.org_id.as_deref().map(id).transpose()?,
            kind: r.kind,
            user_id: r.user_id.as_deref().map(id).transpose()?,
            actor_id: r.actor_id.as_deref().map(id).transpose()?,
            ip: r.ip,
            user_agent: r.user_agent,
            at: time(r.at)?,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::Null),
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct CodeRow {
    id: String,
    user_id: String,
    purpose: String,
    destination: String,
    code_hash: String,
    attempts: i64,
    expires_at: i64,
    consumed_at: Option<i64>,
}

pub(crate) const CODE_COLUMNS: &str =
    "id, user_id, purpose, destination, code_hash, attempts, expires_at, consumed_at FROM codes";

impl TryFrom<CodeRow> for portcullis_core::store::StoredCode {
    type Error = StoreError;
    fn try_from(r: CodeRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            user_id: id(&r.user_id)?,
            purpose: r.purpose,
            destination: r.destination,
            code_hash: r.code_hash,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            expires_at: time(r.expires_at)?,
            consumed: r.consumed_at.is_some(),
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct OutboxRow {
    id: String,
    org_id: Option<String>,
    purpose: String,
    recipient: String,
    payload: String,
    created_at: i64,
    attempts: i64,
}

impl TryFrom<OutboxRow> for portcullis_core::store::QueuedMessage {
    type Error = StoreError;
    fn try_from(r: OutboxRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            org_id: r.org_id.as_deref().map(id).transpose()?,
            purpose: r.purpose,
            recipient: r.recipient,
            payload: r.payload,
            created_at: time(r.created_at)?,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct CallRow {
    id: String,
    org_id: Option<String>,
    kind: String,
    payload: String,
    attempts: i64,
    created_at: i64,
}

impl TryFrom<CallRow> for portcullis_core::store::OutboundJob {
    type Error = StoreError;
    fn try_from(r: CallRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            org_id: r.org_id.as_deref().map(id).transpose()?,
            kind: r.kind,
            payload: r.payload,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            created_at: time(r.created_at)?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct AppTokenRow {
    id: String,
    user_id: String,
    description: String,
    prefix: String,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
}

pub(crate) const APP_TOKEN_COLUMNS: &str =
    "id, user_id, description, prefix, created_at, expires_at, last_used_at FROM app_tokens";

impl TryFrom<AppTokenRow> for portcullis_core::model::AppToken {
    type Error = StoreError;
    fn try_from(r: AppTokenRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            user_id: id(&r.user_id)?,
            description: r.description,
            prefix: r.prefix,
            created_at: time(r.created_at)?,
            expires_at: r.expires_at.map(time).transpose()?,
            last_used_at: r.last_used_at.map(time).transpose()?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct LicenseRow {
    id: String,
    org_id: String,
    prefix: String,
    max_devices: Option<i64>,
    device_count: i64,
    created_at: i64,
    expires_at: Option<i64>,
}

pub(crate) const LICENSE_COLUMNS: &str =
    "id, org_id, prefix, max_devices, device_count, created_at, expires_at FROM licenses";

impl TryFrom<LicenseRow> for portcullis_core::model::License {
    type Error = StoreError;
    fn try_from(r: LicenseRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            org_id: id(&r.org_id)?,
            prefix: r.prefix,
            max_devices: r.max_devices.map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
            device_count: u32::try_from(r.device_count).unwrap_or(0),
            created_at: time(r.created_at)?,
            expires_at: r.expires_at.map(time).transpose()?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct DeviceRow {
    id: String,
    org_id: String,
    license_id: String,
    name: String,
    device_type: Option<String>,
    identifier: Option<String>,
    created_at: i64,
    last_seen_at: Option<i64>,
}

pub(crate) const DEVICE_COLUMNS: &str =
    "d.id, d.org_id, d.license_id, d.name, d.device_type, d.identifier, d.created_at, d.last_seen_at FROM devices d";

impl TryFrom<DeviceRow> for portcullis_core::model::Device {
    type Error = StoreError;
    fn try_from(r: DeviceRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            org_id: id(&r.org_id)?,
            license_id: id(&r.license_id)?,
            name: r.name,
            device_type: r.device_type,
            identifier: r.identifier,
            created_at: time(r.created_at)?,
            last_seen_at: r.last_seen_at.map(time).transpose()?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct MfaKeyRow {
    id: String,
    user_id: String,
    kind: String,
    status: String,
    created_at: i64,
    activated_at: Option<i64>,
    pub(crate) secret_sealed: String,
}

pub(crate) const MFA_KEY_COLUMNS: &str =
    "id, user_id, kind, status, created_at, activated_at, secret_sealed FROM mfa_keys";

impl MfaKeyRow {
    pub(crate) fn into_key(self) -> Result<(portcullis_core::model::MfaKey, String), StoreError> {
        let key = portcullis_core::model::MfaKey {
            id: id(&self.id)?,
            user_id: id(&self.user_id)?,
            kind: self.kind,
            status: self.status,
            created_at: time(self.created_at)?,
            activated_at: self.activated_at.map(time).transpose()?,
        };
        Ok((key, self.secret_sealed))
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct TrustedDeviceRow {
    id: String,
    user_id: String,
    name: Option<String>,
    created_at: i64,
    expires_at: i64,
    last_used_at: Option<i64>,
}

#[derive(Debug, FromRow)]
pub(crate) struct PasskeyRow {
    id: String,
    user_id: String,
    credential_id: String,
    name: String,
    counter: i64,
    backup_eligible: bool,
    backup_state: bool,
    created_at: i64,
    last_used_at: Option<i64>,
    credential: String,
}

pub(crate) const PASSKEY_COLUMNS: &str =
    "id, user_id, credential_id, name, counter, backup_eligible, backup_state, created_at, last_used_at";

impl PasskeyRow {
    /// The listed part and the verifier's record.
    pub(crate) fn split(self) -> Result<(portcullis_core::model::PasskeyInfo, String), StoreError> {
        Ok((
            portcullis_core::model::PasskeyInfo {
                id: id(&self.id)?,
                user_id: id(&self.user_id)?,
                credential_id: self.credential_id,
                name: self.name,
                counter: u32::try_from(self.counter)
                    .map_err(|_| StoreError::Corrupt("passkeys.counter".into()))?,
                backup_eligible: self.backup_eligible,
                backup_state: self.backup_state,
                created_at: time(self.created_at)?,
                last_used_at: self.last_used_at.map(time).transpose()?,
            },
            self.credential,
        ))
    }
}

pub(crate) const TRUSTED_DEVICE_COLUMNS: &str =
    "id, user_id, name, created_at, expires_at, last_used_at FROM trusted_devices";

impl TryFrom<TrustedDeviceRow> for portcullis_core::model::TrustedDevice {
    type Error = StoreError;
    fn try_from(r: TrustedDeviceRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            user_id: id(&r.user_id)?,
            name: r.name,
            created_at: time(r.created_at)?,
            expires_at: time(r.expires_at)?,
            last_used_at: r.last_used_at.map(time).transpose()?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct OAuthClientRow {
    id: String,
    org_id: String,
    name: String,
    client_type: String,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    grant_types: String,
    scopes: String,
    token_endpoint_auth_method: String,
    id_token_signed_response_alg: String,
    first_party: bool,
    backchannel_logout_uri: Option<String>,
    access_token_lifetime_secs: Option<i64>,
    refresh_token_lifetime_secs: Option<i64>,
    secret_prefix: Option<String>,
    created_at: i64,
    updated_at: i64,
}

pub(crate) const OAUTH_CLIENT_COLUMNS: &str =
    "id, org_id, name, client_type, redirect_uris, post_logout_redirect_uris, grant_types, \
     scopes, token_endpoint_auth_method, id_token_signed_response_alg, first_party, \
     backchannel_logout_uri, access_token_lifetime_secs, refresh_token_lifetime_secs, \
     secret_prefix, created_at, updated_at FROM oauth_clients";

/// A client with the hash of its secret.
#[derive(Debug, FromRow)]
pub(crate) struct OAuthClientSecretRow {
    #[sqlx(flatten)]
    pub(crate) client: OAuthClientRow,
    pub(crate) secret_hash: Option<String>,
}

#[derive(Debug, FromRow)]
pub(crate) struct AuthCodeRow {
    code_hash: String,
    client_id: String,
    user_id: String,
    browser_sid: String,
    redirect_uri: String,
    scope: String,
    nonce: Option<String>,
    code_challenge: Option<String>,
    auth_time: i64,
    amr: String,
    expires_at: i64,
}

pub(crate) const AUTH_CODE_COLUMNS: &str =
    "code_hash, client_id, user_id, browser_sid, redirect_uri, scope, nonce, code_challenge, \
     auth_time, amr, expires_at FROM oauth_codes";

impl TryFrom<AuthCodeRow> for AuthCode {
    type Error = StoreError;
    fn try_from(r: AuthCodeRow) -> Result<Self, StoreError> {
        Ok(Self {
            code_hash: r.code_hash,
            client_id: id(&r.client_id)?,
            user_id: id(&r.user_id)?,
            browser_sid: id(&r.browser_sid)?,
            redirect_uri: r.redirect_uri,
            scope: r.scope,
            nonce: r.nonce,
            code_challenge: r.code_challenge,
            auth_time: time(r.auth_time)?,
            amr: serde_json::from_str(&r.amr).unwrap_or_default(),
            expires_at: time(r.expires_at)?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct ConsentRow {
    client_id: String,
    scope: String,
    granted_at: i64,
}

impl TryFrom<ConsentRow> for Consent {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        Ok(Self {
            client_id: id(&r.client_id)?,
            scope: r.scope,
            granted_at: time(r.granted_at)?,
        })
    }
}

/// A list as stored: a JSON array of strings.
pub(crate) fn json_list<T: AsRef<str>>(items: &[T]) -> String {
    serde_json::to_string(&items.iter().map(AsRef::as_ref).collect::<Vec<_>>())
        .unwrap_or_else(|_| "[]".to_owned())
}

fn list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|_| StoreError::Corrupt(format!("list {text}")))
}

fn wire<T>(text: &str, parse: fn(&str) -> Option<T>) -> Result<T, StoreError> {
    parse(text).ok_or_else(|| StoreError::Corrupt(format!("value {text}")))
}

impl TryFrom<OAuthClientRow> for portcullis_core::oauth::OAuthClient {
    type Error = StoreError;
    fn try_from(r: OAuthClientRow) -> Result<Self, StoreError> {
        use portcullis_core::oauth::{AuthMethod, ClientType, GrantType, SigningAlg};
        let lifetime = |v: Option<i64>| v.map(|n| u32::try_from(n).unwrap_or(u32::MAX));
        Ok(Self {
            id: id(&r.id)?,
            org_id: id(&r.org_id)?,
            name: r.name,
            client_type: wire(&r.client_type, ClientType::parse)?,
            redirect_uris: list(&r.redirect_uris)?,
            post_logout_redirect_uris: list(&r.post_logout_redirect_uris)?,
            grant_types: list(&r.grant_types)?
                .iter()
                .map(|g| wire(g, GrantType::parse))
                .collect::<Result<_, _>>()?,
            scopes: list(&r.scopes)?,
            token_endpoint_auth_method: wire(&r.token_endpoint_auth_method, AuthMethod::parse)?,
            id_token_signed_response_alg: wire(&r.id_token_signed_response_alg, SigningAlg::parse)?,
            first_party: r.first_party,
            backchannel_logout_uri: r.backchannel_logout_uri,
            access_token_lifetime_secs: lifetime(r.access_token_lifetime_secs),
            refresh_token_lifetime_secs: lifetime(r.refresh_token_lifetime_secs),
            secret_prefix: r.secret_prefix,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

/// The list of event types as stored: `,a,b,`, or empty for every type.
pub(crate) fn event_types_column(types: &[String]) -> String {
    if types.is_empty() {
        String::new()
    } else {
        format!(",{},", types.join(","))
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct WebhookRow {
    id: String,
    org_id: String,
    url: String,
    event_types: String,
    enabled: bool,
    failing_since: Option<i64>,
    secret_sealed: String,
    previous_secret_sealed: Option<String>,
    previous_secret_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

pub(crate) const WEBHOOK_COLUMNS: &str = "id, org_id, url, event_types, enabled, failing_since, \
     secret_sealed, previous_secret_sealed, previous_secret_until, created_at, updated_at \
     FROM webhooks";

impl TryFrom<WebhookRow> for portcullis_core::webhooks::Webhook {
    type Error = StoreError;
    fn try_from(r: WebhookRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            org_id: id(&r.org_id)?,
            url: r.url,
            event_types: r
                .event_types
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            enabled: r.enabled,
            failing_since: r.failing_since.map(time).transpose()?,
            secret_sealed: r.secret_sealed,
            previous_secret: previous_secret(r.previous_secret_sealed, r.previous_secret_until)?,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct DeliveryRow {
    webhook_id: String,
    event_id: String,
    event_type: String,
    body: String,
    attempts: i64,
    next_at: i64,
    last_status: Option<i64>,
    last_latency_ms: Option<i64>,
    last_error: Option<String>,
    created_at: i64,
    delivered_at: Option<i64>,
    failed_at: Option<i64>,
}

pub(crate) const DELIVERY_COLUMNS: &str = "webhook_id, event_id, event_type, body, attempts, \
     next_at, last_status, last_latency_ms, last_error, created_at, delivered_at, failed_at \
     FROM webhook_deliveries";

impl TryFrom<DeliveryRow> for portcullis_core::webhooks::Delivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self, StoreError> {
        use portcullis_core::webhooks::DeliveryState;
        let state = if r.delivered_at.is_some() {
            DeliveryState::Delivered
        } else if r.failed_at.is_some() {
            DeliveryState::Failed
        } else {
            DeliveryState::Pending
        };
        Ok(Self {
            webhook_id: id(&r.webhook_id)?,
            event_id: id(&r.event_id)?,
            event_type: r.event_type,
            body: r.body,
            state,
            attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
            last_status: r.last_status.and_then(|s| u16::try_from(s).ok()),
            last_latency_ms: r.last_latency_ms.and_then(|l| u64::try_from(l).ok()),
            last_error: r.last_error,
            next_at: (state == DeliveryState::Pending)
                .then(|| time(r.next_at))
                .transpose()?,
            created_at: time(r.created_at)?,
            delivered_at: r.delivered_at.map(time).transpose()?,
        })
    }
}

/// A rotated secret and the end of its grace, from their two columns.
fn previous_secret(
    sealed: Option<String>,
    until: Option<i64>,
) -> Result<Option<(String, DateTime<Utc>)>, StoreError> {
    match (sealed, until) {
        (Some(sealed), Some(until)) => Ok(Some((sealed, time(until)?))),
        _ => Ok(None),
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct HookRow {
    org_id: String,
    name: String,
    url: String,
    timeout_ms: i64,
    fail_closed: bool,
    enabled: bool,
    secret_sealed: String,
    previous_secret_sealed: Option<String>,
    previous_secret_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

pub(crate) const HOOK_COLUMNS: &str = "org_id, name, url, timeout_ms, fail_closed, enabled, \
     secret_sealed, previous_secret_sealed, previous_secret_until, created_at, updated_at \
     FROM hooks";

impl TryFrom<HookRow> for portcullis_core::webhooks::Hook {
    type Error = StoreError;
    fn try_from(r: HookRow) -> Result<Self, StoreError> {
        Ok(Self {
            org_id: id(&r.org_id)?,
            name: portcullis_core::webhooks::HookName::parse(&r.name)
                .ok_or_else(|| StoreError::Corrupt(format!("hook {}", r.name)))?,
            url: r.url,
            timeout_ms: u32::try_from(r.timeout_ms).unwrap_or(u32::MAX),
            fail_closed: r.fail_closed,
            enabled: r.enabled,
            secret_sealed: r.secret_sealed,
            previous_secret: previous_secret(r.previous_secret_sealed, r.previous_secret_until)?,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct ProviderRow {
    id: String,
    org_id: String,
    kind: String,
    name: String,
    enabled: bool,
    settings: String,
    secret_sealed: Option<String>,
    created_at: i64,
    updated_at: i64,
}

pub(crate) const PROVIDER_COLUMNS: &str = "id, org_id, kind, name, enabled, settings, \
     secret_sealed, created_at, updated_at FROM identity_providers";

impl TryFrom<ProviderRow> for portcullis_core::upstream::IdentityProvider {
    type Error = StoreError;
    fn try_from(r: ProviderRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            org_id: id(&r.org_id)?,
            kind: portcullis_core::upstream::ProviderKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("provider kind {}", r.kind)))?,
            name: r.name,
            enabled: r.enabled,
            config: serde_json::from_str(&r.settings)
                .map_err(|e| StoreError::Corrupt(format!("provider settings: {e}")))?,
            secret_sealed: r.secret_sealed,
            created_at: time(r.created_at)?,
            updated_at: time(r.updated_at)?,
        })
    }
}

#[derive(Debug, FromRow)]
pub(crate) struct IdentityRow {
    id: String,
    user_id: String,
    provider_id: String,
    issuer: String,
    subject: String,
    email: Option<String>,
    refresh_token_sealed: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
}

pub(crate) const IDENTITY_COLUMNS: &str = "id, user_id, provider_id, issuer, subject, email, \
     refresh_token_sealed, created_at, last_used_at FROM user_identities";

impl TryFrom<IdentityRow> for portcullis_core::upstream::LinkedIdentity {
    type Error = StoreError;
    fn try_from(r: IdentityRow) -> Result<Self, StoreError> {
        Ok(Self {
            id: id(&r.id)?,
            user_id: id(&r.user_id)?,
            provider_id: id(&r.provider_id)?,
            issuer: r.issuer,
            subject: r.subject,
            email: r.email,
            refresh_token_sealed: r.refresh_token_sealed,
            created_at: time(r.created_at)?,
            last_used_at: r.last_used_at.map(time).transpose()?,
        })
    }
}
