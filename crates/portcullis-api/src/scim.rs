//! SCIM tokens: what an organization's identity provider provisions its users with.

use super::*;

/// `POST /v1/orgs/{slug}/scim-tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateScimTokenRequest {
    /// What it is for, e.g. the identity provider (1 to 200 characters).
    pub description: String,
}

/// A SCIM token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScimToken {
    /// Identifier.
    pub id: Uuid,
    /// What it is for.
    pub description: String,
    /// The first characters of the token (`pcscim_` and six more), to recognise it.
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Who made it.
    pub created_by: Option<Uuid>,
    /// Last use (to the minute).
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new SCIM token: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedScimToken {
    /// The secret, `pcscim_...`: the bearer token of the organization's SCIM endpoint. Store
    /// it now; it is not shown again.
    pub token: String,
    /// The organization's SCIM base URL, `{issuer}/scim/v2/{slug}`.
    pub scim_base_url: String,
    /// The stored part (with `id`).
    #[serde(flatten)]
    pub details: ScimToken,
}

/// An organization's SCIM tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ScimTokenList {
    /// Newest first.
    pub items: Vec<ScimToken>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}
