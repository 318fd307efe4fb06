//! SCIM tokens of an organization (admin).

use reqwest::Method;
use uuid::Uuid;

use crate::{api, Client, Error};

impl Client {
    /// `POST /v1/orgs/{slug}/scim-tokens`.
    pub async fn create_scim_token(
        &self,
        org: &str,
        body: &api::CreateScimTokenRequest,
    ) -> Result<api::CreatedScimToken, Error> {
        self.send(
            self.request(Method::POST, &format!("/v1/orgs/{org}/scim-tokens"))
                .json(body),
        )
        .await
    }

    /// `GET /v1/orgs/{slug}/scim-tokens`.
    pub async fn scim_tokens(&self, org: &str) -> Result<api::ScimTokenList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/scim-tokens")))
            .await
    }

    /// `DELETE /v1/orgs/{slug}/scim-tokens/{id}`.
    pub async fn revoke_scim_token(&self, org: &str, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/orgs/{org}/scim-tokens/{id}")))
            .await
    }
}
