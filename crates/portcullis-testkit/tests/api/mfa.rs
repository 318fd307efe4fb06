//! Second factors, checked with an independent RFC 6238 implementation.

use portcullis_testkit::api::{
    CodeSubmission, CreateOrgRequest, LoginOtpRequest, LoginRequest, ProblemCode, Reauthentication,
    ResetPasswordRequest, TokenPair, UpdateOrgRequest,
};
use portcullis_testkit::client::{Client, Error};
use portcullis_testkit::{base32, both_backends, code_in, totp, TestServer, USER_PASSWORD};

use crate::{assert_audited, code, fields};

const ANN: &str = "ann@example.com";

#[test]
fn the_test_totp_matches_the_rfc_6238_vectors() {
    let secret = b"12345678901234567890";
    for (t, want) in [
        (59, "94287082"),
        (1_111_111_109, "07081804"),
        (1_111_111_111, "14050471"),
        (1_234_567_890, "89005924"),
        (2_000_000_000, "69279037"),
        (20_000_000_000, "65353130"),
    ] {
        assert_eq!(totp(secret, t, 8), want, "T={t}");
    }
    assert_eq!(base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"), secret);
}

/// Moves the server clock to 5 s into a TOTP step, so a test's codes cannot straddle a step.
pub(crate) fn align(app: &TestServer) -> i64 {
    let now = app.now().timestamp();
    let into = now.rem_euclid(30);
    let by = if into <= 5 { 5 - into } else { 35 - into };
    app.advance(by);
    app.now().timestamp()
}

/// Signs Ann in and enrols a TOTP key; answers her client and the secret.
async fn enrolled(app: &TestServer) -> (Client, Vec<u8>, Vec<String>) {
    let (_, me) = app.signed_in(ANN).await;
    let key = me.create_mfa_key(Some(USER_PASSWORD)).await.unwrap();
    let secret = base32(&key.secret_base32);
    let now = align(app);
    let activated = me
        .activate_mfa_key(key.key.id, &totp(&secret, now, 6))
        .await
        .unwrap();
    (me, secret, activated.recovery_codes)
}

fn login_with(
    mfa_code: Option<String>,
    recovery_code: Option<&str>,
    trusted: Option<&str>,
    remember: bool,
) -> LoginRequest {
    LoginRequest {
        identifier: ANN.into(),
        password: USER_PASSWORD.into(),
        organization: None,
        mfa_code,
        recovery_code: recovery_code.map(str::to_owned),
        trusted_device_token: trusted.map(str::to_owned),
        remember_device: remember,
        passkey: None,
        device_cookie: None,
    }
}

async fn sign_in(app: &TestServer, body: &LoginRequest) -> Result<TokenPair, Error> {
    app.client().login(body).await
}

async fn a_totp_key_is_made_shown_once_and_activated_by_a_code(app: TestServer) {
    let (_, me) = app.signed_in(ANN).await;
    assert_eq!(fields(me.create_mfa_key(None).await), ["password"]);
    assert_eq!(
        code(me.create_mfa_key(Some("wrong password")).await),
        ProblemCode::InvalidCredentials
    );
    let key = me.create_mfa_key(Some(USER_PASSWORD)).await.unwrap();
    assert_eq!(
        (key.key.kind.as_str(), key.key.status.as_str()),
        ("totp", "activation_pending")
    );
    assert_eq!(key.secret_base32.len(), 32, "160 bits");
    assert!(
        key.otpauth_uri
            .starts_with("otpauth://totp/Default:ann%40example.com?secret="),
        "{}",
        key.otpauth_uri
    );
    assert!(
        key.otpauth_uri
            .contains(&format!("secret={}", key.secret_base32))
            && key.otpauth_uri.contains("issuer=Default")
    );
    assert!(key.qr_code_svg.starts_with("<?xml") || key.qr_code_svg.contains("<svg"));
    assert!(key.qr_code_png.starts_with("data:image/png;base64,"));
    let listed = me.mfa_keys().await.unwrap();
    assert_eq!(listed.items.len(), 1);
    assert!(
        !serde_json::to_string(&listed)
            .unwrap()
            .contains(&key.secret_base32),
        "never listed"
    );
    sign_in(&app, &login_with(None, None, None, false))
        .await
        .expect("a pending key asks for nothing yet");
    let secret = base32(&key.secret_base32);
    let now = align(&app);
    let wrong = totp(&secret, now + 300, 6);
    assert_eq!(
        code(me.activate_mfa_key(key.key.id, &wrong).await),
        ProblemCode::CodeInvalid
    );
    let activated = me
        .activate_mfa_key(key.key.id, &totp(&secret, now, 6))
        .await
        .unwrap();
    assert_eq!(activated.key.status, "active");
    assert_eq!(activated.recovery_codes.len(), 10);
    assert!(me.me().await.unwrap().mfa_enabled);
    assert_eq!(
        fields(
            me.activate_mfa_key(key.key.id, &totp(&secret, now, 6))
                .await
        ),
        ["code"]
    );
    assert_eq!(
        code(me.activate_mfa_key(uuid::Uuid::now_v7(), "123456").await),
        ProblemCode::NotFound
    );
    let types = app
        .client()
        .request(reqwest::Method::GET, "/v1/mfa/types")
        .send()
        .await
        .unwrap();
    let types: serde_json::Value = types.json().await.unwrap();
    assert_eq!(types[0]["name"], "totp");
    let statuses: serde_json::Value = app
        .client()
        .request(reqwest::Method::GET, "/v1/mfa/statuses")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(statuses.as_array().unwrap().len(), 2);
}

async fn sign_in_asks_for_the_code_allows_one_step_of_skew_and_refuses_replays(app: TestServer) {
    let (_, secret, _) = enrolled(&app).await;
    let asked = sign_in(&app, &login_with(None, None, None, false))
        .await
        .unwrap_err();
    assert_eq!(asked.code(), Some(ProblemCode::MfaRequired));
    let methods = asked.problem().unwrap().mfa_methods.clone().unwrap();
    assert!(methods.contains(&"totp".to_owned()) && methods.contains(&"recovery_code".to_owned()));
    let wrong_pw = LoginRequest {
        password: "wrong password".into(),
        ..login_with(None, None, None, false)
    };
    assert_eq!(
        code(sign_in(&app, &wrong_pw).await),
        ProblemCode::InvalidCredentials,
        "the password comes first"
    );
    // Two steps later: the code of one step ago still works (skew), once.
    app.advance(60);
    let now = app.now().timestamp();
    let behind = totp(&secret, now - 30, 6);
    let pair = sign_in(&app, &login_with(Some(behind.clone()), None, None, false))
        .await
        .unwrap();
    let claims: serde_json::Value = {
        use base64::Engine;
        let part = pair.access_token.split('.').nth(1).unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "mfa", "otp"]));
    assert_eq!(
        code(sign_in(&app, &login_with(Some(behind), None, None, false)).await),
        ProblemCode::InvalidCredentials,
        "replay"
    );
    let too_old = totp(&secret, now - 60, 6);
    assert_eq!(
        code(sign_in(&app, &login_with(Some(too_old), None, None, false)).await),
        ProblemCode::InvalidCredentials
    );
    let ahead = totp(&secret, now + 30, 6);
    sign_in(&app, &login_with(Some(ahead.clone()), None, None, false))
        .await
        .expect("one step ahead");
    let current = totp(&secret, now, 6);
    assert_eq!(
        code(sign_in(&app, &login_with(Some(current), None, None, false)).await),
        ProblemCode::InvalidCredentials,
        "older than the last used"
    );
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
        .any(|e| e.details["reason"] == "wrong_second_factor"));
}

async fn recovery_codes_work_once_and_can_be_renewed(app: TestServer) {
    let (me, _, codes) = enrolled(&app).await;
    sign_in(
        &app,
        &login_with(None, Some(&codes[0].to_uppercase()), None, false),
    )
    .await
    .expect("case does not matter");
    assert_eq!(
        code(sign_in(&app, &login_with(None, Some(&codes[0]), None, false)).await),
        ProblemCode::InvalidCredentials
    );
    assert_eq!(
        code(sign_in(&app, &login_with(None, Some("nope-nope"), None, false)).await),
        ProblemCode::InvalidCredentials
    );
    let fresh = me
        .regenerate_recovery_codes(USER_PASSWORD)
        .await
        .unwrap()
        .recovery_codes;
    assert_eq!(
        code(sign_in(&app, &login_with(None, Some(&codes[1]), None, false)).await),
        ProblemCode::InvalidCredentials,
        "old ones die"
    );
    sign_in(&app, &login_with(None, Some(&fresh[0]), None, false))
        .await
        .unwrap();
    assert_eq!(
        code(me.regenerate_recovery_codes("wrong password").await),
        ProblemCode::InvalidCredentials
    );
}

async fn trusted_devices_skip_the_code_until_removed(app: TestServer) {
    let (me, secret, _) = enrolled(&app).await;
    app.advance(30);
    let now = app.now().timestamp();
    let pair = sign_in(
        &app,
        &login_with(Some(totp(&secret, now, 6)), None, None, true),
    )
    .await
    .unwrap();
    let token = pair
        .trusted_device_token
        .expect("remember_device gives a token");
    sign_in(&app, &login_with(None, None, Some(&token), false))
        .await
        .expect("skips the code");
    assert_eq!(
        code(sign_in(&app, &login_with(None, None, Some("forged"), false)).await),
        ProblemCode::MfaRequired
    );
    let devices = me.trusted_devices().await.unwrap().items;
    assert_eq!(devices.len(), 1);
    let admin = app.admin().await;
    let id = me.me().await.unwrap().id;
    let seen: serde_json::Value = admin
        .request(
            reqwest::Method::GET,
            &format!("/v1/users/{id}/trusted-devices"),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(seen["items"].as_array().unwrap().len(), 1);
    me.delete_trusted_device(devices[0].id).await.unwrap();
    assert_eq!(
        code(sign_in(&app, &login_with(None, None, Some(&token), false)).await),
        ProblemCode::MfaRequired
    );
    assert_eq!(
        code(me.delete_trusted_device(devices[0].id).await),
        ProblemCode::NotFound
    );
    // A password change drops every trusted device.
    app.advance(30);
    let now = app.now().timestamp();
    let again = sign_in(
        &app,
        &login_with(Some(totp(&secret, now, 6)), None, None, true),
    )
    .await
    .unwrap()
    .trusted_device_token
    .unwrap();
    me.change_password(USER_PASSWORD, "a brand new passphrase")
        .await
        .unwrap();
    let body = LoginRequest {
        password: "a brand new passphrase".into(),
        ..login_with(None, None, Some(&again), false)
    };
    assert_eq!(code(sign_in(&app, &body).await), ProblemCode::MfaRequired);
    assert!(me.trusted_devices().await.unwrap().items.is_empty());
    // And an admin can remove them too.
    app.advance(30);
    let now = app.now().timestamp();
    let body = LoginRequest {
        password: "a brand new passphrase".into(),
        ..login_with(Some(totp(&secret, now, 6)), None, None, true)
    };
    let third = sign_in(&app, &body)
        .await
        .unwrap()
        .trusted_device_token
        .unwrap();
    let device = me.trusted_devices().await.unwrap().items[0].id;
    let del = admin
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/users/{id}/trusted-devices/{device}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(del.status(), 204);
    let body = LoginRequest {
        password: "a brand new passphrase".into(),
        ..login_with(None, None, Some(&third), false)
    };
    assert_eq!(code(sign_in(&app, &body).await), ProblemCode::MfaRequired);
}

async fn a_code_by_email_is_a_second_factor(app: TestServer) {
    app.user(ANN).await;
    let c = app.client();
    let otp = |channel: Option<&str>, password: &str| LoginOtpRequest {
        identifier: ANN.into(),
        password: password.into(),
        channel: channel.map(str::to_owned),
        organization: None,
    };
    assert_eq!(
        fields(c.login_otp(&otp(None, USER_PASSWORD)).await),
        ["channel"],
        "no verified address yet"
    );
    let verify = code_in(&app.nth_mail(ANN, 1).await.subject);
    c.request(reqwest::Method::POST, "/v1/auth/verify")
        .json(&serde_json::json!({"email": ANN, "code": verify}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        code(c.login_otp(&otp(None, "wrong password")).await),
        ProblemCode::InvalidCredentials
    );
    assert_eq!(
        fields(c.login_otp(&otp(Some("sms"), USER_PASSWORD)).await),
        ["channel"]
    );
    assert_eq!(
        c.login_otp(&otp(Some("email"), USER_PASSWORD))
            .await
            .unwrap()
            .status,
        "sent"
    );
    let sent = code_in(&app.nth_mail(ANN, 2).await.subject);
    let pair = sign_in(&app, &login_with(Some(sent.clone()), None, None, false))
        .await
        .unwrap();
    assert!(pair.user.email_verified);
    assert_eq!(
        code(sign_in(&app, &login_with(Some(sent), None, None, false)).await),
        ProblemCode::InvalidCredentials,
        "once"
    );
}

async fn turning_mfa_off_needs_reauthentication(app: TestServer) {
    let (me, secret, _) = enrolled(&app).await;
    assert_eq!(
        fields(me.disable_mfa(&Reauthentication::default()).await),
        ["password"]
    );
    let wrong = Reauthentication {
        password: Some("wrong password".into()),
        mfa_code: None,
    };
    assert_eq!(
        code(me.disable_mfa(&wrong).await),
        ProblemCode::InvalidCredentials
    );
    app.advance(30);
    let by_code = Reauthentication {
        password: None,
        mfa_code: Some(totp(&secret, app.now().timestamp(), 6)),
    };
    me.disable_mfa(&by_code).await.unwrap();
    assert!(!me.me().await.unwrap().mfa_enabled);
    assert!(me.mfa_keys().await.unwrap().items.is_empty());
    sign_in(&app, &login_with(None, None, None, false))
        .await
        .expect("no second factor now");
    // Deleting the only key turns MFA off as well.
    let key = me.create_mfa_key(Some(USER_PASSWORD)).await.unwrap();
    app.advance(30);
    let secret = base32(&key.secret_base32);
    me.activate_mfa_key(key.key.id, &totp(&secret, app.now().timestamp(), 6))
        .await
        .unwrap();
    me.delete_mfa_key(
        key.key.id,
        &Reauthentication {
            password: Some(USER_PASSWORD.into()),
            mfa_code: None,
        },
    )
    .await
    .unwrap();
    assert!(!me.me().await.unwrap().mfa_enabled);
    let again = me
        .delete_mfa_key(
            key.key.id,
            &Reauthentication {
                password: Some(USER_PASSWORD.into()),
                mfa_code: None,
            },
        )
        .await;
    assert_eq!(code(again), ProblemCode::NotFound);
}

async fn admins_take_a_users_factors_off(app: TestServer) {
    let (me, _, _) = enrolled(&app).await;
    let id = me.me().await.unwrap().id;
    let admin = app.admin().await;
    let (_, bob) = app.signed_in("bob@example.com").await;
    let forbidden = bob
        .request(reqwest::Method::DELETE, &format!("/v1/users/{id}/mfa"))
        .send()
        .await
        .unwrap();
    assert_eq!(forbidden.status(), 403);
    admin
        .create_org(&CreateOrgRequest {
            slug: "acme".into(),
            name: "Acme".into(),
            policy: None,
        })
        .await
        .unwrap();
    let boss = app
        .member_of("acme", "boss@acme.test", &["org_admin"])
        .await;
    let other_org = boss
        .request(reqwest::Method::DELETE, &format!("/v1/users/{id}/mfa"))
        .send()
        .await
        .unwrap();
    assert_eq!(other_org.status(), 404);
    let key = me.mfa_keys().await.unwrap().items[0].id;
    let one = admin
        .request(
            reqwest::Method::DELETE,
            &format!("/v1/users/{id}/mfa/keys/{key}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(one.status(), 204);
    sign_in(&app, &login_with(None, None, None, false))
        .await
        .expect("factor gone");
    let all = admin
        .request(reqwest::Method::DELETE, &format!("/v1/users/{id}/mfa"))
        .send()
        .await
        .unwrap();
    assert_eq!(all.status(), 204);
    assert_audited(
        &admin,
        Some(id),
        &[
            "mfa.key_created",
            "mfa.enabled",
            "mfa.key_deleted",
            "mfa.disabled",
        ],
    )
    .await;
}

async fn an_organization_can_require_a_second_factor(app: TestServer) {
    let admin = app.admin().await;
    let (_, _) = app.signed_in(ANN).await;
    admin
        .update_org(
            "default",
            &UpdateOrgRequest {
                policy: Some(serde_json::json!({"mfa_required": true})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let pair = sign_in(&app, &login_with(None, None, None, false))
        .await
        .unwrap();
    let limited = app.client().with_token(&pair.access_token);
    limited.me().await.expect("the profile is reachable");
    assert_eq!(
        code(limited.my_sessions().await),
        ProblemCode::Forbidden,
        "nothing else until enrolled"
    );
    assert_eq!(
        code(limited.update_me(&Default::default()).await),
        ProblemCode::Forbidden
    );
    let key = limited.create_mfa_key(Some(USER_PASSWORD)).await.unwrap();
    let secret = base32(&key.secret_base32);
    let now = align(&app);
    limited
        .activate_mfa_key(key.key.id, &totp(&secret, now, 6))
        .await
        .unwrap();
    assert_eq!(
        code(sign_in(&app, &login_with(None, None, None, false)).await),
        ProblemCode::MfaRequired
    );
    app.advance(30);
    let full = sign_in(
        &app,
        &login_with(
            Some(totp(&secret, app.now().timestamp(), 6)),
            None,
            None,
            false,
        ),
    )
    .await
    .unwrap();
    app.client()
        .with_token(&full.access_token)
        .my_sessions()
        .await
        .expect("a full session");
    limited
        .logout()
        .await
        .expect("the enrolment session can sign out");
}

async fn neither_a_reset_nor_a_sign_in_code_skips_the_second_factor(app: TestServer) {
    let (_, secret, _) = enrolled(&app).await;
    let c = app.client();
    app.advance(61);
    c.request(reqwest::Method::POST, "/v1/auth/password/forgot")
        .json(&serde_json::json!({"email": ANN}))
        .send()
        .await
        .unwrap();
    let reset = code_in(
        &app.mail
            .wait_for(1, |m| m.to == ANN && m.subject.contains("Reset"))
            .await[0]
            .text,
    );
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
    let body = LoginRequest {
        password: "a brand new passphrase".into(),
        ..login_with(None, None, None, false)
    };
    assert_eq!(
        code(sign_in(&app, &body).await),
        ProblemCode::MfaRequired,
        "the reset did not remove the factor"
    );
    // Passwordless sign-in asks for it too, and the sign-in code survives the question.
    app.advance(61);
    c.request(reqwest::Method::POST, "/v1/auth/code/request")
        .json(&serde_json::json!({"email": ANN}))
        .send()
        .await
        .unwrap();
    let signin = code_in(
        &app.mail
            .wait_for(1, |m| m.to == ANN && m.subject.contains("sign-in"))
            .await[0]
            .subject,
    );
    let bare = c
        .request(reqwest::Method::POST, "/v1/auth/code/login")
        .json(&serde_json::json!({"email": ANN, "code": signin}))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 401);
    let with = serde_json::json!({"email": ANN, "code": signin, "mfa_code": totp(&secret, app.now().timestamp(), 6)});
    let ok = c
        .request(reqwest::Method::POST, "/v1/auth/code/login")
        .json(&with)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
}

async fn guests_cannot_enrol(app: TestServer) {
    let admin = app.admin().await;
    admin
        .update_org(
            "default",
            &UpdateOrgRequest {
                policy: Some(serde_json::json!({"allow_anonymous": true})),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let guest = app.client().with_token(
        &app.client()
            .register_anonymous(None)
            .await
            .unwrap()
            .access_token,
    );
    assert_eq!(
        code(guest.create_mfa_key(None).await),
        ProblemCode::Forbidden
    );
}

async fn wrong_second_factors_count_toward_lockout(app: TestServer) {
    let (_, secret, _) = enrolled(&app).await;
    let now = app.now().timestamp();
    let wrong = totp(&secret, now + 600, 6);
    for _ in 0..5 {
        assert_eq!(
            code(sign_in(&app, &login_with(Some(wrong.clone()), None, None, false)).await),
            ProblemCode::InvalidCredentials
        );
    }
    app.advance(30);
    let right = totp(&secret, app.now().timestamp(), 6);
    assert_eq!(
        code(sign_in(&app, &login_with(Some(right), None, None, false)).await),
        ProblemCode::AccountLocked
    );
}

both_backends!(
    a_totp_key_is_made_shown_once_and_activated_by_a_code,
    sign_in_asks_for_the_code_allows_one_step_of_skew_and_refuses_replays,
    recovery_codes_work_once_and_can_be_renewed,
    trusted_devices_skip_the_code_until_removed,
    a_code_by_email_is_a_second_factor,
    turning_mfa_off_needs_reauthentication,
    admins_take_a_users_factors_off,
    an_organization_can_require_a_second_factor,
    neither_a_reset_nor_a_sign_in_code_skips_the_second_factor,
    guests_cannot_enrol,
    wrong_second_factors_count_toward_lockout,
);
