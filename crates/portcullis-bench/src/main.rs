//! `cargo run --release -p portcullis-bench`: Portcullis measured side by side with the raw
//! cost of what it must do, on the same machine in the same run, on SQLite and PostgreSQL
//! (servers started in this process), or on a server already running here (`--url`).
//! Every figure is taken in several interleaved rounds (min, median, max), and each ratio
//! compares medians taken in those same rounds.

mod load;
mod memory;
mod oidc;
mod raw;
mod scim;
mod statements;
mod stats;
mod webhooks;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use clap::Parser;
use portcullis_core::config::Argon2Params;
use portcullis_core::store::{NewUser, Profile};
use portcullis_core::{OrgId, UserId};
use serde::Serialize;

use stats::{spread, Sample};

const PASSWORD: &str = "bench passphrase 42";

/// The allocator the `portcullis` binary runs on, so that the servers started here are
/// measured as they run there.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Measures Portcullis against the raw rates of argon2id and Ed25519 on this machine.
#[derive(Debug, Parser)]
#[command(name = "portcullis-bench")]
struct Args {
    /// Rounds of every measurement (min/median/max are over these).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Seconds each measurement runs.
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Users in the large database (the small one has 1000).
    #[arg(long, default_value_t = 1_000_000)]
    large: usize,
    /// PostgreSQL to use (a fresh schema is made and dropped); `none` to skip it.
    #[arg(
        long,
        env = "PORTCULLIS_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/test"
    )]
    postgres: String,
    /// Also write the table as JSON here.
    #[arg(long)]
    out: Option<std::path::PathBuf>,
    /// Measure a server already running on this machine, at this base URL, instead of
    /// starting one. Start it with PORTCULLIS_RATE_LIMITS=off, and run the bench with the
    /// same PORTCULLIS_* environment (or --config): that is how it finds the database where
    /// it seeds users, and the argon2id cost to compare with.
    #[arg(long, env = "PORTCULLIS_BENCH_URL")]
    url: Option<String>,
    /// With --url: the server's configuration file, if it reads one.
    #[arg(long, requires = "url")]
    config: Option<std::path::PathBuf>,
    /// With --url: the server's process id, for the CPU and memory figures (left out
    /// without it).
    #[arg(long, requires = "url")]
    pid: Option<u32>,
}

/// One line of the table.
#[derive(Debug, Clone, Serialize)]
struct Figure {
    backend: String,
    figure: String,
    unit: &'static str,
    min: f64,
    median: f64,
    max: f64,
    /// The ratio this figure is judged by, if any.
    ratio: Option<f64>,
    /// `>= x` or `<= x`.
    goal: Option<String>,
    met: Option<bool>,
    /// argon2id parameters (and permits) in force.
    params: String,
}

/// The store of the server's database (migrated), where users are seeded, and the default
/// organization they go in.
async fn seeding_store(
    config: &portcullis::Config,
) -> anyhow::Result<(Arc<dyn portcullis_core::Store>, OrgId)> {
    let store = portcullis::open_database(config).await?.store();
    let org = store
        .org_by_slug("default")
        .await?
        .context("default organization")?
        .id;
    Ok((store, org))
}

/// A running server on one backend, with what the bench needs to reach it.
struct Target {
    backend: &'static str,
    url: String,
    store: Arc<dyn portcullis_core::Store>,
    org: OrgId,
    /// The server's argon2id cost and hashing permits.
    argon2: Argon2Params,
    permits: usize,
    /// The server's process under /proc, if known.
    proc: Option<String>,
    /// Set when this process started the server.
    started: Option<Started>,
    /// Beside a server started here on PostgreSQL: a second one on the same PostgreSQL
    /// through a PgBouncer in transaction mode, for the sign-in rate through a pooler.
    pooled: Option<Box<Target>>,
}

/// What stopping a server started here takes.
struct Started {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
    pg: Option<(String, String)>,
    /// The PgBouncer in front, and the database of its own (base URL, name).
    bouncer: Option<(portcullis_store::pgbouncer::PgBouncer, String, String)>,
}

impl Target {
    /// A server already running at `url`, described by the same configuration it reads.
    async fn remote(
        url: &str,
        config: Option<&std::path::Path>,
        pid: Option<u32>,
    ) -> anyhow::Result<Self> {
        let config = portcullis::Config::load(config)?;
        let backend = if config.database_url().starts_with("postgres") {
            "postgres"
        } else {
            "sqlite"
        };
        let (store, org) = seeding_store(&config).await?;
        Ok(Self {
            backend,
            url: url.trim_end_matches('/').to_owned(),
            store,
            org,
            argon2: Argon2Params {
                memory_kib: config.argon2_memory_kib,
                iterations: config.argon2_iterations,
                parallelism: config.argon2_parallelism,
            },
            permits: config
                .hash_concurrency
                .unwrap_or_else(|| portcullis_core::CoreConfig::new("").hash_concurrency),
            proc: pid.map(|p| format!("/proc/{p}")),
            started: None,
            pooled: None,
        })
    }

    /// A server started in this process, on SQLite or on a fresh schema of `pg_base` (and
    /// then a second one through a PgBouncer, when the machine has one).
    async fn start(pg_base: Option<&str>) -> anyhow::Result<Self> {
        let mut target = Self::start_with(pg_base, None).await?;
        if let Some(base) = pg_base {
            target.pooled = match Self::start_pooled(base).await {
                Ok(Some(pooled)) => Some(Box::new(pooled)),
                Ok(None) => {
                    eprintln!("no pgbouncer on this machine: no figures through a pooler");
                    None
                }
                Err(e) => {
                    eprintln!("PgBouncer skipped: {e:#}");
                    None
                }
            };
        }
        Ok(target)
    }

    /// A server on a fresh database of `base` through a PgBouncer in transaction mode
    /// lending four server connections, with PostgreSQL's own URL for the change feed.
    async fn start_pooled(base: &str) -> anyhow::Result<Option<Self>> {
        let Some(bouncer) = portcullis_store::pgbouncer::PgBouncer::start(base, 4)? else {
            return Ok(None);
        };
        let name = format!("bench_pgb_{}", uuid::Uuid::new_v4().simple());
        portcullis_store::pgbouncer::create_database(base, &name).await?;
        let server = base
            .split('?')
            .next()
            .and_then(|b| b.rsplit_once('/'))
            .map_or(base, |(server, _)| server);
        let pooler = (
            bouncer.url(&name),
            format!("{server}/{name}"),
            (bouncer, base.to_owned(), name),
        );
        Self::start_with(Some(base), Some(pooler)).await.map(Some)
    }

    /// A server on SQLite, a fresh schema of `pg_base`, or the database `pooler` names
    /// (the URL through PgBouncer, the direct URL, the PgBouncer).
    async fn start_with(
        pg_base: Option<&str>,
        pooler: Option<(
            String,
            String,
            (portcullis_store::pgbouncer::PgBouncer, String, String),
        )>,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let mut config = portcullis::Config {
            listen: "127.0.0.1:0".to_owned(),
            data_dir: dir.path().join("data"),
            rate_limits: "off".to_owned(),
            log: "error".to_owned(),
            // An admin for the webhook figures, whose receivers are on loopback.
            bootstrap_admin_email: Some(webhooks::ADMIN.to_owned()),
            bootstrap_admin_password: Some(PASSWORD.into()),
            outbound_allow: "127.0.0.1".to_owned(),
            ..portcullis::Config::default()
        };
        let master = "YmVuY2gtb25seS1tYXN0ZXIta2V5LTMyLWJ5dGVzISE=";
        let (pg, bouncer) = match (pg_base, pooler) {
            (Some(_), Some((url, direct, bouncer))) => {
                config.database_url = Some(url);
                config.database_pool_mode = "transaction".to_owned();
                config.database_direct_url = Some(direct);
                config.master_key = Some(master.into());
                (None, Some(bouncer))
            }
            (Some(base), None) => {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let url = portcullis_store::pg_schema::create(base, &schema)
                    .await
                    .context("PostgreSQL")?;
                config.database_url = Some(url);
                config.master_key = Some(master.into());
                (Some((base.to_owned(), schema)), None)
            }
            (None, _) => (None, None),
        };
        let app = portcullis::App::build(config.clone()).await?;
        let (store, org) = seeding_store(&config).await?;
        let url = format!("http://{}", app.local_addr());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = app
                .serve(async {
                    let _ = stopped.await;
                })
                .await;
        });
        let core = portcullis_core::CoreConfig::new("");
        Ok(Self {
            backend: if pg_base.is_some() {
                "postgres"
            } else {
                "sqlite"
            },
            url,
            store,
            org,
            argon2: core.argon2,
            permits: core.hash_concurrency,
            proc: Some("/proc/self".to_owned()),
            started: Some(Started {
                stop,
                task,
                _dir: dir,
                pg,
                bouncer,
            }),
            pooled: None,
        })
    }

    /// Adds users `from..to` (`bench{i}@bench.test`, all with `hash`) in bulk.
    async fn seed(&self, from: usize, to: usize, hash: &str) -> anyhow::Result<()> {
        let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
        let mut i = from;
        while i < to {
            let end = (i + 10_000).min(to);
            let batch: Vec<NewUser> = (i..end)
                .map(|n| NewUser {
                    id: UserId::new(),
                    org_id: self.org,
                    profile: Profile {
                        email: Some(format!("bench{n}@bench.test")),
                        email_verified: true,
                        phone: None,
                        phone_verified: false,
                        username: None,
                        first_name: None,
                        last_name: None,
                        attributes: portcullis_core::identity::Attributes::default(),
                    },
                    password_hash: Some(hash.to_owned()),
                    anonymous: false,
                    active: true,
                    roles: vec!["user".to_owned()],
                    created_at: now,
                })
                .collect();
            self.store.insert_users(&batch).await?;
            i = end;
        }
        Ok(())
    }

    async fn stop(self) {
        if let Some(pooled) = self.pooled {
            Box::pin(pooled.stop()).await;
        }
        if let Some(started) = self.started {
            let _ = started.stop.send(());
            let _ = started.task.await;
            if let Some((base, schema)) = &started.pg {
                let _ = portcullis_store::pg_schema::drop(base, schema).await;
            }
            if let Some((bouncer, base, name)) = started.bouncer {
                drop(bouncer);
                let _ = portcullis_store::pgbouncer::drop_database(&base, &name).await;
            }
        }
    }
}

pub(crate) fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap_or_default()
}

pub(crate) async fn post_ok(
    http: &reqwest::Client,
    url: &str,
    body: serde_json::Value,
) -> Option<serde_json::Value> {
    let res = http.post(url).json(&body).send().await.ok()?;
    if !res.status().is_success() {
        return None;
    }
    res.json().await.ok()
}

/// Logins of random seeded users among the first `users`, from `clients` clients.
async fn logins(t: &Target, clients: usize, users: usize, d: Duration) -> Sample {
    let (http, url) = (http(), format!("{}/v1/auth/login", t.url));
    load::run(clients, d, move |c, n| {
        let (http, url) = (http.clone(), url.clone());
        let who = (c * 7919 + n as usize * 104_729) % users;
        async move {
            post_ok(&http, &url, serde_json::json!({"identifier": format!("bench{who}@bench.test"), "password": PASSWORD}))
                .await
                .is_some()
        }
    })
    .await
}

/// Access tokens of `n` fresh sessions.
async fn tokens(t: &Target, n: usize) -> Vec<(String, String)> {
    let http = http();
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        if let Some(pair) = post_ok(
            &http,
            &format!("{}/v1/auth/login", t.url),
            serde_json::json!({"identifier": format!("bench{i}@bench.test"), "password": PASSWORD}),
        )
        .await
        {
            out.push((
                pair["access_token"].as_str().unwrap_or_default().to_owned(),
                pair["refresh_token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ));
        }
    }
    out
}

/// `GET path` with the bearer tokens, one per client.
async fn gets(
    url: String,
    tokens: Arc<Vec<(String, String)>>,
    clients: usize,
    d: Duration,
) -> Sample {
    let http = http();
    load::run(clients, d, move |c, _| {
        let (http, url) = (http.clone(), url.clone());
        let token = tokens[c % tokens.len()].0.clone();
        async move {
            http.get(&url)
                .bearer_auth(token)
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
        }
    })
    .await
}

/// A bare axum server whose one handler does only what the API's token check starts with:
/// EdDSA JWT verification (with the server's public key, read from its JWKS).
async fn bare_server(jwks_url: &str, issuer: &str) -> anyhow::Result<String> {
    let jwks: serde_json::Value = reqwest::get(jwks_url).await?.json().await?;
    // The Ed25519 key: the JWKS also lists the RSA and P-256 keys of the OpenID provider.
    let x = jwks["keys"]
        .as_array()
        .and_then(|keys| keys.iter().find(|k| k["alg"] == "EdDSA"))
        .and_then(|k| k["x"].as_str())
        .context("jwks")?
        .to_owned();
    let key = Arc::new(jsonwebtoken::DecodingKey::from_ed_components(&x)?);
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[issuer]);
    let validation = Arc::new(validation);
    let app = axum::Router::new().route(
        "/me",
        axum::routing::get(move |headers: axum::http::HeaderMap| {
            let (key, validation) = (Arc::clone(&key), Arc::clone(&validation));
            async move {
                let token = headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default();
                match jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation) {
                    Ok(data) => Ok(axum::Json(data.claims)),
                    Err(_) => Err(axum::http::StatusCode::UNAUTHORIZED),
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/me", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

/// Collects every round's value of each figure.
#[derive(Default)]
struct Rounds(std::collections::BTreeMap<&'static str, Vec<f64>>);

impl Rounds {
    fn add(&mut self, name: &'static str, v: f64) {
        self.0.entry(name).or_default().push(v);
    }

    fn median(&self, name: &str) -> f64 {
        self.0.get(name).map_or(0.0, |v| spread(v).1)
    }
}

async fn bench_backend(args: &Args, t: Target) -> anyhow::Result<Vec<Figure>> {
    let d = Duration::from_secs_f64(args.secs);
    let (backend, p, permits) = (t.backend, t.argon2, t.permits);
    let params = format!(
        "argon2id m={} KiB t={} p={}, {} hashing permits",
        p.memory_kib, p.iterations, p.parallelism, permits
    );
    eprintln!("[{backend}] {}; {params}", t.url);
    // CPU and memory are read only where the server's process is known.
    let cpu = |proc: &Option<String>| proc.as_deref().map(memory::cpu_ms);
    let phc = raw::hash(p, PASSWORD)?;
    let small = 1000;
    t.seed(0, small, &phc).await?;
    if let Some(pooled) = &t.pooled {
        pooled.seed(0, small, &phc).await?;
    }
    let toks = Arc::new(tokens(&t, 64).await);
    anyhow::ensure!(toks.len() == 64, "could not sign in the bench users");
    let issuer = t.url.clone();
    let bare = bare_server(&format!("{}/.well-known/jwks.json", t.url), &issuer).await?;
    let me_url = format!("{}/v1/users/me", t.url);
    let client_id = oidc::register(&t.store, t.org).await?;
    let client_token = oidc::access_token(&t.url, &client_id).await?;
    let browsers = Arc::new(oidc::browsers(&t.url, 16, PASSWORD).await?);
    let admin = webhooks::admin_token(&t.url, PASSWORD).await;
    if admin.is_none() {
        eprintln!("[{backend}] no bench admin on this server: no webhook figures");
    }
    let mut r = Rounds::default();
    let mut register_failures = 0u64;
    for round in 0..args.rounds {
        eprintln!("[{backend}] round {}/{}", round + 1, args.rounds);
        let verify = tokio::task::spawn_blocking(move || {
            raw::verify_rate(p, &raw::hash(p, PASSWORD)?, PASSWORD, d)
        })
        .await??;
        r.add("raw argon2id verify/s (all cores)", verify);
        let before = cpu(&t.proc);
        let sent = statements::counted("login");
        let login = logins(&t, 16, small, d).await;
        if t.started.is_some() {
            let n = (statements::counted("login") - sent) as f64;
            r.add(
                "SQL statements (round trips) per sign-in",
                n / login.ok.max(1) as f64,
            );
        }
        r.add("login/s (16 clients)", login.rate());
        r.add("ratio login", login.rate() / verify);
        if let (Some(a), Some(b)) = (before, cpu(&t.proc)) {
            let n = login.ok.max(1) as f64;
            r.add("CPU ms per login: server process", (b.0 - a.0) / n);
            r.add("CPU ms per login: PostgreSQL server", (b.1 - a.1) / n);
        }
        r.add("login p99/p50", login.p99_ms() / login.p50_ms().max(1e-9));
        if let Some(pooled) = &t.pooled {
            // Right after the direct ones (and apart from their CPU figures), the same load
            // on the same PostgreSQL.
            let before = cpu(&pooled.proc);
            let through = logins(pooled, 16, small, d).await;
            if let (Some(a), Some(b)) = (before, cpu(&pooled.proc)) {
                r.add(
                    "CPU ms per login through PgBouncer: PostgreSQL server",
                    (b.1 - a.1) / through.ok.max(1) as f64,
                );
            }
            r.add("login/s through PgBouncer (16 clients)", through.rate());
            r.add(
                "ratio login through PgBouncer",
                through.rate() / login.rate().max(1e-9),
            );
        }
        r.add("login p99 ms (1k users)", login.p99_ms());

        let hash = tokio::task::spawn_blocking(move || raw::hash_rate(p, PASSWORD, d)).await??;
        r.add("raw argon2id hash/s (all cores)", hash);
        r.add(
            "CPU ms per raw argon2id hash",
            1000.0 * raw::cores() as f64 / hash,
        );
        let before = cpu(&t.proc);
        let sent = statements::counted("register");
        let reg = {
            let (http, url) = (http(), format!("{}/v1/auth/register", t.url));
            load::run(16, d, move |c, n| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    post_ok(&http, &url, serde_json::json!({"email": format!("reg{round}-{c}-{n}@bench.test"), "password": PASSWORD}))
                        .await
                        .is_some()
                }
            })
            .await
        };
        if let (Some(a), Some(b)) = (before, cpu(&t.proc)) {
            let n = reg.ok.max(1) as f64;
            r.add("CPU ms per registration: server process", (b.0 - a.0) / n);
            r.add(
                "CPU ms per registration: PostgreSQL server",
                (b.1 - a.1) / n,
            );
        }
        if t.started.is_some() {
            // Counted in this process only: a server measured by --url logs elsewhere.
            let n = (statements::counted("register") - sent) as f64;
            r.add(
                "SQL statements (round trips) per registration",
                n / reg.ok.max(1) as f64,
            );
        }
        register_failures += reg.failed;
        r.add("register/s (16 clients)", reg.rate());
        r.add("ratio register", reg.rate() / hash);
        r.add("register p99/p50", reg.p99_ms() / reg.p50_ms().max(1e-9));

        let bare_s = gets(bare.clone(), Arc::clone(&toks), 64, d).await;
        r.add(
            "bare EdDSA-verify handler req/s (64 clients)",
            bare_s.rate(),
        );
        let me = gets(me_url.clone(), Arc::clone(&toks), 64, d).await;
        r.add("GET /v1/users/me req/s (64 clients)", me.rate());
        r.add("ratio me", me.rate() / bare_s.rate().max(1e-9));

        let idle = gets(me_url.clone(), Arc::clone(&toks), 8, d).await;
        r.add("GET /me p99 ms idle (8 clients)", idle.p99_ms());
        r.add("GET /me p99 ms (1k users)", idle.p99_ms());
        let (busy, _) = tokio::join!(
            gets(me_url.clone(), Arc::clone(&toks), 8, d),
            logins(&t, 16, small, d)
        );
        r.add("GET /me p99 ms under login saturation", busy.p99_ms());
        r.add("ratio busy", busy.p99_ms() / idle.p99_ms().max(1e-9));

        // Alternating short slices, so that drift in the machine's speed hits both alike.
        let (raw_sign, path) =
            tokio::task::spawn_blocking(move || -> anyhow::Result<(f64, f64)> {
                let slice = d / 20;
                let (mut a, mut b) = (0.0, 0.0);
                for _ in 0..10 {
                    a += raw::ed25519_rate(slice);
                    b += signing_path_rate(slice)?;
                }
                Ok((a / 10.0, b / 10.0))
            })
            .await??;
        r.add("raw Ed25519 sign/s (1 core)", raw_sign);
        r.add("token signing path/s (1 core)", path);
        r.add("ratio signing", path / raw_sign.max(1e-9));
        let refresh = {
            let (http, url) = (http(), format!("{}/v1/auth/token/refresh", t.url));
            let chains: Vec<Arc<tokio::sync::Mutex<String>>> = tokens(&t, 16)
                .await
                .into_iter()
                .map(|(_, r)| Arc::new(tokio::sync::Mutex::new(r)))
                .collect();
            let chains = Arc::new(chains);
            load::run(16, d, move |c, _| {
                let (http, url, chain) = (
                    http.clone(),
                    url.clone(),
                    Arc::clone(&chains[c % chains.len()]),
                );
                async move {
                    let mut current = chain.lock().await;
                    match post_ok(&http, &url, serde_json::json!({"refresh_token": *current})).await
                    {
                        Some(pair) => {
                            *current = pair["refresh_token"]
                                .as_str()
                                .unwrap_or_default()
                                .to_owned();
                            true
                        }
                        None => false,
                    }
                }
            })
            .await
        };
        r.add("refresh/s (16 clients)", refresh.rate());

        // The OpenID provider, each figure beside what bounds it.
        let rs256 = tokio::task::spawn_blocking(move || oidc::rs256_rate(d)).await??;
        r.add("raw RS256 sign/s (all cores)", rs256);
        let grants = oidc::grants(&t.url, &client_id, 16, d).await;
        r.add("client_credentials grants/s (16 clients)", grants.rate());
        r.add("ratio grants", grants.rate() / rs256.max(1e-9));
        let me = gets(me_url.clone(), Arc::clone(&toks), 64, d).await;
        let seen = oidc::introspections(&t.url, &client_id, &client_token, 64, d).await;
        r.add("introspection/s (64 clients)", seen.rate());
        r.add("ratio introspection", seen.rate() / me.rate().max(1e-9));
        let flows = oidc::flows(&t.url, &client_id, Arc::clone(&browsers), d).await;
        r.add("authorization-code flows/s (16 browsers)", flows.rate());
        r.add("flow failures", flows.failed as f64);

        // Webhooks: the delivery pipeline, and a claims hook on the sign-in path.
        if let Some(token) = &admin {
            let rate = webhooks::deliveries(&t.url, token, &t.store, 2000).await?;
            r.add("webhook deliveries/s (loopback receiver)", rate);
            let plain = logins(&t, 16, small, d).await;
            webhooks::set_claims_hook(&t.url, token).await?;
            let hooked = logins(&t, 16, small, d).await;
            webhooks::remove_claims_hook(&t.url, token).await?;
            r.add("login/s with a claims hook (16 clients)", hooked.rate());
            r.add("ratio claims hook", hooked.rate() / plain.rate().max(1e-9));
            r.add("claims hook login failures", hooked.failed as f64);
        }
    }

    // Memory under a flood of 10x the permits: the peak over the base must stay within the
    // argon2 memory of the permits, plus one.
    if let Some(proc) = &t.proc {
        memory::reset_peak(proc);
        let base = memory::kib(proc, "VmRSS:").unwrap_or(0);
        let flood = logins(&t, permits * 10, small, d).await;
        let peak = memory::kib(proc, "VmHWM:").unwrap_or(0);
        r.add(
            "peak RSS over base (MiB)",
            peak.saturating_sub(base) as f64 / 1024.0,
        );
        eprintln!(
            "[{backend}] flood: {} ok, {} refused; RSS base {} MiB, peak {} MiB",
            flood.ok,
            flood.failed,
            base / 1024,
            peak / 1024
        );
    }
    let bound_mib = (permits as f64 + 1.0) * f64::from(p.memory_kib) / 1024.0;

    // The large database: the same sign-in and token check, with `large` users.
    eprintln!("[{backend}] seeding {} users", args.large);
    let seeding = std::time::Instant::now();
    t.seed(small, args.large.max(small), &phc).await?;
    eprintln!("[{backend}] seeded in {:.0?}", seeding.elapsed());
    // SCIM's lookup by userName (what Okta and Entra ID do before each create) beside the
    // same search on the admin API, over the large database.
    let scim = match webhooks::admin_token(&t.url, PASSWORD).await {
        Some(token) => Some(scim::Lookups::new(&t.url, &token, args.large.max(small)).await?),
        None => None,
    };
    for _ in 0..args.rounds {
        let login = logins(&t, 16, args.large.max(small), d).await;
        r.add("login p99 ms (large)", login.p99_ms());
        let idle = gets(me_url.clone(), Arc::clone(&toks), 8, d).await;
        r.add("GET /me p99 ms (large)", idle.p99_ms());
        if let Some(scim) = &scim {
            let (by_scim, by_admin) = scim.run(8, d).await;
            r.add("SCIM filtered list p99 ms", by_scim.p99_ms());
            r.add("admin search p99 ms", by_admin.p99_ms());
            r.add(
                "SCIM lookups failed",
                (by_scim.failed + by_admin.failed) as f64,
            );
        }
    }
    t.stop().await;

    let large = args.large;
    let mut out = Vec::new();
    let mut fig = |name: &str,
                   unit: &'static str,
                   values: Vec<f64>,
                   ratio: Option<f64>,
                   goal: Option<(bool, f64)>| {
        if values.is_empty() {
            // Not measured in this mode (CPU and memory of a server whose pid is unknown).
            return;
        }
        let (min, median, max) = spread(&values);
        let judged = ratio.unwrap_or(median);
        out.push(Figure {
            backend: backend.to_owned(),
            figure: name.to_owned(),
            unit,
            min,
            median,
            max,
            ratio,
            goal: goal.map(|(at_least, x)| format!("{} {x}", if at_least { ">=" } else { "<=" })),
            met: goal.map(|(at_least, x)| if at_least { judged >= x } else { judged <= x }),
            params: params.clone(),
        });
    };
    let v = |name: &str| r.0.get(name).cloned().unwrap_or_default();
    let worst = |name: &str| v(name).into_iter().fold(0.0, f64::max);
    let ratio = |a: &str, b: &str| r.median(a) / r.median(b).max(1e-9);
    fig(
        "raw argon2id verify/s (all cores)",
        "1/s",
        v("raw argon2id verify/s (all cores)"),
        None,
        None,
    );
    fig(
        "login/s (16 clients)",
        "1/s",
        v("login/s (16 clients)"),
        Some(r.median("ratio login")),
        Some((true, 0.9)),
    );
    if !v("login/s through PgBouncer (16 clients)").is_empty() {
        fig(
            "login/s through PgBouncer, transaction mode (16 clients)",
            "1/s",
            v("login/s through PgBouncer (16 clients)"),
            Some(r.median("ratio login through PgBouncer")),
            Some((true, 0.9)),
        );
    }
    if !v("CPU ms per login through PgBouncer: PostgreSQL server").is_empty() {
        fig(
            "CPU ms per login through PgBouncer: PostgreSQL server",
            "ms",
            v("CPU ms per login through PgBouncer: PostgreSQL server"),
            None,
            None,
        );
    }
    fig(
        "raw argon2id hash/s (all cores)",
        "1/s",
        v("raw argon2id hash/s (all cores)"),
        None,
        None,
    );
    fig(
        "register/s (16 clients)",
        "1/s",
        v("register/s (16 clients)"),
        Some(r.median("ratio register")),
        Some((true, 0.80)),
    );
    fig(
        "SQL statements (round trips) per sign-in",
        "count",
        v("SQL statements (round trips) per sign-in"),
        None,
        None,
    );
    fig(
        "SQL statements (round trips) per registration",
        "count",
        v("SQL statements (round trips) per registration"),
        None,
        (backend == "postgres").then_some((false, 6.0)),
    );
    fig(
        "register answers not 2xx",
        "count",
        vec![register_failures as f64],
        None,
        Some((false, 0.0)),
    );
    fig(
        "login p99/p50",
        "x",
        v("login p99/p50"),
        // Judged on its worst round: every round must hold.
        Some(worst("login p99/p50")),
        Some((false, 2.0)),
    );
    fig(
        "register p99/p50",
        "x",
        v("register p99/p50"),
        // Judged on its worst round: every round must hold.
        Some(worst("register p99/p50")),
        Some((false, 2.0)),
    );
    fig(
        "bare EdDSA-verify handler req/s (64 clients)",
        "1/s",
        v("bare EdDSA-verify handler req/s (64 clients)"),
        None,
        None,
    );
    fig(
        "GET /v1/users/me req/s (64 clients)",
        "1/s",
        v("GET /v1/users/me req/s (64 clients)"),
        Some(r.median("ratio me")),
        Some((true, 0.75)),
    );
    fig(
        "GET /me p99 ms idle (8 clients)",
        "ms",
        v("GET /me p99 ms idle (8 clients)"),
        None,
        None,
    );
    fig(
        "GET /me p99 ms under login saturation",
        "ms",
        v("GET /me p99 ms under login saturation"),
        Some(r.median("ratio busy")),
        Some((false, 10.0)),
    );
    fig(
        "raw Ed25519 sign/s (1 core)",
        "1/s",
        v("raw Ed25519 sign/s (1 core)"),
        None,
        None,
    );
    fig(
        "token signing path/s (1 core)",
        "1/s",
        v("token signing path/s (1 core)"),
        Some(r.median("ratio signing")),
        Some((true, 0.9)),
    );
    fig(
        "refresh/s (16 clients)",
        "1/s",
        v("refresh/s (16 clients)"),
        None,
        None,
    );
    fig(
        "raw RS256 sign/s (all cores)",
        "1/s",
        v("raw RS256 sign/s (all cores)"),
        None,
        None,
    );
    fig(
        "client_credentials grants/s (16 clients)",
        "1/s",
        v("client_credentials grants/s (16 clients)"),
        Some(r.median("ratio grants")),
        Some((true, 0.5)),
    );
    fig(
        "introspection/s vs GET /me (64 clients)",
        "1/s",
        v("introspection/s (64 clients)"),
        Some(r.median("ratio introspection")),
        Some((true, 0.8)),
    );
    fig(
        "authorization-code flows/s (16 browsers)",
        "1/s",
        v("authorization-code flows/s (16 browsers)"),
        None,
        None,
    );
    fig(
        "authorization-code flows failed",
        "count",
        vec![v("flow failures").iter().sum()],
        None,
        Some((false, 0.0)),
    );
    fig(
        "webhook deliveries/s (loopback receiver)",
        "1/s",
        v("webhook deliveries/s (loopback receiver)"),
        None,
        None,
    );
    fig(
        "login/s with a claims hook vs without (16 clients)",
        "1/s",
        v("login/s with a claims hook (16 clients)"),
        (admin.is_some()).then(|| r.median("ratio claims hook")),
        Some((true, 0.85)),
    );
    if admin.is_some() {
        fig(
            "sign-ins failed with a claims hook",
            "count",
            vec![v("claims hook login failures").iter().sum()],
            None,
            Some((false, 0.0)),
        );
    }
    for name in [
        "CPU ms per raw argon2id hash",
        "CPU ms per login: server process",
        "CPU ms per login: PostgreSQL server",
        "CPU ms per registration: server process",
        "CPU ms per registration: PostgreSQL server",
    ] {
        fig(name, "ms", v(name), None, None);
    }
    fig(
        &format!("login p99 ms, {large} users vs 1000"),
        "ms",
        v("login p99 ms (large)"),
        Some(ratio("login p99 ms (large)", "login p99 ms (1k users)")),
        Some((false, 1.3)),
    );
    fig(
        &format!("GET /me p99 ms, {large} users vs 1000"),
        "ms",
        v("GET /me p99 ms (large)"),
        Some(ratio("GET /me p99 ms (large)", "GET /me p99 ms (1k users)")),
        Some((false, 1.3)),
    );
    fig(
        &format!("SCIM userName eq p99 ms, {large} users, vs GET /v1/users?query"),
        "ms",
        v("SCIM filtered list p99 ms"),
        Some(ratio("SCIM filtered list p99 ms", "admin search p99 ms")),
        Some((false, 1.5)),
    );
    fig(
        &format!("GET /v1/users?query p99 ms, {large} users"),
        "ms",
        v("admin search p99 ms"),
        None,
        None,
    );
    fig(
        "SCIM and admin lookups failed",
        "count",
        vec![v("SCIM lookups failed").iter().sum()],
        None,
        Some((false, 0.0)),
    );
    fig(
        "peak RSS over base, login flood of 10x permits (MiB)",
        "MiB",
        v("peak RSS over base (MiB)"),
        None,
        Some((false, bound_mib)),
    );
    Ok(out)
}

/// The server's own token signing (the key ring, as refresh and login use it), on one core.
fn signing_path_rate(d: Duration) -> anyhow::Result<f64> {
    use portcullis_core::tokens::{generate_signing_key, AccessClaims, KeyRing};
    let master = portcullis_core::MasterKey::generate(&portcullis_core::OsRng);
    let now = chrono::DateTime::from_timestamp(1_790_000_000, 0).unwrap_or_default();
    let key = generate_signing_key(
        portcullis_core::oauth::SigningAlg::EdDsa,
        &portcullis_core::OsRng,
        &master,
        now,
    )?;
    let ring = KeyRing::open(
        "http://127.0.0.1:8080",
        &master,
        &[key],
        chrono::Duration::zero(),
    )
    .map_err(|_| anyhow::anyhow!("key ring"))?;
    let claims = AccessClaims {
        iss: "http://127.0.0.1:8080".into(),
        sub: UserId::new().to_string(),
        sid: UserId::new().to_string(),
        org: "default".into(),
        roles: vec!["user".into()],
        iat: now.timestamp(),
        exp: now.timestamp() + 900,
        amr: vec!["pwd".into()],
        jti: "0123456789abcdef0123456789abcdef".into(),
    };
    let start = std::time::Instant::now();
    let mut n = 0u64;
    while start.elapsed() < d {
        ring.sign(&claims).map_err(|e| anyhow::anyhow!("{e}"))?;
        n += 1;
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

fn print_table(figures: &[Figure]) {
    println!(
        "{:<9} {:<52} {:>10} {:>10} {:>10} {:>7} {:>8} {:>5}",
        "backend", "figure", "min", "median", "max", "ratio", "goal", "met"
    );
    for f in figures {
        println!(
            "{:<9} {:<52} {:>10.1} {:>10.1} {:>10.1} {:>7} {:>8} {:>5}",
            f.backend,
            f.figure,
            f.min,
            f.median,
            f.max,
            f.ratio.map_or(String::new(), |r| format!("{r:.2}")),
            f.goal.clone().unwrap_or_default(),
            f.met.map_or("", |m| if m { "yes" } else { "NO" })
        );
    }
    if let Some(f) = figures.first() {
        println!("(every figure: {})", f.params);
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    statements::install();
    let figures = match &args.url {
        Some(url) => {
            let target = Target::remote(url, args.config.as_deref(), args.pid).await?;
            bench_backend(&args, target).await?
        }
        None => {
            let mut figures = bench_backend(&args, Target::start(None).await?).await?;
            if args.postgres != "none" {
                let postgres = async {
                    let target = Target::start(Some(&args.postgres)).await?;
                    bench_backend(&args, target).await
                };
                match postgres.await {
                    Ok(f) => figures.extend(f),
                    Err(e) => eprintln!("PostgreSQL skipped: {e:#}"),
                }
            }
            figures
        }
    };
    print_table(&figures);
    if let Some(path) = &args.out {
        std::fs::write(path, serde_json::to_string_pretty(&figures)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
