//! Organizations and their policies.

use reqwest::Method;

use crate::{api, Client, Error};

impl Client {
    /// `POST /v1/orgs` (system admin).
    pub async fn create_org(
        &self,
        body: &api::CreateOrgRequest,
    ) -> Result<api::Organization, Error> {
        self.send(self.request(Method::POST, "/v1/orgs").json(body))
            .await
    }

    /// `GET /v1/orgs` (system admin).
    pub async fn list_orgs(
        &self,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<api::OrgList, Error> {
        let mut q: Vec<(&str, String)> = Vec::new();
        if let Some(l) = limit {
            q.push(("limit", l.to_string()));
        }
        if let Some(c) = cursor {
            q.push(("cursor", c.to_owned()));
        }
        self.send(self.request(Method::GET, "/v1/orgs").query(&q))
            .await
    }

    /// `GET /v1/orgs/{slug}`.
    pub async fn get_org(&self, slug: &str) -> Result<api::Organization, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{slug}")))
            .await
    }

    /// `PATCH /v1/orgs/{slug}` (system admin).
    pub async fn update_org(
        &self,
        slug: &str,
        body: &api::UpdateOrgRequest,
    ) -> Result<api::Organization, Error> {
        self.send(
            self.request(Method::PATCH, &format!("/v1/orgs/{slug}"))
                .json(body),
        )
        .await
    }
}
