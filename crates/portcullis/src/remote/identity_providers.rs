//! `identity-providers ...`: an organization's upstream identity providers ("Continue with
//! Google"...), through a running server.

use clap::{Args, Subcommand};
use portcullis_client::api::{IdentityProvider, IdentityProviderRequest};
use uuid::Uuid;

use super::{Remote, Table};

/// A provider's settings on the command line; absent ones are left as they are.
#[derive(Debug, Args, Default)]
pub struct ProviderArgs {
    /// Shown on its button.
    #[arg(long)]
    name: Option<String>,
    /// The client id registered upstream.
    #[arg(long)]
    client_id: Option<String>,
    /// The client secret (Apple: a file with the private key, PEM, as `@path`).
    #[arg(long)]
    client_secret: Option<String>,
    /// The issuer (OpenID kinds); discovery is at its `/.well-known/openid-configuration`.
    #[arg(long)]
    issuer: Option<String>,
    /// The discovery document, when elsewhere.
    #[arg(long)]
    discovery_url: Option<String>,
    /// A scope to ask for (repeatable; replaces the list).
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Whether a first sign-in makes an account.
    #[arg(long)]
    allow_signup: Option<bool>,
    /// Whether a sign-in may link to an existing account with the same address.
    #[arg(long)]
    allow_linking: Option<bool>,
    /// Whether a second factor the upstream proved counts here.
    #[arg(long)]
    trust_mfa: Option<bool>,
    /// Whether the upstream's refresh token is kept for the user.
    #[arg(long)]
    keep_refresh_token: Option<bool>,
    /// Microsoft: the tenant (`common`, `organizations`, `consumers`, or an id).
    #[arg(long)]
    tenant: Option<String>,
    /// Apple: the team id.
    #[arg(long)]
    team_id: Option<String>,
    /// Apple: the private key's id.
    #[arg(long)]
    key_id: Option<String>,
    /// GitHub Enterprise: the API's base URL (or another userinfo endpoint).
    #[arg(long)]
    userinfo_endpoint: Option<String>,
    /// Turn it on (true) or off (false).
    #[arg(long)]
    enabled: Option<bool>,
}

impl ProviderArgs {
    fn request(self, kind: Option<String>) -> anyhow::Result<IdentityProviderRequest> {
        let client_secret = match self.client_secret {
            Some(s) if s.starts_with('@') => Some(std::fs::read_to_string(&s[1..])?),
            other => other,
        };
        Ok(IdentityProviderRequest {
            kind,
            name: self.name,
            enabled: self.enabled,
            client_id: self.client_id,
            client_secret,
            issuer: self.issuer,
            discovery_url: self.discovery_url,
            userinfo_endpoint: self.userinfo_endpoint,
            scopes: (!self.scopes.is_empty()).then_some(self.scopes),
            allow_signup: self.allow_signup,
            allow_linking: self.allow_linking,
            trust_mfa: self.trust_mfa,
            keep_refresh_token: self.keep_refresh_token,
            tenant: self.tenant,
            team_id: self.team_id,
            key_id: self.key_id,
            ..IdentityProviderRequest::default()
        })
    }
}

/// `identity-providers ...`.
#[derive(Debug, Subcommand)]
pub enum IdentityProviders {
    /// List an organization's providers.
    List { org: String },
    /// Show one provider.
    Get { org: String, id: Uuid },
    /// Add a provider: `oidc`, `google`, `microsoft`, `github`, `gitlab` or `apple`. The
    /// answer's redirect URI is the callback to register upstream.
    Create {
        org: String,
        kind: String,
        #[command(flatten)]
        settings: ProviderArgs,
    },
    /// Change a provider.
    Update {
        org: String,
        id: Uuid,
        #[command(flatten)]
        settings: ProviderArgs,
    },
    /// Delete a provider (the identities linked through it go too).
    Delete { org: String, id: Uuid },
}

fn table(list: &[IdentityProvider]) -> Table {
    list.iter().fold(
        Table::new(&[
            "ID",
            "KIND",
            "NAME",
            "ENABLED",
            "SIGN-UP",
            "LINKING",
            "REDIRECT URI",
        ]),
        |t, p| {
            t.row(vec![
                p.id.to_string(),
                p.kind.clone(),
                p.name.clone(),
                p.enabled.to_string(),
                p.allow_signup.to_string(),
                p.allow_linking.to_string(),
                p.redirect_uri.clone(),
            ])
        },
    )
}

/// Runs an `identity-providers` command.
pub async fn identity_providers(remote: &Remote, cmd: IdentityProviders) -> anyhow::Result<()> {
    let c = remote.client().await?;
    match cmd {
        IdentityProviders::List { org } => {
            remote.print(&c.identity_providers(&org).await?.items, |l| table(l))
        }
        IdentityProviders::Get { org, id } => remote
            .print(&c.identity_provider(&org, id).await?, |one| {
                table(std::slice::from_ref(one))
            }),
        IdentityProviders::Create {
            org,
            kind,
            settings,
        } => {
            let made = c
                .create_identity_provider(&org, &settings.request(Some(kind))?)
                .await?;
            remote.print(&made, |one| table(std::slice::from_ref(one)))
        }
        IdentityProviders::Update { org, id, settings } => {
            let changed = c
                .update_identity_provider(&org, id, &settings.request(None)?)
                .await?;
            remote.print(&changed, |one| table(std::slice::from_ref(one)))
        }
        IdentityProviders::Delete { org, id } => {
            c.delete_identity_provider(&org, id).await?;
            remote.done("deleted")
        }
    }
}
