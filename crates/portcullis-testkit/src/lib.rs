//! Test harness: a real Portcullis server on `127.0.0.1:0` with a fresh database (a SQLite
//! file in a temporary folder, or a fresh schema in the PostgreSQL named by
//! `PORTCULLIS_TEST_POSTGRES_URL`), spoken to over HTTP through `portcullis-client`.

pub mod authenticator;
mod otp;
pub mod python;
pub mod receiver;
mod sinks;

use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::Arc;

pub use otp::{base32, totp};
pub use sinks::{code_in, token_in, Inbox, Mail, Sms};

use portcullis::{App, Config};
use portcullis_api::{LoginRequest, RegisterRequest, TokenPair, User};
use portcullis_client::Client;
use tokio::sync::oneshot;

pub use portcullis_api as api;
pub use portcullis_client as client;

/// The bootstrap admin every test server has.
pub const ADMIN_EMAIL: &str = "admin@portcullis.test";
/// Its password.
pub const ADMIN_PASSWORD: &str = "bootstrap pass for tests only";
/// The password of users made by [`TestServer::user`].
pub const USER_PASSWORD: &str = "correct horse battery";

/// Which database a test server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in a temporary folder.
    Sqlite,
    /// A fresh schema in `PORTCULLIS_TEST_POSTGRES_URL`.
    Postgres,
}

/// A running server; dropping it stops the server and removes its database.
pub struct TestServer {
    addr: SocketAddr,
    dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pg: Option<(String, String)>,
    config: Config,
    clock: Arc<portcullis_core::OffsetClock>,
    /// Every email the server sent, through a real SMTP server on a loopback port.
    pub mail: Arc<Inbox<Mail>>,
    /// Every text message the server sent, through a real HTTP listener.
    pub sms: Arc<Inbox<Sms>>,
    sms_url: String,
}

/// The token test servers ask for on `/metrics`.
pub const METRICS_TOKEN: &str = "metrics-token-for-tests-only";

/// The bearer secret the test server sends to the SMS webhook.
pub const SMS_SECRET: &str = "sms-webhook-secret";

impl std::fmt::Debug for TestServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The PostgreSQL URL for tests, or `None` after saying, past the harness's capture, that
/// the PostgreSQL half is skipped.
pub fn postgres_url() -> Option<String> {
    let url = std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if url.is_none() {
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: PostgreSQL test (set PORTCULLIS_TEST_POSTGRES_URL to run it)"
        );
    }
    url
}

impl TestServer {
    /// A server on `backend` with the default test configuration; `None` when that
    /// backend is not available (PostgreSQL without `PORTCULLIS_TEST_POSTGRES_URL`).
    pub async fn spawn(backend: Backend) -> Option<Self> {
        Self::spawn_with(backend, |_| {}).await
    }

    /// As [`TestServer::spawn`], after `adjust` has changed the configuration.
    pub async fn spawn_with(backend: Backend, adjust: impl FnOnce(&mut Config)) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temporary folder");
        let (smtp_port, mail) = sinks::smtp().await;
        let (sms_url, sms) = sinks::sms().await;
        let mut config = Config {
            listen: "127.0.0.1:0".to_owned(),
            data_dir: dir.path().join("data"),
            bootstrap_admin_email: Some(ADMIN_EMAIL.to_owned()),
            bootstrap_admin_password: Some(ADMIN_PASSWORD.into()),
            hash_concurrency: Some(4),
            smtp_url: Some(format!("smtp://127.0.0.1:{smtp_port}")),
            mail_from: "Portcullis Test <no-reply@portcullis.test>".to_owned(),
            sms_webhook_url: Some(format!("{sms_url}/sms")),
            sms_webhook_secret: Some(SMS_SECRET.into()),
            reset_link_url: Some("https://app.example/reset".to_owned()),
            metrics_token: Some(METRICS_TOKEN.into()),
            // The relying parties' back-channel endpoints in tests are on loopback.
            outbound_allow: "127.0.0.1".to_owned(),
            // Webhook retries a second apart, given up after ten: a receiver that is down
            // for a few seconds, or for good, within a test's time.
            webhook_retry_secs: "1,1,1,1,1,1,1,1,1,1".to_owned(),
            ..Config::default()
        };
        let pg = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => {
                let base = postgres_url()?;
                let schema = format!("pt_{}", uuid::Uuid::new_v4().simple());
                let url = portcullis_store::pg_schema::create(&base, &schema)
                    .await
                    .expect("create test schema");
                config.database_url = Some(url);
                config.master_key = Some("ZGV2LW9ubHktbWFzdGVyLWtleS0zMi1ieXRlcyEhISE=".into());
                Some((base, schema))
            }
        };
        adjust(&mut config);
        let sinks = Sinks {
            mail,
            sms,
            sms_url,
            clock: Arc::default(),
        };
        Some(Self::start(config, dir, pg, sinks).await)
    }

    async fn start(
        config: Config,
        dir: tempfile::TempDir,
        pg: Option<(String, String)>,
        sinks: Sinks,
    ) -> Self {
        let clock: Arc<dyn portcullis_core::Clock> = Arc::clone(&sinks.clock) as _;
        let app = match App::build_with_clock(config.clone(), clock).await {
            Ok(app) => app,
            Err(e) => {
                if let Some((base, schema)) = &pg {
                    let _ = portcullis_store::pg_schema::drop(base, schema).await;
                }
                panic!("server did not start: {e:#}");
            }
        };
        let addr = app.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = app
                .serve(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let Sinks {
            mail,
            sms,
            sms_url,
            clock,
        } = sinks;
        Self {
            addr,
            dir,
            stop: Some(stop),
            task: Some(task),
            pg,
            config,
            clock,
            mail,
            sms,
            sms_url,
        }
    }

    /// The server's current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        portcullis_core::Clock::now(self.clock.as_ref())
    }

    /// Moves the server's clock forward (codes and leases expire without sleeping).
    pub fn advance(&self, seconds: i64) {
        self.clock.advance(chrono::Duration::seconds(seconds));
    }

    /// Moves the server's clock to just after the next minute begins (at least one second
    /// on): per-minute limits and message intervals count per clock minute, so a test whose
    /// requests must fall in one minute starts here (a minute rolling over mid-test would
    /// give a fresh budget).
    pub fn advance_to_next_minute(&self) {
        let into = self.now().timestamp().rem_euclid(60);
        self.advance(61 - into);
    }

    /// The SMS sink's base URL (the webhook is `/sms`, the Twilio-style API below the root).
    pub fn sms_url(&self) -> &str {
        &self.sms_url
    }

    /// Waits for the `n`th email to `to` and answers it.
    pub async fn nth_mail(&self, to: &str, n: usize) -> Mail {
        let mails = self.mail.wait_for(n, |m| m.to == to).await;
        mails[n - 1].clone()
    }

    /// Waits for the `n`th text to `to` and answers it.
    pub async fn nth_sms(&self, to: &str, n: usize) -> Sms {
        let texts = self.sms.wait_for(n, |m| m.to == to).await;
        texts[n - 1].clone()
    }

    /// Stops this server and starts another on the same database and data folder (a restart).
    pub async fn restart(self) -> Self {
        self.restart_with(|_| {}).await
    }

    /// A restart with a changed configuration.
    pub async fn restart_with(mut self, adjust: impl FnOnce(&mut Config)) -> Self {
        self.shutdown().await;
        let dir = std::mem::replace(
            &mut self.dir,
            tempfile::tempdir().expect("temporary folder"),
        );
        let pg = self.pg.take();
        let sinks = Sinks {
            mail: Arc::clone(&self.mail),
            sms: Arc::clone(&self.sms),
            sms_url: self.sms_url.clone(),
            clock: Arc::clone(&self.clock),
        };
        let mut config = self.config.clone();
        // A restarted server keeps its public address, so tokens keep their issuer.
        config.issuer = Some(config.issuer.clone().unwrap_or_else(|| self.url()));
        config.listen = "127.0.0.1:0".to_owned();
        adjust(&mut config);
        Self::start(config, dir, pg, sinks).await
    }

    async fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// The configuration the server runs with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The base URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The data folder (master key, SQLite file).
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.config.data_dir.clone()
    }

    /// `/metrics`, with the metrics token.
    pub async fn metrics(&self) -> String {
        self.client()
            .with_token(METRICS_TOKEN)
            .metrics()
            .await
            .expect("metrics")
    }

    /// An anonymous client.
    pub fn client(&self) -> Client {
        Client::new(&self.url())
    }

    /// Registers `email` with [`USER_PASSWORD`].
    pub async fn user(&self, email: &str) -> User {
        self.client()
            .register(&RegisterRequest {
                email: Some(email.to_owned()),
                password: Some(USER_PASSWORD.to_owned()),
                ..RegisterRequest::default()
            })
            .await
            .expect("registration")
    }

    /// Tries to sign in with an identifier and password.
    pub async fn try_login(
        &self,
        identifier: &str,
        password: &str,
    ) -> Result<TokenPair, client::Error> {
        let body = LoginRequest {
            identifier: identifier.to_owned(),
            password: password.to_owned(),
            organization: None,
            ..Default::default()
        };
        self.client().login(&body).await
    }

    /// Signs in with an identifier and password.
    pub async fn login(&self, identifier: &str, password: &str) -> TokenPair {
        self.try_login(identifier, password).await.expect("login")
    }

    /// Registers `email` and signs in: the pair and a client carrying its access token.
    pub async fn signed_in(&self, email: &str) -> (TokenPair, Client) {
        self.user(email).await;
        let pair = self.login(email, USER_PASSWORD).await;
        let client = self.client().with_token(&pair.access_token);
        (pair, client)
    }

    /// A member of organization `org`, made by the system admin (verified), signed in:
    /// `roles` beyond `user`, such as `org_admin`.
    pub async fn member_of(&self, org: &str, email: &str, roles: &[&str]) -> Client {
        let body = api::CreateUserRequest {
            account: RegisterRequest {
                email: Some(email.to_owned()),
                password: Some(USER_PASSWORD.to_owned()),
                organization: Some(org.to_owned()),
                ..RegisterRequest::default()
            },
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
            verified: true,
        };
        self.admin()
            .await
            .create_user(&body)
            .await
            .expect("member created");
        let login = LoginRequest {
            identifier: email.to_owned(),
            password: USER_PASSWORD.to_owned(),
            organization: Some(org.to_owned()),
            ..LoginRequest::default()
        };
        let pair = self.client().login(&login).await.expect("member signs in");
        self.client().with_token(&pair.access_token)
    }

    /// A client signed in as the bootstrap `system_admin`.
    pub async fn admin(&self) -> Client {
        let pair = self.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
        self.client().with_token(&pair.access_token)
    }
}

/// What a server's restart keeps: its sinks and its clock.
struct Sinks {
    mail: Arc<Inbox<Mail>>,
    sms: Arc<Inbox<Sms>>,
    sms_url: String,
    clock: Arc<portcullis_core::OffsetClock>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if let Some((base, schema)) = self.pg.take() {
            // Async work cannot run in Drop; a short-lived thread with its own runtime can.
            let _ = std::thread::spawn(move || {
                if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    let _ = rt.block_on(portcullis_store::pg_schema::drop(&base, &schema));
                }
            })
            .join();
        }
    }
}

/// Runs each named `async fn(TestServer)` as two tests, `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let server = $crate::TestServer::spawn($crate::Backend::Sqlite).await.expect("sqlite");
                    super::$name(server).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(server) = $crate::TestServer::spawn($crate::Backend::Postgres).await else { return };
                    super::$name(server).await;
                }
            )*
        }
    };
}
