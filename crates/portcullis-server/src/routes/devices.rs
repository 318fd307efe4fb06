//! Licenses (made by admins) and the devices that register with them.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    CreateLicenseRequest, CreatedLicense, DeviceList, LicenseList, Problem as ProblemBody,
    RegisterDeviceRequest, RegisteredDevice,
};
use portcullis_core::service::DeviceInput;
use uuid::Uuid;

use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, Client, OptionalJson};
use crate::{AppState, Problem};

/// Make a license; its key is in this answer only.
#[utoipa::path(post, path = "/v1/orgs/{slug}/licenses", tag = "devices", security(("bearer" = [])),
    request_body = CreateLicenseRequest,
    params(("slug" = String, Path, description = "Organization slug")),
    responses(
        (status = 201, body = CreatedLicense),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`: no such organization within reach", body = ProblemBody),
    ))]
pub(crate) async fn create_license(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(slug): ApiPath<String>,
    OptionalJson(body): OptionalJson<CreateLicenseRequest>,
) -> Result<(StatusCode, Json<CreatedLicense>), Problem> {
    let (license, key) = app
        .services
        .create_license(&admin, &slug, body.max_devices, body.expires_at, &client)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(CreatedLicense {
            license_key: key,
            details: convert::license(license),
        }),
    ))
}

/// An organization's licenses (never their keys).
#[utoipa::path(get, path = "/v1/orgs/{slug}/licenses", tag = "devices", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = LicenseList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn list_licenses(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<LicenseList>, Problem> {
    let items = app
        .services
        .list_licenses(&admin, &slug)
        .await?
        .into_iter()
        .map(convert::license)
        .collect();
    Ok(Json(LicenseList {
        items,
        next_cursor: None,
    }))
}

/// Revoke a license: its devices, their tokens and sessions end at once.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/licenses/{id}", tag = "devices", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "License id")),
    responses((status = 204, description = "Revoked"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn delete_license(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services
        .revoke_license(&admin, &slug, id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Register a device with a license key; answers its token (shown once) and organization.
#[utoipa::path(post, path = "/v1/devices/register", tag = "devices", request_body = RegisterDeviceRequest,
    responses(
        (status = 201, body = RegisteredDevice),
        (status = 400, description = "`validation_failed`: missing name, or not a valid license key", body = ProblemBody),
        (status = 403, description = "`forbidden`: the license expired or is full", body = ProblemBody),
    ))]
pub(crate) async fn register_device(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<RegisterDeviceRequest>,
) -> Result<(StatusCode, Json<RegisteredDevice>), Problem> {
    let input = DeviceInput {
        license_key: body.license_key,
        name: body.name,
        device_type: body.device_type,
        identifier: body.identifier,
        client,
    };
    let (device, token, org) = app.services.register_device(input).await?;
    Ok((
        StatusCode::CREATED,
        Json(RegisteredDevice {
            device_id: device.id,
            device_token: token,
            organization: org.slug,
        }),
    ))
}

/// An organization's devices.
#[utoipa::path(get, path = "/v1/orgs/{slug}/devices", tag = "devices", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug")),
    responses((status = 200, body = DeviceList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn list_devices(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<DeviceList>, Problem> {
    let items = app
        .services
        .list_devices(&admin, &slug)
        .await?
        .into_iter()
        .map(convert::device)
        .collect();
    Ok(Json(DeviceList {
        items,
        next_cursor: None,
    }))
}

/// Revoke a device: its token and the sessions signed in through it end at once.
#[utoipa::path(delete, path = "/v1/orgs/{slug}/devices/{id}", tag = "devices", security(("bearer" = [])),
    params(("slug" = String, Path, description = "Organization slug"), ("id" = Uuid, Path, description = "Device id")),
    responses((status = 204, description = "Revoked"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn delete_device(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((slug, id)): ApiPath<(String, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services
        .revoke_device(&admin, &slug, id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
