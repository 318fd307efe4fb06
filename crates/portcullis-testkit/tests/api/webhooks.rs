//! Webhooks and hooks, through HTTP, with a receiver that checks every request with the
//! official Standard Webhooks library (`standardwebhooks` from npm, under Node): events
//! arrive signed, in order per user, again after an outage, and are given up (the endpoint
//! marked failing) after the last retry; hooks refuse sign-ups, add claims, and fail open or
//! closed within their budget.

use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use portcullis_testkit::api::{
    CreateWebhookRequest, ProblemCode, RegisterRequest, SetHookRequest, UpdateWebhookRequest,
};
use portcullis_testkit::client::Client;
use portcullis_testkit::receiver::{free_port, Receiver};
use portcullis_testkit::{both_backends, TestServer, USER_PASSWORD};
use serde_json::{json, Value};
use uuid::Uuid;

use super::code;

const ORG: &str = "default";

async fn endpoint(admin: &Client, url: &str, types: &[&str]) -> (Uuid, String) {
    let created = admin
        .create_webhook(
            ORG,
            &CreateWebhookRequest {
                url: url.to_owned(),
                event_types: types.iter().map(|t| (*t).to_owned()).collect(),
                enabled: None,
            },
        )
        .await
        .unwrap();
    assert!(created.secret.starts_with("whsec_"), "{}", created.secret);
    (created.webhook.id, created.secret)
}

/// The next verified request of type `kind`, skipping others.
async fn next_of(r: &mut Receiver, kind: &str) -> Value {
    loop {
        let got = r.next_verified().await;
        if got["payload"]["type"] == kind {
            return got;
        }
    }
}

/// Waits until `check` holds of the endpoint's deliveries (20 s at most).
async fn deliveries_until(
    admin: &Client,
    id: Uuid,
    check: impl Fn(&[portcullis_testkit::api::WebhookDelivery]) -> bool,
) -> Vec<portcullis_testkit::api::WebhookDelivery> {
    for _ in 0..200 {
        let list = admin.webhook_deliveries(ORG, id, None).await.unwrap().items;
        if check(&list) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the deliveries never came to the state awaited");
}

async fn events_arrive_signed_in_order_and_carry_no_secret(app: TestServer) {
    let admin = app.admin().await;
    let port = free_port();
    let (id, secret) = endpoint(&admin, &format!("http://127.0.0.1:{port}/hook"), &[]).await;
    let mut r = Receiver::start(port, &secret, json!({})).await;
    let user = app.user("ann@example.com").await;
    let pair = app.login("ann@example.com", USER_PASSWORD).await;
    app.client()
        .with_token(&pair.access_token)
        .logout_all()
        .await
        .unwrap();

    let registered = next_of(&mut r, "user.registered").await;
    let body = &registered["payload"];
    assert_eq!(body["data"]["user_id"], user.id.to_string());
    assert_eq!(
        body["data"]["id"], registered["id"],
        "the body names the webhook-id"
    );
    assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
    // The same user's events come in the order they happened.
    let signed_in = next_of(&mut r, "login.succeeded").await;
    assert_eq!(signed_in["payload"]["data"]["user_id"], user.id.to_string());
    let out = next_of(&mut r, "session.logout_all").await;
    let text = out.to_string() + &signed_in.to_string() + &registered.to_string();
    for secret_thing in [
        USER_PASSWORD,
        &pair.access_token,
        &pair.refresh_token,
        "$argon2",
    ] {
        assert!(!text.contains(secret_thing), "a body carries a secret");
    }
    assert!(
        !text.contains("ann@example.com"),
        "a body carries an address"
    );

    let list = deliveries_until(&admin, id, |l| {
        l.iter()
            .any(|d| d.event_type == "session.logout_all" && d.status == "delivered")
    })
    .await;
    let d = list
        .iter()
        .find(|d| d.event_type == "user.registered")
        .unwrap();
    assert_eq!(d.status, "delivered");
    assert_eq!(d.response_status, Some(204));
    assert_eq!(d.attempts, 1);
    assert!(d.latency_ms.is_some() && d.delivered_at.is_some() && d.next_attempt_at.is_none());
    assert_eq!(d.payload["type"], "user.registered");
    r.stop().await;
}

async fn an_endpoint_gets_only_the_types_it_asked_for_and_none_while_disabled(app: TestServer) {
    let admin = app.admin().await;
    let port = free_port();
    let (only_deleted, secret) = endpoint(
        &admin,
        &format!("http://127.0.0.1:{port}/"),
        &["user.deleted"],
    )
    .await;
    let (disabled, _) = endpoint(&admin, &format!("http://127.0.0.1:{port}/off"), &[]).await;
    admin
        .update_webhook(
            ORG,
            disabled,
            &UpdateWebhookRequest {
                enabled: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let mut r = Receiver::start(port, &secret, json!({})).await;
    let (_, client) = app.signed_in("bob@example.com").await;
    client.delete_me(Some(USER_PASSWORD)).await.unwrap();
    let got = r.next_verified().await;
    assert_eq!(got["payload"]["type"], "user.deleted");
    let list = deliveries_until(&admin, only_deleted, |l| !l.is_empty()).await;
    assert!(
        list.iter().all(|d| d.event_type == "user.deleted"),
        "{list:?}"
    );
    // The disabled one was queued only what came before it was turned off (its own
    // creation), and was sent nothing.
    let queued = admin
        .webhook_deliveries(ORG, disabled, None)
        .await
        .unwrap()
        .items;
    assert!(
        queued
            .iter()
            .all(|d| d.event_type == "webhook.created" && d.status == "pending"),
        "{queued:?}"
    );
    assert!(r.next_within(Duration::from_millis(500)).await.is_none());
    r.stop().await;
}

async fn a_receiver_down_for_a_while_gets_every_event_when_it_is_back(app: TestServer) {
    let admin = app.admin().await;
    let port = free_port();
    let (_, secret) = endpoint(
        &admin,
        &format!("http://127.0.0.1:{port}/"),
        &["user.registered"],
    )
    .await;
    let mut users = Vec::new();
    for i in 0..5 {
        users.push(
            app.user(&format!("down{i}@example.com"))
                .await
                .id
                .to_string(),
        );
    }
    // Down for a few retries (a second apart in tests), then up.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let mut r = Receiver::start(port, &secret, json!({})).await;
    let mut seen: std::collections::BTreeMap<String, Value> = std::collections::BTreeMap::new();
    while seen.len() < users.len() {
        let got = r.next_verified().await;
        let user = got["payload"]["data"]["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
        if let Some(earlier) = seen.get(&user) {
            // A repeat is the same event, by the same id.
            assert_eq!(earlier["id"], got["id"]);
        }
        seen.insert(user, got);
    }
    let mut want = users.clone();
    want.sort();
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), want);
    r.stop().await;
}

async fn a_delivery_given_up_marks_the_endpoint_failing_until_a_redelivery_succeeds(
    app: TestServer,
) {
    let admin = app.admin().await;
    let port = free_port();
    let (id, secret) = endpoint(
        &admin,
        &format!("http://127.0.0.1:{port}/"),
        &["user.deleted"],
    )
    .await;
    let failing = Receiver::start(port, &secret, json!({"status": 500})).await;
    let test = admin.test_webhook(ORG, id).await.unwrap();
    assert_eq!(test.status, "pending");
    assert_eq!(test.event_type, "webhook.test");
    // Eleven attempts a second apart (the test schedule), then given up.
    let list = deliveries_until(&admin, id, |l| l.iter().any(|d| d.status == "failed")).await;
    let d = list.iter().find(|d| d.event_id == test.event_id).unwrap();
    assert_eq!((d.attempts, d.response_status), (11, Some(500)));
    assert!(d.error.as_deref().unwrap().contains("500"));
    assert!(admin
        .webhook(ORG, id)
        .await
        .unwrap()
        .failing_since
        .is_some());
    failing.stop().await;

    let mut r = Receiver::start(port, &secret, json!({})).await;
    admin.redeliver(ORG, id, test.event_id).await.unwrap();
    let got = r.next_verified().await;
    assert_eq!(got["id"], test.event_id.to_string(), "the same webhook-id");
    deliveries_until(&admin, id, |l| l.iter().all(|d| d.status == "delivered")).await;
    assert!(admin
        .webhook(ORG, id)
        .await
        .unwrap()
        .failing_since
        .is_none());
    assert_eq!(
        code(admin.redeliver(ORG, id, Uuid::now_v7()).await),
        ProblemCode::NotFound
    );
    r.stop().await;
}

async fn a_rotated_secret_signs_from_then_on(app: TestServer) {
    let admin = app.admin().await;
    let port = free_port();
    let (id, old) = endpoint(&admin, &format!("http://127.0.0.1:{port}/"), &[]).await;
    assert_eq!(
        admin
            .webhook(ORG, id)
            .await
            .unwrap()
            .previous_secret_expires_at,
        None
    );
    let rotated = admin.rotate_webhook_secret(ORG, id).await.unwrap();
    let new = rotated.secret;
    assert_ne!(old, new);
    // The old secret goes on signing beside the new one for a day.
    let now: chrono::DateTime<chrono::Utc> = std::time::SystemTime::now().into();
    let grace = rotated.previous_secret_expires_at - now;
    assert!(
        grace > chrono::Duration::hours(23) && grace <= chrono::Duration::hours(24),
        "{grace}"
    );
    assert_eq!(
        admin
            .webhook(ORG, id)
            .await
            .unwrap()
            .previous_secret_expires_at,
        Some(rotated.previous_secret_expires_at)
    );
    // A receiver that has switched, and one that has not yet, both accept the event.
    for secret in [&new, &old] {
        let mut r = Receiver::start(port, secret, json!({})).await;
        admin.test_webhook(ORG, id).await.unwrap();
        let got = next_of(&mut r, "webhook.test").await;
        assert_eq!(
            got["payload"]["data"]["details"]["webhook_id"],
            id.to_string()
        );
        r.stop().await;
    }
    // A second rotation leaves only the secret it replaces beside the new one: the first
    // is refused from then on.
    let newest = admin.rotate_webhook_secret(ORG, id).await.unwrap().secret;
    let mut r = Receiver::start(port, &old, json!({})).await;
    admin.test_webhook(ORG, id).await.unwrap();
    let refused = r.next().await;
    assert_eq!(refused["verified"], false, "{refused}");
    r.stop().await;
    for secret in [&newest, &new] {
        let mut r = Receiver::start(port, secret, json!({})).await;
        admin.test_webhook(ORG, id).await.unwrap();
        next_of(&mut r, "webhook.test").await;
        r.stop().await;
    }
}

async fn endpoints_are_managed_by_admins_with_clear_errors(app: TestServer) {
    let admin = app.admin().await;
    let bad = |url: &str, types: &[&str]| CreateWebhookRequest {
        url: url.to_owned(),
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        enabled: None,
    };
    for (url, types, field) in [
        ("not a url", &[][..], "url"),
        ("http://example.com/hook", &[][..], "url"),
        ("ftp://127.0.0.1/", &[][..], "url"),
        (
            "https://hooks.example.com/",
            &["user.nothing"][..],
            "event_types",
        ),
    ] {
        let e = admin
            .create_webhook(ORG, &bad(url, types))
            .await
            .unwrap_err();
        assert_eq!(e.code(), Some(ProblemCode::ValidationFailed), "{url}");
        assert!(format!("{e:?}").contains(field), "{url}: {e:?}");
    }
    let (id, _) = endpoint(
        &admin,
        "https://hooks.example.com/in",
        &["login.succeeded", "user.deleted"],
    )
    .await;
    let listed = admin.webhooks(ORG).await.unwrap().items;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].event_types, ["login.succeeded", "user.deleted"]);
    assert!(listed[0].enabled);
    let changed = admin
        .update_webhook(
            ORG,
            id,
            &UpdateWebhookRequest {
                event_types: Some(vec![]),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(changed.event_types.is_empty(), "every type");
    let member = app.member_of(ORG, "carol@example.com", &[]).await;
    assert_eq!(code(member.webhooks(ORG).await), ProblemCode::Forbidden);
    assert_eq!(
        code(app.client().webhooks(ORG).await),
        ProblemCode::Unauthorized
    );
    admin.delete_webhook(ORG, id).await.unwrap();
    assert_eq!(code(admin.webhook(ORG, id).await), ProblemCode::NotFound);
    assert_eq!(
        code(admin.delete_webhook(ORG, id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(admin.test_webhook(ORG, id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        code(admin.webhooks("nowhere").await),
        ProblemCode::ValidationFailed
    );
    // Each change is audited.
    let kinds: Vec<String> = admin
        .audit_events(&portcullis_testkit::client::AuditQuery::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.kind)
        .collect();
    for k in ["webhook.created", "webhook.updated", "webhook.deleted"] {
        assert!(kinds.iter().any(|x| x == k), "{k} in {kinds:?}");
    }
}

/// Outbound rules: an address the operator did not allow (127.0.0.2: loopback, and the test
/// servers allow only 127.0.0.1) is never called and the delivery is given up at once; a
/// redirect is an answer like any other non-2xx, not followed.
async fn deliveries_keep_to_allowed_addresses_and_follow_no_redirect(app: TestServer) {
    let admin = app.admin().await;
    let (refused, _) = endpoint(&admin, "http://127.0.0.2:9/in", &["user.deleted"]).await;
    let test = admin.test_webhook(ORG, refused).await.unwrap();
    let list = deliveries_until(&admin, refused, |l| l.iter().any(|d| d.status == "failed")).await;
    let d = list.iter().find(|d| d.event_id == test.event_id).unwrap();
    assert_eq!((d.attempts, d.response_status), (1, None), "{d:?}");
    assert!(
        d.error
            .as_deref()
            .unwrap()
            .contains("not an address outbound calls may reach"),
        "{d:?}"
    );
    assert!(admin
        .webhook(ORG, refused)
        .await
        .unwrap()
        .failing_since
        .is_some());

    let port = free_port();
    let (moved, secret) = endpoint(
        &admin,
        &format!("http://127.0.0.1:{port}/"),
        &["user.deleted"],
    )
    .await;
    // Redirected to a path of its own that counts: a followed redirect would show there.
    let target = format!("http://127.0.0.1:{port}/elsewhere");
    let mut r = Receiver::start(port, &secret, json!({"status": 307, "location": target})).await;
    let test = admin.test_webhook(ORG, moved).await.unwrap();
    assert_eq!(r.next_verified().await["id"], test.event_id.to_string());
    let list = deliveries_until(&admin, moved, |l| {
        l.iter()
            .any(|d| d.event_id == test.event_id && d.response_status.is_some())
    })
    .await;
    let d = list.iter().find(|d| d.event_id == test.event_id).unwrap();
    assert_eq!(
        (d.status.as_str(), d.response_status),
        ("pending", Some(307)),
        "{d:?}"
    );
    // The next request is the retry, to the endpoint itself, never the redirect's target.
    assert_eq!(r.next().await["path"], "/");
    admin.delete_webhook(ORG, moved).await.unwrap();
    r.stop().await;

    // A hook at a refused address fails like a dead one.
    set_hook(
        &admin,
        "before_user_created",
        "http://127.0.0.2:9/".into(),
        SetHookRequest {
            on_failure: Some("closed".into()),
            ..Default::default()
        },
    )
    .await;
    let e = app
        .client()
        .register(&register_request("ann@example.com"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ProblemCode::HookUnavailable));
}

fn register_request(email: &str) -> RegisterRequest {
    RegisterRequest {
        email: Some(email.to_owned()),
        password: Some(USER_PASSWORD.to_owned()),
        ..RegisterRequest::default()
    }
}

async fn set_hook(admin: &Client, name: &str, url: String, extra: SetHookRequest) -> String {
    admin
        .set_hook(
            ORG,
            name,
            &SetHookRequest {
                url: Some(url),
                ..extra
            },
        )
        .await
        .unwrap()
        .secret
        .expect("a new hook's secret")
}

async fn before_user_created_refuses_a_sign_up_with_its_message(app: TestServer) {
    let admin = app.admin().await;
    let port = free_port();
    let secret = set_hook(
        &admin,
        "before_user_created",
        format!("http://127.0.0.1:{port}/"),
        SetHookRequest::default(),
    )
    .await;
    let mut r = Receiver::start(
        port,
        &secret,
        json!({"answer": {"decision": "deny", "message": "Sign-ups from blocked.example are closed."}}),
    )
    .await;
    let e = app
        .client()
        .register(&register_request("eve@blocked.example"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ProblemCode::HookDenied));
    let asked = r.next_verified().await;
    assert_eq!(asked["payload"]["data"]["source"], "registration");
    // A guest account is asked about too.
    crate::set_policy(&app, ORG, json!({"allow_anonymous": true})).await;
    let guest = app.client().register_anonymous(None).await.unwrap_err();
    assert_eq!(guest.code(), Some(ProblemCode::HookDenied));
    assert_eq!(
        r.next_verified().await["payload"]["data"]["source"],
        "guest"
    );
    assert!(format!("{e:?}").contains("Sign-ups from blocked.example are closed."));
    assert_eq!(asked["payload"]["type"], "before_user_created");
    assert_eq!(asked["payload"]["data"]["email"], "eve@blocked.example");
    assert!(
        !asked.to_string().contains(USER_PASSWORD),
        "the hook never sees the password"
    );
    r.stop().await;
    // An admin's creation is asked too; an allowing hook lets both through.
    let mut r = Receiver::start(port, &secret, json!({"answer": {"decision": "allow"}})).await;
    app.client()
        .register(&register_request("ann@example.com"))
        .await
        .unwrap();
    assert_eq!(
        r.next_verified().await["payload"]["data"]["source"],
        "registration"
    );
    app.member_of(ORG, "bob@example.com", &[]).await;
    assert_eq!(
        r.next_verified().await["payload"]["data"]["source"],
        "admin"
    );
    r.stop().await;
    // After a rotation the hook is signed with both secrets for a day: a receiver that still
    // holds the old one, and one that has the new one, both verify the call.
    let rotated = admin
        .rotate_hook_secret(ORG, "before_user_created")
        .await
        .unwrap();
    assert_ne!(rotated.secret, secret);
    for (key, email) in [
        (&secret, "old-key@example.com"),
        (&rotated.secret, "new-key@example.com"),
    ] {
        let mut r = Receiver::start(port, key, json!({"answer": {"decision": "allow"}})).await;
        app.client()
            .register(&register_request(email))
            .await
            .unwrap();
        assert_eq!(r.next_verified().await["payload"]["data"]["email"], email);
        r.stop().await;
    }
    let hooks = admin.hooks(ORG).await.unwrap().items;
    assert_eq!(hooks.len(), 1);
    assert_eq!(
        (hooks[0].timeout_ms, hooks[0].on_failure.as_str()),
        (2000, "open")
    );
}

async fn a_failing_hook_fails_open_or_closed_as_set_within_its_budget(app: TestServer) {
    let admin = app.admin().await;
    // Nothing listens there: fails at once.
    let dead = format!("http://127.0.0.1:{}/", free_port());
    set_hook(
        &admin,
        "before_user_created",
        dead,
        SetHookRequest {
            on_failure: Some("closed".into()),
            ..Default::default()
        },
    )
    .await;
    let e = app
        .client()
        .register(&register_request("ann@example.com"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ProblemCode::HookUnavailable));
    // A slow hook, past its budget: refused closed, let through open.
    let slow = Receiver::start(
        0,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        json!({"delay_ms": 5000, "answer": {"decision": "allow"}}),
    )
    .await;
    admin
        .set_hook(
            ORG,
            "before_user_created",
            &SetHookRequest {
                url: Some(slow.url("/")),
                timeout_ms: Some(300),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let e = app
        .client()
        .register(&register_request("bob@example.com"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ProblemCode::HookUnavailable));
    let open = admin
        .set_hook(
            ORG,
            "before_user_created",
            &SetHookRequest {
                on_failure: Some("open".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(open.secret.is_none(), "a change shows no secret");
    app.client()
        .register(&register_request("bob@example.com"))
        .await
        .unwrap();
    // Counted (the recorder is the test process's, shared by parallel tests: at least).
    let metrics = app.metrics().await;
    for (result, at_least) in [("failed", 1.0), ("timeout", 2.0)] {
        let series = format!(
            r#"portcullis_hook_calls_total{{hook="before_user_created",result="{result}"}} "#
        );
        let n: f64 = metrics
            .lines()
            .find_map(|l| l.strip_prefix(&series))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0);
        assert!(n >= at_least, "{series}{n}");
    }
    // Bad settings and unknown hooks.
    let e = admin
        .set_hook(
            ORG,
            "before_user_created",
            &SetHookRequest {
                timeout_ms: Some(60_000),
                on_failure: Some("sometimes".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code(), Some(ProblemCode::ValidationFailed));
    assert!(format!("{e:?}").contains("timeout_ms") && format!("{e:?}").contains("on_failure"));
    assert_eq!(
        code(admin.hook(ORG, "after_lunch").await),
        ProblemCode::NotFound
    );
    admin.delete_hook(ORG, "before_user_created").await.unwrap();
    assert_eq!(
        code(admin.delete_hook(ORG, "before_user_created").await),
        ProblemCode::NotFound
    );
    slow.stop().await;
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn a_claims_hook_adds_claims_but_never_reserved_ones(app: TestServer) {
    let admin = app.admin().await;
    let user = app.user("ann@example.com").await;
    let port = free_port();
    let secret = set_hook(
        &admin,
        "custom_access_token_claims",
        format!("http://127.0.0.1:{port}/"),
        SetHookRequest::default(),
    )
    .await;
    let mut r = Receiver::start(
        port,
        &secret,
        json!({"answer": {"claims": {"tier": "gold", "sub": "someone-else", "roles": ["system_admin"], "exp": 1}}}),
    )
    .await;
    let pair = app.login("ann@example.com", USER_PASSWORD).await;
    let claims = claims_of(&pair.access_token);
    assert_eq!(claims["tier"], "gold");
    assert_eq!(claims["sub"], user.id.to_string());
    assert_eq!(claims["roles"], json!(["user"]));
    assert!(claims["exp"].as_i64().unwrap() > 1);
    let asked = r.next_verified().await;
    assert_eq!(asked["payload"]["type"], "custom_access_token_claims");
    assert_eq!(asked["payload"]["data"]["user"]["id"], user.id.to_string());
    // The token works, and a refreshed one asks again.
    let me = app
        .client()
        .with_token(&pair.access_token)
        .me()
        .await
        .unwrap();
    assert_eq!(me.id, user.id);
    let next = app.client().refresh(&pair.refresh_token).await.unwrap();
    assert_eq!(claims_of(&next.access_token)["tier"], "gold");
    r.next_verified().await;
    r.stop().await;
}

both_backends!(
    events_arrive_signed_in_order_and_carry_no_secret,
    an_endpoint_gets_only_the_types_it_asked_for_and_none_while_disabled,
    a_receiver_down_for_a_while_gets_every_event_when_it_is_back,
    a_delivery_given_up_marks_the_endpoint_failing_until_a_redelivery_succeeds,
    a_rotated_secret_signs_from_then_on,
    endpoints_are_managed_by_admins_with_clear_errors,
    deliveries_keep_to_allowed_addresses_and_follow_no_redirect,
    before_user_created_refuses_a_sign_up_with_its_message,
    a_failing_hook_fails_open_or_closed_as_set_within_its_budget,
    a_claims_hook_adds_claims_but_never_reserved_ones,
);
