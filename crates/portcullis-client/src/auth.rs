//! Signing in with a password, refreshing and signing out.

use portcullis_api::{LoginRequest, RefreshRequest, TokenPair};
use reqwest::Method;

use crate::{Client, Error};

impl Client {
    /// `POST /v1/auth/login`.
    pub async fn login(&self, body: &LoginRequest) -> Result<TokenPair, Error> {
        self.send(self.request(Method::POST, "/v1/auth/login").json(body))
            .await
    }

    /// `POST /v1/auth/token/refresh`.
    pub async fn refresh(&self, refresh_token: &str) -> Result<TokenPair, Error> {
        let body = RefreshRequest {
            refresh_token: refresh_token.to_owned(),
        };
        self.send(
            self.request(Method::POST, "/v1/auth/token/refresh")
                .json(&body),
        )
        .await
    }

    /// `POST /v1/auth/logout`.
    pub async fn logout(&self) -> Result<(), Error> {
        self.send_empty(self.request(Method::POST, "/v1/auth/logout"))
            .await
    }

    /// `POST /v1/auth/logout/all`.
    pub async fn logout_all(&self) -> Result<(), Error> {
        self.send_empty(self.request(Method::POST, "/v1/auth/logout/all"))
            .await
    }
}
