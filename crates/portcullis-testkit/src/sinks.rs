//! Real message sinks for tests: a minimal SMTP server on a loopback port and an HTTP
//! listener for SMS (JSON webhook and Twilio-style form posts). Hand-written here because
//! a test needs only the receiving half of SMTP: greeting, EHLO, MAIL, RCPT, DATA, QUIT.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::routing::post;
use axum::{Form, Json, Router};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Notify;

/// An email as it arrived.
#[derive(Debug, Clone)]
pub struct Mail {
    /// Envelope recipient.
    pub to: String,
    /// Decoded subject.
    pub subject: String,
    /// Decoded plain-text part.
    pub text: String,
    /// Decoded HTML part.
    pub html: String,
}

/// A text message as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    /// Recipient.
    pub to: String,
    /// Text.
    pub body: String,
    /// How it came: `webhook` or `twilio`.
    pub via: String,
    /// The `Authorization` header sent with it.
    pub authorization: Option<String>,
}

/// Things received, with a way to wait for more.
#[derive(Debug)]
pub struct Inbox<T> {
    items: Mutex<Vec<T>>,
    arrived: Notify,
}

impl<T> Default for Inbox<T> {
    fn default() -> Self {
        Self {
            items: Mutex::new(Vec::new()),
            arrived: Notify::new(),
        }
    }
}

impl<T: Clone> Inbox<T> {
    fn push(&self, item: T) {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(item);
        self.arrived.notify_waiters();
    }

    /// Everything received so far that matches.
    pub fn all(&self, keep: impl Fn(&T) -> bool) -> Vec<T> {
        self.items
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|i| keep(i))
            .cloned()
            .collect()
    }

    /// Waits (at most 15 s, then panics) until `n` matching items have arrived; answers them.
    pub async fn wait_for(&self, n: usize, keep: impl Fn(&T) -> bool) -> Vec<T> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        loop {
            let notified = self.arrived.notified();
            let found = self.all(&keep);
            if found.len() >= n {
                return found;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!("waited 15 s for {n} messages, got {}", found.len());
            }
        }
    }
}

/// The first run of exactly six digits in `text`: the code of a message.
pub fn code_in(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start == 6 {
                return text[start..i].to_owned();
            }
        } else {
            i += 1;
        }
    }
    panic!("no 6-digit code in {text:?}")
}

/// The `token` of the reset link in `text`.
pub fn token_in(text: &str) -> String {
    let start = text
        .find("token=")
        .map(|i| i + "token=".len())
        .unwrap_or_else(|| panic!("no link in {text:?}"));
    text[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        .collect()
}

/// Starts the SMTP sink; answers its port and its inbox.
pub(crate) async fn smtp() -> (u16, Arc<Inbox<Mail>>) {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind SMTP sink");
    let port = listener.local_addr().expect("SMTP sink address").port();
    let inbox: Arc<Inbox<Mail>> = Arc::default();
    let boxed = Arc::clone(&inbox);
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let inbox = Arc::clone(&boxed);
            tokio::spawn(async move {
                let _ = smtp_session(socket, &inbox).await;
            });
        }
    });
    (port, inbox)
}

async fn smtp_session(socket: tokio::net::TcpStream, inbox: &Inbox<Mail>) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    write.write_all(b"220 sink ESMTP\r\n").await?;
    let mut rcpt = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        if lines.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" | "HELO" => write.write_all(b"250-sink\r\n250 8BITMIME\r\n").await?,
            "MAIL" => {
                rcpt.clear();
                write.write_all(b"250 OK\r\n").await?;
            }
            "RCPT" => {
                let addr = line.split(['<', '>']).nth(1).unwrap_or("").to_owned();
                rcpt.push(addr);
                write.write_all(b"250 OK\r\n").await?;
            }
            "DATA" => {
                write.write_all(b"354 go ahead\r\n").await?;
                let mut data = Vec::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let unstuffed = line.strip_prefix('.').unwrap_or(&line);
                    data.extend_from_slice(unstuffed.as_bytes());
                }
                let parsed = mail_parser::MessageParser::default().parse(&data);
                for to in &rcpt {
                    let (subject, text, html) =
                        parsed.as_ref().map_or_else(Default::default, |m| {
                            (
                                m.subject().unwrap_or("").to_owned(),
                                m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                                m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
                            )
                        });
                    inbox.push(Mail {
                        to: to.clone(),
                        subject,
                        text,
                        html,
                    });
                }
                write.write_all(b"250 OK queued\r\n").await?;
            }
            "RSET" | "NOOP" => write.write_all(b"250 OK\r\n").await?,
            "QUIT" => {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            }
            _ => write.write_all(b"502 not implemented\r\n").await?,
        }
    }
}

#[derive(serde::Deserialize)]
struct WebhookBody {
    to: String,
    body: String,
}

#[derive(serde::Deserialize)]
struct TwilioForm {
    #[serde(rename = "To")]
    to: String,
    #[serde(rename = "Body")]
    body: String,
}

fn authorization(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Starts the SMS sink; answers its base URL (webhook at `/sms`, Twilio API below it) and
/// its inbox.
pub(crate) async fn sms() -> (String, Arc<Inbox<Sms>>) {
    let inbox: Arc<Inbox<Sms>> = Arc::default();
    let app = Router::new()
        .route(
            "/sms",
            post(
                |State(inbox): State<Arc<Inbox<Sms>>>,
                 headers: axum::http::HeaderMap,
                 Json(b): Json<WebhookBody>| async move {
                    inbox.push(Sms {
                        to: b.to,
                        body: b.body,
                        via: "webhook".into(),
                        authorization: authorization(&headers),
                    });
                    "ok"
                },
            ),
        )
        .route(
            "/2010-04-01/Accounts/{sid}/Messages.json",
            post(
                |State(inbox): State<Arc<Inbox<Sms>>>,
                 headers: axum::http::HeaderMap,
                 Form(f): Form<TwilioForm>| async move {
                    inbox.push(Sms {
                        to: f.to,
                        body: f.body,
                        via: "twilio".into(),
                        authorization: authorization(&headers),
                    });
                    (axum::http::StatusCode::CREATED, "{}")
                },
            ),
        )
        .with_state(Arc::clone(&inbox));
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind SMS sink");
    let url = format!(
        "http://{}",
        listener.local_addr().expect("SMS sink address")
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, inbox)
}
