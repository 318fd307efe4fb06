//! Rate limits per client address and per account identifier, counted in the database.

use portcullis_testkit::api::{LoginRequest, ProblemCode};
use portcullis_testkit::client::Error;
use portcullis_testkit::{Backend, TestServer, USER_PASSWORD};

use crate::code;

fn retry_after(e: &Error) -> u64 {
    match e {
        Error::Api {
            retry_after: Some(s),
            ..
        } => *s,
        other => panic!("no Retry-After in {other:?}"),
    }
}

async fn server(backend: Backend, ip: u64, identifier: u64, proxies: &str) -> Option<TestServer> {
    let proxies = proxies.to_owned();
    let app = TestServer::spawn_with(backend, move |c| {
        c.rate_limit_ip_per_minute = ip;
        c.rate_limit_identifier_per_minute = identifier;
        c.trusted_proxies = proxies;
    })
    .await?;
    app.advance_to_next_minute();
    Some(app)
}

async fn per_identifier(backend: Backend) {
    let Some(app) = server(backend, 100, 3, "").await else {
        return;
    };
    // Registration is the first of the address's three requests this minute.
    app.user("ann@example.com").await;
    for _ in 0..2 {
        assert_eq!(
            code(app.try_login("ann@example.com", "wrong password").await),
            ProblemCode::InvalidCredentials
        );
    }
    let limited = app
        .try_login("ann@example.com", USER_PASSWORD)
        .await
        .unwrap_err();
    assert_eq!(limited.code(), Some(ProblemCode::RateLimited));
    assert_eq!(limited.status().map(|s| s.as_u16()), Some(429));
    assert!((1..=60).contains(&retry_after(&limited)));
    app.try_login("bob@example.com", "anything")
        .await
        .expect_err("another identifier has its own budget");
    app.advance(60);
    app.login("ann@example.com", USER_PASSWORD).await;
}

/// One identifier, one budget, however it is typed: spellings of one phone number (spaces,
/// brackets, dashes; the budget below the lockout threshold) count together, also when
/// twenty arrive at once. (Case and surrounding spaces were already one budget.)
async fn per_identifier_whatever_the_spelling(backend: Backend) {
    let Some(app) = server(backend, 100, 4, "").await else {
        return;
    };
    let spellings = [
        "+12025550143",
        "+1 202 555 0143",
        "+1 (202) 555-0143",
        " +1-202-555-0143",
    ];
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..20 {
        let client = app.client();
        let body = LoginRequest {
            identifier: spellings[i % spellings.len()].to_owned(),
            password: "wrong password".to_owned(),
            ..Default::default()
        };
        burst.spawn(async move { client.login(&body).await.err().and_then(|e| e.code()) });
    }
    let answers = burst.join_all().await;
    let count = |c: ProblemCode| answers.iter().filter(|a| **a == Some(c)).count();
    let (checked, limited) = (
        count(ProblemCode::InvalidCredentials),
        count(ProblemCode::RateLimited),
    );
    assert_eq!(
        (checked, limited),
        (4, 16),
        "one budget of four for every spelling"
    );
    for other in ["+12025550144", "+44 20 7946 0958"] {
        assert_eq!(
            code(app.try_login(other, "anything").await),
            ProblemCode::InvalidCredentials,
            "another number has its own budget"
        );
    }
}

async fn per_client(backend: Backend) {
    let Some(app) = server(backend, 4, 100, "").await else {
        return;
    };
    // Registration counts too (one request), then three sign-ins with different identifiers.
    app.user("ann@example.com").await;
    for who in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(
            code(app.try_login(who, "x").await),
            ProblemCode::InvalidCredentials
        );
    }
    assert_eq!(
        code(app.try_login("d@example.com", "x").await),
        ProblemCode::RateLimited
    );
    let code_request = app
        .client()
        .request(reqwest::Method::POST, "/v1/auth/code/request")
        .json(&serde_json::json!({"email": "e@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code_request.status(),
        429,
        "code requests share the client's budget"
    );
    assert!(code_request.headers().get("retry-after").is_some());
    // Counters live in the database: a restart does not reset them.
    let app = app.restart().await;
    assert_eq!(
        code(app.try_login("f@example.com", "x").await),
        ProblemCode::RateLimited
    );
}

async fn forwarded_for(backend: Backend) {
    let login = |ip: &str| {
        let body = LoginRequest {
            identifier: "ann@example.com".into(),
            password: "x".into(),
            organization: None,
            ..Default::default()
        };
        (ip.to_owned(), body)
    };
    // Not a trusted proxy: a made-up X-Forwarded-For does not buy a fresh budget.
    let Some(app) = server(backend, 2, 100, "").await else {
        return;
    };
    let mut statuses = Vec::new();
    for ip in ["1.1.1.1", "2.2.2.2", "3.3.3.3"] {
        let (ip, body) = login(ip);
        let res = app
            .client()
            .request(reqwest::Method::POST, "/v1/auth/login")
            .header("x-forwarded-for", ip)
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 429]);
    drop(app);
    // Behind a trusted proxy, each forwarded address has its own budget and is what the audit log records.
    let Some(app) = server(backend, 2, 100, "127.0.0.1").await else {
        return;
    };
    let mut statuses = Vec::new();
    for ip in ["1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3", "3.3.3.3"] {
        let (ip, body) = login(ip);
        let res = app
            .client()
            .request(reqwest::Method::POST, "/v1/auth/login")
            .header("x-forwarded-for", ip)
            .json(&body)
            .send()
            .await
            .unwrap();
        statuses.push(res.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 429]);
    let admin = app.admin().await;
    let failed = admin
        .audit_events(&portcullis_testkit::client::AuditQuery {
            kind: Some("login.failed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(failed
        .items
        .iter()
        .any(|e| e.ip.as_deref() == Some("2.2.2.2")));
}

async fn switched_off(backend: Backend) {
    let Some(app) = TestServer::spawn_with(backend, |c| {
        c.rate_limits = "off".into();
        c.rate_limit_ip_per_minute = 1;
        c.rate_limit_identifier_per_minute = 1;
    })
    .await
    else {
        return;
    };
    app.user("ann@example.com").await;
    for _ in 0..7 {
        assert_eq!(
            code(app.try_login("ann@example.com", "wrong password").await),
            ProblemCode::InvalidCredentials
        );
    }
    app.login("ann@example.com", USER_PASSWORD).await;
}

macro_rules! on_both {
    ($($name:ident => $body:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    super::$body(portcullis_testkit::Backend::Sqlite).await;
                }
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    super::$body(portcullis_testkit::Backend::Postgres).await;
                }
            }
        )*
    };
}

on_both!(
    sign_ins_are_limited_per_identifier => per_identifier,
    spellings_of_one_identifier_share_its_limit => per_identifier_whatever_the_spelling,
    requests_are_limited_per_client_across_restarts => per_client,
    forwarded_addresses_count_only_from_trusted_proxies => forwarded_for,
    limits_and_lockout_can_be_switched_off => switched_off,
);
