//! One suite, two backends: every behaviour of the Store trait is checked on a SQLite file
//! and on a fresh PostgreSQL schema (`PORTCULLIS_TEST_POSTGRES_URL`; skipped, loudly, when unset).

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first unexpected answer"
)]

mod accounts;
mod codes;
mod faults;
mod limits;
mod oidc;
mod orgs;
mod second_factors;
mod upstream;

use std::io::Write as _;

use chrono::{DateTime, Duration, TimeZone, Utc};
use portcullis_core::identity::Attributes;
use portcullis_core::model::{OrgPolicy, Organization, Session};
use portcullis_core::store::{Liveness, NewUser, Profile, Store};
use portcullis_core::{OrgId, SessionId, UserId};
use portcullis_store::pgbouncer::{self, PgBouncer};
use portcullis_store::{pg_schema, Database, PoolMode, PoolSettings};

use accounts::{bulk_users, guests, story, user_numbers};
use codes::{codes_and_outbox, new_account_with_code, outbox_race};
use faults::{audit_burst, cancellation, race};
use limits::lockouts;
use oidc::provider;
use orgs::{licenses_and_devices, organizations};
use second_factors::second_factors;
use upstream::upstream;

pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).unwrap()
}

pub(crate) fn live(now: DateTime<Utc>) -> Liveness {
    Liveness {
        now,
        idle_cutoff: now - Duration::days(14),
    }
}

pub(crate) fn profile(email: &str) -> Profile {
    Profile {
        email: Some(email.to_owned()),
        email_verified: false,
        phone: None,
        phone_verified: false,
        username: None,
        first_name: Some("Ann".into()),
        last_name: None,
        attributes: Attributes::default(),
    }
}

pub(crate) fn new_user(org: &Organization, email: &str) -> NewUser {
    NewUser {
        id: UserId::new(),
        org_id: org.id,
        profile: profile(email),
        password_hash: Some("$argon2id$hash".into()),
        anonymous: false,
        active: true,
        roles: vec!["user".into()],
        created_at: t0(),
    }
}

pub(crate) fn session(user: UserId, now: DateTime<Utc>) -> Session {
    Session {
        id: SessionId::new(),
        user_id: user,
        created_at: now,
        last_seen_at: now,
        expires_at: now + Duration::days(30),
        ip: Some("127.0.0.1".into()),
        user_agent: None,
        amr: vec!["pwd".into()],
        app_token_id: None,
        device_id: None,
        grant: None,
    }
}

pub(crate) async fn default_org(store: &dyn Store) -> Organization {
    store
        .ensure_org(&Organization {
            id: OrgId::new(),
            slug: "default".into(),
            name: "Default".into(),
            policy: OrgPolicy::default(),
            created_at: t0(),
            updated_at: t0(),
        })
        .await
        .unwrap()
}

async fn sqlite() -> (tempfile::TempDir, Database) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/test.db", dir.path().display());
    let db = Database::connect(&url, &PoolSettings::default())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.expect("migrating twice is harmless");
    (dir, db)
}

async fn postgres() -> Option<(String, String, Database)> {
    let Ok(base) = std::env::var("PORTCULLIS_TEST_POSTGRES_URL") else {
        // Written straight to stderr, past the test harness's capture, so the skip is seen.
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED: PostgreSQL store test (set PORTCULLIS_TEST_POSTGRES_URL to run it)"
        );
        return None;
    };
    let schema = format!("pt_store_{}", uuid::Uuid::new_v4().simple());
    let url = pg_schema::create(&base, &schema).await.unwrap();
    let db = Database::connect(&url, &PoolSettings::default())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    db.migrate().await.unwrap();
    Some((base, schema, db))
}

/// A fresh database behind a real PgBouncer in transaction mode, lending three server
/// connections to the store's sixteen: every store operation then shares server connections
/// with others between its transactions, as many nodes do behind one pooler.
struct Bounced {
    bouncer: PgBouncer,
    base: String,
    name: String,
    db: Database,
}

impl Bounced {
    async fn start() -> Option<Self> {
        let base = std::env::var("PORTCULLIS_TEST_POSTGRES_URL").ok()?;
        let Some(bouncer) = PgBouncer::start(&base, 3).unwrap() else {
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED: PgBouncer store test (install Debian's pgbouncer to run it)"
            );
            return None;
        };
        let name = format!("pt_pgb_{}", uuid::Uuid::new_v4().simple());
        pgbouncer::create_database(&base, &name).await.unwrap();
        let settings = PoolSettings {
            mode: PoolMode::Transaction,
            ..PoolSettings::default()
        };
        let db = Database::connect(&bouncer.url(&name), &settings)
            .await
            .unwrap();
        db.migrate().await.unwrap();
        db.migrate().await.expect("migrating twice is harmless");
        assert!(!db.has_change_feed());
        Some(Self {
            bouncer,
            base,
            name,
            db,
        })
    }

    /// Nothing the store did was refused on the way (a statement gone astray is an error
    /// PgBouncer passes on and logs); then the database goes.
    async fn finish(self) {
        self.db.close().await;
        let errors: Vec<String> = self
            .bouncer
            .log()
            .into_iter()
            .filter(|l| l.contains("ERROR") || l.contains("WARNING"))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
        drop(self.bouncer);
        pgbouncer::drop_database(&self.base, &self.name)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_store_story() {
    let Some(b) = Bounced::start().await else {
        return;
    };
    story(b.db.store()).await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_refresh_race_has_one_winner() {
    let Some(b) = Bounced::start().await else {
        return;
    };
    race(b.db.store()).await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_codes_and_outbox() {
    let Some(b) = Bounced::start().await else {
        return;
    };
    let store = b.db.store();
    bulk_users(store.clone()).await;
    codes_and_outbox(store.clone()).await;
    outbox_race(store.clone()).await;
    new_account_with_code(store.clone()).await;
    organizations(store.clone()).await;
    guests(store.clone()).await;
    licenses_and_devices(store.clone()).await;
    second_factors(store.clone()).await;
    lockouts(store.clone()).await;
    user_numbers(store.clone()).await;
    provider(store.clone()).await;
    upstream(store.clone()).await;
    audit_burst(store).await;
    b.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_cancelled_writes_leave_no_open_transaction() {
    let Some(b) = Bounced::start().await else {
        return;
    };
    cancellation(&b.db).await;
    b.finish().await;
}

/// Two stores migrating one fresh database through the pooler at once: one applies the
/// migrations, the other waits for it (a transaction-scoped lock; a session lock would be
/// left held on a pooled server connection) and finds nothing left to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_two_nodes_migrating_at_once_both_start() {
    let Ok(base) = std::env::var("PORTCULLIS_TEST_POSTGRES_URL") else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&base, 2).unwrap() else {
        return;
    };
    let name = format!("pt_pgb_{}", uuid::Uuid::new_v4().simple());
    pgbouncer::create_database(&base, &name).await.unwrap();
    let settings = PoolSettings {
        mode: PoolMode::Transaction,
        ..PoolSettings::default()
    };
    let url = bouncer.url(&name);
    let (a, b) = tokio::join!(
        Database::connect(&url, &settings),
        Database::connect(&url, &settings)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let (x, y) = tokio::join!(a.migrate(), b.migrate());
    x.unwrap();
    y.unwrap();
    story(b.store()).await;
    a.close().await;
    b.close().await;
    drop(bouncer);
    pgbouncer::drop_database(&base, &name).await.unwrap();
}

/// A node not told it is behind a transaction pooler is refused at connection, in one line
/// that says what to set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pgbouncer_without_the_pool_mode_is_refused_with_what_to_set() {
    let Ok(base) = std::env::var("PORTCULLIS_TEST_POSTGRES_URL") else {
        return;
    };
    let Some(bouncer) = PgBouncer::start(&base, 2).unwrap() else {
        return;
    };
    let name = format!("pt_pgb_{}", uuid::Uuid::new_v4().simple());
    pgbouncer::create_database(&base, &name).await.unwrap();
    let refused = Database::connect(&bouncer.url(&name), &PoolSettings::default())
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("PORTCULLIS_DATABASE_POOL_MODE=transaction") && !refused.contains('\n'),
        "{refused}"
    );
    // A URL carrying startup options the pooler cannot pass on, in transaction mode.
    let settings = PoolSettings {
        mode: PoolMode::Transaction,
        ..PoolSettings::default()
    };
    let with_options = format!("{}?options=-c%20search_path%3Dx", bouncer.url(&name));
    let refused = Database::connect(&with_options, &settings)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        refused.contains("`options`") && refused.contains("ignore_startup_parameters"),
        "{refused}"
    );
    drop(bouncer);
    pgbouncer::drop_database(&base, &name).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store_story() {
    let (_dir, db) = sqlite().await;
    story(db.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refresh_race_has_one_winner() {
    let (_dir, db) = sqlite().await;
    race(db.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store_story() {
    let Some((base, schema, db)) = postgres().await else {
        return;
    };
    story(db.store()).await;
    db.close().await;
    pg_schema::drop(&base, &schema).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refresh_race_has_one_winner() {
    let Some((base, schema, db)) = postgres().await else {
        return;
    };
    race(db.store()).await;
    db.close().await;
    pg_schema::drop(&base, &schema).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_codes_and_outbox() {
    let (_dir, db) = sqlite().await;
    bulk_users(db.store()).await;
    codes_and_outbox(db.store()).await;
    outbox_race(db.store()).await;
    new_account_with_code(db.store()).await;
    organizations(db.store()).await;
    guests(db.store()).await;
    licenses_and_devices(db.store()).await;
    second_factors(db.store()).await;
    lockouts(db.store()).await;
    user_numbers(db.store()).await;
    provider(db.store()).await;
    upstream(db.store()).await;
    audit_burst(db.store()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_codes_and_outbox() {
    let Some((base, schema, db)) = postgres().await else {
        return;
    };
    bulk_users(db.store()).await;
    codes_and_outbox(db.store()).await;
    outbox_race(db.store()).await;
    new_account_with_code(db.store()).await;
    organizations(db.store()).await;
    guests(db.store()).await;
    licenses_and_devices(db.store()).await;
    second_factors(db.store()).await;
    lockouts(db.store()).await;
    user_numbers(db.store()).await;
    provider(db.store()).await;
    upstream(db.store()).await;
    audit_burst(db.store()).await;
    db.close().await;
    pg_schema::drop(&base, &schema).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_cancelled_writes_leave_no_open_transaction() {
    let (_dir, db) = sqlite().await;
    cancellation(&db).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_cancelled_writes_leave_no_open_transaction() {
    let Some((base, schema, db)) = postgres().await else {
        return;
    };
    cancellation(&db).await;
    db.close().await;
    pg_schema::drop(&base, &schema).await.unwrap();
}
