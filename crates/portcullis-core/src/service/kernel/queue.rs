//! The loop every durable queue's worker runs (the outbox's courier, the outbound
//! dispatcher): a round at once after a full batch, else when this node queued something or
//! a second has passed (for work queued elsewhere or due for retry), until shutdown.

use std::future::Future;

use tokio::sync::Notify;

use crate::store::StoreError;

/// Runs `round` (which answers how many items it handled) until `shutdown` completes, and
/// `after` after each round; `what` names the queue in the log.
pub(crate) async fn work<R, RF, A, AF>(
    what: &str,
    batch: usize,
    wake: &Notify,
    shutdown: impl Future<Output = ()>,
    mut round: R,
    mut after: A,
) where
    R: FnMut() -> RF,
    RF: Future<Output = Result<usize, StoreError>>,
    A: FnMut() -> AF,
    AF: Future<Output = ()>,
{
    tokio::pin!(shutdown);
    loop {
        match round().await {
            // A full batch may mean more are waiting.
            Ok(n) if n >= batch => continue,
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, queue = what, "queue round failed"),
        }
        after().await;
        tokio::select! {
            () = &mut shutdown => return,
            () = wake.notified() => {}
            () = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
        }
    }
}
