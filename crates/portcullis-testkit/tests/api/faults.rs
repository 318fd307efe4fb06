//! Faults from outside: clients that hang up mid-request, requests given up by their callers,
//! and a full disk. None may leave the node unable to write, or `/readyz` saying otherwise.

use std::time::Duration;

use portcullis_testkit::{Backend, TestServer, USER_PASSWORD};
use reqwest::Method;
use tokio::io::AsyncWriteExt as _;

/// One whole HTTP/1.1 request with a JSON body, as bytes on the wire.
fn raw_request(method: &str, path: &str, token: Option<&str>, body: &serde_json::Value) -> Vec<u8> {
    let body = body.to_string();
    let auth = token.map_or_else(String::new, |t| format!("authorization: Bearer {t}\r\n"));
    format!(
        "{method} {path} HTTP/1.1\r\nhost: portcullis.test\r\n{auth}content-type: application/json\r\n\
         content-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// Sends `request` whole, waits `delay`, then resets the connection (RST, no FIN), as a
/// client that crashes or is killed does.
async fn send_and_reset(addr: std::net::SocketAddr, request: Vec<u8>, delay: Duration) {
    let Ok(mut stream) = tokio::net::TcpStream::connect(addr).await else {
        return;
    };
    let _ = stream.write_all(&request).await;
    tokio::time::sleep(delay).await;
    let _ = stream.set_zero_linger();
    drop(stream);
}

/// The write endpoints a storm hits, with bodies that reach the database: `i` makes each
/// new address unique; `token` and `refresh` belong to a live session.
fn storm_request(i: usize, token: &str, refresh: &str) -> Vec<u8> {
    let email = format!("storm{i}@example.com");
    let body = |v: serde_json::Value| v;
    match i % 9 {
        0 | 1 => raw_request(
            "POST",
            "/v1/auth/register",
            None,
            &body(serde_json::json!({"email": email, "password": USER_PASSWORD})),
        ),
        2 => raw_request(
            "POST",
            "/v1/auth/login",
            None,
            &serde_json::json!({"identifier": "owner@example.com", "password": USER_PASSWORD}),
        ),
        3 => raw_request(
            "POST",
            "/v1/auth/token/refresh",
            None,
            &serde_json::json!({"refresh_token": refresh}),
        ),
        4 => raw_request(
            "POST",
            "/v1/auth/password/forgot",
            None,
            &serde_json::json!({"email": "owner@example.com"}),
        ),
        5 => raw_request(
            "POST",
            "/v1/auth/code/request",
            None,
            &serde_json::json!({"email": email}),
        ),
        6 => raw_request(
            "POST",
            "/v1/auth/register/anonymous",
            None,
            &serde_json::json!({}),
        ),
        7 => raw_request(
            "PATCH",
            "/v1/users/me",
            Some(token),
            &serde_json::json!({"first_name": format!("Name {i}")}),
        ),
        _ => raw_request(
            "POST",
            "/v1/auth/verify/resend",
            None,
            &serde_json::json!({"email": "owner@example.com"}),
        ),
    }
}

/// Honest clients: registrations, sign-ins, refreshes and a profile change all succeed, and
/// `/readyz` says ready.
async fn honest_writes_succeed(app: &TestServer, round: usize) {
    for i in 0..4 {
        let email = format!("honest{round}x{i}@example.com");
        let (pair, client) = app.signed_in(&email).await;
        let renewed = app.client().refresh(&pair.refresh_token).await;
        assert!(renewed.is_ok(), "refresh after the storm: {renewed:?}");
        let (status, body) = crate::json_call(
            app,
            Method::PATCH,
            "/v1/users/me",
            Some(&renewed.unwrap().access_token),
            Some(serde_json::json!({"last_name": "Honest"})),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        drop(client);
    }
    assert!(ready_within(app, 1).await, "not ready after the storm");
}

/// Hundreds of write requests reset at staggered moments (during hashing, inside the
/// transaction, around `BEGIN` and `COMMIT`), then requests given up by their callers'
/// timeouts: afterwards every honest write succeeds, with no 503, on both backends.
async fn aborted_requests_never_stop_the_node_from_writing(backend: Backend) {
    let Some(app) = TestServer::spawn_with(backend, |c| {
        // Counters would turn most of the storm into 429s before it reaches a transaction.
        c.rate_limits = "off".to_owned();
        // Cheap hashing, so that the work the storm left behind (finished on its own
        // tasks) is done within the pause below.
        c.argon2_memory_kib = 8192;
        c.argon2_iterations = 1;
    })
    .await
    else {
        return;
    };
    let (pair, _) = app.signed_in("owner@example.com").await;
    let addr: std::net::SocketAddr = app.url().trim_start_matches("http://").parse().unwrap();

    // Thirty-two clients for eight seconds, each sending a whole write request and resetting
    // the connection 0 to 40 ms later: with the hashing queue in front, the moment of the
    // reset falls anywhere in the handler, `BEGIN` and `COMMIT` included.
    let until = std::time::Instant::now() + Duration::from_secs(8);
    let storm: Vec<_> = (0..32)
        .map(|client| {
            let (token, refresh) = (pair.access_token.clone(), pair.refresh_token.clone());
            tokio::spawn(async move {
                let mut i = client;
                while std::time::Instant::now() < until {
                    let delay = Duration::from_micros(((i * 7919) % 400) as u64 * 100);
                    send_and_reset(addr, storm_request(i, &token, &refresh), delay).await;
                    i += 32;
                }
            })
        })
        .collect();
    for t in storm {
        t.await.unwrap();
    }
    // Callers that give up: client-side timeouts from 1 to 40 ms on registrations.
    let impatient: Vec<_> = (0..150)
        .map(|i| {
            let url = format!("{}/v1/auth/register", app.url());
            tokio::spawn(async move {
                let _ = reqwest::Client::new()
                    .post(url)
                    .timeout(Duration::from_millis(1 + (i % 40) as u64))
                    .json(&serde_json::json!({"email": format!("late{i}@example.com"), "password": USER_PASSWORD}))
                    .send()
                    .await;
            })
        })
        .collect();
    for t in impatient {
        t.await.unwrap();
    }
    // Work abandoned by its clients still finishes on its own tasks; give it a moment to.
    tokio::time::sleep(Duration::from_secs(2)).await;
    honest_writes_succeed(&app, 0).await;
}

mod abort_storm {
    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        aborted_requests_never_stop_the_node_from_writing(Backend::Sqlite).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        aborted_requests_never_stop_the_node_from_writing(Backend::Postgres).await;
    }
}

/// Whether `/readyz` answers 200 within `tries` tenths of a second.
async fn ready_within(app: &TestServer, tries: u32) -> bool {
    for _ in 0..tries {
        let r = app.client().request(Method::GET, "/readyz").send().await;
        if r.is_ok_and(|r| r.status() == 200) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// A small filesystem of its own (tmpfs), or `None` where this process may not mount one
/// (not root): the full-disk test then says it is skipped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u32) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={mib}m"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("SKIPPED: full-disk test (mounting a tmpfs needs root)");
            return None;
        }
        Some(Self { dir })
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Writes a filler file until the filesystem is full.
    fn fill(&self) -> std::path::PathBuf {
        use std::io::Write as _;
        let path = self.dir.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let block = vec![0u8; 64 * 1024];
        while f.write_all(&block).is_ok() {}
        let _ = f.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// While the data folder's disk is full, writes answer 503 `overloaded` with `Retry-After`
/// (nothing half written) and `/readyz` says not ready; once space is freed, registration
/// and sign-in work again, and `/readyz` is ready, without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_fails_writes_cleanly_and_recovers_when_freed() {
    let Some(disk) = SmallDisk::mount(24) else {
        return;
    };
    let data = disk.path().join("data");
    let app = TestServer::spawn_with(Backend::Sqlite, |c| c.data_dir = data)
        .await
        .unwrap();
    app.user("before@example.com").await;
    let filler = disk.fill();

    let mut refused = 0;
    for i in 0..20 {
        let res = app
            .client()
            .request(Method::POST, "/v1/auth/register")
            .json(&serde_json::json!({"email": format!("full{i}@example.com"), "password": USER_PASSWORD}))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        if status == 503 {
            assert!(res.headers().get("retry-after").is_some());
            let body: serde_json::Value = res.json().await.unwrap();
            assert_eq!(body["code"], "overloaded", "{body}");
            refused += 1;
            // Nothing half written: the refused account does not exist.
            let login = app
                .try_login(&format!("full{i}@example.com"), USER_PASSWORD)
                .await;
            assert!(login.is_err());
        } else {
            assert_eq!(status, 201, "{}", res.text().await.unwrap());
        }
    }
    assert!(refused > 0, "a full disk refused no registration");
    let ready = app
        .client()
        .request(Method::GET, "/readyz")
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503, "ready with a full disk");

    std::fs::remove_file(filler).unwrap();
    assert!(
        ready_within(&app, 50).await,
        "not ready again after space was freed"
    );
    app.user("after@example.com").await;
    app.login("after@example.com", USER_PASSWORD).await;
    app.login("before@example.com", USER_PASSWORD).await;
}

/// A request head trickled a byte at a time (slowloris) is cut at the header deadline, and
/// so is a connection that sends nothing; a body trickled the same way is answered 408
/// `request_timeout` at the body deadline. Honest requests meanwhile are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_sent_requests_are_cut_at_their_deadlines() {
    use tokio::io::AsyncReadExt as _;
    let app = TestServer::spawn_with(Backend::Sqlite, |c| {
        c.header_read_timeout_secs = 1;
        c.body_read_timeout_secs = 1;
    })
    .await
    .unwrap();
    let addr: std::net::SocketAddr = app.url().trim_start_matches("http://").parse().unwrap();

    // Headers, one byte every 200 ms: never a whole head.
    let head = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        for b in b"POST /v1/auth/login HTTP/1.1\r\nhost: a\r\nx-slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if s.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        started.elapsed()
    });
    // A connection that sends nothing at all.
    let idle = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        let started = std::time::Instant::now();
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut rest)).await;
        (read.is_ok(), started.elapsed())
    });
    // A whole head, then a body a byte every 200 ms.
    let body = tokio::spawn(async move {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(b"POST /v1/auth/login HTTP/1.1\r\nhost: a\r\ncontent-type: application/json\r\ncontent-length: 60\r\n\r\n{")
            .await
            .unwrap();
        let writer = async {
            for _ in 0..40 {
                if s.write_all(b" ").await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_millis(2500), writer).await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut answer)).await;
        String::from_utf8_lossy(&answer).into_owned()
    });
    let ok = app
        .client()
        .request(Method::GET, "/healthz")
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);

    let took = head.await.unwrap();
    assert!(
        took < Duration::from_secs(4),
        "a trickled head held on for {took:?}"
    );
    let (closed, took) = idle.await.unwrap();
    assert!(
        closed && took < Duration::from_secs(3),
        "an idle connection held on for {took:?}"
    );
    let answer = body.await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"request_timeout\""), "{answer}");
}

/// Runs one SQL statement as the PostgreSQL superuser of `base` (a `postgres://` URL).
fn psql(base: &str, sql: &str) {
    let ok = std::process::Command::new("psql")
        .arg(base)
        .args(["-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "psql: {sql}");
}

/// A PostgreSQL database that goes away (connections refused, the node's killed): writes
/// fail cleanly and `/readyz` says not ready; when it comes back, the node is ready and
/// writes again by itself, with no restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_a_postgresql_database_that_goes_away_and_comes_back() {
    let Some(base) = portcullis_testkit::postgres_url() else {
        return;
    };
    let name = format!("pc_down_{}", uuid::Uuid::new_v4().simple());
    psql(&base, &format!("CREATE DATABASE {name}"));
    let url = match base.rsplit_once('/') {
        Some((server, _)) => format!("{server}/{name}"),
        None => unreachable!("a postgres URL has a path"),
    };
    let app = TestServer::spawn_with(Backend::Postgres, |c| c.database_url = Some(url))
        .await
        .unwrap();
    app.user("before@example.com").await;
    let ready = |app: &TestServer| {
        let c = app.client();
        async move {
            c.request(Method::GET, "/readyz")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(ready(&app).await, 200);

    psql(
        &base,
        &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS false"),
    );
    psql(
        &base,
        &format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'"),
    );
    assert_eq!(ready(&app).await, 503, "ready with its database gone");
    let res = app
        .client()
        .request(Method::POST, "/v1/auth/register")
        .json(&serde_json::json!({"email": "during@example.com", "password": USER_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());

    psql(
        &base,
        &format!("ALTER DATABASE {name} ALLOW_CONNECTIONS true"),
    );
    assert!(
        ready_within(&app, 100).await,
        "not ready again after the database came back"
    );
    app.user("after@example.com").await;
    app.login("before@example.com", USER_PASSWORD).await;
    drop(app);
    psql(&base, &format!("DROP DATABASE {name} WITH (FORCE)"));
}

/// Every log line of this test process, from the moment [`captured_log`] is first called
/// (servers in tests run in the process, so their request log lands here).
fn captured_log() -> std::sync::Arc<std::sync::Mutex<Vec<u8>>> {
    static LOG: std::sync::OnceLock<std::sync::Arc<std::sync::Mutex<Vec<u8>>>> =
        std::sync::OnceLock::new();
    LOG.get_or_init(|| {
        let buffer = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = std::sync::Arc::clone(&buffer);
        let make = move || Captured(std::sync::Arc::clone(&sink));
        let _ = tracing_subscriber::fmt()
            .with_writer(make)
            .with_ansi(false)
            .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
            .try_init();
        buffer
    })
    .clone()
}

struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The request log lines of `request_id`, and asserts the one policy over them: exactly one
/// `request failed` line, at ERROR, naming the cause (the full disk); and no line carries
/// the raw path `raw` where a template was matched.
fn logged_once_with_cause(
    log: &std::sync::Mutex<Vec<u8>>,
    request_id: &str,
    raw: &str,
) -> Vec<String> {
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    let lines: Vec<String> = text
        .lines()
        .filter(|l| l.contains(request_id))
        .map(str::to_owned)
        .collect();
    let failures: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("request failed"))
        .collect();
    assert_eq!(failures.len(), 1, "{lines:#?}");
    assert!(failures[0].contains("ERROR"), "{}", failures[0]);
    assert!(failures[0].contains("full"), "the cause: {}", failures[0]);
    assert!(
        lines.iter().all(|l| !l.contains(raw)),
        "route templates, not paths: {lines:#?}"
    );
    lines
}

/// A store failure under a dialect route (the disk filled under MeshyDB's `PUT users/me`)
/// and under a hosted page (the sign-up form): the dialect answers in its own envelope and
/// the page with its form and words, both with `/v1`'s status (503 and `Retry-After`, not
/// a bare 500 or a 400), and each cause is logged once, with the request id and the route
/// template.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_failure_under_a_dialect_or_a_page_is_logged_once_with_its_cause() {
    let log = captured_log();
    let Some(disk) = SmallDisk::mount(24) else {
        return;
    };
    let data = disk.path().join("data");
    let app = TestServer::spawn_with(Backend::Sqlite, |c| c.data_dir = data)
        .await
        .unwrap();
    let token = app.admin().await;
    let pair = app
        .login(
            portcullis_testkit::ADMIN_EMAIL,
            portcullis_testkit::ADMIN_PASSWORD,
        )
        .await;
    drop(token);
    let _filler = disk.fill();
    let res = reqwest::Client::new()
        .put(format!("{}/meshydb/default/users/me", app.url()))
        .bearer_auth(&pair.access_token)
        .json(&serde_json::json!({"firstName": "Full"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: serde_json::Value = res.json().await.unwrap();
    assert!(body["message"].is_string(), "MeshyDB's envelope: {body}");
    let lines = logged_once_with_cause(&log, &request_id, "/meshydb/default/");
    assert!(
        lines.iter().any(|l| l.contains("{account}")),
        "the route template: {lines:#?}"
    );

    // The sign-up page, as a browser without JavaScript posts it.
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http
        .get(format!("{}/ui/signup", app.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect();
    let body = page.text().await.unwrap();
    let at = body.find("name=\"csrf\" value=\"").expect("a form") + 19;
    let csrf = body[at..].split('"').next().unwrap().to_owned();
    let res = http
        .post(format!("{}/ui/signup", app.url()))
        .header("cookie", cookies.join("; "))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(
            serde_urlencoded::to_string([
                ("csrf", csrf.as_str()),
                ("email", "page@example.com"),
                ("password", USER_PASSWORD),
            ])
            .unwrap(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 503);
    assert!(res.headers().get("retry-after").is_some());
    let request_id = res.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body = res.text().await.unwrap();
    assert!(
        body.contains("Something went wrong") || body.contains("busy"),
        "{body}"
    );
    assert!(
        body.contains("page@example.com"),
        "the form keeps its input: {body}"
    );
    logged_once_with_cause(&log, &request_id, "page@example.com");
}
