//! Licenses and the devices registered with them.

use reqwest::Method;
use uuid::Uuid;

use crate::{api, Client, Error};

impl Client {
    /// `POST /v1/orgs/{slug}/licenses` (admin).
    pub async fn create_license(
        &self,
        org: &str,
        body: &api::CreateLicenseRequest,
    ) -> Result<api::CreatedLicense, Error> {
        self.send(
            self.request(Method::POST, &format!("/v1/orgs/{org}/licenses"))
                .json(body),
        )
        .await
    }

    /// `GET /v1/orgs/{slug}/licenses` (admin).
    pub async fn licenses(&self, org: &str) -> Result<api::LicenseList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/licenses")))
            .await
    }

    /// `DELETE /v1/orgs/{slug}/licenses/{id}` (admin).
    pub async fn delete_license(&self, org: &str, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/orgs/{org}/licenses/{id}")))
            .await
    }

    /// `POST /v1/devices/register`.
    pub async fn register_device(
        &self,
        body: &api::RegisterDeviceRequest,
    ) -> Result<api::RegisteredDevice, Error> {
        self.send(
            self.request(Method::POST, "/v1/devices/register")
                .json(body),
        )
        .await
    }

    /// `GET /v1/orgs/{slug}/devices` (admin).
    pub async fn devices(&self, org: &str) -> Result<api::DeviceList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/orgs/{org}/devices")))
            .await
    }

    /// `DELETE /v1/orgs/{slug}/devices/{id}` (admin).
    pub async fn delete_device(&self, org: &str, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/orgs/{org}/devices/{id}")))
            .await
    }
}
