//! Email: SMTP through lettre, or `.eml` files in an outbox folder.

use std::path::PathBuf;

use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::AsyncSmtpTransport;
use lettre::{AsyncTransport, Message, Tokio1Executor};
use portcullis_core::notify::{EmailMessage, Mailer, SendError};

fn build(from: &Mailbox, m: &EmailMessage) -> Result<Message, SendError> {
    let to: Mailbox =
        m.to.parse()
            .map_err(|e| SendError(format!("recipient: {e}")))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(&m.subject)
        .multipart(MultiPart::alternative_plain_html(
            m.text.clone(),
            m.html.clone(),
        ))
        .map_err(|e| SendError(format!("building the message: {e}")))
}

/// Sends mail through an SMTP server.
///
/// The URL is lettre's: `smtp://host:25` (plain, or STARTTLS when offered is not attempted),
/// `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtps://user:pass@host:465`
/// (implicit TLS).
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("from", &self.from.email.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// A mailer for `url`, sending as `from` (`Name <address>` or a bare address).
    pub fn new(url: &str, from: &str) -> Result<Self, SendError> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| SendError(format!("PORTCULLIS_SMTP_URL: {e}")))?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        let from = from
            .parse()
            .map_err(|e| SendError(format!("PORTCULLIS_MAIL_FROM: {e}")))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
        let email = build(&self.from, message)?;
        self.transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|e| SendError(format!("smtp: {e}")))
    }
}

/// Writes each message as an `.eml` file, for running without a mail server. The log says
/// where each one went, so a new user can open it and read the code.
#[derive(Debug, Clone)]
pub struct OutboxMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl OutboxMailer {
    /// An outbox in `dir`, messages sent as `from`.
    pub fn new(dir: PathBuf, from: &str) -> Result<Self, SendError> {
        let from = from
            .parse()
            .map_err(|e| SendError(format!("PORTCULLIS_MAIL_FROM: {e}")))?;
        Ok(Self { dir, from })
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), SendError> {
        let email = build(&self.from, message)?;
        let path = crate::write_outbox_file(&self.dir, "eml", &email.formatted()).await?;
        tracing::info!(path = %path.display(), "email written to the outbox (no PORTCULLIS_SMTP_URL set)");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn outbox_writes_a_multipart_eml() {
        let dir = tempfile::tempdir().unwrap();
        let mailer =
            OutboxMailer::new(dir.path().to_path_buf(), "Portcullis <no-reply@localhost>").unwrap();
        let m = EmailMessage {
            to: "ann@example.com".into(),
            subject: "Your code".into(),
            text: "Code: 123456".into(),
            html: "<p>Code: <b>123456</b></p>".into(),
        };
        mailer.send(&m).await.unwrap();
        let file = std::fs::read_dir(dir.path())
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path();
        let text = std::fs::read_to_string(file).unwrap();
        assert!(text.contains("To: ann@example.com") && text.contains("Subject: Your code"));
        assert!(
            text.contains("multipart/alternative")
                && text.contains("text/html")
                && text.contains("123456")
        );
        let bad = EmailMessage {
            to: "not an address".into(),
            ..m
        };
        assert!(mailer.send(&bad).await.is_err());
        assert!(SmtpMailer::new("nonsense://x", "a@b.co").is_err());
        assert!(SmtpMailer::new("smtp://127.0.0.1:2525", "a@b.co").is_ok());
    }
}
