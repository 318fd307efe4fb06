//! Closed-loop HTTP load: `clients` tasks, each sending its next request when the last one
//! is answered, for a fixed time.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stats::Sample;

/// Runs `request(client_index, n)` from `clients` tasks for `duration`; a request counts as
/// ok when it resolves to `true`.
pub(crate) async fn run<F, Fut>(clients: usize, duration: Duration, request: F) -> Sample
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let start = Instant::now();
    let deadline = start + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|c| {
            let request = Arc::clone(&request);
            tokio::spawn(async move {
                let mut s = Sample::default();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let ok = request(c, n).await;
                    n += 1;
                    if ok {
                        s.ok += 1;
                        s.latencies.push(t.elapsed());
                    } else {
                        s.failed += 1;
                    }
                }
                s
            })
        })
        .collect();
    let mut total = Sample::default();
    for t in tasks {
        if let Ok(s) = t.await {
            total.merge(s);
        }
    }
    total.elapsed = start.elapsed();
    total
}
