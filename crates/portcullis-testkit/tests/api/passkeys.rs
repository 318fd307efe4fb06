//! Passkeys over HTTP, with a software authenticator written apart from the server's
//! verifier: registration (after re-authentication), list, rename, delete; passwordless
//! sign-in; wrong origin, replayed and expired ceremonies, a deleted credential, a cloned
//! authenticator; the passkey as the second step after a password; the policy that asks for
//! a phishing-resistant factor; the admin's view.

use portcullis_testkit::authenticator::SoftAuthenticator;
use portcullis_testkit::{both_backends, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

/// The origin the test server's passkeys belong to (`localhost`, any port).
const ORIGIN: &str = "http://localhost:8080";

use crate::json_call as call;

/// Registers `email` (with a password) and signs in; answers the access token.
async fn member(app: &TestServer, email: &str) -> String {
    app.signed_in(email).await.0.access_token
}

/// Registers a passkey for the holder of `token`; answers the passkey.
async fn enrol(app: &TestServer, token: &str, auth: &mut SoftAuthenticator) -> Value {
    let (status, start) = call(
        app,
        Method::POST,
        "/v1/users/me/passkeys/register/start",
        Some(token),
        Some(json!({"password": USER_PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{start}");
    let credential = auth.create(&start["options"], ORIGIN);
    let (status, passkey) = call(
        app,
        Method::POST,
        "/v1/users/me/passkeys/register/finish",
        Some(token),
        Some(json!({"challenge_id": start["challenge_id"], "credential": credential, "name": "Laptop"})),
    )
    .await;
    assert_eq!(status, 201, "{passkey}");
    passkey
}

/// A sign-in ceremony: its id and the authenticator's answer at `origin`.
async fn assertion(app: &TestServer, auth: &mut SoftAuthenticator, origin: &str) -> (Value, Value) {
    let (status, start) = call(
        app,
        Method::POST,
        "/v1/auth/passkey/start",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "{start}");
    let credential = auth.get(&start["options"], origin);
    (start["challenge_id"].clone(), credential)
}

async fn finish(app: &TestServer, challenge: &Value, credential: &Value) -> (u16, Value) {
    call(
        app,
        Method::POST,
        "/v1/auth/passkey/finish",
        None,
        Some(json!({"challenge_id": challenge, "credential": credential})),
    )
    .await
}

async fn a_passkey_registers_and_signs_in_without_a_password(app: TestServer) {
    let token = member(&app, "pia@example.com").await;
    let mut auth = SoftAuthenticator::default();
    // Registration asks for the password again.
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/users/me/passkeys/register/start",
        Some(&token),
        None,
    )
    .await;
    assert_eq!((status, &body["code"]), (400, &json!("validation_failed")));
    let passkey = enrol(&app, &token, &mut auth).await;
    assert_eq!(passkey["name"], "Laptop");
    assert_eq!(passkey["counter"], 0);
    let (_, list) = call(
        &app,
        Method::GET,
        "/v1/users/me/passkeys",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let id = passkey["id"].as_str().unwrap();
    let (status, renamed) = call(
        &app,
        Method::PATCH,
        &format!("/v1/users/me/passkeys/{id}"),
        Some(&token),
        Some(json!({"name": "Phone"})),
    )
    .await;
    assert_eq!((status, &renamed["name"]), (200, &json!("Phone")));
    // Sign in with it, no name, no password.
    let (challenge, credential) = assertion(&app, &mut auth, ORIGIN).await;
    let (status, pair) = finish(&app, &challenge, &credential).await;
    assert_eq!(status, 200, "{pair}");
    assert_eq!(pair["user"]["email"], "pia@example.com");
    let (_, list) = call(
        &app,
        Method::GET,
        "/v1/users/me/passkeys",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(list["items"][0]["counter"], 1);
    assert!(list["items"][0]["last_used_at"].is_string());
    // The ceremony serves once.
    let (status, body) = finish(&app, &challenge, &credential).await;
    assert_eq!(
        (status, &body["code"]),
        (401, &json!("invalid_credentials"))
    );
}

async fn wrong_origins_late_ceremonies_and_deleted_credentials_are_refused(app: TestServer) {
    let token = member(&app, "quin@example.com").await;
    let mut auth = SoftAuthenticator::default();
    let passkey = enrol(&app, &token, &mut auth).await;
    // A phishing site's origin.
    let (challenge, credential) = assertion(&app, &mut auth, "https://evil.example").await;
    let (status, _) = finish(&app, &challenge, &credential).await;
    assert_eq!(status, 401);
    // A ceremony older than five minutes.
    let (challenge, credential) = assertion(&app, &mut auth, ORIGIN).await;
    app.advance(301);
    let (status, _) = finish(&app, &challenge, &credential).await;
    assert_eq!(status, 401);
    // A credential that is not JSON of the right shape.
    let (challenge, _) = assertion(&app, &mut auth, ORIGIN).await;
    let (status, body) = finish(&app, &challenge, &json!({"id": 5})).await;
    assert_eq!((status, &body["code"]), (400, &json!("validation_failed")));
    // Deleted (with the password): it signs in no more.
    let id = passkey["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/v1/users/me/passkeys/{id}"),
        Some(&token),
        Some(json!({"password": "wrong"})),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/v1/users/me/passkeys/{id}"),
        Some(&token),
        Some(json!({"password": USER_PASSWORD})),
    )
    .await;
    assert_eq!(status, 204);
    let (challenge, credential) = assertion(&app, &mut auth, ORIGIN).await;
    let (status, _) = finish(&app, &challenge, &credential).await;
    assert_eq!(status, 401);
    // Registration: an unknown ceremony, and a credential made for another origin.
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/users/me/passkeys/register/finish",
        Some(&token),
        Some(json!({"challenge_id": uuid::Uuid::now_v7(), "credential": {}})),
    )
    .await;
    assert_eq!((status, &body["code"]), (400, &json!("code_invalid")));
    let (_, start) = call(
        &app,
        Method::POST,
        "/v1/users/me/passkeys/register/start",
        Some(&token),
        Some(json!({"password": USER_PASSWORD})),
    )
    .await;
    let credential = auth.create(&start["options"], "https://evil.example");
    let (status, body) = call(
        &app,
        Method::POST,
        "/v1/users/me/passkeys/register/finish",
        Some(&token),
        Some(json!({"challenge_id": start["challenge_id"], "credential": credential})),
    )
    .await;
    assert_eq!((status, &body["code"]), (400, &json!("validation_failed")));
}

async fn a_cloned_authenticator_is_refused_and_audited(app: TestServer) {
    let token = member(&app, "rex@example.com").await;
    let mut auth = SoftAuthenticator::default();
    enrol(&app, &token, &mut auth).await;
    let mut clone = auth.clone();
    let (challenge, credential) = assertion(&app, &mut auth, ORIGIN).await;
    assert_eq!(finish(&app, &challenge, &credential).await.0, 200);
    // The copy's counter is where the original's was: not above the stored one.
    let (challenge, credential) = assertion(&app, &mut clone, ORIGIN).await;
    assert_eq!(finish(&app, &challenge, &credential).await.0, 401);
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.access_token;
    let (_, events) = call(
        &app,
        Method::GET,
        "/v1/audit-events?type=passkey.clone_suspected",
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(events["items"].as_array().unwrap().len(), 1, "{events}");
    // The original goes on working.
    let (challenge, credential) = assertion(&app, &mut auth, ORIGIN).await;
    assert_eq!(finish(&app, &challenge, &credential).await.0, 200);
}

async fn login(app: &TestServer, email: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"identifier": email, "password": USER_PASSWORD});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    call(app, Method::POST, "/v1/auth/login", None, Some(body)).await
}

async fn a_passkey_is_the_second_step_after_a_password(app: TestServer) {
    let token = member(&app, "sal@example.com").await;
    let mut auth = SoftAuthenticator::default();
    enrol(&app, &token, &mut auth).await;
    let (status, body) = login(&app, "sal@example.com", json!({})).await;
    assert_eq!((status, &body["code"]), (401, &json!("mfa_required")));
    assert_eq!(body["mfa_methods"], json!(["webauthn"]));
    let (challenge, credential) = assertion(&app, &mut auth, ORIGIN).await;
    let (status, pair) = login(
        &app,
        "sal@example.com",
        json!({"passkey": {"challenge_id": challenge, "credential": credential}}),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    // Another user's passkey is no second step for this one.
    let other = member(&app, "tom@example.com").await;
    let mut theirs = SoftAuthenticator::default();
    enrol(&app, &other, &mut theirs).await;
    let (challenge, credential) = assertion(&app, &mut theirs, ORIGIN).await;
    let (status, _) = login(
        &app,
        "sal@example.com",
        json!({"passkey": {"challenge_id": challenge, "credential": credential}}),
    )
    .await;
    assert_eq!(status, 401);
}

async fn an_organization_may_require_a_phishing_resistant_factor(app: TestServer) {
    crate::set_policy(
        &app,
        "default",
        json!({"phishing_resistant_required": true}),
    )
    .await;
    // Without a passkey: a session that may only enrol one.
    let (status, pair) = login(&app, "uma@example.com", json!({})).await;
    assert_eq!(status, 401, "not registered yet: {pair}");
    app.user("uma@example.com").await;
    let (status, pair) = login(&app, "uma@example.com", json!({})).await;
    assert_eq!(status, 200);
    let token = pair["access_token"].as_str().unwrap().to_owned();
    let (status, _) = call(
        &app,
        Method::GET,
        "/v1/users/me/sessions",
        Some(&token),
        None,
    )
    .await;
    assert_eq!(
        status, 403,
        "an enrolment-only session reaches nothing else"
    );
    let mut auth = SoftAuthenticator::default();
    enrol(&app, &token, &mut auth).await;
    // With one: only the passkey will do.
    let (status, body) = login(&app, "uma@example.com", json!({"mfa_code": "123456"})).await;
    assert_eq!(status, 401);
    assert_eq!(body["code"], "mfa_required");
    assert_eq!(body["mfa_methods"], json!(["webauthn"]));
    let (challenge, credential) = assertion(&app, &mut auth, ORIGIN).await;
    let (status, _) = login(
        &app,
        "uma@example.com",
        json!({"passkey": {"challenge_id": challenge, "credential": credential}}),
    )
    .await;
    assert_eq!(status, 200);
}

async fn admins_list_and_delete_a_users_passkeys(app: TestServer) {
    let token = member(&app, "vic@example.com").await;
    let mut auth = SoftAuthenticator::default();
    let passkey = enrol(&app, &token, &mut auth).await;
    let (_, me) = call(&app, Method::GET, "/v1/users/me", Some(&token), None).await;
    let user = me["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/v1/users/{user}/passkeys"),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let admin = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.access_token;
    let (status, list) = call(
        &app,
        Method::GET,
        &format!("/v1/users/{user}/passkeys"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"][0]["id"], passkey["id"]);
    let id = passkey["id"].as_str().unwrap();
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/v1/users/{user}/passkeys/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/v1/users/{user}/passkeys/{id}"),
        Some(&admin),
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (challenge, credential) = assertion(&app, &mut auth, ORIGIN).await;
    assert_eq!(finish(&app, &challenge, &credential).await.0, 401);
    // An organization's own relying party: origins within its domain only.
    for (policy, status) in [
        (
            json!({"webauthn_rp_id": "id.example.com", "webauthn_origins": ["https://evil.example"]}),
            400,
        ),
        (json!({"webauthn_rp_id": "id.example.com"}), 400),
        (
            json!({"webauthn_rp_id": "id.example.com", "webauthn_origins": ["https://id.example.com"]}),
            200,
        ),
    ] {
        let (got, body) = call(
            &app,
            Method::PATCH,
            "/v1/orgs/default",
            Some(&admin),
            Some(json!({ "policy": policy })),
        )
        .await;
        assert_eq!(got, status, "{body}");
    }
    // Its passkeys then belong to that domain.
    let (_, start) = call(
        &app,
        Method::POST,
        "/v1/auth/passkey/start",
        None,
        Some(json!({})),
    )
    .await;
    assert_eq!(start["options"]["publicKey"]["rpId"], "id.example.com");
}

both_backends!(
    a_passkey_registers_and_signs_in_without_a_password,
    wrong_origins_late_ceremonies_and_deleted_credentials_are_refused,
    a_cloned_authenticator_is_refused_and_audited,
    a_passkey_is_the_second_step_after_a_password,
    an_organization_may_require_a_phishing_resistant_factor,
    admins_list_and_delete_a_users_passkeys,
);
