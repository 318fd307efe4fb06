//! `webhooks ...` and `hooks ...`: an organization's webhook endpoints (and their deliveries)
//! and hooks, through a running server.

use clap::Subcommand;
use portcullis_client::api::{
    CreateWebhookRequest, Hook, SetHookRequest, UpdateWebhookRequest, Webhook, WebhookDelivery,
    WebhookSecret,
};
use uuid::Uuid;

use super::{Remote, Table};

/// `webhooks ...`.
#[derive(Debug, Subcommand)]
pub enum Webhooks {
    /// List an organization's endpoints.
    List { org: String },
    /// Show one endpoint.
    Get { org: String, id: Uuid },
    /// Add an endpoint; its secret (`whsec_...`) is shown this once.
    Create {
        org: String,
        /// Where events are posted (`--url` is the server's).
        #[arg(long)]
        endpoint: String,
        /// An event type it wants, such as `user.registered` (repeatable; none: every type).
        #[arg(long = "event-type")]
        event_types: Vec<String>,
        /// Add it turned off.
        #[arg(long)]
        disabled: bool,
    },
    /// Change an endpoint.
    Update {
        org: String,
        id: Uuid,
        /// Where events are posted.
        #[arg(long)]
        endpoint: Option<String>,
        /// An event type (repeatable; replaces the list).
        #[arg(long = "event-type")]
        event_types: Vec<String>,
        /// Every event type again.
        #[arg(long, conflicts_with = "event_types")]
        all_events: bool,
        /// Turn it on (true) or off (false).
        #[arg(long)]
        enabled: Option<bool>,
    },
    /// Give an endpoint a new secret (shown this once).
    RotateSecret { org: String, id: Uuid },
    /// Send it a `webhook.test` event.
    Test { org: String, id: Uuid },
    /// Its recent deliveries, newest first.
    Deliveries {
        org: String,
        id: Uuid,
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Send a delivery again (same `webhook-id`).
    Redeliver {
        org: String,
        id: Uuid,
        event_id: Uuid,
    },
    /// Delete an endpoint.
    Delete { org: String, id: Uuid },
}

/// `hooks ...`.
#[derive(Debug, Subcommand)]
pub enum Hooks {
    /// List an organization's hooks.
    List { org: String },
    /// Set a hook (`before_user_created`, `custom_access_token_claims`); a new hook's secret
    /// is shown this once.
    Set {
        org: String,
        name: String,
        /// Where it is called (required when new; `--url` is the server's).
        #[arg(long)]
        endpoint: Option<String>,
        /// Time budget, milliseconds (100 to 10000; default 2000).
        #[arg(long)]
        timeout_ms: Option<u32>,
        /// `open` (go on without it) or `closed` (refuse the request) when it fails.
        #[arg(long)]
        on_failure: Option<String>,
        /// Turn it on (true) or off (false).
        #[arg(long)]
        enabled: Option<bool>,
    },
    /// Give a hook a new secret (shown this once).
    RotateSecret { org: String, name: String },
    /// Remove a hook.
    Delete { org: String, name: String },
}

fn table(endpoints: &[Webhook]) -> Table {
    endpoints.iter().fold(
        Table::new(&["ID", "URL", "EVENT TYPES", "ENABLED", "FAILING SINCE"]),
        |t, w| {
            t.row(vec![
                w.id.to_string(),
                w.url.clone(),
                if w.event_types.is_empty() {
                    "(all)".to_owned()
                } else {
                    w.event_types.join(",")
                },
                w.enabled.to_string(),
                w.failing_since.map(|t| t.to_rfc3339()).unwrap_or_default(),
            ])
        },
    )
}

fn deliveries(list: &[WebhookDelivery]) -> Table {
    list.iter().fold(
        Table::new(&[
            "EVENT ID",
            "TYPE",
            "STATUS",
            "ATTEMPTS",
            "CODE",
            "MS",
            "NEXT ATTEMPT",
        ]),
        |t, d| {
            t.row(vec![
                d.event_id.to_string(),
                d.event_type.clone(),
                d.status.clone(),
                d.attempts.to_string(),
                d.response_status.map(|c| c.to_string()).unwrap_or_default(),
                d.latency_ms.map(|c| c.to_string()).unwrap_or_default(),
                d.next_attempt_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
            ])
        },
    )
}

fn hooks(list: &[Hook]) -> Table {
    list.iter().fold(
        Table::new(&["NAME", "URL", "TIMEOUT MS", "ON FAILURE", "ENABLED"]),
        |t, h| {
            t.row(vec![
                h.name.clone(),
                h.url.clone(),
                h.timeout_ms.to_string(),
                h.on_failure.clone(),
                h.enabled.to_string(),
            ])
        },
    )
}

/// A rotated secret, and until when the old one signs beside it.
fn rotated_table(s: &WebhookSecret) -> Table {
    Table::new(&["SECRET (shown once)", "OLD SECRET SIGNS UNTIL"]).row(vec![
        s.secret.clone(),
        s.previous_secret_expires_at.to_rfc3339(),
    ])
}

/// Runs a `webhooks` command.
pub async fn webhooks(remote: &Remote, cmd: Webhooks) -> anyhow::Result<()> {
    let c = remote.client().await?;
    match cmd {
        Webhooks::List { org } => remote.print(&c.webhooks(&org).await?.items, |l| table(l)),
        Webhooks::Get { org, id } => remote.print(&c.webhook(&org, id).await?, |one| {
            table(std::slice::from_ref(one))
        }),
        Webhooks::Create {
            org,
            endpoint,
            event_types,
            disabled,
        } => {
            let body = CreateWebhookRequest {
                url: endpoint,
                event_types,
                enabled: Some(!disabled),
            };
            let made = c.create_webhook(&org, &body).await?;
            remote.print(&made, |m| {
                table(std::slice::from_ref(&m.webhook))
                    .row(Vec::new())
                    .row(vec!["SECRET (shown once)".to_owned(), m.secret.clone()])
            })
        }
        Webhooks::Update {
            org,
            id,
            endpoint,
            event_types,
            all_events,
            enabled,
        } => {
            let body = UpdateWebhookRequest {
                url: endpoint,
                event_types: if all_events {
                    Some(Vec::new())
                } else {
                    (!event_types.is_empty()).then_some(event_types)
                },
                enabled,
            };
            let changed = c.update_webhook(&org, id, &body).await?;
            remote.print(&changed, |one| table(std::slice::from_ref(one)))
        }
        Webhooks::RotateSecret { org, id } => {
            let s = c.rotate_webhook_secret(&org, id).await?;
            remote.print(&s, rotated_table)
        }
        Webhooks::Test { org, id } => {
            let d = c.test_webhook(&org, id).await?;
            remote.print(&d, |d| deliveries(std::slice::from_ref(d)))
        }
        Webhooks::Deliveries { org, id, limit } => {
            let list = c.webhook_deliveries(&org, id, Some(limit)).await?.items;
            remote.print(&list, |l| deliveries(l))
        }
        Webhooks::Redeliver { org, id, event_id } => {
            c.redeliver(&org, id, event_id).await?;
            remote.done("queued")
        }
        Webhooks::Delete { org, id } => {
            c.delete_webhook(&org, id).await?;
            remote.done("deleted")
        }
    }
}

/// Runs a `hooks` command.
pub async fn hooks_command(remote: &Remote, cmd: Hooks) -> anyhow::Result<()> {
    let c = remote.client().await?;
    match cmd {
        Hooks::List { org } => remote.print(&c.hooks(&org).await?.items, |l| hooks(l)),
        Hooks::Set {
            org,
            name,
            endpoint,
            timeout_ms,
            on_failure,
            enabled,
        } => {
            let body = SetHookRequest {
                url: endpoint,
                timeout_ms,
                on_failure,
                enabled,
            };
            let set = c.set_hook(&org, &name, &body).await?;
            remote.print(&set, |s| {
                let t = hooks(std::slice::from_ref(&s.hook));
                match &s.secret {
                    Some(secret) => t
                        .row(Vec::new())
                        .row(vec!["SECRET (shown once)".to_owned(), secret.clone()]),
                    None => t,
                }
            })
        }
        Hooks::RotateSecret { org, name } => {
            let s = c.rotate_hook_secret(&org, &name).await?;
            remote.print(&s, rotated_table)
        }
        Hooks::Delete { org, name } => {
            c.delete_hook(&org, &name).await?;
            remote.done("deleted")
        }
    }
}
