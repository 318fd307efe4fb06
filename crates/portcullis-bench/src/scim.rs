//! SCIM's figure: the lookup by `userName` that Okta and Entra ID make before each create
//! (`GET /scim/v2/{slug}/Users?filter=userName eq "..."`), beside the same search on the
//! admin API (`GET /v1/users?query=...`), over the large database, interleaved.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::load;
use crate::stats::Sample;

/// A SCIM token and an admin token, and how many seeded users there are to look up.
pub(crate) struct Lookups {
    scim_url: String,
    scim_token: Arc<str>,
    admin_url: String,
    admin_token: Arc<str>,
    users: usize,
}

impl Lookups {
    /// Makes a SCIM token for `default` with the admin's token.
    pub(crate) async fn new(url: &str, admin_token: &str, users: usize) -> anyhow::Result<Self> {
        let res = crate::http()
            .post(format!("{url}/v1/orgs/default/scim-tokens"))
            .bearer_auth(admin_token)
            .json(&serde_json::json!({"description": "bench"}))
            .send()
            .await?;
        anyhow::ensure!(res.status().is_success(), "scim token: {}", res.status());
        let made: serde_json::Value = res.json().await?;
        Ok(Self {
            scim_url: format!(
                "{}/Users",
                made["scim_base_url"].as_str().context("base url")?
            ),
            scim_token: made["token"].as_str().context("token")?.into(),
            admin_url: format!("{url}/v1/users"),
            admin_token: admin_token.into(),
            users,
        })
    }

    /// SCIM lookups, then admin searches, each from `clients` clients for `d`; a lookup
    /// counts when it finds exactly the one user.
    pub(crate) async fn run(&self, clients: usize, d: Duration) -> (Sample, Sample) {
        let users = self.users;
        let who = move |c: usize, n: u64| {
            format!(
                "bench{}@bench.test",
                (c * 7919 + n as usize * 104_729) % users
            )
        };
        let (http, url, token) = (
            crate::http(),
            self.scim_url.clone(),
            Arc::clone(&self.scim_token),
        );
        let by_scim = load::run(clients, d, move |c, n| {
            let (http, url, token) = (http.clone(), url.clone(), Arc::clone(&token));
            let filter = format!("userName eq \"{}\"", who(c, n));
            async move {
                let res = http
                    .get(&url)
                    .query(&[("filter", filter)])
                    .bearer_auth(&*token)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => r
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|b| b["totalResults"] == 1),
                    _ => false,
                }
            }
        })
        .await;
        let (http, url, token) = (
            crate::http(),
            self.admin_url.clone(),
            Arc::clone(&self.admin_token),
        );
        let by_admin = load::run(clients, d, move |c, n| {
            let (http, url, token) = (http.clone(), url.clone(), Arc::clone(&token));
            let query = who(c, n);
            async move {
                let res = http
                    .get(&url)
                    .query(&[("query", query)])
                    .bearer_auth(&*token)
                    .send()
                    .await;
                match res {
                    Ok(r) if r.status().is_success() => r
                        .json::<serde_json::Value>()
                        .await
                        .is_ok_and(|b| b["items"].as_array().is_some_and(|i| !i.is_empty())),
                    _ => false,
                }
            }
        })
        .await;
        (by_scim, by_admin)
    }
}
