//! The SQL statements a registration sends to its database, counted: sqlx reports every
//! statement it runs (`BEGIN` and `COMMIT` included) as a `tracing` event of target
//! `sqlx::query`, and those made inside the use case's `register` span are counted here.
//! sqlx sends one statement a round trip (no pipelining), so this is also the round trips.

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer;

static STATEMENTS: AtomicU64 = AtomicU64::new(0);

/// The span of the registration use case (`Services::register`).
fn is_register(m: &Metadata<'_>) -> bool {
    m.is_span() && m.name() == "register" && m.target().starts_with("portcullis_core")
}

struct Counter;

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Counter {
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let within = ctx
            .event_scope(event)
            .is_some_and(|mut scope| scope.any(|span| is_register(span.metadata())));
        if within {
            STATEMENTS.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Installs the counter as this process's subscriber (nothing else is logged). Only the
/// `register` span and sqlx's statement events are enabled, so everything else costs what
/// it costs without a subscriber.
pub(crate) fn install() {
    let only = tracing_subscriber::filter::filter_fn(|m| {
        is_register(m) || (m.is_event() && m.target() == "sqlx::query")
    });
    let _ = tracing_subscriber::registry()
        .with(Counter.with_filter(only))
        .try_init();
}

/// Statements counted so far.
pub(crate) fn counted() -> u64 {
    STATEMENTS.load(Ordering::Relaxed)
}
