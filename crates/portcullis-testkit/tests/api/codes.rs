//! Codes by email and SMS, read out of what a real SMTP server and a real SMS listener
//! received: verification, passwordless sign-in, password recovery, delivery guarantees.

use portcullis_testkit::api::{
    CodeRequest, CodeSubmission, ProblemCode, RegisterRequest, ResetPasswordRequest,
    UpdateUserRequest,
};
use portcullis_testkit::client::{AuditQuery, Client, Error};
use portcullis_testkit::{both_backends, code_in, token_in, TestServer, SMS_SECRET, USER_PASSWORD};
use reqwest::Method;

use crate::{code, fields};

const ANN: &str = "ann@example.com";
const PHONE: &str = "+14155550100";

async fn post<T: serde::Serialize>(
    c: &Client,
    path: &str,
    body: &T,
) -> Result<serde_json::Value, Error> {
    let res = c.request(Method::POST, path).json(body).send().await?;
    let status = res.status();
    let text = res.text().await?;
    if status.is_success() {
        Ok(serde_json::from_str(&text).unwrap_or(serde_json::Value::Null))
    } else {
        let problem = serde_json::from_str(&text).unwrap_or_else(|_| panic!("{status}: {text}"));
        Err(Error::Api {
            status,
            problem: Box::new(problem),
            retry_after: None,
        })
    }
}

fn by_email(email: &str) -> CodeRequest {
    CodeRequest {
        email: Some(email.into()),
        ..Default::default()
    }
}

fn with_code(email: &str, code: &str) -> CodeSubmission {
    CodeSubmission {
        email: Some(email.into()),
        code: Some(code.into()),
        ..Default::default()
    }
}

fn with_phone_code(phone: &str, code: &str) -> CodeSubmission {
    CodeSubmission {
        phone: Some(phone.into()),
        code: Some(code.into()),
        ..Default::default()
    }
}

async fn audit_kinds(app: &TestServer) -> Vec<String> {
    let admin = app.admin().await;
    let events = admin
        .audit_events(&AuditQuery {
            limit: Some(200),
            ..Default::default()
        })
        .await
        .unwrap();
    events.items.into_iter().map(|e| e.kind).collect()
}

/// Waits until the audit log has `n` events of `kind` (work done after a 202 is in the background).
async fn wait_for_audit(app: &TestServer, kind: &str, n: usize) {
    let admin = app.admin().await;
    for _ in 0..150 {
        let q = AuditQuery {
            kind: Some(kind.into()),
            limit: Some(200),
            ..Default::default()
        };
        if admin.audit_events(&q).await.unwrap().items.len() >= n {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {n} {kind} events after 15 s");
}

async fn registration_emails_a_code_that_verifies_the_address(app: TestServer) {
    app.user(ANN).await;
    let mail = app.nth_mail(ANN, 1).await;
    let sent = code_in(&mail.subject);
    assert!(
        mail.text.contains(&sent) && mail.html.contains(&sent),
        "both parts carry the code"
    );
    assert!(
        mail.text.contains("Default"),
        "the organization's name: {}",
        mail.text
    );
    assert!(mail.html.contains(&app.url()), "the issuer's URL");
    assert!(mail.text.contains("10 minutes"));
    let c = app.client();
    post(&c, "/v1/auth/verify", &with_code(ANN, &sent))
        .await
        .unwrap();
    let me = c
        .with_token(&app.login(ANN, USER_PASSWORD).await.access_token)
        .me()
        .await
        .unwrap();
    assert!(me.email_verified);
    let kinds = audit_kinds(&app).await;
    for k in ["code.sent", "address.verified", "message.delivered"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

async fn phone_registration_texts_the_code_through_the_webhook(app: TestServer) {
    let c = app.client();
    c.register(&RegisterRequest {
        phone: Some("+1 (415) 555-0100".into()),
        ..Default::default()
    })
    .await
    .unwrap();
    let sms = app.nth_sms(PHONE, 1).await;
    assert_eq!(sms.via, "webhook");
    assert_eq!(
        sms.authorization.as_deref(),
        Some(format!("Bearer {SMS_SECRET}").as_str())
    );
    assert!(sms.body.len() <= 160);
    let sent = code_in(&sms.body);
    post(
        &c,
        "/v1/auth/verify",
        &with_phone_code("+1 415 555 0100", &sent),
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    let users = admin
        .list_users(&portcullis_testkit::client::UserQuery {
            query: Some("4155550100".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(users.items[0].phone_verified);
}

async fn wrong_codes_count_and_the_fifth_kills_the_code(app: TestServer) {
    app.user(ANN).await;
    let sent = code_in(&app.nth_mail(ANN, 1).await.subject);
    let wrong = if sent == "000000" { "111111" } else { "000000" };
    let c = app.client();
    for _ in 0..5 {
        assert_eq!(
            code(post(&c, "/v1/auth/verify", &with_code(ANN, wrong)).await),
            ProblemCode::CodeInvalid
        );
    }
    assert_eq!(
        code(post(&c, "/v1/auth/verify", &with_code(ANN, &sent)).await),
        ProblemCode::CodeInvalid,
        "dead after five tries"
    );
    assert_eq!(
        code(post(&c, "/v1/auth/verify", &with_code(ANN, "12ab")).await),
        ProblemCode::CodeInvalid
    );
    assert_eq!(
        fields(
            post(
                &c,
                "/v1/auth/verify",
                &CodeSubmission {
                    email: Some(ANN.into()),
                    ..Default::default()
                }
            )
            .await
        ),
        ["code"]
    );
    assert_eq!(
        fields(
            post(
                &c,
                "/v1/auth/verify",
                &CodeSubmission {
                    code: Some(sent.clone()),
                    ..Default::default()
                }
            )
            .await
        ),
        ["email"]
    );
    assert!(
        audit_kinds(&app)
            .await
            .iter()
            .filter(|k| *k == "code.failed")
            .count()
            >= 5
    );
}

async fn expired_codes_answer_code_expired(app: TestServer) {
    app.user(ANN).await;
    let sent = code_in(&app.nth_mail(ANN, 1).await.subject);
    app.advance(10 * 60 + 1);
    assert_eq!(
        code(post(&app.client(), "/v1/auth/verify", &with_code(ANN, &sent)).await),
        ProblemCode::CodeExpired
    );
}

async fn a_code_works_once(app: TestServer) {
    app.user(ANN).await;
    let sent = code_in(&app.nth_mail(ANN, 1).await.subject);
    let c = app.client();
    post(&c, "/v1/auth/verify", &with_code(ANN, &sent))
        .await
        .unwrap();
    assert_eq!(
        code(post(&c, "/v1/auth/verify", &with_code(ANN, &sent)).await),
        ProblemCode::CodeInvalid
    );
}

/// Concurrent requests for one address cannot all pass the one-a-minute rule: the claim is
/// atomic in the database. One is sent; the others answer 429 with `Retry-After`.
async fn concurrent_code_requests_send_one_message(app: TestServer) {
    app.user(ANN).await;
    app.nth_mail(ANN, 1).await;
    app.advance_to_next_minute();
    let requests = (0..8).map(|_| {
        let c = app.client();
        tokio::spawn(async move {
            c.request(Method::POST, "/v1/auth/code/request")
                .json(&by_email(ANN))
                .send()
                .await
                .unwrap()
        })
    });
    let mut statuses = Vec::new();
    for r in requests.collect::<Vec<_>>() {
        let res = r.await.unwrap();
        if res.status() == 429 {
            let wait: u64 = res.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!((1..=60).contains(&wait), "{wait}");
        }
        statuses.push(res.status().as_u16());
    }
    statuses.sort_unstable();
    assert_eq!(statuses, [202, 429, 429, 429, 429, 429, 429, 429]);
    app.nth_mail(ANN, 2).await;
    assert_eq!(
        app.mail.all(|m| m.to == ANN).len(),
        2,
        "one message, not more"
    );
}

async fn a_new_code_retires_the_old_and_resends_are_rate_limited(app: TestServer) {
    app.advance_to_next_minute();
    app.user(ANN).await;
    let first = code_in(&app.nth_mail(ANN, 1).await.subject);
    let c = app.client();
    // Within the minute: refused, saying when to ask again, and nothing sent.
    assert_eq!(
        code(post(&c, "/v1/auth/verify/resend", &by_email(ANN)).await),
        ProblemCode::RateLimited
    );
    assert_eq!(app.mail.all(|m| m.to == ANN).len(), 1);
    app.advance(61);
    post(&c, "/v1/auth/verify/resend", &by_email(ANN))
        .await
        .unwrap();
    let second = code_in(&app.nth_mail(ANN, 2).await.subject);
    if first != second {
        assert_eq!(
            code(post(&c, "/v1/auth/verify", &with_code(ANN, &first)).await),
            ProblemCode::CodeInvalid,
            "retired"
        );
    }
    post(&c, "/v1/auth/verify", &with_code(ANN, &second))
        .await
        .unwrap();
    // Verified addresses get no more verification codes.
    app.advance(61);
    post(&c, "/v1/auth/verify/resend", &by_email(ANN))
        .await
        .unwrap();
    app.advance(61);
    post(&c, "/v1/auth/code/request", &by_email(ANN))
        .await
        .unwrap();
    let login_mail = app.nth_mail(ANN, 3).await;
    assert!(
        login_mail.subject.contains("sign-in"),
        "the third mail is the sign-in code, not another verification"
    );
}

async fn the_daily_cap_holds(app: TestServer) {
    app.user(ANN).await;
    app.nth_mail(ANN, 1).await;
    let c = app.client();
    let logins = |app: &TestServer| {
        app.mail
            .all(|m| m.to == ANN && m.subject.contains("sign-in"))
            .len()
    };
    for i in 1..=12 {
        app.advance(61);
        post(&c, "/v1/auth/code/request", &by_email(ANN))
            .await
            .unwrap();
        // Each request ends in a message or an audited suppression; wait for it before the next.
        if i <= 10 {
            app.mail
                .wait_for(i, |m| m.to == ANN && m.subject.contains("sign-in"))
                .await;
        } else {
            wait_for_audit(&app, "message.suppressed", i - 10).await;
        }
    }
    assert_eq!(logins(&app), 10, "ten a day, then silence");
    let admin = app.admin().await;
    let q = AuditQuery {
        kind: Some("message.suppressed".into()),
        ..Default::default()
    };
    let suppressed = admin.audit_events(&q).await.unwrap().items;
    assert!(suppressed
        .iter()
        .all(|e| e.details["reason"] == "daily_cap"));
    // A day later the cap has rolled over.
    app.advance(24 * 3600);
    post(&c, "/v1/auth/code/request", &by_email(ANN))
        .await
        .unwrap();
    app.mail
        .wait_for(11, |m| m.to == ANN && m.subject.contains("sign-in"))
        .await;
}

async fn unknown_addresses_get_the_same_answers(app: TestServer) {
    app.user(ANN).await;
    // Past the minute of the registration's own verification code.
    app.advance_to_next_minute();
    let c = app.client();
    for path in [
        "/v1/auth/verify/resend",
        "/v1/auth/code/request",
        "/v1/auth/password/forgot",
    ] {
        let known = post(&c, path, &by_email(ANN)).await.unwrap();
        let unknown = post(&c, path, &by_email("nobody@example.com"))
            .await
            .unwrap();
        assert_eq!(known, unknown, "{path}");
        let phone = post(
            &c,
            path,
            &CodeRequest {
                phone: Some("+14155559999".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(known, phone);
        assert_eq!(
            code(post(&c, path, &CodeRequest::default()).await),
            ProblemCode::ValidationFailed
        );
        assert_eq!(
            fields(post(&c, path, &by_email("not-an-email")).await),
            ["email"]
        );
        assert_eq!(
            fields(
                post(
                    &c,
                    path,
                    &CodeRequest {
                        phone: Some("555".into()),
                        ..Default::default()
                    }
                )
                .await
            ),
            ["phone"]
        );
    }
    let unknown = post(
        &c,
        "/v1/auth/code/login",
        &with_code("nobody@example.com", "123456"),
    )
    .await;
    assert_eq!(code(unknown), ProblemCode::CodeInvalid);
    app.nth_mail(ANN, 2).await;
    assert!(app.mail.all(|m| m.to == "nobody@example.com").is_empty());
}

async fn passwordless_sign_in_by_email(app: TestServer) {
    app.user(ANN).await;
    app.nth_mail(ANN, 1).await;
    let c = app.client();
    post(&c, "/v1/auth/code/request", &by_email(ANN))
        .await
        .unwrap();
    let mail = app.nth_mail(ANN, 2).await;
    assert!(mail.subject.contains("sign-in"));
    let wrong = post(&c, "/v1/auth/code/login", &with_code(ANN, "000000")).await;
    if code_in(&mail.subject) != "000000" {
        assert_eq!(code(wrong), ProblemCode::CodeInvalid);
    }
    let pair: portcullis_testkit::api::TokenPair = serde_json::from_value(
        post(
            &c,
            "/v1/auth/code/login",
            &with_code(ANN, &code_in(&mail.subject)),
        )
        .await
        .unwrap(),
    )
    .unwrap();
    let me = c.with_token(&pair.access_token).me().await.unwrap();
    assert!(me.email_verified, "receiving the code proves the address");
    let claims = pair.access_token.split('.').nth(1).unwrap().to_owned();
    let claims: serde_json::Value = serde_json::from_slice(&base64_url(&claims)).unwrap();
    assert_eq!(claims["amr"], serde_json::json!(["otp", "email"]));
    assert_eq!(
        code(
            post(
                &c,
                "/v1/auth/code/login",
                &with_code(ANN, &code_in(&mail.subject))
            )
            .await
        ),
        ProblemCode::CodeInvalid
    );
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

async fn passwordless_sign_in_by_sms(app: TestServer) {
    let c = app.client();
    c.register(&RegisterRequest {
        phone: Some(PHONE.into()),
        ..Default::default()
    })
    .await
    .unwrap();
    app.nth_sms(PHONE, 1).await;
    post(
        &c,
        "/v1/auth/code/request",
        &CodeRequest {
            phone: Some(PHONE.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let sms = app.nth_sms(PHONE, 2).await;
    assert!(sms.body.contains("sign-in"));
    let pair = post(
        &c,
        "/v1/auth/code/login",
        &with_phone_code(PHONE, &code_in(&sms.body)),
    )
    .await
    .unwrap();
    let token = pair["access_token"].as_str().unwrap();
    assert!(c.with_token(token).me().await.unwrap().phone_verified);
}

async fn inactive_accounts_get_no_sign_in_codes(app: TestServer) {
    let user = app.user(ANN).await;
    app.nth_mail(ANN, 1).await;
    let admin = app.admin().await;
    admin
        .update_user(
            user.id,
            &UpdateUserRequest {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let c = app.client();
    post(&c, "/v1/auth/code/request", &by_email(ANN))
        .await
        .unwrap();
    post(&c, "/v1/auth/password/forgot", &by_email(ANN))
        .await
        .unwrap();
    app.user("bob@example.com").await;
    app.nth_mail("bob@example.com", 1).await;
    assert_eq!(
        app.mail.all(|m| m.to == ANN).len(),
        1,
        "only the first verification code"
    );
}

/// Thirty wrong codes and the right one fired at once at `password/verify`: no more than
/// five are compared (five `code.failed` at most), and the right one is accepted only while
/// a try was left for it; after five wrong ones it is refused.
async fn parallel_guesses_get_no_more_than_five_tries(app: TestServer) {
    app.user(ANN).await;
    app.nth_mail(ANN, 1).await;
    let c = app.client();
    post(&c, "/v1/auth/password/forgot", &by_email(ANN))
        .await
        .unwrap();
    let sent = code_in(&app.nth_mail(ANN, 2).await.text);
    let guesses: Vec<_> = (0..31)
        .map(|i| {
            let c = app.client();
            let guess = if i == 15 {
                sent.clone()
            } else {
                format!("{:06}", (sent.parse::<u32>().unwrap() + 1 + i) % 1_000_000)
            };
            tokio::spawn(async move {
                post(&c, "/v1/auth/password/verify", &with_code(ANN, &guess))
                    .await
                    .is_ok()
            })
        })
        .collect();
    let mut accepted = Vec::new();
    for g in guesses {
        accepted.push(g.await.unwrap());
    }
    let admin = app.admin().await;
    let failed = admin
        .audit_events(&AuditQuery {
            kind: Some("code.failed".into()),
            limit: Some(200),
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .len();
    assert!(failed <= 5, "{failed} wrong codes were compared");
    assert!(!accepted.iter().enumerate().any(|(i, ok)| *ok && i != 15));
    // Past the burst's rate-limit minute, within the code's lifetime.
    app.advance(61);
    let now = post(&c, "/v1/auth/password/verify", &with_code(ANN, &sent)).await;
    if failed == 5 {
        assert_eq!(
            code(now),
            ProblemCode::CodeInvalid,
            "dead after five wrong tries"
        );
    }
}

async fn a_forgotten_password_is_reset_by_code(app: TestServer) {
    app.user(ANN).await;
    app.nth_mail(ANN, 1).await;
    let old_session = app.login(ANN, USER_PASSWORD).await;
    let c = app.client();
    post(&c, "/v1/auth/password/forgot", &by_email(ANN))
        .await
        .unwrap();
    let mail = app.nth_mail(ANN, 2).await;
    let sent = code_in(&mail.text);
    assert!(
        mail.text.contains("https://app.example/reset?token="),
        "{}",
        mail.text
    );
    let valid = post(&c, "/v1/auth/password/verify", &with_code(ANN, &sent))
        .await
        .unwrap();
    assert_eq!(valid, serde_json::json!({"valid": true}));
    let weak = ResetPasswordRequest {
        proof: with_code(ANN, &sent),
        new_password: "password".into(),
        ..Default::default()
    };
    assert_eq!(
        code(post(&c, "/v1/auth/password/reset", &weak).await),
        ProblemCode::WeakPassword
    );
    let missing = ResetPasswordRequest {
        proof: with_code(ANN, &sent),
        new_password: String::new(),
        ..Default::default()
    };
    assert_eq!(
        fields(post(&c, "/v1/auth/password/reset", &missing).await),
        ["new_password"]
    );
    let good = ResetPasswordRequest {
        proof: with_code(ANN, &sent),
        new_password: "a brand new passphrase".into(),
        ..Default::default()
    };
    post(&c, "/v1/auth/password/reset", &good)
        .await
        .expect("the weak try did not burn the code");
    assert_eq!(
        code(post(&c, "/v1/auth/password/reset", &good).await),
        ProblemCode::CodeInvalid,
        "once"
    );
    assert_eq!(
        code(c.with_token(&old_session.access_token).me().await),
        ProblemCode::TokenInvalid,
        "every session ended"
    );
    assert_eq!(
        code(app.try_login(ANN, USER_PASSWORD).await),
        ProblemCode::InvalidCredentials
    );
    app.login(ANN, "a brand new passphrase").await;
    let notice = app.nth_mail(ANN, 3).await;
    assert!(
        notice.text.contains("Your password was reset."),
        "{}",
        notice.text
    );
    assert!(audit_kinds(&app)
        .await
        .iter()
        .any(|k| k == "password.reset"));
}

async fn a_forgotten_password_is_reset_by_link(app: TestServer) {
    app.user(ANN).await;
    app.nth_mail(ANN, 1).await;
    let c = app.client();
    post(&c, "/v1/auth/password/forgot", &by_email(ANN))
        .await
        .unwrap();
    let token = token_in(&app.nth_mail(ANN, 2).await.text);
    assert_eq!(token.len(), 43, "256 bits");
    let by_token = |t: &str| CodeSubmission {
        token: Some(t.into()),
        ..Default::default()
    };
    post(&c, "/v1/auth/password/verify", &by_token(&token))
        .await
        .unwrap();
    assert_eq!(
        code(post(&c, "/v1/auth/password/verify", &by_token("forged-token")).await),
        ProblemCode::CodeInvalid
    );
    let reset = ResetPasswordRequest {
        proof: by_token(&token),
        new_password: "a brand new passphrase".into(),
        ..Default::default()
    };
    post(&c, "/v1/auth/password/reset", &reset).await.unwrap();
    assert_eq!(
        code(post(&c, "/v1/auth/password/reset", &reset).await),
        ProblemCode::CodeInvalid
    );
    app.login(ANN, "a brand new passphrase").await;
    // A link past its time.
    app.advance(61);
    post(&c, "/v1/auth/password/forgot", &by_email(ANN))
        .await
        .unwrap();
    let late = token_in(&app.nth_mail(ANN, 4).await.text);
    app.advance(11 * 60);
    assert_eq!(
        code(post(&c, "/v1/auth/password/verify", &by_token(&late)).await),
        ProblemCode::CodeExpired
    );
}

async fn admins_send_verification_codes(app: TestServer) {
    let ann = app.user(ANN).await;
    app.nth_mail(ANN, 1).await;
    let admin = app.admin().await;
    let path = format!("/v1/users/{}/verification-code", ann.id);
    app.advance(61);
    let answer = post(&admin, &path, &serde_json::json!({})).await.unwrap();
    assert_eq!(answer["status"], "sent");
    let sent = code_in(&app.nth_mail(ANN, 2).await.subject);
    post(&app.client(), "/v1/auth/verify", &with_code(ANN, &sent))
        .await
        .unwrap();
    assert_eq!(
        fields(post(&admin, &path, &serde_json::json!({"channel": "sms"})).await),
        ["channel"]
    );
    assert_eq!(
        fields(post(&admin, &path, &serde_json::json!({"channel": "pigeon"})).await),
        ["channel"]
    );
    let missing = format!("/v1/users/{}/verification-code", uuid::Uuid::now_v7());
    assert_eq!(
        code(post(&admin, &missing, &serde_json::json!({})).await),
        ProblemCode::NotFound
    );
    let (_, me) = app.signed_in("bob@example.com").await;
    assert_eq!(
        code(post(&me, &path, &serde_json::json!({})).await),
        ProblemCode::Forbidden
    );
    // Within the minute of the last code: refused with the time to wait, not "sent".
    app.advance_to_next_minute();
    post(&admin, &path, &serde_json::json!({})).await.unwrap();
    let again = admin.request(Method::POST, &path).send().await.unwrap();
    assert_eq!(again.status(), 429);
    assert!(again.headers().get("retry-after").is_some());
    app.advance(61);
    let no_body = admin.request(Method::POST, &path).send().await.unwrap();
    assert_eq!(no_body.status(), 202, "the body is optional");
}

async fn changing_the_email_verifies_the_new_and_tells_the_old(app: TestServer) {
    app.user(ANN).await;
    let sent = code_in(&app.nth_mail(ANN, 1).await.subject);
    let c = app.client();
    post(&c, "/v1/auth/verify", &with_code(ANN, &sent))
        .await
        .unwrap();
    let me = c.with_token(&app.login(ANN, USER_PASSWORD).await.access_token);
    let user = me
        .update_me(&UpdateUserRequest {
            email: Some(Some("ann@new.example".into())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!user.email_verified);
    let new_code = code_in(&app.nth_mail("ann@new.example", 1).await.subject);
    let notice = app.nth_mail(ANN, 2).await;
    assert!(
        notice
            .text
            .contains("email address of your account was changed"),
        "{}",
        notice.text
    );
    post(
        &c,
        "/v1/auth/verify",
        &with_code("ann@new.example", &new_code),
    )
    .await
    .unwrap();
    assert!(me.me().await.unwrap().email_verified);
    me.change_password(USER_PASSWORD, "a brand new passphrase")
        .await
        .unwrap();
    let notice = app.nth_mail("ann@new.example", 2).await;
    assert!(notice.text.contains("password of your account was changed"));
    let phone = me
        .update_me(&UpdateUserRequest {
            phone: Some(Some(PHONE.into())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!phone.phone_verified);
    let sms = app.nth_sms(PHONE, 1).await;
    post(
        &c,
        "/v1/auth/verify",
        &with_phone_code(PHONE, &code_in(&sms.body)),
    )
    .await
    .unwrap();
}

async fn pending_messages_survive_a_worker_crash_and_go_out_once(app: TestServer) {
    let app = app.restart_with(|c| c.outbox_worker = false).await;
    app.user(ANN).await;
    // A worker leases the message and dies before sending it.
    let db = portcullis_store::Database::connect(&app.config().database_url(), &Default::default())
        .await
        .unwrap();
    let store = db.store();
    let now = app.now() + chrono::Duration::seconds(1);
    let leased = store
        .claim_messages(now, now + chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert!(
        !leased[0].payload.contains("verification"),
        "queued messages are sealed, not in clear"
    );
    db.close().await;
    let app = app.restart_with(|c| c.outbox_worker = true).await;
    // Once the dead worker's lease runs out, the new worker sends it.
    app.advance(61);
    let first = app.nth_mail(ANN, 1).await;
    app.advance(61);
    post(&app.client(), "/v1/auth/code/request", &by_email(ANN))
        .await
        .unwrap();
    app.nth_mail(ANN, 2).await;
    let all = app.mail.all(|m| m.to == ANN);
    assert_eq!(all.len(), 2, "the leased message went out once");
    assert_eq!(all[0].subject, first.subject);
}

async fn messages_that_fail_are_retried(app: TestServer) {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("smtp://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let sink = app.config().smtp_url.clone();
    let app = app.restart_with(move |c| c.smtp_url = Some(dead)).await;
    app.user(ANN).await;
    // Wait until the worker has failed once and scheduled a retry.
    let db = portcullis_store::Database::connect(&app.config().database_url(), &Default::default())
        .await
        .unwrap();
    for attempt in 0.. {
        if db.store().outbox_stats().await.unwrap().retrying == 1 {
            break;
        }
        assert!(attempt < 150, "no failed delivery after 15 s");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    db.close().await;
    // Then give it a working server, and time past the backoff.
    let app = app.restart_with(move |c| c.smtp_url = sink).await;
    app.advance(3600);
    let mail = app.nth_mail(ANN, 1).await;
    assert!(mail.subject.contains("verification"));
    assert_eq!(app.mail.all(|m| m.to == ANN).len(), 1);
    let metrics = app.metrics().await;
    assert!(metrics.contains("portcullis_outbox_messages"), "{metrics}");
}

both_backends!(
    registration_emails_a_code_that_verifies_the_address,
    phone_registration_texts_the_code_through_the_webhook,
    wrong_codes_count_and_the_fifth_kills_the_code,
    parallel_guesses_get_no_more_than_five_tries,
    expired_codes_answer_code_expired,
    a_code_works_once,
    a_new_code_retires_the_old_and_resends_are_rate_limited,
    concurrent_code_requests_send_one_message,
    the_daily_cap_holds,
    unknown_addresses_get_the_same_answers,
    passwordless_sign_in_by_email,
    passwordless_sign_in_by_sms,
    inactive_accounts_get_no_sign_in_codes,
    a_forgotten_password_is_reset_by_code,
    a_forgotten_password_is_reset_by_link,
    admins_send_verification_codes,
    changing_the_email_verifies_the_new_and_tells_the_old,
    pending_messages_survive_a_worker_crash_and_go_out_once,
    messages_that_fail_are_retried,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn texts_go_through_a_twilio_compatible_api() {
    let app = TestServer::spawn(portcullis_testkit::Backend::Sqlite)
        .await
        .unwrap();
    let base = app.sms_url().to_owned();
    let app = app
        .restart_with(move |c| {
            c.sms_webhook_url = None;
            c.twilio_account_sid = Some("AC123".into());
            c.twilio_auth_token = Some("tw-secret".into());
            c.twilio_from = Some("+14155550000".into());
            c.twilio_base_url = base;
        })
        .await;
    app.client()
        .register(&RegisterRequest {
            phone: Some(PHONE.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let sms = app.nth_sms(PHONE, 1).await;
    assert_eq!(sms.via, "twilio");
    assert!(sms
        .authorization
        .as_deref()
        .is_some_and(|a| a.starts_with("Basic ")));
    code_in(&sms.body);
}
