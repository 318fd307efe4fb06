//! OAuth clients of an organization (admin).

use reqwest::Method;
use uuid::Uuid;

use crate::{api, Client, Error};

impl Client {
    /// `POST /v1/orgs/{slug}/oauth-clients`.
    pub async fn create_oauth_client(
        &self,
        org: &str,
        body: &api::CreateOAuthClientRequest,
    ) -> Result<api::CreatedOAuthClient, Error> {
        self.send(
            self.request(Method::POST, &format!("/v1/orgs/{org}/oauth-clients"))
                .json(body),
        )
        .await
    }

    /// `GET /v1/orgs/{slug}/oauth-clients`.
    pub async fn oauth_clients(&self, org: &str) -> Result<api::OAuthClientList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/oauth-clients")))
            .await
    }

    /// `GET /v1/orgs/{slug}/oauth-clients/{client_id}`.
    pub async fn oauth_client(&self, org: &str, id: Uuid) -> Result<api::OAuthClient, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/oauth-clients/{id}")))
            .await
    }

    /// `PATCH /v1/orgs/{slug}/oauth-clients/{client_id}`.
    pub async fn update_oauth_client(
        &self,
        org: &str,
        id: Uuid,
        body: &api::UpdateOAuthClientRequest,
    ) -> Result<api::OAuthClient, Error> {
        self.send(
            self.request(Method::PATCH, &format!("/v1/orgs/{org}/oauth-clients/{id}"))
                .json(body),
        )
        .await
    }

    /// `POST /v1/orgs/{slug}/oauth-clients/{client_id}/secret`.
    pub async fn rotate_oauth_client_secret(
        &self,
        org: &str,
        id: Uuid,
    ) -> Result<api::ClientSecret, Error> {
        self.send(self.request(
            Method::POST,
            &format!("/v1/orgs/{org}/oauth-clients/{id}/secret"),
        ))
        .await
    }

    /// `DELETE /v1/orgs/{slug}/oauth-clients/{client_id}`.
    pub async fn delete_oauth_client(&self, org: &str, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(
            Method::DELETE,
            &format!("/v1/orgs/{org}/oauth-clients/{id}"),
        ))
        .await
    }
}
