//! Failure counters, locks and rate-limit windows.

use std::sync::Arc;

use chrono::Duration;
use portcullis_core::store::{LockKey, LockoutRule, RateKey, Store};
use portcullis_core::UserId;

use crate::t0;

/// Lockouts: counted atomically, locking at the threshold for growing times, stale failures
/// forgotten, cleared on demand.
pub(crate) async fn lockouts(store: Arc<dyn Store>) {
    let s = store.as_ref();
    let rule = LockoutRule {
        threshold: 3,
        window: Duration::minutes(15),
        base: Duration::seconds(60),
        max: Duration::seconds(100),
    };
    let k = &LockKey::user(UserId::new());
    assert!(s.locked_until(k, t0()).await.unwrap().is_none());
    assert!(s.record_failure(k, &rule, t0()).await.unwrap().is_none());
    assert!(s.record_failure(k, &rule, t0()).await.unwrap().is_none());
    assert_eq!(
        s.record_failure(k, &rule, t0()).await.unwrap(),
        Some(t0() + Duration::seconds(60))
    );
    assert_eq!(
        s.locked_until(k, t0()).await.unwrap(),
        Some(t0() + Duration::seconds(60))
    );
    assert!(
        s.locked_until(k, t0() + Duration::seconds(61))
            .await
            .unwrap()
            .is_none(),
        "it ends by itself"
    );
    let later = t0() + Duration::seconds(61);
    for _ in 0..2 {
        s.record_failure(k, &rule, later).await.unwrap();
    }
    assert_eq!(
        s.record_failure(k, &rule, later).await.unwrap(),
        Some(later + Duration::seconds(100)),
        "doubled, capped"
    );
    // Failures older than the window are forgotten.
    let other = &LockKey::unknown_identifier("y");
    s.record_failure(other, &rule, t0()).await.unwrap();
    s.record_failure(other, &rule, t0()).await.unwrap();
    assert!(s
        .record_failure(other, &rule, t0() + Duration::minutes(16))
        .await
        .unwrap()
        .is_none());
    s.clear_failures(k).await.unwrap();
    assert!(s.locked_until(k, later).await.unwrap().is_none());
    // Concurrent failures all count.
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let st = Arc::clone(&store);
            tokio::spawn(async move {
                st.record_failure(&LockKey::device("race"), &rule, t0())
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut locks = 0;
    for t in tasks {
        if t.await.unwrap().is_some() {
            locks += 1;
        }
    }
    assert_eq!(locks, 2, "six failures, threshold three: two locks");

    // Rate-limit counters: per window, starting over in a new one, purged when old.
    let w1 = t0();
    let w2 = t0() + Duration::seconds(60);
    assert_eq!(s.hit(&RateKey::Client("1"), w1).await.unwrap(), 1);
    assert_eq!(s.hit(&RateKey::Client("1"), w1).await.unwrap(), 2);
    assert_eq!(s.hit(&RateKey::Client("2"), w1).await.unwrap(), 1);
    assert_eq!(
        s.hit(&RateKey::Client("1"), w2).await.unwrap(),
        1,
        "a new window"
    );
    assert_eq!(
        s.purge_rate_limits(w2).await.unwrap(),
        1,
        "ip:2 was last counted before w2"
    );
}
