//! The settings the use cases need; the binary fills them from its configuration.

use chrono::Duration;

/// argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP's recommendation: m=19 MiB, t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
            parallelism: 1,
        }
    }
}

/// Settings for the use cases.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// `iss` of access tokens.
    pub issuer: String,
    /// Lifetime of access tokens.
    pub access_token_ttl: Duration,
    /// A session with no login or refresh for this long ends.
    pub session_idle_timeout: Duration,
    /// A session ends this long after login whatever happens.
    pub session_absolute_lifetime: Duration,
    /// Password hashing cost.
    pub argon2: Argon2Params,
    /// How many hashes may run at once (defaults to the core count).
    pub hash_concurrency: usize,
    /// How many more may wait for a slot before answers turn to `overloaded`.
    pub hash_queue: usize,
    /// Lifetime of emailed and texted codes and reset links.
    pub code_ttl: Duration,
    /// Wrong tries before a code dies.
    pub code_max_attempts: u32,
    /// At most one message per recipient and purpose within this interval.
    pub message_interval: Duration,
    /// At most this many messages per recipient and purpose per day.
    pub message_daily_cap: u64,
    /// Rate limits and lockout on (`PORTCULLIS_RATE_LIMITS=off` turns both off).
    pub abuse_limits: bool,
    /// Credential- and code-checking requests per client address per minute.
    pub rate_per_ip: u64,
    /// Credential- and code-checking requests per account identifier per minute.
    pub rate_per_identifier: u64,
    /// How long a trusted device skips the second factor.
    pub trusted_device_ttl: Duration,
    /// Guest accounts idle this long are deleted.
    pub anonymous_retention: Duration,
    /// The most users a SCIM filter that the database cannot answer alone may have to be
    /// decided on; more is refused (400 `tooMany`), so one request cannot load every user
    /// of a large organization.
    pub scim_max_candidates: u64,
    /// Audit events older than this are deleted by the housekeeping job.
    pub audit_retention: Duration,
    /// A new signing key verifies at once but signs only after this long, by which time
    /// every node has loaded it (twice the key reload interval).
    pub key_activation: Duration,
    /// How long a checked session is trusted without reading the database again (changes
    /// forget it sooner); zero reads the database on every request.
    pub session_cache_ttl: Duration,
    /// The page that password-reset links open, with `?token=` appended; the application's
    /// own page, which then calls `POST /v1/auth/password/reset` with the token.
    pub reset_link_url: String,
    /// The WebAuthn relying party id (a domain): passkeys are bound to it.
    pub webauthn_rp_id: String,
    /// The origins passkey ceremonies may come from (`https://id.example.com`).
    pub webauthn_origins: Vec<String>,
    /// Waits before each retry of a webhook delivery; given up after the last.
    pub webhook_retry: Vec<Duration>,
}

/// The relying party of an issuer: its host, and its origin. Browsers refuse an IP address
/// as a relying party id, so a server on a loopback address (the default, `127.0.0.1`) uses
/// `localhost` (open it as `http://localhost:PORT`).
fn webauthn_defaults(issuer: &str) -> (String, Vec<String>) {
    let (scheme, rest) = issuer.split_once("://").unwrap_or(("http", issuer));
    let authority = rest.split(['/', '?', '#']).next().unwrap_or(rest);
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => (h, Some(p)),
        _ => (authority, None),
    };
    let host = if host.parse::<std::net::IpAddr>().is_ok() || host.starts_with('[') {
        "localhost"
    } else {
        host
    };
    let origin = match port {
        Some(p) => format!("{scheme}://{host}:{p}"),
        None => format!("{scheme}://{host}"),
    };
    (host.to_owned(), vec![origin])
}

impl CoreConfig {
    /// Defaults for the given issuer.
    pub fn new(issuer: impl Into<String>) -> Self {
        let issuer: String = issuer.into();
        let reset_link_url = format!("{}/ui/reset", issuer.trim_end_matches('/'));
        let (webauthn_rp_id, webauthn_origins) = webauthn_defaults(&issuer);
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self {
            issuer,
            access_token_ttl: Duration::minutes(15),
            session_idle_timeout: Duration::days(14),
            session_absolute_lifetime: Duration::days(30),
            argon2: Argon2Params::default(),
            hash_concurrency: cores,
            hash_queue: cores * 32,
            code_ttl: Duration::minutes(10),
            code_max_attempts: 5,
            message_interval: Duration::seconds(60),
            message_daily_cap: 10,
            reset_link_url,
            webauthn_rp_id,
            webauthn_origins,
            anonymous_retention: Duration::days(30),
            scim_max_candidates: 10_000,
            audit_retention: Duration::days(365),
            key_activation: Duration::seconds(40),
            session_cache_ttl: Duration::seconds(5),
            trusted_device_ttl: Duration::days(30),
            abuse_limits: true,
            rate_per_ip: 60,
            rate_per_identifier: 20,
            webhook_retry: crate::webhooks::retry_schedule(),
        }
    }
}
