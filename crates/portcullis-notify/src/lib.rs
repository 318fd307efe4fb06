//! Message delivery for Portcullis: the [`Mailer`] and [`SmsSender`] ports of the core,
//! implemented over SMTP (lettre), an HTTP webhook, a Twilio-compatible API, and file
//! outboxes for running without any of them; and the [`Caller`] port, outbound HTTP calls
//! to public addresses.

mod http;
mod mail;
mod sms;

pub use http::HttpCaller;
pub use mail::{OutboxMailer, SmtpMailer};
pub use portcullis_core::notify::{Caller, EmailMessage, Mailer, SendError, SmsMessage, SmsSender};
pub use sms::{OutboxSms, TwilioSms, WebhookSms};

/// Writes `contents` to a new file named by a fresh time-ordered id in `dir`.
async fn write_outbox_file(
    dir: &std::path::Path,
    extension: &str,
    contents: &[u8],
) -> Result<std::path::PathBuf, SendError> {
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| SendError(format!("creating {}: {e}", dir.display())))?;
    let path = dir.join(format!("{}.{extension}", uuid::Uuid::now_v7()));
    tokio::fs::write(&path, contents)
        .await
        .map_err(|e| SendError(format!("writing {}: {e}", path.display())))?;
    Ok(path)
}
