//! The real `portcullis serve` process, as an operator runs it: what it answered 2xx survives
//! SIGKILL, a flood of sign-ins keeps its memory bounded, and known and unknown accounts cost
//! it the same password work. On SQLite and, with `PORTCULLIS_TEST_POSTGRES_URL`, PostgreSQL.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first unexpected answer"
)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Db, Node, ADMIN, PASSWORD};

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
    // Kill once enough has been answered, not after a fixed time: a busy machine (tests run
    // side by side on two cores) answers fewer requests per second, and the test is about
    // what was answered, not how fast.
    let deadline = std::time::Instant::now() + Duration::from_secs(120);
    loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let enough = {
            let a = answered.lock().unwrap();
            a.registered.len() >= 20 && a.refresh_tokens.len() >= 10
        };
        if enough || std::time::Instant::now() > deadline {
            break;
        }
    }
    // A little more load, so the kill lands in the middle of requests in flight.
    tokio::time::sleep(Duration::from_millis(300)).await;
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
        if db.bouncer.is_some() {
            "postgres behind pgbouncer"
        } else if db.pg.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        answered.registered.len(),
        answered.refresh_tokens.len()
    );
    drop(node);
    if db.url.starts_with("sqlite:") {
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

/// The same through a transaction pooler: a write it acknowledged is committed on
/// PostgreSQL, whichever server connection carried it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answered_writes_survive_sigkill_behind_pgbouncer() {
    if let Some(db) = Db::pgbouncer(4, false).await {
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

/// `portcullis keys` on a SQLite node's database: rotation adds a published key that the
/// running node picks up; a wrong master key is refused, not stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_and_list_on_sqlite() {
    let db = Db::sqlite().await;
    let node = Node::start(&db, &[("PORTCULLIS_KEY_RELOAD_SECS", "1")]);
    let keys = |what: &str, master: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(["keys", what])
            .env("PORTCULLIS_DATABASE_URL", &db.url)
            .env("PORTCULLIS_MASTER_KEY", master)
            .env("PORTCULLIS_LOG", "warn")
            .output()
            .unwrap()
    };
    let listed = keys("list", common::MASTER_KEY);
    assert!(listed.status.success());
    let table = String::from_utf8(listed.stdout).unwrap();
    assert!(table.starts_with("KID"), "{table}");
    assert_eq!(table.lines().count(), 4, "a key per algorithm: {table}");
    for alg in ["EdDSA", "RS256", "ES256"] {
        assert!(
            table
                .lines()
                .any(|l| l.contains(alg) && l.contains("signing")),
            "{table}"
        );
    }

    let wrong = keys("rotate", "d3JvbmctbWFzdGVyLWtleS0zMi1ieXRlcy1sb25nISE=");
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("PORTCULLIS_MASTER_KEY"));

    let rotated = keys("rotate", common::MASTER_KEY);
    assert!(rotated.status.success(), "{rotated:?}");
    let table = String::from_utf8(rotated.stdout).unwrap();
    assert_eq!(table.lines().count(), 7, "{table}");
    assert!(
        table.lines().skip(1).take(3).all(|l| l.contains("next")),
        "{table}"
    );
    // The running node publishes it within a reload.
    let http = reqwest::Client::new();
    for attempt in 0.. {
        if node.published_keys(&http).await == 6 {
            break;
        }
        assert!(attempt < 50, "the node did not publish the new key");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Slowloris against a process limited to 256 open files: 320 connections trickling their
/// headers and reconnecting whenever they are cut, for eight seconds. The node never runs
/// out of descriptors (its connection cap sits below the limit), cuts each half-sent head
/// at the header deadline, and answers an honest client every time it asks meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_clients_are_served_through_a_slowloris_attack() {
    use tokio::io::AsyncWriteExt as _;
    let db = Db::sqlite().await;
    let node =
        Node::start_with_open_file_limit(&db, &[("PORTCULLIS_HEADER_READ_TIMEOUT_SECS", "2")], 256);
    let addr: std::net::SocketAddr = node.url.trim_start_matches("http://").parse().unwrap();
    let until = std::time::Instant::now() + Duration::from_secs(8);
    let attackers: Vec<_> = (0..320)
        .map(|_| {
            tokio::spawn(async move {
                while std::time::Instant::now() < until {
                    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    let _ = s.write_all(b"GET /healthz HTTP/1.1\r\nhost: a\r\n").await;
                    while std::time::Instant::now() < until
                        && s.write_all(b"x-a: b\r\n").await.is_ok()
                    {
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut served = 0;
    while std::time::Instant::now() < until {
        let honest = reqwest::Client::builder()
            .timeout(Duration::from_secs(6))
            .build()
            .unwrap();
        let res = honest.get(format!("{}/healthz", node.url)).send().await;
        let status = res.map(|r| r.status().as_u16());
        assert!(
            matches!(status, Ok(200)),
            "an honest client was not served during the attack: {status:?}"
        );
        served += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    for a in attackers {
        a.await.unwrap();
    }
    assert!(served >= 3);
    let http = reqwest::Client::new();
    let res = node
        .post(
            &http,
            "/v1/auth/register",
            serde_json::json!({"email": "after@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 201);
}

/// The metric series a request moved: names with labels whose values changed.
fn moved(before: &str, after: &str) -> Vec<String> {
    let values = |text: &str| -> std::collections::BTreeMap<String, String> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.rsplit_once(' '))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    };
    let (b, a) = (values(before), values(after));
    a.into_iter()
        .filter(|(k, v)| b.get(k) != Some(v))
        .map(|(k, _)| k)
        // Latency histograms move by timing, and the courier's delivery counters count real
        // deliveries (to an address with an account, by nature), later and in batches; both
        // are visible only to the operator's scraper.
        .filter(|k| {
            !k.starts_with("portcullis_http_request_duration_seconds")
                && !k.starts_with("portcullis_messages_")
                && !k.starts_with("portcullis_message_failures")
                && !k.starts_with("portcullis_outbox_")
        })
        .collect()
}

/// Asking for a reset or a sign-in code moves the same metrics for an address with an
/// account as for one without; and no log line carries an email address or a phone number,
/// even one that arrives in a path (DeepAffex's `users/auth/code/{org}/{phone}`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_logs_tell_no_one_who_has_an_account() {
    const TOKEN: &str = "a-metrics-token-for-this-test";
    let db = Db::sqlite().await;
    let node = Node::start(
        &db,
        &[
            ("PORTCULLIS_METRICS_TOKEN", TOKEN),
            ("PORTCULLIS_RATE_LIMITS", "on"),
        ],
    );
    let http = reqwest::Client::new();
    let metrics = || async {
        http.get(format!("{}/metrics", node.url))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    let res = node
        .post(
            &http,
            "/v1/auth/register",
            serde_json::json!({"email": "known.person@example.com", "password": PASSWORD, "phone": "+447911123456"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for path in ["/v1/auth/password/forgot", "/v1/auth/code/request"] {
        let s0 = metrics().await;
        let known = node
            .post(
                &http,
                path,
                serde_json::json!({"email": "known.person@example.com"}),
            )
            .await;
        assert_eq!(known.status(), 202);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s1 = metrics().await;
        let unknown = node
            .post(
                &http,
                path,
                serde_json::json!({"email": "nobody.here@example.com"}),
            )
            .await;
        assert_eq!(unknown.status(), 202);
        tokio::time::sleep(Duration::from_millis(300)).await;
        let s2 = metrics().await;
        assert_eq!(moved(&s0, &s1), moved(&s1, &s2), "{path}");
    }
    let res = http
        .get(format!(
            "{}/dfx/users/auth/code/default/+447911123456",
            node.url
        ))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_client_error());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = node.log.lock().unwrap().clone();
    assert!(log
        .iter()
        .any(|l| l.contains("/dfx/users/auth/code/{org}/{phone}")));
    for line in &log {
        for secret in ["7911123456", "known.person", "nobody.here"] {
            assert!(!line.contains(secret), "the log carries {secret}: {line}");
        }
    }
}

/// Pointed at a transaction pooler without being told, the server does not start, and says
/// in one line what to set (not a stack trace, whatever RUST_BACKTRACE says); told, it
/// starts on the same URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pooler_url_without_the_pool_mode_stops_the_start_with_one_line() {
    let Some(mut db) = Db::pgbouncer(2, false).await else {
        return;
    };
    let told = std::mem::take(&mut db.env);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("serve")
        .env_clear()
        .env("PORTCULLIS_LISTEN", "127.0.0.1:0")
        .env("PORTCULLIS_DATA_DIR", db.dir.path())
        .env("PORTCULLIS_DATABASE_URL", &db.url)
        .env("PORTCULLIS_MASTER_KEY", common::MASTER_KEY)
        .env("PORTCULLIS_LOG", "warn")
        .env("RUST_BACKTRACE", "1")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert_eq!(said.trim_end().lines().count(), 1, "{said}");
    assert!(
        said.contains("set PORTCULLIS_DATABASE_POOL_MODE=transaction")
            && said.contains("PORTCULLIS_DATABASE_DIRECT_URL"),
        "{said}"
    );
    db.env = told;
    let node = Node::start(&db, &[]);
    let http = reqwest::Client::new();
    node.login(&http, ADMIN).await;
}
