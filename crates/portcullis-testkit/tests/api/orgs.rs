//! Organizations, their policies, and the walls between them.

use portcullis_testkit::api::{
    CreateOrgRequest, CreateUserRequest, LoginRequest, ProblemCode, RegisterRequest,
    UpdateOrgRequest, UpdateUserRequest,
};
use portcullis_testkit::client::{AuditQuery, Client, UserQuery};
use portcullis_testkit::{both_backends, TestServer, USER_PASSWORD};

use crate::{code, fields};

fn acme() -> CreateOrgRequest {
    CreateOrgRequest {
        slug: "acme".into(),
        name: "Acme Corp".into(),
        policy: None,
    }
}

fn member(email: &str, org: &str, roles: &[&str]) -> CreateUserRequest {
    CreateUserRequest {
        account: RegisterRequest {
            email: Some(email.into()),
            password: Some(USER_PASSWORD.into()),
            organization: Some(org.into()),
            ..Default::default()
        },
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        verified: true,
    }
}

async fn login_in(app: &TestServer, org: &str, email: &str) -> Client {
    let pair = app
        .client()
        .login(&LoginRequest {
            identifier: email.into(),
            password: USER_PASSWORD.into(),
            organization: Some(org.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    app.client().with_token(&pair.access_token)
}

async fn system_admins_create_list_read_and_change_orgs(app: TestServer) {
    let admin = app.admin().await;
    let org = admin
        .create_org(&CreateOrgRequest {
            policy: Some(serde_json::json!({"mfa_required": true})),
            ..acme()
        })
        .await
        .unwrap();
    assert_eq!(
        (org.slug.as_str(), org.name.as_str()),
        ("acme", "Acme Corp")
    );
    assert!(
        org.policy.mfa_required
            && org.policy.allow_self_registration
            && !org.policy.recovery_by_questions
    );
    assert_eq!(org.policy.password_min_length, 8);
    assert_eq!(
        code(admin.create_org(&acme()).await),
        ProblemCode::Duplicate
    );
    let bad = admin
        .create_org(&CreateOrgRequest {
            slug: "Bad Slug".into(),
            name: String::new(),
            policy: Some(serde_json::json!({"nope": 1})),
        })
        .await;
    let mut f = fields(bad);
    f.sort();
    assert_eq!(f, ["name", "policy.nope", "slug"]);
    let list = admin.list_orgs(None, None).await.unwrap();
    assert_eq!(
        list.items
            .iter()
            .map(|o| o.slug.as_str())
            .collect::<Vec<_>>(),
        ["default", "acme"]
    );
    let page = admin.list_orgs(Some(1), None).await.unwrap();
    let rest = admin
        .list_orgs(Some(1), page.next_cursor.as_deref())
        .await
        .unwrap();
    assert_eq!(rest.items[0].slug, "acme");
    let changed = admin
        .update_org(
            "acme",
            &UpdateOrgRequest {
                name: Some("Acme".into()),
                policy: Some(serde_json::json!({"password_min_length": 12})),
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.name, "Acme");
    assert_eq!(changed.policy.password_min_length, 12);
    assert!(changed.policy.mfa_required, "fields not named are kept");
    assert_eq!(admin.get_org("acme").await.unwrap(), changed);
    assert_eq!(code(admin.get_org("nowhere").await), ProblemCode::NotFound);
    let wrong = admin
        .update_org(
            "acme",
            &UpdateOrgRequest {
                policy: Some(serde_json::json!({"password_max_length": 10})),
                ..Default::default()
            },
        )
        .await;
    assert_eq!(fields(wrong), ["policy.password_max_length"]);
    let kinds: Vec<String> = admin
        .audit_events(&AuditQuery::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert!(kinds.contains(&"org.created".to_owned()) && kinds.contains(&"org.updated".to_owned()));
}

async fn org_admins_read_their_own_org_only(app: TestServer) {
    let admin = app.admin().await;
    admin.create_org(&acme()).await.unwrap();
    let boss = app
        .member_of("acme", "boss@acme.test", &["org_admin"])
        .await;
    assert_eq!(boss.get_org("acme").await.unwrap().slug, "acme");
    assert_eq!(code(boss.get_org("default").await), ProblemCode::NotFound);
    assert_eq!(
        code(boss.list_orgs(None, None).await),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(
            boss.create_org(&CreateOrgRequest {
                slug: "other".into(),
                ..acme()
            })
            .await
        ),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(boss.update_org("acme", &UpdateOrgRequest::default()).await),
        ProblemCode::Forbidden
    );
    let (_, user) = app.signed_in("ann@example.com").await;
    assert_eq!(code(user.get_org("default").await), ProblemCode::Forbidden);
}

async fn an_org_admin_cannot_see_or_touch_another_org(app: TestServer) {
    let admin = app.admin().await;
    admin.create_org(&acme()).await.unwrap();
    admin
        .create_user(&member("boss@acme.test", "acme", &["org_admin"]))
        .await
        .unwrap();
    admin
        .create_user(&member("worker@acme.test", "acme", &[]))
        .await
        .unwrap();
    let (ann_pair, ann) = app.signed_in("ann@example.com").await;
    let id = ann_pair.user.id;
    let boss = login_in(&app, "acme", "boss@acme.test").await;

    let seen = boss.list_users(&UserQuery::default()).await.unwrap();
    let mut emails: Vec<String> = seen.items.iter().filter_map(|u| u.email.clone()).collect();
    emails.sort();
    assert_eq!(emails, ["boss@acme.test", "worker@acme.test"]);
    assert!(seen.items.iter().all(|u| u.organization == "acme"));
    let search = boss
        .list_users(&UserQuery {
            query: Some("ann".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(search.items.is_empty());
    assert_eq!(code(boss.get_user(id).await), ProblemCode::NotFound);
    let patch = UpdateUserRequest {
        first_name: Some(Some("Pwned".into())),
        active: Some(false),
        ..Default::default()
    };
    assert_eq!(
        code(boss.update_user(id, &patch).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(boss.set_roles(id, &["org_admin"]).await),
        ProblemCode::NotFound
    );
    assert_eq!(code(boss.revoke_sessions(id).await), ProblemCode::NotFound);
    let send = boss
        .request(
            reqwest::Method::POST,
            &format!("/v1/users/{id}/verification-code"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(send.status(), 404);
    let ann_token = ann
        .create_app_token(&portcullis_testkit::api::CreateAppTokenRequest {
            description: "ci".into(),
            expires_at: None,
        })
        .await
        .unwrap();
    assert_eq!(code(boss.user_app_tokens(id).await), ProblemCode::NotFound);
    assert_eq!(
        code(boss.delete_user_app_token(id, ann_token.details.id).await),
        ProblemCode::NotFound
    );
    app.client()
        .exchange_app_token(&ann_token.token)
        .await
        .expect("still works");
    let other = uuid::Uuid::now_v7();
    for (method, path) in [
        (reqwest::Method::DELETE, format!("/v1/users/{id}/mfa")),
        (
            reqwest::Method::DELETE,
            format!("/v1/users/{id}/mfa/keys/{other}"),
        ),
        (
            reqwest::Method::GET,
            format!("/v1/users/{id}/trusted-devices"),
        ),
        (
            reqwest::Method::DELETE,
            format!("/v1/users/{id}/trusted-devices/{other}"),
        ),
    ] {
        let res = boss.request(method.clone(), &path).send().await.unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
    }
    let questions =
        serde_json::json!({"security_questions": [{"question": "Pet?", "answer": "Rex"}]});
    let res = boss
        .request(
            reqwest::Method::PUT,
            &format!("/v1/users/{id}/security-questions"),
        )
        .json(&questions)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert_eq!(code(boss.delete_user(id).await), ProblemCode::NotFound);
    assert_eq!(
        code(
            boss.create_user(&member("x@example.com", "default", &[]))
                .await
        ),
        ProblemCode::NotFound
    );
    let events = boss
        .audit_events(&AuditQuery {
            user_id: Some(id),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        events.items.is_empty(),
        "nothing of another organization's log"
    );
    let all = boss
        .audit_events(&AuditQuery {
            limit: Some(200),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(all.items.iter().all(|e| e.user_id != Some(id)));
    // Ann is untouched and still signed in.
    let me = ann.me().await.unwrap();
    assert!(me.active && me.first_name.is_none() && me.roles.len() == 1);
    // An org admin creates users in its own organization by default.
    let made = boss
        .create_user(&CreateUserRequest {
            account: RegisterRequest {
                organization: None,
                ..member("new@acme.test", "acme", &[]).account
            },
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(made.organization, "acme");
}

async fn each_org_has_its_own_accounts(app: TestServer) {
    let admin = app.admin().await;
    admin.create_org(&acme()).await.unwrap();
    let c = app.client();
    let here = app.user("ann@example.com").await;
    let there = c
        .register(&RegisterRequest {
            email: Some("ann@example.com".into()),
            password: Some("another good passphrase".into()),
            organization: Some("acme".into()),
            ..Default::default()
        })
        .await
        .expect("the same email in another organization is another account");
    assert_ne!(here.id, there.id);
    assert_eq!(there.organization, "acme");
    let pair = c
        .login(&LoginRequest {
            identifier: "ann@example.com".into(),
            password: "another good passphrase".into(),
            organization: Some("acme".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(pair.user.id, there.id);
    assert_eq!(
        code(
            app.try_login("ann@example.com", "another good passphrase")
                .await
        ),
        ProblemCode::InvalidCredentials
    );
    assert_eq!(
        app.login("ann@example.com", USER_PASSWORD).await.user.id,
        here.id
    );
    let claims: serde_json::Value =
        serde_json::from_slice(&base64_url(pair.access_token.split('.').nth(1).unwrap())).unwrap();
    assert_eq!(claims["org"], "acme");
}

fn base64_url(s: &str) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

async fn policy_changes_apply_at_once(app: TestServer) {
    let admin = app.admin().await;
    let set = |p: serde_json::Value| UpdateOrgRequest {
        policy: Some(p),
        ..Default::default()
    };
    admin
        .update_org(
            "default",
            &set(serde_json::json!({"allow_self_registration": false})),
        )
        .await
        .unwrap();
    let closed = app
        .client()
        .register(&RegisterRequest {
            email: Some("a@example.com".into()),
            password: Some(USER_PASSWORD.into()),
            ..Default::default()
        })
        .await;
    assert_eq!(code(closed), ProblemCode::Forbidden);
    admin
        .update_org("default", &set(serde_json::json!({"allow_self_registration": true, "password_min_length": 24, "session_ttl_secs": 600})))
        .await
        .unwrap();
    let short = app
        .client()
        .register(&RegisterRequest {
            email: Some("a@example.com".into()),
            password: Some(USER_PASSWORD.into()),
            ..Default::default()
        })
        .await;
    assert_eq!(code(short), ProblemCode::WeakPassword);
    let long = "a much longer passphrase than before";
    app.client()
        .register(&RegisterRequest {
            email: Some("a@example.com".into()),
            password: Some(long.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let pair = app.login("a@example.com", long).await;
    let session = app
        .client()
        .with_token(&pair.access_token)
        .my_sessions()
        .await
        .unwrap()
        .items
        .remove(0);
    assert_eq!((session.expires_at - session.created_at).num_seconds(), 600);
    app.advance(601);
    assert_eq!(
        code(app.client().refresh(&pair.refresh_token).await),
        ProblemCode::TokenInvalid,
        "the organization's lifetime"
    );
}

both_backends!(
    system_admins_create_list_read_and_change_orgs,
    org_admins_read_their_own_org_only,
    an_org_admin_cannot_see_or_touch_another_org,
    each_org_has_its_own_accounts,
    policy_changes_apply_at_once,
);
