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
use portcullis_store::{pg_schema, Database, PoolSettings};

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
