//! The DeepAffex dialect under `/dfx/`: the whole scenario of the issue driven by the real
//! JS client (`@nuralogix.ai/dfx-api-client` 1.0.73, from npm, installed into
//! `target/dfx-client` by `.ci/run` or on first use), and the wire rules of
//! `../shared/reference/deepaffex-wire.md` checked request by request.

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_testkit::api::CreateLicenseRequest;
use portcullis_testkit::{
    both_backends, code_in, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD,
};
use reqwest::Method;
use serde_json::{json, Value};

const CLIENT: &str = "@nuralogix.ai/dfx-api-client@1.0.73";
const JSON_UTF8: &str = "application/json; charset=utf-8";

/// `node_modules` holding the JS client, installed with npm when missing.
fn node_modules() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
        PathBuf::from,
    );
    let dir = target.join("dfx-client");
    let modules = dir.join("node_modules");
    if !modules
        .join("@nuralogix.ai/dfx-api-client/package.json")
        .exists()
    {
        std::fs::create_dir_all(&dir).unwrap();
        let installed = Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(CLIENT)
            .status()
            .expect("npm (with node) is needed to run the DeepAffex client");
        assert!(installed.success(), "npm could not install {CLIENT}");
    }
    modules
}

/// A license of the default organization; answers its key.
async fn license(app: &TestServer) -> String {
    app.admin()
        .await
        .create_license(
            "default",
            &CreateLicenseRequest {
                max_devices: None,
                expires_at: None,
            },
        )
        .await
        .unwrap()
        .license_key
}

async fn the_js_client_runs_the_whole_scenario(app: TestServer) {
    let key = license(&app).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/dfx/scenario.cjs");
    let url = app.url();
    let modules = node_modules();
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(script)
            .args([url.as_str(), key.as_str(), ADMIN_EMAIL, ADMIN_PASSWORD])
            .env("NODE_PATH", modules)
            .output()
            .expect("node runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the scenario failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: Value = serde_json::from_str(stdout.trim()).unwrap();
    let email = facts["email"].as_str().unwrap();
    // The reset link went out by mail, and nothing to the address without an account.
    let resets = app
        .mail
        .wait_for(1, |m| m.to == email && m.text.contains("token="))
        .await;
    assert_eq!(resets.len(), 1);
    assert!(app.mail.all(|m| m.to == "nobody@affex.test").is_empty());
    // The account is gone.
    let id = facts["user_id"].as_str().unwrap().parse().unwrap();
    assert!(app.admin().await.get_user(id).await.is_err());
}

/// Calls a `/dfx/` route as the JS client does: `Content-Type: application/json` on every
/// request, `Authorization: Bearer <token>` (empty when there is none).
async fn call(
    app: &TestServer,
    method: Method,
    route: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let res = raw(app, method, route, token, body).await;
    let status = res.status().as_u16();
    assert_eq!(
        res.headers()["content-type"],
        JSON_UTF8,
        "{route} answered another content type"
    );
    let body = res.json().await.unwrap();
    (status, body)
}

async fn raw(
    app: &TestServer,
    method: Method,
    route: &str,
    token: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .request(method, format!("{}/dfx/{route}", app.url()))
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}").trim().to_owned());
    if let Some(b) = body {
        req = req.body(b.to_string());
    }
    req.send().await.unwrap()
}

/// An error answer: `{Code, Message}`, both strings; answers the code.
fn failed(status: u16, expected: u16, body: &Value) -> String {
    assert_eq!(status, expected, "{body}");
    assert!(body["Message"].is_string(), "{body}");
    body["Code"].as_str().unwrap().to_owned()
}

/// A registered device of the default organization: its token and refresh token.
async fn device(app: &TestServer) -> (String, String) {
    let key = license(app).await;
    let (status, body) = call(
        app,
        Method::POST,
        "organizations/licenses",
        "",
        Some(json!({"Key": key, "DeviceTypeID": "LINUX", "Name": "t", "Identifier": "t", "Version": "1", "TokenSubject": ""})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body.as_object().unwrap().contains_key("UserID"));
    (
        body["Token"].as_str().unwrap().to_owned(),
        body["RefreshToken"].as_str().unwrap().to_owned(),
    )
}

/// Creates `email` through a device and signs it in; answers the device token and the pair.
async fn user(app: &TestServer, email: &str) -> (String, Value) {
    let (dev, _) = device(app).await;
    let (status, body) = call(
        app,
        Method::POST,
        "users",
        &dev,
        Some(json!({"Email": email, "Password": USER_PASSWORD, "PhoneNumber": ""})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, pair) = call(
        app,
        Method::POST,
        "users/auth",
        &dev,
        Some(json!({"Email": email, "Password": USER_PASSWORD, "MFAToken": "", "TokenExpiresIn": 86400})),
    )
    .await;
    assert_eq!(status, 200, "{pair}");
    (dev, pair)
}

fn token(pair: &Value) -> &str {
    pair["Token"].as_str().unwrap()
}

async fn every_answer_is_json_with_a_charset_and_errors_carry_code_and_message(app: TestServer) {
    let (status, body) = call(&app, Method::GET, "status", "", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["StatusID"], "ACTIVE");
    assert!(body["Version"].is_string() && body["AllowAnonymous"].is_boolean());
    // No token, an empty `Bearer`, `Bearer None`: 401, never a crash.
    for t in ["", "None"] {
        let (status, body) = call(&app, Method::GET, "users", t, None).await;
        assert_eq!(failed(status, 401, &body), "INVALID_TOKEN");
    }
    let (status, body) = call(&app, Method::GET, "users", "not-a-token", None).await;
    assert_eq!(failed(status, 401, &body), "INVALID_TOKEN");
    // Unknown routes and methods, malformed bodies, a path axum itself refuses.
    let (status, body) = call(&app, Method::GET, "nowhere", "", None).await;
    assert_eq!(failed(status, 404, &body), "NOT_FOUND");
    let (status, body) = call(&app, Method::PUT, "users/auth", "", None).await;
    assert_eq!(failed(status, 405, &body), "METHOD_NOT_ALLOWED");
    let res = raw(&app, Method::POST, "users/auth/code", "", None).await;
    assert_eq!(res.headers()["content-type"], JSON_UTF8);
    let res = reqwest::Client::new()
        .post(format!("{}/dfx/organizations/licenses", app.url()))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], JSON_UTF8);
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap();
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
    let (status, body) = call(&app, Method::GET, "users/auth/code/%FF/%FF", "", None).await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
    // A license that is not one; a TokenSubject, which Portcullis does not offer.
    let (status, body) = call(
        &app,
        Method::POST,
        "organizations/licenses",
        "",
        Some(json!({"Key": "pcl_nothing", "DeviceTypeID": "LINUX", "Name": "x"})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
    let key = license(&app).await;
    let (status, body) = call(
        &app,
        Method::POST,
        "organizations/licenses",
        "",
        Some(json!({"Key": key, "Name": "x", "TokenSubject": "https://app.example/"})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
}

async fn users_need_a_device_token_or_an_admin_to_be_created(app: TestServer) {
    let body = json!({"Email": "ann@affex.test", "Password": USER_PASSWORD});
    let (status, answer) = call(&app, Method::POST, "users", "", Some(body.clone())).await;
    assert_eq!(failed(status, 401, &answer), "INVALID_TOKEN");
    // A plain user may not create users.
    let (_, pair) = user(&app, "plain@affex.test").await;
    let (status, answer) = call(
        &app,
        Method::POST,
        "users",
        token(&pair),
        Some(body.clone()),
    )
    .await;
    assert_eq!(failed(status, 403, &answer), "FORBIDDEN");
    // An admin may (its own organization).
    let (dev, _) = device(&app).await;
    let (_, admin) = call(
        &app,
        Method::POST,
        "users/auth",
        &dev,
        Some(json!({"Email": ADMIN_EMAIL, "Password": ADMIN_PASSWORD})),
    )
    .await;
    let (status, answer) = call(&app, Method::POST, "users", token(&admin), Some(body)).await;
    assert_eq!(status, 200, "{answer}");
    // Email+Password or PhoneNumber: neither is a clear 400.
    let (status, answer) = call(
        &app,
        Method::POST,
        "users",
        &dev,
        Some(json!({"FirstName": "Nobody"})),
    )
    .await;
    assert_eq!(failed(status, 400, &answer), "BAD_REQUEST");
    // A device token is not a user token.
    let (status, answer) = call(&app, Method::GET, "users", &dev, None).await;
    assert_eq!(failed(status, 401, &answer), "INVALID_TOKEN");
    // And a user token is not a device token.
    let (status, answer) = call(
        &app,
        Method::POST,
        "users/auth",
        token(&pair),
        Some(json!({"Email": "plain@affex.test", "Password": USER_PASSWORD})),
    )
    .await;
    assert_eq!(failed(status, 401, &answer), "INVALID_TOKEN");
}

async fn renew_takes_the_pair_in_the_body_and_nothing_else(app: TestServer) {
    let (dev, pair) = user(&app, "ren@affex.test").await;
    // The JS client's requestLoginCode bug: no pair, a clean 400 (or, with a phone, a code).
    let (status, body) = call(&app, Method::POST, "auths/renew", &dev, Some(json!({}))).await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
    let (status, body) = call(
        &app,
        Method::POST,
        "auths/renew",
        &dev,
        Some(json!({"Token": token(&pair)})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
    // A refresh token with another session's access token: refused, and that session ends.
    let (_, other) = user(&app, "other@affex.test").await;
    let (status, body) = call(
        &app,
        Method::POST,
        "auths/renew",
        "",
        Some(json!({"Token": token(&other), "RefreshToken": pair["RefreshToken"]})),
    )
    .await;
    assert_eq!(failed(status, 401, &body), "INVALID_TOKEN");
    let (status, _) = call(&app, Method::POST, "auths/renew", "", Some(pair.clone())).await;
    assert_eq!(status, 401);
    // Renewing works with the header empty or holding a stale token.
    let (_, fresh) = user(&app, "ren2@affex.test").await;
    let (status, renewed) = call(
        &app,
        Method::POST,
        "auths/renew",
        "stale",
        Some(fresh.clone()),
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    let (status, _) = call(&app, Method::GET, "users", token(&renewed), None).await;
    assert_eq!(status, 200);
    // A device refresh token made for another device token is no good.
    let (dev2, refresh2) = device(&app).await;
    let (status, body) = call(
        &app,
        Method::POST,
        "auths/renew",
        "",
        Some(json!({"Token": dev, "RefreshToken": refresh2})),
    )
    .await;
    assert_eq!(failed(status, 401, &body), "INVALID_TOKEN");
    let (status, body) = call(
        &app,
        Method::POST,
        "auths/renew",
        "",
        Some(json!({"Token": dev2, "RefreshToken": refresh2})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The renewed device token works; the old one does not.
    let (status, _) = call(
        &app,
        Method::POST,
        "users/auth",
        token(&body),
        Some(json!({"Email": "ren2@affex.test", "Password": USER_PASSWORD})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        Method::POST,
        "users/auth",
        &dev2,
        Some(json!({"Email": "ren2@affex.test", "Password": USER_PASSWORD})),
    )
    .await;
    assert_eq!(status, 401);
}

async fn phone_codes_keep_the_plus_and_accept_numbers(app: TestServer) {
    const PHONE: &str = "+14155552671";
    let (dev, _) = device(&app).await;
    let (status, body) = call(
        &app,
        Method::POST,
        "users",
        &dev,
        Some(json!({"PhoneNumber": PHONE, "Password": ""})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // The JS client's path, with the `+` unencoded.
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("users/auth/code/default/{PHONE}"),
        "",
        None,
    )
    .await;
    assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
    let text = app.nth_sms(PHONE, 2).await;
    let code = code_in(&text.body);
    // The code as a number (leading zeros lost) still signs in.
    let number: u32 = code.parse().unwrap();
    let (status, body) = call(
        &app,
        Method::POST,
        "users/auth/code",
        "",
        Some(json!({"LoginCode": number, "PhoneNumber": PHONE, "OrgKey": "default"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["Token"].is_string() && body["RefreshToken"].is_string());
    // The Python spelling sends codes too (a minute later: one code a minute per address).
    app.advance(61);
    let (status, _) = call(
        &app,
        Method::PATCH,
        "auths/users/code",
        &dev,
        Some(json!({"PhoneNumber": PHONE, "Identifier": "default"})),
    )
    .await;
    assert_eq!(status, 200);
    app.nth_sms(PHONE, 3).await;
    // A wrong code, and a code for an organization that does not exist.
    let (status, body) = call(
        &app,
        Method::POST,
        "users/auth/code",
        "",
        Some(json!({"LoginCode": "000000", "PhoneNumber": PHONE, "OrgKey": "default"})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "INVALID_CODE");
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("users/auth/code/nowhere/{PHONE}"),
        "",
        None,
    )
    .await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
}

async fn accounts_verify_by_id_with_the_mailed_code(app: TestServer) {
    let (_, pair) = user(&app, "ver@affex.test").await;
    let (_, me) = call(&app, Method::GET, "users", token(&pair), None).await;
    assert_eq!(me["IsVerified"], false);
    let id = me["ID"].as_str().unwrap();
    // The Python spelling (POST) of the JS client's GET; the same answer for nobody. (A
    // minute after registration's code: one code a minute per address.)
    app.advance(61);
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("users/verificationCode/{id}/default"),
        "",
        Some(json!({})),
    )
    .await;
    assert_eq!((status, &body["success"]), (200, &json!(true)));
    let (status, body) = call(
        &app,
        Method::GET,
        "users/verificationCode/0190f0c0-0000-7000-8000-000000000000/default",
        "",
        None,
    )
    .await;
    assert_eq!((status, &body["success"]), (200, &json!(true)));
    let code = code_in(&app.nth_mail("ver@affex.test", 2).await.text);
    let (status, body) = call(
        &app,
        Method::POST,
        "users/verify",
        "",
        Some(json!({"VerificationCode": "999999", "ID": id})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "INVALID_CODE");
    let (status, body) = call(
        &app,
        Method::POST,
        "users/verify",
        "",
        Some(json!({"VerificationCode": code, "ID": id})),
    )
    .await;
    assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
    let (_, me) = call(&app, Method::GET, "users", token(&pair), None).await;
    assert_eq!(me["IsVerified"], true);
    let (status, body) = call(
        &app,
        Method::POST,
        "users/verify",
        "",
        Some(json!({"VerificationCode": code, "ID": "not-an-id"})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
}

async fn secret_free_changes_need_a_recent_sign_in(app: TestServer) {
    let (_, pair) = user(&app, "late@affex.test").await;
    app.advance(11 * 60);
    // Creating a secret (Python's POST spelling) changes nothing: no recent sign-in needed.
    let (status, body) = call(&app, Method::POST, "users/mfa/secret", token(&pair), None).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["secretBase32Encoded"].is_string(), "{body}");
    // Removal and turning MFA off do, within the organization's window (ten minutes).
    let (status, body) = call(&app, Method::DELETE, "users", token(&pair), None).await;
    assert_eq!(failed(status, 403, &body), "FORBIDDEN");
    // The organization may widen the window, up to the session lifetime.
    crate::set_policy(&app, "default", json!({"recent_sign_in_secs": 3600})).await;
    let (status, body) = call(&app, Method::DELETE, "users/mfa", token(&pair), None).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = app
        .admin()
        .await
        .request(Method::PATCH, "/v1/orgs/default")
        .json(&json!({"policy": {"recent_sign_in_secs": 30}}))
        .send()
        .await
        .map(|r| (r.status().as_u16(), r))
        .unwrap();
    assert_eq!(status, 400, "{:?}", body.text().await);
    crate::set_policy(&app, "default", json!({"recent_sign_in_secs": 600})).await;
    // With a password in the body, turning MFA off is checked by the password instead.
    let (status, body) = call(
        &app,
        Method::DELETE,
        "users/mfa",
        token(&pair),
        Some(json!({"Password": "wrong"})),
    )
    .await;
    assert_eq!(failed(status, 401, &body), "INVALID_CREDENTIALS");
    let (status, _) = call(
        &app,
        Method::DELETE,
        "users/mfa",
        token(&pair),
        Some(json!({"Password": USER_PASSWORD})),
    )
    .await;
    assert_eq!(status, 200);
    // An unknown secret is refused cleanly.
    let (status, body) = call(
        &app,
        Method::POST,
        "users/mfa",
        token(&pair),
        Some(json!({"MFASecret": "AAAA", "MFAToken": 123456})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
}

async fn admin_routes_refuse_users_and_unknown_ids(app: TestServer) {
    let (_, pair) = user(&app, "plain2@affex.test").await;
    let (_, me) = call(&app, Method::GET, "users", token(&pair), None).await;
    let id = me["ID"].as_str().unwrap();
    for route in [
        format!("users/{id}/mfa"),
        format!("users/{id}/measurements"),
    ] {
        let (status, body) = call(&app, Method::DELETE, &route, token(&pair), None).await;
        assert_eq!(failed(status, 403, &body), "FORBIDDEN");
    }
    let (dev, _) = device(&app).await;
    let (_, admin) = call(
        &app,
        Method::POST,
        "users/auth",
        &dev,
        Some(json!({"Email": ADMIN_EMAIL, "Password": ADMIN_PASSWORD})),
    )
    .await;
    for route in [
        "users/nobody/mfa",
        "users/0190f0c0-0000-7000-8000-000000000000/measurements",
    ] {
        let (status, body) = call(&app, Method::DELETE, route, token(&admin), None).await;
        assert_eq!(failed(status, 404, &body), "NOT_FOUND");
    }
    // Change password: the organization and email must be the caller's.
    let (status, body) = call(
        &app,
        Method::POST,
        "users/changepassword",
        token(&pair),
        Some(json!({"Identifier": "elsewhere", "Email": "plain2@affex.test", "Password": USER_PASSWORD, "NewPassword": "a new long password"})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
    let (status, body) = call(
        &app,
        Method::POST,
        "users/changepassword",
        token(&pair),
        Some(json!({"Identifier": "default", "Email": "someone@else.test", "Password": USER_PASSWORD, "NewPassword": "a new long password"})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "BAD_REQUEST");
    let (status, body) = call(
        &app,
        Method::POST,
        "users/changepassword",
        token(&pair),
        Some(json!({"Identifier": "default", "Email": "plain2@affex.test", "Password": USER_PASSWORD, "NewPassword": "short"})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "WEAK_PASSWORD");
}

both_backends!(
    the_js_client_runs_the_whole_scenario,
    every_answer_is_json_with_a_charset_and_errors_carry_code_and_message,
    users_need_a_device_token_or_an_admin_to_be_created,
    renew_takes_the_pair_in_the_body_and_nothing_else,
    phone_codes_keep_the_plus_and_accept_numbers,
    accounts_verify_by_id_with_the_mailed_code,
    secret_free_changes_need_a_recent_sign_in,
    admin_routes_refuse_users_and_unknown_ids,
);
