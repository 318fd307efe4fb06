//! CLI commands that talk to a running server through `portcullis-client`, with an admin's
//! access token or an application token (`--url`/`--token`, or `PORTCULLIS_URL` and
//! `PORTCULLIS_TOKEN`). Output is a table, or JSON with `--json`.

mod identity_providers;
mod oauth_clients;
mod scim_tokens;
mod webhooks;

use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use portcullis_client::api::{
    CreateLicenseRequest, CreateOrgRequest, CreateUserRequest, RegisterRequest, UpdateOrgRequest,
    UpdateUserRequest,
};
use portcullis_client::{AuditQuery, Client, UserQuery};
use serde::Serialize;
use uuid::Uuid;

pub use identity_providers::{identity_providers, IdentityProviders, ProviderArgs};
pub use oauth_clients::{oauth_clients, OAuthClients, Settings as OAuthClientSettings};
pub use scim_tokens::{scim_tokens, ScimTokens};
pub use webhooks::{hooks_command, webhooks, Hooks, Webhooks};

/// Where the server is and who is calling.
#[derive(Debug, Args)]
pub struct Remote {
    /// The server's base URL.
    #[arg(
        long,
        env = "PORTCULLIS_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    url: String,
    /// An admin's access token, or an application token of an admin (exchanged first).
    #[arg(long, env = "PORTCULLIS_TOKEN", global = true, hide_env_values = true)]
    token: Option<String>,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    json: bool,
}

/// `users ...`.
#[derive(Debug, Subcommand)]
pub enum Users {
    /// List users (newest first).
    List {
        /// Part of an email, phone, username or name.
        #[arg(long)]
        query: Option<String>,
        /// Only holders of this role.
        #[arg(long)]
        role: Option<String>,
        /// Only active (true) or deactivated (false) users.
        #[arg(long)]
        active: Option<bool>,
        /// At most this many (all pages are followed up to it).
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
    /// Show one user.
    Get { id: Uuid },
    /// Create a user.
    Create {
        #[command(flatten)]
        profile: ProfileArgs,
        #[arg(long)]
        password: Option<String>,
        /// In this organization (system admins); default: the admin's own.
        #[arg(long)]
        organization: Option<String>,
        /// Roles beyond `user` (repeat the flag).
        #[arg(long = "role")]
        roles: Vec<String>,
        /// Mark the email and phone as verified.
        #[arg(long)]
        verified: bool,
    },
    /// Change a user's profile or status.
    Update {
        id: Uuid,
        #[command(flatten)]
        profile: ProfileArgs,
        /// `false` deactivates (and ends every session), `true` reactivates.
        #[arg(long)]
        active: Option<bool>,
    },
    /// Delete a user and all their data.
    Delete { id: Uuid },
    /// Replace a user's roles (`user` is always kept).
    Roles { id: Uuid, roles: Vec<String> },
    /// End every session of a user.
    RevokeSessions { id: Uuid },
    /// Turn every second factor of a user off.
    ResetMfa { id: Uuid },
}

/// The profile fields of `users create` and `users update`.
#[derive(Debug, Args)]
pub struct ProfileArgs {
    #[arg(long)]
    email: Option<String>,
    #[arg(long)]
    phone: Option<String>,
    #[arg(long)]
    username: Option<String>,
    #[arg(long)]
    first_name: Option<String>,
    #[arg(long)]
    last_name: Option<String>,
}

/// `orgs ...` (system admin).
#[derive(Debug, Subcommand)]
pub enum Orgs {
    /// List organizations.
    List,
    /// Show one organization and its policy.
    Get { slug: String },
    /// Create an organization.
    Create {
        slug: String,
        name: String,
        /// Policy fields as a JSON object, such as '{"allow_anonymous": true}'.
        #[arg(long)]
        policy: Option<String>,
    },
    /// Change an organization's name or policy fields.
    Update {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        /// Policy fields to change, as a JSON object.
        #[arg(long)]
        policy: Option<String>,
    },
}

/// `licenses ...`.
#[derive(Debug, Subcommand)]
pub enum Licenses {
    /// List an organization's licenses.
    List { org: String },
    /// Create a license; its key is shown this once.
    Create {
        org: String,
        #[arg(long)]
        max_devices: Option<u32>,
        /// RFC 3339 end of validity.
        #[arg(long)]
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    },
    /// Revoke a license (its devices' sessions end).
    Delete { org: String, id: Uuid },
}

/// `audit ...`.
#[derive(Debug, Subcommand)]
pub enum Audit {
    /// Print recent events, oldest first, then keep printing new ones as they happen.
    Tail {
        /// Only events of this type, such as `login.failed`.
        #[arg(long = "type")]
        kind: Option<String>,
        /// Only events about this user.
        #[arg(long)]
        user: Option<Uuid>,
        /// Events shown before following.
        #[arg(long, default_value_t = 20)]
        last: usize,
        /// Print the recent events and stop instead of following.
        #[arg(long)]
        no_follow: bool,
        /// Seconds between polls while following.
        #[arg(long, default_value_t = 1.0)]
        interval: f64,
    },
}

impl Remote {
    async fn client(&self) -> anyhow::Result<Client> {
        let token = self
            .token
            .as_deref()
            .context("no token: pass --token or set PORTCULLIS_TOKEN to an admin's access token or application token")?;
        let client = Client::new(&self.url);
        // Application tokens (pct_...) are exchanged for an access token first.
        if token.starts_with("pct_") {
            let access = client
                .exchange_app_token(token)
                .await
                .context("exchanging the application token")?;
            return Ok(client.with_token(&access.access_token));
        }
        Ok(client.with_token(token))
    }

    fn print<T: Serialize>(
        &self,
        value: &T,
        table: impl FnOnce(&T) -> Table,
    ) -> anyhow::Result<()> {
        if self.json {
            println!("{}", serde_json::to_string_pretty(value)?);
        } else {
            print!("{}", table(value));
        }
        Ok(())
    }

    fn done(&self, what: &str) -> anyhow::Result<()> {
        self.print(&serde_json::json!({"status": what}), |_| Table::line(what))
    }
}

/// A plain text table with aligned columns.
pub(crate) struct Table {
    head: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(head: &[&'static str]) -> Self {
        Self {
            head: head.to_vec(),
            rows: Vec::new(),
        }
    }

    fn line(text: &str) -> Self {
        let mut t = Self::new(&[]);
        t.rows.push(vec![text.to_owned()]);
        t
    }

    fn row(mut self, cells: Vec<String>) -> Self {
        self.rows.push(cells);
        self
    }
}

impl std::fmt::Display for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cols = self
            .head
            .len()
            .max(self.rows.iter().map(Vec::len).max().unwrap_or(0));
        let mut width = vec![0usize; cols];
        let head: Vec<String> = self.head.iter().map(|h| (*h).to_owned()).collect();
        for r in std::iter::once(&head).chain(&self.rows) {
            for (i, c) in r.iter().enumerate() {
                width[i] = width[i].max(c.chars().count());
            }
        }
        for r in std::iter::once(&head)
            .filter(|h| !h.is_empty())
            .chain(&self.rows)
        {
            let cells: Vec<String> = r
                .iter()
                .enumerate()
                .map(|(i, c)| format!("{c:<w$}", w = width[i]))
                .collect();
            writeln!(f, "{}", cells.join("  ").trim_end())?;
        }
        Ok(())
    }
}

fn opt(v: Option<&str>) -> String {
    v.unwrap_or("-").to_owned()
}

fn users_table(users: &[portcullis_client::api::User]) -> Table {
    users.iter().fold(
        Table::new(&[
            "ID", "ORG", "EMAIL", "PHONE", "USERNAME", "ROLES", "ACTIVE", "MFA", "CREATED",
        ]),
        |t, u| {
            t.row(vec![
                u.id.to_string(),
                u.organization.clone(),
                opt(u.email.as_deref()),
                opt(u.phone.as_deref()),
                opt(u.username.as_deref()),
                u.roles
                    .iter()
                    .map(|r| r.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                u.active.to_string(),
                u.mfa_enabled.to_string(),
                u.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ])
        },
    )
}

fn policy(text: Option<&str>) -> anyhow::Result<Option<serde_json::Value>> {
    text.map(|t| serde_json::from_str(t).context("--policy must be a JSON object"))
        .transpose()
}

/// Runs a `users` command.
pub async fn users(remote: &Remote, cmd: Users) -> anyhow::Result<()> {
    let c = remote.client().await?;
    match cmd {
        Users::List {
            query,
            role,
            active,
            limit,
        } => {
            let mut all = Vec::new();
            let mut cursor = None;
            while all.len() < limit {
                let page = c
                    .list_users(&UserQuery {
                        query: query.clone(),
                        role: role.clone(),
                        active,
                        limit: Some((limit - all.len()).min(200)),
                        cursor: cursor.take(),
                    })
                    .await?;
                all.extend(page.items);
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            remote.print(&all, |u| users_table(u))
        }
        Users::Get { id } => remote.print(&c.get_user(id).await?, |u| {
            users_table(std::slice::from_ref(u))
        }),
        Users::Create {
            profile: p,
            password,
            organization,
            roles,
            verified,
        } => {
            let body = CreateUserRequest {
                account: RegisterRequest {
                    email: p.email,
                    password,
                    phone: p.phone,
                    username: p.username,
                    first_name: p.first_name,
                    last_name: p.last_name,
                    organization,
                    ..Default::default()
                },
                roles,
                verified,
            };
            remote.print(&c.create_user(&body).await?, |u| {
                users_table(std::slice::from_ref(u))
            })
        }
        Users::Update {
            id,
            profile: p,
            active,
        } => {
            let body = UpdateUserRequest {
                email: p.email.map(Some),
                phone: p.phone.map(Some),
                username: p.username.map(Some),
                first_name: p.first_name.map(Some),
                last_name: p.last_name.map(Some),
                active,
                ..Default::default()
            };
            remote.print(&c.update_user(id, &body).await?, |u| {
                users_table(std::slice::from_ref(u))
            })
        }
        Users::Delete { id } => {
            c.delete_user(id).await?;
            remote.done("deleted")
        }
        Users::Roles { id, roles } => {
            let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
            let set = c.set_roles(id, &roles).await?;
            remote.print(&set, |r| {
                r.roles
                    .iter()
                    .fold(Table::new(&["ROLE", "ADDED"]), |t, role| {
                        t.row(vec![
                            role.name.clone(),
                            role.added_at
                                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                        ])
                    })
            })
        }
        Users::RevokeSessions { id } => {
            c.revoke_sessions(id).await?;
            remote.done("sessions revoked")
        }
        Users::ResetMfa { id } => {
            c.reset_user_mfa(id).await?;
            remote.done("second factors off")
        }
    }
}

fn orgs_table(orgs: &[portcullis_client::api::Organization]) -> Table {
    orgs.iter()
        .fold(Table::new(&["SLUG", "NAME", "ID", "CREATED"]), |t, o| {
            t.row(vec![
                o.slug.clone(),
                o.name.clone(),
                o.id.to_string(),
                o.created_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ])
        })
}

/// Runs an `orgs` command.
pub async fn orgs(remote: &Remote, cmd: Orgs) -> anyhow::Result<()> {
    let c = remote.client().await?;
    match cmd {
        Orgs::List => {
            let mut all = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let page = c.list_orgs(Some(200), cursor.as_deref()).await?;
                all.extend(page.items);
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
            remote.print(&all, |o| orgs_table(o))
        }
        Orgs::Get { slug } => {
            let org = c.get_org(&slug).await?;
            remote.print(&org, |o| {
                let policy = serde_json::to_value(&o.policy).unwrap_or_default();
                let mut t = orgs_table(std::slice::from_ref(o)).row(Vec::new());
                if let Some(fields) = policy.as_object() {
                    for (k, v) in fields {
                        t = t.row(vec![format!("policy.{k}"), v.to_string()]);
                    }
                }
                t
            })
        }
        Orgs::Create {
            slug,
            name,
            policy: p,
        } => {
            let body = CreateOrgRequest {
                slug,
                name,
                policy: policy(p.as_deref())?,
            };
            remote.print(&c.create_org(&body).await?, |o| {
                orgs_table(std::slice::from_ref(o))
            })
        }
        Orgs::Update {
            slug,
            name,
            policy: p,
        } => {
            let body = UpdateOrgRequest {
                name,
                policy: policy(p.as_deref())?,
            };
            remote.print(&c.update_org(&slug, &body).await?, |o| {
                orgs_table(std::slice::from_ref(o))
            })
        }
    }
}

/// Runs a `licenses` command.
pub async fn licenses(remote: &Remote, cmd: Licenses) -> anyhow::Result<()> {
    let c = remote.client().await?;
    let table = |ls: &[portcullis_client::api::License]| {
        ls.iter().fold(
            Table::new(&["ID", "PREFIX", "DEVICES", "MAX", "EXPIRES", "CREATED"]),
            |t, l| {
                t.row(vec![
                    l.id.to_string(),
                    l.prefix.clone(),
                    l.device_count.to_string(),
                    l.max_devices.map_or("-".to_owned(), |m| m.to_string()),
                    l.expires_at.map_or("-".to_owned(), |e| e.to_rfc3339()),
                    l.created_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                ])
            },
        )
    };
    match cmd {
        Licenses::List { org } => remote.print(&c.licenses(&org).await?.items, |l| table(l)),
        Licenses::Create {
            org,
            max_devices,
            expires_at,
        } => {
            let made = c
                .create_license(
                    &org,
                    &CreateLicenseRequest {
                        max_devices,
                        expires_at,
                    },
                )
                .await?;
            remote.print(&made, |m| {
                table(std::slice::from_ref(&m.details))
                    .row(Vec::new())
                    .row(vec![
                        "LICENSE KEY (shown once)".to_owned(),
                        m.license_key.clone(),
                    ])
            })
        }
        Licenses::Delete { org, id } => {
            c.delete_license(&org, id).await?;
            remote.done("revoked")
        }
    }
}

/// Runs an `audit` command.
pub async fn audit(remote: &Remote, cmd: Audit) -> anyhow::Result<()> {
    let Audit::Tail {
        kind,
        user,
        last,
        no_follow,
        interval,
    } = cmd;
    let c = remote.client().await?;
    let query = |limit: usize| AuditQuery {
        user_id: user,
        kind: kind.clone(),
        limit: Some(limit.clamp(1, 200)),
        ..Default::default()
    };
    let show = |e: &portcullis_client::api::AuditEvent| -> anyhow::Result<()> {
        if remote.json {
            println!("{}", serde_json::to_string(e)?);
        } else {
            println!(
                "{}  {:<28} user={} actor={} ip={} {}",
                e.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                e.kind,
                e.user_id.map_or("-".to_owned(), |u| u.to_string()),
                e.actor_id.map_or("-".to_owned(), |u| u.to_string()),
                e.ip.as_deref().unwrap_or("-"),
                e.details
            );
        }
        Ok(())
    };
    // Newest first from the server; printed oldest first. Ids are time-ordered (UUIDv7),
    // so "newer than the last shown" is "greater id".
    let mut recent = c.audit_events(&query(last)).await?.items;
    recent.reverse();
    let mut newest = recent.last().map(|e| e.id);
    for e in &recent {
        show(e)?;
    }
    if no_follow {
        return Ok(());
    }
    loop {
        tokio::time::sleep(Duration::from_secs_f64(interval.max(0.1))).await;
        let mut fresh: Vec<_> = c
            .audit_events(&query(200))
            .await?
            .items
            .into_iter()
            .filter(|e| newest.is_none_or(|n| e.id > n))
            .collect();
        fresh.reverse();
        for e in &fresh {
            show(e)?;
        }
        if let Some(e) = fresh.last() {
            newest = Some(e.id);
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
    }
}
