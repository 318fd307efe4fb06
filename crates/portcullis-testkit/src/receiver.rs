//! A receiver of webhooks and hooks that checks every request with the official Standard
//! Webhooks library: `tests/webhooks/receiver.cjs` under Node, with `standardwebhooks` from
//! npm (pinned; installed into `target/standardwebhooks` by `.ci/run`, or on first use).
//! Shared by the HTTP tests and the process tests (which include this file by path).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;

/// The library, pinned.
pub const LIBRARY: &str = "standardwebhooks@1.1.1";

fn manifest_dir() -> PathBuf {
    // This file is compiled by more than one crate: find the testkit from the workspace.
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = here
        .ancestors()
        .find(|d| d.join("crates/portcullis-testkit").is_dir())
        .unwrap_or(here);
    workspace.join("crates/portcullis-testkit")
}

/// `node_modules` holding the library, installed with npm when missing.
pub fn node_modules() -> PathBuf {
    let testkit = manifest_dir();
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| testkit.join("../../target"), PathBuf::from);
    let dir = target.join("standardwebhooks");
    let modules = dir.join("node_modules");
    if !modules.join("standardwebhooks/package.json").exists() {
        std::fs::create_dir_all(&dir).expect("target/standardwebhooks");
        let installed = std::process::Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(LIBRARY)
            .status()
            .expect("npm (with node) is needed for the webhook receiver");
        assert!(installed.success(), "npm could not install {LIBRARY}");
    }
    modules
}

/// A free loopback port (for an endpoint registered before its receiver starts).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A running receiver.
#[derive(Debug)]
pub struct Receiver {
    child: tokio::process::Child,
    lines: mpsc::UnboundedReceiver<serde_json::Value>,
    /// Its port.
    pub port: u16,
}

impl Receiver {
    /// Starts one on `port` (0: any), checking with `secret`, answering as `behaviour` says
    /// (`{"status": 503}`, `{"answer": {...}}`, `{"delay_ms": 3000}`; `{}` answers 204).
    pub async fn start(port: u16, secret: &str, behaviour: serde_json::Value) -> Self {
        let script = manifest_dir().join("tests/webhooks/receiver.cjs");
        let mut child = tokio::process::Command::new("node")
            .arg(script)
            .arg(port.to_string())
            .arg(secret)
            .arg(behaviour.to_string())
            .env("NODE_PATH", node_modules())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("node runs the receiver");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, mut lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line) {
                    if tx.send(v).is_err() {
                        break;
                    }
                }
            }
        });
        let first = tokio::time::timeout(Duration::from_secs(20), lines.recv())
            .await
            .expect("the receiver starts")
            .expect("the receiver says where it listens");
        let port = first["listening"]
            .as_u64()
            .and_then(|p| u16::try_from(p).ok())
            .expect("a port");
        Self { child, lines, port }
    }

    /// Where it listens, with `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// The next request it received, within `wait`; `None` if none came.
    pub async fn next_within(&mut self, wait: Duration) -> Option<serde_json::Value> {
        tokio::time::timeout(wait, self.lines.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next request it received (failing the test after 30 s without one).
    pub async fn next(&mut self) -> serde_json::Value {
        self.next_within(Duration::from_secs(30))
            .await
            .expect("a request within 30 s")
    }

    /// The next verified request (failing the test on one that did not verify).
    pub async fn next_verified(&mut self) -> serde_json::Value {
        let r = self.next().await;
        assert_eq!(r["verified"], true, "the library refused a request: {r}");
        r
    }

    /// Stops it (it refuses connections from now on).
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
