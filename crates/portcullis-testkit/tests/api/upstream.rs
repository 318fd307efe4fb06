//! Signing in through upstream identity providers, over HTTP as a browser does: against
//! panva's certified `oidc-provider` (npm, under Node, driven through its own login and
//! consent forms), and against a provider on loopback that misbehaves on demand (wrong
//! audience, expired token, another nonce, a key it does not publish, an error answer, a
//! dead token endpoint). Every failure is a clear page, never a 500.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Form, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Json;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use portcullis_testkit::api::ProblemCode;
use portcullis_testkit::{both_backends, TestServer, ADMIN_EMAIL, ADMIN_PASSWORD, USER_PASSWORD};
use reqwest::Method;
use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};

use crate::browser::{Browser, Page};

const CLIENT_ID: &str = "portcullis-test";
const CLIENT_SECRET: &str = "upstream-secret-1";

/// How the loopback provider answers next.
#[derive(Default)]
struct Fake {
    /// `ok`, `wrong_aud`, `expired`, `bad_nonce`, `unknown_key`, `deny`, `token_down`,
    /// `slow` (the token endpoint takes 1.5 s).
    mode: String,
    /// The provider rotated its key: the set publishes `k2` only and tokens are signed by it.
    rotated: bool,
    /// Apple's way: the public key the client secret (an ES256 JWT) must verify with.
    apple_key: Option<Vec<u8>>,
    subject: String,
    email: String,
    verified: bool,
    amr: Vec<String>,
    /// code -> (nonce, code_challenge).
    codes: BTreeMap<String, (String, String)>,
}

struct Upstream {
    url: String,
    fake: Arc<Mutex<Fake>>,
}

#[derive(Clone)]
struct FakeState {
    fake: Arc<Mutex<Fake>>,
    issuer: String,
    key: Arc<Ed25519KeyPair>,
    other: Arc<Ed25519KeyPair>,
}

fn keypair() -> Ed25519KeyPair {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
    Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap()
}

fn sign(key: &Ed25519KeyPair, kid: &str, claims: &Value) -> String {
    let header = json!({"alg": "EdDSA", "kid": kid, "typ": "JWT"});
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let sig = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.as_ref()))
}

impl Upstream {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let fake = Arc::new(Mutex::new(Fake {
            mode: "ok".into(),
            subject: "sub-1".into(),
            email: "new@example.com".into(),
            verified: true,
            ..Fake::default()
        }));
        let state = FakeState {
            fake: Arc::clone(&fake),
            issuer: url.clone(),
            key: Arc::new(keypair()),
            other: Arc::new(keypair()),
        };
        let app = axum::Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route(
                "/ms/{tenant}/v2.0/.well-known/openid-configuration",
                get(ms_discovery),
            )
            .route("/login/oauth/access_token", post(github_token))
            .route("/api/user", get(github_user))
            .route("/api/user/emails", get(github_emails))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, fake }
    }

    fn set(&self, f: impl FnOnce(&mut Fake)) {
        f(&mut self.fake.lock().unwrap());
    }
}

async fn discovery(State(s): State<FakeState>) -> Json<Value> {
    Json(json!({
        "issuer": s.issuer,
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "jwks_uri": format!("{}/jwks", s.issuer),
        "token_endpoint_auth_methods_supported": ["client_secret_basic"],
    }))
}

/// Microsoft's multi-tenant discovery: the issuer holds `{tenantid}`.
async fn ms_discovery(State(s): State<FakeState>) -> Json<Value> {
    Json(json!({
        "issuer": format!("{}/ms/{{tenantid}}/v2.0", s.issuer),
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "jwks_uri": format!("{}/jwks", s.issuer),
    }))
}

/// GitHub's token endpoint: the client's credentials in the form, errors answered 200.
async fn github_token(Form(form): Form<BTreeMap<String, String>>) -> Json<Value> {
    if form.get("client_secret").map(String::as_str) != Some(CLIENT_SECRET) {
        return Json(json!({"error": "incorrect_client_credentials"}));
    }
    Json(
        json!({"access_token": "gh-token", "token_type": "bearer", "scope": "read:user,user:email"}),
    )
}

fn github_bearer(headers: &axum::http::HeaderMap) -> bool {
    headers.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer gh-token")
}

async fn github_user(headers: axum::http::HeaderMap) -> Response {
    if !github_bearer(&headers) {
        return axum::http::StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!({"id": 4242, "login": "octo", "name": "Octo Cat", "email": null})).into_response()
}

async fn github_emails(headers: axum::http::HeaderMap) -> Response {
    if !github_bearer(&headers) {
        return axum::http::StatusCode::UNAUTHORIZED.into_response();
    }
    Json(json!([
        {"email": "octo-old@example.com", "primary": false, "verified": true},
        {"email": "Octo@Example.com", "primary": true, "verified": true}
    ]))
    .into_response()
}

async fn jwks(State(s): State<FakeState>) -> Json<Value> {
    // After a rotation the set holds only the new key.
    let (key, kid) = if s.fake.lock().unwrap().rotated {
        (&s.other, "k2")
    } else {
        (&s.key, "k1")
    };
    let x = URL_SAFE_NO_PAD.encode(key.public_key().as_ref());
    Json(json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": kid, "use": "sig", "x": x}]}))
}

async fn authorize(
    State(s): State<FakeState>,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    let mut f = s.fake.lock().unwrap();
    let redirect = q["redirect_uri"].clone();
    let state = q["state"].clone();
    if f.mode == "deny" {
        let query =
            serde_urlencoded::to_string([("error", "access_denied"), ("state", state.as_str())])
                .unwrap();
        return Redirect::to(&format!("{redirect}?{query}")).into_response();
    }
    assert_eq!(q["client_id"], CLIENT_ID);
    assert_eq!(q["code_challenge_method"], "S256");
    let code = format!("code-{}", f.codes.len());
    let nonce = q.get("nonce").cloned().unwrap_or_default();
    f.codes
        .insert(code.clone(), (nonce, q["code_challenge"].clone()));
    // Apple answers with a page that posts the code to the callback.
    if q.get("response_mode").map(String::as_str) == Some("form_post") {
        return axum::response::Html(format!(
            "<form method=post action=\"{redirect}\"><input name=code value=\"{code}\"><input name=state value=\"{state}\"></form>"
        ))
        .into_response();
    }
    let query =
        serde_urlencoded::to_string([("code", code.as_str()), ("state", state.as_str())]).unwrap();
    Redirect::to(&format!("{redirect}?{query}")).into_response()
}

/// Whether the form carries Apple's client secret: an ES256 JWT from the team, for the
/// client, to Apple, signed by the key.
fn apple_secret_ok(public_key: &[u8], form: &BTreeMap<String, String>) -> bool {
    let Some((input, sig)) = form.get("client_secret").and_then(|j| j.rsplit_once('.')) else {
        return false;
    };
    let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
        return false;
    };
    let key = ring::signature::UnparsedPublicKey::new(
        &ring::signature::ECDSA_P256_SHA256_FIXED,
        public_key,
    );
    if key.verify(input.as_bytes(), &sig).is_err() {
        return false;
    }
    let payload = URL_SAFE_NO_PAD
        .decode(input.split('.').nth(1).unwrap_or_default())
        .unwrap_or_default();
    let claims: Value = serde_json::from_slice(&payload).unwrap_or_default();
    claims["iss"] == "TEAM123"
        && claims["sub"] == CLIENT_ID
        && claims["aud"] == "https://appleid.apple.com"
        && form.get("client_id").map(String::as_str) == Some(CLIENT_ID)
}

async fn token(
    State(s): State<FakeState>,
    headers: axum::http::HeaderMap,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    let slow = s.fake.lock().unwrap().mode == "slow";
    if slow {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    }
    let f = s.fake.lock().unwrap();
    if f.mode == "token_down" {
        return (axum::http::StatusCode::SERVICE_UNAVAILABLE, "down").into_response();
    }
    // Client authentication (client_secret_basic, or Apple's signed secret in the form) and
    // PKCE, as a strict provider checks.
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"))
    );
    let authenticated = match &f.apple_key {
        Some(key) => apple_secret_ok(key, &form),
        None => headers.get("authorization").and_then(|v| v.to_str().ok()) == Some(basic.as_str()),
    };
    if !authenticated {
        return (
            axum::http::StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        )
            .into_response();
    }
    let Some((nonce, challenge)) = f.codes.get(&form["code"]).cloned() else {
        return (
            axum::http::StatusCode::BAD_REQUEST,
            Json(json!({"error": "invalid_grant"})),
        )
            .into_response();
    };
    let verifier = &form["code_verifier"];
    let computed = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    assert_eq!(computed, challenge, "PKCE verifier");
    // The provider's own clock: the world's, not the server's.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0));
    let mut claims = json!({
        "iss": s.issuer, "sub": f.subject, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
        "nonce": nonce, "email": f.email, "email_verified": f.verified,
        "given_name": "Up", "family_name": "Stream", "amr": f.amr,
    });
    let tenant = "9188040d-6c67-4c5b-b112-36a304b66dad";
    match f.mode.as_str() {
        "ms" => {
            claims["iss"] = json!(format!("{}/ms/{tenant}/v2.0", s.issuer));
            claims["tid"] = json!(tenant);
        }
        // Another tenant's issuer with this tenant's tid.
        "ms_wrong_tid" => {
            claims["iss"] = json!(format!(
                "{}/ms/00000000-0000-0000-0000-000000000001/v2.0",
                s.issuer
            ));
            claims["tid"] = json!(tenant);
        }
        "wrong_aud" => claims["aud"] = json!("someone-else"),
        "expired" => claims["exp"] = json!(now - 3600),
        "bad_nonce" => claims["nonce"] = json!("not-the-nonce"),
        _ => {}
    }
    let id_token = if f.rotated || f.mode == "unknown_key" {
        sign(&s.other, "k2", &claims)
    } else {
        sign(&s.key, "k1", &claims)
    };
    Json(json!({"access_token": "at", "token_type": "Bearer", "id_token": id_token, "refresh_token": "upstream-rt"}))
        .into_response()
}

/// An admin's call: the status and the JSON answer (`null` when there is none).
async fn admin(
    app: &TestServer,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let token = app.login(ADMIN_EMAIL, ADMIN_PASSWORD).await.access_token;
    let mut req = reqwest::Client::new()
        .request(method, format!("{}{path}", app.url()))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

/// Creates a provider in the default organization; answers its JSON.
async fn create_provider(app: &TestServer, body: Value) -> (u16, Value) {
    admin(
        app,
        Method::POST,
        "/v1/orgs/default/identity-providers",
        Some(body),
    )
    .await
}

async fn patch_provider(app: &TestServer, id: &str, body: Value) {
    let path = format!("/v1/orgs/default/identity-providers/{id}");
    let (status, answer) = admin(app, Method::PATCH, &path, Some(body)).await;
    assert_eq!(status, 200, "{answer}");
}

async fn set_policy(app: &TestServer, policy: Value) {
    let body = json!({ "policy": policy });
    let (status, answer) = admin(app, Method::PATCH, "/v1/orgs/default", Some(body)).await;
    assert_eq!(status, 200, "{answer}");
}

/// "Continue with" up to the provider's answer: the path of our callback it sends the
/// browser to.
async fn to_callback(b: &mut Browser<'_>, id: &str, start: &str) -> String {
    let started = b.get(&format!("/ui/upstream/{id}/{start}")).await;
    assert_eq!(started.status, 303, "{}", started.body);
    let at_provider = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(started.location())
        .send()
        .await
        .unwrap();
    let back = at_provider.headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    back.strip_prefix(&b.app.url())
        .expect("back to us")
        .to_owned()
}

/// "Continue with": the start, the provider's answer, and our callback's answer.
async fn continue_with(b: &mut Browser<'_>, id: &str, start: &str) -> Page {
    let path = to_callback(b, id, start).await;
    b.get(&path).await
}

/// The page says the browser is signed in and goes on to the account page.
fn signed_in(page: &Page) {
    assert_eq!(
        (page.status, page.location().as_str()),
        (303, "/ui/account"),
        "{}",
        page.body
    );
}

/// Posts a code to the second step of a sign-in.
async fn second_step(b: &mut Browser<'_>, csrf: &str, code: &str) -> Page {
    b.post("/ui/signin/mfa", &[("csrf", csrf), ("code", code)])
        .await
}

fn oidc_provider(upstream: &Upstream) -> Value {
    json!({"kind": "oidc", "name": "Loopback", "issuer": upstream.url,
           "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
}

async fn providers_are_managed_by_admins_with_clear_errors(app: TestServer) {
    let upstream = Upstream::start().await;
    let (status, p) = create_provider(&app, oidc_provider(&upstream)).await;
    assert_eq!(status, 201, "{p}");
    let id = p["id"].as_str().unwrap();
    assert_eq!(
        p["redirect_uri"],
        format!("{}/ui/upstream/{id}/callback", app.url())
    );
    assert_eq!(p["has_client_secret"], true);
    assert!(
        !p.to_string().contains(CLIENT_SECRET),
        "the secret is never shown"
    );
    assert_eq!(
        (p["allow_signup"].clone(), p["allow_linking"].clone()),
        (json!(true), json!(true))
    );
    // Every problem at once.
    let (status, problem) =
        create_provider(&app, json!({"kind": "oidc", "issuer": "ftp://x"})).await;
    assert_eq!(status, 400);
    assert_eq!(problem["code"], "validation_failed");
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["client_id", "client_secret", "issuer"],
        "{problem}"
    );
    let (status, problem) = create_provider(&app, json!({"kind": "facebook"})).await;
    assert_eq!(
        (status, problem["code"].as_str()),
        (400, Some("validation_failed"))
    );
    let (status, problem) = create_provider(
        &app,
        json!({"kind": "apple", "client_id": "a", "client_secret": "k"}),
    )
    .await;
    assert_eq!(status, 400, "{problem}");
    // Microsoft's preset needs no issuer: the tenant's discovery is known.
    let (status, ms) = create_provider(&app, json!({"kind": "microsoft", "client_id": "a", "client_secret": "s", "tenant": "organizations"})).await;
    assert_eq!(status, 201, "{ms}");
    assert_eq!(ms["claims"]["email_verified"], "xms_edov");
    // A user may not manage them.
    app.user("pat@example.com").await;
    let user = app
        .login("pat@example.com", USER_PASSWORD)
        .await
        .access_token;
    let res = reqwest::Client::new()
        .get(format!("{}/v1/orgs/default/identity-providers", app.url()))
        .bearer_auth(user)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // Listed, changed, deleted.
    patch_provider(&app, id, json!({"name": "Renamed", "enabled": false})).await;
    let (_, list) = admin(
        &app,
        Method::GET,
        "/v1/orgs/default/identity-providers",
        None,
    )
    .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert_eq!(list["items"][0]["name"], "Renamed");
    let path = format!("/v1/orgs/default/identity-providers/{id}");
    assert_eq!(admin(&app, Method::DELETE, &path, None).await.0, 204);
    assert_eq!(admin(&app, Method::GET, &path, None).await.0, 404);
}

async fn a_first_sign_in_makes_an_account_unless_sign_up_is_off(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let mut b = Browser::new(&app);
    assert!(b
        .get("/ui/signup")
        .await
        .body
        .contains("Continue with Loopback"));
    let signin = b.get("/ui/signin").await;
    assert!(
        signin.body.contains("Continue with Loopback"),
        "{}",
        signin.body
    );
    let done = continue_with(&mut b, &id, "start").await;
    signed_in(&done);
    let account = b.get("/ui/account").await;
    assert!(account.body.contains("new@example.com"), "{}", account.body);
    assert!(account.body.contains("Unlink"));
    // Again: the same account, by (issuer, subject); a dead session's cookie in the browser
    // does not undo the new one.
    let mut again = Browser::new(&app);
    let back = to_callback(&mut again, &id, "start").await;
    again.cookies.insert("pc_session".into(), "dead".into());
    let done = again.get(&back).await;
    assert_eq!(done.status, 303);
    assert_eq!(again.get("/ui/account").await.status, 200);
    assert_eq!(audit_count(&app, "identity.linked").await, 1);
    // Sign-up off: another upstream account is refused, with a page that says so.
    patch_provider(&app, &id, json!({"allow_signup": false})).await;
    upstream.set(|f| {
        f.subject = "sub-2".into();
        f.email = "other@example.com".into();
    });
    let refused = continue_with(&mut Browser::new(&app), &id, "start").await;
    assert_eq!(
        refused.status,
        403,
        "{} {}",
        refused.body,
        refused.header("location")
    );
    assert!(refused.body.contains("cannot be made"), "{}", refused.body);
}

async fn linking_needs_a_verified_address_or_proof_of_the_account(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    app.user("ann@example.com").await;
    app.user("bob@example.com").await;
    // Verified upstream: linked to Ann at once.
    upstream.set(|f| {
        f.subject = "ann-upstream".into();
        f.email = "ann@example.com".into();
        f.verified = true;
    });
    let mut b = Browser::new(&app);
    let done = continue_with(&mut b, &id, "start").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(b.get("/ui/account").await.body.contains("ann@example.com"));
    // Unverified: not linked; Bob must sign in to his account first, then it is linked.
    upstream.set(|f| {
        f.subject = "bob-upstream".into();
        f.email = "bob@example.com".into();
        f.verified = false;
    });
    let mut b = Browser::new(&app);
    let prove = continue_with(&mut b, &id, "start").await;
    assert_eq!(prove.status, 200, "{}", prove.body);
    assert!(
        prove.body.contains("did not confirm bob@example.com"),
        "{}",
        prove.body
    );
    assert!(
        !b.cookies.contains_key("pc_session"),
        "not signed in by an unverified address"
    );
    let signed = b.sign_in("", "bob@example.com", USER_PASSWORD).await;
    assert_eq!(signed.status, 303);
    // Now the upstream account alone signs Bob in.
    let mut fresh = Browser::new(&app);
    let done = continue_with(&mut fresh, &id, "start").await;
    signed_in(&done);
    assert!(fresh
        .get("/ui/account")
        .await
        .body
        .contains("bob@example.com"));
    // Linking off: an address that has an account is refused.
    patch_provider(&app, &id, json!({"allow_linking": false})).await;
    app.user("cy@example.com").await;
    upstream.set(|f| {
        f.subject = "cy-upstream".into();
        f.email = "cy@example.com".into();
        f.verified = true;
    });
    let refused = continue_with(&mut Browser::new(&app), &id, "start").await;
    assert_eq!(refused.status, 409, "{}", refused.body);
}

async fn bad_answers_get_a_clear_page_never_a_500(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    for (mode, status, words) in [
        ("wrong_aud", 502, "audience"),
        ("expired", 502, "expired"),
        ("bad_nonce", 502, "nonce"),
        ("unknown_key", 502, "key"),
        ("deny", 400, "cancelled"),
        ("token_down", 502, "could not be reached"),
    ] {
        upstream.set(|f| f.mode = mode.into());
        let page = continue_with(&mut Browser::new(&app), &id, "start").await;
        assert_eq!(page.status, status, "{mode}: {}", page.body);
        assert!(page.body.contains(words), "{mode}: {}", page.body);
    }
    upstream.set(|f| f.mode = "ok".into());
    // Each failure is audited, saying why but naming no one.
    let (_, failed) = admin(
        &app,
        Method::GET,
        "/v1/audit-events?type=login.failed",
        None,
    )
    .await;
    let reasons: std::collections::BTreeSet<&str> = failed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["details"]["reason"].as_str().unwrap())
        .collect();
    assert_eq!(
        reasons,
        [
            "id_token_invalid",
            "refused_upstream",
            "upstream_unavailable"
        ]
        .into(),
        "{failed}"
    );
    // A callback that is not this browser's (another state, or no cookie) is refused.
    let mut b = Browser::new(&app);
    let started = b.get(&format!("/ui/upstream/{id}/start")).await;
    let url = url::Url::parse(&started.location()).unwrap();
    let state = url
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .to_string();
    let forged = b
        .get(&format!(
            "/ui/upstream/{id}/callback?code=code-0&state=not-{state}"
        ))
        .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    let stranger = Browser::new(&app)
        .get(&format!(
            "/ui/upstream/{id}/callback?code=code-0&state={state}"
        ))
        .await;
    assert_eq!(stranger.status, 400);
    // An unknown provider, and a provider that is down.
    let unknown = b
        .get(&format!("/ui/upstream/{}/start", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(unknown.status, 404);
    let (_, dead) = create_provider(
        &app,
        json!({"kind": "oidc", "name": "Dead", "issuer": "http://127.0.0.1:9",
               "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}),
    )
    .await;
    let down = b
        .get(&format!(
            "/ui/upstream/{}/start",
            dead["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(down.status, 502, "{}", down.body);
}

async fn the_last_way_in_cannot_be_unlinked_and_policies_still_apply(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    // An account made upstream with an unverified address: the identity is its only way in.
    upstream.set(|f| {
        f.subject = "only".into();
        f.email = "only@example.com".into();
        f.verified = false;
    });
    let mut b = Browser::new(&app);
    assert_eq!(continue_with(&mut b, &id, "start").await.status, 303);
    let account = b.get("/ui/account").await;
    let form = account.body.find("/ui/account/identities/unlink").unwrap();
    let at = form + account.body[form..].find("name=\"id\" value=\"").unwrap() + 17;
    let identity = account.body[at..].split('"').next().unwrap().to_owned();
    let csrf = account.csrf();
    let refused = b
        .post(
            "/ui/account/identities/unlink",
            &[("csrf", csrf.as_str()), ("id", identity.as_str())],
        )
        .await;
    assert_eq!(
        refused.status,
        403,
        "{} {}",
        refused.body,
        refused.header("location")
    );
    assert!(refused.body.contains("only way to sign in"));
    // The organization requires a second factor: an upstream sign-in is one factor, so the
    // session may only enrol one (the provider is trusted, but its amr proves none)...
    patch_provider(&app, &id, json!({"trust_mfa": true})).await;
    set_policy(&app, json!({"mfa_required": true})).await;
    let mut b = Browser::new(&app);
    assert_eq!(continue_with(&mut b, &id, "start").await.status, 303);
    let page = b.get("/ui/account").await;
    assert!(
        page.body.contains("asks every account for a second factor"),
        "{}",
        page.body
    );
    let enrol_only = page.body.find("Sign in with another account").is_none();
    assert!(
        enrol_only,
        "an enrolment-only session sees only the enrolment"
    );
    // ...unless the provider is trusted and its amr proves a second factor.
    upstream.set(|f| f.amr = vec!["pwd".into(), "mfa".into()]);
    let mut b = Browser::new(&app);
    assert_eq!(continue_with(&mut b, &id, "start").await.status, 303);
    assert!(b
        .get("/ui/account")
        .await
        .body
        .contains("Sign in with another account"));
}

async fn an_application_starts_an_upstream_sign_in_and_gets_its_code(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let body =
        json!({"name": "App", "redirect_uris": ["http://127.0.0.1:7/cb"], "first_party": true});
    let (_, client) = admin(
        &app,
        Method::POST,
        "/v1/orgs/default/oauth-clients",
        Some(body),
    )
    .await;
    let client_id = client["client_id"].as_str().unwrap();
    let verifier = "a".repeat(43);
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    let query = serde_urlencoded::to_string([
        ("client_id", client_id),
        ("redirect_uri", "http://127.0.0.1:7/cb"),
        ("response_type", "code"),
        ("scope", "openid email"),
        ("state", "app-state"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ])
    .unwrap();
    let mut b = Browser::new(&app);
    // The API start: straight to the provider, back to the application with a code.
    let started = b
        .get(&format!("/v1/auth/upstream/{id}/start?{query}"))
        .await;
    assert_eq!(started.status, 303, "{}", started.body);
    let back = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(started.location())
        .send()
        .await
        .unwrap()
        .headers()["location"]
        .to_str()
        .unwrap()
        .to_owned();
    let mut page = b.get(back.strip_prefix(&app.url()).unwrap()).await;
    while page.status == 303 && page.location().starts_with("/ui/") {
        page = b.get(&page.location()).await;
    }
    let to = page.location();
    assert!(to.starts_with("http://127.0.0.1:7/cb?"), "{to}");
    assert!(
        to.contains("code=") && to.contains("state=app-state"),
        "{to}"
    );
    // An unregistered redirect URI never leaves the server.
    let bad = b
        .get(&format!("/v1/auth/upstream/{id}/start?client_id={client_id}&redirect_uri=http://evil.test/&response_type=code"))
        .await;
    assert_eq!(bad.status, 400);
}

/// The whole way through panva's `oidc-provider`: its login form, its consent form, and
/// back, with a verified address linking to the existing account.
async fn a_certified_provider_signs_users_in_through_its_own_forms(app: TestServer) {
    let Some(dir) = oidc_provider_dir() else {
        eprintln!("SKIPPED: oidc-provider is not installed under target/oidc-provider");
        return;
    };
    let port = portcullis_testkit::receiver::free_port();
    let issuer = format!("http://127.0.0.1:{port}");
    let (status, p) = create_provider(
        &app,
        json!({"kind": "oidc", "name": "Panva", "issuer": issuer, "client_id": CLIENT_ID,
               "client_secret": CLIENT_SECRET}),
    )
    .await;
    assert_eq!(status, 201);
    let id = p["id"].as_str().unwrap().to_owned();
    let redirect = p["redirect_uri"].as_str().unwrap().to_owned();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/upstream/provider.mjs");
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .args([
            port.to_string(),
            CLIENT_ID.into(),
            CLIENT_SECRET.into(),
            redirect,
        ])
        .env("OIDC_PROVIDER_DIR", dir)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = tokio::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    tokio::io::AsyncBufReadExt::read_line(&mut out, &mut line)
        .await
        .unwrap();
    assert_eq!(line.trim(), "ready");
    app.user("dee@verified.test").await;

    let mut b = Browser::new(&app);
    let started = b.get(&format!("/ui/upstream/{id}/start")).await;
    assert_eq!(started.status, 303, "{}", started.body);
    // At the provider: a browser of its own, cookies by name (paths are per interaction).
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut jar: BTreeMap<String, String> = BTreeMap::new();
    let mut next = started.location();
    let mut form: Option<(String, Vec<(String, String)>)> = None;
    for _ in 0..12 {
        let cookie = jar
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        let req = match form.take() {
            Some((url, fields)) => http.post(url).form(&fields),
            None => http.get(&next),
        };
        let res = match req.header("cookie", cookie).send().await {
            Ok(res) => res,
            Err(e) => panic!("at the provider ({next}): {e:?}"),
        };
        for set in res.headers().get_all("set-cookie") {
            let pair = set
                .to_str()
                .unwrap_or_default()
                .split(';')
                .next()
                .unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                jar.insert(k.trim().to_owned(), v.to_owned());
            }
        }
        if let Some(loc) = res.headers().get("location") {
            let loc = loc.to_str().unwrap();
            next = if loc.starts_with('/') {
                format!("{issuer}{loc}")
            } else {
                loc.to_owned()
            };
            if next.starts_with(&app.url()) {
                break;
            }
            continue;
        }
        let body = res.text().await.unwrap();
        let action = body
            .split("action=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let url = if action.starts_with('/') {
            format!("{issuer}{action}")
        } else {
            action.to_owned()
        };
        let fields = if body.contains("name=\"login\"") {
            vec![
                ("prompt".to_owned(), "login".to_owned()),
                ("login".to_owned(), "dee@verified.test".to_owned()),
                ("password".to_owned(), "anything".to_owned()),
            ]
        } else {
            vec![("prompt".to_owned(), "consent".to_owned())]
        };
        form = Some((url, fields));
    }
    assert!(next.starts_with(&app.url()), "never came back: {next}");
    let done = b.get(next.strip_prefix(&app.url()).unwrap()).await;
    signed_in(&done);
    let account = b.get("/ui/account").await;
    assert!(
        account.body.contains("dee@verified.test"),
        "linked to the existing account"
    );
    assert!(account.body.contains("Panva"));
    drop(child);
}

/// Where the organization conceals which addresses have accounts, an address the upstream
/// did not verify gets the same page whether or not an account has it.
async fn an_unverified_address_tells_nothing_where_accounts_are_concealed(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    set_policy(&app, json!({"conceal_existing_accounts": true})).await;
    app.user("kim@example.com").await;
    let mut pages = Vec::new();
    for (subject, email) in [("s-kim", "kim@example.com"), ("s-lee", "lee@example.com")] {
        upstream.set(|f| {
            f.subject = subject.into();
            f.email = email.into();
            f.verified = false;
        });
        let mut b = Browser::new(&app);
        let page = continue_with(&mut b, &id, "start").await;
        assert!(
            !b.cookies.contains_key("pc_session"),
            "{email}: not signed in"
        );
        let csrf = page.csrf();
        pages.push((
            page.status,
            page.body.replace(email, "EMAIL").replace(&csrf, "CSRF"),
        ));
    }
    assert_eq!(
        pages[0], pages[1],
        "the same page for an address with an account and without"
    );
    assert_eq!(pages[0].0, 200);
}

/// Two first sign-ins of one upstream account at once make one account, one link, and
/// both sign in to it.
async fn two_first_sign_ins_at_once_make_one_account(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    upstream.set(|f| {
        f.subject = "twin".into();
        f.email = "twin@example.com".into();
    });
    let (mut a, mut b) = (Browser::new(&app), Browser::new(&app));
    let (to_a, to_b) = (
        to_callback(&mut a, &id, "start").await,
        to_callback(&mut b, &id, "start").await,
    );
    let (pa, pb) = tokio::join!(a.get(&to_a), b.get(&to_b));
    signed_in(&pa);
    signed_in(&pb);
    let linked = audit_count(&app, "identity.linked").await;
    let made = audit_count(&app, "user.registered").await;
    assert_eq!((linked, made), (1, 1));
}

/// A browser that hangs up while the provider is slow does not leave an account without
/// its link: the sign-in finishes on the server, and the next one finds both.
async fn a_browser_that_hangs_up_midway_leaves_no_half_made_account(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    upstream.set(|f| {
        f.subject = "quitter".into();
        f.email = "quitter@example.com".into();
        f.verified = false;
        f.mode = "slow".into();
    });
    let mut b = Browser::new(&app);
    let path = to_callback(&mut b, &id, "start").await;
    let cookie = b
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    let gone = reqwest::Client::new()
        .get(format!("{}{path}", app.url()))
        .header("cookie", cookie)
        .timeout(std::time::Duration::from_millis(300))
        .send()
        .await;
    assert!(gone.is_err(), "the browser gave up");
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    // The server finished what it started: the account and its link, both.
    assert_eq!(audit_count(&app, "user.registered").await, 1);
    assert_eq!(audit_count(&app, "identity.linked").await, 1);
    upstream.set(|f| f.mode = "ok".into());
    let mut again = Browser::new(&app);
    let done = continue_with(&mut again, &id, "start").await;
    signed_in(&done);
    assert!(again
        .get("/ui/account")
        .await
        .body
        .contains("quitter@example.com"));
    assert_eq!(audit_count(&app, "user.registered").await, 1);
    assert_eq!(audit_count(&app, "identity.linked").await, 1);
}

async fn audit_count(app: &TestServer, kind: &str) -> usize {
    let path = format!("/v1/audit-events?type={kind}");
    let (_, audit) = admin(app, Method::GET, &path, None).await;
    audit["items"].as_array().unwrap().len()
}

async fn microsoft_and_github_presets_sign_in_by_their_own_rules(app: TestServer) {
    let upstream = Upstream::start().await;
    let (status, ms) = create_provider(
        &app,
        json!({"kind": "microsoft", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
               "discovery_url": format!("{}/ms/common/v2.0/.well-known/openid-configuration", upstream.url)}),
    )
    .await;
    assert_eq!(status, 201, "{ms}");
    let ms = ms["id"].as_str().unwrap().to_owned();
    upstream.set(|f| {
        f.mode = "ms".into();
        f.subject = "ms-user".into();
        f.email = "ms@example.com".into();
    });
    let done = continue_with(&mut Browser::new(&app), &ms, "start").await;
    signed_in(&done);
    upstream.set(|f| f.mode = "ms_wrong_tid".into());
    let refused = continue_with(&mut Browser::new(&app), &ms, "start").await;
    assert_eq!(refused.status, 502, "{}", refused.body);
    assert!(refused.body.contains("issuer"), "{}", refused.body);

    let (status, gh) = create_provider(
        &app,
        json!({"kind": "github", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
               "authorization_endpoint": format!("{}/authorize", upstream.url),
               "token_endpoint": format!("{}/login/oauth/access_token", upstream.url),
               "userinfo_endpoint": format!("{}/api", upstream.url)}),
    )
    .await;
    assert_eq!(status, 201, "{gh}");
    assert_eq!(gh["name"], "GitHub");
    let gh = gh["id"].as_str().unwrap().to_owned();
    upstream.set(|f| f.mode = "ok".into());
    let mut b = Browser::new(&app);
    let done = continue_with(&mut b, &gh, "start").await;
    signed_in(&done);
    let account = b.get("/ui/account").await;
    assert!(
        account.body.contains("octo@example.com"),
        "the primary address"
    );
    // GitHub's user id is the subject: the same account again.
    let again = continue_with(&mut Browser::new(&app), &gh, "start").await;
    assert_eq!(again.status, 303);
    assert_eq!(audit_count(&app, "user.registered").await, 2);
}

/// A user's linked identities through the API: listed, the kept refresh token read by the
/// user's own session only, unlinked when another way in remains.
async fn users_list_and_unlink_identities_and_read_a_kept_refresh_token(app: TestServer) {
    let upstream = Upstream::start().await;
    let mut body = oidc_provider(&upstream);
    body["keep_refresh_token"] = json!(true);
    let (_, p) = create_provider(&app, body).await;
    let id = p["id"].as_str().unwrap().to_owned();
    app.user("ann@example.com").await;
    upstream.set(|f| {
        f.subject = "ann-up".into();
        f.email = "ann@example.com".into();
    });
    assert_eq!(
        continue_with(&mut Browser::new(&app), &id, "start")
            .await
            .status,
        303
    );
    let ann = app.client().with_token(
        &app.login("ann@example.com", USER_PASSWORD)
            .await
            .access_token,
    );
    let mine = ann.my_identities().await.unwrap().items;
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0].subject.as_str(), mine[0].has_refresh_token),
        ("ann-up", true)
    );
    assert_eq!(mine[0].provider_name, "Loopback");
    let rt = ann.identity_refresh_token(mine[0].id).await.unwrap();
    assert_eq!(rt.refresh_token, "upstream-rt");
    // Another user cannot read it, nor unlink it.
    app.user("eve@example.com").await;
    let eve = app.client().with_token(
        &app.login("eve@example.com", USER_PASSWORD)
            .await
            .access_token,
    );
    assert_eq!(
        crate::code(eve.identity_refresh_token(mine[0].id).await),
        ProblemCode::NotFound
    );
    assert_eq!(
        crate::code(eve.unlink_identity(mine[0].id).await),
        ProblemCode::NotFound
    );
    // Ann has a password: unlinking is allowed, and audited.
    ann.unlink_identity(mine[0].id).await.unwrap();
    assert!(ann.my_identities().await.unwrap().items.is_empty());
    assert_eq!(audit_count(&app, "identity.unlinked").await, 1);
    assert_eq!(
        crate::code(ann.unlink_identity(mine[0].id).await),
        ProblemCode::NotFound
    );
}

/// The console lists an organization's providers with the redirect URI to register, adds
/// one (its secret never shown back), turns one off (its button goes) and deletes it.
async fn the_console_manages_identity_providers(app: TestServer) {
    let mut b = Browser::new(&app);
    b.sign_in("", ADMIN_EMAIL, ADMIN_PASSWORD).await;
    let made = b
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/providers",
            &[
                ("kind", "oidc"),
                ("name", "Okta"),
                ("issuer", "https://acme.okta.test"),
                ("client_id", "cid"),
                ("client_secret", "never-shown-again"),
            ],
        )
        .await;
    assert_eq!(made.status, 200, "{}", made.body);
    assert!(made.body.contains("/ui/upstream/") && made.body.contains("/callback"));
    assert!(!made.body.contains("never-shown-again"));
    let (_, list) = admin(
        &app,
        Method::GET,
        "/v1/orgs/default/identity-providers",
        None,
    )
    .await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(Browser::new(&app)
        .get("/ui/signin")
        .await
        .body
        .contains("Continue with Okta"));
    let action = format!("/ui/admin/orgs/default/providers/{id}");
    let off = b
        .submit("/ui/admin/orgs/default", &action, &[("action", "disable")])
        .await;
    assert_eq!(off.status, 200);
    assert!(!Browser::new(&app)
        .get("/ui/signin")
        .await
        .body
        .contains("Continue with Okta"));
    let refused = b
        .submit(
            "/ui/admin/orgs/default",
            "/ui/admin/orgs/default/providers",
            &[("kind", "oidc"), ("client_id", "x"), ("client_secret", "y")],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let gone = b
        .submit("/ui/admin/orgs/default", &action, &[("action", "delete")])
        .await;
    assert_eq!(gone.status, 200);
    let (_, list) = admin(
        &app,
        Method::GET,
        "/v1/orgs/default/identity-providers",
        None,
    )
    .await;
    assert!(list["items"].as_array().unwrap().is_empty());
}

/// Another Portcullis as the upstream: its OpenID provider, its hosted sign-in, and back.
/// The address it has not verified makes a new account here with the address unverified.
async fn another_portcullis_is_an_upstream_provider(app: TestServer) {
    let other = TestServer::spawn(portcullis_testkit::Backend::Sqlite)
        .await
        .expect("the upstream server");
    other.user("far@example.com").await;
    // The provider here first (its redirect URI), then the client there, then its id here.
    let (status, p) = create_provider(
        &app,
        json!({"kind": "oidc", "name": "Far", "issuer": other.url(), "client_id": "pending",
               "client_secret": "pending"}),
    )
    .await;
    assert_eq!(status, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_owned();
    let body = json!({"name": "Near", "redirect_uris": [p["redirect_uri"]], "first_party": true});
    let (status, client) = admin(
        &other,
        Method::POST,
        "/v1/orgs/default/oauth-clients",
        Some(body),
    )
    .await;
    assert_eq!(status, 201, "{client}");
    patch_provider(
        &app,
        &id,
        json!({"client_id": client["client_id"], "client_secret": client["client_secret"]}),
    )
    .await;

    let mut here = Browser::new(&app);
    let started = here.get(&format!("/ui/upstream/{id}/start")).await;
    assert_eq!(started.status, 303, "{}", started.body);
    // There: the authorization endpoint, its sign-in page, and back with a code.
    let mut there = Browser::new(&other);
    let mut page = there
        .get(started.location().strip_prefix(&other.url()).unwrap())
        .await;
    while page.status == 303 && page.location().starts_with("/ui/authorize") {
        page = there.get(&page.location()).await;
    }
    let signin = page.location();
    let query = signin
        .strip_prefix("/ui/signin?")
        .expect("to its sign-in page")
        .to_owned();
    let mut page = there
        .sign_in(&query, "far@example.com", USER_PASSWORD)
        .await;
    while page.location().starts_with("/ui/") {
        page = there.get(&page.location()).await;
    }
    let back = page.location();
    assert!(back.starts_with(&app.url()), "{back}");
    let done = here.get(back.strip_prefix(&app.url()).unwrap()).await;
    signed_in(&done);
    let account = here.get("/ui/account").await;
    assert!(account.body.contains("far@example.com") && account.body.contains("Far"));
}

/// From the account page: link one more identity; one already another user's is refused.
async fn a_signed_in_user_links_another_identity_from_the_account_page(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    app.user("gil@example.com").await;
    let mut b = Browser::new(&app);
    b.sign_in("", "gil@example.com", USER_PASSWORD).await;
    let account = b.get("/ui/account").await;
    assert!(
        account.body.contains(&format!("/ui/upstream/{id}/link")),
        "{}",
        account.body
    );
    // The upstream account has another address, unverified: linking asks nothing of it.
    upstream.set(|f| {
        f.subject = "gil-elsewhere".into();
        f.email = "gil.personal@example.com".into();
        f.verified = false;
    });
    let done = continue_with(&mut b, &id, "link").await;
    signed_in(&done);
    assert!(b
        .get("/ui/account")
        .await
        .body
        .contains("gil.personal@example.com"));
    let gil = app.client().with_token(
        &app.login("gil@example.com", USER_PASSWORD)
            .await
            .access_token,
    );
    assert_eq!(gil.my_identities().await.unwrap().items.len(), 1);
    // Hal cannot take Gil's upstream account.
    app.user("hal@example.com").await;
    let mut hal = Browser::new(&app);
    hal.sign_in("", "hal@example.com", USER_PASSWORD).await;
    let refused = continue_with(&mut hal, &id, "link").await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    // Without a session, linking starts nothing.
    let anon = Browser::new(&app)
        .get(&format!("/ui/upstream/{id}/link"))
        .await;
    assert_eq!((anon.status, anon.location().as_str()), (303, "/ui/signin"));
}

/// A user with an authenticator signs in through the provider and is asked for its code.
async fn an_upstream_sign_in_asks_for_the_users_second_factor(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    let (_, me) = app.signed_in("ivy@example.com").await;
    let key = me.create_mfa_key(Some(USER_PASSWORD)).await.unwrap();
    let secret = portcullis_testkit::base32(&key.secret_base32);
    let now = crate::mfa::align(&app);
    me.activate_mfa_key(key.key.id, &portcullis_testkit::totp(&secret, now, 6))
        .await
        .unwrap();
    upstream.set(|f| {
        f.subject = "ivy-up".into();
        f.email = "ivy@example.com".into();
    });
    let mut b = Browser::new(&app);
    let step = continue_with(&mut b, &id, "start").await;
    assert_eq!(step.status, 200, "{}", step.body);
    assert!(step.body.contains("Second step"), "{}", step.body);
    assert!(!b.cookies.contains_key("pc_session"));
    let csrf = step.csrf();
    let wrong = second_step(&mut b, &csrf, "000000").await;
    assert_eq!(wrong.status, 401);
    app.advance(30);
    let code = portcullis_testkit::totp(&secret, app.now().timestamp(), 6);
    signed_in(&second_step(&mut b, &csrf, &code).await);
    assert!(b.get("/ui/account").await.body.contains("ivy@example.com"));
    // Wrong codes count towards the account's lock, as after a password.
    set_policy(
        &app,
        json!({"lockout_threshold": 3, "lockout_base_secs": 600}),
    )
    .await;
    let mut b = Browser::new(&app);
    let step = continue_with(&mut b, &id, "start").await;
    let csrf = step.csrf();
    for _ in 0..3 {
        let wrong = second_step(&mut b, &csrf, "000000").await;
        assert_eq!(wrong.status, 401);
    }
    app.advance(30);
    let code = portcullis_testkit::totp(&secret, app.now().timestamp(), 6);
    let locked = second_step(&mut b, &csrf, &code).await;
    assert_ne!(locked.status, 303, "locked: even the right code is refused");
    assert!(locked.body.contains("locked"), "{}", locked.body);
}

/// Apple's way: the answer is a form posted to the callback, and the client secret is a
/// JWT Portcullis signs with the team's key.
async fn apple_posts_its_answer_and_takes_a_signed_client_secret(app: TestServer) {
    use ring::signature::{EcdsaKeyPair, KeyPair as _, ECDSA_P256_SHA256_FIXED_SIGNING};
    let upstream = Upstream::start().await;
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    upstream.set(|f| {
        f.apple_key = Some(pair.public_key().as_ref().to_vec());
        f.subject = "001234.apple".into();
        f.email = "relay@privaterelay.appleid.com".into();
    });
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
    );
    let (status, p) = create_provider(
        &app,
        json!({"kind": "apple", "issuer": upstream.url, "client_id": CLIENT_ID,
               "client_secret": pem, "team_id": "TEAM123", "key_id": "KEY123"}),
    )
    .await;
    assert_eq!(status, 201, "{p}");
    let id = p["id"].as_str().unwrap().to_owned();
    let mut b = Browser::new(&app);
    let started = b.get(&format!("/ui/upstream/{id}/start")).await;
    assert!(started.location().contains("response_mode=form_post"));
    let page = reqwest::get(started.location())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let value = |name: &str| {
        let at = page.find(&format!("name={name} value=\"")).unwrap() + name.len() + 13;
        page[at..].split('"').next().unwrap().to_owned()
    };
    let (code, state) = (value("code"), value("state"));
    let done = b
        .post(
            &format!("/ui/upstream/{id}/callback"),
            &[("code", code.as_str()), ("state", state.as_str())],
        )
        .await;
    signed_in(&done);
    assert!(b
        .get("/ui/account")
        .await
        .body
        .contains("relay@privaterelay.appleid.com"));
}

/// Where only a phishing-resistant factor will do, a trusted upstream's "mfa" is not enough;
/// its hardware key is.
async fn a_phishing_resistant_policy_takes_only_an_upstream_hardware_key(app: TestServer) {
    let upstream = Upstream::start().await;
    let mut body = oidc_provider(&upstream);
    body["trust_mfa"] = json!(true);
    let (_, p) = create_provider(&app, body).await;
    let id = p["id"].as_str().unwrap().to_owned();
    set_policy(&app, json!({"phishing_resistant_required": true})).await;
    let full_session = |body: &str| body.contains("Sign in with another account");
    upstream.set(|f| f.amr = vec!["pwd".into(), "mfa".into()]);
    let mut b = Browser::new(&app);
    assert_eq!(continue_with(&mut b, &id, "start").await.status, 303);
    assert!(!full_session(&b.get("/ui/account").await.body));
    upstream.set(|f| f.amr = vec!["hwk".into(), "mfa".into()]);
    let mut b = Browser::new(&app);
    assert_eq!(continue_with(&mut b, &id, "start").await.status, 303);
    assert!(full_session(&b.get("/ui/account").await.body));
}

/// Where sign-in needs a registered device, a browser through a provider is refused.
async fn a_device_only_organization_refuses_upstream_sign_in(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    set_policy(&app, json!({"require_device_token": true})).await;
    let refused = continue_with(&mut Browser::new(&app), &id, "start").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("registered device"),
        "{}",
        refused.body
    );
}

/// The provider rotates its signing key: the cached key set lacks it, so it is fetched
/// again (no more often than every few seconds) and the sign-in goes through.
async fn a_rotated_upstream_key_is_fetched_once_it_signs(app: TestServer) {
    let upstream = Upstream::start().await;
    let (_, p) = create_provider(&app, oidc_provider(&upstream)).await;
    let id = p["id"].as_str().unwrap().to_owned();
    assert_eq!(
        continue_with(&mut Browser::new(&app), &id, "start")
            .await
            .status,
        303
    );
    upstream.set(|f| f.rotated = true);
    // Not at once: a token naming an unknown key does not make us fetch the set again
    // within seconds of the last fetch (a forged kid cannot make us hammer the provider).
    let soon = continue_with(&mut Browser::new(&app), &id, "start").await;
    assert_eq!(soon.status, 502, "{}", soon.body);
    app.advance(10);
    let done = continue_with(&mut Browser::new(&app), &id, "start").await;
    signed_in(&done);
}

fn oidc_provider_dir() -> Option<String> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/oidc-provider");
    dir.join("node_modules/oidc-provider/package.json")
        .exists()
        .then(|| dir.to_string_lossy().into_owned())
}

both_backends!(
    providers_are_managed_by_admins_with_clear_errors,
    a_first_sign_in_makes_an_account_unless_sign_up_is_off,
    linking_needs_a_verified_address_or_proof_of_the_account,
    bad_answers_get_a_clear_page_never_a_500,
    the_last_way_in_cannot_be_unlinked_and_policies_still_apply,
    an_application_starts_an_upstream_sign_in_and_gets_its_code,
    a_certified_provider_signs_users_in_through_its_own_forms,
    an_unverified_address_tells_nothing_where_accounts_are_concealed,
    two_first_sign_ins_at_once_make_one_account,
    a_browser_that_hangs_up_midway_leaves_no_half_made_account,
    microsoft_and_github_presets_sign_in_by_their_own_rules,
    users_list_and_unlink_identities_and_read_a_kept_refresh_token,
    the_console_manages_identity_providers,
    another_portcullis_is_an_upstream_provider,
    a_signed_in_user_links_another_identity_from_the_account_page,
    an_upstream_sign_in_asks_for_the_users_second_factor,
    apple_posts_its_answer_and_takes_a_signed_client_secret,
    a_phishing_resistant_policy_takes_only_an_upstream_hardware_key,
    a_device_only_organization_refuses_upstream_sign_in,
    a_rotated_upstream_key_is_fetched_once_it_signs,
);
