//! Application tokens, and the access token one is exchanged for.

use super::*;

/// `POST /v1/users/me/app-tokens`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAppTokenRequest {
    /// What it is for (1 to 200 characters).
    pub description: String,
    /// When it stops working; never when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// An application token as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppToken {
    /// Identifier.
    pub id: Uuid,
    /// What it is for.
    pub description: String,
    /// The first characters of the token (`pct_` and six more), to recognise it.
    pub prefix: String,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// End of validity.
    pub expires_at: Option<DateTime<Utc>>,
    /// Last exchange.
    pub last_used_at: Option<DateTime<Utc>>,
}

/// A new application token: the only time its secret is shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedAppToken {
    /// The secret, `pct_...`; store it now, it is not shown again.
    pub token: String,
    /// The stored part (with `id`).
    #[serde(flatten)]
    pub details: AppToken,
}

/// Application tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AppTokenList {
    /// Newest first.
    pub items: Vec<AppToken>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}

/// `POST /v1/auth/app-token`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AppTokenExchange {
    /// An application token, `pct_...`.
    pub token: String,
}

/// An access token with no refresh token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AccessToken {
    /// Signed JWT.
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until it expires.
    pub expires_in: i64,
}
