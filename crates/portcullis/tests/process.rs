//! The real `portcullis serve` process, as an operator runs it: what it answered 2xx survives
//! SIGKILL, a flood of sign-ins keeps its memory bounded, and known and unknown accounts cost
//! it the same password work. On SQLite and, with `PORTCULLIS_TEST_POSTGRES_URL`, PostgreSQL.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first unexpected answer"
)]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const ADMIN: &str = "root@example.com";
const PASSWORD: &str = "a long enough passphrase";
const MASTER_KEY: &str = "cHJvY2Vzcy10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=";

/// A database that outlives the processes using it.
struct Db {
    dir: tempfile::TempDir,
    url: String,
    pg: Option<(String, String)>,
}

impl Db {
    async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/portcullis.db", dir.path().display());
        Self { dir, url, pg: None }
    }

    async fn postgres() -> Option<Self> {
        let base = std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let Some(base) = base else {
            eprintln!("SKIPPED: PostgreSQL test (set PORTCULLIS_TEST_POSTGRES_URL to run it)");
            return None;
        };
        let schema = format!("pp_{}", uuid::Uuid::new_v4().simple());
        let url = portcullis_store::pg_schema::create(&base, &schema)
            .await
            .unwrap();
        Some(Self {
            dir: tempfile::tempdir().unwrap(),
            url,
            pg: Some((base, schema)),
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        if let Some((base, schema)) = self.pg.take() {
            // Best effort, on a runtime of its own: Drop cannot await.
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .map(|rt| rt.block_on(portcullis_store::pg_schema::drop(&base, &schema)))
            })
            .join();
        }
    }
}

/// One `portcullis serve` process.
struct Node {
    child: Child,
    url: String,
}

impl Node {
    /// Starts the binary on a free port and waits for its "listening" line.
    fn start(db: &Db, env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_portcullis"));
        cmd.arg("serve")
            .env_clear()
            .env("PORTCULLIS_LISTEN", "127.0.0.1:0")
            .env("PORTCULLIS_DATA_DIR", db.dir.path())
            .env("PORTCULLIS_DATABASE_URL", &db.url)
            .env("PORTCULLIS_MASTER_KEY", MASTER_KEY)
            .env("PORTCULLIS_LOG_FORMAT", "json")
            .env("PORTCULLIS_LOG", "info")
            .env("PORTCULLIS_RATE_LIMITS", "off")
            .env("PORTCULLIS_ARGON2_MEMORY_KIB", "8192")
            .env("PORTCULLIS_ARGON2_ITERATIONS", "1")
            .env("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", ADMIN)
            .env("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .unwrap();
            if line.contains("Portcullis listening") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                break v["address"].as_str().unwrap().to_owned();
            }
        };
        // Keep draining the log so that the process never blocks on a full pipe.
        std::thread::spawn(move || lines.for_each(drop));
        Self { child, url }
    }

    /// SIGKILL: no shutdown, no flush.
    fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// A field of `/proc/<pid>/status`, in KiB.
    fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    async fn post(
        &self,
        http: &reqwest::Client,
        path: &str,
        body: serde_json::Value,
    ) -> reqwest::Response {
        http.post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn login(&self, http: &reqwest::Client, who: &str) -> serde_json::Value {
        let res = self
            .post(
                http,
                "/v1/auth/login",
                serde_json::json!({"identifier": who, "password": PASSWORD}),
            )
            .await;
        assert_eq!(res.status(), 200, "{who}");
        res.json().await.unwrap()
    }

    /// A counter from `/metrics` (0 when not yet counted).
    async fn counter(&self, http: &reqwest::Client, series: &str) -> f64 {
        let text = http
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
            .unwrap_or(0.0)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the server answered 2xx before it died.
#[derive(Default)]
struct Answered {
    registered: Vec<String>,
    refresh_tokens: Vec<String>,
}

/// Concurrent registrations and sign-ins, SIGKILL in the middle, restart: every registration
/// answered 201 can sign in, every refresh token answered 200 still refreshes, and the
/// database is whole.
async fn answered_writes_survive_sigkill(db: Db) {
    let mut node = Node::start(&db, &[]);
    let http = reqwest::Client::new();
    let answered = Arc::new(Mutex::new(Answered::default()));
    let mut workers = Vec::new();
    for w in 0..12 {
        let (http, url, answered) = (http.clone(), node.url.clone(), Arc::clone(&answered));
        workers.push(tokio::spawn(async move {
            for i in 0.. {
                let email = format!("w{w}-{i}@example.com");
                let Ok(res) = http
                    .post(format!("{url}/v1/auth/register"))
                    .json(&serde_json::json!({"email": email, "password": PASSWORD}))
                    .send()
                    .await
                else {
                    return;
                };
                if res.status() == 201 {
                    answered.lock().unwrap().registered.push(email.clone());
                }
                let Ok(res) = http
                    .post(format!("{url}/v1/auth/login"))
                    .json(&serde_json::json!({"identifier": email, "password": PASSWORD}))
                    .send()
                    .await
                else {
                    return;
                };
                if res.status() == 200 {
                    let Ok(pair) = res.json::<serde_json::Value>().await else {
                        return;
                    };
                    let token = pair["refresh_token"].as_str().unwrap().to_owned();
                    answered.lock().unwrap().refresh_tokens.push(token);
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    node.kill();
    for w in workers {
        w.await.unwrap();
    }
    let answered = std::mem::take(&mut *answered.lock().unwrap());
    assert!(
        answered.registered.len() >= 20,
        "too little load before the kill"
    );

    let node = Node::start(&db, &[]);
    for email in &answered.registered {
        node.login(&http, email).await;
    }
    for token in &answered.refresh_tokens {
        let res = node
            .post(
                &http,
                "/v1/auth/token/refresh",
                serde_json::json!({"refresh_token": token}),
            )
            .await;
        assert_eq!(
            res.status(),
            200,
            "a refresh token answered before the kill is lost"
        );
    }
    // Every stored user is whole (roles and organization joined).
    let admin = node.login(&http, ADMIN).await;
    let bearer = format!("Bearer {}", admin["access_token"].as_str().unwrap());
    let mut seen = 0;
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{}/v1/users?limit=200", node.url);
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let page: serde_json::Value = http
            .get(url)
            .header("authorization", &bearer)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for u in page["items"].as_array().unwrap() {
            assert!(!u["roles"].as_array().unwrap().is_empty(), "{u}");
            seen += 1;
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert!(seen > answered.registered.len(), "{seen} users listed");
    eprintln!(
        "crash test ({}): {} registrations and {} sign-ins answered before SIGKILL, all durable; {seen} users after restart",
        if db.pg.is_some() { "postgres" } else { "sqlite" },
        answered.registered.len(),
        answered.refresh_tokens.len()
    );
    drop(node);
    if db.pg.is_none() {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let check: (String,) = sqlx::query_as("PRAGMA integrity_check")
            .fetch_one(&pool)
            .await
            .unwrap();
        assert_eq!(check.0, "ok");
        let dangling = sqlx::query("PRAGMA foreign_key_check")
            .fetch_all(&pool)
            .await
            .unwrap();
        assert!(dangling.is_empty(), "rows pointing at nothing");
        pool.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_writes_survive_sigkill_on_sqlite() {
    answered_writes_survive_sigkill(Db::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_writes_survive_sigkill_on_postgres() {
    if let Some(db) = Db::postgres().await {
        answered_writes_survive_sigkill(db).await;
    }
}

/// A flood of sign-ins far past the hashing permits: the excess is answered 503 `overloaded`
/// with `Retry-After` at once, and the process's peak memory stays within the argon2 memory
/// of the permits (plus one, for the blocking pool's hand-over) and a small constant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_flood_keeps_memory_bounded() {
    const ARGON2_MIB: u64 = 32;
    const PERMITS: u64 = 2;
    const FLOOD: usize = 300;
    let db = Db::sqlite().await;
    let node = Node::start(
        &db,
        &[
            ("PORTCULLIS_ARGON2_MEMORY_KIB", "32768"),
            ("PORTCULLIS_HASH_CONCURRENCY", "2"),
            ("PORTCULLIS_HASH_QUEUE", "2"),
        ],
    );
    let http = reqwest::Client::new();
    node.login(&http, ADMIN).await;
    node.login(&http, ADMIN).await;
    let base = node.memory_kib("VmRSS:");
    let flood = (0..FLOOD).map(|_| {
        let (http, url) = (http.clone(), node.url.clone());
        tokio::spawn(async move {
            let res = http
                .post(format!("{url}/v1/auth/login"))
                .json(&serde_json::json!({"identifier": ADMIN, "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            (
                res.status().as_u16(),
                res.headers().contains_key("retry-after"),
            )
        })
    });
    let mut ok = 0;
    let mut overloaded = 0;
    for answer in futures_join(flood).await {
        match answer {
            (200, _) => ok += 1,
            (503, true) => overloaded += 1,
            other => panic!("unexpected answer {other:?}"),
        }
    }
    let peak = node.memory_kib("VmHWM:");
    let allowed = base + (PERMITS + 1) * ARGON2_MIB * 1024 + 32 * 1024;
    eprintln!(
        "login flood: {FLOOD} concurrent sign-ins -> {ok} ok, {overloaded} overloaded; RSS before {} MiB, peak {} MiB, bound {} MiB",
        base / 1024,
        peak / 1024,
        allowed / 1024
    );
    assert!(ok >= 2 && overloaded > 0);
    assert!(peak <= allowed, "peak {peak} KiB over {allowed} KiB");
}

async fn futures_join<T>(tasks: impl Iterator<Item = tokio::task::JoinHandle<T>>) -> Vec<T> {
    let tasks: Vec<_> = tasks.collect();
    let mut out = Vec::with_capacity(tasks.len());
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

/// Sign-in with an unknown identifier verifies a password hash just as a wrong password for
/// a known one does, and registration with a taken address hashes just as a new one does:
/// the same work, so the same time, whatever the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn known_and_unknown_accounts_cost_the_same_password_work() {
    let db = Db::sqlite().await;
    let node = Node::start(&db, &[]);
    let http = reqwest::Client::new();
    let verify = r#"portcullis_password_hashes_total{op="verify"}"#;
    let hash = r#"portcullis_password_hashes_total{op="hash"}"#;
    let login = |who: &'static str| serde_json::json!({"identifier": who, "password": "not the passphrase"});
    for who in [ADMIN, "nobody@example.com"] {
        let before = node.counter(&http, verify).await;
        let res = node.post(&http, "/v1/auth/login", login(who)).await;
        assert_eq!(res.status(), 401);
        assert_eq!(node.counter(&http, verify).await - before, 1.0, "{who}");
    }
    for (who, status) in [("new@example.com", 201), (ADMIN, 409)] {
        let before = node.counter(&http, hash).await;
        let res = node
            .post(
                &http,
                "/v1/auth/register",
                serde_json::json!({"email": who, "password": "another passphrase here"}),
            )
            .await;
        assert_eq!(res.status(), status);
        assert_eq!(node.counter(&http, hash).await - before, 1.0, "{who}");
    }
}
