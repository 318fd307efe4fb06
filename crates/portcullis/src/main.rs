//! `portcullis`: the server and its operations commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use portcullis::{telemetry, App, Config};

/// Portcullis: self-hosted user management and authentication.
#[derive(Debug, Parser)]
#[command(name = "portcullis", version, about)]
struct Cli {
    /// TOML configuration file (PORTCULLIS_* variables override it).
    #[arg(long, global = true, env = "PORTCULLIS_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (applies pending migrations first).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init(&config);
    match cli.command {
        Command::Serve => {
            let app = App::build(config).await?;
            tracing::info!(address = %format!("http://{}", app.local_addr()), database = %app.database(), "Portcullis listening");
            app.serve(shutdown_signal()).await
        }
        Command::Migrate => {
            portcullis::open_database(&config).await?.close().await;
            tracing::info!(database = %portcullis::config::redact_url(&config.database_url()), "migrations applied");
            Ok(())
        }
    }
}
