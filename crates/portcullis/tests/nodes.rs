//! Several `portcullis serve` processes on one PostgreSQL, as behind a load balancer: they
//! share every piece of state, revoke at once everywhere, keep single-use things single-use,
//! count lockouts together, pick up rotated keys, and survive each other's death. Needs
//! `PORTCULLIS_TEST_POSTGRES_URL` (skipped, saying so, without it).

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first unexpected answer"
)]

mod common;

use std::time::{Duration, Instant};

use common::{Db, Node, ADMIN, MASTER_KEY, PASSWORD};

/// Rate limits stay on (lockout with them) with budgets no test here reaches; keys reload
/// every second, so a rotated key signs after two.
const NODE_ENV: &[(&str, &str)] = &[
    ("PORTCULLIS_RATE_LIMITS", "on"),
    ("PORTCULLIS_RATE_LIMIT_IP_PER_MINUTE", "1000000"),
    ("PORTCULLIS_RATE_LIMIT_IDENTIFIER_PER_MINUTE", "1000000"),
    ("PORTCULLIS_KEY_RELOAD_SECS", "1"),
    // One issuer for all, as behind a load balancer (each would default to its own address).
    ("PORTCULLIS_ISSUER", "https://id.example.test"),
];

fn three_nodes(db: &Db) -> Vec<Node> {
    (0..3).map(|_| Node::start(db, NODE_ENV)).collect()
}

async fn register(node: &Node, http: &reqwest::Client, email: &str) {
    let res = node
        .post(
            http,
            "/v1/auth/register",
            serde_json::json!({"email": email, "password": PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 201, "{email}");
}

async fn me_status(node: &Node, http: &reqwest::Client, access: &str) -> u16 {
    http.get(format!("{}/v1/users/me", node.url))
        .bearer_auth(access)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Polls `probe` every 100 ms until it answers `want`; whether it did within `limit`.
async fn answers_within<F, Fut>(limit: Duration, want: u16, mut probe: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    let start = Instant::now();
    loop {
        if probe().await == want {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn kid(token: &str) -> String {
    use base64::Engine as _;
    let header = token.split('.').next().unwrap();
    let json = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header)
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    v["kid"].as_str().unwrap().to_owned()
}

/// `portcullis keys <what> --json` against the nodes' database.
fn keys_command(db: &Db, what: &str) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["keys", what, "--json"])
        .env("PORTCULLIS_DATABASE_URL", &db.url)
        .env("PORTCULLIS_MASTER_KEY", MASTER_KEY)
        .env("PORTCULLIS_KEY_RELOAD_SECS", "1")
        .env("PORTCULLIS_LOG", "warn")
        .envs(db.env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

fn median_and_max(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_share_state_revoke_everywhere_and_survive_a_kill() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    share_state_revoke_everywhere_and_survive_a_kill(&db, Duration::from_secs(1), 50).await;
}

/// The same three nodes, all through one PgBouncer in transaction mode lending four server
/// connections, with PostgreSQL's own URL for the change feed: revocation still reaches
/// every node within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behind_pgbouncer_with_a_direct_url_revoke_within_a_second() {
    let Some(db) = Db::pgbouncer(4, true).await else {
        return;
    };
    share_state_revoke_everywhere_and_survive_a_kill(&db, Duration::from_secs(1), 50).await;
}

/// Through the pooler without a direct URL there is no change feed: a node says so at
/// start, and revocation reaches the other nodes when their cache entry expires (its TTL,
/// two seconds here), not later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_behind_pgbouncer_without_a_direct_url_revoke_within_the_cache_ttl() {
    let Some(mut db) = Db::pgbouncer(4, false).await else {
        return;
    };
    db.env
        .push(("PORTCULLIS_SESSION_CACHE_SECS".to_owned(), "2".to_owned()));
    share_state_revoke_everywhere_and_survive_a_kill(&db, Duration::from_millis(2500), 6).await;
}

/// Register, sign in and use a token across three nodes; a logout on one refused on the
/// others within `revoked_within`, over `trials` trials (with the session cache in use);
/// one refresh token on two nodes at once wins once; lockout counted across nodes; a
/// rotated key signing on every node; one node SIGKILLed under load.
async fn share_state_revoke_everywhere_and_survive_a_kill(
    db: &Db,
    revoked_within: Duration,
    trials: usize,
) {
    let mut nodes = three_nodes(db);
    let http = reqwest::Client::new();
    let feed = !db
        .env
        .iter()
        .any(|(k, v)| k == "PORTCULLIS_DATABASE_POOL_MODE" && v == "transaction")
        || db
            .env
            .iter()
            .any(|(k, _)| k == "PORTCULLIS_DATABASE_DIRECT_URL");
    for node in &nodes {
        let said = node
            .log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("without PORTCULLIS_DATABASE_DIRECT_URL"));
        assert_eq!(said, !feed, "whether the node says it has no change feed");
    }

    // Register on one, sign in on a second, use the token on the third.
    register(&nodes[0], &http, "ann@example.com").await;
    let pair = nodes[1].login(&http, "ann@example.com").await;
    let access = pair["access_token"].as_str().unwrap();
    assert_eq!(me_status(&nodes[2], &http, access).await, 200);

    // Logout on one node is refused on another: measured over the trials.
    let mut delays = Vec::new();
    for i in 0..trials {
        let pair = nodes[i % 3].login(&http, "ann@example.com").await;
        let access = pair["access_token"].as_str().unwrap();
        let on = &nodes[(i + 2) % 3];
        // Twice: the second answer comes from that node's session cache.
        assert_eq!(me_status(on, &http, access).await, 200);
        assert_eq!(me_status(on, &http, access).await, 200);
        let out = http
            .post(format!("{}/v1/auth/logout", nodes[(i + 1) % 3].url))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(out.status(), 204);
        let answered = Instant::now();
        loop {
            if me_status(on, &http, access).await == 401 {
                break;
            }
            assert!(
                answered.elapsed() < revoked_within,
                "still accepted {revoked_within:?} after logout"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        delays.push(answered.elapsed());
    }
    for node in &nodes {
        let hits = node
            .counter(&http, r#"portcullis_session_cache_total{result="hit"}"#)
            .await;
        let least = (trials / 3) as f64;
        assert!(
            hits >= least,
            "the session cache was not used ({hits} hits)"
        );
    }
    let (median, max) = median_and_max(delays);
    eprintln!(
        "revocation across nodes ({}) over {trials} trials: median {median:?}, max {max:?}",
        db.url
    );

    // One refresh token presented to two nodes at once, 50 times: one success each.
    let pairs: Vec<serde_json::Value> = {
        let mut v = Vec::new();
        for _ in 0..50 {
            v.push(nodes[0].login(&http, "ann@example.com").await);
        }
        v
    };
    let races = pairs.iter().map(|pair| {
        let token = pair["refresh_token"].as_str().unwrap().to_owned();
        let (a, b) = (nodes[1].url.clone(), nodes[2].url.clone());
        let http = http.clone();
        tokio::spawn(async move {
            let present = |url: String| {
                let (http, token) = (http.clone(), token.clone());
                async move {
                    http.post(format!("{url}/v1/auth/token/refresh"))
                        .json(&serde_json::json!({"refresh_token": token}))
                        .send()
                        .await
                        .unwrap()
                        .status()
                        .as_u16()
                }
            };
            let (x, y) = tokio::join!(present(a), present(b));
            (x, y)
        })
    });
    let mut wins = Vec::new();
    for race in races.collect::<Vec<_>>() {
        let (x, y) = race.await.unwrap();
        assert!(
            matches!((x, y), (200, 401) | (401, 200)),
            "one success per token, got {x} and {y}"
        );
        wins.push(x == 200);
    }
    eprintln!(
        "50 double presentations: 50 single successes ({} on the first node, {} on the second)",
        wins.iter().filter(|w| **w).count(),
        wins.iter().filter(|w| !**w).count()
    );

    // Failed sign-ins count toward one lockout whichever node sees them.
    register(&nodes[2], &http, "locky@example.com").await;
    for i in 0..5 {
        let res = nodes[i % 3]
            .post(
                &http,
                "/v1/auth/login",
                serde_json::json!({"identifier": "locky@example.com", "password": "not the passphrase"}),
            )
            .await;
        assert_eq!(res.status(), 401);
    }
    let locked = nodes[2]
        .post(
            &http,
            "/v1/auth/login",
            serde_json::json!({"identifier": "locky@example.com", "password": PASSWORD}),
        )
        .await;
    assert_eq!(locked.status(), 403);
    assert!(locked.headers().contains_key("retry-after"));

    // Key rotation: published to every node's JWKS, then signing on every node; tokens
    // signed with the old key keep working.
    let old = nodes[0].login(&http, ADMIN).await;
    let old_access = old["access_token"].as_str().unwrap().to_owned();
    let keys = keys_command(db, "rotate");
    let eddsa = |keys: &serde_json::Value| -> Vec<serde_json::Value> {
        let keys = keys.as_array().unwrap();
        keys.iter()
            .filter(|k| k["algorithm"] == "EdDSA")
            .cloned()
            .collect()
    };
    assert_eq!(
        keys.as_array().unwrap().len(),
        6,
        "one new key per algorithm"
    );
    let new_kid = eddsa(&keys)[0]["kid"].as_str().unwrap().to_owned();
    assert_eq!(eddsa(&keys)[0]["state"], "next");
    assert_ne!(new_kid, kid(&old_access));
    let rotated_at = Instant::now();
    for node in &nodes {
        loop {
            let token = node.login(&http, ADMIN).await["access_token"]
                .as_str()
                .unwrap()
                .to_owned();
            if kid(&token) == new_kid {
                assert_eq!(node.published_keys(&http).await, 6);
                break;
            }
            assert!(
                rotated_at.elapsed() < Duration::from_secs(60),
                "{} does not sign with the new key after a minute",
                node.url
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        assert_eq!(me_status(node, &http, &old_access).await, 200);
    }
    eprintln!(
        "key rotation: every node signs with the new key {:?} after `keys rotate`",
        rotated_at.elapsed()
    );
    let listed = eddsa(&keys_command(db, "list"));
    assert_eq!(listed[0]["kid"], new_kid.as_str());
    assert_eq!(listed[0]["state"], "signing");
    assert_eq!(listed[1]["state"], "verifying");

    // One node SIGKILLed under steady load: the other two answer every request.
    let user = nodes[1].login(&http, "ann@example.com").await;
    let access = user["access_token"].as_str().unwrap().to_owned();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = [nodes[1].url.clone(), nodes[2].url.clone()]
        .into_iter()
        .flat_map(|url| (0..4).map(move |_| url.clone()))
        .map(|url| {
            let (http, access, stop) = (http.clone(), access.clone(), std::sync::Arc::clone(&stop));
            tokio::spawn(async move {
                let (mut ok, mut bad) = (0u32, Vec::new());
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let res = http
                        .get(format!("{url}/v1/users/me"))
                        .bearer_auth(&access)
                        .send()
                        .await;
                    match res.map(|r| r.status().as_u16()) {
                        Ok(200) => ok += 1,
                        other => bad.push(format!("{other:?}")),
                    }
                }
                (ok, bad)
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(700)).await;
    nodes[0].kill();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut answered = 0;
    for task in load {
        let (ok, bad) = task.await.unwrap();
        assert!(bad.is_empty(), "failures on the surviving nodes: {bad:?}");
        answered += ok;
    }
    eprintln!("one node killed under load: the other two answered all {answered} requests");
    // And the survivors still take writes.
    register(&nodes[2], &http, "after@example.com").await;
    nodes[1].login(&http, "after@example.com").await;
}

/// A tiny TCP forwarder standing in for the network between a node and PostgreSQL, so the
/// test can cut the database off and bring it back.
struct Link {
    port: u16,
    accept: tokio::task::JoinHandle<()>,
    conns: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Link {
    async fn up(port: u16) -> Self {
        let socket = tokio::net::TcpSocket::new_v4().unwrap();
        socket.set_reuseaddr(true).unwrap();
        socket
            .bind(std::net::SocketAddr::from(([127, 0, 0, 1], port)))
            .unwrap();
        let listener = socket.listen(64).unwrap();
        let port = listener.local_addr().unwrap().port();
        let conns = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let accept = {
            let conns = std::sync::Arc::clone(&conns);
            tokio::spawn(async move {
                while let Ok((mut inbound, _)) = listener.accept().await {
                    let task = tokio::spawn(async move {
                        if let Ok(mut outbound) =
                            tokio::net::TcpStream::connect("127.0.0.1:5432").await
                        {
                            let _ =
                                tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                        }
                    });
                    conns.lock().unwrap().push(task);
                }
            })
        };
        Self {
            port,
            accept,
            conns,
        }
    }

    /// Cuts every connection and refuses new ones.
    fn down(self) -> u16 {
        self.accept.abort();
        for t in self.conns.lock().unwrap().drain(..) {
            t.abort();
        }
        self.port
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_follows_the_database_and_the_node_recovers_without_a_restart() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let link = Link::up(0).await;
    let url = db
        .url
        .replace("127.0.0.1:5432", &format!("127.0.0.1:{}", link.port));
    assert_ne!(
        url, db.url,
        "the test database is expected at 127.0.0.1:5432"
    );
    let node = Node::start(
        &db,
        &[
            ("PORTCULLIS_DATABASE_URL", url.as_str()),
            ("PORTCULLIS_DATABASE_ACQUIRE_TIMEOUT_SECS", "1"),
            // Far longer than the wait below: the cache must stop answering because the
            // feed is lost, not because its entries expired.
            ("PORTCULLIS_SESSION_CACHE_SECS", "60"),
        ],
    );
    let http = reqwest::Client::new();
    let ready = |http: reqwest::Client, url: String| async move {
        http.get(format!("{url}/readyz"))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(ready(http.clone(), node.url.clone()).await, 200);
    let admin = node.login(&http, ADMIN).await;
    let access = admin["access_token"].as_str().unwrap().to_owned();
    assert_eq!(me_status(&node, &http, &access).await, 200);
    assert_eq!(me_status(&node, &http, &access).await, 200);
    let port = link.down();
    // Connections in the pool are dead; within the acquire timeout readyz says so.
    assert!(
        answers_within(Duration::from_secs(5), 503, || ready(
            http.clone(),
            node.url.clone()
        ))
        .await,
        "readyz still 200 with the database cut off"
    );
    // The change feed is cut too: once its connection is seen lost (which may come a moment
    // after the pool's), the session cache is off, and nothing is answered from it.
    assert!(
        answers_within(Duration::from_secs(3), 503, || me_status(
            &node, &http, &access
        ))
        .await,
        "a cached session must not be trusted without the change feed"
    );
    let login = node
        .post(
            &http,
            "/v1/auth/login",
            serde_json::json!({"identifier": ADMIN, "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), 503, "no database: overloaded, not 500");
    let _link = Link::up(port).await;
    let back = Instant::now();
    assert!(
        answers_within(Duration::from_secs(15), 200, || ready(
            http.clone(),
            node.url.clone()
        ))
        .await,
        "the node did not recover"
    );
    node.login(&http, ADMIN).await;
    eprintln!(
        "readyz recovered {:?} after the database came back",
        back.elapsed()
    );
}

/// A browser's cookies, kept across nodes (as one browser behind a load balancer).
#[derive(Default)]
struct Jar(std::collections::BTreeMap<String, String>);

impl Jar {
    async fn send(&mut self, req: reqwest::RequestBuilder) -> (u16, String, String) {
        let cookie: Vec<String> = self.0.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let res = req
            .header("cookie", cookie.join("; "))
            .send()
            .await
            .unwrap();
        for set in res.headers().get_all("set-cookie") {
            let set = set.to_str().unwrap();
            let pair = set.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.insert(name.to_owned(), value.to_owned());
        }
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .map(|l| l.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (status, location, res.text().await.unwrap())
    }
}

/// An OpenID Connect authorization started on one node is continued on a second, signed in
/// on a third, and its code redeemed on yet another: the request travels sealed, the code
/// and the sessions are in the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authorization_started_on_one_node_completes_on_another() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let nodes = three_nodes(&db);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    register(&nodes[0], &http, "ann@example.com").await;
    let admin = nodes[1].login(&http, ADMIN).await;
    let callback = "https://app.example.test/callback";
    let created: serde_json::Value = http
        .post(format!("{}/v1/orgs/default/oauth-clients", nodes[2].url))
        .bearer_auth(admin["access_token"].as_str().unwrap())
        .json(
            &serde_json::json!({"name": "Acme", "redirect_uris": [callback], "first_party": true}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_owned();
    let secret = created["client_secret"].as_str().unwrap().to_owned();

    let mut jar = Jar::default();
    let query = serde_urlencoded::to_string([
        ("response_type", "code"),
        ("client_id", client_id.as_str()),
        ("redirect_uri", callback),
        ("scope", "openid email"),
        ("state", "st"),
        ("nonce", "nn"),
    ])
    .unwrap();
    let (status, to, _) = jar
        .send(http.get(format!("{}/oauth2/authorize?{query}", nodes[0].url)))
        .await;
    assert_eq!(status, 303);
    let (status, to, _) = jar.send(http.get(format!("{}{to}", nodes[1].url))).await;
    assert_eq!(status, 303);
    assert!(to.starts_with("/ui/signin?"), "{to}");
    let (status, _, page) = jar.send(http.get(format!("{}{to}", nodes[2].url))).await;
    assert_eq!(status, 200);
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..].split('"').next().unwrap().to_owned();
    let mut form: Vec<(String, String)> =
        serde_urlencoded::from_str(to.split_once('?').unwrap().1).unwrap();
    form.extend([
        ("csrf".to_owned(), csrf),
        ("identifier".to_owned(), "ann@example.com".to_owned()),
        ("password".to_owned(), PASSWORD.to_owned()),
    ]);
    let (status, to, _) = jar
        .send(
            http.post(format!("{}/ui/signin", nodes[2].url))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(serde_urlencoded::to_string(&form).unwrap()),
        )
        .await;
    assert_eq!(status, 303);
    assert!(to.starts_with("/ui/authorize?"), "{to}");
    let (status, back, _) = jar.send(http.get(format!("{}{to}", nodes[0].url))).await;
    assert_eq!(status, 303);
    assert!(back.starts_with(callback), "{back}");
    let answer: std::collections::BTreeMap<String, String> =
        serde_urlencoded::from_str(back.split_once('?').unwrap().1).unwrap();
    assert_eq!(answer["state"], "st");
    assert_eq!(answer["iss"], "https://id.example.test");

    // Redeemed on another node; used once more anywhere, refused.
    let redeem = |node: usize| {
        http.post(format!("{}/oauth2/token", nodes[node].url))
            .basic_auth(&client_id, Some(&secret))
            .form(&[
                ("grant_type", "authorization_code"),
                ("code", answer["code"].as_str()),
                ("redirect_uri", callback),
            ])
            .send()
    };
    let tokens: serde_json::Value = redeem(1).await.unwrap().json().await.unwrap();
    assert!(tokens["id_token"].is_string(), "{tokens}");
    let again = redeem(2).await.unwrap();
    assert_eq!(again.status(), 400);
    let info = http
        .get(format!("{}/oauth2/userinfo", nodes[0].url))
        .bearer_auth(tokens["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(
        info.status(),
        401,
        "the reuse on another node ended the grant"
    );

    // A secret rotated on one node stops working on another that had the client cached.
    let introspect = |node: usize, secret: String| {
        let http = http.clone();
        let (url, client_id) = (nodes[node].url.clone(), client_id.clone());
        async move {
            http.post(format!("{url}/oauth2/introspect"))
                .basic_auth(&client_id, Some(&secret))
                .form(&[("token", "x")])
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_eq!(introspect(0, secret.clone()).await, 200);
    let rotated: serde_json::Value = http
        .post(format!(
            "{}/v1/orgs/default/oauth-clients/{client_id}/secret",
            nodes[1].url
        ))
        .bearer_auth(admin["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        answers_within(Duration::from_secs(1), 401, || introspect(
            0,
            secret.clone()
        ))
        .await,
        "the old secret still works on another node a second after its rotation"
    );
    let new_secret = rotated["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(introspect(0, new_secret).await, 200);
}

/// A loopback service that answers every call with `body` as JSON (a hook that decides).
async fn answering(body: &'static str) -> u16 {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                // The request's head and body arrive in a packet or two; the answer does not
                // depend on them.
                let mut buf = vec![0u8; 16 * 1024];
                let _ = socket.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    port
}

/// Every node caches organizations and their hooks (a registration and a sign-in read
/// both): a policy or hook changed through one node holds on the others within a second,
/// through the change feed, whatever they had cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_policy_or_hook_set_on_one_node_holds_on_every_node_at_once() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let mut env = NODE_ENV.to_vec();
    env.push(("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.1"));
    let (a, b) = (Node::start(&db, &env), Node::start(&db, &env));
    let http = reqwest::Client::new();
    // B reads (and caches) the organization and that it has no hook.
    register(&b, &http, "first@example.com").await;
    let admin = a.login(&http, ADMIN).await;
    let token = admin["access_token"].as_str().unwrap().to_owned();
    let n = std::sync::atomic::AtomicU32::new(0);
    let try_register = || {
        let email = format!(
            "probe{}@example.com",
            n.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let res = b.post(
            &http,
            "/v1/auth/register",
            serde_json::json!({"email": email, "password": PASSWORD}),
        );
        async move { res.await.status().as_u16() }
    };
    let patch = |policy: serde_json::Value| {
        http.patch(format!("{}/v1/orgs/default", a.url))
            .bearer_auth(&token)
            .json(&serde_json::json!({ "policy": policy }))
            .send()
    };

    let closed = patch(serde_json::json!({"allow_self_registration": false}))
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    assert!(
        answers_within(Duration::from_secs(1), 403, &try_register).await,
        "self-registration closed on A holds on B"
    );
    let open = patch(serde_json::json!({"allow_self_registration": true}))
        .await
        .unwrap();
    assert_eq!(open.status(), 200);
    assert!(answers_within(Duration::from_secs(1), 201, &try_register).await);

    let port = answering(r#"{"decision":"deny","message":"not today"}"#).await;
    let hook = format!("{}/v1/orgs/default/hooks/before_user_created", a.url);
    let set = http
        .put(&hook)
        .bearer_auth(&token)
        .json(&serde_json::json!({"url": format!("http://127.0.0.1:{port}/hook")}))
        .send()
        .await
        .unwrap();
    assert!(set.status().is_success(), "{}", set.status());
    assert!(
        answers_within(Duration::from_secs(1), 403, &try_register).await,
        "a hook set on A is asked on B"
    );
    let removed = http.delete(&hook).bearer_auth(&token).send().await.unwrap();
    assert_eq!(removed.status(), 204);
    assert!(
        answers_within(Duration::from_secs(1), 201, &try_register).await,
        "a hook removed on A is no longer asked on B"
    );
}
