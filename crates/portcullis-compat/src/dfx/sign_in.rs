//! Signing in and out: password, phone code, the login-code requests in their three spellings, and
//! `auths.renew`.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use portcullis_core::service::{
    CodeRequest, CodeSubmission, LoginInput, SecondFactor, Tokens, DEVICE_PREFIX,
};
use portcullis_core::ClientInfo;
use portcullis_server::{AppState, Client};
use serde::Deserialize;
use serde_json::json;

use crate::envelope::{self};

use super::{common, ok, success, Device, Failure, Flex, Signed};

pub(super) fn tokens(t: &Tokens) -> Response {
    ok(json!({ "Token": t.access_token, "RefreshToken": t.refresh_token }))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LoginBody {
    email: Flex,
    password: Flex,
    #[serde(rename = "MFAToken")]
    mfa_token: Flex,
}

pub(super) async fn login(
    Device {
        app, token, client, ..
    }: Device,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<LoginBody>(body)?;
    let t = app
        .services()
        .login(LoginInput {
            identifier: body.email.text().unwrap_or_default(),
            password: body.password.text().unwrap_or_default(),
            device_token: Some(token),
            second_factor: SecondFactor {
                mfa_code: body.mfa_token.code(),
                ..SecondFactor::default()
            },
            client,
            ..LoginInput::default()
        })
        .await
        .map_err(common)?;
    Ok(tokens(&t))
}

pub(super) async fn logout(Signed { app, who, client }: Signed) -> Result<Response, Failure> {
    app.services()
        .logout_all(&who, &client)
        .await
        .map_err(common)?;
    Ok(success())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct PhoneCodeBody {
    login_code: Flex,
    phone_number: Flex,
    org_key: Flex,
}

pub(super) async fn login_with_phone_code(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<PhoneCodeBody>(body)?;
    let t = app
        .services()
        .login_with_code(CodeSubmission {
            phone: body.phone_number.text(),
            code: body.login_code.code(),
            organization: body.org_key.text(),
            client,
            ..CodeSubmission::default()
        })
        .await
        .map_err(common)?;
    Ok(tokens(&t))
}

pub(super) async fn send_login_code(
    app: &AppState,
    phone: Option<String>,
    organization: Option<String>,
    client: ClientInfo,
) -> Result<Response, Failure> {
    if phone.is_none() {
        return Err(Failure::bad("PhoneNumber is required."));
    }
    app.services()
        .request_login_code(CodeRequest {
            phone,
            organization,
            client,
            ..CodeRequest::default()
        })
        .await
        .map_err(common)?;
    Ok(success())
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct LoginCodeBody {
    phone_number: Flex,
    identifier: Flex,
}

/// `PATCH auths/users/code` (the Python client).
pub(super) async fn request_login_code(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<LoginCodeBody>(body)?;
    send_login_code(
        &app,
        body.phone_number.text(),
        body.identifier.text(),
        client,
    )
    .await
}

/// `GET users/auth/code/{OrgKey}/{PhoneNumber}`: the phone's `+` arrives unencoded, and is
/// kept.
pub(super) async fn request_login_code_by_path(
    State(app): State<AppState>,
    Client(client): Client,
    Path((org, phone)): Path<(String, String)>,
) -> Result<Response, Failure> {
    send_login_code(&app, Some(phone), Some(org), client).await
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct RenewBody {
    token: Flex,
    refresh_token: Flex,
    phone_number: Flex,
    identifier: Flex,
}

/// `auths.renew`, authenticated by the pair in the body (the header carries the device
/// token, maybe expired). A user pair or a device pair; and the JS client's
/// `auths.requestLoginCode`, which posts `{PhoneNumber, Identifier}` here.
pub(super) async fn renew(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<RenewBody>(body)?;
    let services = app.services();
    match (body.token.text(), body.refresh_token.text()) {
        (Some(token), Some(refresh)) if token.starts_with(DEVICE_PREFIX) => {
            let (token, refresh) = services
                .renew_device(&token, &refresh, &client)
                .await
                .map_err(common)?;
            Ok(ok(json!({ "Token": token, "RefreshToken": refresh })))
        }
        (Some(token), Some(refresh)) => {
            let t = services
                .refresh_pair(&token, &refresh, &client)
                .await
                .map_err(common)?;
            Ok(tokens(&t))
        }
        (None, None) if body.phone_number.text().is_some() => {
            send_login_code(
                &app,
                body.phone_number.text(),
                body.identifier.text(),
                client,
            )
            .await
        }
        _ => Err(Failure::bad("Token and RefreshToken are required.")),
    }
}
