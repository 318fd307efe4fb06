//! A real PgBouncer in transaction mode, for tests that run Portcullis behind one: started
//! from the machine's `pgbouncer` (Debian's package, installed by `.ci/run`) on a free port,
//! in front of a PostgreSQL, with a fresh database per test; stopped when dropped.

use std::io::{BufRead as _, BufReader};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::Executor as _;

use crate::StoreError;

/// A running PgBouncer.
#[derive(Debug)]
pub struct PgBouncer {
    child: Child,
    dir: PathBuf,
    port: u16,
    user: String,
    /// Every line it has logged (its connections, its refusals).
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Where the binary is: `PORTCULLIS_TEST_PGBOUNCER`, or Debian's path.
fn binary() -> Option<PathBuf> {
    std::env::var_os("PORTCULLIS_TEST_PGBOUNCER")
        .map(PathBuf::from)
        .or_else(|| Some(PathBuf::from("/usr/sbin/pgbouncer")))
        .filter(|p| p.is_file())
}

/// Whether this process runs as root (PgBouncer refuses to; it is then told to switch to
/// PostgreSQL's own user, `postgres`).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|ids| ids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

impl PgBouncer {
    /// Starts one in front of the PostgreSQL at `base_url` (its host, port and user), in
    /// `pool_mode = transaction` with `servers` server connections per database: far fewer
    /// than the clients, so that their transactions share server connections all the time.
    /// `None` when PgBouncer is not installed.
    pub fn start(base_url: &str, servers: u32) -> Result<Option<Self>, StoreError> {
        let Some(binary) = binary() else {
            return Ok(None);
        };
        let opts: PgConnectOptions = base_url.parse().map_err(crate::unavailable)?;
        let (host, pg_port, user) = (
            opts.get_host().to_owned(),
            opts.get_port(),
            opts.get_username().to_owned(),
        );
        let dir = std::env::temp_dir().join(format!("pt_pgbouncer_{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).map_err(crate::unavailable)?;
        // Readable by the user it switches to.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755))
            .map_err(crate::unavailable)?;
        std::fs::write(dir.join("users.txt"), format!("\"{user}\" \"\"\n"))
            .map_err(crate::unavailable)?;
        // A free port can be taken between asking and listening: a few tries.
        let mut last = String::new();
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .map_err(crate::unavailable)?
                .port();
            let ini = format!(
                "[databases]\n* = host={host} port={pg_port}\n\n[pgbouncer]\n\
                 listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
                 auth_type = trust\nauth_file = {users}\npool_mode = transaction\n\
                 default_pool_size = {servers}\nmax_client_conn = 2000\n\
                 server_reset_query =\nidle_transaction_timeout = 60\n",
                users = dir.join("users.txt").display(),
            );
            let path = dir.join("pgbouncer.ini");
            std::fs::write(&path, ini).map_err(crate::unavailable)?;
            let mut cmd = Command::new(&binary);
            if is_root() {
                cmd.args(["-u", "postgres"]);
            }
            let mut child = cmd
                .arg(&path)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(crate::unavailable)?;
            let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
            let kept = std::sync::Arc::clone(&log);
            let stderr = child.stderr.take();
            std::thread::spawn(move || {
                if let Some(stderr) = stderr {
                    for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                        if let Ok(mut log) = kept.lock() {
                            log.push(line);
                        }
                    }
                }
            });
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(10) {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    return Ok(Some(Self {
                        child,
                        dir,
                        port,
                        user,
                        log,
                    }));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
            last = log.lock().map(|l| l.join("\n")).unwrap_or_default();
        }
        Err(StoreError::Unavailable(format!(
            "PgBouncer did not start: {last}"
        )))
    }

    /// The URL of database `name` through this PgBouncer.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://{}@127.0.0.1:{}/{name}", self.user, self.port)
    }

    /// What it has logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Creates database `name` on the PostgreSQL at `base_url`.
pub async fn create_database(base_url: &str, name: &str) -> Result<(), StoreError> {
    on_server(base_url, &format!("CREATE DATABASE \"{name}\"")).await
}

/// Drops database `name`, closing the connections still open to it (PgBouncer's).
pub async fn drop_database(base_url: &str, name: &str) -> Result<(), StoreError> {
    on_server(
        base_url,
        &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    )
    .await
}

async fn on_server(base_url: &str, statement: &str) -> Result<(), StoreError> {
    if !statement.split('"').nth(1).is_some_and(|n| {
        n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }) {
        return Err(StoreError::Unavailable(
            "database names are a-z, 0-9 and _".to_owned(),
        ));
    }
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(base_url)
        .await
        .map_err(crate::unavailable)?;
    let done = pool.execute(statement).await.map(|_| ());
    pool.close().await;
    done.map_err(crate::unavailable)
}
