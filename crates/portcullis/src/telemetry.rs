//! Structured logs: human-readable lines by default, JSON lines with `PORTCULLIS_LOG_FORMAT=json`.

use tracing_subscriber::EnvFilter;

use crate::config::Config;

/// Installs the global subscriber (once; later calls do nothing).
pub fn init(config: &Config) {
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let _ = if config.log_format == "json" {
        builder.json().flatten_event(true).try_init()
    } else {
        builder.try_init()
    };
}
