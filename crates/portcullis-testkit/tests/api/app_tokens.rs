//! Application tokens: shown once, exchanged for access tokens, revoked with effect at once.

use portcullis_testkit::api::{CreateAppTokenRequest, ProblemCode, UpdateUserRequest};
use portcullis_testkit::{both_backends, TestServer};

use crate::{code, fields};

fn made(description: &str) -> CreateAppTokenRequest {
    CreateAppTokenRequest {
        description: description.into(),
        expires_at: None,
    }
}

fn claims(jwt: &str) -> serde_json::Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .unwrap(),
    )
    .unwrap()
}

async fn app_tokens_are_shown_once_and_exchanged_for_access_tokens(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let created = me.create_app_token(&made("nightly backup")).await.unwrap();
    assert!(created.token.starts_with("pct_") && created.token.len() == 47);
    assert_eq!(created.details.prefix, created.token[..10]);
    let list = me.app_tokens().await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert!(
        !serde_json::to_string(&list)
            .unwrap()
            .contains(&created.token),
        "the secret is never listed"
    );
    let raw = app
        .client()
        .request(reqwest::Method::POST, "/v1/auth/app-token")
        .json(&serde_json::json!({"token": created.token}))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = raw.json().await.unwrap();
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token: {body}"
    );
    let access = app
        .client()
        .exchange_app_token(&created.token)
        .await
        .unwrap();
    assert_eq!(access.token_type, "Bearer");
    assert_eq!(access.expires_in, 900);
    let bot = app.client().with_token(&access.access_token);
    assert_eq!(bot.me().await.unwrap().id, pair.user.id);
    assert_eq!(
        claims(&access.access_token)["amr"],
        serde_json::json!(["app_token"])
    );
    assert!(me.app_tokens().await.unwrap().items[0]
        .last_used_at
        .is_some());
    let mut wrong = created.token.clone();
    wrong.pop();
    wrong.push('x');
    assert_eq!(
        code(app.client().exchange_app_token(&wrong).await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(app.client().exchange_app_token("garbage").await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        fields(me.create_app_token(&made("  ")).await),
        ["description"]
    );
    let past = CreateAppTokenRequest {
        description: "x".into(),
        expires_at: Some(app.now() - chrono::Duration::hours(1)),
    };
    assert_eq!(fields(me.create_app_token(&past).await), ["expires_at"]);
}

async fn revoking_an_app_token_ends_its_access_tokens_at_once(app: TestServer) {
    let (_, me) = app.signed_in("ann@example.com").await;
    let created = me.create_app_token(&made("ci")).await.unwrap();
    let bot = app.client().with_token(
        &app.client()
            .exchange_app_token(&created.token)
            .await
            .unwrap()
            .access_token,
    );
    bot.me().await.unwrap();
    me.delete_app_token(created.details.id).await.unwrap();
    assert_eq!(
        code(bot.me().await),
        ProblemCode::TokenInvalid,
        "the very next request"
    );
    assert_eq!(
        code(app.client().exchange_app_token(&created.token).await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(me.delete_app_token(created.details.id).await),
        ProblemCode::NotFound
    );
    me.me().await.expect("the owner's own session is untouched");
    let (_, bob) = app.signed_in("bob@example.com").await;
    let bobs = bob.create_app_token(&made("bob's")).await.unwrap();
    assert_eq!(
        code(me.delete_app_token(bobs.details.id).await),
        ProblemCode::NotFound,
        "not someone else's"
    );
    app.client().exchange_app_token(&bobs.token).await.unwrap();
}

async fn app_tokens_expire(app: TestServer) {
    let (_, me) = app.signed_in("ann@example.com").await;
    let at = app.now() + chrono::Duration::minutes(10);
    let created = me
        .create_app_token(&CreateAppTokenRequest {
            description: "short".into(),
            expires_at: Some(at),
        })
        .await
        .unwrap();
    let access = app
        .client()
        .exchange_app_token(&created.token)
        .await
        .unwrap();
    assert!(access.expires_in <= 600, "never past the token's own end");
    app.advance(601);
    assert_eq!(
        code(app.client().exchange_app_token(&created.token).await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(app.client().with_token(&access.access_token).me().await),
        ProblemCode::TokenInvalid
    );
}

async fn app_tokens_go_with_their_user(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let created = me.create_app_token(&made("ci")).await.unwrap();
    let admin = app.admin().await;
    admin
        .update_user(
            pair.user.id,
            &UpdateUserRequest {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        code(app.client().exchange_app_token(&created.token).await),
        ProblemCode::AccountInactive
    );
    admin
        .update_user(
            pair.user.id,
            &UpdateUserRequest {
                active: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    app.client()
        .exchange_app_token(&created.token)
        .await
        .unwrap();
    admin.delete_user(pair.user.id).await.unwrap();
    assert_eq!(
        code(app.client().exchange_app_token(&created.token).await),
        ProblemCode::TokenInvalid
    );
}

async fn admins_list_and_revoke_a_users_app_tokens(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let created = me.create_app_token(&made("ci")).await.unwrap();
    let admin = app.admin().await;
    let listed = admin.user_app_tokens(pair.user.id).await.unwrap();
    assert_eq!(
        listed.items.iter().map(|t| t.id).collect::<Vec<_>>(),
        [created.details.id]
    );
    assert_eq!(
        code(me.user_app_tokens(pair.user.id).await),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(admin.user_app_tokens(uuid::Uuid::now_v7()).await),
        ProblemCode::NotFound
    );
    admin
        .delete_user_app_token(pair.user.id, created.details.id)
        .await
        .unwrap();
    assert_eq!(
        code(app.client().exchange_app_token(&created.token).await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(
            admin
                .delete_user_app_token(pair.user.id, created.details.id)
                .await
        ),
        ProblemCode::NotFound
    );
    let kinds: Vec<String> = admin
        .audit_events(&portcullis_testkit::client::AuditQuery {
            user_id: Some(pair.user.id),
            ..Default::default()
        })
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(
        kinds.contains(&"app_token.created".to_owned())
            && kinds.contains(&"app_token.revoked".to_owned())
    );
}

both_backends!(
    app_tokens_are_shown_once_and_exchanged_for_access_tokens,
    revoking_an_app_token_ends_its_access_tokens_at_once,
    app_tokens_expire,
    app_tokens_go_with_their_user,
    admins_list_and_revoke_a_users_app_tokens,
);
