//! Text messages: a JSON webhook, a Twilio-compatible API, or a file outbox.

use std::path::PathBuf;

use async_trait::async_trait;
use portcullis_core::notify::{SendError, SmsMessage, SmsSender};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(20))
        .build()
        .unwrap_or_default()
}

async fn check(
    res: Result<reqwest::Response, reqwest::Error>,
    what: &str,
) -> Result<(), SendError> {
    let res = res.map_err(|e| SendError(format!("{what}: {e}")))?;
    if res.status().is_success() {
        Ok(())
    } else {
        Err(SendError(format!("{what} answered {}", res.status())))
    }
}

/// POSTs `{"to": "+1555...", "body": "..."}` to a URL, with an optional bearer secret.
#[derive(Clone)]
pub struct WebhookSms {
    http: reqwest::Client,
    url: String,
    secret: Option<String>,
}

impl std::fmt::Debug for WebhookSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSms").finish_non_exhaustive()
    }
}

impl WebhookSms {
    /// A sender to `url`, authenticating with `Authorization: Bearer <secret>` when given.
    pub fn new(url: &str, secret: Option<String>) -> Self {
        Self {
            http: client(),
            url: url.to_owned(),
            secret,
        }
    }
}

#[async_trait]
impl SmsSender for WebhookSms {
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        let mut req = self
            .http
            .post(&self.url)
            .json(&serde_json::json!({"to": message.to, "body": message.body}));
        if let Some(secret) = &self.secret {
            req = req.bearer_auth(secret);
        }
        check(req.send().await, "SMS webhook").await
    }
}

/// Twilio's Messages API (or anything that speaks it): form-encoded `To`, `From`, `Body`
/// POSTed to `{base}/2010-04-01/Accounts/{sid}/Messages.json` with basic auth.
#[derive(Clone)]
pub struct TwilioSms {
    http: reqwest::Client,
    base_url: String,
    account_sid: String,
    auth_token: String,
    from: String,
}

impl std::fmt::Debug for TwilioSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwilioSms")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl TwilioSms {
    /// A sender for an account; `base_url` is `https://api.twilio.com` in production.
    pub fn new(base_url: &str, account_sid: &str, auth_token: &str, from: &str) -> Self {
        Self {
            http: client(),
            base_url: base_url.trim_end_matches('/').to_owned(),
            account_sid: account_sid.to_owned(),
            auth_token: auth_token.to_owned(),
            from: from.to_owned(),
        }
    }
}

#[async_trait]
impl SmsSender for TwilioSms {
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        let url = format!(
            "{}/2010-04-01/Accounts/{}/Messages.json",
            self.base_url, self.account_sid
        );
        let form = [
            ("To", message.to.as_str()),
            ("From", self.from.as_str()),
            ("Body", message.body.as_str()),
        ];
        let req = self
            .http
            .post(url)
            .basic_auth(&self.account_sid, Some(&self.auth_token))
            .form(&form);
        check(req.send().await, "Twilio").await
    }
}

/// Writes each text message to a `.sms.json` file, for running without an SMS provider.
#[derive(Debug, Clone)]
pub struct OutboxSms {
    dir: PathBuf,
}

impl OutboxSms {
    /// An outbox in `dir`.
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

#[async_trait]
impl SmsSender for OutboxSms {
    async fn send(&self, message: &SmsMessage) -> Result<(), SendError> {
        let body =
            serde_json::to_vec_pretty(&serde_json::json!({"to": message.to, "body": message.body}))
                .map_err(|e| SendError(e.to_string()))?;
        let path = crate::write_outbox_file(&self.dir, "sms.json", &body).await?;
        tracing::info!(path = %path.display(), "text message written to the outbox (no SMS sender configured)");
        Ok(())
    }
}
