//! The hosted pages over HTTP, as a browser without JavaScript speaks to them: cookies,
//! CSRF tokens, security headers, the page session's renewal, and who may open the console.
//! (The way back to an application is the OpenID Connect provider's, in `oidc.rs`; the
//! whole flow in a real browser is `tests/browser.rs`.)

use portcullis_testkit::{both_backends, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD};
use serde_json::json;

use crate::browser::Browser;
use crate::code;

async fn forms_need_their_csrf_token_and_pages_allow_no_script(app: TestServer) {
    app.user("bo@example.com").await;
    let mut b = Browser::new(&app);
    let page = b.get("/ui/signin").await;
    let csp = page.header("content-security-policy");
    assert!(csp.starts_with("default-src 'none'"), "{csp}");
    assert!(
        csp.contains("script-src 'self';"),
        "only the server's own script: {csp}"
    );
    assert!(!csp.contains("unsafe"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"));
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(page.header("referrer-policy"), "no-referrer");
    let set = page.header("set-cookie");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Lax"),
        "{set}"
    );
    // Without the token, or with another browser's, the form is refused.
    let form = [
        ("identifier", "bo@example.com"),
        ("password", USER_PASSWORD),
    ];
    let refused = b.post("/ui/signin", &form).await;
    assert_eq!(refused.status, 403);
    let mut other = Browser::new(&app);
    let theirs = other.get("/ui/signin").await.csrf();
    let mut forged = vec![("csrf", theirs.as_str())];
    forged.extend_from_slice(&form);
    assert_eq!(b.post("/ui/signin", &forged).await.status, 403);
    assert!(!b.cookies.contains_key("pc_session"));
    // With it, signed in; a wrong password says so without saying which part was wrong.
    let wrong = b
        .submit(
            "/ui/signin",
            "/ui/signin",
            &[("identifier", "bo@example.com"), ("password", "wrong")],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.body.contains("not the right password"));
    let done = b.sign_in("", "bo@example.com", USER_PASSWORD).await;
    assert_eq!(
        (done.status, done.location().as_str()),
        (303, "/ui/account")
    );
    assert!(b.cookies.contains_key("pc_session"));
    // The browser keeps a device cookie: while others' failures lock the account, this
    // browser still signs in with the right password; a fresh one does not.
    assert!(b.cookies["pc_device"].starts_with("pcd_"));
    for _ in 0..5 {
        let _ = app.try_login("bo@example.com", "not the password").await;
    }
    assert_eq!(
        code(app.try_login("bo@example.com", USER_PASSWORD).await),
        portcullis_testkit::api::ProblemCode::AccountLocked
    );
    let mut stranger = Browser::new(&app);
    let locked = stranger.sign_in("", "bo@example.com", USER_PASSWORD).await;
    assert_eq!(locked.status, 401, "{}", locked.body);
    assert!(locked.body.contains("locked"), "{}", locked.body);
    let again = b.sign_in("", "bo@example.com", USER_PASSWORD).await;
    assert_eq!(
        (again.status, again.location().as_str()),
        (303, "/ui/account")
    );
}

/// Asking twice within the minute for a reset link: the page says how long to wait, for an
/// address with an account as for one without.
async fn a_second_reset_request_says_how_long_to_wait(app: TestServer) {
    app.user("di@example.com").await;
    app.advance_to_next_minute();
    let mut b = Browser::new(&app);
    for email in ["di@example.com", "nobody@example.com"] {
        let first = b
            .submit("/ui/forgot", "/ui/forgot", &[("email", email)])
            .await;
        assert_eq!(first.status, 200, "{}", first.body);
        let again = b
            .submit("/ui/forgot", "/ui/forgot", &[("email", email)])
            .await;
        assert!(
            again.body.contains("try again in"),
            "{email}: {}",
            again.body
        );
    }
}

async fn the_page_session_renews_itself_and_ends_with_sign_out(app: TestServer) {
    app.user("cy@example.com").await;
    let mut b = Browser::new(&app);
    b.sign_in("", "cy@example.com", USER_PASSWORD).await;
    let first = b.cookies["pc_session"].clone();
    // Past the access token's life: the refresh token renews the page session.
    app.advance(20 * 60);
    let page = b.get("/ui/account").await;
    assert_eq!(page.status, 200);
    assert_ne!(b.cookies["pc_session"], first);
    // Signing out ends the session behind the cookie: the old cookie is worth nothing.
    let renewed = b.cookies["pc_session"].clone();
    let csrf = page.csrf();
    let out = b.post("/ui/signout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(out.location(), "/ui/signin");
    assert!(!b.cookies.contains_key("pc_session"));
    b.cookies.insert("pc_session".into(), renewed);
    let page = b.get("/ui/account").await;
    assert_eq!((page.status, page.location().as_str()), (303, "/ui/signin"));
    // A cookie that is not one of ours is dropped.
    b.cookies.insert("pc_session".into(), "forged".into());
    let page = b.get("/ui/account").await;
    assert_eq!(page.status, 303);
    assert!(!b.cookies.contains_key("pc_session"));
}

async fn the_console_is_for_admins_within_their_reach(app: TestServer) {
    app.user("dee@example.com").await;
    let mut b = Browser::new(&app);
    assert_eq!(b.get("/ui/admin").await.status, 303);
    b.sign_in("", "dee@example.com", USER_PASSWORD).await;
    for path in ["/ui/admin", "/ui/admin/orgs", "/ui/admin/audit"] {
        assert_eq!(b.get(path).await.status, 403, "{path}");
    }
    let mut admin = Browser::new(&app);
    admin.sign_in("", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    for path in [
        "/ui/admin",
        "/ui/admin/",
        "/ui/admin/orgs",
        "/ui/admin/orgs/default",
        "/ui/admin/audit",
    ] {
        let page = admin.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
    }
    assert_eq!(admin.get("/ui/admin/users/not-an-id").await.status, 404);
    assert_eq!(admin.get("/ui/admin/orgs/nowhere").await.status, 404);
    assert_eq!(
        admin.get("/ui/admin/audit?since=yesterday").await.status,
        400
    );
    // A license made in the console is shown once, and works.
    let made = admin
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/licenses",
            &[("max_devices", "2")],
        )
        .await;
    assert_eq!(made.status, 200);
    assert!(made.body.contains("pcl_"));
    // Branding: the organization's colour comes as a stylesheet, the logo in the page.
    crate::set_policy(
        &app,
        "default",
        json!({"brand_color": "#aa3300", "brand_logo_url": "https://cdn.example/logo.png"}),
    )
    .await;
    let css = admin.get("/ui/assets/brand.css?org=default").await;
    assert!(css.body.contains("--brand: #aa3300"));
    assert!(admin
        .get("/ui/signin")
        .await
        .body
        .contains("src=\"https://cdn.example/logo.png\""));
}

/// An application registered in the console: the secret is shown once (then never on the
/// page), a new one replaces it, a bad redirect URI is refused with its reason, and deleting
/// removes it. Public clients get no secret.
async fn the_console_registers_applications(app: TestServer) {
    let mut admin = Browser::new(&app);
    admin.sign_in("", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let made = admin
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/clients",
            &[
                ("name", "Acme web"),
                ("client_type", "confidential"),
                (
                    "redirect_uris",
                    "https://app.acme.test/cb\r\nhttp://localhost:3000/cb\r\n",
                ),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let secret = made
        .body
        .split(|c: char| c == '<' || c == '>' || c.is_whitespace())
        .find(|w| w.starts_with("pcs_"))
        .expect("the secret, once")
        .to_owned();
    let listed = app
        .admin()
        .await
        .oauth_clients("default")
        .await
        .unwrap()
        .items;
    assert_eq!(listed.len(), 1);
    let client = &listed[0];
    assert_eq!(
        client.redirect_uris,
        ["https://app.acme.test/cb", "http://localhost:3000/cb"]
    );
    assert!(made.body.contains(&client.client_id.to_string()));
    let page = admin.get("/ui/admin/orgs/default").await;
    assert!(page.body.contains("Acme web") && !page.body.contains(&secret));

    let action = format!("/ui/admin/orgs/default/clients/{}", client.client_id);
    let rotated = admin
        .submit("/ui/admin/orgs/default", &action, &[("action", "rotate")])
        .await;
    assert_eq!(rotated.status, 200);
    assert!(rotated.body.contains("pcs_") && !rotated.body.contains(&secret));

    let refused = admin
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/clients",
            &[
                ("name", "Bad"),
                ("redirect_uris", "http://app.acme.test/cb"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("loopback"), "{}", refused.body);

    let public = admin
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/clients",
            &[
                ("name", "Acme SPA"),
                ("client_type", "public"),
                ("redirect_uris", "http://127.0.0.1:5173/cb"),
            ],
        )
        .await;
    assert_eq!(public.status, 200);
    assert!(!public.body.contains("pcs_"));

    let gone = admin
        .submit("/ui/admin/orgs/default", &action, &[("action", "delete")])
        .await;
    assert_eq!(gone.status, 200);
    let left = app
        .admin()
        .await
        .oauth_clients("default")
        .await
        .unwrap()
        .items;
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].name, "Acme SPA");
}

/// A webhook endpoint added in the console: its secret shown once (never on the page
/// after), a test event whose delivery shows on the endpoint's page and can be sent again,
/// turned off, refused with its reason when its URL is bad, deleted.
async fn the_console_makes_and_revokes_scim_tokens(app: TestServer) {
    let mut admin = Browser::new(&app);
    admin.sign_in("", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let made = admin
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/scim-tokens",
            &[("description", "Okta")],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let base = format!("{}/scim/v2/default", app.url());
    assert!(made.body.contains(&base), "{}", made.body);
    let token = made
        .body
        .split(|c: char| c == '<' || c == '>' || c.is_whitespace())
        .find(|w| w.starts_with("pcscim_"))
        .expect("the token, once")
        .to_owned();
    let scim = |token: String| {
        let url = format!("{base}/Users");
        async move {
            reqwest::Client::new()
                .get(url)
                .bearer_auth(token)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(scim(token.clone()).await, 200);
    let page = admin.get("/ui/admin/orgs/default").await;
    assert!(page.body.contains("Okta") && !page.body.contains(&token));
    let id = app
        .admin()
        .await
        .scim_tokens("default")
        .await
        .unwrap()
        .items[0]
        .id;
    let revoked = admin
        .submit(
            "/ui/admin/orgs/default",
            &format!("/ui/admin/orgs/default/scim-tokens/{id}/revoke"),
            &[],
        )
        .await;
    assert_eq!(revoked.status, 200);
    assert!(revoked.body.contains("Revoked."));
    assert_eq!(scim(token).await, 401);
    let empty = admin
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/scim-tokens",
            &[("description", " ")],
        )
        .await;
    assert_eq!(empty.status, 400, "{}", empty.body);
}

async fn the_console_manages_webhooks(app: TestServer) {
    let mut admin = Browser::new(&app);
    admin.sign_in("", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let made = admin
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/webhooks",
            &[
                ("url", "https://hooks.acme.test/in"),
                ("event_types", "user.registered\r\nuser.deleted\r\n"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    let secret = made
        .body
        .split(|c: char| c == '<' || c == '>' || c.is_whitespace())
        .find(|w| w.starts_with("whsec_"))
        .expect("the secret, once")
        .to_owned();
    let api = app.admin().await;
    let listed = api.webhooks("default").await.unwrap().items;
    assert_eq!(listed.len(), 1);
    let w = &listed[0];
    assert_eq!(w.event_types, ["user.deleted", "user.registered"]);
    let page = admin.get("/ui/admin/orgs/default").await;
    assert!(page.body.contains("https://hooks.acme.test/in") && !page.body.contains(&secret));

    let action = format!("/ui/admin/orgs/default/webhooks/{}/action", w.id);
    let tested = admin
        .submit("/ui/admin/orgs/default", &action, &[("action", "test")])
        .await;
    assert_eq!(tested.status, 200);
    let detail = format!("/ui/admin/orgs/default/webhooks/{}", w.id);
    let deliveries = admin.get(&detail).await;
    assert!(
        deliveries.body.contains("webhook.test"),
        "{}",
        deliveries.body
    );
    let event = api
        .webhook_deliveries("default", w.id, None)
        .await
        .unwrap()
        .items[0]
        .event_id;
    let again = admin
        .submit(
            &detail,
            &format!("/ui/admin/orgs/default/webhooks/{}/redeliver", w.id),
            &[("event_id", &event.to_string())],
        )
        .await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("Queued again."));

    let off = admin
        .submit("/ui/admin/orgs/default", &action, &[("action", "disable")])
        .await;
    assert_eq!(off.status, 200);
    assert!(!api.webhook("default", w.id).await.unwrap().enabled);
    let rotated = admin
        .submit("/ui/admin/orgs/default", &action, &[("action", "rotate")])
        .await;
    assert!(rotated.body.contains("whsec_") && !rotated.body.contains(&secret));
    let refused = admin
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/webhooks",
            &[("url", "http://hooks.acme.test/in")],
        )
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.body.contains("loopback"), "{}", refused.body);
    let gone = admin
        .submit("/ui/admin/orgs/default", &action, &[("action", "delete")])
        .await;
    assert_eq!(gone.status, 200);
    assert!(api.webhooks("default").await.unwrap().items.is_empty());
}

async fn an_organization_that_requires_a_second_factor_gets_one_enrolled_first(app: TestServer) {
    crate::set_policy(&app, "default", json!({"mfa_required": true})).await;
    app.user("eve@example.com").await;
    let mut b = Browser::new(&app);
    let done = b.sign_in("", "eve@example.com", USER_PASSWORD).await;
    assert_eq!(done.location(), "/ui/account");
    let account = b.get("/ui/account").await;
    assert!(account.body.contains("set up an authenticator app below"));
    assert!(!account.body.contains("/ui/account/tokens"));
    // Anything but enrolment goes back to the account page.
    let csrf = account.csrf();
    let refused = b
        .post(
            "/ui/account/tokens",
            &[("csrf", &csrf), ("description", "x")],
        )
        .await;
    assert_eq!(
        (refused.status, refused.location().as_str()),
        (303, "/ui/account")
    );
    // Enrol: the key from the page, a code, the recovery codes; then sign in again.
    let page = b
        .post(
            "/ui/account/mfa/start",
            &[("csrf", &csrf), ("password", USER_PASSWORD)],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let marker = "id=\"secret\">";
    let at = page.body.find(marker).unwrap() + marker.len();
    let secret = portcullis_testkit::base32(page.body[at..].split('<').next().unwrap());
    let marker = "name=\"key_id\" value=\"";
    let key_at = page.body.find(marker).unwrap() + marker.len();
    let key_id = page.body[key_at..].split('"').next().unwrap().to_owned();
    let code = portcullis_testkit::totp(&secret, app.now().timestamp(), 6);
    let once = b
        .post(
            "/ui/account/mfa/activate",
            &[("csrf", &csrf), ("key_id", &key_id), ("code", &code)],
        )
        .await;
    assert_eq!(once.status, 200, "{}", once.body);
    assert!(once.body.contains("href=\"/ui/signin\""));
    assert_eq!(once.body.matches("<li><code>").count(), 10);
    assert!(!b.cookies.contains_key("pc_session"));
    let again = b.sign_in("", "eve@example.com", USER_PASSWORD).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("Second step"));
}

async fn a_mailed_or_texted_code_signs_in(app: TestServer) {
    const PHONE: &str = "+14155552671";
    app.client()
        .register(&portcullis_testkit::api::RegisterRequest {
            phone: Some(PHONE.into()),
            ..Default::default()
        })
        .await
        .unwrap();
    app.user("fay@example.com").await;
    for (who, n) in [(PHONE, 2), ("fay@example.com", 2)] {
        // A minute after registration's own code (one code a minute per address).
        app.advance(61);
        let mut b = Browser::new(&app);
        let sent = b.submit("/ui/code", "/ui/code", &[("email", who)]).await;
        assert_eq!(sent.status, 200, "{}", sent.body);
        assert!(sent.body.contains("action=\"/ui/code/signin\""));
        let text = if who.starts_with('+') {
            app.nth_sms(who, n).await.body
        } else {
            app.nth_mail(who, n).await.text
        };
        let code = portcullis_testkit::code_in(&text);
        let csrf = sent.csrf();
        let wrong = b
            .post(
                "/ui/code/signin",
                &[("csrf", &csrf), ("email", who), ("code", "000000")],
            )
            .await;
        assert_eq!(wrong.status, 401);
        let done = b
            .post(
                "/ui/code/signin",
                &[("csrf", &csrf), ("email", who), ("code", &code)],
            )
            .await;
        assert_eq!(
            (done.status, done.location().as_str()),
            (303, "/ui/account"),
            "{who}"
        );
    }
}

both_backends!(
    a_second_reset_request_says_how_long_to_wait,
    forms_need_their_csrf_token_and_pages_allow_no_script,
    the_console_registers_applications,
    the_console_manages_webhooks,
    the_console_makes_and_revokes_scim_tokens,
    the_page_session_renews_itself_and_ends_with_sign_out,
    the_console_is_for_admins_within_their_reach,
    an_organization_that_requires_a_second_factor_gets_one_enrolled_first,
    a_mailed_or_texted_code_signs_in,
);
