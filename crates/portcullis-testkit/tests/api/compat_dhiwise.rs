//! The DhiWise dialect, driven with the request and response examples of
//! `../shared/reference/002_22940e8456ac7a4e.txt`, field for field.

use portcullis_testkit::{both_backends, token_in, Backend, TestServer};
use reqwest::Method;

use crate::keys;
use serde_json::{json, Value};

const BASE: &str = "/dhiwise/admin/auth";

/// Calls a DhiWise route; answers the status and the JSON body (which every answer has).
async fn call(app: &TestServer, method: Method, route: &str, body: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, format!("{}{BASE}{route}", app.url()));
    if let Some(body) = body {
        req = req
            .header("content-type", "application/json")
            .body(body.to_owned());
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    assert!(ct.starts_with("application/json"), "{status} {ct}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{text}"));
    let keys: Vec<&str> = body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["data", "message", "status"], "the envelope: {body}");
    (status, body)
}

async fn post(app: &TestServer, route: &str, body: Value) -> (u16, Value) {
    call(app, Method::POST, route, Some(&body.to_string())).await
}

fn is_js_time(v: &Value) -> bool {
    let s = v.as_str().unwrap_or_default();
    s.len() == 24 && s.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

// The document's examples.
const REGISTER: &str = r#"{
"username": "Consuelo.Cole",
"password": "ExNa2RIyhAqVtSU",
"email": "Alexie20@yahoo.com",
"name": "Joanna Nicolas"
}"#;
const REGISTERED: &str = r#"{
"status": "SUCCESS",
"message": "Your request is successfully executed",
"data": {
"username": "Consuelo.Cole",
"email": "Alexie20@yahoo.com",
"name": "Joanna Nicolas",
"id": "617921bb256df40a522b81ba",
"_id": "617921bb256df40a522b81ba",
"loginRetryLimit": 0,
"createdAt": "2022-05-22T13:23:42.877Z",
"updatedAt": "2022-09-18T05:58:52.842Z",
"isDeleted": false,
"isActive": true
}
}"#;
const LOGIN: &str = r#"{
"username": "Lester.Weber42",
"password": "ncx1AfID8cNysml"
}"#;
const LOGGED_IN: &str = r#"{
"status": "SUCCESS",
"message": "Login successful.",
"data": {
"loginRetryLimit": 0,
"_id": "6179186894c816c40ae15988",
"username": "Lester.Weber42",
"role": 1,
"createdAt": "2021-10-27T09:14:16.940Z",
"updatedAt": "2021-10-27T09:14:16.940Z",
"isDeleted": false,
"isActive": true,
"id": "6179186894c816c40ae15988",
"token": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6IjYxNzkxODY4OTRjODE2YzQwYWUxNTk4OCIsInVzZXJuYW1lIjoiTGVzdGVyLldlYmVyNDIiLCJpYXQiOjE2MzU0MTY0MDcsImV4cCI6MTYzNjAxNjQwN30.IhWt3B6bnt7pXXEl8Qdgtu48TQ0Q7TUYQ4rawCzBaq8"
}
}"#;

/// Registers Lester (the login examples' user) with an email for his codes.
async fn lester(app: &TestServer) {
    let (status, _) = post(
        app,
        "/register",
        json!({"username": "Lester.Weber42", "password": "ncx1AfID8cNysml", "email": "lester@example.com"}),
    )
    .await;
    assert_eq!(status, 200);
}

async fn registration_answers_as_the_document_shows(app: TestServer) {
    let expected: Value = serde_json::from_str(REGISTERED).unwrap();
    let (status, got) = call(&app, Method::POST, "/register", Some(REGISTER)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["status"], expected["status"]);
    assert_eq!(got["message"], expected["message"]);
    let (data, want) = (&got["data"], &expected["data"]);
    assert_eq!(keys(data), keys(want), "field for field: {data}");
    for field in [
        "username",
        "name",
        "loginRetryLimit",
        "isDeleted",
        "isActive",
    ] {
        assert_eq!(data[field], want[field], "{field}");
    }
    assert!(data["email"]
        .as_str()
        .unwrap()
        .eq_ignore_ascii_case("Alexie20@yahoo.com"));
    assert_eq!(data["id"], data["_id"]);
    assert!(is_js_time(&data["createdAt"]) && is_js_time(&data["updatedAt"]));

    // The same account again: the document's duplicate answer, exactly.
    let (status, dup) = call(&app, Method::POST, "/register", Some(REGISTER)).await;
    assert_eq!(status, 422);
    assert_eq!(
        dup,
        json!({"status": "VALIDATION_ERROR", "message": "User Registration Failed, Duplicate Data found", "data": {}})
    );

    // The account is a Portcullis account like any other.
    let user = app.login("Consuelo.Cole", "ExNa2RIyhAqVtSU").await.user;
    assert_eq!(user.id.to_string(), data["id"].as_str().unwrap());
    assert_eq!(user.attributes["name"], "Joanna Nicolas");
}

async fn login_answers_a_token_for_the_v1_api(app: TestServer) {
    lester(&app).await;
    let expected: Value = serde_json::from_str(LOGGED_IN).unwrap();
    let (status, got) = call(&app, Method::POST, "/login", Some(LOGIN)).await;
    assert_eq!(status, 200, "{got}");
    assert_eq!(got["status"], expected["status"]);
    assert_eq!(got["message"], expected["message"]);
    let data = &got["data"];
    for field in keys(&expected["data"]) {
        assert!(data.get(&field).is_some(), "{field} missing from {data}");
    }
    for field in [
        "username",
        "role",
        "loginRetryLimit",
        "isDeleted",
        "isActive",
    ] {
        assert_eq!(data[field], expected["data"][field], "{field}");
    }
    let me = reqwest::Client::new()
        .get(format!("{}/v1/users/me", app.url()))
        .bearer_auth(data["token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["id"], data["id"]);

    let (status, bad) = post(
        &app,
        "/login",
        json!({"username": "Lester.Weber42", "password": "not his password"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        bad,
        json!({"status": "BAD_REQUEST", "message": "Login failed.", "data": {}})
    );
}

async fn login_with_an_otp_needs_the_code_that_was_sent(app: TestServer) {
    lester(&app).await;
    app.nth_mail("lester@example.com", 1).await;
    // DhiWise has no verify route: the OTP goes to the registered, unproven address, and
    // coming back with it proves the address.
    let (status, sent) = call(&app, Method::POST, "/send_login_otp", Some(LOGIN)).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(
        sent,
        json!({"status": "SUCCESS", "message": "Login Successful", "data": "Please check your email/mobile for OTP"})
    );
    let mail = app.nth_mail("lester@example.com", 2).await;
    let otp = portcullis_testkit::code_in(&mail.text);

    let (status, wrong) = post(
        &app,
        "/login_with_otp",
        json!({"username": "Lester.Weber42", "password": "ncx1AfID8cNysml", "otp": "000000"}),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        wrong,
        json!({"status": "BAD_REQUEST", "message": "Invalid Code", "data": {}})
    );
    let (status, ok) = post(
        &app,
        "/login_with_otp",
        json!({"username": "Lester.Weber42", "password": "ncx1AfID8cNysml", "otp": otp}),
    )
    .await;
    assert_eq!(status, 200, "{ok} {otp} {}", mail.text);
    assert_eq!(ok["message"], "Login successful.");
    assert!(ok["data"]["token"].as_str().unwrap().split('.').count() == 3);
    let me = app
        .client()
        .with_token(ok["data"]["token"].as_str().unwrap())
        .me()
        .await
        .unwrap();
    assert!(me.email_verified, "the OTP proved the address it went to");

    let (status, unknown) = post(
        &app,
        "/send_login_otp",
        json!({"username": "nobody.here", "password": "ncx1AfID8cNysml"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        unknown,
        json!({"status": "FAILURE", "message": "User not found", "data": {}})
    );
    let (status, no_otp) = post(
        &app,
        "/login_with_otp",
        serde_json::from_str(LOGIN).unwrap(),
    )
    .await;
    assert_eq!(
        (status, no_otp["status"].as_str()),
        (422, Some("VALIDATION_ERROR"))
    );
}

async fn password_recovery_by_the_link_token(app: TestServer) {
    lester(&app).await;
    let (status, sent) = post(
        &app,
        "/forgot-password",
        json!({"email": "lester@example.com"}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        sent,
        json!({"status": "SUCCESS", "message": "Your request is successfully executed", "data": "otp successfully send to your email."})
    );
    let mail = app.nth_mail("lester@example.com", 2).await;
    let otp = token_in(&mail.text);
    // The mail shows one value as its code, the one both routes take (the link's token: a
    // 6-digit code taken alone would be guessable across all accounts at once).
    assert!(
        mail.text
            .contains(&format!("password reset code is {otp}.")),
        "{}",
        mail.text
    );
    assert!(!mail
        .text
        .replace(&otp, "")
        .split(|c: char| !c.is_ascii_digit())
        .any(|run| run.len() == 6));

    let (_, wrong) = post(&app, "/validate-otp", json!({"otp": "5898"})).await;
    assert_eq!(
        wrong,
        json!({"status": "FAILURE", "message": "Invalid OTP", "data": {}})
    );
    let (status, valid) = post(&app, "/validate-otp", json!({"otp": otp})).await;
    assert_eq!(status, 200);
    assert_eq!(
        valid,
        json!({"status": "SUCCESS", "message": "Otp verified", "data": {}})
    );

    let (status, weak) = call(
        &app,
        Method::PUT,
        "/reset-password",
        Some(&json!({"code": otp, "newPassword": "short"}).to_string()),
    )
    .await;
    assert_eq!(
        (status, weak["status"].as_str()),
        (422, Some("VALIDATION_ERROR"))
    );
    let reset = json!({"code": otp, "newPassword": "a brand new passphrase"}).to_string();
    let (status, done) = call(&app, Method::PUT, "/reset-password", Some(&reset)).await;
    assert_eq!(status, 200);
    assert_eq!(
        done,
        json!({"status": "SUCCESS", "message": "Your request is successfully executed", "data": "Password reset successfully"})
    );
    let (status, again) = call(&app, Method::PUT, "/reset-password", Some(&reset)).await;
    assert_eq!(status, 200);
    assert_eq!(
        again,
        json!({"status": "FAILURE", "message": "Invalid Code", "data": {}})
    );
    app.login("lester@example.com", "a brand new passphrase")
        .await;

    // An expired link (past the one-message-a-minute limit first).
    app.advance(120);
    post(
        &app,
        "/forgot-password",
        json!({"email": "lester@example.com"}),
    )
    .await;
    let otp = token_in(&app.nth_mail("lester@example.com", 4).await.text);
    app.advance(24 * 3600);
    let (_, expired) = post(&app, "/validate-otp", json!({"otp": otp})).await;
    assert_eq!(
        expired,
        json!({"status": "FAILURE", "message": "Your reset password link is expired or invalid", "data": {}})
    );
}

async fn unknown_addresses_are_reported_only_where_accounts_are_not_concealed(app: TestServer) {
    let unknown = json!({"email": "yourmail@gmail.com"});
    let (status, body) = post(&app, "/forgot-password", unknown.clone()).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "RECORD_NOT_FOUND", "message": "Record not found with specified criteria.", "data": {}})
    );
    crate::set_policy(&app, "default", json!({"conceal_existing_accounts": true})).await;
    let (status, body) = post(&app, "/forgot-password", unknown).await;
    assert_eq!(status, 200);
    assert_eq!(body["status"], "SUCCESS", "{body}");
}

async fn bad_input_gets_the_envelope_never_a_500(app: TestServer) {
    let cases: [(Method, &str, Option<String>, u16, &str); 8] = [
        (
            Method::POST,
            "/login",
            Some("{not json".into()),
            400,
            "BAD_REQUEST",
        ),
        (
            Method::POST,
            "/login",
            Some("[1,2]".into()),
            400,
            "BAD_REQUEST",
        ),
        (Method::POST, "/login", None, 422, "VALIDATION_ERROR"),
        (
            Method::POST,
            "/register",
            Some(r#"{"email":"a@b.example"}"#.into()),
            422,
            "VALIDATION_ERROR",
        ),
        (
            Method::POST,
            "/register",
            Some(r#"{"email":"not an address","password":"a fine passphrase"}"#.into()),
            422,
            "VALIDATION_ERROR",
        ),
        (
            Method::POST,
            "/register",
            Some(format!(r#"{{"name":"{}"}}"#, "x".repeat(70_000))),
            413,
            "BAD_REQUEST",
        ),
        (Method::GET, "/login", None, 405, "FAILURE"),
        (
            Method::POST,
            "/no-such-route",
            Some("{}".into()),
            404,
            "FAILURE",
        ),
    ];
    for (method, route, body, want, status) in cases {
        let (got, answer) = call(&app, method.clone(), route, body.as_deref()).await;
        assert_eq!(
            (got, answer["status"].as_str()),
            (want, Some(status)),
            "{method} {route}: {answer}"
        );
    }
}

both_backends!(
    registration_answers_as_the_document_shows,
    login_answers_a_token_for_the_v1_api,
    login_with_an_otp_needs_the_code_that_was_sent,
    password_recovery_by_the_link_token,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_not_found_follows_the_policy() {
    let app = TestServer::spawn(Backend::Sqlite).await.unwrap();
    unknown_addresses_are_reported_only_where_accounts_are_not_concealed(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input() {
    let app = TestServer::spawn(Backend::Sqlite).await.unwrap();
    bad_input_gets_the_envelope_never_a_500(app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dialects_are_served_only_when_configured() {
    let app = TestServer::spawn_with(Backend::Sqlite, |c| c.compat = "none".into())
        .await
        .unwrap();
    let res = reqwest::Client::new()
        .post(format!("{}{BASE}/login", app.url()))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(
        res.headers()["content-type"],
        "application/problem+json",
        "the v1 API's not-found, not the dialect's"
    );
}
