//! `scim-tokens ...`: the tokens an organization's identity provider provisions its users
//! with over SCIM, through a running server.

use clap::Subcommand;
use portcullis_client::api::{CreateScimTokenRequest, ScimToken};
use uuid::Uuid;

use super::{Remote, Table};

/// What to do with SCIM tokens.
#[derive(Debug, Subcommand)]
pub enum ScimTokens {
    /// An organization's tokens (never their secrets).
    List {
        /// The organization's slug.
        org: String,
    },
    /// Make a token; its secret and the SCIM base URL are shown this once.
    Create {
        /// The organization's slug.
        org: String,
        /// What it is for, e.g. the identity provider.
        #[arg(long)]
        description: String,
    },
    /// Revoke a token: refused from the next request on.
    Revoke {
        /// The organization's slug.
        org: String,
        /// The token's id.
        id: Uuid,
    },
}

fn table(tokens: &[ScimToken]) -> Table {
    let mut t = Table::new(&["ID", "DESCRIPTION", "PREFIX", "CREATED", "LAST USED"]);
    for s in tokens {
        t = t.row(vec![
            s.id.to_string(),
            s.description.clone(),
            s.prefix.clone(),
            s.created_at.to_rfc3339(),
            s.last_used_at.map(|at| at.to_rfc3339()).unwrap_or_default(),
        ]);
    }
    t
}

/// Runs a `scim-tokens` command.
pub async fn scim_tokens(remote: &Remote, cmd: ScimTokens) -> anyhow::Result<()> {
    let c = remote.client().await?;
    match cmd {
        ScimTokens::List { org } => {
            let list = c.scim_tokens(&org).await?.items;
            remote.print(&list, |l| table(l))
        }
        ScimTokens::Create { org, description } => {
            let made = c
                .create_scim_token(&org, &CreateScimTokenRequest { description })
                .await?;
            remote.print(&made, |m| {
                Table::new(&["ID", "TOKEN (shown once)", "SCIM BASE URL"]).row(vec![
                    m.details.id.to_string(),
                    m.token.clone(),
                    m.scim_base_url.clone(),
                ])
            })
        }
        ScimTokens::Revoke { org, id } => {
            c.revoke_scim_token(&org, id).await?;
            remote.done("revoked")
        }
    }
}
