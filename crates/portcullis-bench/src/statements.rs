//! The SQL statements a registration and a sign-in send to their database, counted: sqlx
//! reports every statement it runs (`BEGIN` and `COMMIT` included) as a `tracing` event of
//! target `sqlx::query`, and those made inside the use case's span (`register`, `login`) are
//! counted here. sqlx sends one statement a round trip (no pipelining), so this is also the
//! round trips. It sends a transaction's `BEGIN` without reporting it, so a `COMMIT` or
//! `ROLLBACK` counts for two (checked against PostgreSQL's statement log).

use std::sync::atomic::{AtomicU64, Ordering};

use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::Layer;

/// The use cases counted, by the name of their span (`Services::register`, `Services::login`).
pub(crate) const USE_CASES: [&str; 2] = ["register", "login"];

static STATEMENTS: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// Which counted use case `m` is the span of.
fn use_case(m: &Metadata<'_>) -> Option<usize> {
    if !m.is_span() || !m.target().starts_with("portcullis_core") {
        return None;
    }
    USE_CASES.iter().position(|n| *n == m.name())
}

struct Counter;

/// Whether an event's `summary` (sqlx's first words of the statement) ends a transaction.
struct Summary(bool);

impl tracing::field::Visit for Summary {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "summary" {
            let end = value.trim_start().to_ascii_uppercase();
            self.0 = end.starts_with("COMMIT") || end.starts_with("ROLLBACK");
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "summary" {
            self.record_str(field, format!("{value:?}").trim_matches('"'));
        }
    }
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Counter {
    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let within = ctx
            .event_scope(event)
            .and_then(|mut scope| scope.find_map(|span| use_case(span.metadata())));
        if let Some(i) = within {
            let mut summary = Summary(false);
            event.record(&mut summary);
            STATEMENTS[i].fetch_add(if summary.0 { 2 } else { 1 }, Ordering::Relaxed);
        }
    }
}

/// Installs the counter as this process's subscriber (nothing else is logged). Only the
/// counted use cases' spans and sqlx's statement events are enabled, so everything else
/// costs what it costs without a subscriber.
pub(crate) fn install() {
    let only = tracing_subscriber::filter::filter_fn(|m| {
        // Not only events: sqlx first asks `enabled!` (a hint, neither span nor event).
        use_case(m).is_some() || (!m.is_span() && m.target() == "sqlx::query")
    });
    let _ = tracing_subscriber::registry()
        .with(Counter.with_filter(only))
        .try_init();
}

/// Statements counted so far in `use_case` (one of [`USE_CASES`]).
pub(crate) fn counted(use_case: &str) -> u64 {
    USE_CASES
        .iter()
        .position(|n| *n == use_case)
        .map_or(0, |i| STATEMENTS[i].load(Ordering::Relaxed))
}
