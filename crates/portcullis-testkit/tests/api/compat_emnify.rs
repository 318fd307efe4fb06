//! The emnify dialect under `/api/v1/`: `POST /authenticate` driven by emnify's own Python
//! SDK (`emnify-sdk` 0.5.3 from PyPI, in a virtual environment under `target/emnify` made by
//! `.ci/run` or on first use), and the MFA routes of `003_de8aab4c2ef70d07.txt` with their
//! field names, over HTTP.

use std::path::{Path, PathBuf};
use std::process::Command;

use portcullis_testkit::python::Ready;

use portcullis_testkit::api::CreateAppTokenRequest;
use portcullis_testkit::{both_backends, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD};
use reqwest::Method;
use serde_json::{json, Value};

use crate::mfa::align;
use portcullis_testkit::{base32, totp};

fn scripts() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/emnify")
}

/// The virtual environment's python, with the SDK installed when missing.
fn python() -> PathBuf {
    let requirements = scripts().join("requirements.txt");
    portcullis_testkit::python::venv("emnify", &requirements, Ready::Imports("import emnify"))
        .join("bin/python")
}

async fn app_token(app: &TestServer, email: &str) -> String {
    let (_, client) = app.signed_in(email).await;
    client
        .create_app_token(&CreateAppTokenRequest {
            description: "emnify SDK".into(),
            expires_at: None,
        })
        .await
        .unwrap()
        .token
}

async fn the_sdk_authenticates_with_an_application_token(app: TestServer) {
    let token = app_token(&app, "sim@emnify.test").await;
    let script = scripts().join("authenticate.py");
    let endpoint = format!("{}/api", app.url());
    let python = python();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(python)
            .arg(script)
            .arg(token)
            .env("EMNIFY_SDK_API_ENDPOINT_URL", endpoint)
            .output()
            .expect("python runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the SDK failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["refused"], "Invalid Application Token");
    // The auth_token is a Portcullis access token of that user.
    let me = app
        .client()
        .with_token(seen["auth_token"].as_str().unwrap())
        .me()
        .await
        .unwrap();
    assert_eq!(me.email.as_deref(), Some("sim@emnify.test"));
}

/// A call to an emnify route (under `/api/v1/`).
async fn call(
    app: &TestServer,
    method: Method,
    route: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    crate::json_call(app, method, &format!("/api/v1/{route}"), token, body).await
}

/// An emnify error: answers its `error_token`, after checking the envelope.
fn failed(status: u16, expected: u16, body: &Value) -> String {
    assert_eq!(status, expected, "{body}");
    assert_eq!(body["error_code"], json!(expected), "{body}");
    assert!(body["message"].is_string(), "{body}");
    body["error_token"].as_str().unwrap().to_owned()
}

async fn password_login(app: &TestServer, email: &str, extra: Value) -> (u16, Value) {
    let mut body = json!({"username": email, "password": USER_PASSWORD});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    call(app, Method::POST, "authenticate", None, Some(body)).await
}

async fn authenticate_takes_the_body_and_answers_401_on_bad_credentials(app: TestServer) {
    let token = app_token(&app, "ann@emnify.test").await;
    // A good Authorization header does not make a bad body good, nor a bad header a good
    // body bad.
    let (_, good) = password_login(&app, "ann@emnify.test", json!({})).await;
    let auth = good["auth_token"].as_str().unwrap().to_owned();
    let (status, body) = call(
        &app,
        Method::POST,
        "authenticate",
        Some(&auth),
        Some(json!({"application_token": "pct_wrong"})),
    )
    .await;
    assert_eq!(failed(status, 401, &body), "invalid_application_token");
    let (status, body) = call(
        &app,
        Method::POST,
        "authenticate",
        Some("garbage"),
        Some(json!({"application_token": token})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["auth_token"].is_string());
    // Username and password: both tokens; wrong password or unknown user: 401 alike.
    assert!(good["refresh_token"].is_string());
    let (status, body) = call(
        &app,
        Method::POST,
        "authenticate",
        None,
        Some(json!({"username": "ann@emnify.test", "password": "wrong"})),
    )
    .await;
    assert_eq!(failed(status, 401, &body), "invalid_credentials");
    let (status, body) = call(
        &app,
        Method::POST,
        "authenticate",
        None,
        Some(json!({"username": "nobody@emnify.test", "password": "wrong"})),
    )
    .await;
    assert_eq!(failed(status, 401, &body), "invalid_credentials");
    // The refresh token renews, once.
    let refresh = good["refresh_token"].clone();
    let (status, renewed) = call(
        &app,
        Method::POST,
        "authenticate",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(status, 200, "{renewed}");
    assert!(renewed["auth_token"].is_string() && renewed["refresh_token"].is_string());
    let (status, body) = call(
        &app,
        Method::POST,
        "authenticate",
        None,
        Some(json!({"refresh_token": refresh})),
    )
    .await;
    assert_eq!(failed(status, 401, &body), "unauthorized");
    // Nothing to authenticate with; a body that is not JSON.
    let (status, body) = call(&app, Method::POST, "authenticate", None, Some(json!({}))).await;
    assert_eq!(failed(status, 400, &body), "validation_failed");
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/authenticate", app.url()))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error_token"], "validation_failed");
}

async fn mfa_keys_have_emnify_fields_and_guard_sign_in(app: TestServer) {
    let bob_id = app.user("bob@emnify.test").await.id;
    let (_, pair) = password_login(&app, "bob@emnify.test", json!({})).await;
    let auth = pair["auth_token"].as_str().unwrap().to_owned();
    let t = Some(auth.as_str());
    // Look-ups.
    let (status, body) = call(&app, Method::GET, "user/mfa/status", t, None).await;
    assert_eq!(status, 200);
    assert_eq!(body[0], json!({"id": 1, "description": "ACTIVE"}));
    let (status, _) = call(&app, Method::GET, "user/mfa/type", None, None).await;
    assert_eq!(status, 401);
    // Creating a key takes the password and type 1.
    let (status, body) = call(
        &app,
        Method::POST,
        "user/mfa",
        t,
        Some(json!({"type": {"id": 1}, "password": "wrong"})),
    )
    .await;
    assert_eq!(failed(status, 401, &body), "invalid_credentials");
    let (status, body) = call(
        &app,
        Method::POST,
        "user/mfa",
        t,
        Some(json!({"type": {"id": 7}, "password": USER_PASSWORD})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "validation_failed");
    let (status, key) = call(
        &app,
        Method::POST,
        "user/mfa",
        t,
        Some(json!({"type": {"id": 1}, "password": USER_PASSWORD})),
    )
    .await;
    assert_eq!(status, 200, "{key}");
    for field in [
        "id",
        "status",
        "type",
        "secret_key",
        "otpauth",
        "creation_date",
        "activation_date",
    ] {
        assert!(key.get(field).is_some(), "{field} missing from {key}");
    }
    let id = key["id"].as_u64().unwrap();
    assert!(id < 1 << 24, "an id an f32 keeps exactly");
    assert_eq!(
        key["status"],
        json!({"id": 2, "description": "ACTIVATION_PENDING"})
    );
    assert_eq!(key["type"], json!({"id": 1, "description": "TOTP"}));
    assert!(key["otpauth"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let secret = base32(key["secret_key"].as_str().unwrap());
    // Activate: wrong status, wrong code, unknown key; then right.
    let now = align(&app);
    let route = format!("user/mfa/{id}");
    let (status, body) = call(
        &app,
        Method::PATCH,
        &route,
        t,
        Some(json!({"status": {"id": 2}, "code": totp(&secret, now, 6)})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "validation_failed");
    let (status, body) = call(
        &app,
        Method::PATCH,
        "user/mfa/99999999",
        t,
        Some(json!({"status": {"id": 1}, "code": totp(&secret, now, 6)})),
    )
    .await;
    assert_eq!(failed(status, 404, &body), "not_found");
    let (status, body) = call(
        &app,
        Method::PATCH,
        &route,
        t,
        Some(json!({"status": {"id": 1}, "code": "000000"})),
    )
    .await;
    assert_eq!(failed(status, 400, &body), "code_invalid");
    let (status, body) = call(
        &app,
        Method::PATCH,
        &route,
        t,
        Some(json!({"status": {"id": 1}, "code": totp(&secret, now, 6)})),
    )
    .await;
    assert_eq!((status, body), (204, Value::Null));
    // Sign-in now needs the code; trusting the device lets the next one skip it.
    let (status, body) = password_login(&app, "bob@emnify.test", json!({})).await;
    assert_eq!(failed(status, 401, &body), "mfa_required");
    let (status, body) = password_login(
        &app,
        "bob@emnify.test",
        json!({"code": totp(&secret, now + 30, 6), "trusted_device": {"operating_system": "Linux", "browser": "curl"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let trusted = body["trusted_device_token"].as_str().unwrap().to_owned();
    let (status, body) = password_login(
        &app,
        "bob@emnify.test",
        json!({"trusted_device_token": trusted}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let auth = body["auth_token"].as_str().unwrap().to_owned();
    let t = Some(auth.as_str());
    // Trusted devices: listed by number under every spelling, removed by number.
    let (status, mine) = call(&app, Method::GET, "user/mfa/trusted_device", t, None).await;
    assert_eq!(status, 200);
    assert_eq!(mine.as_array().unwrap().len(), 1);
    let (_, also) = call(&app, Method::GET, "user/my/mfa/trusted_device", t, None).await;
    assert_eq!(also, mine);
    let device = mine[0]["id"].as_u64().unwrap();
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("user/mfa/trusted_device/{device}"),
        t,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, mine) = call(&app, Method::GET, "user/mfa/trusted_device", t, None).await;
    assert_eq!(mine, json!([]));
    // Another user's keys and devices are an admin's business.
    app.user("eve@emnify.test").await;
    let (_, eve) = password_login(&app, "eve@emnify.test", json!({})).await;
    let (status, body) = call(
        &app,
        Method::DELETE,
        &format!("user/{bob_id}/mfa/{id}"),
        eve["auth_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(failed(status, 403, &body), "forbidden");
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("user/{bob_id}/mfa/trusted_device"),
        eve["auth_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(failed(status, 403, &body), "forbidden");
    let (_, admin) = call(
        &app,
        Method::POST,
        "authenticate",
        None,
        Some(json!({"username": ADMIN_EMAIL, "password": ADMIN_PASSWORD})),
    )
    .await;
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("user/{bob_id}/mfa/trusted_device"),
        admin["auth_token"].as_str(),
        None,
    )
    .await;
    assert_eq!((status, body), (200, json!([])));
    // emnify's clients type user ids as numbers (f32): authenticate answers Bob's, and the
    // admin routes take it, written as an integer or as the float it is.
    let number = eve["user_id"].as_u64().unwrap();
    assert!((1..1 << 24).contains(&number), "{eve}");
    assert_ne!(
        admin["user_id"].as_u64().unwrap(),
        number,
        "numbers are per user"
    );
    let (_, again) = password_login(&app, "eve@emnify.test", json!({})).await;
    assert_eq!(again["user_id"].as_u64().unwrap(), number, "and stay");
    for written in [format!("{number}"), format!("{number}.0")] {
        let (status, body) = call(
            &app,
            Method::GET,
            &format!("user/{written}/mfa/trusted_device"),
            admin["auth_token"].as_str(),
            None,
        )
        .await;
        assert_eq!((status, body), (200, json!([])), "{written}");
    }
    let (status, body) = call(
        &app,
        Method::GET,
        &format!("user/{}/mfa/trusted_device", (1 << 24) - 1),
        admin["auth_token"].as_str(),
        None,
    )
    .await;
    assert_eq!(failed(status, 404, &body), "not_found");
    // Bob deletes his own key (signed in moments ago); sign-in needs no code again.
    let (status, _) = call(&app, Method::DELETE, &format!("user/my/mfa/{id}"), t, None).await;
    assert_eq!(status, 204);
    let (status, _) = password_login(&app, "bob@emnify.test", json!({})).await;
    assert_eq!(status, 200);
}

/// hex(SHA-1(password)), as emnify's clients send it.
fn sha1_hex(password: &str) -> String {
    use sha1::Digest as _;
    hex::encode(sha1::Sha1::digest(password.as_bytes()))
}

async fn the_sha1_form_of_a_password_signs_in_where_the_organization_keeps_it(app: TestServer) {
    let hashed = sha1_hex(USER_PASSWORD);
    let sha1_login = |email: &'static str| {
        let app = &app;
        let hashed = hashed.clone();
        async move {
            call(
                app,
                Method::POST,
                "authenticate",
                None,
                Some(json!({"username": email, "password": hashed})),
            )
            .await
            .0
        }
    };
    app.user("before@emnify.test").await;
    // Off (the default): the SHA-1 form is just a wrong password.
    assert_eq!(sha1_login("before@emnify.test").await, 401);
    crate::set_policy(&app, "default", json!({"sha1_hex_passwords": true})).await;
    // A password set from now on is kept in that form: both forms sign in, on every API.
    app.user("after@emnify.test").await;
    assert_eq!(sha1_login("after@emnify.test").await, 200);
    let (status, _) = password_login(&app, "after@emnify.test", json!({})).await;
    assert_eq!(status, 200);
    app.login("after@emnify.test", USER_PASSWORD).await;
    let (status, _) = call(
        &app,
        Method::POST,
        "authenticate",
        None,
        Some(json!({"username": "after@emnify.test", "password": sha1_hex("wrong")})),
    )
    .await;
    assert_eq!(status, 401);
    // A password from before moves to the form at its next sign-in with the password.
    assert_eq!(sha1_login("before@emnify.test").await, 401);
    app.login("before@emnify.test", USER_PASSWORD).await;
    assert_eq!(sha1_login("before@emnify.test").await, 200);
    // A changed password, too.
    let (_, client) = app.signed_in("changer@emnify.test").await;
    client
        .change_password(USER_PASSWORD, "another long passphrase")
        .await
        .unwrap();
    let (status, _) = call(
        &app,
        Method::POST,
        "authenticate",
        None,
        Some(json!({"username": "changer@emnify.test", "password": sha1_hex("another long passphrase")})),
    )
    .await;
    assert_eq!(status, 200);
}

both_backends!(
    the_sdk_authenticates_with_an_application_token,
    authenticate_takes_the_body_and_answers_401_on_bad_credentials,
    mfa_keys_have_emnify_fields_and_guard_sign_in,
    the_sha1_form_of_a_password_signs_in_where_the_organization_keeps_it,
);
