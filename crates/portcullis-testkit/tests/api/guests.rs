//! Guest accounts: made without credentials, upgraded in place, deleted when idle.

use portcullis_testkit::api::{ProblemCode, RegisterRequest, UpdateOrgRequest, UpdateUserRequest};
use portcullis_testkit::client::{AuditQuery, Client};
use portcullis_testkit::{both_backends, Backend, TestServer, USER_PASSWORD};

use crate::{code, fields};

async fn allow_guests(app: &TestServer) -> Client {
    let admin = app.admin().await;
    let policy = UpdateOrgRequest {
        policy: Some(serde_json::json!({"allow_anonymous": true})),
        ..Default::default()
    };
    admin.update_org("default", &policy).await.unwrap();
    admin
}

async fn guests_are_refused_unless_the_organization_allows_them(app: TestServer) {
    assert_eq!(
        code(app.client().register_anonymous(None).await),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(app.client().register_anonymous(Some("nowhere")).await),
        ProblemCode::ValidationFailed
    );
    allow_guests(&app).await;
    app.client().register_anonymous(None).await.unwrap();
}

async fn a_guest_signs_in_at_once_and_upgrades_in_place(app: TestServer) {
    allow_guests(&app).await;
    let pair = app.client().register_anonymous(None).await.unwrap();
    let guest = app.client().with_token(&pair.access_token);
    let user = guest.me().await.unwrap();
    assert!(user.anonymous && user.email.is_none() && user.phone.is_none());
    assert!(user
        .username
        .as_deref()
        .is_some_and(|u| u.starts_with("guest-")));
    guest
        .update_me(&UpdateUserRequest {
            attributes: Some(serde_json::json!({"cart": [1, 2]})),
            ..Default::default()
        })
        .await
        .unwrap();
    let email = UpdateUserRequest {
        email: Some(Some("ann@example.com".into())),
        ..Default::default()
    };
    assert_eq!(fields(guest.update_me(&email).await), ["email"]);
    assert_eq!(
        code(guest.change_password("", "a brand new passphrase").await),
        ProblemCode::Forbidden
    );
    let refreshed = app.client().refresh(&pair.refresh_token).await.unwrap();
    assert!(refreshed.user.anonymous);

    let weak = RegisterRequest {
        email: Some("ann@example.com".into()),
        password: Some("password".into()),
        ..Default::default()
    };
    assert_eq!(
        code(guest.upgrade_me(&weak).await),
        ProblemCode::WeakPassword
    );
    app.user("taken@example.com").await;
    let taken = RegisterRequest {
        email: Some("taken@example.com".into()),
        password: Some(USER_PASSWORD.into()),
        ..Default::default()
    };
    assert_eq!(code(guest.upgrade_me(&taken).await), ProblemCode::Duplicate);
    let up = RegisterRequest {
        email: Some("ann@example.com".into()),
        password: Some(USER_PASSWORD.into()),
        first_name: Some("Ann".into()),
        ..Default::default()
    };
    let upgraded = guest.upgrade_me(&up).await.unwrap();
    assert_eq!(upgraded.id, user.id, "the same account");
    assert!(!upgraded.anonymous && !upgraded.email_verified);
    assert_eq!(upgraded.email.as_deref(), Some("ann@example.com"));
    assert_eq!(
        upgraded.username, user.username,
        "the generated name stays until changed"
    );
    assert_eq!(
        upgraded.attributes["cart"],
        serde_json::json!([1, 2]),
        "and the data"
    );
    guest.me().await.expect("the session lives on");
    app.nth_mail("ann@example.com", 1).await;
    assert_eq!(
        app.login("ann@example.com", USER_PASSWORD).await.user.id,
        user.id
    );
    assert_eq!(
        fields(guest.upgrade_me(&up).await),
        ["email"],
        "only guests upgrade"
    );
    let admin = app.admin().await;
    let kinds: Vec<String> = admin
        .audit_events(&AuditQuery {
            user_id: Some(user.id),
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"user.registered_anonymous".to_owned())
            && kinds.contains(&"user.upgraded".to_owned())
    );
}

async fn a_guest_upgrades_with_a_phone(app: TestServer) {
    allow_guests(&app).await;
    let pair = app.client().register_anonymous(None).await.unwrap();
    let guest = app.client().with_token(&pair.access_token);
    let user = guest
        .upgrade_me(&RegisterRequest {
            phone: Some("+14155550100".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!user.anonymous);
    assert_eq!(user.phone.as_deref(), Some("+14155550100"));
    app.nth_sms("+14155550100", 1).await;
}

both_backends!(
    guests_are_refused_unless_the_organization_allows_them,
    a_guest_signs_in_at_once_and_upgrades_in_place,
    a_guest_upgrades_with_a_phone,
);

/// Guests idle past the retention time (30 days) are deleted; active ones and full accounts stay.
async fn idle_guests_are_deleted(backend: Backend) {
    let Some(app) = TestServer::spawn_with(backend, |c| c.janitor_interval_secs = 1).await else {
        return;
    };
    allow_guests(&app).await;
    let idle = app.client().register_anonymous(None).await.unwrap().user;
    let regular = app.user("ann@example.com").await;
    app.advance(20 * 86_400);
    let recent = app.client().register_anonymous(None).await.unwrap().user;
    app.advance(11 * 86_400);
    // A fresh sign-in for the admin: its first session is 31 days old by the moved clock.
    let admin = app.admin().await;
    for attempt in 0.. {
        match admin.get_user(idle.id).await {
            Err(e) if e.code() == Some(ProblemCode::NotFound) => break,
            Err(e) => panic!("{e}"),
            Ok(_) => {}
        }
        assert!(attempt < 150, "the idle guest is still there after 15 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(code(admin.get_user(idle.id).await), ProblemCode::NotFound);
    admin
        .get_user(recent.id)
        .await
        .expect("a guest seen 11 days ago stays");
    admin
        .get_user(regular.id)
        .await
        .expect("full accounts are never purged");
    let q = AuditQuery {
        kind: Some("user.expired".into()),
        ..Default::default()
    };
    let expired = admin.audit_events(&q).await.unwrap().items;
    assert_eq!(
        expired.iter().map(|e| e.user_id).collect::<Vec<_>>(),
        [Some(idle.id)]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_idle_guests_are_deleted() {
    idle_guests_are_deleted(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_idle_guests_are_deleted() {
    idle_guests_are_deleted(Backend::Postgres).await;
}
