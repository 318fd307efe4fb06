//! What the server publishes about itself: keys, discovery, health, metrics, the OpenAPI document.

use portcullis_api::{Health, Jwks, OpenIdConfiguration};
use reqwest::Method;

use crate::{check, Client, Error};

impl Client {
    /// `GET /.well-known/jwks.json`.
    pub async fn jwks(&self) -> Result<Jwks, Error> {
        self.send(self.request(Method::GET, "/.well-known/jwks.json"))
            .await
    }

    /// `GET /.well-known/openid-configuration`.
    pub async fn openid_configuration(&self) -> Result<OpenIdConfiguration, Error> {
        self.send(self.request(Method::GET, "/.well-known/openid-configuration"))
            .await
    }

    /// `GET /healthz`.
    pub async fn healthz(&self) -> Result<Health, Error> {
        self.send(self.request(Method::GET, "/healthz")).await
    }

    /// `GET /readyz`.
    pub async fn readyz(&self) -> Result<Health, Error> {
        self.send(self.request(Method::GET, "/readyz")).await
    }

    /// `GET /metrics`, as text.
    pub async fn metrics(&self) -> Result<String, Error> {
        Ok(
            check(self.execute(self.request(Method::GET, "/metrics")).await?)
                .await?
                .text()
                .await?,
        )
    }

    /// `GET /v1/openapi.json`.
    pub async fn openapi(&self) -> Result<serde_json::Value, Error> {
        self.send(self.request(Method::GET, "/v1/openapi.json"))
            .await
    }
}
