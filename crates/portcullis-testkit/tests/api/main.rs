//! HTTP integration tests: a real server per test, on SQLite and on PostgreSQL, spoken to
//! through `portcullis-client`. A module per area; test names state the behaviour.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first unexpected answer"
)]

mod admin;
mod app_tokens;
mod auth;
mod browser;
mod client;
mod codes;
mod compat_dfx;
mod compat_dhiwise;
mod compat_emnify;
mod compat_meshydb;
mod devices;
mod enumeration;
mod errors;
mod faults;
mod guests;
mod hardening;
mod lockout;
mod me;
mod meta;
mod mfa;
mod oauth_clients;
mod oidc;
mod orgs;
mod passkeys;
mod questions;
mod rate_limits;
mod scim;
mod scim_checker;
mod startup;
mod ui;
mod upstream;
mod webhooks;

use portcullis_testkit::api::ProblemCode;
use portcullis_testkit::client::Error;

/// A JSON call to `path` with an optional bearer token and body: the status and the JSON
/// answer (`null` when empty; a non-JSON answer fails the test).
pub(crate) async fn json_call(
    app: &portcullis_testkit::TestServer,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<serde_json::Value>,
) -> (u16, serde_json::Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{path}", app.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
    };
    (status, body)
}

/// Sets policy fields of an organization, as the system admin.
pub(crate) async fn set_policy(
    app: &portcullis_testkit::TestServer,
    org: &str,
    policy: serde_json::Value,
) {
    app.admin()
        .await
        .update_org(
            org,
            &portcullis_testkit::api::UpdateOrgRequest {
                policy: Some(policy),
                ..Default::default()
            },
        )
        .await
        .unwrap();
}

/// The sorted keys of a JSON object (to compare answers field for field).
pub(crate) fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
    k.sort();
    k
}

/// The problem code of a failed call; panics when the call succeeded or had no problem body.
pub(crate) fn code<T: std::fmt::Debug>(r: Result<T, Error>) -> ProblemCode {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e
            .code()
            .unwrap_or_else(|| panic!("no problem code in {e:?}")),
    }
}

/// Asserts that the audit log (the events about `user`, when given; the newest 200) holds an
/// event of each of `kinds`.
pub(crate) async fn assert_audited(
    admin: &portcullis_testkit::client::Client,
    user: Option<uuid::Uuid>,
    kinds: &[&str],
) {
    let logged: Vec<String> = admin
        .audit_events(&portcullis_testkit::client::AuditQuery {
            user_id: user,
            limit: Some(200),
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for kind in kinds {
        assert!(logged.iter().any(|k| k == kind), "{kind} in {logged:?}");
    }
}

/// The failed fields of a validation problem.
pub(crate) fn fields<T: std::fmt::Debug>(r: Result<T, Error>) -> Vec<String> {
    match r {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e
            .problem()
            .map(|p| p.errors.iter().map(|f| f.field.clone()).collect())
            .unwrap_or_default(),
    }
}
