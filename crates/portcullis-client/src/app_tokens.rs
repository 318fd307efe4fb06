//! Application tokens: long-lived secrets exchanged for access tokens.

use reqwest::Method;
use uuid::Uuid;

use crate::{api, Client, Error};

impl Client {
    /// `POST /v1/users/me/app-tokens`.
    pub async fn create_app_token(
        &self,
        body: &api::CreateAppTokenRequest,
    ) -> Result<api::CreatedAppToken, Error> {
        self.send(
            self.request(Method::POST, "/v1/users/me/app-tokens")
                .json(body),
        )
        .await
    }

    /// `GET /v1/users/me/app-tokens`.
    pub async fn app_tokens(&self) -> Result<api::AppTokenList, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/app-tokens"))
            .await
    }

    /// `DELETE /v1/users/me/app-tokens/{id}`.
    pub async fn delete_app_token(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/me/app-tokens/{id}")))
            .await
    }

    /// `GET /v1/users/{id}/app-tokens` (admin).
    pub async fn user_app_tokens(&self, user: Uuid) -> Result<api::AppTokenList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/users/{user}/app-tokens")))
            .await
    }

    /// `DELETE /v1/users/{id}/app-tokens/{token_id}` (admin).
    pub async fn delete_user_app_token(&self, user: Uuid, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/{user}/app-tokens/{id}")))
            .await
    }

    /// `POST /v1/auth/app-token`: an application token for an access token.
    pub async fn exchange_app_token(&self, token: &str) -> Result<api::AccessToken, Error> {
        let body = api::AppTokenExchange {
            token: token.to_owned(),
        };
        self.send(self.request(Method::POST, "/v1/auth/app-token").json(&body))
            .await
    }
}
