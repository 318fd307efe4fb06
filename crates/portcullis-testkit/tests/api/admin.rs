//! Administration of users, roles, sessions and the audit log.

use portcullis_testkit::api::{CreateUserRequest, ProblemCode, RegisterRequest, UpdateUserRequest};
use portcullis_testkit::client::{AuditQuery, UserQuery};
use portcullis_testkit::{both_backends, TestServer, ADMIN_EMAIL, USER_PASSWORD};

use crate::{code, fields};

fn new_user(email: &str) -> CreateUserRequest {
    CreateUserRequest {
        account: RegisterRequest {
            email: Some(email.into()),
            password: Some(USER_PASSWORD.into()),
            ..Default::default()
        },
        ..Default::default()
    }
}

async fn non_admins_are_forbidden_everywhere(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let id = pair.user.id;
    assert_eq!(
        code(me.list_users(&UserQuery::default()).await),
        ProblemCode::Forbidden
    );
    assert_eq!(code(me.get_user(id).await), ProblemCode::Forbidden);
    assert_eq!(
        code(me.create_user(&new_user("x@example.com")).await),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(me.update_user(id, &UpdateUserRequest::default()).await),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(me.set_roles(id, &["org_admin"]).await),
        ProblemCode::Forbidden
    );
    assert_eq!(code(me.revoke_sessions(id).await), ProblemCode::Forbidden);
    assert_eq!(code(me.delete_user(id).await), ProblemCode::Forbidden);
    assert_eq!(
        code(me.audit_events(&AuditQuery::default()).await),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(app.client().list_users(&UserQuery::default()).await),
        ProblemCode::Unauthorized
    );
    assert_eq!(me.my_roles().await.unwrap().roles.len(), 1);
}

async fn admins_list_search_and_page_users(app: TestServer) {
    for i in 0..5 {
        app.user(&format!("user{i}@example.com")).await;
    }
    app.user("zed@other.example").await;
    let admin = app.admin().await;
    let all = admin.list_users(&UserQuery::default()).await.unwrap();
    assert_eq!(all.items.len(), 7, "five, zed and the admin");
    assert!(all.next_cursor.is_none());
    let mut seen = Vec::new();
    let mut cursor = None;
    loop {
        let page = admin
            .list_users(&UserQuery {
                limit: Some(3),
                cursor: cursor.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        seen.extend(page.items.iter().map(|u| u.id));
        match page.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(
        seen,
        all.items.iter().map(|u| u.id).collect::<Vec<_>>(),
        "pages add up, in order, without repeats"
    );
    let found = admin
        .list_users(&UserQuery {
            query: Some("OTHER.example".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.items.len(), 1);
    let admins = admin
        .list_users(&UserQuery {
            role: Some("system_admin".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        admins
            .items
            .iter()
            .map(|u| u.email.clone().unwrap())
            .collect::<Vec<_>>(),
        [ADMIN_EMAIL]
    );
    assert_eq!(
        code(
            admin
                .list_users(&UserQuery {
                    limit: Some(0),
                    ..Default::default()
                })
                .await
        ),
        ProblemCode::ValidationFailed
    );
    assert_eq!(
        code(
            admin
                .list_users(&UserQuery {
                    limit: Some(201),
                    ..Default::default()
                })
                .await
        ),
        ProblemCode::ValidationFailed
    );
    let bad_cursor = admin
        .list_users(&UserQuery {
            cursor: Some("nope".into()),
            ..Default::default()
        })
        .await;
    assert_eq!(fields(bad_cursor), ["cursor"]);
    let bad_bool = admin
        .request(reqwest::Method::GET, "/v1/users?active=maybe")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_bool.status(), 400);
}

async fn admins_create_users_with_roles_and_verified_addresses(app: TestServer) {
    let admin = app.admin().await;
    let user = admin
        .create_user(&CreateUserRequest {
            roles: vec!["org_admin".into(), "support".into()],
            verified: true,
            ..new_user("ann@example.com")
        })
        .await
        .unwrap();
    assert!(user.email_verified);
    assert_eq!(
        user.roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["org_admin", "support", "user"]
    );
    app.login("ann@example.com", USER_PASSWORD).await;
    let phone_only = admin
        .create_user(&CreateUserRequest {
            account: RegisterRequest {
                phone: Some("+14155550100".into()),
                ..Default::default()
            },
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(!phone_only.phone_verified);
    assert_eq!(
        code(admin.create_user(&new_user("ann@example.com")).await),
        ProblemCode::Duplicate
    );
    let bad_role = admin
        .create_user(&CreateUserRequest {
            roles: vec!["Bad Role".into()],
            ..new_user("b@example.com")
        })
        .await;
    assert_eq!(fields(bad_role), ["roles"]);
    let weak = CreateUserRequest {
        account: RegisterRequest {
            email: Some("c@example.com".into()),
            password: Some("12345678".into()),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(
        code(admin.create_user(&weak).await),
        ProblemCode::WeakPassword
    );
    let unknown_org = CreateUserRequest {
        account: RegisterRequest {
            organization: Some("nowhere".into()),
            ..new_user("d@example.com").account
        },
        ..Default::default()
    };
    assert_eq!(
        code(admin.create_user(&unknown_org).await),
        ProblemCode::ValidationFailed
    );
}

/// An administrator cannot demote, deactivate or delete themselves through the admin
/// endpoints: another administrator must, so no organization loses its last one by a slip.
async fn admins_cannot_lock_themselves_out(app: TestServer) {
    let admin = app.admin().await;
    let me = admin.me().await.unwrap();
    assert_eq!(
        code(admin.set_roles(me.id, &["user"]).await),
        ProblemCode::Forbidden
    );
    let deactivate = UpdateUserRequest {
        active: Some(false),
        ..Default::default()
    };
    assert_eq!(
        code(admin.update_user(me.id, &deactivate).await),
        ProblemCode::Forbidden
    );
    assert_eq!(code(admin.delete_user(me.id).await), ProblemCode::Forbidden);
    // Adding a role to oneself is fine, and the admin role is still there.
    let roles = admin
        .set_roles(me.id, &["system_admin", "auditor"])
        .await
        .unwrap();
    assert!(roles.roles.iter().any(|r| r.name == "system_admin"));
    // Another org_admin may be demoted by the system admin.
    let ann = app.user("ann@example.com").await;
    admin.set_roles(ann.id, &["org_admin"]).await.unwrap();
    admin.set_roles(ann.id, &["user"]).await.unwrap();
}

async fn org_admins_cannot_reach_above_themselves(app: TestServer) {
    let admin = app.admin().await;
    admin
        .create_user(&CreateUserRequest {
            roles: vec!["org_admin".into()],
            ..new_user("boss@example.com")
        })
        .await
        .unwrap();
    let org_admin = app.client().with_token(
        &app.login("boss@example.com", USER_PASSWORD)
            .await
            .access_token,
    );
    let ann = app.user("ann@example.com").await;
    assert_eq!(
        org_admin
            .list_users(&UserQuery::default())
            .await
            .unwrap()
            .items
            .len(),
        3
    );
    assert_eq!(
        code(org_admin.set_roles(ann.id, &["system_admin"]).await),
        ProblemCode::Forbidden
    );
    let grant = org_admin
        .create_user(&CreateUserRequest {
            roles: vec!["system_admin".into()],
            ..new_user("x@example.com")
        })
        .await;
    assert_eq!(code(grant), ProblemCode::Forbidden);
    let sysadmin = admin
        .list_users(&UserQuery {
            role: Some("system_admin".into()),
            ..Default::default()
        })
        .await
        .unwrap()
        .items[0]
        .id;
    assert_eq!(
        code(org_admin.delete_user(sysadmin).await),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(
            org_admin
                .update_user(
                    sysadmin,
                    &UpdateUserRequest {
                        active: Some(false),
                        ..Default::default()
                    }
                )
                .await
        ),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(org_admin.revoke_sessions(sysadmin).await),
        ProblemCode::Forbidden
    );
    let roles = org_admin.set_roles(ann.id, &["org_admin"]).await.unwrap();
    assert_eq!(
        roles
            .roles
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>(),
        ["org_admin", "user"]
    );
}

async fn admins_read_and_change_a_user(app: TestServer) {
    let ann = app.user("ann@example.com").await;
    let admin = app.admin().await;
    assert_eq!(
        admin.get_user(ann.id).await.unwrap().email.as_deref(),
        Some("ann@example.com")
    );
    let body = UpdateUserRequest {
        first_name: Some(Some("Ann".into())),
        username: Some(Some("ann".into())),
        ..Default::default()
    };
    let user = admin.update_user(ann.id, &body).await.unwrap();
    assert_eq!(user.first_name.as_deref(), Some("Ann"));
    assert_eq!(user.username.as_deref(), Some("ann"));
    assert_eq!(
        code(admin.get_user(uuid::Uuid::now_v7()).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(admin.update_user(uuid::Uuid::now_v7(), &body).await),
        ProblemCode::NotFound
    );
    let malformed = admin
        .request(reqwest::Method::GET, "/v1/users/12345")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 404);
    let roles: UpdateUserRequest =
        serde_json::from_value(serde_json::json!({"roles": ["x"]})).unwrap();
    assert_eq!(fields(admin.update_user(ann.id, &roles).await), ["roles"]);
}

async fn deactivation_ends_sessions_at_once_and_blocks_login(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let admin = app.admin().await;
    let off = admin
        .update_user(
            pair.user.id,
            &UpdateUserRequest {
                active: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(!off.active);
    assert_eq!(
        code(me.me().await),
        ProblemCode::TokenInvalid,
        "the very next request"
    );
    assert_eq!(
        code(app.client().refresh(&pair.refresh_token).await),
        ProblemCode::TokenInvalid
    );
    let login = app.try_login("ann@example.com", USER_PASSWORD).await;
    assert_eq!(code(login), ProblemCode::AccountInactive);
    let wrong = app.try_login("ann@example.com", "wrong one").await;
    assert_eq!(
        code(wrong),
        ProblemCode::InvalidCredentials,
        "inactive is only told to who knows the password"
    );
    let on = admin
        .update_user(
            pair.user.id,
            &UpdateUserRequest {
                active: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(on.active);
    app.login("ann@example.com", USER_PASSWORD).await;
    let inactive = admin
        .list_users(&UserQuery {
            active: Some(false),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(inactive.items.is_empty());
    let self_id = admin.me().await.unwrap().id;
    let own = admin
        .update_user(
            self_id,
            &UpdateUserRequest {
                active: Some(false),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(code(own), ProblemCode::Forbidden);
}

async fn deleting_a_user_ends_their_sessions_and_data(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let admin = app.admin().await;
    admin.delete_user(pair.user.id).await.unwrap();
    assert_eq!(code(me.me().await), ProblemCode::TokenInvalid);
    assert_eq!(
        code(admin.get_user(pair.user.id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(admin.delete_user(pair.user.id).await),
        ProblemCode::NotFound
    );
    let self_id = admin.me().await.unwrap().id;
    assert_eq!(
        code(admin.delete_user(self_id).await),
        ProblemCode::Forbidden
    );
}

async fn roles_are_replaced_keeping_user_and_their_dates(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let admin = app.admin().await;
    let added = admin
        .set_roles(pair.user.id, &["org_admin", "support"])
        .await
        .unwrap()
        .roles;
    assert_eq!(
        added.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
        ["org_admin", "support", "user"]
    );
    assert_eq!(
        added[2].added_at, pair.user.roles[0].added_at,
        "kept role keeps its date"
    );
    // Authorization follows the stored roles at once, not the token's claims.
    assert!(me.list_users(&UserQuery::default()).await.is_ok());
    admin.set_roles(pair.user.id, &[]).await.unwrap();
    assert_eq!(
        code(me.list_users(&UserQuery::default()).await),
        ProblemCode::Forbidden
    );
    assert_eq!(me.my_roles().await.unwrap().roles.len(), 1);
    assert_eq!(
        fields(admin.set_roles(pair.user.id, &["NOT valid"]).await),
        ["roles"]
    );
    assert_eq!(
        code(admin.set_roles(uuid::Uuid::now_v7(), &["x"]).await),
        ProblemCode::NotFound
    );
    let bad_body = admin
        .request(
            reqwest::Method::PUT,
            &format!("/v1/users/{}/roles", pair.user.id),
        )
        .json(&serde_json::json!({"roles": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad_body.status(), 400);
}

async fn admins_revoke_every_session_of_a_user(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let second = app.login("ann@example.com", USER_PASSWORD).await;
    let admin = app.admin().await;
    admin.revoke_sessions(pair.user.id).await.unwrap();
    assert_eq!(code(me.me().await), ProblemCode::TokenInvalid);
    assert_eq!(
        code(app.client().with_token(&second.access_token).me().await),
        ProblemCode::TokenInvalid
    );
    assert_eq!(
        code(admin.revoke_sessions(uuid::Uuid::now_v7()).await),
        ProblemCode::NotFound
    );
    admin
        .me()
        .await
        .expect("the admin's own session is untouched");
}

async fn every_action_is_in_the_audit_log(app: TestServer) {
    let (pair, me) = app.signed_in("ann@example.com").await;
    let _ = app.try_login("ann@example.com", "nope nope").await;
    let _ = app.try_login("ghost@example.com", "nope nope").await;
    me.update_me(&UpdateUserRequest {
        first_name: Some(Some("Ann".into())),
        ..Default::default()
    })
    .await
    .unwrap();
    me.change_password(USER_PASSWORD, "a brand new passphrase")
        .await
        .unwrap();
    me.logout().await.unwrap();
    let admin = app.admin().await;
    admin.set_roles(pair.user.id, &["support"]).await.unwrap();
    admin.revoke_sessions(pair.user.id).await.unwrap();
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
    admin.delete_user(pair.user.id).await.unwrap();

    let all = admin
        .audit_events(&AuditQuery {
            limit: Some(200),
            ..Default::default()
        })
        .await
        .unwrap();
    let kinds: Vec<&str> = all.items.iter().map(|e| e.kind.as_str()).collect();
    for k in [
        "admin.bootstrap_created",
        "user.registered",
        "login.succeeded",
        "login.failed",
        "user.updated",
        "password.changed",
        "session.logout",
        "admin.roles_set",
        "admin.sessions_revoked",
        "admin.user_updated",
        "admin.user_deactivated",
        "admin.user_deleted",
    ] {
        assert!(kinds.contains(&k), "{k} missing from {kinds:?}");
    }
    assert!(
        all.items.windows(2).all(|w| w[0].id > w[1].id),
        "newest first"
    );
    let failed = admin
        .audit_events(&AuditQuery {
            kind: Some("login.failed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.items.len(), 2);
    let reasons: Vec<&str> = failed
        .items
        .iter()
        .map(|e| e.details["reason"].as_str().unwrap())
        .collect();
    assert!(reasons.contains(&"wrong_password") && reasons.contains(&"unknown_identifier"));
    assert!(failed
        .items
        .iter()
        .all(|e| e.ip.as_deref() == Some("127.0.0.1")));
    let about_ann = admin
        .audit_events(&AuditQuery {
            user_id: Some(pair.user.id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(about_ann
        .items
        .iter()
        .all(|e| e.user_id == Some(pair.user.id)));
    let deleted = about_ann
        .items
        .iter()
        .find(|e| e.kind == "admin.user_deleted")
        .unwrap();
    assert_eq!(deleted.actor_id, Some(admin.me().await.unwrap().id));
    let page = admin
        .audit_events(&AuditQuery {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .unwrap();
    let next = admin
        .audit_events(&AuditQuery {
            limit: Some(2),
            cursor: page.next_cursor.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(next.items[0].id, all.items[2].id);
    let future = admin
        .audit_events(&AuditQuery {
            since: Some("2999-01-01T00:00:00Z".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(future.items.is_empty());
    assert_eq!(
        fields(
            admin
                .audit_events(&AuditQuery {
                    kind: Some("made.up".into()),
                    ..Default::default()
                })
                .await
        ),
        ["type"]
    );
    let bad_since = admin
        .request(reqwest::Method::GET, "/v1/audit-events?since=yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad_since.status(), 400);
    // No secrets in the log.
    let text = serde_json::to_string(&all).unwrap();
    assert!(
        !text.contains(USER_PASSWORD)
            && !text.contains("a brand new passphrase")
            && !text.contains(&pair.refresh_token)
    );
}

/// An organization admin reaches no one above its own role: a `system_admin` in its
/// organization gets no code from it, and its keys, tokens and devices stay out of sight.
async fn org_admins_do_not_reach_a_system_admin(app: TestServer) {
    let root = app.admin().await.me().await.unwrap();
    app.member_of("default", "oa@example.com", &["org_admin"])
        .await;
    let token = app
        .login("oa@example.com", USER_PASSWORD)
        .await
        .access_token;
    let id = root.id;
    let some = uuid::Uuid::now_v7();
    for (method, path) in [
        (
            reqwest::Method::POST,
            format!("/v1/users/{id}/verification-code"),
        ),
        (reqwest::Method::GET, format!("/v1/users/{id}/app-tokens")),
        (
            reqwest::Method::GET,
            format!("/v1/users/{id}/trusted-devices"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/v1/users/{id}/trusted-devices/{some}"),
        ),
        (reqwest::Method::GET, format!("/v1/users/{id}/passkeys")),
        (
            reqwest::Method::DELETE,
            format!("/v1/users/{id}/passkeys/{some}"),
        ),
        (reqwest::Method::DELETE, format!("/v1/users/{id}/mfa")),
        (
            reqwest::Method::POST,
            format!("/v1/users/{id}/sessions/revoke"),
        ),
    ] {
        let body = (method == reqwest::Method::POST).then(|| serde_json::json!({}));
        let (status, body) =
            crate::json_call(&app, method.clone(), &path, Some(&token), body).await;
        assert_eq!(status, 403, "{method} {path}: {body}");
        assert_eq!(body["code"], "forbidden");
    }
}

both_backends!(
    org_admins_do_not_reach_a_system_admin,
    non_admins_are_forbidden_everywhere,
    admins_list_search_and_page_users,
    admins_create_users_with_roles_and_verified_addresses,
    org_admins_cannot_reach_above_themselves,
    admins_cannot_lock_themselves_out,
    admins_read_and_change_a_user,
    deactivation_ends_sessions_at_once_and_blocks_login,
    deleting_a_user_ends_their_sessions_and_data,
    roles_are_replaced_keeping_user_and_their_dates,
    admins_revoke_every_session_of_a_user,
    every_action_is_in_the_audit_log,
);
