//! Accounts: registration, the signed-in user's own account, and the administration of users.

use portcullis_api::{
    ChangePasswordRequest, CreateUserRequest, DeleteAccountRequest, RegisterRequest, RolesResponse,
    SessionList, SetRolesRequest, TokenPair, UpdateUserRequest, User, UserList,
};
use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;

use crate::{api, Client, Error};

/// Filters for [`Client::list_users`].
#[derive(Debug, Clone, Default, Serialize)]
pub struct UserQuery {
    /// Case-insensitive part of email, phone, username or names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Holds this role.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    /// Active or not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
    /// Page size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl Client {
    /// `POST /v1/auth/register`.
    pub async fn register(&self, body: &RegisterRequest) -> Result<User, Error> {
        self.send(self.request(Method::POST, "/v1/auth/register").json(body))
            .await
    }

    /// `POST /v1/auth/register/anonymous`.
    pub async fn register_anonymous(&self, organization: Option<&str>) -> Result<TokenPair, Error> {
        let body = api::AnonymousRequest {
            organization: organization.map(str::to_owned),
        };
        self.send(
            self.request(Method::POST, "/v1/auth/register/anonymous")
                .json(&body),
        )
        .await
    }

    /// `POST /v1/users/me/upgrade`.
    pub async fn upgrade_me(&self, body: &RegisterRequest) -> Result<User, Error> {
        self.send(
            self.request(Method::POST, "/v1/users/me/upgrade")
                .json(body),
        )
        .await
    }

    /// `GET /v1/users/me`.
    pub async fn me(&self) -> Result<User, Error> {
        self.send(self.request(Method::GET, "/v1/users/me")).await
    }

    /// `PATCH /v1/users/me`.
    pub async fn update_me(&self, body: &UpdateUserRequest) -> Result<User, Error> {
        self.send(self.request(Method::PATCH, "/v1/users/me").json(body))
            .await
    }

    /// `DELETE /v1/users/me`.
    pub async fn delete_me(&self, password: Option<&str>) -> Result<(), Error> {
        let body = DeleteAccountRequest {
            password: password.map(str::to_owned),
        };
        self.send_empty(self.request(Method::DELETE, "/v1/users/me").json(&body))
            .await
    }

    /// `GET /v1/users/me/roles`.
    pub async fn my_roles(&self) -> Result<RolesResponse, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/roles"))
            .await
    }

    /// `POST /v1/users/me/password`.
    pub async fn change_password(
        &self,
        current_password: &str,
        new_password: &str,
    ) -> Result<(), Error> {
        let body = ChangePasswordRequest {
            current_password: current_password.to_owned(),
            new_password: new_password.to_owned(),
        };
        self.send_empty(
            self.request(Method::POST, "/v1/users/me/password")
                .json(&body),
        )
        .await
    }

    /// `GET /v1/users/me/sessions`.
    pub async fn my_sessions(&self) -> Result<SessionList, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/sessions"))
            .await
    }

    /// `DELETE /v1/users/me/sessions/{id}`.
    pub async fn delete_my_session(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/me/sessions/{id}")))
            .await
    }

    /// `GET /v1/users` (admin).
    pub async fn list_users(&self, query: &UserQuery) -> Result<UserList, Error> {
        self.send(self.request(Method::GET, "/v1/users").query(query))
            .await
    }

    /// `POST /v1/users` (admin).
    pub async fn create_user(&self, body: &CreateUserRequest) -> Result<User, Error> {
        self.send(self.request(Method::POST, "/v1/users").json(body))
            .await
    }

    /// `GET /v1/users/{id}` (admin).
    pub async fn get_user(&self, id: Uuid) -> Result<User, Error> {
        self.send(self.request(Method::GET, &format!("/v1/users/{id}")))
            .await
    }

    /// `PATCH /v1/users/{id}` (admin).
    pub async fn update_user(&self, id: Uuid, body: &UpdateUserRequest) -> Result<User, Error> {
        self.send(
            self.request(Method::PATCH, &format!("/v1/users/{id}"))
                .json(body),
        )
        .await
    }

    /// `DELETE /v1/users/{id}` (admin).
    pub async fn delete_user(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/{id}")))
            .await
    }

    /// `PUT /v1/users/{id}/roles` (admin).
    pub async fn set_roles(&self, id: Uuid, roles: &[&str]) -> Result<RolesResponse, Error> {
        let body = SetRolesRequest {
            roles: roles.iter().map(|r| (*r).to_owned()).collect(),
        };
        self.send(
            self.request(Method::PUT, &format!("/v1/users/{id}/roles"))
                .json(&body),
        )
        .await
    }

    /// `POST /v1/users/{id}/sessions/revoke` (admin).
    pub async fn revoke_sessions(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::POST, &format!("/v1/users/{id}/sessions/revoke")))
            .await
    }

    /// `POST /v1/auth/password/questions`.
    pub async fn security_questions(
        &self,
        body: &api::QuestionsRequest,
    ) -> Result<api::QuestionsResponse, Error> {
        self.send(
            self.request(Method::POST, "/v1/auth/password/questions")
                .json(body),
        )
        .await
    }

    /// `PUT /v1/users/me/security-questions`.
    pub async fn set_my_security_questions(
        &self,
        body: &api::SecurityQuestionsRequest,
    ) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::PUT, "/v1/users/me/security-questions")
                .json(body),
        )
        .await
    }

    /// `PUT /v1/users/{id}/security-questions` (admin).
    pub async fn set_user_security_questions(
        &self,
        id: Uuid,
        body: &api::SecurityQuestionsRequest,
    ) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::PUT, &format!("/v1/users/{id}/security-questions"))
                .json(body),
        )
        .await
    }
}
