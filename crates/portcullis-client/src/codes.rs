//! Codes by email or SMS: verifying addresses, signing in without a password, resetting a password.

use portcullis_api::TokenPair;
use reqwest::Method;
use uuid::Uuid;

use crate::{api, Client, Error};

impl Client {
    /// `POST /v1/auth/verify`: proves an address with the code sent to it.
    pub async fn verify(&self, body: &api::CodeSubmission) -> Result<(), Error> {
        self.send_empty(self.request(Method::POST, "/v1/auth/verify").json(body))
            .await
    }

    /// `POST /v1/auth/verify/resend`.
    pub async fn resend_verification(&self, body: &api::CodeRequest) -> Result<api::Sent, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/verify/resend")
                .json(body),
        )
        .await
    }

    /// `POST /v1/auth/code/request`: a passwordless sign-in code.
    pub async fn request_login_code(&self, body: &api::CodeRequest) -> Result<api::Sent, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/code/request")
                .json(body),
        )
        .await
    }

    /// `POST /v1/auth/code/login`.
    pub async fn login_with_code(&self, body: &api::CodeSubmission) -> Result<TokenPair, Error> {
        self.send(self.request(Method::POST, "/v1/auth/code/login").json(body))
            .await
    }

    /// `POST /v1/auth/password/forgot`.
    pub async fn forgot_password(&self, body: &api::CodeRequest) -> Result<api::Sent, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/password/forgot")
                .json(body),
        )
        .await
    }

    /// `POST /v1/auth/password/verify`: checks a reset code or link token without using it.
    pub async fn check_reset(&self, body: &api::CodeSubmission) -> Result<api::Validity, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/password/verify")
                .json(body),
        )
        .await
    }

    /// `POST /v1/auth/password/reset`.
    pub async fn reset_password(&self, body: &api::ResetPasswordRequest) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::POST, "/v1/auth/password/reset")
                .json(body),
        )
        .await
    }

    /// `POST /v1/users/{id}/verification-code` (admin).
    pub async fn send_verification_code(
        &self,
        id: Uuid,
        body: &api::VerificationCodeRequest,
    ) -> Result<api::Sent, Error> {
        self.send(
            self.request(Method::POST, &format!("/v1/users/{id}/verification-code"))
                .json(body),
        )
        .await
    }
}
