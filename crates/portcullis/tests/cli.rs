//! The admin CLI, run as its binary against a spawned server: users, organizations,
//! licenses, OAuth clients and the audit log, as tables and as JSON.

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
async fn oauth_clients_commands() {
    let (_db, _node, cli) = cli().await;
    let made = cli.json(&[
        "oauth-clients",
        "create",
        "default",
        "--name",
        "Acme web",
        "--redirect-uri",
        "https://app.acme.test/callback",
        "--redirect-uri",
        "http://127.0.0.1:3000/callback",
        "--scope",
        "openid",
        "--scope",
        "email",
    ]);
    let id = made["client_id"].as_str().unwrap().to_owned();
    assert!(made["client_secret"].as_str().unwrap().starts_with("pcs_"));
    assert_eq!(made["scopes"], serde_json::json!(["openid", "email"]));
    let table = cli.ok(&["oauth-clients", "list", "default"]);
    assert!(table.contains(&id) && table.contains("Acme web"), "{table}");
    assert!(!table.contains(made["client_secret"].as_str().unwrap()));
    let changed = cli.json(&[
        "oauth-clients",
        "update",
        "default",
        &id,
        "--name",
        "Acme",
        "--first-party",
    ]);
    assert_eq!(
        (changed["name"].as_str(), changed["first_party"].as_bool()),
        (Some("Acme"), Some(true))
    );
    assert_eq!(
        changed["redirect_uris"].as_array().unwrap().len(),
        2,
        "kept"
    );
    let rotated = cli.json(&["oauth-clients", "rotate-secret", "default", &id]);
    assert_ne!(rotated["client_secret"], made["client_secret"]);
    let public = cli.json(&[
        "oauth-clients",
        "create",
        "default",
        "--public",
        "--name",
        "SPA",
        "--redirect-uri",
        "http://localhost:5173/cb",
    ]);
    assert!(public["client_secret"].is_null());
    let refused = cli.run(&[
        "oauth-clients",
        "create",
        "default",
        "--name",
        "x",
        "--redirect-uri",
        "http://app.acme.test/cb",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("redirect_uris"));
    cli.ok(&["oauth-clients", "delete", "default", &id]);
    assert_eq!(
        cli.json(&["oauth-clients", "list", "default"])
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn identity_providers_commands() {
    let (_db, _node, cli) = cli().await;
    let made = cli.json(&[
        "identity-providers",
        "create",
        "default",
        "oidc",
        "--name",
        "Okta",
        "--issuer",
        "https://acme.okta.test",
        "--client-id",
        "cid",
        "--client-secret",
        "a-secret-never-shown",
    ]);
    let id = made["id"].as_str().unwrap().to_owned();
    assert!(made["redirect_uri"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/ui/upstream/{id}/callback")));
    let table = cli.ok(&["identity-providers", "list", "default"]);
    assert!(table.contains(&id) && table.contains("Okta"), "{table}");
    assert!(!table.contains("a-secret-never-shown"));
    let changed = cli.json(&[
        "identity-providers",
        "update",
        "default",
        &id,
        "--allow-signup",
        "false",
        "--scope",
        "openid",
        "--scope",
        "email",
    ]);
    assert_eq!(changed["allow_signup"], false);
    assert_eq!(changed["scopes"], serde_json::json!(["openid", "email"]));
    let refused = cli.run(&[
        "identity-providers",
        "create",
        "default",
        "oidc",
        "--client-id",
        "x",
    ]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("client_secret") && why.contains("issuer"),
        "{why}"
    );
    cli.ok(&["identity-providers", "delete", "default", &id]);
    assert!(cli
        .json(&["identity-providers", "list", "default"])
        .as_array()
        .unwrap()
        .is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scim_tokens_commands() {
    let (_db, node, cli) = cli().await;
    let made = cli.json(&["scim-tokens", "create", "default", "--description", "Okta"]);
    let id = made["id"].as_str().unwrap().to_owned();
    let token = made["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("pcscim_"));
    assert_eq!(
        made["scim_base_url"],
        format!("{}/scim/v2/default", node.url)
    );
    let table = cli.ok(&["scim-tokens", "list", "default"]);
    assert!(table.contains(&id) && table.contains("Okta"), "{table}");
    assert!(!table.contains(&token));
    let scim = |token: &str| {
        let url = format!("{}/scim/v2/default/Users", node.url);
        let token = token.to_owned();
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(scim(&token).await, 200);
    cli.ok(&["scim-tokens", "revoke", "default", &id]);
    assert_eq!(scim(&token).await, 401);
    let refused = cli.run(&["scim-tokens", "create", "default", "--description", " "]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("description"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_and_hooks_commands() {
    let (_db, _node, cli) = cli().await;
    let made = cli.json(&[
        "webhooks",
        "create",
        "default",
        "--endpoint",
        "https://hooks.acme.test/in",
        "--event-type",
        "user.registered",
        "--event-type",
        "user.deleted",
    ]);
    let id = made["id"].as_str().unwrap().to_owned();
    let secret = made["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    let table = cli.ok(&["webhooks", "list", "default"]);
    assert!(
        table.contains(&id) && table.contains("user.deleted"),
        "{table}"
    );
    assert!(!table.contains(&secret));
    let changed = cli.json(&[
        "webhooks",
        "update",
        "default",
        &id,
        "--all-events",
        "--enabled",
        "false",
    ]);
    assert_eq!(changed["event_types"], serde_json::json!([]));
    assert_eq!(changed["enabled"], false);
    let rotated = cli.json(&["webhooks", "rotate-secret", "default", &id]);
    assert_ne!(rotated["secret"].as_str(), Some(secret.as_str()));
    let test = cli.json(&["webhooks", "test", "default", &id]);
    assert_eq!(test["event_type"], "webhook.test");
    let event = test["event_id"].as_str().unwrap().to_owned();
    let deliveries = cli.ok(&["webhooks", "deliveries", "default", &id]);
    assert!(
        deliveries.contains(&event) && deliveries.contains("pending"),
        "{deliveries}"
    );
    cli.ok(&["webhooks", "redeliver", "default", &id, &event]);
    let refused = cli.run(&[
        "webhooks",
        "create",
        "default",
        "--url",
        "http://hooks.acme.test/",
    ]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("url"));
    cli.ok(&["webhooks", "delete", "default", &id]);
    assert!(cli
        .json(&["webhooks", "list", "default"])
        .as_array()
        .unwrap()
        .is_empty());

    let hook = cli.json(&[
        "hooks",
        "set",
        "default",
        "custom_access_token_claims",
        "--endpoint",
        "https://hooks.acme.test/claims",
        "--timeout-ms",
        "500",
        "--on-failure",
        "closed",
        "--enabled",
        "false",
    ]);
    assert!(hook["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(
        (hook["timeout_ms"].as_u64(), hook["on_failure"].as_str()),
        (Some(500), Some("closed"))
    );
    let table = cli.ok(&["hooks", "list", "default"]);
    assert!(
        table.contains("custom_access_token_claims") && table.contains("closed"),
        "{table}"
    );
    let rotated = cli.json(&[
        "hooks",
        "rotate-secret",
        "default",
        "custom_access_token_claims",
    ]);
    assert_ne!(rotated["secret"], hook["secret"]);
    cli.ok(&["hooks", "delete", "default", "custom_access_token_claims"]);
    assert!(cli
        .json(&["hooks", "list", "default"])
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

/// A local command (on the database directly) with the node's database settings.
fn local(db: &Db, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(args)
        .env_clear()
        .env("PORTCULLIS_DATABASE_URL", &db.url)
        .env("PORTCULLIS_DATA_DIR", db.dir.path())
        .env("PORTCULLIS_MASTER_KEY", common::MASTER_KEY)
        .env("PORTCULLIS_LOG", "warn")
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const IMPORTED: &[(&str, &str, &str)] = &[
    (
        "bcrypt@example.com",
        "imported passphrase one",
        "$2b$04$xnsWlTRAtMp86.MGI88tBOtXbyJSfsW1RFj/v3EzGYFSDvCACmnG6",
    ),
    (
        "django@example.com",
        "imported passphrase two",
        "pbkdf2_sha256$1000$UQ3kd82hZ0aA$FXQpy9DmKpxDPnZG7ToLxDO+rTy88zZ2J+wUASjL1V0=",
    ),
    (
        "scrypt@example.com",
        "imported passphrase three",
        "$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$YLlJkG+EBkDF4grZyHWKZfsfZeSGSLK+1iyxyBAtOUA",
    ),
];

/// `admin create`, `import` of hashes from other systems (upgraded at first sign-in), and
/// `export` that imports again elsewhere with ids and hashes intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_create_import_and_export() {
    let db = Db::sqlite().await;
    let made = local(
        &db,
        &[
            "admin",
            "create",
            "--email",
            "boss@example.com",
            "--password",
            "a long enough passphrase",
            "--role",
            "system_admin",
        ],
    );
    assert!(made.status.success(), "{}", stderr(&made));
    assert!(String::from_utf8_lossy(&made.stdout).contains("with role system_admin"));
    let again = local(
        &db,
        &[
            "admin",
            "create",
            "--email",
            "boss@example.com",
            "--password",
            "a long enough passphrase",
        ],
    );
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("duplicate") || stderr(&again).contains("exists"),
        "{}",
        stderr(&again)
    );
    let weak = local(
        &db,
        &[
            "admin",
            "create",
            "--email",
            "weak@example.com",
            "--password",
            "password",
        ],
    );
    assert!(
        stderr(&weak).contains("refused: password"),
        "{}",
        stderr(&weak)
    );

    let file = db.dir.path().join("users.jsonl");
    let lines: Vec<String> = IMPORTED
        .iter()
        .map(|(email, _, hash)| {
            serde_json::json!({"email": email, "email_verified": true, "password_hash": hash, "roles": ["auditor"], "attributes": {"plan": "pro"}})
                .to_string()
        })
        .collect();
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let imported = local(&db, &["import", file.to_str().unwrap(), "--batch", "2"]);
    assert!(imported.status.success(), "{}", stderr(&imported));
    assert!(
        stderr(&imported).contains("imported 3 users"),
        "{}",
        stderr(&imported)
    );

    // Bad input names its line and stores nothing of its batch.
    let bad = db.dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"email\": \"fine@example.com\"}\n{\"email\": \"odd@example.com\", \"password_hash\": \"md5$abc\"}\n",
    )
    .unwrap();
    let refused = local(&db, &["import", bad.to_str().unwrap()]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("line 2") && stderr(&refused).contains("password_hash"),
        "{}",
        stderr(&refused)
    );

    let node = Node::start(&db, &[]);
    let http = reqwest::Client::new();
    for (email, password, _) in IMPORTED {
        for _ in 0..2 {
            let res = node
                .post(
                    &http,
                    "/v1/auth/login",
                    serde_json::json!({"identifier": email, "password": password}),
                )
                .await;
            assert_eq!(res.status(), 200, "{email}");
        }
    }
    let fine = node
        .post(
            &http,
            "/v1/auth/login",
            serde_json::json!({"identifier": "fine@example.com", "password": "x"}),
        )
        .await;
    assert_eq!(fine.status(), 401, "the refused batch left nothing");

    let out = db.dir.path().join("export.jsonl");
    let exported = local(&db, &["export", "--out", out.to_str().unwrap()]);
    assert!(exported.status.success(), "{}", stderr(&exported));
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let emails: Vec<&str> = records
        .iter()
        .map(|r| r["email"].as_str().unwrap_or("-"))
        .collect();
    assert_eq!(
        records.len(),
        5,
        "two admins and the three imported: {emails:?}"
    );
    for (email, _, _) in IMPORTED {
        let r = records.iter().find(|r| r["email"] == *email).unwrap();
        assert!(
            r["password_hash"]
                .as_str()
                .unwrap()
                .starts_with("$argon2id$"),
            "upgraded at sign-in: {r}"
        );
        assert_eq!(r["attributes"]["plan"], "pro");
        assert_eq!(r["roles"], serde_json::json!(["auditor", "user"]));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&out).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    // Into a second database: same ids, and the passwords still work.
    let other = Db::sqlite().await;
    let again = local(&other, &["import", out.to_str().unwrap()]);
    assert!(again.status.success(), "{}", stderr(&again));
    let second = Node::start(&other, &[]);
    let res = second
        .post(&http, "/v1/auth/login", serde_json::json!({"identifier": "bcrypt@example.com", "password": "imported passphrase one"}))
        .await;
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    let id = records
        .iter()
        .find(|r| r["email"] == "bcrypt@example.com")
        .unwrap()["id"]
        .clone();
    assert_eq!(body["user"]["id"], id);
}
