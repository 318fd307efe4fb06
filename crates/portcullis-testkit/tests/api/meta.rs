//! Discovery, health, metrics and documentation.

use portcullis_testkit::{both_backends, Backend, TestServer};

async fn health_and_readiness_answer_ok(app: TestServer) {
    assert_eq!(app.client().healthz().await.unwrap().status, "ok");
    assert_eq!(app.client().readyz().await.unwrap().status, "ok");
}

async fn discovery_names_the_issuer_and_keys(app: TestServer) {
    let conf = app.client().openid_configuration().await.unwrap();
    assert_eq!(conf.issuer, app.url());
    assert_eq!(
        conf.jwks_uri,
        format!("{}/.well-known/jwks.json", app.url())
    );
    // Every endpoint is on the issuer (OpenID Connect Discovery section 3), and answers.
    let endpoints = [
        (&conf.authorization_endpoint, "/oauth2/authorize"),
        (&conf.token_endpoint, "/oauth2/token"),
        (&conf.userinfo_endpoint, "/oauth2/userinfo"),
        (&conf.end_session_endpoint, "/oauth2/logout"),
        (&conf.introspection_endpoint, "/oauth2/introspect"),
        (&conf.revocation_endpoint, "/oauth2/revoke"),
    ];
    for (url, path) in endpoints {
        assert_eq!(*url, format!("{}{path}", app.url()));
        let status = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .post(url.as_str())
            .send()
            .await
            .unwrap()
            .status();
        assert_ne!(status, 404, "{path}");
    }
    assert_eq!(conf.response_types_supported, ["code"]);
    assert_eq!(conf.code_challenge_methods_supported, ["S256"]);
    assert_eq!(
        conf.scopes_supported,
        ["openid", "profile", "email", "phone", "offline_access"]
    );
    assert_eq!(
        conf.grant_types_supported,
        ["authorization_code", "refresh_token", "client_credentials"]
    );
    assert_eq!(
        conf.token_endpoint_auth_methods_supported,
        ["client_secret_basic", "client_secret_post", "none"]
    );
    for claim in [
        "sub",
        "email",
        "phone_number",
        "auth_time",
        "amr",
        "sid",
        "at_hash",
    ] {
        assert!(conf.claims_supported.iter().any(|c| c == claim), "{claim}");
    }
    assert!(conf.backchannel_logout_supported && conf.backchannel_logout_session_supported);
    assert!(conf.authorization_response_iss_parameter_supported);
    assert!(!conf.request_parameter_supported && !conf.request_uri_parameter_supported);
    assert_eq!(
        conf.id_token_signing_alg_values_supported,
        ["RS256", "ES256", "EdDSA"]
    );
    let jwks = app.client().jwks().await.unwrap();
    let mut seen: Vec<(&str, Option<&str>, &str)> = jwks
        .keys
        .iter()
        .map(|k| (k.kty.as_str(), k.crv.as_deref(), k.alg.as_str()))
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        [
            ("EC", Some("P-256"), "ES256"),
            ("OKP", Some("Ed25519"), "EdDSA"),
            ("RSA", None, "RS256")
        ]
    );
    for k in &jwks.keys {
        assert_eq!(k.use_, "sig");
        assert_eq!(k.kid.len(), 16);
        let len = |v: &Option<String>| v.as_deref().map_or(0, str::len);
        match k.kty.as_str() {
            "OKP" => assert_eq!(len(&k.x), 43, "32 bytes, base64url"),
            "EC" => assert_eq!((len(&k.x), len(&k.y)), (43, 43)),
            _ => assert_eq!(
                (len(&k.n), k.e.as_deref()),
                (342, Some("AQAB")),
                "2048 bits"
            ),
        }
    }
    // Never a private or symmetric part.
    let raw = app
        .client()
        .request(reqwest::Method::GET, "/.well-known/jwks.json")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for private in ["\"d\"", "\"p\"", "\"q\"", "\"dp\"", "\"k\"", "oct"] {
        assert!(!raw.contains(private), "{raw}");
    }
}

async fn metrics_are_prometheus_text(app: TestServer) {
    app.client().healthz().await.unwrap();
    let text = app.metrics().await;
    assert!(text.contains("portcullis_http_requests_total"), "{text}");
    assert!(text.contains("# TYPE"));
    // Not for anyone else on the API's listener.
    for token in [None, Some("wrong-token-of-some-length")] {
        let mut req = app.client().request(reqwest::Method::GET, "/metrics");
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{token:?}");
    }
}

/// The HTTP contract is locked: `/v1/openapi.json` and the problem bodies of the common
/// errors are snapshots (`tests/api/snapshots/`), so a change to either fails the tests
/// until its snapshot is reviewed and updated with it (`INSTA_UPDATE=always`, or
/// `cargo insta review`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_matches_its_snapshot() {
    let app = TestServer::spawn(Backend::Sqlite).await.unwrap();
    let doc = app.client().openapi().await.unwrap();
    insta::assert_json_snapshot!("openapi", doc);
    let c = app.client();
    let mut problems = serde_json::Map::new();
    for (name, method, path, body) in [
        ("not_found", reqwest::Method::GET, "/nowhere", None),
        (
            "method_not_allowed",
            reqwest::Method::DELETE,
            "/healthz",
            None,
        ),
        ("unauthorized", reqwest::Method::GET, "/v1/users/me", None),
        (
            "validation_failed",
            reqwest::Method::POST,
            "/v1/auth/register",
            Some("{\"email\": \"not an address\", \"password\": \"correct horse battery\"}"),
        ),
        (
            "unknown_field",
            reqwest::Method::POST,
            "/v1/auth/login",
            Some("{\"identifier\": \"a@b.co\", \"password\": \"x\", \"extra\": 1}"),
        ),
        (
            "invalid_credentials",
            reqwest::Method::POST,
            "/v1/auth/login",
            Some("{\"identifier\": \"a@b.co\", \"password\": \"not the password\"}"),
        ),
    ] {
        let mut req = c.request(method, path);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let json: serde_json::Value = res.json().await.unwrap();
        problems.insert(
            name.to_owned(),
            serde_json::json!({"status": status, "body": json}),
        );
    }
    insta::assert_json_snapshot!("problems", problems);
}

/// Without a metrics token, `/metrics` is not on the API's listener at all; on a listener of
/// its own (`PORTCULLIS_METRICS_LISTEN`) it needs none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_without_a_token_live_only_on_their_own_listener() {
    let app = TestServer::spawn_with(Backend::Sqlite, |c| c.metrics_token = None)
        .await
        .unwrap();
    let res = app
        .client()
        .request(reqwest::Method::GET, "/metrics")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = free.local_addr().unwrap();
    drop(free);
    let app = app
        .restart_with(|c| c.metrics_listen = Some(addr.to_string()))
        .await;
    app.client().healthz().await.unwrap();
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("portcullis_http_requests_total"), "{text}");
}

async fn openapi_describes_every_endpoint(app: TestServer) {
    let doc = app.client().openapi().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for (path, method) in [
        ("/v1/auth/register", "post"),
        ("/v1/auth/login", "post"),
        ("/v1/auth/token/refresh", "post"),
        ("/v1/auth/logout", "post"),
        ("/v1/auth/logout/all", "post"),
        ("/v1/users/me", "get"),
        ("/v1/users/me", "patch"),
        ("/v1/users/me", "delete"),
        ("/v1/users/me/roles", "get"),
        ("/v1/users/me/password", "post"),
        ("/v1/users/me/sessions", "get"),
        ("/v1/users/me/sessions/{id}", "delete"),
        ("/v1/users", "get"),
        ("/v1/users", "post"),
        ("/v1/users/{id}", "get"),
        ("/v1/users/{id}", "patch"),
        ("/v1/users/{id}", "delete"),
        ("/v1/users/{id}/roles", "put"),
        ("/v1/users/{id}/sessions/revoke", "post"),
        ("/v1/audit-events", "get"),
        ("/.well-known/jwks.json", "get"),
        ("/.well-known/openid-configuration", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        ("/v1/openapi.json", "get"),
        ("/docs", "get"),
    ] {
        assert!(
            paths.get(path).and_then(|p| p.get(method)).is_some(),
            "{method} {path} missing"
        );
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
    let docs = app
        .client()
        .request(reqwest::Method::GET, "/docs")
        .send()
        .await
        .unwrap();
    assert_eq!(docs.headers()["content-type"], "text/html; charset=utf-8");
    let html = docs.text().await.unwrap();
    assert!(html.contains("POST /v1/auth/login") && html.contains("/v1/openapi.json"));
    assert!(!html.contains("<script"), "no scripts, no CDN");
}

both_backends!(
    health_and_readiness_answer_ok,
    discovery_names_the_issuer_and_keys,
    metrics_are_prometheus_text,
    openapi_describes_every_endpoint,
);
