//! License registration and the status call the clients make first.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::response::Response;
use portcullis_core::service::DeviceInput;
use portcullis_server::{AppState, Client};
use serde::Deserialize;
use serde_json::json;

use crate::envelope::{self};

use super::{common, ok, Failure, Flex};

pub(super) async fn status(State(app): State<AppState>) -> Response {
    let up = app.services().ready().await.is_ok();
    ok(json!({
        "StatusID": if up { "ACTIVE" } else { "ERROR" },
        "Version": env!("CARGO_PKG_VERSION"),
        "Region": app.services().config().issuer,
        "AllowAnonymous": false,
    }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LicenseBody {
    key: Flex,
    #[serde(rename = "DeviceTypeID")]
    device_type_id: Flex,
    name: Flex,
    identifier: Flex,
    token_subject: Flex,
}

pub(super) async fn register_license(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<LicenseBody>(body)?;
    if body.token_subject.text().is_some() {
        return Err(Failure::bad(
            "TokenSubject (tokens locked to a Referer) is not supported; leave it empty.",
        ));
    }
    let (device, token, _org) = app
        .services()
        .register_device(DeviceInput {
            license_key: body.key.text().unwrap_or_default(),
            name: body.name.text().unwrap_or_default(),
            device_type: body.device_type_id.text(),
            identifier: body.identifier.text(),
            client,
        })
        .await
        .map_err(common)?;
    Ok(ok(json!({
        "DeviceID": device.id.to_string(),
        "Token": token,
        "RefreshToken": app.services().device_refresh_token(&token),
        "RoleID": "DFX_DEVICE",
        "UserID": null,
    })))
}
