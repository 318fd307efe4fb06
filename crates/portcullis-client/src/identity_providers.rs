//! Upstream identity providers of an organization (admin), and the caller's linked
//! identities.

use reqwest::Method;
use uuid::Uuid;

use crate::{api, Client, Error};

impl Client {
    /// `POST /v1/orgs/{slug}/identity-providers`.
    pub async fn create_identity_provider(
        &self,
        org: &str,
        body: &api::IdentityProviderRequest,
    ) -> Result<api::IdentityProvider, Error> {
        self.send(
            self.request(Method::POST, &format!("/v1/orgs/{org}/identity-providers"))
                .json(body),
        )
        .await
    }

    /// `GET /v1/orgs/{slug}/identity-providers`.
    pub async fn identity_providers(&self, org: &str) -> Result<api::IdentityProviderList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/identity-providers")))
            .await
    }

    /// `GET /v1/orgs/{slug}/identity-providers/{id}`.
    pub async fn identity_provider(
        &self,
        org: &str,
        id: Uuid,
    ) -> Result<api::IdentityProvider, Error> {
        self.send(self.request(
            Method::GET,
            &format!("/v1/orgs/{org}/identity-providers/{id}"),
        ))
        .await
    }

    /// `PATCH /v1/orgs/{slug}/identity-providers/{id}`.
    pub async fn update_identity_provider(
        &self,
        org: &str,
        id: Uuid,
        body: &api::IdentityProviderRequest,
    ) -> Result<api::IdentityProvider, Error> {
        self.send(
            self.request(
                Method::PATCH,
                &format!("/v1/orgs/{org}/identity-providers/{id}"),
            )
            .json(body),
        )
        .await
    }

    /// `DELETE /v1/orgs/{slug}/identity-providers/{id}`.
    pub async fn delete_identity_provider(&self, org: &str, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(
            Method::DELETE,
            &format!("/v1/orgs/{org}/identity-providers/{id}"),
        ))
        .await
    }

    /// `GET /v1/users/me/identities`.
    pub async fn my_identities(&self) -> Result<api::LinkedIdentityList, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/identities"))
            .await
    }

    /// `DELETE /v1/users/me/identities/{id}`.
    pub async fn unlink_identity(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/me/identities/{id}")))
            .await
    }

    /// `GET /v1/users/me/identities/{id}/refresh-token`.
    pub async fn identity_refresh_token(
        &self,
        id: Uuid,
    ) -> Result<api::UpstreamRefreshToken, Error> {
        self.send(self.request(
            Method::GET,
            &format!("/v1/users/me/identities/{id}/refresh-token"),
        ))
        .await
    }
}
