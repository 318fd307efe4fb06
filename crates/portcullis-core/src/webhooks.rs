//! Webhooks and hooks, the pure parts: endpoints and their deliveries, hooks and their
//! answers, the Standard Webhooks signature (<https://www.standardwebhooks.com/>), the
//! event body, and the retry schedule.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::audit::{AuditEvent, AuditKind};
use crate::ids::OrgId;

/// How a webhook secret begins (Standard Webhooks' convention).
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a secret (the specification asks for 24 to 64).
const SECRET_BYTES: usize = 32;
/// The event type of a test event (not an audit event type).
pub const TEST_EVENT: &str = "webhook.test";

/// A webhook endpoint: where an organization's events go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// Identifier.
    pub id: uuid::Uuid,
    /// The organization whose events it receives.
    pub org_id: OrgId,
    /// Where events are posted (https, or http to an address `PORTCULLIS_OUTBOUND_ALLOW`
    /// permits).
    pub url: String,
    /// The audit event types it receives; every type when empty.
    pub event_types: Vec<String>,
    /// Whether events are sent to it.
    pub enabled: bool,
    /// Since when its deliveries have been given up (cleared by the next success).
    pub failing_since: Option<DateTime<Utc>>,
    /// The signing secret, sealed with the master key.
    pub secret_sealed: String,
    /// The secret before the last rotation, sealed, and until when it still signs beside
    /// the new one ([`PREVIOUS_SECRET_GRACE`]).
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl Webhook {
    /// Whether it receives events of `kind`.
    pub fn wants(&self, kind: &str) -> bool {
        self.event_types.is_empty() || self.event_types.iter().any(|t| t == kind)
    }
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    /// Waiting for its first or next attempt.
    Pending,
    /// Answered with a 2xx.
    Delivered,
    /// Given up after the last retry.
    Failed,
}

impl DeliveryState {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Delivered => "delivered",
            Self::Failed => "failed",
        }
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The endpoint.
    pub webhook_id: uuid::Uuid,
    /// The event's id: the `webhook-id` header, the same on every attempt and redelivery.
    pub event_id: uuid::Uuid,
    /// The event type.
    pub event_type: String,
    /// The body sent, as JSON text.
    pub body: String,
    /// Where it stands.
    pub state: DeliveryState,
    /// Attempts made.
    pub attempts: u32,
    /// The status code of the last answer, if one came.
    pub last_status: Option<u16>,
    /// How long the last attempt took, milliseconds.
    pub last_latency_ms: Option<u64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// When the next attempt is due (pending deliveries).
    pub next_at: Option<DateTime<Utc>>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A delivery leased for an attempt, with what the attempt needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueDelivery {
    /// The endpoint.
    pub webhook_id: uuid::Uuid,
    /// The event's id.
    pub event_id: uuid::Uuid,
    /// The event type.
    pub event_type: String,
    /// The body.
    pub body: String,
    /// Attempts so far, counting this one.
    pub attempts: u32,
    /// The endpoint's URL.
    pub url: String,
    /// The endpoint's secret, sealed.
    pub secret_sealed: String,
    /// Its secret before the last rotation, sealed, while it still signs.
    pub previous_secret_sealed: Option<String>,
}

/// The outcome of one attempt, for the delivery log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The status code, if an answer came.
    pub status: Option<u16>,
    /// How long it took, milliseconds.
    pub latency_ms: u64,
    /// Why it failed (none on success).
    pub error: Option<String>,
    /// When it ended.
    pub at: DateTime<Utc>,
}

/// Waits before each retry: about three days in all, then the delivery is given up.
/// Early retries are quick (a receiver restarting), later ones sparse (a receiver down).
pub const RETRY_SCHEDULE: [i64; 14] = [
    5, 30, 120, 600, 1800, 3600, 7200, 14_400, 28_800, 43_200, 43_200, 43_200, 43_200, 43_200,
];

/// The retry schedule as durations.
pub fn retry_schedule() -> Vec<Duration> {
    RETRY_SCHEDULE
        .iter()
        .map(|s| Duration::seconds(*s))
        .collect()
}

/// When the retry after attempt `attempts` (1-based) is due, or `None` to give up.
pub fn next_retry(
    schedule: &[Duration],
    attempts: u32,
    now: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    let index = usize::try_from(attempts.saturating_sub(1)).ok()?;
    schedule.get(index).map(|wait| now + *wait)
}

/// How long a rotated secret goes on signing beside its successor: a day for receivers to
/// switch. Standard Webhooks sends one signature per secret, and its libraries accept a
/// request when any of them verifies.
pub const PREVIOUS_SECRET_GRACE: Duration = Duration::hours(24);

/// The sealed secrets that sign at `now`: the current one, and the previous one while its
/// grace lasts.
pub fn signing_secrets<'a>(
    current: &'a str,
    previous: Option<&'a (String, DateTime<Utc>)>,
    now: DateTime<Utc>,
) -> Vec<&'a str> {
    std::iter::once(current)
        .chain(
            previous
                .filter(|(_, until)| *until > now)
                .map(|(sealed, _)| sealed.as_str()),
        )
        .collect()
}

/// A new secret: `whsec_` and 32 random bytes, base64.
pub fn new_secret(rng: &dyn crate::crypto::Rng) -> String {
    let mut bytes = zeroize::Zeroizing::new([0u8; SECRET_BYTES]);
    rng.fill(bytes.as_mut());
    format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes.as_ref()))
}

/// The `webhook-signature` header value for one secret: `v1,` and the base64 of
/// HMAC-SHA256 over `id.timestamp.body`, keyed with the secret's decoded bytes.
pub fn signature(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = STANDARD
        .decode(secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret))
        .ok()?;
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key);
    let mut ctx = ring::hmac::Context::with_key(&key);
    ctx.update(id.as_bytes());
    ctx.update(b".");
    ctx.update(timestamp.to_string().as_bytes());
    ctx.update(b".");
    ctx.update(body.as_bytes());
    Some(format!("v1,{}", STANDARD.encode(ctx.sign().as_ref())))
}

/// The headers of a signed call: `webhook-id`, `webhook-timestamp`, `webhook-signature`
/// (one signature per secret, separated by spaces, the newest first).
pub fn signed_headers(
    secrets: &[&str],
    id: &str,
    at: DateTime<Utc>,
    body: &str,
) -> Option<Vec<(String, String)>> {
    let timestamp = at.timestamp();
    let sig = secrets
        .iter()
        .map(|secret| signature(secret, id, timestamp, body))
        .collect::<Option<Vec<_>>>()
        .filter(|sigs| !sigs.is_empty())?
        .join(" ");
    Some(vec![
        ("webhook-id".to_owned(), id.to_owned()),
        ("webhook-timestamp".to_owned(), timestamp.to_string()),
        ("webhook-signature".to_owned(), sig),
    ])
}

/// The body of an event (Standard Webhooks' shape: `type`, `timestamp`, `data`). It carries
/// ids and the audit event's details, which never hold secrets or personal data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventBody {
    /// The event type (an audit event type, or `webhook.test`).
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened (RFC 3339).
    pub timestamp: String,
    /// What happened.
    pub data: EventData,
}

/// The facts of an event.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EventData {
    /// The event's id (also the `webhook-id` header).
    pub id: String,
    /// The organization.
    pub org_id: String,
    /// The user it is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Who did it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    /// Extra facts (the audit event's details).
    pub details: serde_json::Value,
}

impl EventBody {
    /// The body reporting an audit event (of an organization).
    pub fn of(event: &AuditEvent, org_id: OrgId) -> Self {
        Self {
            kind: event.kind.clone(),
            timestamp: event
                .at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            data: EventData {
                id: event.id.to_string(),
                org_id: org_id.to_string(),
                user_id: event.user_id.map(|u| u.to_string()),
                actor_id: event.actor_id.map(|u| u.to_string()),
                details: event.details.clone(),
            },
        }
    }

    /// As JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The event types an endpoint may ask for: every audit event type.
pub fn check_event_types(raw: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::with_capacity(raw.len());
    for t in raw {
        let t = t.trim();
        if AuditKind::parse(t).is_none() {
            return Err(format!("{t:?} is not an event type"));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    out.sort();
    Ok(out)
}

/// The synchronous hooks an organization may set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HookName {
    /// Asked before an account is made (sign-up, admin creation, ...): allow or deny.
    BeforeUserCreated,
    /// Asked when an access token is issued: extra claims to put in it.
    CustomAccessTokenClaims,
}

impl HookName {
    /// Every hook.
    pub const ALL: [HookName; 2] = [Self::BeforeUserCreated, Self::CustomAccessTokenClaims];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BeforeUserCreated => "before_user_created",
            Self::CustomAccessTokenClaims => "custom_access_token_claims",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|h| h.as_str() == s)
    }
}

/// A hook as an organization set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// The organization.
    pub org_id: OrgId,
    /// Which hook.
    pub name: HookName,
    /// Where it is called.
    pub url: String,
    /// How long an answer is waited for, milliseconds.
    pub timeout_ms: u32,
    /// Whether a hook that fails (no answer in time, an error, a bad answer) stops the
    /// request (`true`), or lets it go on as if there were no hook.
    pub fail_closed: bool,
    /// Whether it is called.
    pub enabled: bool,
    /// The signing secret, sealed with the master key.
    pub secret_sealed: String,
    /// The secret before the last rotation, sealed, and until when it still signs beside
    /// the new one ([`PREVIOUS_SECRET_GRACE`]).
    pub previous_secret: Option<(String, DateTime<Utc>)>,
    /// When it was set.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Default time budget of a hook, milliseconds.
pub const HOOK_TIMEOUT_MS: u32 = 2000;
/// The longest budget a hook may have, milliseconds.
pub const HOOK_TIMEOUT_MAX_MS: u32 = 10_000;

/// What `before_user_created` answers.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// Go on.
    Allow,
    /// Refuse, with a message for the user.
    Deny {
        /// Shown to the user.
        #[serde(default)]
        message: Option<String>,
    },
}

/// What `custom_access_token_claims` answers.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct ClaimsAnswer {
    /// Claims to add.
    #[serde(default)]
    pub claims: serde_json::Map<String, serde_json::Value>,
}

/// The claims a hook may not set: the registered JWT claims and those Portcullis relies on.
pub const RESERVED_CLAIMS: [&str; 18] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "sid",
    "org",
    "roles",
    "amr",
    "acr",
    "azp",
    "scope",
    "client_id",
    "auth_time",
    "typ",
    "cnf",
];

/// `claims` without the reserved ones, and at most 4 KiB of them (as JSON).
pub fn allowed_claims(
    mut claims: serde_json::Map<String, serde_json::Value>,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    claims.retain(|k, _| !RESERVED_CLAIMS.contains(&k.as_str()));
    let size = serde_json::to_string(&claims).map_or(usize::MAX, |s| s.len());
    if size > 4096 {
        return Err(format!(
            "the claims take {size} bytes; at most 4096 may be added"
        ));
    }
    Ok(claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_as_the_specification_does() {
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        let body = r#"{"test": 2432232314}"#;
        assert_eq!(
            signature(secret, id, 1_614_265_330, body).unwrap(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn retries_for_about_three_days_then_gives_up() {
        let total: i64 = RETRY_SCHEDULE.iter().sum();
        assert!((60 * 3600..=84 * 3600).contains(&total), "{total}");
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let s = retry_schedule();
        assert_eq!(next_retry(&s, 1, now), Some(now + Duration::seconds(5)));
        assert_eq!(next_retry(&s, 15, now), None);
    }

    #[test]
    fn reserved_claims_are_dropped() {
        let claims: serde_json::Map<_, _> =
            serde_json::from_str(r#"{"sub":"x","roles":["root"],"tier":"gold"}"#).unwrap();
        let kept = allowed_claims(claims).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept["tier"], "gold");
    }

    #[test]
    fn decisions_parse() {
        assert_eq!(
            serde_json::from_str::<Decision>(r#"{"decision":"allow"}"#).unwrap(),
            Decision::Allow
        );
        assert_eq!(
            serde_json::from_str::<Decision>(r#"{"decision":"deny","message":"no"}"#).unwrap(),
            Decision::Deny {
                message: Some("no".into())
            }
        );
        assert!(serde_json::from_str::<Decision>(r#"{"decision":"maybe"}"#).is_err());
    }

    #[test]
    fn event_types_are_audit_types() {
        assert_eq!(
            check_event_types(&["user.deleted".into(), "user.deleted".into()]).unwrap(),
            vec!["user.deleted"]
        );
        assert!(check_event_types(&["nope".into()]).is_err());
    }
}
