//! The signed-in user's own account.

use portcullis_testkit::api::{ProblemCode, RegisterRequest, UpdateUserRequest};
use portcullis_testkit::{both_backends, TestServer, USER_PASSWORD};

use crate::{code, fields};

async fn me_answers_the_signed_in_user_and_roles(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let user = me.me().await.unwrap();
    assert_eq!(user.id, pair.user.id);
    let roles = me.my_roles().await.unwrap().roles;
    assert_eq!(roles.len(), 1);
    assert_eq!(roles[0].name, "user");
    assert_eq!(roles[0].added_at, user.roles[0].added_at);
}

async fn update_me_changes_only_what_is_sent(app: TestServer) {
    let c = app.client();
    c.register(&RegisterRequest {
        email: Some("ann@example.com".into()),
        password: Some(USER_PASSWORD.into()),
        first_name: Some("Ann".into()),
        last_name: Some("Lee".into()),
        attributes: Some(serde_json::json!({"a": 1, "b": 2})),
        ..Default::default()
    })
    .await
    .unwrap();
    let pair = app.login("ann@example.com", USER_PASSWORD).await;
    let me = c.with_token(&pair.access_token);
    let body: UpdateUserRequest = serde_json::from_value(serde_json::json!({
        "first_name": "Anne", "last_name": null, "attributes": {"a": null, "c": 3}, "phone": "+14155550100"
    }))
    .unwrap();
    let user = me.update_me(&body).await.unwrap();
    assert_eq!(user.first_name.as_deref(), Some("Anne"));
    assert_eq!(user.last_name, None, "null clears");
    assert_eq!(
        user.email.as_deref(),
        Some("ann@example.com"),
        "absent is kept"
    );
    assert_eq!(user.phone.as_deref(), Some("+14155550100"));
    assert!(!user.phone_verified);
    assert_eq!(
        serde_json::Value::Object(user.attributes),
        serde_json::json!({"b": 2, "c": 3})
    );
    assert_eq!(
        me.me().await.unwrap().first_name.as_deref(),
        Some("Anne"),
        "stored"
    );
    assert!(user.updated_at > pair.user.updated_at);
}

async fn update_me_refuses_roles_bad_fields_and_taken_names(app: TestServer) {
    app.user("bob@example.com").await;
    let (_, me) = app.signed_in("ann@example.com").await;
    let roles: UpdateUserRequest =
        serde_json::from_value(serde_json::json!({"roles": ["system_admin"]})).unwrap();
    assert_eq!(fields(me.update_me(&roles).await), ["roles"]);
    assert_eq!(
        me.my_roles().await.unwrap().roles.len(),
        1,
        "nothing granted"
    );
    let bad = UpdateUserRequest {
        phone: Some(Some("12".into())),
        email: Some(Some("x".into())),
        ..Default::default()
    };
    assert_eq!(
        code(me.update_me(&bad).await),
        ProblemCode::ValidationFailed
    );
    let taken = UpdateUserRequest {
        email: Some(Some("BOB@example.com".into())),
        ..Default::default()
    };
    assert_eq!(code(me.update_me(&taken).await), ProblemCode::Duplicate);
    let nothing_left = UpdateUserRequest {
        email: Some(None),
        ..Default::default()
    };
    assert_eq!(fields(me.update_me(&nothing_left).await), ["email"]);
    let unknown = me
        .request(reqwest::Method::PATCH, "/v1/users/me")
        .json(&serde_json::json!({"emial": "typo@example.com"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown.status(),
        400,
        "unknown fields are refused, not ignored"
    );
    assert_eq!(
        me.me().await.unwrap().email.as_deref(),
        Some("ann@example.com")
    );
}

async fn a_new_email_is_unverified_and_signs_in(app: TestServer) {
    let (_, me) = app.signed_in("ann@example.com").await;
    let user = me
        .update_me(&UpdateUserRequest {
            email: Some(Some("ann@new.example".into())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(user.email.as_deref(), Some("ann@new.example"));
    assert!(!user.email_verified);
    app.login("ann@new.example", USER_PASSWORD).await;
    assert_eq!(
        code(app.try_login("ann@example.com", USER_PASSWORD).await),
        ProblemCode::InvalidCredentials
    );
}

async fn change_password_keeps_this_session_and_ends_the_others(app: TestServer) {
    let (_, me) = app.signed_in("ann@example.com").await;
    let other = app.login("ann@example.com", USER_PASSWORD).await;
    assert_eq!(
        code(
            me.change_password("wrong password", "a brand new passphrase")
                .await
        ),
        ProblemCode::InvalidCredentials
    );
    assert_eq!(
        code(me.change_password(USER_PASSWORD, "password").await),
        ProblemCode::WeakPassword
    );
    assert_eq!(
        fields(me.change_password(USER_PASSWORD, "").await),
        ["new_password"]
    );
    assert_eq!(
        fields(me.change_password("", "a brand new passphrase").await),
        ["current_password"]
    );
    me.change_password(USER_PASSWORD, "a brand new passphrase")
        .await
        .unwrap();
    me.me().await.expect("this session lives on");
    assert_eq!(
        code(app.client().with_token(&other.access_token).me().await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(app.client().refresh(&other.refresh_token).await),
        ProblemCode::TokenInvalid
    );
    let old = app.try_login("ann@example.com", USER_PASSWORD).await;
    assert_eq!(code(old), ProblemCode::InvalidCredentials);
    app.login("ann@example.com", "a brand new passphrase").await;
}

async fn sessions_are_listed_and_ended_one_by_one(app: TestServer) {
    let (_, me) = app.signed_in("ann@example.com").await;
    let other = app.login("ann@example.com", USER_PASSWORD).await;
    let list = me.my_sessions().await.unwrap();
    assert_eq!(list.items.len(), 2);
    assert!(list.next_cursor.is_none());
    assert_eq!(list.items.iter().filter(|s| s.current).count(), 1);
    assert!(list
        .items
        .iter()
        .all(|s| s.ip.as_deref() == Some("127.0.0.1")));
    let other_id = list.items.iter().find(|s| !s.current).unwrap().id;
    me.delete_my_session(other_id).await.unwrap();
    assert_eq!(
        code(app.client().with_token(&other.access_token).me().await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(me.my_sessions().await.unwrap().items.len(), 1);
    assert_eq!(
        code(me.delete_my_session(other_id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(me.delete_my_session(uuid::Uuid::now_v7()).await),
        ProblemCode::NotFound
    );
    let bad = me
        .request(reqwest::Method::DELETE, "/v1/users/me/sessions/not-a-uuid")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 404);
    // Someone else's session cannot be ended.
    let (_, bob) = app.signed_in("bob@example.com").await;
    let bob_session = bob.my_sessions().await.unwrap().items[0].id;
    assert_eq!(
        code(me.delete_my_session(bob_session).await),
        ProblemCode::NotFound
    );
    bob.me().await.unwrap();
}

async fn delete_me_needs_the_password_and_removes_everything(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    assert_eq!(fields(me.delete_me(None).await), ["password"]);
    assert_eq!(
        code(me.delete_me(Some("wrong password")).await),
        ProblemCode::InvalidCredentials
    );
    let empty = me
        .request(reqwest::Method::DELETE, "/v1/users/me")
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 400, "no body means no password");
    me.delete_me(Some(USER_PASSWORD)).await.unwrap();
    assert_eq!(code(me.me().await), ProblemCode::TokenInvalid);
    assert_eq!(
        code(app.client().refresh(&pair.refresh_token).await),
        ProblemCode::TokenInvalid
    );
    let admin = app.admin().await;
    assert_eq!(
        code(admin.get_user(pair.user.id).await),
        ProblemCode::NotFound
    );
    // The address is free again.
    app.user("ann@example.com").await;
}

both_backends!(
    me_answers_the_signed_in_user_and_roles,
    update_me_changes_only_what_is_sent,
    update_me_refuses_roles_bad_fields_and_taken_names,
    a_new_email_is_unverified_and_signs_in,
    change_password_keeps_this_session_and_ends_the_others,
    sessions_are_listed_and_ended_one_by_one,
    delete_me_needs_the_password_and_removes_everything,
);
