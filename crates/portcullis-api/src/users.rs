//! Accounts: the user object, profile changes, roles, admin creation and lists.

use super::*;

/// A role held by a user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Role {
    /// Role name, such as `user`, `org_admin`, `system_admin`.
    pub name: String,
    /// When it was granted.
    pub added_at: DateTime<Utc>,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct User {
    /// Identifier (UUID v7).
    pub id: Uuid,
    /// Organization slug.
    pub organization: String,
    /// Email address (lower-cased).
    pub email: Option<String>,
    /// Whether the email address was proven.
    pub email_verified: bool,
    /// Phone number, E.164.
    pub phone: Option<String>,
    /// Whether the phone number was proven.
    pub phone_verified: bool,
    /// Username.
    pub username: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// Family name.
    pub last_name: Option<String>,
    /// A guest account.
    pub anonymous: bool,
    /// False when deactivated.
    pub active: bool,
    /// Roles with the date each was granted.
    pub roles: Vec<Role>,
    /// Whether a second factor is enabled.
    pub mfa_enabled: bool,
    /// The application's own profile fields.
    #[schema(value_type = Object)]
    pub attributes: serde_json::Map<String, serde_json::Value>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
    /// Last successful sign-in.
    pub last_login_at: Option<DateTime<Utc>>,
}

/// `PATCH /v1/users/me` and the profile part of `PATCH /v1/users/{id}`. Absent fields are
/// kept; `null` clears a field. A new email or phone becomes unverified.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    /// New email address.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// New phone number.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// New username.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub username: Option<Option<String>>,
    /// Given name.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub first_name: Option<Option<String>>,
    /// Family name.
    #[serde(
        default,
        deserialize_with = "double_option",
        skip_serializing_if = "Option::is_none"
    )]
    #[schema(value_type = Option<String>)]
    pub last_name: Option<Option<String>>,
    /// Keys to set; a key set to `null` is removed; other keys are kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub attributes: Option<serde_json::Value>,
    /// Refused here with 400: roles are changed by admins through `PUT /v1/users/{id}/roles`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub roles: Option<serde_json::Value>,
    /// Admin only (`PATCH /v1/users/{id}`): activate or deactivate the account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

/// `DELETE /v1/users/me`: re-authentication.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountRequest {
    /// The current password (required when the account has one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
}

/// `POST /v1/users/me/password`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePasswordRequest {
    /// The password in use.
    pub current_password: String,
    /// The new password.
    pub new_password: String,
}

/// `GET /v1/users/me/roles` and `PUT /v1/users/{id}/roles`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RolesResponse {
    /// Roles with the date each was granted.
    pub roles: Vec<Role>,
}

/// `PUT /v1/users/{id}/roles`: the complete new set (`user` is always kept).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRolesRequest {
    /// Role names.
    pub roles: Vec<String>,
}

/// `POST /v1/users`: a registration plus roles and pre-verified addresses. An admin may
/// create a phone-only or email-only account without a password.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct CreateUserRequest {
    /// The account fields, as for registration.
    #[serde(flatten)]
    pub account: RegisterRequest,
    /// Roles beyond `user`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
    /// Mark the given email and phone as verified.
    #[serde(default)]
    pub verified: bool,
}

/// A page of users.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserList {
    /// The users.
    pub items: Vec<User>,
    /// Pass as `?cursor=` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
