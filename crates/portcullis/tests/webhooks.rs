//! Webhooks from real `portcullis serve` processes: a change and its event commit together,
//! an event answered before a SIGKILL is delivered after the restart, and three nodes on one
//! PostgreSQL deliver each event once. Every request is checked by a receiver with the
//! official Standard Webhooks library.

#![expect(
    clippy::unwrap_used,
    reason = "a test fails loudly at the first unexpected answer"
)]

mod common;
#[path = "../../portcullis-testkit/src/receiver.rs"]
#[allow(
    dead_code,
    unreachable_pub,
    reason = "shared with the HTTP tests, which use all of it"
)]
mod receiver;

use std::collections::BTreeMap;

use common::{Db, Node, ADMIN};
use receiver::{free_port, Receiver};
use serde_json::{json, Value};

/// Loopback receivers allowed; retries a second apart for a minute (a node restarting).
const NODE_ENV: &[(&str, &str)] = &[
    ("PORTCULLIS_OUTBOUND_ALLOW", "127.0.0.1"),
    (
        "PORTCULLIS_WEBHOOK_RETRY_SECS",
        "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,5,5,5,5,5,5",
    ),
];

/// Adds an endpoint for `user.registered` at `port`; answers its secret.
async fn endpoint(node: &Node, http: &reqwest::Client, port: u16) -> String {
    let admin = node.login(http, ADMIN).await;
    let res = http
        .post(format!("{}/v1/orgs/default/webhooks", node.url))
        .bearer_auth(admin["access_token"].as_str().unwrap())
        .json(&json!({"url": format!("http://127.0.0.1:{port}/"), "event_types": ["user.registered"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    res.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn register(node: &Node, http: &reqwest::Client, email: &str) -> String {
    let res = node
        .post(
            http,
            "/v1/auth/register",
            json!({"email": email, "password": common::PASSWORD}),
        )
        .await;
    assert_eq!(res.status(), 201, "{email}");
    res.json::<Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Receives until every one of `users` has had its `user.registered` event; answers how
/// many requests came for each event id. A repeat must be the same event.
async fn receive_all(r: &mut Receiver, users: &[String]) -> BTreeMap<String, usize> {
    let mut by_user: BTreeMap<String, String> = BTreeMap::new();
    let mut per_id: BTreeMap<String, usize> = BTreeMap::new();
    while by_user.len() < users.len() {
        // A delivery that was in flight when its node died stays leased to it for a minute
        // (the deliverer's lease) before another node may try it again.
        let got = r
            .next_within(std::time::Duration::from_secs(90))
            .await
            .expect("a request within the lease and a retry");
        assert_eq!(
            got["verified"], true,
            "the library refused a request: {got}"
        );
        let user = got["payload"]["data"]["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let id = got["id"].as_str().unwrap().to_owned();
        if let Some(earlier) = by_user.insert(user, id.clone()) {
            assert_eq!(earlier, id, "one event, one webhook-id");
        }
        *per_id.entry(id).or_default() += 1;
    }
    let mut want = users.to_vec();
    want.sort();
    assert_eq!(by_user.keys().cloned().collect::<Vec<_>>(), want);
    per_id
}

async fn an_event_answered_before_a_sigkill_is_delivered_after_restart(db: Db) {
    let http = reqwest::Client::new();
    let mut node = Node::start(&db, NODE_ENV);
    let port = free_port();
    let secret = endpoint(&node, &http, port).await;
    // The receiver is down: nothing can be delivered before the kill.
    let mut users = Vec::new();
    for i in 0..10 {
        users.push(register(&node, &http, &format!("k{i}@example.com")).await);
    }
    node.kill();
    let mut r = Receiver::start(port, &secret, json!({})).await;
    let _node = Node::start(&db, NODE_ENV);
    receive_all(&mut r, &users).await;
    r.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_event_answered_before_a_sigkill_is_delivered_after_restart() {
    an_event_answered_before_a_sigkill_is_delivered_after_restart(Db::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_event_answered_before_a_sigkill_is_delivered_after_restart() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    an_event_answered_before_a_sigkill_is_delivered_after_restart(db).await;
}

/// Three nodes under steady load, each delivering: every event arrives exactly once, and
/// the nodes' counters add up to the events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_each_event_once() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    let http = reqwest::Client::new();
    let nodes: Vec<Node> = (0..3).map(|_| Node::start(&db, NODE_ENV)).collect();
    let port = free_port();
    let secret = endpoint(&nodes[0], &http, port).await;
    let mut r = Receiver::start(port, &secret, json!({})).await;
    let mut workers = Vec::new();
    for w in 0..6 {
        let (http, url) = (http.clone(), nodes[w % 3].url.clone());
        workers.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..10 {
                let res = http
                    .post(format!("{url}/v1/auth/register"))
                    .json(&json!({"email": format!("n{w}-{i}@example.com"), "password": common::PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 201);
                ids.push(res.json::<Value>().await.unwrap()["id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut users = Vec::new();
    for w in workers {
        users.extend(w.await.unwrap());
    }
    let per_id = receive_all(&mut r, &users).await;
    // Anything more would be a second delivery.
    assert!(
        r.next_within(std::time::Duration::from_secs(2))
            .await
            .is_none(),
        "an event was delivered twice"
    );
    assert!(per_id.values().all(|n| *n == 1), "{per_id:?}");
    let mut delivered = 0.0;
    for node in &nodes {
        delivered += node
            .counter(
                &http,
                "portcullis_webhook_deliveries_total{result=\"delivered\"} ",
            )
            .await;
    }
    assert!((delivered - 60.0).abs() < f64::EPSILON, "{delivered}");
    r.stop().await;
}

/// Makes the database refuse audit events of type `kind` (or accept them again, `None`).
async fn refuse_events(db: &Db, kind: Option<&str>) {
    use sqlx::Executor as _;
    let statements: Vec<String> = match (db.pg.is_some(), kind) {
        (false, Some(k)) => vec![format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON audit_events WHEN NEW.type = '{k}' \
             BEGIN SELECT RAISE(ABORT, 'refused'); END"
        )],
        (false, None) => vec!["DROP TRIGGER refuse".to_owned()],
        (true, Some(k)) => vec![
            "CREATE OR REPLACE FUNCTION refuse() RETURNS trigger AS $$ \
             BEGIN RAISE EXCEPTION 'refused'; END $$ LANGUAGE plpgsql"
                .to_owned(),
            format!(
                "CREATE TRIGGER refuse BEFORE INSERT ON audit_events FOR EACH ROW \
                 WHEN (NEW.type = '{k}') EXECUTE FUNCTION refuse()"
            ),
        ],
        (true, None) => vec!["DROP TRIGGER refuse ON audit_events".to_owned()],
    };
    if db.pg.is_some() {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        for s in statements {
            pool.execute(s.as_str()).await.unwrap();
        }
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        for s in statements {
            pool.execute(s.as_str()).await.unwrap();
        }
        pool.close().await;
    }
}

/// A change and the event that reports it commit together: when the event cannot be
/// written, the change is not made either (and is answered as a failure), so there is never
/// a change without its event, nor an event without its change.
async fn a_change_and_its_event_commit_together(db: Db) {
    let http = reqwest::Client::new();
    let node = Node::start(&db, NODE_ENV);
    let admin = node.login(&http, ADMIN).await;
    let bearer = admin["access_token"].as_str().unwrap().to_owned();
    let id = register(&node, &http, "kept@example.com").await;

    refuse_events(&db, Some("admin.user_deleted")).await;
    let res = http
        .delete(format!("{}/v1/users/{id}", node.url))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_server_error(), "{}", res.status());
    node.login(&http, "kept@example.com").await;
    refuse_events(&db, None).await;

    refuse_events(&db, Some("user.registered")).await;
    let res = node
        .post(
            &http,
            "/v1/auth/register",
            json!({"email": "new@example.com", "password": common::PASSWORD}),
        )
        .await;
    assert!(res.status().is_server_error(), "{}", res.status());
    refuse_events(&db, None).await;
    // The address was not taken: the registration was undone with its event.
    register(&node, &http, "new@example.com").await;

    let res = http
        .delete(format!("{}/v1/users/{id}", node.url))
        .bearer_auth(&bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);

    // The same for what an administrator or a user makes: refused with its event, then made.
    let made = [
        (
            "app_token.created",
            "/v1/users/me/app-tokens",
            json!({"description": "ci"}),
        ),
        (
            "license.created",
            "/v1/orgs/default/licenses",
            json!({"max_devices": 2}),
        ),
        (
            "webhook.created",
            "/v1/orgs/default/webhooks",
            json!({"url": "http://127.0.0.1:9/", "event_types": []}),
        ),
        (
            "oauth_client.created",
            "/v1/orgs/default/oauth-clients",
            json!({"name": "App", "client_type": "public", "redirect_uris": ["http://127.0.0.1:9/cb"]}),
        ),
    ];
    for (kind, path, body) in made {
        let before = count(&http, &node, &bearer, path).await;
        refuse_events(&db, Some(kind)).await;
        let res = http
            .post(format!("{}{path}", node.url))
            .bearer_auth(&bearer)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_server_error(), "{kind}: {}", res.status());
        assert_eq!(count(&http, &node, &bearer, path).await, before, "{kind}");
        refuse_events(&db, None).await;
        let res = http
            .post(format!("{}{path}", node.url))
            .bearer_auth(&bearer)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201, "{kind}");
        assert_eq!(
            count(&http, &node, &bearer, path).await,
            before + 1,
            "{kind}"
        );
    }
}

/// How many items the list at `path` holds (an array, or an object's `items`).
async fn count(http: &reqwest::Client, node: &Node, bearer: &str, path: &str) -> usize {
    let res = http
        .get(format!("{}{path}", node.url))
        .bearer_auth(bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{path}");
    let body: Value = res.json().await.unwrap();
    body.as_array()
        .or_else(|| body["items"].as_array())
        .or_else(|| body["data"].as_array())
        .unwrap_or_else(|| panic!("{path}: {body}"))
        .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_change_and_its_event_commit_together() {
    a_change_and_its_event_commit_together(Db::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_change_and_its_event_commit_together() {
    let Some(db) = Db::postgres().await else {
        return;
    };
    a_change_and_its_event_commit_together(db).await;
}
