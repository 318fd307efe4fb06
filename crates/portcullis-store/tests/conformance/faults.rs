//! Races and cancelled writes: one winner, and no transaction left open.

use std::sync::Arc;

use portcullis_core::model::Organization;
use portcullis_core::store::{RotateOutcome, Store};
use portcullis_store::{Database, PoolSettings};

use crate::{default_org, live, new_user, session, t0};

/// Two callers racing on one refresh token: exactly one wins.
pub(crate) async fn race(store: Arc<dyn Store>) {
    let org = default_org(store.as_ref()).await;
    let ann = store
        .insert_user(&new_user(&org, "race@example.com"))
        .await
        .unwrap();
    let sess = session(ann.id, t0());
    store.create_session(&sess, "r0").await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let st = Arc::clone(&store);
            tokio::spawn(async move {
                st.rotate_refresh_token("r0", &format!("r1-{i}"), live(t0()))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut rotated = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), RotateOutcome::Rotated { .. }) {
            rotated += 1;
        }
    }
    assert_eq!(rotated, 1);
}

/// Write futures dropped at every point of their life (after 0, 1, 2, ... polls, with the
/// database given time to answer in between), as a request cancelled by its client or a
/// timeout drops them, leave no connection inside a transaction: every later write commits.
pub(crate) async fn cancellation(db: &Database) {
    let store = db.store();
    let org = default_org(store.as_ref()).await;
    let owner = store
        .insert_user(&new_user(&org, "owner@example.com"))
        .await
        .unwrap();
    store
        .create_session(&session(owner.id, t0()), "cancel-0")
        .await
        .unwrap();
    let mut n = 0;
    // Early cancellations last in some rounds, late ones last in others: a leaked
    // PostgreSQL transaction is ended by the next commit on its connection, so it is looked
    // for after each round, before anything else writes.
    for round in 0..4 {
        let mut points: Vec<u32> = (0..24).collect();
        if round % 2 == 1 {
            points.reverse();
        }
        for polls in points {
            for pause in [0, 20, 100, 400, 1500] {
                n += 1;
                cancel_after(store.as_ref(), &org, n, polls, pause).await;
            }
        }
        // Connections go back to the pool on tasks of their own.
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        no_open_transaction(db).await;
        for i in 0..5 {
            store
                .insert_user(&new_user(&org, &format!("after{round}-{i}@example.com")))
                .await
                .expect("a write after the cancellations");
            store
                .ping()
                .await
                .expect("readiness after the cancellations");
        }
    }
}

/// A registration and a refresh-token rotation, polled `polls` times `pause` µs apart, then
/// dropped.
pub(crate) async fn cancel_after(
    store: &dyn Store,
    org: &Organization,
    n: u32,
    polls: u32,
    pause: u64,
) {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let user = new_user(org, &format!("cancel{n}@example.com"));
    let (old, new) = (format!("cancel-{}", n - 1), format!("cancel-{n}"));
    let mut insert = store.insert_user(&user);
    let mut rotate = store.rotate_refresh_token(&old, &new, live(t0()));
    let (mut inserted, mut rotated) = (false, false);
    for _ in 0..polls {
        inserted = inserted || insert.as_mut().poll(&mut cx).is_ready();
        rotated = rotated || rotate.as_mut().poll(&mut cx).is_ready();
        if inserted && rotated {
            break;
        }
        // The database answers meanwhile (SQLite on its worker thread, PostgreSQL into the
        // socket), so the next poll finds the next step ready.
        std::thread::sleep(std::time::Duration::from_micros(pause));
    }
}

/// No pooled PostgreSQL connection sits in an open transaction (where `now()` stays the
/// transaction's start from one statement to the next), which would hold locks and keep
/// later single statements uncommitted.
pub(crate) async fn no_open_transaction(db: &Database) {
    let Database::Postgres(pg, _) = db else {
        return;
    };
    let mut held = Vec::new();
    for _ in 0..PoolSettings::default().max_connections {
        let mut conn = pg.pool().acquire().await.unwrap();
        let mut now = Vec::new();
        for _ in 0..2 {
            let t: f64 = sqlx::query_scalar("SELECT extract(epoch FROM now())::float8")
                .persistent(false)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            now.push(t);
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        assert_ne!(
            now[0], now[1],
            "a pooled connection is inside a transaction"
        );
        held.push(conn);
    }
}

/// Many audited requests at once: every event is written (the writer takes them in groups),
/// each caller told so only once it is.
pub(crate) async fn audit_burst(store: Arc<dyn Store>) {
    use portcullis_core::audit::{AuditEvent, AuditKind, ClientInfo};
    use portcullis_core::store::AuditFilter;
    let org = default_org(store.as_ref()).await;
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let st = Arc::clone(&store);
            tokio::spawn(async move {
                let e = AuditEvent::new(
                    AuditKind::OAuthTokenIssued,
                    Some(org.id),
                    t0(),
                    &ClientInfo::default(),
                )
                .detail("n", i.to_string());
                st.record_audit(&e).await
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let listed = store
        .list_audit(&AuditFilter {
            kind: Some("oauth.token_issued".into()),
            limit: 1000,
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(listed.len(), 300);
}
