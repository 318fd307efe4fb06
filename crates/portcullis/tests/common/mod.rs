//! Helpers for tests that run the real `portcullis` binary: a database that outlives the
//! processes (a SQLite file, or a fresh PostgreSQL schema), and nodes started on free ports.

#![allow(dead_code, reason = "each test binary uses a part")]

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};

pub(crate) const ADMIN: &str = "root@example.com";
pub(crate) const PASSWORD: &str = "a long enough passphrase";
pub(crate) const METRICS_TOKEN: &str = "metrics-token-for-process-tests";
pub(crate) const MASTER_KEY: &str = "cHJvY2Vzcy10ZXN0LW1hc3Rlci1rZXktMzItYnl0ZXM=";

/// A database that outlives the processes using it.
pub(crate) struct Db {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) url: String,
    /// A PostgreSQL schema of its own: the base URL and the schema's name.
    pub(crate) pg: Option<(String, String)>,
    /// Or, behind a PgBouncer, a database of its own: the base URL and its name.
    pub(crate) pg_database: Option<(String, String)>,
    /// Settings every process on it is given (a pooler's mode, a direct URL).
    pub(crate) env: Vec<(String, String)>,
    pub(crate) bouncer: Option<portcullis_store::pgbouncer::PgBouncer>,
}

impl Db {
    pub(crate) async fn sqlite() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/portcullis.db", dir.path().display());
        Self {
            dir,
            url,
            pg: None,
            pg_database: None,
            env: Vec::new(),
            bouncer: None,
        }
    }

    /// A fresh PostgreSQL database behind a real PgBouncer in transaction mode (`servers`
    /// server connections for every node's sixteen), the processes told so; with `direct`,
    /// they are also given PostgreSQL's own URL for the change feed and migrations.
    pub(crate) async fn pgbouncer(servers: u32, direct: bool) -> Option<Self> {
        let base = std::env::var("PORTCULLIS_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty());
        let Some(base) = base else {
            eprintln!("SKIPPED: PgBouncer test (set PORTCULLIS_TEST_POSTGRES_URL to run it)");
            return None;
        };
        let Some(bouncer) = portcullis_store::pgbouncer::PgBouncer::start(&base, servers).unwrap()
        else {
            eprintln!("SKIPPED: PgBouncer test (install Debian's pgbouncer to run it)");
            return None;
        };
        let name = format!("pp_pgb_{}", uuid::Uuid::new_v4().simple());
        portcullis_store::pgbouncer::create_database(&base, &name)
            .await
            .unwrap();
        let mut env = vec![(
            "PORTCULLIS_DATABASE_POOL_MODE".to_owned(),
            "transaction".to_owned(),
        )];
        if direct {
            let server = base.split('?').next().unwrap().rsplit_once('/').unwrap().0;
            env.push((
                "PORTCULLIS_DATABASE_DIRECT_URL".to_owned(),
                format!("{server}/{name}"),
            ));
        }
        Some(Self {
            dir: tempfile::tempdir().unwrap(),
            url: bouncer.url(&name),
            pg: None,
            pg_database: Some((base, name)),
            env,
            bouncer: Some(bouncer),
        })
    }

    pub(crate) async fn postgres() -> Option<Self> {
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
            pg_database: None,
            env: Vec::new(),
            bouncer: None,
        })
    }
}

impl Drop for Db {
    fn drop(&mut self) {
        drop(self.bouncer.take());
        // Best effort, on a runtime of its own: Drop cannot await.
        let pg = self.pg.take();
        let pg_database = self.pg_database.take();
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            if let Some((base, name)) = pg_database {
                let _ = rt.block_on(portcullis_store::pgbouncer::drop_database(&base, &name));
            }
            if let Some((base, schema)) = pg {
                let _ = rt.block_on(portcullis_store::pg_schema::drop(&base, &schema));
            }
            Ok::<_, std::io::Error>(())
        })
        .join();
    }
}

/// One `portcullis serve` process.
pub(crate) struct Node {
    pub(crate) child: Child,
    pub(crate) url: String,
    /// Every line the process has logged so far (JSON).
    pub(crate) log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Node {
    /// Starts the binary on a free port and waits for its "listening" line.
    pub(crate) fn start(db: &Db, env: &[(&str, &str)]) -> Self {
        Self::spawn(Command::new(env!("CARGO_BIN_EXE_portcullis")), db, env)
    }

    /// As [`Node::start`], with the process's open-file limit (soft and hard) set to `n`.
    pub(crate) fn start_with_open_file_limit(db: &Db, env: &[(&str, &str)], n: u32) -> Self {
        let mut cmd = Command::new("prlimit");
        cmd.arg(format!("--nofile={n}:{n}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_portcullis"));
        Self::spawn(cmd, db, env)
    }

    fn spawn(mut cmd: Command, db: &Db, env: &[(&str, &str)]) -> Self {
        cmd.arg("serve")
            .env_clear()
            .env("PORTCULLIS_LISTEN", "127.0.0.1:0")
            .env("PORTCULLIS_DATA_DIR", db.dir.path())
            .env("PORTCULLIS_DATABASE_URL", &db.url)
            .env("PORTCULLIS_MASTER_KEY", MASTER_KEY)
            .env("PORTCULLIS_METRICS_TOKEN", METRICS_TOKEN)
            .env("PORTCULLIS_LOG_FORMAT", "json")
            .env("PORTCULLIS_LOG", "info")
            .env("PORTCULLIS_RATE_LIMITS", "off")
            .env("PORTCULLIS_ARGON2_MEMORY_KIB", "8192")
            .env("PORTCULLIS_ARGON2_ITERATIONS", "1")
            .env("PORTCULLIS_BOOTSTRAP_ADMIN_EMAIL", ADMIN)
            .env("PORTCULLIS_BOOTSTRAP_ADMIN_PASSWORD", PASSWORD)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (k, v) in &db.env {
            cmd.env(k, v);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut early = Vec::new();
        let url = loop {
            let line = lines
                .next()
                .expect("the server exited before listening")
                .unwrap();
            if line.contains("Portcullis listening") {
                let v: serde_json::Value = serde_json::from_str(&line).unwrap();
                break v["address"].as_str().unwrap().to_owned();
            }
            early.push(line);
        };
        // Keep draining the log so that the process never blocks on a full pipe.
        let log = std::sync::Arc::new(std::sync::Mutex::new(early));
        let kept = std::sync::Arc::clone(&log);
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                kept.lock().unwrap().push(line);
            }
        });
        Self { child, url, log }
    }

    /// SIGKILL: no shutdown, no flush.
    pub(crate) fn kill(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// A field of `/proc/<pid>/status`, in KiB.
    pub(crate) fn memory_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }

    pub(crate) async fn post(
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

    pub(crate) async fn login(&self, http: &reqwest::Client, who: &str) -> serde_json::Value {
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

    /// `GET path` as JSON.
    pub(crate) async fn get_json(&self, http: &reqwest::Client, path: &str) -> serde_json::Value {
        http.get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// How many keys the node publishes in its JWKS.
    pub(crate) async fn published_keys(&self, http: &reqwest::Client) -> usize {
        self.get_json(http, "/.well-known/jwks.json").await["keys"]
            .as_array()
            .map_or(0, Vec::len)
    }

    /// A counter from `/metrics` (0 when not yet counted).
    pub(crate) async fn counter(&self, http: &reqwest::Client, series: &str) -> f64 {
        let text = http
            .get(format!("{}/metrics", self.url))
            .bearer_auth(METRICS_TOKEN)
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
