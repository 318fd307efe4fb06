//! Outgoing messages and HTTP calls, and the ports that deliver them. The use cases never send directly:
//! they put messages in the store's outbox (in the same transaction as any code they
//! carry), and the outbox courier ([`crate::service::Courier`]) hands them to these senders.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// An email with a plain-text and an HTML part.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailMessage {
    /// Recipient address.
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// A text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsMessage {
    /// Recipient, E.164.
    pub to: String,
    /// Text.
    pub body: String,
}

/// A message of either kind, as queued in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Message {
    /// By email.
    Email(EmailMessage),
    /// By SMS.
    Sms(SmsMessage),
}

impl Message {
    /// The address it goes to.
    pub fn recipient(&self) -> &str {
        match self {
            Self::Email(m) => &m.to,
            Self::Sms(m) => &m.to,
        }
    }
}

/// Why a delivery failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SendError(pub String);

/// Delivers email.
#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Sends one message; an error means it should be retried later.
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError>;
}

/// Delivers text messages.
#[async_trait]
pub trait SmsSender: Send + Sync + 'static {
    /// Sends one message; an error means it should be retried later.
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError>;
}

/// An HTTP `POST` to another system, as the outbound queue keeps it (back-channel logout
/// tokens), or as a hook or webhook is called.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboundRequest {
    /// Where.
    pub url: String,
    /// The body's media type.
    pub content_type: String,
    /// The body.
    pub body: String,
    /// More headers (a webhook's signature).
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// How long to wait for the whole answer, milliseconds; the caller's default if none.
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

/// A 2xx answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallReply {
    /// The status code.
    pub status: u16,
    /// The body, cut at 64 KiB.
    pub body: String,
}

/// Why an outbound call failed.
#[derive(Debug, thiserror::Error)]
#[error("{reason}")]
pub struct CallError {
    /// In words, for the log and the queue.
    pub reason: String,
    /// Whether trying again cannot help (an address that may not be called).
    pub permanent: bool,
    /// The status code, when an answer came.
    pub status: Option<u16>,
    /// Whether no answer came in time.
    pub timed_out: bool,
}

/// Makes outbound HTTP calls.
#[async_trait]
pub trait Caller: Send + Sync + 'static {
    /// Posts `request`; success is a 2xx answer.
    async fn post(&self, request: &OutboundRequest) -> Result<CallReply, CallError>;
    /// Gets `request.url` (its body and content type unused), under the same rules; success
    /// is a 2xx answer. Upstream identity providers' discovery documents, keys and APIs.
    async fn get(&self, request: &OutboundRequest) -> Result<CallReply, CallError>;
}
