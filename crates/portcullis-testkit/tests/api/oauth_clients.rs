//! OAuth clients: registered by an organization's admins, a confidential client's secret
//! shown once (and at each rotation), every setting checked, and nothing visible or
//! changeable outside the admin's reach.

use portcullis_testkit::api::{
    CreateOAuthClientRequest, CreateOrgRequest, ProblemCode, UpdateOAuthClientRequest,
};
use portcullis_testkit::{both_backends, TestServer};

use crate::{assert_audited, code, fields};

fn web_app() -> CreateOAuthClientRequest {
    CreateOAuthClientRequest {
        name: "Acme web".into(),
        redirect_uris: vec!["https://app.acme.test/callback".into()],
        post_logout_redirect_uris: vec!["https://app.acme.test/".into()],
        ..Default::default()
    }
}

async fn an_admin_registers_changes_rotates_and_deletes_a_client(app: TestServer) {
    let admin = app.admin().await;
    let created = admin
        .create_oauth_client("default", &web_app())
        .await
        .unwrap();
    let c = &created.client;
    let secret = created
        .client_secret
        .clone()
        .expect("a confidential client's secret");
    assert!(
        secret.starts_with("pcs_") && secret.len() >= 4 + 43,
        "256 random bits: {secret}"
    );
    assert_eq!(c.client_type, "confidential");
    assert_eq!(c.token_endpoint_auth_method, "client_secret_basic");
    assert_eq!(c.id_token_signed_response_alg, "RS256");
    assert_eq!(c.grant_types, ["authorization_code", "refresh_token"]);
    assert_eq!(
        c.scopes,
        ["openid", "profile", "email", "phone", "offline_access"]
    );
    assert!(!c.first_party);
    assert_eq!(c.client_secret_prefix.as_deref(), Some(&secret[..10]));

    // Listed and read back, never with the secret.
    let listed = admin.oauth_clients("default").await.unwrap();
    assert_eq!(listed.items, vec![c.clone()]);
    let path = format!("/v1/orgs/default/oauth-clients/{}", c.client_id);
    let raw = admin
        .execute(admin.request(reqwest::Method::GET, &path))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !raw.contains(&secret[10..]),
        "the secret is shown once: {raw}"
    );

    // A change keeps what it does not name; null clears.
    let changed = admin
        .update_oauth_client(
            "default",
            c.client_id,
            &UpdateOAuthClientRequest {
                name: Some("Acme".into()),
                scopes: Some(vec!["email".into(), "openid".into()]),
                first_party: Some(true),
                access_token_lifetime_secs: Some(Some(600)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.name, "Acme");
    assert_eq!(changed.scopes, ["openid", "email"], "in discovery's order");
    assert!(changed.first_party);
    assert_eq!(changed.access_token_lifetime_secs, Some(600));
    assert_eq!(changed.redirect_uris, c.redirect_uris);
    let cleared = admin
        .update_oauth_client(
            "default",
            c.client_id,
            &UpdateOAuthClientRequest {
                access_token_lifetime_secs: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.access_token_lifetime_secs, None);
    assert_eq!(
        admin.oauth_client("default", c.client_id).await.unwrap(),
        cleared
    );

    // A new secret replaces the old one.
    let rotated = admin
        .rotate_oauth_client_secret("default", c.client_id)
        .await
        .unwrap()
        .client_secret;
    assert_ne!(rotated, secret);
    assert_eq!(
        admin
            .oauth_client("default", c.client_id)
            .await
            .unwrap()
            .client_secret_prefix
            .as_deref(),
        Some(&rotated[..10])
    );

    admin
        .delete_oauth_client("default", c.client_id)
        .await
        .unwrap();
    assert_eq!(
        code(admin.oauth_client("default", c.client_id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(admin.delete_oauth_client("default", c.client_id).await),
        ProblemCode::NotFound
    );
    assert_audited(
        &admin,
        None,
        &[
            "oauth_client.created",
            "oauth_client.updated",
            "oauth_client.secret_rotated",
            "oauth_client.deleted",
        ],
    )
    .await;
}

async fn a_public_client_has_no_secret_and_uses_no_client_credentials(app: TestServer) {
    let admin = app.admin().await;
    let spa = admin
        .create_oauth_client(
            "default",
            &CreateOAuthClientRequest {
                name: "Acme SPA".into(),
                client_type: Some("public".into()),
                redirect_uris: vec!["http://127.0.0.1:5173/callback".into()],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(spa.client_secret, None);
    assert_eq!(spa.client.token_endpoint_auth_method, "none");
    assert_eq!(spa.client.client_secret_prefix, None);
    assert_eq!(
        fields(
            admin
                .rotate_oauth_client_secret("default", spa.client.client_id)
                .await
        ),
        ["client_type"]
    );
    assert_eq!(
        fields(
            admin
                .update_oauth_client(
                    "default",
                    spa.client.client_id,
                    &UpdateOAuthClientRequest {
                        grant_types: Some(vec!["client_credentials".into()]),
                        token_endpoint_auth_method: Some("client_secret_post".into()),
                        ..Default::default()
                    },
                )
                .await
        ),
        ["token_endpoint_auth_method", "grant_types"]
    );
    // A service (client credentials only) needs no redirect URI.
    let service = admin
        .create_oauth_client(
            "default",
            &CreateOAuthClientRequest {
                name: "Acme batch".into(),
                grant_types: Some(vec!["client_credentials".into()]),
                token_endpoint_auth_method: Some("client_secret_post".into()),
                id_token_signed_response_alg: Some("EdDSA".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(service.client.grant_types, ["client_credentials"]);
    assert!(service.client_secret.is_some());
}

async fn every_setting_is_checked_and_all_problems_come_at_once(app: TestServer) {
    let admin = app.admin().await;
    let bad = |f: fn(&mut CreateOAuthClientRequest)| {
        let mut body = web_app();
        f(&mut body);
        body
    };
    let cases: Vec<(CreateOAuthClientRequest, &[&str])> = vec![
        (
            bad(|b| b.redirect_uris = vec!["http://app.acme.test/cb".into()]),
            &["redirect_uris"],
        ),
        (
            bad(|b| b.redirect_uris = vec!["https://app.acme.test/cb#frag".into()]),
            &["redirect_uris"],
        ),
        (
            bad(|b| b.redirect_uris = vec!["javascript:alert(1)".into()]),
            &["redirect_uris"],
        ),
        (bad(|b| b.redirect_uris = Vec::new()), &["redirect_uris"]),
        (
            bad(|b| b.post_logout_redirect_uris = vec!["app.acme.test".into()]),
            &["post_logout_redirect_uris"],
        ),
        (bad(|b| b.name = " ".into()), &["name"]),
        (
            bad(|b| b.client_type = Some("hybrid".into())),
            &["client_type"],
        ),
        (bad(|b| b.scopes = Some(vec!["admin".into()])), &["scopes"]),
        (
            bad(|b| b.grant_types = Some(vec!["implicit".into()])),
            &["grant_types"],
        ),
        (
            bad(|b| b.grant_types = Some(vec!["refresh_token".into()])),
            &["grant_types"],
        ),
        (
            bad(|b| b.token_endpoint_auth_method = Some("none".into())),
            &["token_endpoint_auth_method"],
        ),
        (
            bad(|b| b.token_endpoint_auth_method = Some("private_key_jwt".into())),
            &["token_endpoint_auth_method"],
        ),
        (
            bad(|b| b.id_token_signed_response_alg = Some("HS256".into())),
            &["id_token_signed_response_alg"],
        ),
        (
            bad(|b| b.backchannel_logout_uri = Some("http://rp.example/logout".into())),
            &["backchannel_logout_uri"],
        ),
        (
            bad(|b| b.access_token_lifetime_secs = Some(5)),
            &["access_token_lifetime_secs"],
        ),
        (
            bad(|b| b.refresh_token_lifetime_secs = Some(60)),
            &["refresh_token_lifetime_secs"],
        ),
        (
            bad(|b| {
                b.scopes = Some(vec!["admin".into()]);
                b.id_token_signed_response_alg = Some("none".into());
            }),
            &["scopes", "id_token_signed_response_alg"],
        ),
    ];
    for (body, expected) in cases {
        let r = admin.create_oauth_client("default", &body).await;
        assert_eq!(fields(r), expected, "{body:?}");
    }
    assert!(admin
        .oauth_clients("default")
        .await
        .unwrap()
        .items
        .is_empty());
    // Unknown fields are refused like everywhere in /v1.
    let own_secret = serde_json::json!({
        "name": "x", "redirect_uris": ["https://a.test/cb"], "client_secret": "mine"
    });
    let res = admin
        .execute(
            admin
                .request(reqwest::Method::POST, "/v1/orgs/default/oauth-clients")
                .json(&own_secret),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
}

async fn clients_stay_inside_their_organization(app: TestServer) {
    let admin = app.admin().await;
    admin
        .create_org(&CreateOrgRequest {
            slug: "acme".into(),
            name: "Acme".into(),
            policy: None,
        })
        .await
        .unwrap();
    let theirs = admin
        .create_oauth_client("default", &web_app())
        .await
        .unwrap();
    let boss = app
        .member_of("acme", "boss@acme.test", &["org_admin"])
        .await;
    let own = boss
        .create_oauth_client("acme", &web_app())
        .await
        .expect("its own organization");
    assert_eq!(
        boss.oauth_clients("acme").await.unwrap().items,
        vec![own.client.clone()]
    );
    let id = theirs.client.client_id;
    assert_eq!(
        code(boss.oauth_clients("default").await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(boss.oauth_client("default", id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(boss.oauth_client("acme", id).await),
        ProblemCode::NotFound,
        "not by the wrong path either"
    );
    assert_eq!(
        code(
            boss.update_oauth_client("acme", id, &UpdateOAuthClientRequest::default())
                .await
        ),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(boss.rotate_oauth_client_secret("acme", id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(boss.delete_oauth_client("acme", id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        admin.oauth_client("default", id).await.unwrap(),
        theirs.client,
        "untouched"
    );
    let (_, user) = app.signed_in("ann@example.com").await;
    assert_eq!(
        code(user.oauth_clients("default").await),
        ProblemCode::Forbidden
    );
    assert_eq!(
        code(app.client().oauth_clients("default").await),
        ProblemCode::Unauthorized
    );
}

both_backends!(
    an_admin_registers_changes_rotates_and_deletes_a_client,
    a_public_client_has_no_secret_and_uses_no_client_credentials,
    every_setting_is_checked_and_all_problems_come_at_once,
    clients_stay_inside_their_organization,
);
