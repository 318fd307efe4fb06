//! Nothing public tells whether an account exists: not the status, not the body. (That the
//! work behind each answer is the same, so timing does not tell either, is shown by
//! counting password hashes in the process tests of the `portcullis` crate.)

use portcullis_testkit::api::{ProblemCode, RegisterRequest, UpdateOrgRequest};
use portcullis_testkit::client::AuditQuery;
use portcullis_testkit::client::Client;
use portcullis_testkit::{both_backends, TestServer, USER_PASSWORD};
use reqwest::Method;

use crate::code;

const ANN: &str = "ann@example.com";
const NOBODY: &str = "nobody@example.com";

/// Status and body of a POST, with the parts that differ by nature (ids, times) removed.
async fn answer(c: &Client, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    let res = c
        .request(Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let mut json: serde_json::Value = res.json().await.unwrap_or(serde_json::Value::Null);
    if let Some(o) = json.as_object_mut() {
        for volatile in ["id", "created_at", "updated_at", "request_id"] {
            o.remove(volatile);
        }
        if let Some(roles) = o.get_mut("roles").and_then(|r| r.as_array_mut()) {
            for r in roles {
                r.as_object_mut().map(|r| r.remove("added_at"));
            }
        }
    }
    (status, json)
}

async fn public_endpoints_answer_alike_for_known_and_unknown_addresses(app: TestServer) {
    app.user(ANN).await;
    // Past the minute of the registration's own verification code.
    app.advance_to_next_minute();
    let c = app.client();
    let cases = [
        (
            "/v1/auth/login",
            serde_json::json!({"password": "not the password"}),
            "identifier",
        ),
        (
            "/v1/auth/login/otp",
            serde_json::json!({"password": "not the password"}),
            "identifier",
        ),
        ("/v1/auth/code/request", serde_json::json!({}), "email"),
        ("/v1/auth/password/forgot", serde_json::json!({}), "email"),
        ("/v1/auth/verify/resend", serde_json::json!({}), "email"),
        (
            "/v1/auth/password/verify",
            serde_json::json!({"code": "000000"}),
            "email",
        ),
        (
            "/v1/auth/code/login",
            serde_json::json!({"code": "000000"}),
            "email",
        ),
    ];
    for (path, base, field) in cases {
        let with = |who: &str| {
            let mut b = base.clone();
            b[field] = who.into();
            b
        };
        let known = answer(&c, path, with(ANN)).await;
        let unknown = answer(&c, path, with(NOBODY)).await;
        assert_eq!(known, unknown, "{path} tells the accounts apart");
        assert!(known.0 < 500, "{path}: {known:?}");
        // Asked again within the minute: both refused alike.
        let known = answer(&c, path, with(ANN)).await;
        let unknown = answer(&c, path, with(NOBODY)).await;
        assert_eq!(
            known, unknown,
            "{path} tells the accounts apart the second time"
        );
    }
}

async fn conceal(app: &TestServer) {
    let policy = serde_json::json!({"conceal_existing_accounts": true});
    let org = app
        .admin()
        .await
        .update_org(
            "default",
            &UpdateOrgRequest {
                policy: Some(policy),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(org.policy.conceal_existing_accounts);
}

/// By default a taken address answers 409 (API.md); under the policy it answers as a new one
/// would, and the owner, not the caller, hears of it.
async fn concealing_organizations_answer_registration_as_for_a_new_address(app: TestServer) {
    let owner = app.user(ANN).await;
    let c = app.client();
    let again = serde_json::json!({"email": ANN, "password": "another long passphrase", "first_name": "Eve"});
    assert_eq!(answer(&c, "/v1/auth/register", again.clone()).await.0, 409);

    conceal(&app).await;
    let taken = answer(&c, "/v1/auth/register", again.clone()).await;
    let fresh = answer(
        &c,
        "/v1/auth/register",
        serde_json::json!({"email": "new@example.com", "password": "another long passphrase", "first_name": "Eve"}),
    )
    .await;
    assert_eq!(taken.0, 201);
    let mut fresh_as_taken = fresh.1.clone();
    fresh_as_taken["email"] = ANN.into();
    assert_eq!(
        taken.1, fresh_as_taken,
        "the bodies differ only by the address"
    );

    // The owner is told by mail; their account and password are untouched.
    let notice = app.nth_mail(ANN, 2).await;
    assert!(
        notice.text.contains("tried to create an account"),
        "{notice:?}"
    );
    app.login(ANN, USER_PASSWORD).await;
    assert_eq!(
        code(app.try_login(ANN, "another long passphrase").await),
        ProblemCode::InvalidCredentials
    );
    let admin = app.admin().await;
    let events = admin
        .audit_events(&AuditQuery {
            kind: Some("user.registration_concealed".into()),
            user_id: Some(owner.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.items.len(), 1);
    // Usernames are not secret addresses: a taken one still answers 409.
    let named = |email: &str| RegisterRequest {
        email: Some(email.into()),
        password: Some("another long passphrase".into()),
        username: Some("eve_taken".into()),
        ..Default::default()
    };
    c.register(&named("third@example.com")).await.unwrap();
    assert_eq!(
        code(c.register(&named("fourth@example.com")).await),
        ProblemCode::Duplicate
    );
}

/// Under the policy, changing one's email to a taken address answers exactly as changing it
/// to a free one: nothing changes until the new address proves itself with the code sent to
/// it; the taken address's owner gets a notice instead, and the caller's account keeps its
/// address.
async fn concealing_organizations_answer_an_email_change_as_for_a_free_address(app: TestServer) {
    app.user(ANN).await;
    conceal(&app).await;
    let (pair, _) = app.signed_in("bob@example.com").await;
    let (pair2, _) = app.signed_in("cy@example.com").await;
    let patch = |email: &str| serde_json::json!({"email": email, "first_name": "Renamed"});
    let (taken_status, taken) = crate::json_call(
        &app,
        Method::PATCH,
        "/v1/users/me",
        Some(&pair.access_token),
        Some(patch(ANN)),
    )
    .await;
    let (fresh_status, fresh) = crate::json_call(
        &app,
        Method::PATCH,
        "/v1/users/me",
        Some(&pair2.access_token),
        Some(patch("fresh@example.com")),
    )
    .await;
    assert_eq!((taken_status, fresh_status), (200, 200), "{taken} {fresh}");
    assert_eq!(taken["email"], "bob@example.com", "nothing changes yet");
    assert_eq!(fresh["email"], "cy@example.com", "nothing changes yet");
    assert_eq!(taken["first_name"], "Renamed", "the other fields apply");
    assert_eq!(
        crate::keys(&taken),
        crate::keys(&fresh),
        "the answers have the same shape"
    );
    // The owner hears of it; the free address gets a code, which makes it Cy's.
    let notice = app.nth_mail(ANN, 2).await;
    assert!(notice.text.contains("another account"), "{notice:?}");
    let code = portcullis_testkit::code_in(&app.nth_mail("fresh@example.com", 1).await.subject);
    for (given, status) in [("000000", 400), (code.as_str(), 204)] {
        let body = serde_json::json!({"email": "fresh@example.com", "code": given});
        let (got, answer) =
            crate::json_call(&app, Method::POST, "/v1/auth/verify", None, Some(body)).await;
        assert_eq!(got, status, "{answer}");
    }
    let me = app
        .client()
        .with_token(&pair2.access_token)
        .me()
        .await
        .unwrap();
    assert_eq!(me.email.as_deref(), Some("fresh@example.com"));
    assert!(me.email_verified);
    app.login("fresh@example.com", USER_PASSWORD).await;
    // Bob's account still has its own address, and Ann's is still Ann's.
    app.login("bob@example.com", USER_PASSWORD).await;
    app.login(ANN, USER_PASSWORD).await;
}

/// Under the policy, a guest upgrading to a taken address gets the answer an upgrade gets;
/// the address's owner hears of it and nothing changes.
async fn concealing_organizations_answer_a_guest_upgrade_as_for_a_free_address(app: TestServer) {
    app.user(ANN).await;
    crate::set_policy(
        &app,
        "default",
        serde_json::json!({"conceal_existing_accounts": true, "allow_anonymous": true}),
    )
    .await;
    let guest = || async {
        let (status, pair) = crate::json_call(
            &app,
            Method::POST,
            "/v1/auth/register/anonymous",
            None,
            Some(serde_json::json!({})),
        )
        .await;
        assert_eq!(status, 201, "{pair}");
        pair["access_token"].as_str().unwrap().to_owned()
    };
    let (first, second) = (guest().await, guest().await);
    let upgrade =
        |email: &str| serde_json::json!({"email": email, "password": "another long passphrase"});
    let (taken_status, taken) = crate::json_call(
        &app,
        Method::POST,
        "/v1/users/me/upgrade",
        Some(&first),
        Some(upgrade(ANN)),
    )
    .await;
    let (fresh_status, fresh) = crate::json_call(
        &app,
        Method::POST,
        "/v1/users/me/upgrade",
        Some(&second),
        Some(upgrade("fresh@example.com")),
    )
    .await;
    assert_eq!((taken_status, fresh_status), (200, 200), "{taken} {fresh}");
    assert_eq!(crate::keys(&taken), crate::keys(&fresh));
    assert_eq!(
        (taken["email"].as_str(), taken["anonymous"].as_bool()),
        (Some(ANN), Some(false))
    );
    let notice = app.nth_mail(ANN, 2).await;
    assert!(notice.text.contains("already has one"), "{notice:?}");
    app.login(ANN, USER_PASSWORD).await;
    assert_eq!(
        code(app.try_login(ANN, "another long passphrase").await),
        ProblemCode::InvalidCredentials
    );
}

both_backends!(
    concealing_organizations_answer_a_guest_upgrade_as_for_a_free_address,
    concealing_organizations_answer_an_email_change_as_for_a_free_address,
    public_endpoints_answer_alike_for_known_and_unknown_addresses,
    concealing_organizations_answer_registration_as_for_a_new_address,
);
