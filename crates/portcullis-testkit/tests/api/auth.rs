//! Registration, login, refresh and logout.

use portcullis_testkit::api::{LoginRequest, ProblemCode, RegisterRequest};
use portcullis_testkit::{both_backends, TestServer, USER_PASSWORD};

use crate::{code, fields};

fn reg(email: &str, password: &str) -> RegisterRequest {
    RegisterRequest {
        email: Some(email.into()),
        password: Some(password.into()),
        ..Default::default()
    }
}

fn login(identifier: &str, password: &str) -> LoginRequest {
    LoginRequest {
        identifier: identifier.into(),
        password: password.into(),
        organization: None,
        ..Default::default()
    }
}

async fn register_answers_the_new_user(app: TestServer) {
    let user = app
        .client()
        .register(&RegisterRequest {
            email: Some(" Ann@Example.COM ".into()),
            password: Some(USER_PASSWORD.into()),
            username: Some("ann_lee".into()),
            first_name: Some("Ann".into()),
            last_name: Some("Lee".into()),
            attributes: Some(serde_json::json!({"gender": "female", "dropped": null})),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("ann@example.com"));
    assert_eq!(user.organization, "default");
    assert!(!user.email_verified && user.active && !user.anonymous && !user.mfa_enabled);
    assert_eq!(user.username.as_deref(), Some("ann_lee"));
    assert_eq!(
        user.roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["user"]
    );
    assert_eq!(
        serde_json::Value::Object(user.attributes),
        serde_json::json!({"gender": "female"})
    );
    assert!(user.last_login_at.is_none());
}

async fn register_with_a_phone_alone(app: TestServer) {
    let user = app
        .client()
        .register(&RegisterRequest {
            phone: Some("+1 (415) 555-0100".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(user.phone.as_deref(), Some("+14155550100"));
    assert!(user.email.is_none() && !user.phone_verified);
    let again = app
        .client()
        .register(&RegisterRequest {
            phone: Some("+14155550100".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(code(again), ProblemCode::Duplicate);
}

async fn register_refuses_taken_addresses_and_names(app: TestServer) {
    let c = app.client();
    c.register(&RegisterRequest {
        username: Some("Ann".into()),
        ..reg("ann@example.com", USER_PASSWORD)
    })
    .await
    .unwrap();
    let dup = c.register(&reg("ANN@example.com", USER_PASSWORD)).await;
    assert_eq!(
        fields(c.register(&reg("ann@example.com", USER_PASSWORD)).await),
        ["email"]
    );
    assert_eq!(code(dup), ProblemCode::Duplicate);
    let same_name = c
        .register(&RegisterRequest {
            username: Some("ANN".into()),
            ..reg("other@example.com", USER_PASSWORD)
        })
        .await;
    assert_eq!(code(same_name), ProblemCode::Duplicate);
}

async fn register_refuses_weak_passwords(app: TestServer) {
    let c = app.client();
    for pw in [
        "short",
        "password1",
        "qwertyuiop",
        "annlee-secret-9",
        &"x".repeat(129),
    ] {
        let r = c.register(&reg("annlee@example.com", pw)).await;
        assert_eq!(code(r), ProblemCode::WeakPassword, "{pw}");
    }
    let r = c.register(&reg("annlee@example.com", "pass")).await;
    assert_eq!(fields(r), ["password"]);
    c.register(&reg("annlee@example.com", "a perfectly fine passphrase"))
        .await
        .expect("a good password is taken");
}

async fn register_refuses_malformed_fields_all_at_once(app: TestServer) {
    let c = app.client();
    let r = c
        .register(&RegisterRequest {
            email: Some("not-an-email".into()),
            password: Some(USER_PASSWORD.into()),
            phone: Some("555".into()),
            username: Some("a".into()),
            ..Default::default()
        })
        .await;
    let mut f = fields(r);
    f.sort();
    assert_eq!(f, ["email", "phone", "username"]);
    assert_eq!(
        code(c.register(&RegisterRequest::default()).await),
        ProblemCode::ValidationFailed
    );
    let no_password = c
        .register(&RegisterRequest {
            email: Some("a@example.com".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(fields(no_password), ["password"]);
    let unknown_org = c
        .register(&RegisterRequest {
            organization: Some("nope".into()),
            ..reg("a@example.com", USER_PASSWORD)
        })
        .await;
    assert_eq!(fields(unknown_org), ["organization"]);
    let attrs = c
        .register(&RegisterRequest {
            attributes: Some(serde_json::json!([1])),
            ..reg("a@example.com", USER_PASSWORD)
        })
        .await;
    assert_eq!(fields(attrs), ["attributes"]);
}

async fn login_accepts_email_username_or_phone(app: TestServer) {
    let c = app.client();
    c.register(&RegisterRequest {
        username: Some("AnnLee".into()),
        phone: Some("+14155550100".into()),
        ..reg("ann@example.com", USER_PASSWORD)
    })
    .await
    .unwrap();
    for id in [
        "ann@example.com",
        "ANN@EXAMPLE.COM",
        "annlee",
        "AnnLee",
        "+1 415 555 0100",
    ] {
        let pair = c
            .login(&login(id, USER_PASSWORD))
            .await
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        assert_eq!(pair.token_type, "Bearer");
        assert_eq!(pair.expires_in, 900);
        assert_eq!(pair.user.email.as_deref(), Some("ann@example.com"));
        assert!(pair.user.last_login_at.is_some());
    }
}

async fn wrong_password_and_unknown_user_answer_alike(app: TestServer) {
    app.user("ann@example.com").await;
    let c = app.client();
    let wrong = c
        .login(&login("ann@example.com", "not the password"))
        .await
        .unwrap_err();
    let unknown = c
        .login(&login("nobody@example.com", "not the password"))
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some(ProblemCode::InvalidCredentials));
    assert_eq!(wrong.status(), unknown.status());
    assert_eq!(
        wrong.problem(),
        unknown.problem(),
        "the bodies do not tell which accounts exist"
    );
    let empty = c.login(&login("ann@example.com", "")).await;
    assert_eq!(code(empty), ProblemCode::ValidationFailed);
    assert_eq!(
        code(c.login(&login("   ", "x")).await),
        ProblemCode::ValidationFailed
    );
}

async fn access_tokens_are_eddsa_jwts_verifiable_with_the_jwks(app: TestServer) {
    let (pair, _) = app.signed_in("ann@example.com").await;
    let header = jsonwebtoken::decode_header(&pair.access_token).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::EdDSA);
    let jwks = app.client().jwks().await.unwrap();
    let key = jwks
        .keys
        .iter()
        .find(|k| Some(&k.kid) == header.kid.as_ref())
        .expect("kid is published");
    assert_eq!(key.alg, "EdDSA");
    let decoding =
        jsonwebtoken::DecodingKey::from_ed_components(key.x.as_deref().unwrap()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::EdDSA);
    validation.set_issuer(&[app.url()]);
    let claims =
        jsonwebtoken::decode::<serde_json::Value>(&pair.access_token, &decoding, &validation)
            .unwrap()
            .claims;
    assert_eq!(claims["sub"], pair.user.id.to_string());
    assert_eq!(claims["org"], "default");
    assert_eq!(claims["roles"], serde_json::json!(["user"]));
    assert_eq!(claims["amr"], serde_json::json!(["pwd"]));
    assert!(claims["sid"].as_str().is_some_and(|s| s.len() == 36));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
}

async fn refresh_rotates_and_the_old_token_dies(app: TestServer) {
    let (pair, _) = app.signed_in("ann@example.com").await;
    let c = app.client();
    let next = c.refresh(&pair.refresh_token).await.unwrap();
    assert_ne!(next.refresh_token, pair.refresh_token);
    assert_ne!(next.access_token, pair.access_token);
    assert_eq!(next.user.id, pair.user.id);
    let again = c.refresh(&next.refresh_token).await.unwrap();
    c.with_token(&again.access_token).me().await.unwrap();
}

async fn reused_refresh_token_revokes_the_session(app: TestServer) {
    let (pair, _) = app.signed_in("ann@example.com").await;
    let c = app.client();
    let next = c.refresh(&pair.refresh_token).await.unwrap();
    assert_eq!(
        code(c.refresh(&pair.refresh_token).await),
        ProblemCode::TokenReused
    );
    // The whole family is dead, at once: the newest refresh token and every access token.
    assert_eq!(
        code(c.refresh(&next.refresh_token).await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(c.with_token(&next.access_token).me().await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(c.with_token(&pair.access_token).me().await),
        ProblemCode::TokenInvalid
    );
    let admin = app.admin().await;
    let events = admin
        .audit_events(&portcullis_testkit::client::AuditQuery {
            kind: Some("token.reused".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(events.items.len(), 1);
    assert_eq!(events.items[0].user_id, Some(pair.user.id));
}

async fn unknown_refresh_tokens_are_invalid(app: TestServer) {
    let c = app.client();
    assert_eq!(
        code(c.refresh("not-a-token").await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(code(c.refresh("").await), ProblemCode::TokenInvalid);
    assert_eq!(
        code(c.refresh(&"x".repeat(5000)).await),
        ProblemCode::TokenInvalid
    );
}

async fn logout_ends_this_session_on_the_next_request(app: TestServer) {
    let (first, me1) = app.signed_in("ann@example.com").await;
    let second = app.login("ann@example.com", USER_PASSWORD).await;
    me1.logout().await.unwrap();
    assert_eq!(
        code(me1.me().await),
        ProblemCode::TokenInvalid,
        "the very next request"
    );
    assert_eq!(
        code(app.client().refresh(&first.refresh_token).await),
        ProblemCode::TokenInvalid
    );
    app.client()
        .with_token(&second.access_token)
        .me()
        .await
        .expect("the other session lives");
    assert_eq!(code(me1.logout().await), ProblemCode::TokenInvalid);
}

async fn logout_all_ends_every_session(app: TestServer) {
    let (_, me1) = app.signed_in("ann@example.com").await;
    let second = app.login("ann@example.com", USER_PASSWORD).await;
    me1.logout_all().await.unwrap();
    assert_eq!(code(me1.me().await), ProblemCode::TokenInvalid);
    assert_eq!(
        code(app.client().with_token(&second.access_token).me().await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(app.client().refresh(&second.refresh_token).await),
        ProblemCode::TokenInvalid
    );
    app.login("ann@example.com", USER_PASSWORD).await;
}

async fn protected_routes_need_a_valid_bearer_token(app: TestServer) {
    let c = app.client();
    assert_eq!(code(c.me().await), ProblemCode::Unauthorized);
    let basic = c
        .request(reqwest::Method::GET, "/v1/users/me")
        .basic_auth("a", Some("b"))
        .send()
        .await
        .unwrap();
    assert_eq!(basic.status(), 401);
    assert_eq!(
        code(c.with_token("garbage").me().await),
        ProblemCode::TokenInvalid
    );
    let (pair, _) = app.signed_in("ann@example.com").await;
    let mut forged = pair.access_token.clone();
    forged.pop();
    forged.push(if pair.access_token.ends_with('A') {
        'B'
    } else {
        'A'
    });
    assert_eq!(
        code(c.with_token(&forged).me().await),
        ProblemCode::TokenInvalid
    );
}

both_backends!(
    register_answers_the_new_user,
    register_with_a_phone_alone,
    register_refuses_taken_addresses_and_names,
    register_refuses_weak_passwords,
    register_refuses_malformed_fields_all_at_once,
    login_accepts_email_username_or_phone,
    wrong_password_and_unknown_user_answer_alike,
    access_tokens_are_eddsa_jwts_verifiable_with_the_jwks,
    refresh_rotates_and_the_old_token_dies,
    reused_refresh_token_revokes_the_session,
    unknown_refresh_tokens_are_invalid,
    logout_ends_this_session_on_the_next_request,
    logout_all_ends_every_session,
    protected_routes_need_a_valid_bearer_token,
);
