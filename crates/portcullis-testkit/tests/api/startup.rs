//! Start-up: what survives a restart, the master key, the bootstrap admin, hash upgrades.

use portcullis_testkit::api::ProblemCode;
use portcullis_testkit::{both_backends, Backend, TestServer, ADMIN_EMAIL, USER_PASSWORD};

use crate::code;

async fn users_keys_and_sessions_survive_a_restart(app: TestServer) {
    let (pair, _) = app.signed_in("ann@example.com").await;
    let jwks = app.client().jwks().await.unwrap();
    let app = app.restart().await;
    assert_eq!(
        app.client().jwks().await.unwrap(),
        jwks,
        "the same signing keys"
    );
    let me = app.client().with_token(&pair.access_token);
    assert_eq!(
        me.me().await.unwrap().id,
        pair.user.id,
        "tokens from before the restart still work"
    );
    app.client().refresh(&pair.refresh_token).await.unwrap();
    let admin = app.admin().await;
    let admins = admin
        .list_users(&portcullis_testkit::client::UserQuery {
            query: Some(ADMIN_EMAIL.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(admins.items.len(), 1, "the bootstrap admin is made once");
}

/// The store's look-up key for an email (a test helper over the core type).
fn portcullis_core_key(email: &str) -> portcullis_core::store::LookupKey {
    portcullis_core::store::LookupKey::Email(email.to_owned())
}

both_backends!(users_keys_and_sessions_survive_a_restart);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_master_key_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = portcullis::Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("data"),
        ..Default::default()
    };
    drop(
        portcullis::App::build(config.clone())
            .await
            .expect("first start makes a key"),
    );
    assert!(config.data_dir.join("master.key").exists());
    config.master_key = Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=".into());
    let err = portcullis::App::build(config.clone()).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("master key does not match"),
        "{err:#}"
    );
    config.master_key = Some("not base64".into());
    let err = portcullis::App::build(config.clone()).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("PORTCULLIS_MASTER_KEY"),
        "{err:#}"
    );
    config.master_key = None;
    drop(
        portcullis::App::build(config)
            .await
            .expect("the key file still opens the database"),
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_a_master_key_refuses_to_start() {
    let config = portcullis::Config {
        listen: "127.0.0.1:0".into(),
        database_url: Some("postgres://postgres@127.0.0.1:5432/test".into()),
        ..Default::default()
    };
    let err = portcullis::App::build(config).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("PORTCULLIS_MASTER_KEY is required with PostgreSQL"),
        "{err:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_bootstrap_password_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let config = portcullis::Config {
        listen: "127.0.0.1:0".into(),
        data_dir: dir.path().join("data"),
        bootstrap_admin_email: Some("root@example.com".into()),
        bootstrap_admin_password: Some("password".into()),
        ..Default::default()
    };
    let err = portcullis::App::build(config).await.unwrap_err();
    assert!(
        format!("{err:#}").contains("bootstrap admin refused"),
        "{err:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_hashes_upgrade_when_the_parameters_change() {
    let app = TestServer::spawn(Backend::Sqlite).await.unwrap();
    app.user("ann@example.com").await;
    let before = stored_hash(&app.config().database_url(), "ann@example.com").await;
    assert!(
        before.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{before}"
    );
    let app = app
        .restart_with(|c| {
            c.argon2_memory_kib = 8192;
            c.argon2_iterations = 3;
        })
        .await;
    app.login("ann@example.com", USER_PASSWORD).await;
    let after = stored_hash(&app.config().database_url(), "ann@example.com").await;
    assert!(
        after.starts_with("$argon2id$v=19$m=8192,t=3,p=1$"),
        "{after}"
    );
    app.login("ann@example.com", USER_PASSWORD).await;
    let wrong = app.try_login("ann@example.com", "nope nope").await;
    assert_eq!(code(wrong), ProblemCode::InvalidCredentials);
}

async fn stored_hash(url: &str, email: &str) -> String {
    let db = portcullis_store::Database::connect(url, &Default::default())
        .await
        .unwrap();
    let store = db.store();
    let org = store.org_by_slug("default").await.unwrap().unwrap();
    let creds = store
        .credentials(org.id, &portcullis_core_key(email))
        .await
        .unwrap()
        .unwrap();
    db.close().await;
    creds.password_hash.unwrap()
}
