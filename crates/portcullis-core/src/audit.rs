//! Security events. Every use case that changes security state records one.

use chrono::{DateTime, Utc};

use crate::ids::{AuditId, OrgId, UserId};

/// Where a request came from, for audit and session records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientInfo {
    /// Client IP address.
    pub ip: Option<String>,
    /// `User-Agent` header, truncated.
    pub user_agent: Option<String>,
}

/// The kinds of audit event. The string forms are part of the API (`?type=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditKind {
    /// A new account registered itself.
    UserRegistered,
    /// Password login succeeded.
    LoginSucceeded,
    /// Password login failed (wrong password, unknown identifier, inactive account).
    LoginFailed,
    /// A retired refresh token was presented; its session was revoked.
    TokenReused,
    /// The user logged out of one session.
    Logout,
    /// The user logged out of every session.
    LogoutAll,
    /// The user ended one of their sessions from the session list.
    SessionRevoked,
    /// The user changed their password.
    PasswordChanged,
    /// The user changed their profile.
    ProfileUpdated,
    /// The user deleted their account.
    AccountDeleted,
    /// An admin created a user.
    AdminUserCreated,
    /// An admin changed a user.
    AdminUserUpdated,
    /// An admin deactivated a user.
    AdminUserDeactivated,
    /// An admin reactivated a user.
    AdminUserActivated,
    /// An admin deleted a user.
    AdminUserDeleted,
    /// An admin replaced a user's roles.
    AdminRolesSet,
    /// An admin ended every session of a user.
    AdminSessionsRevoked,
    /// The bootstrap admin was created at start-up.
    BootstrapAdminCreated,
    /// A one-time code was issued and queued for delivery.
    CodeSent,
    /// A wrong one-time code was presented.
    CodeFailed,
    /// A message was not sent because the recipient had too many of that kind lately.
    MessageSuppressed,
    /// A queued message was delivered.
    MessageDelivered,
    /// A queued message could not be delivered and was given up.
    MessageFailed,
    /// An email address or phone number was proven.
    AddressVerified,
    /// A password was reset by code or link.
    PasswordReset,
    /// A system admin created an organization.
    OrgCreated,
    /// A system admin changed an organization's name or policy.
    OrgUpdated,
    /// A guest account was made.
    AnonymousRegistered,
    /// A guest account became a full account.
    AccountUpgraded,
    /// An idle guest account was deleted by the retention job.
    AnonymousExpired,
    /// An application token was made.
    AppTokenCreated,
    /// An application token was revoked (by its owner or an admin).
    AppTokenRevoked,
    /// An admin made a license.
    LicenseCreated,
    /// An admin revoked a license (and its devices).
    LicenseRevoked,
    /// A device registered with a license key.
    DeviceRegistered,
    /// A device exchanged its token pair for a new one.
    DeviceTokenRenewed,
    /// A passkey was registered.
    PasskeyRegistered,
    /// A passkey was deleted (by the user or an admin).
    PasskeyDeleted,
    /// A passkey's signature counter went backwards: the authenticator may be cloned; the
    /// sign-in was refused.
    PasskeyCloneSuspected,
    /// An admin revoked a device.
    DeviceRevoked,
    /// A second-factor key was made (pending activation).
    MfaKeyCreated,
    /// A second-factor key was activated; MFA is on.
    MfaEnabled,
    /// A second-factor key was deleted (by the user or an admin).
    MfaKeyDeleted,
    /// Every second factor was turned off (by the user or an admin).
    MfaDisabled,
    /// New recovery codes replaced the old ones.
    RecoveryCodesRegenerated,
    /// A recovery code was used to sign in.
    RecoveryCodeUsed,
    /// A device was trusted to skip the second factor.
    TrustedDeviceAdded,
    /// A trusted device was removed.
    TrustedDeviceRemoved,
    /// Security questions were set (by the user or an admin).
    QuestionsSet,
    /// A password recovery by security questions failed.
    QuestionsFailed,
    /// Too many failed sign-ins locked an account (or an identifier) for a while.
    AccountLocked,
    /// Someone registered with an address that has an account; the organization conceals
    /// accounts, so the answer looked like success and the owner was told.
    RegistrationConcealed,
    /// Users were imported from a file (`portcullis import`).
    UsersImported,
    /// An admin registered an OAuth client (an application that signs users in through
    /// OpenID Connect).
    OAuthClientCreated,
    /// An admin changed an OAuth client's settings.
    OAuthClientUpdated,
    /// An admin rotated an OAuth client's secret.
    OAuthClientSecretRotated,
    /// An admin deleted an OAuth client.
    OAuthClientDeleted,
    /// A user consented to a client's scopes (or a first-party client was let in).
    OAuthGranted,
    /// The token endpoint issued tokens (any grant but refresh).
    OAuthTokenIssued,
    /// A client refreshed its tokens.
    OAuthTokenRefreshed,
    /// A token was revoked, an authorization code reused, or a user withdrew an authorization.
    OAuthRevoked,
    /// A relying party ended the user's session (RP-initiated logout).
    OAuthLogout,
    /// An admin added a webhook endpoint.
    WebhookCreated,
    /// An admin changed a webhook endpoint.
    WebhookUpdated,
    /// An admin gave a webhook endpoint a new secret.
    WebhookSecretRotated,
    /// An admin deleted a webhook endpoint.
    WebhookDeleted,
    /// An admin set (added or changed) a hook.
    HookSet,
    /// An admin removed a hook.
    HookDeleted,
    /// An admin added an upstream identity provider.
    IdentityProviderCreated,
    /// An admin changed an upstream identity provider.
    IdentityProviderUpdated,
    /// An admin deleted an upstream identity provider.
    IdentityProviderDeleted,
    /// An upstream account was linked to a user.
    IdentityLinked,
    /// An upstream account was unlinked from a user.
    IdentityUnlinked,
    /// An admin made a SCIM token.
    ScimTokenCreated,
    /// An admin revoked a SCIM token.
    ScimTokenRevoked,
    /// A SCIM client made a group (a role, given to its members).
    ScimGroupCreated,
    /// A SCIM client changed a group: its name or its members.
    ScimGroupUpdated,
    /// A SCIM client deleted a group (its role taken from every member).
    ScimGroupDeleted,
}

impl AuditKind {
    /// Every kind, for validation of filters.
    pub const ALL: [AuditKind; 78] = [
        Self::UserRegistered,
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::TokenReused,
        Self::Logout,
        Self::LogoutAll,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::ProfileUpdated,
        Self::AccountDeleted,
        Self::AdminUserCreated,
        Self::AdminUserUpdated,
        Self::AdminUserDeactivated,
        Self::AdminUserActivated,
        Self::AdminUserDeleted,
        Self::AdminRolesSet,
        Self::AdminSessionsRevoked,
        Self::BootstrapAdminCreated,
        Self::CodeSent,
        Self::CodeFailed,
        Self::MessageSuppressed,
        Self::MessageDelivered,
        Self::MessageFailed,
        Self::AddressVerified,
        Self::PasswordReset,
        Self::OrgCreated,
        Self::OrgUpdated,
        Self::AnonymousRegistered,
        Self::AccountUpgraded,
        Self::AnonymousExpired,
        Self::AppTokenCreated,
        Self::AppTokenRevoked,
        Self::LicenseCreated,
        Self::LicenseRevoked,
        Self::DeviceRegistered,
        Self::DeviceTokenRenewed,
        Self::PasskeyRegistered,
        Self::PasskeyDeleted,
        Self::PasskeyCloneSuspected,
        Self::DeviceRevoked,
        Self::MfaKeyCreated,
        Self::MfaEnabled,
        Self::MfaKeyDeleted,
        Self::MfaDisabled,
        Self::RecoveryCodesRegenerated,
        Self::RecoveryCodeUsed,
        Self::TrustedDeviceAdded,
        Self::TrustedDeviceRemoved,
        Self::QuestionsSet,
        Self::QuestionsFailed,
        Self::AccountLocked,
        Self::RegistrationConcealed,
        Self::UsersImported,
        Self::OAuthClientCreated,
        Self::OAuthClientUpdated,
        Self::OAuthClientSecretRotated,
        Self::OAuthClientDeleted,
        Self::OAuthGranted,
        Self::OAuthTokenIssued,
        Self::OAuthTokenRefreshed,
        Self::OAuthRevoked,
        Self::OAuthLogout,
        Self::WebhookCreated,
        Self::WebhookUpdated,
        Self::WebhookSecretRotated,
        Self::WebhookDeleted,
        Self::HookSet,
        Self::HookDeleted,
        Self::IdentityProviderCreated,
        Self::IdentityProviderUpdated,
        Self::IdentityProviderDeleted,
        Self::IdentityLinked,
        Self::IdentityUnlinked,
        Self::ScimTokenCreated,
        Self::ScimTokenRevoked,
        Self::ScimGroupCreated,
        Self::ScimGroupUpdated,
        Self::ScimGroupDeleted,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UserRegistered => "user.registered",
            Self::LoginSucceeded => "login.succeeded",
            Self::LoginFailed => "login.failed",
            Self::TokenReused => "token.reused",
            Self::Logout => "session.logout",
            Self::LogoutAll => "session.logout_all",
            Self::SessionRevoked => "session.revoked",
            Self::PasswordChanged => "password.changed",
            Self::ProfileUpdated => "user.updated",
            Self::AccountDeleted => "user.deleted",
            Self::AdminUserCreated => "admin.user_created",
            Self::AdminUserUpdated => "admin.user_updated",
            Self::AdminUserDeactivated => "admin.user_deactivated",
            Self::AdminUserActivated => "admin.user_activated",
            Self::AdminUserDeleted => "admin.user_deleted",
            Self::AdminRolesSet => "admin.roles_set",
            Self::AdminSessionsRevoked => "admin.sessions_revoked",
            Self::BootstrapAdminCreated => "admin.bootstrap_created",
            Self::CodeSent => "code.sent",
            Self::CodeFailed => "code.failed",
            Self::MessageSuppressed => "message.suppressed",
            Self::MessageDelivered => "message.delivered",
            Self::MessageFailed => "message.failed",
            Self::AddressVerified => "address.verified",
            Self::PasswordReset => "password.reset",
            Self::OrgCreated => "org.created",
            Self::OrgUpdated => "org.updated",
            Self::AnonymousRegistered => "user.registered_anonymous",
            Self::AccountUpgraded => "user.upgraded",
            Self::AnonymousExpired => "user.expired",
            Self::AppTokenCreated => "app_token.created",
            Self::AppTokenRevoked => "app_token.revoked",
            Self::LicenseCreated => "license.created",
            Self::LicenseRevoked => "license.revoked",
            Self::DeviceRegistered => "device.registered",
            Self::DeviceTokenRenewed => "device.token_renewed",
            Self::PasskeyRegistered => "passkey.registered",
            Self::PasskeyDeleted => "passkey.deleted",
            Self::PasskeyCloneSuspected => "passkey.clone_suspected",
            Self::DeviceRevoked => "device.revoked",
            Self::MfaKeyCreated => "mfa.key_created",
            Self::MfaEnabled => "mfa.enabled",
            Self::MfaKeyDeleted => "mfa.key_deleted",
            Self::MfaDisabled => "mfa.disabled",
            Self::RecoveryCodesRegenerated => "mfa.recovery_codes_regenerated",
            Self::RecoveryCodeUsed => "mfa.recovery_code_used",
            Self::TrustedDeviceAdded => "trusted_device.added",
            Self::TrustedDeviceRemoved => "trusted_device.removed",
            Self::QuestionsSet => "security_questions.set",
            Self::QuestionsFailed => "security_questions.failed",
            Self::AccountLocked => "account.locked",
            Self::RegistrationConcealed => "user.registration_concealed",
            Self::UsersImported => "users.imported",
            Self::OAuthClientCreated => "oauth_client.created",
            Self::OAuthClientUpdated => "oauth_client.updated",
            Self::OAuthClientSecretRotated => "oauth_client.secret_rotated",
            Self::OAuthClientDeleted => "oauth_client.deleted",
            Self::OAuthGranted => "oauth.granted",
            Self::OAuthTokenIssued => "oauth.token_issued",
            Self::OAuthTokenRefreshed => "oauth.token_refreshed",
            Self::OAuthRevoked => "oauth.revoked",
            Self::OAuthLogout => "oauth.logout",
            Self::WebhookCreated => "webhook.created",
            Self::WebhookUpdated => "webhook.updated",
            Self::WebhookSecretRotated => "webhook.secret_rotated",
            Self::WebhookDeleted => "webhook.deleted",
            Self::HookSet => "hook.set",
            Self::HookDeleted => "hook.deleted",
            Self::IdentityProviderCreated => "identity_provider.created",
            Self::IdentityProviderUpdated => "identity_provider.updated",
            Self::IdentityProviderDeleted => "identity_provider.deleted",
            Self::IdentityLinked => "identity.linked",
            Self::IdentityUnlinked => "identity.unlinked",
            Self::ScimTokenCreated => "scim_token.created",
            Self::ScimTokenRevoked => "scim_token.revoked",
            Self::ScimGroupCreated => "scim_group.created",
            Self::ScimGroupUpdated => "scim_group.updated",
            Self::ScimGroupDeleted => "scim_group.deleted",
        }
    }

    /// Whether the event records a change that a cached session may not reflect (most do);
    /// the others observe without changing any account or session.
    pub fn changes_accounts(self) -> bool {
        !matches!(
            self,
            Self::LoginFailed
                | Self::CodeSent
                | Self::CodeFailed
                | Self::MessageSuppressed
                | Self::MessageDelivered
                | Self::MessageFailed
                | Self::QuestionsFailed
                | Self::AccountLocked
                | Self::UserRegistered
                | Self::AnonymousRegistered
                | Self::RegistrationConcealed
                | Self::UsersImported
                | Self::BootstrapAdminCreated
                | Self::OAuthClientCreated
                | Self::OAuthClientUpdated
                | Self::OAuthClientSecretRotated
                | Self::OAuthClientDeleted
                | Self::OAuthGranted
                | Self::OAuthTokenIssued
                | Self::OAuthTokenRefreshed
                | Self::WebhookCreated
                | Self::WebhookUpdated
                | Self::WebhookSecretRotated
                | Self::WebhookDeleted
                | Self::HookSet
                | Self::HookDeleted
                | Self::IdentityProviderCreated
                | Self::IdentityProviderUpdated
                | Self::IdentityProviderDeleted
        )
    }

    /// The `type` label this kind is counted under in `/metrics`, if at all. A public request
    /// that names an address (a code, a reset, a registration in a concealing organization)
    /// must not move a counter one way for an address with an account and another way for
    /// one without: events only an existing account produces (a code sent or held back) are
    /// not counted there (the audit log keeps them), and a concealed registration counts as
    /// a registration.
    pub fn metric_label(self) -> Option<&'static str> {
        match self {
            Self::CodeSent | Self::MessageSuppressed => None,
            Self::RegistrationConcealed => Some(Self::UserRegistered.as_str()),
            other => Some(other.as_str()),
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// One recorded event.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    /// Identifier (time-ordered).
    pub id: AuditId,
    /// Organization the event belongs to.
    pub org_id: Option<OrgId>,
    /// Kind, as its wire name.
    pub kind: String,
    /// The user the event is about.
    pub user_id: Option<UserId>,
    /// Who did it (the user, or an admin).
    pub actor_id: Option<UserId>,
    /// Client IP.
    pub ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
    /// Extra facts; never secrets or personal data.
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// A new event happening now.
    pub fn new(
        kind: AuditKind,
        org_id: Option<OrgId>,
        at: DateTime<Utc>,
        client: &ClientInfo,
    ) -> Self {
        Self {
            id: AuditId::new(),
            org_id,
            kind: kind.as_str().to_owned(),
            user_id: None,
            actor_id: None,
            ip: client.ip.clone(),
            user_agent: client.user_agent.clone(),
            at,
            details: serde_json::Value::Object(serde_json::Map::new()),
        }
    }

    /// Sets the subject user.
    pub fn user(mut self, id: UserId) -> Self {
        self.user_id = Some(id);
        self
    }

    /// Sets the acting user.
    pub fn actor(mut self, id: UserId) -> Self {
        self.actor_id = Some(id);
        self
    }

    /// Adds a detail.
    pub fn detail(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        if let serde_json::Value::Object(map) = &mut self.details {
            map.insert(key.to_owned(), value.into());
        }
        self
    }
}
