//! Lockout after repeated failures: for a while, longer each time, lifted by a reset, and the
//! same for identifiers that have no account.

use portcullis_testkit::api::{
    CodeSubmission, LoginRequest, ProblemCode, ResetPasswordRequest, UpdateOrgRequest,
};
use portcullis_testkit::client::Error;
use portcullis_testkit::{both_backends, code_in, TestServer, USER_PASSWORD};

use crate::code;

const ANN: &str = "ann@example.com";

fn retry_after(e: &Error) -> u64 {
    match e {
        Error::Api {
            retry_after: Some(s),
            ..
        } => *s,
        other => panic!("no Retry-After in {other:?}"),
    }
}

async fn fail(app: &TestServer, who: &str, n: usize) {
    for _ in 0..n {
        assert_eq!(
            code(app.try_login(who, "not the password").await),
            ProblemCode::InvalidCredentials
        );
    }
}

async fn five_failures_lock_the_account_for_a_minute(app: TestServer) {
    app.user(ANN).await;
    fail(&app, ANN, 5).await;
    let locked = app.try_login(ANN, USER_PASSWORD).await.unwrap_err();
    assert_eq!(
        locked.code(),
        Some(ProblemCode::AccountLocked),
        "even the right password waits"
    );
    assert_eq!(locked.status().map(|s| s.as_u16()), Some(403));
    assert!(
        (55..=60).contains(&retry_after(&locked)),
        "{}",
        retry_after(&locked)
    );
    app.advance(61);
    app.login(ANN, USER_PASSWORD).await;
    // A success forgets the failures: four more do not lock.
    fail(&app, ANN, 4).await;
    app.login(ANN, USER_PASSWORD).await;
    let admin = app.admin().await;
    let locks = admin
        .audit_events(&portcullis_testkit::client::AuditQuery {
            kind: Some("account.locked".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(locks.items.len(), 1);
    assert_eq!(locks.items[0].ip.as_deref(), Some("127.0.0.1"));
}

async fn each_lock_within_a_day_is_twice_as_long(app: TestServer) {
    app.user(ANN).await;
    fail(&app, ANN, 5).await;
    app.advance(61);
    fail(&app, ANN, 5).await;
    let second = app.try_login(ANN, USER_PASSWORD).await.unwrap_err();
    assert!(
        (115..=120).contains(&retry_after(&second)),
        "{}",
        retry_after(&second)
    );
    app.advance(121);
    app.login(ANN, USER_PASSWORD).await;
}

async fn identifiers_without_an_account_lock_alike(app: TestServer) {
    app.user(ANN).await;
    fail(&app, "nobody@example.com", 5).await;
    let ghost = app
        .try_login("nobody@example.com", "anything at all")
        .await
        .unwrap_err();
    fail(&app, ANN, 5).await;
    let real = app.try_login(ANN, USER_PASSWORD).await.unwrap_err();
    assert_eq!(
        ghost.problem(),
        real.problem(),
        "a lock does not tell who exists"
    );
}

async fn a_password_reset_lifts_the_lock(app: TestServer) {
    app.user(ANN).await;
    app.nth_mail(ANN, 1).await;
    fail(&app, ANN, 5).await;
    assert_eq!(
        code(app.try_login(ANN, USER_PASSWORD).await),
        ProblemCode::AccountLocked
    );
    let c = app.client();
    c.request(reqwest::Method::POST, "/v1/auth/password/forgot")
        .json(&serde_json::json!({"email": ANN}))
        .send()
        .await
        .unwrap();
    let reset = code_in(&app.nth_mail(ANN, 2).await.text);
    let body = ResetPasswordRequest {
        proof: CodeSubmission {
            email: Some(ANN.into()),
            code: Some(reset),
            ..Default::default()
        },
        new_password: "a brand new passphrase".into(),
        ..Default::default()
    };
    let res = c
        .request(reqwest::Method::POST, "/v1/auth/password/reset")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    app.login(ANN, "a brand new passphrase").await;
}

async fn the_organization_sets_the_rule(app: TestServer) {
    app.user(ANN).await;
    let admin = app.admin().await;
    let policy = serde_json::json!({"lockout_threshold": 3, "lockout_base_secs": 600, "lockout_max_secs": 900});
    admin
        .update_org(
            "default",
            &UpdateOrgRequest {
                policy: Some(policy),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    fail(&app, ANN, 3).await;
    let locked = app.try_login(ANN, USER_PASSWORD).await.unwrap_err();
    assert!((595..=600).contains(&retry_after(&locked)));
    app.advance(601);
    fail(&app, ANN, 3).await;
    assert!(
        retry_after(&app.try_login(ANN, USER_PASSWORD).await.unwrap_err()) <= 900,
        "capped"
    );
    let bad = UpdateOrgRequest {
        policy: Some(serde_json::json!({"lockout_threshold": 1})),
        ..Default::default()
    };
    assert_eq!(
        code(admin.update_org("default", &bad).await),
        ProblemCode::ValidationFailed
    );
}

/// A wrong current password on a password change counts like a failed sign-in: after five,
/// the account is locked, for that session's next try and for sign-in alike.
async fn wrong_current_passwords_count_like_failed_sign_ins(app: TestServer) {
    let (pair, _) = app.signed_in(ANN).await;
    let change = |current: &str| serde_json::json!({"current_password": current, "new_password": "a brand new passphrase"});
    for _ in 0..5 {
        let (status, body) = crate::json_call(
            &app,
            reqwest::Method::POST,
            "/v1/users/me/password",
            Some(&pair.access_token),
            Some(change("not the password")),
        )
        .await;
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_credentials")),
            "{body}"
        );
    }
    let (status, body) = crate::json_call(
        &app,
        reqwest::Method::POST,
        "/v1/users/me/password",
        Some(&pair.access_token),
        Some(change(USER_PASSWORD)),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("account_locked")),
        "{body}"
    );
    assert_eq!(
        code(app.try_login(ANN, USER_PASSWORD).await),
        ProblemCode::AccountLocked
    );
    app.advance(61);
    app.login(ANN, USER_PASSWORD).await;
}

/// OWASP's device cookies: an attacker who keeps failing keeps the account locked for
/// unknown clients, but the owner's device, which signed in before, still signs in with
/// the right password; a forged or foreign cookie is an unknown client; a known device's
/// own failures lock only that device.
async fn a_known_device_signs_in_while_the_account_is_locked_for_others(app: TestServer) {
    app.user(ANN).await;
    app.user("bob@example.com").await;
    let cookie = app.login(ANN, USER_PASSWORD).await.device_cookie.unwrap();
    let bobs = app
        .login("bob@example.com", USER_PASSWORD)
        .await
        .device_cookie
        .unwrap();
    assert!(cookie.starts_with("pcd_"), "{cookie}");
    let with = |cookie: Option<&str>, password: &str| LoginRequest {
        identifier: ANN.into(),
        password: password.into(),
        device_cookie: cookie.map(str::to_owned),
        ..LoginRequest::default()
    };
    let c = app.client();
    for round in 0..3 {
        // The attacker's loop: five wrong passwords, every round (refused as wrong, or as
        // locked once the lock holds).
        app.advance_to_next_minute();
        for _ in 0..5 {
            let e = code(app.try_login(ANN, "not the password").await);
            assert!(
                matches!(
                    e,
                    ProblemCode::InvalidCredentials | ProblemCode::AccountLocked
                ),
                "{e:?}"
            );
        }
        assert_eq!(
            code(c.login(&with(None, USER_PASSWORD)).await),
            ProblemCode::AccountLocked,
            "round {round}: an unknown client is locked out"
        );
        let tampered = format!("{}x", &cookie[..cookie.len() - 1]);
        for other in [tampered.as_str(), bobs.as_str()] {
            assert_eq!(
                code(c.login(&with(Some(other), USER_PASSWORD)).await),
                ProblemCode::AccountLocked
            );
        }
        let owner = c.login(&with(Some(&cookie), USER_PASSWORD)).await;
        assert!(
            owner.is_ok(),
            "round {round}: the owner's device: {owner:?}"
        );
    }
    // The known device's own wrong passwords lock that device, not the account's others.
    app.advance(3 * 3600);
    app.advance_to_next_minute();
    let second = c
        .login(&with(None, USER_PASSWORD))
        .await
        .unwrap()
        .device_cookie
        .unwrap();
    for _ in 0..5 {
        assert_eq!(
            code(c.login(&with(Some(&cookie), "not the password")).await),
            ProblemCode::InvalidCredentials
        );
    }
    assert_eq!(
        code(c.login(&with(Some(&cookie), USER_PASSWORD)).await),
        ProblemCode::AccountLocked
    );
    c.login(&with(Some(&second), USER_PASSWORD)).await.unwrap();
    c.login(&with(None, USER_PASSWORD)).await.unwrap();
}

both_backends!(
    a_known_device_signs_in_while_the_account_is_locked_for_others,
    wrong_current_passwords_count_like_failed_sign_ins,
    five_failures_lock_the_account_for_a_minute,
    each_lock_within_a_day_is_twice_as_long,
    identifiers_without_an_account_lock_alike,
    a_password_reset_lifts_the_lock,
    the_organization_sets_the_rule,
);
