//! Webhooks and hooks of an organization (admin).

use reqwest::Method;
use uuid::Uuid;

use crate::{api, Client, Error};

impl Client {
    /// `POST /v1/orgs/{slug}/webhooks`.
    pub async fn create_webhook(
        &self,
        org: &str,
        body: &api::CreateWebhookRequest,
    ) -> Result<api::CreatedWebhook, Error> {
        self.send(
            self.request(Method::POST, &format!("/v1/orgs/{org}/webhooks"))
                .json(body),
        )
        .await
    }

    /// `GET /v1/orgs/{slug}/webhooks`.
    pub async fn webhooks(&self, org: &str) -> Result<api::WebhookList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/webhooks")))
            .await
    }

    /// `GET /v1/orgs/{slug}/webhooks/{id}`.
    pub async fn webhook(&self, org: &str, id: Uuid) -> Result<api::Webhook, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/webhooks/{id}")))
            .await
    }

    /// `PATCH /v1/orgs/{slug}/webhooks/{id}`.
    pub async fn update_webhook(
        &self,
        org: &str,
        id: Uuid,
        body: &api::UpdateWebhookRequest,
    ) -> Result<api::Webhook, Error> {
        self.send(
            self.request(Method::PATCH, &format!("/v1/orgs/{org}/webhooks/{id}"))
                .json(body),
        )
        .await
    }

    /// `POST /v1/orgs/{slug}/webhooks/{id}/secret`.
    pub async fn rotate_webhook_secret(
        &self,
        org: &str,
        id: Uuid,
    ) -> Result<api::WebhookSecret, Error> {
        self.send(self.request(
            Method::POST,
            &format!("/v1/orgs/{org}/webhooks/{id}/secret"),
        ))
        .await
    }

    /// `POST /v1/orgs/{slug}/webhooks/{id}/test`.
    pub async fn test_webhook(&self, org: &str, id: Uuid) -> Result<api::WebhookDelivery, Error> {
        self.send(self.request(Method::POST, &format!("/v1/orgs/{org}/webhooks/{id}/test")))
            .await
    }

    /// `GET /v1/orgs/{slug}/webhooks/{id}/deliveries`.
    pub async fn webhook_deliveries(
        &self,
        org: &str,
        id: Uuid,
        limit: Option<usize>,
    ) -> Result<api::WebhookDeliveryList, Error> {
        let mut req = self.request(
            Method::GET,
            &format!("/v1/orgs/{org}/webhooks/{id}/deliveries"),
        );
        if let Some(limit) = limit {
            req = req.query(&[("limit", limit)]);
        }
        self.send(req).await
    }

    /// `POST /v1/orgs/{slug}/webhooks/{id}/deliveries/{event_id}/redeliver`.
    pub async fn redeliver(&self, org: &str, id: Uuid, event_id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(
            Method::POST,
            &format!("/v1/orgs/{org}/webhooks/{id}/deliveries/{event_id}/redeliver"),
        ))
        .await
    }

    /// `DELETE /v1/orgs/{slug}/webhooks/{id}`.
    pub async fn delete_webhook(&self, org: &str, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/orgs/{org}/webhooks/{id}")))
            .await
    }

    /// `GET /v1/orgs/{slug}/hooks`.
    pub async fn hooks(&self, org: &str) -> Result<api::HookList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/hooks")))
            .await
    }

    /// `GET /v1/orgs/{slug}/hooks/{name}`.
    pub async fn hook(&self, org: &str, name: &str) -> Result<api::Hook, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/hooks/{name}")))
            .await
    }

    /// `PUT /v1/orgs/{slug}/hooks/{name}`.
    pub async fn set_hook(
        &self,
        org: &str,
        name: &str,
        body: &api::SetHookRequest,
    ) -> Result<api::SetHook, Error> {
        self.send(
            self.request(Method::PUT, &format!("/v1/orgs/{org}/hooks/{name}"))
                .json(body),
        )
        .await
    }

    /// `POST /v1/orgs/{slug}/hooks/{name}/secret`.
    pub async fn rotate_hook_secret(
        &self,
        org: &str,
        name: &str,
    ) -> Result<api::WebhookSecret, Error> {
        self.send(self.request(Method::POST, &format!("/v1/orgs/{org}/hooks/{name}/secret")))
            .await
    }

    /// `DELETE /v1/orgs/{slug}/hooks/{name}`.
    pub async fn delete_hook(&self, org: &str, name: &str) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/orgs/{org}/hooks/{name}")))
            .await
    }
}
