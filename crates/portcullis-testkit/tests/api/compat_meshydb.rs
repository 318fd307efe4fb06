//! The MeshyDB dialect, driven with the requests and example results of
//! `../shared/reference/004_244e43d8a199c83d.txt`, field for field, and its 204/400/401/403
//! rules and messages.

use portcullis_testkit::api::CreateOrgRequest;
use portcullis_testkit::{
    both_backends, Backend, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD,
};
use reqwest::Method;

use crate::keys;
use serde_json::{json, Value};

const ACCOUNT: &str = "/meshydb/default";

// The document's examples, but for one number: +1 555 555 5555 is no number any carrier
// assigns (area code 555), and Portcullis refuses numbers that no text could reach, so the
// examples carry +1 415 555 2671 instead.
const UPDATE: &str = r#"{
             "firstName": "Tester",
             "lastName": "McTesterton",
             "phoneNumber": "+15555555555",
             "emailAddress": "test@test.com"
           }"#;
const UPDATED: &str = r#"{
  "id": "5c78cc81dd870827a8e7b6c4",
  "username": "username_testermctesterson",
  "firstName": "Tester",
  "lastName": "McTesterton",
  "verified": true,
  "isActive": true,
  "phoneNumber": "+15555555555",
  "emailAddress": "test@test.com",
  "roles" : [
             {
                "name":"admin",
                "addedDate":"2019-01-01T00:00:00.0000000+00:00"
             },
             {
                "name":"test",
                "addedDate":"2019-01-01T00:00:00.0000000+00:00"
             }
          ],
  "securityQuestions": [
                          {
                             "question": "What would you say to this question?",
                             "answer": "..."
                          }
                       ],
  "anonymous": false,
  "lastAccessed":"2019-01-01T00:00:00.0000+00:00"
}"#;
const QUESTIONS: &str = r#"{
             "securityQuestions": [
                                    {
                                        "question": "What would you say to this question?",
                                        "answer": "..."
                                    }
                                  ]
           }"#;
const NOT_AUTHORIZED: &str = "User is not authorized to make call.";
const NO_PERMISSION: &str = "User has insufficent permission to update users.";

/// Calls a route of the account with an optional bearer token and JSON body.
async fn call(
    app: &TestServer,
    method: Method,
    route: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{ACCOUNT}{route}", app.url()));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_owned());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let text = res.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"))
    };
    (status, body)
}

/// The token endpoint, form-encoded as OAuth2 clients send it.
async fn token(app: &TestServer, account: &str, form: &[(&str, &str)]) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("{}/meshydb/{account}/connect/token", app.url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(form))
        .send()
        .await
        .unwrap();
    (res.status().as_u16(), res.json().await.unwrap())
}

fn form_body(form: &[(&str, &str)]) -> String {
    reqwest::Url::parse_with_params("http://x/", form)
        .unwrap()
        .query()
        .unwrap_or_default()
        .to_owned()
}

async fn signed_in(app: &TestServer, username: &str, password: &str) -> String {
    let (status, body) = token(
        app,
        "default",
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", password),
            ("client_id", "public-key"),
            ("scope", "meshy.api offline_access"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    body["access_token"].as_str().unwrap().to_owned()
}

fn is_net_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 33 && s.ends_with("+00:00") && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

async fn tester(app: &TestServer) -> (String, String) {
    let (_, client) = app.signed_in("tester@example.com").await;
    let id = client.me().await.unwrap().id.to_string();
    (
        id,
        signed_in(app, "tester@example.com", USER_PASSWORD).await,
    )
}

async fn updating_oneself_answers_the_documented_user(app: TestServer) {
    let (id, token) = tester(&app).await;
    let (status, _) = call(
        &app,
        Method::POST,
        "/users/me/questions",
        Some(&token),
        Some(QUESTIONS),
    )
    .await;
    assert_eq!(status, 204);
    let (status, got) = call(&app, Method::PUT, "/users/me", Some(&token), Some(UPDATE)).await;
    assert_eq!(status, 200, "{got}");
    let want: Value = serde_json::from_str(UPDATED).unwrap();
    assert_eq!(keys(&got), keys(&want), "field for field: {got}");
    for field in [
        "firstName",
        "lastName",
        "phoneNumber",
        "emailAddress",
        "isActive",
        "anonymous",
        "securityQuestions",
    ] {
        assert_eq!(got[field], want[field], "{field}");
    }
    assert_eq!(got["id"], id);
    assert_eq!(
        got["username"], "test@test.com",
        "signs in with the email it has"
    );
    assert_eq!(got["verified"], false, "the new address is not proven yet");
    assert_eq!(got["roles"][0]["name"], "user");
    assert!(is_net_time(&got["roles"][0]["addedDate"]), "{got}");
    assert!(is_net_time(&got["lastAccessed"]), "{got}");

    // Roles cannot be changed here; bad addresses get the document's messages.
    for (body, message) in [
        (
            r#"{"roles": [{"name": "admin"}]}"#,
            "Unable to change user roles via API.",
        ),
        (
            r#"{"emailAddress": "not an address"}"#,
            "Email address must be in a valid format.",
        ),
        (
            r#"{"phoneNumber": "555"}"#,
            "Phone number must be in an international format.",
        ),
        (r#"{"username": ""}"#, "Username is a required field."),
        (
            r#"{"emailAddress": null}"#,
            "Email address is required when Email recovery is enabled and the user is not anonymous.",
        ),
    ] {
        let (status, err) = call(&app, Method::PUT, "/users/me", Some(&token), Some(body)).await;
        assert_eq!(
            (status, err),
            (400, json!({ "message": message })),
            "{body}"
        );
    }
    // An app that sends back what it fetched, roles included, changes nothing it may not.
    let mut fetched = got.clone();
    fetched["lastName"] = json!("Fetched");
    let (status, again) = call(
        &app,
        Method::PUT,
        "/users/me",
        Some(&token),
        Some(&fetched.to_string()),
    )
    .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["lastName"], "Fetched");
    let (status, err) = call(&app, Method::PUT, "/users/me", None, Some(UPDATE)).await;
    assert_eq!((status, err), (401, json!({ "message": NOT_AUTHORIZED })));
}

async fn admins_update_others_and_users_may_not(app: TestServer) {
    let (id, token) = tester(&app).await;
    let admin = signed_in(&app, ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let route = format!("/users/{id}");
    let (status, err) = call(&app, Method::PUT, &route, Some(&token), Some(UPDATE)).await;
    assert_eq!((status, err), (403, json!({ "message": NO_PERMISSION })));
    let (status, got) = call(&app, Method::PUT, &route, Some(&admin), Some(UPDATE)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(
        (got["firstName"].as_str(), got["emailAddress"].as_str()),
        (Some("Tester"), Some("test@test.com"))
    );

    let route = format!("/users/{id}/questions");
    let (status, err) = call(&app, Method::POST, &route, Some(&token), Some(QUESTIONS)).await;
    assert_eq!((status, err), (403, json!({ "message": NO_PERMISSION })));
    let (status, _) = call(&app, Method::POST, &route, Some(&admin), Some(QUESTIONS)).await;
    assert_eq!(status, 204);
    let (status, err) = call(
        &app,
        Method::POST,
        "/users/not-an-id/questions",
        Some(&admin),
        Some(QUESTIONS),
    )
    .await;
    assert_eq!((status, err), (403, json!({ "message": NO_PERMISSION })));

    // A token of another organization is no token for this account.
    app.admin()
        .await
        .create_org(&CreateOrgRequest {
            slug: "acme".into(),
            name: "Acme".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let other = app
        .member_of("acme", "other@acme.example", &["org_admin"])
        .await;
    let other_token = other.access_token().await.unwrap().unwrap();
    let (status, err) = call(
        &app,
        Method::PUT,
        "/users/me",
        Some(&other_token),
        Some(UPDATE),
    )
    .await;
    assert_eq!((status, err), (401, json!({ "message": NOT_AUTHORIZED })));
}

async fn questions_and_passwords_follow_the_documented_rules(app: TestServer) {
    let (_, token) = tester(&app).await;
    for (body, message) in [
        (
            r#"{"securityQuestions": []}"#,
            "At least one question is required.",
        ),
        (r#"{}"#, "At least one question is required."),
        (
            r#"{"securityQuestions": [{"answer": "x"}]}"#,
            "Question text is required.",
        ),
        (
            r#"{"securityQuestions": [{"question": "Why?", "answer": " "}]}"#,
            "Answer is required.",
        ),
    ] {
        let (status, err) = call(
            &app,
            Method::POST,
            "/users/me/questions",
            Some(&token),
            Some(body),
        )
        .await;
        assert_eq!(
            (status, err),
            (400, json!({ "message": message })),
            "{body}"
        );
    }

    for (body, message) in [
        (
            r#"{"previousPassword": "correct horse battery"}"#,
            "New password is required.",
        ),
        (
            r#"{"newPassword": "a new long passphrase"}"#,
            "Previous password is required.",
        ),
        (
            r#"{"newPassword": "a new long passphrase", "previousPassword": "wrong"}"#,
            "Previous password does not match existing password.",
        ),
    ] {
        let (status, err) = call(
            &app,
            Method::POST,
            "/users/me/password",
            Some(&token),
            Some(body),
        )
        .await;
        assert_eq!(
            (status, err),
            (400, json!({ "message": message })),
            "{body}"
        );
    }
    let change = json!({"newPassword": "a new long passphrase", "previousPassword": USER_PASSWORD})
        .to_string();
    let (status, body) = call(
        &app,
        Method::POST,
        "/users/me/password",
        Some(&token),
        Some(&change),
    )
    .await;
    assert_eq!((status, body), (204, Value::Null));
    signed_in(&app, "tester@example.com", "a new long passphrase").await;
}

async fn guests_have_no_questions_and_no_password(app: TestServer) {
    crate::set_policy(&app, "default", json!({"allow_anonymous": true})).await;
    let guest = app.client().register_anonymous(None).await.unwrap();
    let token = Some(guest.access_token.as_str());
    let (status, err) = call(
        &app,
        Method::POST,
        "/users/me/questions",
        token,
        Some(QUESTIONS),
    )
    .await;
    assert_eq!(
        (status, err),
        (
            400,
            json!({"message": "Anonymous user cannot have security questions."})
        )
    );
    let change =
        json!({"newPassword": "a new long passphrase", "previousPassword": "x"}).to_string();
    let (status, err) = call(
        &app,
        Method::POST,
        "/users/me/password",
        token,
        Some(&change),
    )
    .await;
    assert_eq!(
        (status, err),
        (
            400,
            json!({"message": "Anonymous user cannot change password."})
        )
    );
    let (status, me) = call(&app, Method::PUT, "/users/me", token, Some("{}")).await;
    assert_eq!(
        (status, me["anonymous"].as_bool()),
        (200, Some(true)),
        "{me}"
    );
}

async fn the_token_endpoint_speaks_oauth2(app: TestServer) {
    app.signed_in("tester@example.com").await;
    let (status, pair) = token(
        &app,
        "default",
        &[
            ("grant_type", "password"),
            ("username", "tester@example.com"),
            ("password", USER_PASSWORD),
        ],
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        keys(&pair),
        ["access_token", "expires_in", "refresh_token", "token_type"]
    );
    let refresh = pair["refresh_token"].as_str().unwrap();
    let (status, next) = token(
        &app,
        "default",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(status, 200, "{next}");
    let (status, reused) = token(
        &app,
        "default",
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    for (account, form, error) in [
        (
            "default",
            &[
                ("grant_type", "password"),
                ("username", "tester@example.com"),
                ("password", "wrong"),
            ][..],
            "invalid_grant",
        ),
        (
            "default",
            &[("grant_type", "client_credentials")][..],
            "unsupported_grant_type",
        ),
        (
            "default",
            &[("grant_type", "password")][..],
            "invalid_request",
        ),
        (
            "no-such-account",
            &[
                ("grant_type", "password"),
                ("username", "tester@example.com"),
                ("password", USER_PASSWORD),
            ][..],
            "invalid_request",
        ),
    ] {
        let (status, bad) = token(&app, account, form).await;
        assert_eq!(
            (status, bad["error"].as_str()),
            (400, Some(error)),
            "{form:?}"
        );
    }
}

async fn bad_input_gets_a_message_never_a_500(app: TestServer) {
    let (_, token) = tester(&app).await;
    for (method, route, body, want) in [
        (Method::PUT, "/users/me", Some("{not json"), 400),
        (Method::PUT, "/users/me", Some("[1]"), 400),
        (
            Method::POST,
            "/users/me/questions",
            Some(r#"{"securityQuestions": "many"}"#),
            400,
        ),
        (Method::GET, "/users/me", None, 405),
        (Method::POST, "/nowhere", Some("{}"), 404),
    ] {
        let (status, err) = call(&app, method.clone(), route, Some(&token), body).await;
        assert_eq!(status, want, "{method} {route}: {err}");
        assert!(err["message"].is_string(), "{err}");
    }
    let big = format!(r#"{{"firstName": "{}"}}"#, "x".repeat(70_000));
    let (status, err) = call(&app, Method::PUT, "/users/me", Some(&token), Some(&big)).await;
    assert_eq!(status, 413, "{err}");
}

/// MeshyDB's `registerAnonymousUser` then `loginAnonymously(username)`: the guest's
/// username is its credential, so it must be unguessable.
async fn guests_register_and_sign_in_by_an_unguessable_username(app: TestServer) {
    let register = |body: Value| {
        let app = &app;
        async move {
            call(
                app,
                Method::POST,
                "/users/register/anonymous",
                None,
                Some(&body.to_string()),
            )
            .await
        }
    };
    // Not allowed until the organization allows guests.
    let (status, body) = register(json!({})).await;
    assert_eq!(status, 403, "{body}");
    crate::set_policy(&app, "default", json!({"allow_anonymous": true})).await;
    // The client's own random UUID is kept; a short name is refused.
    let handle = uuid::Uuid::new_v4().to_string();
    let (status, user) = register(json!({ "username": handle })).await;
    assert_eq!(status, 201, "{user}");
    assert_eq!(user["username"], json!(handle));
    assert_eq!(user["anonymous"], true);
    let (status, body) = register(json!({"username": "bob"})).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["message"].as_str().unwrap().contains("32"), "{body}");
    let (status, _) = register(json!({ "username": handle })).await;
    assert_eq!(status, 400);
    // Without a name, the server makes one of 128 random bits.
    let (status, made) = register(json!({})).await;
    assert_eq!(status, 201);
    assert!(made["username"].as_str().unwrap().len() >= 38, "{made}");
    // The password grant signs the guest in by its name, whatever the password.
    let token = signed_in(&app, &handle, "nopassword").await;
    let (status, me) = call(
        &app,
        Method::PUT,
        "/users/me",
        Some(&token),
        Some(r#"{"firstName": "Guest"}"#),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["firstName"], "Guest");
    // Another account's guest, or a guest made by /v1 (a short name), is no credential.
    let v1 = app.client().register_anonymous(None).await.unwrap();
    let v1_name = v1.user.username.clone().unwrap();
    let (status, body) = token_grant(&app, "default", &v1_name).await;
    assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
    let (status, body) = token_grant(&app, "nowhere", &handle).await;
    assert_eq!(status, 400, "{body}");
    // Once upgraded, the guest is an account like any other: its name alone is not enough.
    let upgraded = app
        .client()
        .with_token(&token)
        .upgrade_me(&portcullis_testkit::api::RegisterRequest {
            email: Some("was-a-guest@example.com".into()),
            password: Some(USER_PASSWORD.into()),
            ..Default::default()
        })
        .await;
    assert!(upgraded.is_ok(), "{upgraded:?}");
    let (status, _) = token_grant(&app, "default", &handle).await;
    assert_eq!(status, 400);
}

async fn token_grant(app: &TestServer, account: &str, username: &str) -> (u16, Value) {
    token(
        app,
        account,
        &[
            ("grant_type", "password"),
            ("username", username),
            ("password", "nopassword"),
        ],
    )
    .await
}

both_backends!(
    guests_register_and_sign_in_by_an_unguessable_username,
    updating_oneself_answers_the_documented_user,
    admins_update_others_and_users_may_not,
    questions_and_passwords_follow_the_documented_rules,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_endpoint() {
    the_token_endpoint_speaks_oauth2(TestServer::spawn(Backend::Sqlite).await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guests() {
    guests_have_no_questions_and_no_password(TestServer::spawn(Backend::Sqlite).await.unwrap())
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input() {
    bad_input_gets_a_message_never_a_500(TestServer::spawn(Backend::Sqlite).await.unwrap()).await;
}
