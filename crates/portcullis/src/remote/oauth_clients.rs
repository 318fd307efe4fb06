//! `oauth-clients ...`: an organization's OAuth clients, through a running server.

use clap::{Args, Subcommand};
use portcullis_client::api::{CreateOAuthClientRequest, OAuthClient, UpdateOAuthClientRequest};
use uuid::Uuid;

use super::{Remote, Table};

/// The settings a command may give; what is not given keeps its default (on `create`) or
/// its value (on `update`).
#[derive(Debug, Args)]
pub struct Settings {
    /// Display name (required on `create`).
    #[arg(long)]
    name: Option<String>,
    /// A redirect URI (repeat for several; on `update`, the list replaces the old one).
    #[arg(long = "redirect-uri")]
    redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeatable).
    #[arg(long = "post-logout-redirect-uri")]
    post_logout_redirect_uris: Vec<String>,
    /// A grant type: authorization_code, refresh_token, client_credentials (repeatable).
    #[arg(long = "grant-type")]
    grant_types: Vec<String>,
    /// An allowed scope: openid, profile, email, phone, offline_access (repeatable).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// client_secret_basic, client_secret_post, or none (public clients).
    #[arg(long)]
    auth_method: Option<String>,
    /// RS256, ES256 or EdDSA.
    #[arg(long)]
    id_token_alg: Option<String>,
    /// A first-party application: no consent page (`--first-party false` to undo).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    first_party: Option<bool>,
    /// Where back-channel logout tokens are posted.
    #[arg(long)]
    backchannel_logout_uri: Option<String>,
}

fn given(list: Vec<String>) -> Option<Vec<String>> {
    (!list.is_empty()).then_some(list)
}

/// `oauth-clients ...`.
#[derive(Debug, Subcommand)]
pub enum OAuthClients {
    /// List an organization's clients.
    List { org: String },
    /// Show one client.
    Get { org: String, id: Uuid },
    /// Register a client; a confidential client's secret is shown this once.
    Create {
        org: String,
        /// A public client (a browser or native application: no secret, PKCE).
        #[arg(long)]
        public: bool,
        #[command(flatten)]
        settings: Settings,
    },
    /// Change a client's settings.
    Update {
        org: String,
        id: Uuid,
        #[command(flatten)]
        settings: Settings,
    },
    /// Give a confidential client a new secret (shown this once); the old one stops working.
    RotateSecret { org: String, id: Uuid },
    /// Delete a client.
    Delete { org: String, id: Uuid },
}

fn table(clients: &[OAuthClient]) -> Table {
    clients.iter().fold(
        Table::new(&["CLIENT ID", "NAME", "TYPE", "GRANTS", "REDIRECT URIS"]),
        |t, c| {
            t.row(vec![
                c.client_id.to_string(),
                c.name.clone(),
                c.client_type.clone(),
                c.grant_types.join(","),
                c.redirect_uris.join(" "),
            ])
        },
    )
}

/// Runs an `oauth-clients` command.
pub async fn oauth_clients(remote: &Remote, cmd: OAuthClients) -> anyhow::Result<()> {
    let c = remote.client().await?;
    match cmd {
        OAuthClients::List { org } => {
            remote.print(&c.oauth_clients(&org).await?.items, |l| table(l))
        }
        OAuthClients::Get { org, id } => remote.print(&c.oauth_client(&org, id).await?, |one| {
            table(std::slice::from_ref(one))
        }),
        OAuthClients::Create {
            org,
            public,
            settings,
        } => {
            let body = CreateOAuthClientRequest {
                name: settings.name.unwrap_or_default(),
                client_type: public.then(|| "public".to_owned()),
                redirect_uris: settings.redirect_uris,
                post_logout_redirect_uris: settings.post_logout_redirect_uris,
                grant_types: given(settings.grant_types),
                scopes: given(settings.scopes),
                token_endpoint_auth_method: settings.auth_method,
                id_token_signed_response_alg: settings.id_token_alg,
                first_party: settings.first_party.unwrap_or(false),
                backchannel_logout_uri: settings.backchannel_logout_uri,
                ..Default::default()
            };
            let made = c.create_oauth_client(&org, &body).await?;
            remote.print(&made, |m| {
                let t = table(std::slice::from_ref(&m.client));
                match &m.client_secret {
                    Some(secret) => t.row(Vec::new()).row(vec![
                        "CLIENT SECRET (shown once)".to_owned(),
                        secret.clone(),
                    ]),
                    None => t,
                }
            })
        }
        OAuthClients::Update { org, id, settings } => {
            let body = UpdateOAuthClientRequest {
                name: settings.name,
                redirect_uris: given(settings.redirect_uris),
                post_logout_redirect_uris: given(settings.post_logout_redirect_uris),
                grant_types: given(settings.grant_types),
                scopes: given(settings.scopes),
                token_endpoint_auth_method: settings.auth_method,
                id_token_signed_response_alg: settings.id_token_alg,
                first_party: settings.first_party,
                backchannel_logout_uri: settings.backchannel_logout_uri.map(Some),
                ..Default::default()
            };
            let changed = c.update_oauth_client(&org, id, &body).await?;
            remote.print(&changed, |one| table(std::slice::from_ref(one)))
        }
        OAuthClients::RotateSecret { org, id } => {
            let secret = c.rotate_oauth_client_secret(&org, id).await?;
            remote.print(&secret, |s| {
                Table::new(&["CLIENT SECRET (shown once)"]).row(vec![s.client_secret.clone()])
            })
        }
        OAuthClients::Delete { org, id } => {
            c.delete_oauth_client(&org, id).await?;
            remote.done("deleted")
        }
    }
}
