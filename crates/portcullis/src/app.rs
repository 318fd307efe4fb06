//! Assembles a running server from a [`Config`]: database, master key, use cases, HTTP.

use secrecy::ExposeSecret as _;
use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use portcullis_core::config::Argon2Params;
use portcullis_core::notify::{Mailer, SmsSender};
use portcullis_core::{Clock, CoreConfig, MasterKey, OsRng, Services, SystemClock};
use portcullis_notify::{OutboxMailer, OutboxSms, SmtpMailer, TwilioSms, WebhookSms};
use portcullis_store::{Backend, Change, Database, PoolSettings};
use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::config::{redact_url, Config};

/// A built server, bound to its address, not yet serving.
pub struct App {
    listener: TcpListener,
    router: portcullis_server::Router,
    connections: portcullis_server::ConnectionSettings,
    metrics_listener: Option<TcpListener>,
    services: Arc<Services>,
    db: Database,
    database: String,
    courier: Option<portcullis_core::service::Courier>,
    dispatcher: Option<portcullis_core::service::Dispatcher>,
    deliverer: Option<portcullis_core::service::Deliverer>,
    janitor_interval: Duration,
    key_reload: Duration,
}

/// How messages leave this node.
struct Senders {
    mailer: Arc<dyn Mailer>,
    sms: Arc<dyn SmsSender>,
    /// For the start-up log: which senders, never their secrets.
    description: String,
}

/// The mail and SMS senders the configuration names; outboxes in the data folder by default.
fn senders(config: &Config) -> anyhow::Result<Senders> {
    let outbox = config.data_dir.join("outbox");
    let (mailer, mail_kind): (Arc<dyn Mailer>, String) = match &config.smtp_url {
        Some(url) => (
            Arc::new(SmtpMailer::new(url, &config.mail_from).map_err(|e| anyhow::anyhow!("{e}"))?),
            "smtp".into(),
        ),
        None => (
            Arc::new(
                OutboxMailer::new(outbox.clone(), &config.mail_from)
                    .map_err(|e| anyhow::anyhow!("{e}"))?,
            ),
            format!("outbox {}", outbox.display()),
        ),
    };
    let (sms, sms_kind): (Arc<dyn SmsSender>, String) = match (
        &config.sms_webhook_url,
        &config.twilio_account_sid,
        &config.twilio_auth_token,
        &config.twilio_from,
    ) {
        (Some(url), _, _, _) => (
            Arc::new(WebhookSms::new(
                url,
                config
                    .sms_webhook_secret
                    .as_ref()
                    .map(|s| s.expose_secret().to_owned()),
            )),
            "webhook".into(),
        ),
        (None, Some(sid), Some(token), Some(from)) => (
            Arc::new(TwilioSms::new(
                &config.twilio_base_url,
                sid,
                token.expose_secret(),
                from,
            )),
            "twilio".into(),
        ),
        _ => (
            Arc::new(OutboxSms::new(outbox.clone())),
            format!("outbox {}", outbox.display()),
        ),
    };
    Ok(Senders {
        mailer,
        sms,
        description: format!("mail: {mail_kind}; sms: {sms_kind}"),
    })
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// Reads the master key: from configuration, else from `<data_dir>/master.key`, which is
/// made on first start. PostgreSQL means several nodes, which must share one key, so
/// there it has to be given.
pub(crate) fn master_key(config: &Config, backend: Backend) -> anyhow::Result<MasterKey> {
    if let Some(text) = config.master_key_text() {
        return MasterKey::from_base64(&text).context("PORTCULLIS_MASTER_KEY");
    }
    if backend == Backend::Postgres {
        bail!(
            "PORTCULLIS_MASTER_KEY is required with PostgreSQL: every node must use the same key. \
             Make one with `head -c 32 /dev/urandom | base64` and give it to every node."
        );
    }
    let path = config.data_dir.join("master.key");
    if path.exists() {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(&path)
                .with_context(|| format!("reading {}", path.display()))?,
        );
        return MasterKey::from_base64(&text)
            .with_context(|| format!("{} is not a valid master key", path.display()));
    }
    let key = MasterKey::generate(&OsRng);
    write_secret_file(&path, key.to_base64().as_bytes())?;
    info!(path = %path.display(), "generated a master key; back it up with the database");
    Ok(key)
}

fn write_secret_file(path: &Path, contents: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(contents)?;
    file.sync_all()?;
    Ok(())
}

/// Opens the database named by the configuration and applies migrations.
pub async fn open_database(config: &Config) -> anyhow::Result<Database> {
    let url = config.database_url();
    let settings = PoolSettings {
        max_connections: config.database_max_connections.max(1),
        acquire_timeout: Duration::from_secs(config.database_acquire_timeout_secs),
        mode: config.database_pool_mode()?,
        direct_url: config.database_direct_url.clone(),
    };
    // One line each: what went wrong says what to set (a pooler's refusal, above all).
    let db = Database::connect(&url, &settings)
        .await
        .map_err(|e| anyhow::anyhow!("connecting to {}: {e}", redact_url(&url)))?;
    db.migrate()
        .await
        .map_err(|e| anyhow::anyhow!("applying migrations: {e}"))?;
    Ok(db)
}

/// Descriptors kept back from connections: the database pools, the SQLite files, mail and
/// SMS connections, logs.
fn descriptor_reserve(config: &Config) -> usize {
    usize::try_from(config.database_max_connections).unwrap_or(usize::MAX) * 2 + 64
}

/// How many connections may be open at once: what the configuration says, but never so
/// many that the process runs out of descriptors (then it could not accept, open its
/// database or send mail). Raises the soft descriptor limit to the hard one first.
fn connection_cap(config: &Config) -> usize {
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) => usize::try_from(n).unwrap_or(usize::MAX),
        Err(e) => {
            warn!(error = %e, "could not read or raise the open-file limit");
            1024
        }
    };
    let fits = limit.saturating_sub(descriptor_reserve(config)).max(16);
    match config.max_connections {
        Some(n) if n > fits => {
            warn!(
                configured = n,
                allowed = fits,
                open_file_limit = limit,
                "PORTCULLIS_MAX_CONNECTIONS is above what the open-file limit allows; using the lower"
            );
            fits
        }
        Some(n) => n,
        None => fits,
    }
}

/// The use-case settings from the configuration.
fn core_config(config: &Config, issuer: String) -> CoreConfig {
    let mut core = CoreConfig::new(issuer);
    core.access_token_ttl = chrono::Duration::seconds(config.access_token_ttl_secs);
    core.session_idle_timeout = chrono::Duration::seconds(config.session_idle_timeout_secs);
    core.session_absolute_lifetime =
        chrono::Duration::seconds(config.session_absolute_lifetime_secs);
    core.argon2 = Argon2Params {
        memory_kib: config.argon2_memory_kib,
        iterations: config.argon2_iterations,
        parallelism: config.argon2_parallelism,
    };
    core.code_ttl = chrono::Duration::seconds(config.code_ttl_secs);
    core.abuse_limits = config.rate_limits == "on";
    core.rate_per_ip = config.rate_limit_ip_per_minute;
    core.rate_per_identifier = config.rate_limit_identifier_per_minute;
    if !core.abuse_limits {
        warn!("PORTCULLIS_RATE_LIMITS=off: no rate limits and no lockout; use only on trusted networks or for benchmarks");
    }
    core.anonymous_retention = chrono::Duration::days(config.anonymous_retention_days);
    core.scim_max_candidates = config.scim_max_candidates.max(1);
    core.audit_retention = chrono::Duration::days(config.audit_retention_days);
    core.session_cache_ttl =
        chrono::Duration::seconds(i64::try_from(config.session_cache_secs).unwrap_or(i64::MAX));
    core.key_activation = chrono::Duration::seconds(
        i64::try_from(config.key_reload_secs.saturating_mul(2)).unwrap_or(i64::MAX),
    );
    core.message_daily_cap = config.message_daily_cap;
    if let Ok(Some(schedule)) = config.webhook_retry_schedule() {
        core.webhook_retry = schedule
            .into_iter()
            .map(|s| chrono::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX)))
            .collect();
    }
    if let Some(url) = &config.reset_link_url {
        core.reset_link_url = url.clone();
    }
    if let Some(rp) = &config.webauthn_rp_id {
        core.webauthn_rp_id = rp.clone();
    }
    if let Some(origins) = &config.webauthn_origins {
        core.webauthn_origins = origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
    }
    if let Some(n) = config.hash_concurrency {
        core.hash_concurrency = n.max(1);
    }
    core.hash_queue = config.hash_queue.unwrap_or(core.hash_concurrency * 32);
    core
}

/// The use cases on the configured database, without HTTP: for the commands that work on
/// the database directly (`admin create`, `export`, `import`).
pub(crate) async fn open_services(config: &Config) -> anyhow::Result<(Database, Arc<Services>)> {
    let url = config.database_url();
    let backend = Backend::of(&url)
        .context("PORTCULLIS_DATABASE_URL must start with sqlite:// or postgres://")?;
    let master = master_key(config, backend)?;
    let db = open_database(config).await?;
    let issuer = config
        .issuer
        .clone()
        .unwrap_or_else(|| format!("http://{}", config.listen_addr()));
    let services = Services::start(
        db.store(),
        Arc::new(SystemClock),
        Arc::new(OsRng),
        master,
        core_config(config, issuer),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((db, Arc::new(services)))
}

impl App {
    /// Connects, migrates, checks the master key, bootstraps the admin and binds the listener.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// As [`App::build`], with time from `clock` (tests move it forward to expire things).
    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let url = config.database_url();
        let backend = Backend::of(&url)
            .context("PORTCULLIS_DATABASE_URL must start with sqlite:// or postgres://")?;
        let master = master_key(&config, backend)?;
        let db = open_database(&config).await?;
        if backend == Backend::Postgres && !db.has_change_feed() {
            warn!(
                ttl_secs = config.session_cache_secs,
                "behind a transaction pooler without PORTCULLIS_DATABASE_DIRECT_URL: no change feed, so a change made on another node (a revocation, a disabled account) reaches this node's cache only when its entry expires; set the direct URL to have it at once"
            );
        }
        let listener = TcpListener::bind(config.listen_addr())
            .await
            .with_context(|| format!("listening on {}", config.listen_addr()))?;
        let addr = listener.local_addr()?;
        if config.issuer.is_none() && backend == Backend::Postgres {
            warn!("PORTCULLIS_ISSUER is not set: this node's tokens carry its own address as issuer, which other nodes refuse; set the public URL on every node");
        }
        let issuer = config
            .issuer
            .clone()
            .unwrap_or_else(|| format!("http://{addr}"));
        let core = core_config(&config, issuer);
        let Senders {
            mailer,
            sms,
            description: delivery,
        } = senders(&config)?;
        let services = Services::start(db.store(), clock, Arc::new(OsRng), master, core)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let caller: Arc<dyn portcullis_core::notify::Caller> = Arc::new(
            portcullis_notify::HttpCaller::new(&config.outbound_allow_list())
                .map_err(|e| anyhow::anyhow!("PORTCULLIS_OUTBOUND_ALLOW: {e}"))?,
        );
        let services = Arc::new(services.with_caller(Arc::clone(&caller)));
        if db.has_change_feed() {
            // Other nodes change sessions too: no cache until the change feed is connected
            // (without a feed, behind a transaction pooler, entries live their TTL).
            services.session_cache().set_enabled(false);
        }
        if let (Some(email), Some(password)) = (
            &config.bootstrap_admin_email,
            &config.bootstrap_admin_password,
        ) {
            match services
                .bootstrap_admin(email, password.expose_secret())
                .await
            {
                Ok(true) => info!("created the bootstrap admin"),
                Ok(false) => {}
                Err(
                    portcullis_core::AuthError::WeakPassword(e)
                    | portcullis_core::AuthError::Validation(e),
                ) => {
                    let why: Vec<String> = e
                        .into_iter()
                        .map(|f| format!("{} {}", f.field, f.message))
                        .collect();
                    bail!("bootstrap admin refused: {}", why.join("; "));
                }
                Err(e) => bail!("bootstrap admin: {e}"),
            }
        }
        let courier = config.outbox_worker.then(|| services.courier(mailer, sms));
        let dispatcher = config
            .outbox_worker
            .then(|| services.dispatcher(Arc::clone(&caller)));
        let deliverer = config
            .outbox_worker
            .then(|| services.deliverer(Arc::clone(&caller)));
        info!(%delivery, worker = config.outbox_worker, "message delivery");
        let router = portcullis_server::router(
            Arc::clone(&services),
            portcullis_server::metrics_handle(),
            portcullis_server::HttpSettings {
                trusted_proxies: config.trusted_proxy_list()?,
                cors_origins: config
                    .cors_origin_list()?
                    .iter()
                    .filter_map(|o| portcullis_server::HeaderValue::from_str(o).ok())
                    .collect(),
                request_timeout: Duration::from_secs(config.request_timeout_secs),
                max_concurrent_requests: config.max_concurrent_requests,
                body_read_timeout: Duration::from_secs(config.body_read_timeout_secs),
                metrics_token: config
                    .metrics_token
                    .as_ref()
                    .map(|t| t.expose_secret().to_owned()),
            },
            portcullis_compat::routes(&config.compat_dialects()?).merge(portcullis_ui::routes()),
        );
        let metrics_listener = match &config.metrics_listen {
            Some(addr) => Some(
                TcpListener::bind(addr)
                    .await
                    .with_context(|| format!("listening for metrics on {addr}"))?,
            ),
            None => None,
        };
        let connections = portcullis_server::ConnectionSettings {
            max_connections: connection_cap(&config),
            header_read_timeout: Duration::from_secs(config.header_read_timeout_secs),
            ..Default::default()
        };
        Ok(Self {
            listener,
            metrics_listener,
            router,
            connections,
            services,
            db,
            database: redact_url(&url),
            courier,
            dispatcher,
            deliverer,
            janitor_interval: Duration::from_secs(config.janitor_interval_secs),
            key_reload: Duration::from_secs(config.key_reload_secs),
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The metrics listener's address, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The database URL, password removed.
    pub fn database(&self) -> &str {
        &self.database
    }

    /// Serves until `shutdown` completes, then drains in-flight requests; the outbox worker
    /// runs beside the HTTP server and stops with it.
    pub async fn serve(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        });
        let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let courier = self
            .courier
            .map(|c| tokio::spawn(c.run(until_stopped(stopped.clone()))));
        let dispatcher = self
            .dispatcher
            .map(|d| tokio::spawn(d.run(until_stopped(stopped.clone()))));
        let deliverer = self
            .deliverer
            .map(|d| tokio::spawn(d.run(until_stopped(stopped.clone()))));
        // The change feed keeps this node's session cache true (PostgreSQL); until it
        // connects, and whenever it is lost, the cache is off.
        let services = Arc::clone(&self.services);
        let db = self.db.clone();
        let feed = tokio::spawn(async move {
            let cache = services.session_cache();
            db.follow_changes(|change| match change {
                Change::Connected => cache.set_enabled(true),
                Change::Lost => cache.set_enabled(false),
                Change::User(user) => cache.forget_user(user),
                Change::All => cache.forget_all(),
            })
            .await;
        });
        let metrics = self.metrics_listener.map(|listener| {
            tokio::spawn(portcullis_server::serve(
                listener,
                portcullis_server::metrics_router(portcullis_server::metrics_handle()),
                portcullis_server::ConnectionSettings {
                    max_connections: 64,
                    ..Default::default()
                },
                until_stopped(stopped.clone()),
            ))
        });
        let services = Arc::clone(&self.services);
        let key_reload = self.key_reload;
        let refresher = tokio::spawn(async move {
            // Pick up signing keys rotated by another process or node.
            let mut tick = tokio::time::interval(key_reload);
            loop {
                tick.tick().await;
                if let Err(e) = services.reload_keys().await {
                    warn!(error = %e, "could not reload signing keys");
                }
            }
        });
        let services = Arc::clone(&self.services);
        let janitor_interval = self.janitor_interval;
        let janitor = tokio::spawn(async move {
            // Housekeeping: delete guest accounts idle past the retention time.
            let mut tick = tokio::time::interval(janitor_interval);
            loop {
                tick.tick().await;
                match services.purge_idle_anonymous().await {
                    Ok(0) => {}
                    Ok(n) => info!(deleted = n, "deleted idle guest accounts"),
                    Err(e) => warn!(error = %e, "guest retention job failed"),
                }
                if let Err(e) = services.purge_rate_limits().await {
                    warn!(error = %e, "rate-limit cleanup failed");
                }
                match services.purge_audit().await {
                    Ok(0) => {}
                    Ok(n) => info!(deleted = n, "deleted audit events past retention"),
                    Err(e) => warn!(error = %e, "audit retention job failed"),
                }
                if let Err(e) = services.purge_deliveries().await {
                    warn!(error = %e, "webhook delivery cleanup failed");
                }
            }
        });
        let result = portcullis_server::serve(
            self.listener,
            self.router,
            self.connections,
            until_stopped(stopped),
        )
        .await;
        refresher.abort();
        janitor.abort();
        if let Some(metrics) = metrics {
            let _ = metrics.await;
        }
        feed.abort();
        if let Some(courier) = courier {
            let _ = courier.await;
        }
        if let Some(dispatcher) = dispatcher {
            let _ = dispatcher.await;
        }
        if let Some(deliverer) = deliverer {
            let _ = deliverer.await;
        }
        self.db.close().await;
        result.context("serving HTTP")
    }
}
