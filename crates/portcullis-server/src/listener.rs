//! Accepting connections: at most a set number open at once, a deadline for each request's
//! headers, and accept errors (out of descriptors, a connection reset before it was taken)
//! survived. Written on hyper's connection builder because `axum::serve` sets neither a
//! header-read timeout nor a connection cap, which lets half-sent requests (slowloris) hold
//! every descriptor of the process.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::Service as _;

/// How connections are accepted and read.
#[derive(Debug, Clone)]
pub struct ConnectionSettings {
    /// Connections open at once; past this, new ones wait in the kernel's queue until one
    /// closes.
    pub max_connections: usize,
    /// A connection that has not sent a whole request head (request line and headers) this
    /// long after it opened, or after its previous answer, is closed.
    pub header_read_timeout: Duration,
    /// How long in-flight requests may take to finish at shutdown.
    pub drain_timeout: Duration,
}

impl Default for ConnectionSettings {
    fn default() -> Self {
        Self {
            max_connections: 10_000,
            header_read_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes, then lets open requests finish
/// (at most `drain_timeout`). Each request sees its client's address (`ConnectInfo`).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    settings: ConnectionSettings,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut make_service = router.into_make_service_with_connect_info::<SocketAddr>();
    let slots = Arc::new(Semaphore::new(settings.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.header_read_timeout);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            slot = Arc::clone(&slots).acquire_owned() => slot.map_err(std::io::Error::other)?,
            () = &mut shutdown => break,
        };
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, addr) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                survive_accept_error(&e).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let Ok(service) = make_service.call(addr).await;
        let connection =
            builder.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            // Errors here are the client's (reset, timed out, malformed): nothing to log at
            // warning level, and hyper has already answered what it could.
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(settings.drain_timeout, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still open after the drain timeout were cut");
    }
    Ok(())
}

/// An accept error is about one connection (it was reset before it was taken) or about the
/// process (out of descriptors or memory); neither may stop the loop. For the second, wait
/// a moment for descriptors to be freed instead of spinning.
async fn survive_accept_error(e: &std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset | ErrorKind::ConnectionRefused
    ) {
        return;
    }
    metrics::counter!("portcullis_accept_errors_total").increment(1);
    tracing::warn!(error = %e, "could not accept a connection; retrying shortly");
    tokio::time::sleep(Duration::from_millis(50)).await;
}
