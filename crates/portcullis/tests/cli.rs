//! The admin CLI, run as its binary against a spawned server: users, organizations,
//! licenses and the audit log, as tables and as JSON.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first unexpected answer"
)]

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Db, Node, ADMIN};

struct Cli {
    url: String,
    token: String,
}

impl Cli {
    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_portcullis"))
            .args(args)
            .env_clear()
            .env("PORTCULLIS_URL", &self.url)
            .env("PORTCULLIS_TOKEN", &self.token)
            .output()
            .unwrap()
    }

    /// Runs and answers stdout; fails the test when the command fails.
    fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = args.to_vec();
        all.push("--json");
        serde_json::from_str(&self.ok(&all)).unwrap()
    }
}

async fn cli() -> (Db, Node, Cli) {
    let db = Db::sqlite().await;
    let node = Node::start(&db, &[]);
    let http = reqwest::Client::new();
    let admin = node.login(&http, ADMIN).await;
    let cli = Cli {
        url: node.url.clone(),
        token: admin["access_token"].as_str().unwrap().to_owned(),
    };
    (db, node, cli)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_commands_manage_users() {
    let (_db, _node, cli) = cli().await;
    let made = cli.json(&[
        "users",
        "create",
        "--email",
        "ann@example.com",
        "--password",
        "a long enough passphrase",
        "--first-name",
        "Ann",
        "--role",
        "auditor",
        "--verified",
    ]);
    let id = made["id"].as_str().unwrap().to_owned();
    assert_eq!(made["email_verified"], true);
    let table = cli.ok(&["users", "list"]);
    assert!(table.lines().next().unwrap().starts_with("ID"), "{table}");
    assert!(
        table.contains("ann@example.com") && table.contains("auditor,user"),
        "{table}"
    );
    let found = cli.json(&["users", "list", "--query", "ann"]);
    assert_eq!(found.as_array().unwrap().len(), 1);
    assert_eq!(cli.json(&["users", "get", &id])["first_name"], "Ann");

    let updated = cli.json(&[
        "users",
        "update",
        &id,
        "--last-name",
        "Lee",
        "--active",
        "false",
    ]);
    assert_eq!(
        (updated["last_name"].as_str(), updated["active"].as_bool()),
        (Some("Lee"), Some(false))
    );
    let roles = cli.json(&["users", "roles", &id, "org_admin"]);
    let names: Vec<&str> = roles["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["org_admin", "user"]);
    assert!(cli
        .ok(&["users", "revoke-sessions", &id])
        .contains("sessions revoked"));
    assert!(cli
        .ok(&["users", "reset-mfa", &id])
        .contains("second factors off"));
    assert!(cli.ok(&["users", "delete", &id]).contains("deleted"));

    // A failure says what the server said, with its code, and exits non-zero.
    let gone = cli.run(&["users", "get", &id]);
    assert!(!gone.status.success());
    assert!(String::from_utf8_lossy(&gone.stderr).contains("not_found"));
    let refused = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["users", "list"])
        .env_clear()
        .env("PORTCULLIS_URL", &cli.url)
        .output()
        .unwrap();
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("PORTCULLIS_TOKEN"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orgs_and_licenses_commands() {
    let (_db, _node, cli) = cli().await;
    cli.ok(&[
        "orgs",
        "create",
        "acme",
        "Acme",
        "--policy",
        r#"{"allow_anonymous": true}"#,
    ]);
    let org = cli.json(&["orgs", "get", "acme"]);
    assert_eq!(org["policy"]["allow_anonymous"], true);
    let shown = cli.ok(&["orgs", "get", "acme"]);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("policy.allow_anonymous ") && l.ends_with(" true")),
        "{shown}"
    );
    cli.ok(&[
        "orgs",
        "update",
        "acme",
        "--name",
        "Acme Inc",
        "--policy",
        r#"{"mfa_required": true}"#,
    ]);
    let listed = cli.json(&["orgs", "list"]);
    let acme = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["slug"] == "acme")
        .unwrap();
    assert_eq!(acme["name"], "Acme Inc");
    assert_eq!(acme["policy"]["mfa_required"], true);
    let bad = cli.run(&["orgs", "update", "acme", "--policy", "not json"]);
    assert!(!bad.status.success());

    let license = cli.json(&["licenses", "create", "acme", "--max-devices", "2"]);
    assert!(license["license_key"].as_str().unwrap().starts_with("pcl_"));
    let table = cli.ok(&["licenses", "list", "acme"]);
    assert!(table.contains(license["id"].as_str().unwrap()), "{table}");
    cli.ok(&[
        "licenses",
        "delete",
        "acme",
        license["id"].as_str().unwrap(),
    ]);
    assert!(cli
        .json(&["licenses", "list", "acme"])
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_tail_prints_then_follows_new_events_and_app_tokens_work() {
    let (_db, node, cli) = cli().await;
    cli.ok(&[
        "users",
        "create",
        "--email",
        "first@example.com",
        "--password",
        "a long enough passphrase",
    ]);
    let recent = cli.ok(&[
        "audit",
        "tail",
        "--no-follow",
        "--type",
        "admin.user_created",
        "--json",
    ]);
    assert_eq!(recent.lines().count(), 1, "{recent}");

    let mut follow = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args([
            "audit",
            "tail",
            "--type",
            "admin.user_created",
            "--interval",
            "0.2",
            "--last",
            "1",
        ])
        .env_clear()
        .env("PORTCULLIS_URL", &cli.url)
        .env("PORTCULLIS_TOKEN", &cli.token)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(first.contains("admin.user_created"), "{first}");
    cli.ok(&[
        "users",
        "create",
        "--email",
        "second@example.com",
        "--password",
        "a long enough passphrase",
    ]);
    let next = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(next.contains("admin.user_created"), "{next}");
    assert_ne!(first, next);
    follow.kill().unwrap();
    let _ = follow.wait();

    // An admin's application token works in place of an access token.
    let http = reqwest::Client::new();
    let made: serde_json::Value = http
        .post(format!("{}/v1/users/me/app-tokens", node.url))
        .bearer_auth(&cli.token)
        .json(&serde_json::json!({"description": "cli"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let scripted = Cli {
        url: cli.url.clone(),
        token: made["token"].as_str().unwrap().to_owned(),
    };
    assert!(scripted
        .ok(&["users", "list"])
        .contains("second@example.com"));
}
