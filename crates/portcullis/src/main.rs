//! `portcullis`: the server and its operations commands.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use portcullis::{telemetry, App, Config};

/// mimalloc instead of glibc's allocator: a request allocates in small pieces on every
/// worker thread, and glibc's arenas made threads wait on each other's locks (`/me` spent a
/// twelfth of its time in malloc and free).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Administrators, on the database directly.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Write every user (with password hashes) as JSON lines, from the database directly.
    Export {
        /// The file to write (created owner-readable only); standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import users from JSON lines (the export format; password hashes in argon2, scrypt,
    /// bcrypt or Django PBKDF2-SHA256 form are kept and upgraded at each user's next sign-in).
    Import {
        /// The JSON-lines file.
        file: PathBuf,
        /// Users per transaction (each batch is stored whole or not at all).
        #[arg(long, default_value_t = 1000)]
        batch: usize,
    },
    /// Users, through a running server (admin token).
    Users {
        #[command(flatten)]
        remote: portcullis::remote::Remote,
        #[command(subcommand)]
        command: portcullis::remote::Users,
    },
    /// Organizations, through a running server (system admin token).
    Orgs {
        #[command(flatten)]
        remote: portcullis::remote::Remote,
        #[command(subcommand)]
        command: portcullis::remote::Orgs,
    },
    /// Licenses, through a running server (admin token).
    Licenses {
        #[command(flatten)]
        remote: portcullis::remote::Remote,
        #[command(subcommand)]
        command: portcullis::remote::Licenses,
    },
    /// OAuth clients, through a running server (admin token).
    OauthClients {
        #[command(flatten)]
        remote: portcullis::remote::Remote,
        #[command(subcommand)]
        command: portcullis::remote::OAuthClients,
    },
    /// Upstream identity providers ("Continue with Google"...), through a running server
    /// (admin token).
    IdentityProviders {
        #[command(flatten)]
        remote: portcullis::remote::Remote,
        #[command(subcommand)]
        command: portcullis::remote::IdentityProviders,
    },
    /// Webhook endpoints and their deliveries, through a running server (admin token).
    Webhooks {
        #[command(flatten)]
        remote: portcullis::remote::Remote,
        #[command(subcommand)]
        command: portcullis::remote::Webhooks,
    },
    /// SCIM tokens of an organization (for Okta, Entra ID...), through a running server.
    ScimTokens {
        #[command(flatten)]
        remote: portcullis::remote::Remote,
        #[command(subcommand)]
        command: portcullis::remote::ScimTokens,
    },
    /// Hooks (before_user_created, custom_access_token_claims), through a running server.
    Hooks {
        #[command(flatten)]
        remote: portcullis::remote::Remote,
        #[command(subcommand)]
        command: portcullis::remote::Hooks,
    },
    /// The audit log, through a running server (admin token).
    Audit {
        #[command(flatten)]
        remote: portcullis::remote::Remote,
        #[command(subcommand)]
        command: portcullis::remote::Audit,
    },
    /// Signing keys (on the database directly, beside running nodes).
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
        /// Print JSON instead of a table.
        #[arg(long, global = true)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an administrator with a verified email.
    Create {
        #[arg(long)]
        email: String,
        /// The password (or set PORTCULLIS_ADMIN_PASSWORD, which keeps it out of the process list).
        #[arg(long, env = "PORTCULLIS_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// `system_admin` (every organization) or `org_admin`.
        #[arg(long, default_value = "system_admin")]
        role: String,
        /// The organization of an `org_admin`.
        #[arg(long)]
        organization: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add a new signing key of each algorithm (EdDSA, RS256, ES256): published at once,
    /// signing after twice PORTCULLIS_KEY_RELOAD_SECS.
    Rotate,
    /// List the keys and which one signs.
    List,
}

fn print_keys(keys: &[portcullis::keys::KeyInfo], json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(keys)?);
        return Ok(());
    }
    println!(
        "{:<18} {:<6} {:<10} {:<26} SIGNS FROM",
        "KID", "ALG", "STATE", "CREATED"
    );
    for k in keys {
        println!(
            "{:<18} {:<6} {:<10} {:<26} {}",
            k.kid,
            k.algorithm,
            k.state,
            k.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            k.signs_from
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        );
    }
    Ok(())
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
async fn main() -> std::process::ExitCode {
    // A failure is said in one line (its causes joined), whatever RUST_BACKTRACE says: what
    // an operator reads at start is what to set, not a stack trace.
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("Error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // Commands that only talk to a server need no server configuration.
    match cli.command {
        Command::Users { remote, command } => {
            return portcullis::remote::users(&remote, command).await
        }
        Command::Orgs { remote, command } => {
            return portcullis::remote::orgs(&remote, command).await
        }
        Command::Licenses { remote, command } => {
            return portcullis::remote::licenses(&remote, command).await
        }
        Command::Audit { remote, command } => {
            return portcullis::remote::audit(&remote, command).await
        }
        Command::OauthClients { remote, command } => {
            return portcullis::remote::oauth_clients(&remote, command).await
        }
        Command::Webhooks { remote, command } => {
            return portcullis::remote::webhooks(&remote, command).await
        }
        Command::IdentityProviders { remote, command } => {
            return portcullis::remote::identity_providers(&remote, command).await
        }
        Command::Hooks { remote, command } => {
            return portcullis::remote::hooks_command(&remote, command).await
        }
        Command::ScimTokens { remote, command } => {
            return portcullis::remote::scim_tokens(&remote, command).await
        }
        _ => {}
    }
    let config = Config::load(cli.config.as_deref())?;
    telemetry::init(&config);
    match cli.command {
        Command::Serve => {
            let app = App::build(config).await?;
            tracing::info!(address = %format!("http://{}", app.local_addr()), database = %app.database(), "Portcullis listening");
            if let Some(addr) = app.metrics_addr() {
                tracing::info!(address = %format!("http://{addr}/metrics"), "metrics listening");
            }
            app.serve(shutdown_signal()).await
        }
        Command::Migrate => {
            portcullis::open_database(&config).await?.close().await;
            tracing::info!(database = %portcullis::config::redact_url(&config.database_url()), "migrations applied");
            Ok(())
        }
        Command::Keys { command, json } => {
            let keys = match command {
                KeysCommand::Rotate => portcullis::keys::rotate(&config).await?,
                KeysCommand::List => portcullis::keys::list(&config).await?,
            };
            print_keys(&keys, json)
        }
        Command::Admin {
            command:
                AdminCommand::Create {
                    email,
                    password,
                    role,
                    organization,
                },
        } => {
            let user = portcullis::transfer::create_admin(
                &config,
                &email,
                &password,
                &role,
                organization.as_deref(),
            )
            .await?;
            println!(
                "created {} ({email}) with role {role} in {}",
                user.id, user.org_slug
            );
            Ok(())
        }
        Command::Export { out } => {
            let n = portcullis::transfer::export(&config, out.as_deref()).await?;
            eprintln!("exported {n} users");
            Ok(())
        }
        Command::Import { file, batch } => {
            let n = portcullis::transfer::import(&config, &file, batch).await?;
            eprintln!("imported {n} users");
            Ok(())
        }
        Command::Users { .. }
        | Command::Orgs { .. }
        | Command::Licenses { .. }
        | Command::OauthClients { .. }
        | Command::Webhooks { .. }
        | Command::IdentityProviders { .. }
        | Command::Hooks { .. }
        | Command::ScimTokens { .. }
        | Command::Audit { .. } => {
            unreachable!("handled above")
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// clap's own consistency checks of every command, argument and default.
    #[test]
    fn the_command_line_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
