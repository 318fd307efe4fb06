//! Configuration: defaults, then a TOML file (`--config FILE` or `PORTCULLIS_CONFIG`), then
//! `PORTCULLIS_*` environment variables, each layer winning over the one before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::bail;
use config::FileFormat;
use portcullis_store::{Backend, PoolMode};
use secrecy::{ExposeSecret as _, SecretString};
use serde::Deserialize;
use serde_aux::serde_introspection::serde_introspect;
use zeroize::Zeroizing;

/// What every variable's name starts with (`PORTCULLIS_` and the field's name).
const ENV_PREFIX: &str = "PORTCULLIS";

/// Every setting, with a working default for each.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address to serve on (`:0` picks a free port on 127.0.0.1).
    pub listen: String,
    /// SQLite file, master key and outbox live here.
    pub data_dir: PathBuf,
    /// `sqlite://FILE` or `postgres://...`; default `sqlite://<data_dir>/portcullis.db`.
    pub database_url: Option<String>,
    /// `session` (PostgreSQL itself, or a session pooler) or `transaction` (the URL names a
    /// transaction pooler, such as PgBouncer's `pool_mode = transaction`).
    pub database_pool_mode: String,
    /// PostgreSQL itself, beside a transaction pooler's URL: for the change feed (`LISTEN`)
    /// and migrations, which need a session of their own.
    pub database_direct_url: Option<String>,
    /// `iss` of tokens and base of links; default `http://<listen address>`.
    pub issuer: Option<String>,
    /// 32 bytes, base64; default: generated into `<data_dir>/master.key` (SQLite only).
    pub master_key: Option<SecretString>,
    /// Created as `system_admin` on start when absent.
    pub bootstrap_admin_email: Option<String>,
    /// Its password.
    pub bootstrap_admin_password: Option<SecretString>,
    /// Log filter, such as `info` or `portcullis=debug`.
    pub log: String,
    /// `text` or `json`.
    pub log_format: String,
    /// Access token lifetime, seconds.
    pub access_token_ttl_secs: i64,
    /// A session unused (no login or refresh) for this long ends, seconds.
    pub session_idle_timeout_secs: i64,
    /// A session ends this long after sign-in, seconds.
    pub session_absolute_lifetime_secs: i64,
    /// argon2id memory, KiB.
    pub argon2_memory_kib: u32,
    /// argon2id passes.
    pub argon2_iterations: u32,
    /// argon2id lanes.
    pub argon2_parallelism: u32,
    /// Password hashes computed at once; default: the number of cores.
    pub hash_concurrency: Option<usize>,
    /// Password hashes that may wait for a slot before answers turn to 503 `overloaded`;
    /// default: 32 per slot.
    pub hash_queue: Option<usize>,
    /// Database connections per node.
    pub database_max_connections: u32,
    /// How long a request waits for a free database connection (or for the database to
    /// answer a new connection) before it fails with 503, seconds.
    pub database_acquire_timeout_secs: u64,
    /// How often each node re-reads the signing keys, seconds; a new key signs after twice
    /// this, once every node has it.
    pub key_reload_secs: u64,
    /// How long a node trusts a session it checked without reading the database again,
    /// seconds (changes anywhere forget it at once); 0 checks the database every time.
    pub session_cache_secs: u64,
    /// SMTP server, lettre URL form; unset: messages go to `<data_dir>/outbox` as `.eml` files.
    pub smtp_url: Option<String>,
    /// Sender of email.
    pub mail_from: String,
    /// Text messages are POSTed here as JSON `{"to", "body"}`.
    pub sms_webhook_url: Option<String>,
    /// Sent as `Authorization: Bearer` to the SMS webhook.
    pub sms_webhook_secret: Option<SecretString>,
    /// Twilio-compatible SMS: account SID.
    pub twilio_account_sid: Option<String>,
    /// Twilio-compatible SMS: auth token.
    pub twilio_auth_token: Option<SecretString>,
    /// Twilio-compatible SMS: sending number.
    pub twilio_from: Option<String>,
    /// Twilio-compatible SMS: API base URL.
    pub twilio_base_url: String,
    /// Lifetime of emailed and texted codes and reset links, seconds.
    pub code_ttl_secs: i64,
    /// Messages per address and purpose per day.
    pub message_daily_cap: u64,
    /// The application page that reset links open (`?token=` is appended).
    pub reset_link_url: Option<String>,
    /// WebAuthn relying party id (a domain); default: the issuer's host (`localhost` for an
    /// address).
    pub webauthn_rp_id: Option<String>,
    /// WebAuthn origins, comma-separated; default: the issuer's origin.
    pub webauthn_origins: Option<String>,
    /// Guest accounts idle this many days are deleted.
    pub anonymous_retention_days: i64,
    /// The most users a SCIM filter the database cannot answer alone may be decided on.
    pub scim_max_candidates: u64,
    /// Audit events older than this many days are deleted.
    pub audit_retention_days: i64,
    /// A request unanswered after this many seconds is abandoned with 503 `overloaded`.
    pub request_timeout_secs: u64,
    /// Requests handled at once per node; more are refused with 503 `overloaded`.
    pub max_concurrent_requests: usize,
    /// A connection that has not sent a whole request head this many seconds after it
    /// opened (or after its previous answer) is closed.
    pub header_read_timeout_secs: u64,
    /// A request body not wholly received this many seconds after its head is answered 408.
    pub body_read_timeout_secs: u64,
    /// Connections open at once; unset: as many as the process's descriptor limit allows,
    /// less a reserve for the database and files (the soft limit is raised to the hard one
    /// at start where allowed).
    pub max_connections: Option<usize>,
    /// Where to serve `/metrics` on its own, without a token (an address only the scraper
    /// reaches, such as `127.0.0.1:9090`); unset: no such listener.
    pub metrics_listen: Option<String>,
    /// The bearer token that `/metrics` on the API's listener asks for; unset: metrics are
    /// not served on the API's listener at all.
    pub metrics_token: Option<SecretString>,
    /// How often the housekeeping job (guest retention) runs, seconds.
    pub janitor_interval_secs: u64,
    /// The reference systems' dialects to serve, comma-separated (`all`, `none`, or names
    /// such as `dhiwise`), each under its own prefix.
    pub compat: String,
    /// `on`, or `off` to turn every rate limit and lockout off (benchmarks, trusted networks).
    pub rate_limits: String,
    /// Credential- and code-checking requests per client address per minute.
    pub rate_limit_ip_per_minute: u64,
    /// Credential- and code-checking requests per account identifier per minute.
    pub rate_limit_identifier_per_minute: u64,
    /// Comma-separated addresses of proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: String,
    /// Comma-separated browser origins allowed to call the API, such as `https://app.example.com`.
    pub cors_origins: String,
    /// Whether this node delivers the outbox (turn off on nodes that should only answer HTTP).
    pub outbox_worker: bool,
    /// Comma-separated addresses or CIDR blocks that outbound calls (back-channel logout) may
    /// reach though they are private or loopback, such as `10.0.0.0/8`.
    pub outbound_allow: String,
    /// Seconds to wait before each retry of a webhook delivery, comma-separated; empty: the
    /// standard schedule (5 s, 30 s, 2 min ... about three days in all). After the last, the
    /// delivery is given up and its endpoint marked failing.
    pub webhook_retry_secs: String,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database", &self.database_url.as_deref().map(redact_url))
            .field("database_pool_mode", &self.database_pool_mode)
            .field(
                "database_direct",
                &self.database_direct_url.as_deref().map(redact_url),
            )
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        let core = portcullis_core::CoreConfig::new("");
        Self {
            listen: "127.0.0.1:8080".to_owned(),
            data_dir: PathBuf::from("./data"),
            database_url: None,
            database_pool_mode: "session".to_owned(),
            database_direct_url: None,
            issuer: None,
            master_key: None,
            bootstrap_admin_email: None,
            bootstrap_admin_password: None,
            log: "info".to_owned(),
            log_format: "text".to_owned(),
            access_token_ttl_secs: core.access_token_ttl.num_seconds(),
            session_idle_timeout_secs: core.session_idle_timeout.num_seconds(),
            session_absolute_lifetime_secs: core.session_absolute_lifetime.num_seconds(),
            argon2_memory_kib: core.argon2.memory_kib,
            argon2_iterations: core.argon2.iterations,
            argon2_parallelism: core.argon2.parallelism,
            hash_concurrency: None,
            hash_queue: None,
            database_max_connections: 16,
            database_acquire_timeout_secs: 5,
            key_reload_secs: 20,
            session_cache_secs: 5,
            smtp_url: None,
            mail_from: "Portcullis <no-reply@localhost>".to_owned(),
            sms_webhook_url: None,
            sms_webhook_secret: None,
            twilio_account_sid: None,
            twilio_auth_token: None,
            twilio_from: None,
            twilio_base_url: "https://api.twilio.com".to_owned(),
            code_ttl_secs: core.code_ttl.num_seconds(),
            message_daily_cap: core.message_daily_cap,
            reset_link_url: None,
            webauthn_rp_id: None,
            webauthn_origins: None,
            outbox_worker: true,
            outbound_allow: String::new(),
            webhook_retry_secs: String::new(),
            rate_limits: "on".to_owned(),
            rate_limit_ip_per_minute: core.rate_per_ip,
            rate_limit_identifier_per_minute: core.rate_per_identifier,
            trusted_proxies: String::new(),
            cors_origins: String::new(),
            anonymous_retention_days: 30,
            scim_max_candidates: 10_000,
            audit_retention_days: 365,
            request_timeout_secs: 30,
            max_concurrent_requests: 1024,
            header_read_timeout_secs: 10,
            body_read_timeout_secs: 10,
            max_connections: None,
            metrics_listen: None,
            metrics_token: None,
            janitor_interval_secs: 3600,
            compat: "all".to_owned(),
        }
    }
}

impl Config {
    /// Loads the file (if any) and the process environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        Self::load_with(file, |k| std::env::var(k).ok())
    }

    /// Loads with an explicit environment (for tests). The layers are merged by the `config`
    /// crate over this one struct: its defaults, the TOML file, then one `PORTCULLIS_<FIELD>`
    /// variable for each field (read by name, so other `PORTCULLIS_*` variables are left
    /// alone; values are trimmed, and an empty one counts as unset).
    pub fn load_with(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<Self> {
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| env("PORTCULLIS_CONFIG").map(PathBuf::from));
        let vars: HashMap<String, String> = serde_introspect::<Self>()
            .iter()
            .map(|field| format!("{ENV_PREFIX}_{}", field.to_uppercase()))
            .filter_map(|var| {
                let value = env(&var)?.trim().to_owned();
                (!value.is_empty()).then_some((var, value))
            })
            .collect();
        let mut layers = config::Config::builder();
        if let Some(path) = &file {
            if !path.is_file() {
                bail!("reading {}: no such file", path.display());
            }
            layers = layers.add_source(config::File::from(path.as_path()).format(FileFormat::Toml));
        }
        let layers = layers
            .add_source(
                config::Environment::with_prefix(ENV_PREFIX)
                    .prefix_separator("_")
                    .source(Some(vars.clone().into_iter().collect())),
            )
            .build()
            .map_err(|e| named(&e, &vars, file.as_deref()))?;
        let c: Self = layers
            .try_deserialize()
            .map_err(|e| named(&e, &vars, file.as_deref()))?;
        c.validate()?;
        Ok(c)
    }

    fn validate(&self) -> anyhow::Result<()> {
        if self.access_token_ttl_secs < 10
            || self.session_idle_timeout_secs < 60
            || self.session_absolute_lifetime_secs < 60
        {
            bail!("token and session lifetimes are too short (access >= 10 s, sessions >= 60 s)");
        }
        self.database_pool_mode()?;
        if !matches!(self.rate_limits.as_str(), "on" | "off") {
            bail!("PORTCULLIS_RATE_LIMITS must be on or off");
        }
        if self.rate_limit_ip_per_minute == 0 || self.rate_limit_identifier_per_minute == 0 {
            bail!("rate limits must allow at least one request a minute (or set PORTCULLIS_RATE_LIMITS=off)");
        }
        self.trusted_proxy_list()?;
        self.webhook_retry_schedule()?;
        self.cors_origin_list()?;
        if self.anonymous_retention_days < 1 || self.janitor_interval_secs < 1 {
            bail!("PORTCULLIS_ANONYMOUS_RETENTION_DAYS and PORTCULLIS_JANITOR_INTERVAL_SECS must be at least 1");
        }
        if !(8 * 1024..=1024 * 1024).contains(&self.argon2_memory_kib)
            || !(1..=64).contains(&self.argon2_iterations)
            || !(1..=16).contains(&self.argon2_parallelism)
        {
            bail!("argon2id cost out of range: PORTCULLIS_ARGON2_MEMORY_KIB 8192 to 1048576, _ITERATIONS 1 to 64, _PARALLELISM 1 to 16");
        }
        if self.database_acquire_timeout_secs < 1 || !(1..=3600).contains(&self.key_reload_secs) {
            bail!("PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT_SECS must be at least 1 and PORTCULLIS_KEY_RELOAD_SECS 1 to 3600");
        }
        if self.audit_retention_days < 1
            || self.request_timeout_secs < 1
            || self.max_concurrent_requests < 1
        {
            bail!("PORTCULLIS_AUDIT_RETENTION_DAYS, PORTCULLIS_REQUEST_TIMEOUT_SECS and PORTCULLIS_MAX_CONCURRENT_REQUESTS must be at least 1");
        }
        if self.header_read_timeout_secs < 1
            || self.body_read_timeout_secs < 1
            || self.max_connections == Some(0)
        {
            bail!("PORTCULLIS_HEADER_READ_TIMEOUT_SECS, PORTCULLIS_BODY_READ_TIMEOUT_SECS and PORTCULLIS_MAX_CONNECTIONS must be at least 1");
        }
        if self
            .metrics_token
            .as_ref()
            .is_some_and(|t| t.expose_secret().len() < 16)
        {
            bail!("PORTCULLIS_METRICS_TOKEN must be at least 16 characters");
        }
        self.compat_dialects()?;
        if self.code_ttl_secs < 60 || self.message_daily_cap == 0 {
            bail!("PORTCULLIS_CODE_TTL_SECS must be at least 60 and PORTCULLIS_MESSAGE_DAILY_CAP at least 1");
        }
        if self.sms_webhook_url.is_some() && self.twilio_account_sid.is_some() {
            bail!("set PORTCULLIS_SMS_WEBHOOK_URL or the PORTCULLIS_TWILIO_* settings, not both");
        }
        if self.twilio_account_sid.is_some()
            && (self.twilio_auth_token.is_none() || self.twilio_from.is_none())
        {
            bail!("PORTCULLIS_TWILIO_ACCOUNT_SID needs PORTCULLIS_TWILIO_AUTH_TOKEN and PORTCULLIS_TWILIO_FROM");
        }
        if !matches!(self.log_format.as_str(), "text" | "json") {
            bail!("PORTCULLIS_LOG_FORMAT must be text or json");
        }
        if self.bootstrap_admin_email.is_some() != self.bootstrap_admin_password.is_some() {
            bail!("set both PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL and PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD, or neither");
        }
        Ok(())
    }

    /// The trusted proxies, parsed.
    pub fn trusted_proxy_list(&self) -> anyhow::Result<Vec<std::net::IpAddr>> {
        self.trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse().map_err(|_| {
                    anyhow::anyhow!("PORTCULLIS_TRUSTED_PROXIES: {s} is not an IP address")
                })
            })
            .collect()
    }

    /// The dialects to serve, checked.
    pub fn compat_dialects(&self) -> anyhow::Result<Vec<portcullis_compat::Dialect>> {
        portcullis_compat::Dialect::parse_list(&self.compat)
            .map_err(|e| anyhow::anyhow!("PORTCULLIS_COMPAT: {e}"))
    }

    /// The webhook retry schedule, seconds, when one is set.
    pub fn webhook_retry_schedule(&self) -> anyhow::Result<Option<Vec<u64>>> {
        if self.webhook_retry_secs.trim().is_empty() {
            return Ok(None);
        }
        self.webhook_retry_secs
            .split(',')
            .map(|s| {
                s.trim().parse::<u64>().ok().filter(|n| (1..=7 * 86_400).contains(n)).ok_or_else(|| {
                    anyhow::anyhow!("PORTCULLIS_WEBHOOK_RETRY_SECS: {s:?} is not a number of seconds (1 to 604800)")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()
            .map(Some)
    }

    /// The addresses outbound calls may reach though they are not public.
    pub fn outbound_allow_list(&self) -> Vec<String> {
        self.outbound_allow
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The CORS origins, checked: `scheme://host[:port]`, no path.
    pub fn cors_origin_list(&self) -> anyhow::Result<Vec<String>> {
        self.cors_origins
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                let ok = (s.starts_with("https://") || s.starts_with("http://"))
                    && !s.split_once("://").is_some_and(|(_, rest)| rest.is_empty() || rest.contains('/'))
                    && s.is_ascii();
                if ok {
                    Ok(s.to_owned())
                } else {
                    Err(anyhow::anyhow!("PORTCULLIS_CORS_ORIGINS: {s} is not an origin such as https://app.example.com"))
                }
            })
            .collect()
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}/portcullis.db", self.data_dir.display()))
    }

    /// How the database's connections reach it, checked against the URLs: a transaction
    /// pooler and a direct URL are PostgreSQL's.
    pub fn database_pool_mode(&self) -> anyhow::Result<PoolMode> {
        let mode = match self.database_pool_mode.as_str() {
            "session" => PoolMode::Session,
            "transaction" => PoolMode::Transaction,
            _ => bail!("PORTCULLIS_DATABASE_POOL_MODE must be session or transaction"),
        };
        let postgres = Backend::of(&self.database_url()) == Some(Backend::Postgres);
        if mode == PoolMode::Transaction && !postgres {
            bail!("PORTCULLIS_DATABASE_POOL_MODE=transaction needs a postgres:// PORTCULLIS_DATABASE_URL (the pooler's)");
        }
        if let Some(direct) = &self.database_direct_url {
            if Backend::of(direct) != Some(Backend::Postgres) || !postgres {
                bail!("PORTCULLIS_DATABASE_DIRECT_URL must be a postgres:// URL, beside a postgres:// PORTCULLIS_DATABASE_URL");
            }
        }
        Ok(mode)
    }

    /// The listen address, with `:PORT` meaning 127.0.0.1.
    pub fn listen_addr(&self) -> String {
        if self.listen.starts_with(':') {
            format!("127.0.0.1{}", self.listen)
        } else {
            self.listen.clone()
        }
    }

    /// The master key text from configuration, wiped on drop.
    pub(crate) fn master_key_text(&self) -> Option<Zeroizing<String>> {
        self.master_key
            .as_ref()
            .map(|k| Zeroizing::new(k.expose_secret().to_owned()))
    }
}

/// A loading error, naming where the bad value came from: the variable (as the documentation
/// spells it) or the file.
fn named(
    e: &config::ConfigError,
    vars: &HashMap<String, String>,
    file: Option<&Path>,
) -> anyhow::Error {
    let text = e.to_string();
    let from_var = vars.keys().find(|var| {
        let key = var[ENV_PREFIX.len() + 1..].to_lowercase();
        text.contains(&format!("`{key}`")) && text.contains("environment")
    });
    match (from_var, file) {
        (Some(var), _) => anyhow::anyhow!("{var}: {text}"),
        (None, Some(path)) => anyhow::anyhow!("parsing {}: {text}", path.display()),
        (None, None) => anyhow::anyhow!("configuration: {text}"),
    }
}

/// A database URL without its password, for logs.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn env_overrides_file_overrides_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("p.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\nlog = \"debug\"\naccess_token_ttl_secs = 600\n",
        )
        .unwrap();
        let env: HashMap<&str, &str> = [
            ("PORTCULLIS_LOG", "warn"),
            ("PORTCULLIS_DATA_DIR", "/tmp/x"),
        ]
        .into();
        let c = Config::load_with(Some(&file), |k| env.get(k).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.log, "warn");
        assert_eq!(c.access_token_ttl_secs, 600);
        assert_eq!(c.database_url(), "sqlite:///tmp/x/portcullis.db");
        assert_eq!(Config::default().listen_addr(), "127.0.0.1:8080");
    }

    #[test]
    fn every_documented_variable_is_read() {
        let env: HashMap<&str, &str> = [
            ("PORTCULLIS_LISTEN", ":0"),
            ("PORTCULLIS_DATA_DIR", "/tmp/pc"),
            ("PORTCULLIS_DATABASE_URL", "postgres://u@h/db"),
            ("PORTCULLIS_DATABASE_POOL_MODE", "transaction"),
            ("PORTCULLIS_DATABASE_DIRECT_URL", "postgres://u:pw@pg/db"),
            ("PORTCULLIS_ISSUER", "https://id.example"),
            ("PORTCULLIS_MASTER_KEY", "k"),
            ("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", "root@example.com"),
            ("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", "a long passphrase"),
            ("PORTCULLIS_LOG", "debug"),
            ("PORTCULLIS_LOG_FORMAT", "json"),
            ("PORTCULLIS_SMTP_URL", "smtp://127.0.0.1:2525"),
            ("PORTCULLIS_MAIL_FROM", "Me <me@example.com>"),
            ("PORTCULLIS_SMS_WEBHOOK_URL", "http://127.0.0.1:9/sms"),
            ("PORTCULLIS_SMS_WEBHOOK_SECRET", "s"),
            ("PORTCULLIS_CODE_TTL_SECS", "300"),
            ("PORTCULLIS_MESSAGE_DAILY_CAP", "3"),
            ("PORTCULLIS_RESET_LINK_URL", "https://app/reset"),
            ("PORTCULLIS_OUTBOX_WORKER", "false"),
            ("PORTCULLIS_ANONYMOUS_RETENTION_DAYS", "7"),
            ("PORTCULLIS_JANITOR_INTERVAL_SECS", "60"),
            ("PORTCULLIS_RATE_LIMITS", "off"),
            ("PORTCULLIS_RATE_LIMIT_IP_PER_MINUTE", "5"),
            ("PORTCULLIS_RATE_LIMIT_IDENTIFIER_PER_MINUTE", "2"),
            ("PORTCULLIS_TRUSTED_PROXIES", "10.0.0.1, ::1"),
            (
                "PORTCULLIS_CORS_ORIGINS",
                "https://app.example, http://localhost:3000",
            ),
            ("PORTCULLIS_HASH_CONCURRENCY", "3"),
            ("PORTCULLIS_HASH_QUEUE", "7"),
            ("PORTCULLIS_AUDIT_RETENTION_DAYS", "90"),
            ("PORTCULLIS_DATABASE_MAX_CONNECTIONS", "8"),
            ("PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT_SECS", "2"),
            ("PORTCULLIS_KEY_RELOAD_SECS", "3"),
            ("PORTCULLIS_SESSION_CACHE_SECS", "0"),
            ("PORTCULLIS_REQUEST_TIMEOUT_SECS", "5"),
            ("PORTCULLIS_MAX_CONCURRENT_REQUESTS", "64"),
            ("PORTCULLIS_COMPAT", "dhiwise"),
        ]
        .into();
        let c = Config::load_with(None, |k| env.get(k).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(c.listen_addr(), "127.0.0.1:0");
        assert_eq!(c.database_url(), "postgres://u@h/db");
        assert_eq!(c.database_pool_mode().unwrap(), PoolMode::Transaction);
        assert_eq!(
            c.database_direct_url.as_deref(),
            Some("postgres://u:pw@pg/db")
        );
        assert!(!format!("{c:?}").contains("pw"));
        assert_eq!(c.issuer.as_deref(), Some("https://id.example"));
        assert_eq!(c.log_format, "json");
        assert_eq!(c.smtp_url.as_deref(), Some("smtp://127.0.0.1:2525"));
        assert_eq!(c.mail_from, "Me <me@example.com>");
        assert_eq!(c.sms_webhook_url.as_deref(), Some("http://127.0.0.1:9/sms"));
        assert_eq!(
            c.sms_webhook_secret.as_ref().map(|s| s.expose_secret()),
            Some("s")
        );
        assert_eq!((c.code_ttl_secs, c.message_daily_cap), (300, 3));
        assert_eq!(c.reset_link_url.as_deref(), Some("https://app/reset"));
        assert!(!c.outbox_worker);
        assert_eq!(
            (c.anonymous_retention_days, c.janitor_interval_secs),
            (7, 60)
        );
        assert_eq!(c.rate_limits, "off");
        assert_eq!(
            (
                c.rate_limit_ip_per_minute,
                c.rate_limit_identifier_per_minute
            ),
            (5, 2)
        );
        assert_eq!(c.trusted_proxy_list().unwrap().len(), 2);
        assert_eq!(
            c.cors_origin_list().unwrap(),
            ["https://app.example", "http://localhost:3000"]
        );
        for bad in ["app.example", "https://app.example/path", "https://"] {
            let e = Config::load_with(None, |k| {
                (k == "PORTCULLIS_CORS_ORIGINS").then(|| bad.to_owned())
            });
            assert!(e.is_err(), "{bad}");
        }
        assert_eq!((c.hash_concurrency, c.hash_queue), (Some(3), Some(7)));
        assert_eq!(
            (
                c.audit_retention_days,
                c.request_timeout_secs,
                c.max_concurrent_requests
            ),
            (90, 5, 64)
        );
        assert_eq!(
            (
                c.database_max_connections,
                c.database_acquire_timeout_secs,
                c.key_reload_secs
            ),
            (8, 2, 3)
        );
        assert_eq!(c.session_cache_secs, 0);
        assert_eq!(
            c.compat_dialects().unwrap(),
            [portcullis_compat::Dialect::DhiWise]
        );
        assert!(
            Config::load_with(None, |k| (k == "PORTCULLIS_COMPAT").then(|| "x".to_owned()))
                .and_then(|c| c.compat_dialects())
                .is_err()
        );
        assert_eq!(c.bootstrap_admin_email.as_deref(), Some("root@example.com"));
        let bad = Config::load_with(None, |k| {
            (k == "PORTCULLIS_RATE_LIMITS").then(|| "maybe".to_owned())
        });
        assert!(bad.is_err());
    }

    /// A pool mode is PostgreSQL's, and one of two; a direct URL is PostgreSQL's, beside a
    /// PostgreSQL URL.
    #[test]
    fn a_pool_mode_or_direct_url_that_cannot_work_is_refused_by_name() {
        let load = |vars: &[(&str, &str)]| {
            let env: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            Config::load_with(None, |k| env.get(k).cloned())
        };
        let pg = ("PORTCULLIS_DATABASE_URL", "postgres://u@pooler:6432/db");
        for (vars, named) in [
            (
                vec![pg, ("PORTCULLIS_DATABASE_POOL_MODE", "statement")],
                "PORTCULLIS_DATABASE_POOL_MODE must be",
            ),
            (
                vec![("PORTCULLIS_DATABASE_POOL_MODE", "transaction")],
                "needs a postgres://",
            ),
            (
                vec![pg, ("PORTCULLIS_DATABASE_DIRECT_URL", "sqlite:///x.db")],
                "PORTCULLIS_DATABASE_DIRECT_URL must be",
            ),
            (
                vec![("PORTCULLIS_DATABASE_DIRECT_URL", "postgres://u@pg/db")],
                "PORTCULLIS_DATABASE_DIRECT_URL must be",
            ),
        ] {
            let err = load(&vars).unwrap_err().to_string();
            assert!(err.contains(named), "{vars:?}: {err}");
        }
        let c = load(&[pg]).unwrap();
        assert_eq!(c.database_pool_mode().unwrap(), PoolMode::Session);
    }

    #[test]
    fn bad_values_are_reported_by_name() {
        let err = Config::load_with(None, |k| {
            (k == "PORTCULLIS_ARGON2_MEMORY_KIB").then(|| "lots".to_owned())
        })
        .unwrap_err();
        assert!(err.to_string().contains("PORTCULLIS_ARGON2_MEMORY_KIB"));
        std::fs::write(
            std::env::temp_dir().join("portcullis-bad.toml"),
            "nonsense = 1",
        )
        .unwrap();
        assert!(Config::load_with(
            Some(&std::env::temp_dir().join("portcullis-bad.toml")),
            |_| None
        )
        .is_err());
    }

    /// A secret that looks like a number stays the text it is; other `PORTCULLIS_*`
    /// variables (a test harness's, say) are not settings and are left alone; secrets do
    /// not show in the configuration's debug form.
    #[test]
    fn secrets_stay_text_and_stay_hidden() {
        let env: HashMap<&str, &str> = [
            ("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", "root@example.com"),
            ("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", "123456789012"),
            ("PORTCULLIS_METRICS_TOKEN", " 0000111122223333 "),
            ("PORTCULLIS_TEST_POSTGRES_URL", "postgres://elsewhere"),
            ("PORTCULLIS_ISSUER", ""),
        ]
        .into();
        let c = Config::load_with(None, |k| env.get(k).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(
            c.bootstrap_admin_password
                .as_ref()
                .map(|s| s.expose_secret()),
            Some("123456789012")
        );
        assert_eq!(
            c.metrics_token.as_ref().map(|s| s.expose_secret()),
            Some("0000111122223333")
        );
        assert_eq!(c.issuer, None, "an empty variable is unset");
        let shown = format!("{c:?}");
        assert!(!shown.contains("123456789012") && !shown.contains("0000111122223333"));
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(redact_url("sqlite://./data/p.db"), "sqlite://./data/p.db");
    }
}
