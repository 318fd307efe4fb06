//! Webhooks (an organization's events, posted to its endpoints and signed per Standard
//! Webhooks) and hooks (its own service, asked during a request).

use super::*;

/// `POST /v1/orgs/{slug}/webhooks`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where events are posted: `https`, or `http` to a loopback address; the address must
    /// be public unless the operator allows it (`PORTCULLIS_OUTBOUND_ALLOW`).
    pub url: String,
    /// Audit event types (`user.registered`, `login.succeeded`, ...); every type when empty.
    #[serde(default)]
    pub event_types: Vec<String>,
    /// Whether events are sent (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `PATCH /v1/orgs/{slug}/webhooks/{id}`: absent fields stay.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhookRequest {
    /// Where events are posted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Event types (replaces the list; empty for every type).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_types: Option<Vec<String>>,
    /// Whether events are sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// An endpoint, as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Webhook {
    /// Identifier.
    pub id: Uuid,
    /// Where events are posted.
    pub url: String,
    /// The event types it receives; every type when empty.
    pub event_types: Vec<String>,
    /// Whether events are sent.
    pub enabled: bool,
    /// Since when deliveries have been given up after about three days of retries; cleared
    /// by the next delivery that succeeds.
    pub failing_since: Option<DateTime<Utc>>,
    /// After a rotation: until when deliveries also carry a signature with the previous
    /// secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_expires_at: Option<DateTime<Utc>>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A new endpoint: the only time its secret is shown (until rotated).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CreatedWebhook {
    /// The signing secret, `whsec_...` (Standard Webhooks' form).
    pub secret: String,
    /// The endpoint.
    #[serde(flatten)]
    pub webhook: Webhook,
}

/// A new signing secret, shown this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookSecret {
    /// `whsec_...`; deliveries are signed with it from now on.
    pub secret: String,
    /// Until when deliveries (or hook calls) also carry a signature with the secret it
    /// replaced (a day), so that the receiver can switch secrets without refusing any.
    pub previous_secret_expires_at: DateTime<Utc>,
}

/// An organization's endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookList {
    /// Oldest first.
    pub items: Vec<Webhook>,
    /// Always `null`: the list is complete.
    pub next_cursor: Option<String>,
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookDelivery {
    /// The event's id: the `webhook-id` header, the same on every attempt.
    pub event_id: Uuid,
    /// The event type.
    pub event_type: String,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// Attempts made.
    pub attempts: u32,
    /// The status code of the last answer.
    pub response_status: Option<u16>,
    /// How long the last attempt took, milliseconds.
    pub latency_ms: Option<u64>,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// When the next attempt is due (pending deliveries).
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
    /// The body sent (never a secret).
    pub payload: serde_json::Value,
}

/// An endpoint's recent deliveries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WebhookDeliveryList {
    /// Newest first, at most `limit` (default 50, at most 200).
    pub items: Vec<WebhookDelivery>,
    /// Always `null`.
    pub next_cursor: Option<String>,
}

/// `PUT /v1/orgs/{slug}/hooks/{name}`: sets the hook; on a change, absent fields stay.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetHookRequest {
    /// Where it is called (required when the hook is new; same rules as a webhook's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The time budget, 100 to 10000 milliseconds (default 2000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u32>,
    /// When the hook fails (no answer within the budget, an error status, an answer that
    /// does not parse): `open` (default) goes on as if there were no hook; `closed` refuses
    /// the request with 503 `hook_unavailable`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_failure: Option<String>,
    /// Whether it is called (default true).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// A hook, as listed: never its secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Hook {
    /// `before_user_created` or `custom_access_token_claims`.
    pub name: String,
    /// Where it is called.
    pub url: String,
    /// The time budget, milliseconds.
    pub timeout_ms: u32,
    /// `open` or `closed`.
    pub on_failure: String,
    /// Whether it is called.
    pub enabled: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last change.
    pub updated_at: DateTime<Utc>,
}

/// A hook as set: its secret only when it was new.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct SetHook {
    /// The signing secret, `whsec_...`, when the hook was new; else `null`.
    pub secret: Option<String>,
    /// The hook.
    #[serde(flatten)]
    pub hook: Hook,
}

/// An organization's hooks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HookList {
    /// By name.
    pub items: Vec<Hook>,
    /// Always `null`.
    pub next_cursor: Option<String>,
}
