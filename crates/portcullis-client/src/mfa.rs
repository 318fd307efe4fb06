//! Second factors: TOTP keys, recovery codes, trusted devices and one-time codes at sign-in.

use reqwest::Method;
use uuid::Uuid;

use crate::{api, Client, Error};

impl Client {
    /// `POST /v1/users/me/mfa/keys`.
    pub async fn create_mfa_key(&self, password: Option<&str>) -> Result<api::NewMfaKey, Error> {
        let body = api::CreateMfaKeyRequest {
            kind: "totp".into(),
            password: password.map(str::to_owned),
        };
        self.send(
            self.request(Method::POST, "/v1/users/me/mfa/keys")
                .json(&body),
        )
        .await
    }

    /// `GET /v1/users/me/mfa/keys`.
    pub async fn mfa_keys(&self) -> Result<api::MfaKeyList, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/mfa/keys"))
            .await
    }

    /// `POST /v1/users/me/mfa/keys/{id}/activate`.
    pub async fn activate_mfa_key(
        &self,
        id: Uuid,
        code: &str,
    ) -> Result<api::ActivatedMfaKey, Error> {
        let body = api::ActivateMfaKeyRequest {
            code: code.to_owned(),
        };
        self.send(
            self.request(
                Method::POST,
                &format!("/v1/users/me/mfa/keys/{id}/activate"),
            )
            .json(&body),
        )
        .await
    }

    /// `DELETE /v1/users/me/mfa/keys/{id}`.
    pub async fn delete_mfa_key(
        &self,
        id: Uuid,
        reauth: &api::Reauthentication,
    ) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::DELETE, &format!("/v1/users/me/mfa/keys/{id}"))
                .json(reauth),
        )
        .await
    }

    /// `DELETE /v1/users/me/mfa`.
    pub async fn disable_mfa(&self, reauth: &api::Reauthentication) -> Result<(), Error> {
        self.send_empty(
            self.request(Method::DELETE, "/v1/users/me/mfa")
                .json(reauth),
        )
        .await
    }

    /// `POST /v1/users/me/mfa/recovery-codes`.
    pub async fn regenerate_recovery_codes(
        &self,
        password: &str,
    ) -> Result<api::RecoveryCodes, Error> {
        let body = api::Reauthentication {
            password: Some(password.to_owned()),
            mfa_code: None,
        };
        self.send(
            self.request(Method::POST, "/v1/users/me/mfa/recovery-codes")
                .json(&body),
        )
        .await
    }

    /// `GET /v1/users/me/trusted-devices`.
    pub async fn trusted_devices(&self) -> Result<api::TrustedDeviceList, Error> {
        self.send(self.request(Method::GET, "/v1/users/me/trusted-devices"))
            .await
    }

    /// `DELETE /v1/users/me/trusted-devices/{id}`.
    pub async fn delete_trusted_device(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(
            Method::DELETE,
            &format!("/v1/users/me/trusted-devices/{id}"),
        ))
        .await
    }

    /// `POST /v1/auth/login/otp`.
    pub async fn login_otp(&self, body: &api::LoginOtpRequest) -> Result<api::Sent, Error> {
        self.send(self.request(Method::POST, "/v1/auth/login/otp").json(body))
            .await
    }

    /// `DELETE /v1/users/{id}/mfa` (admin): every second factor of the user off.
    pub async fn reset_user_mfa(&self, id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/{id}/mfa")))
            .await
    }

    /// `DELETE /v1/users/{id}/mfa/keys/{key_id}` (admin).
    pub async fn delete_user_mfa_key(&self, id: Uuid, key_id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(Method::DELETE, &format!("/v1/users/{id}/mfa/keys/{key_id}")))
            .await
    }

    /// `GET /v1/users/{id}/trusted-devices` (admin).
    pub async fn user_trusted_devices(&self, id: Uuid) -> Result<api::TrustedDeviceList, Error> {
        self.send(self.request(Method::GET, &format!("/v1/users/{id}/trusted-devices")))
            .await
    }

    /// `DELETE /v1/users/{id}/trusted-devices/{device_id}` (admin).
    pub async fn delete_user_trusted_device(&self, id: Uuid, device_id: Uuid) -> Result<(), Error> {
        self.send_empty(self.request(
            Method::DELETE,
            &format!("/v1/users/{id}/trusted-devices/{device_id}"),
        ))
        .await
    }

    /// `GET /v1/mfa/types`.
    pub async fn mfa_types(&self) -> Result<Vec<api::LookupItem>, Error> {
        self.send(self.request(Method::GET, "/v1/mfa/types")).await
    }

    /// `GET /v1/mfa/statuses`.
    pub async fn mfa_statuses(&self) -> Result<Vec<api::LookupItem>, Error> {
        self.send(self.request(Method::GET, "/v1/mfa/statuses"))
            .await
    }
}
