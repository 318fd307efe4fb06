//! Codes by SMS or email: activating an account and the reset-password link.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use portcullis_core::service::CodeRequest;
use portcullis_core::UserId;
use portcullis_server::{AppState, Client};
use serde::Deserialize;
use serde_json::json;

use crate::envelope::{self};

use super::{common, ok, same_org, success, Device, Failure, Flex};

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct VerifyBody {
    verification_code: Flex,
    #[serde(rename = "ID")]
    id: Flex,
}

pub(super) fn user_id(raw: Option<String>) -> Result<UserId, Failure> {
    raw.and_then(|s| s.parse().ok())
        .ok_or_else(|| Failure::bad("ID is not a user ID."))
}

pub(super) async fn verify(
    State(app): State<AppState>,
    Client(client): Client,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<VerifyBody>(body)?;
    let id = user_id(body.id.text())?;
    let code = body
        .verification_code
        .code()
        .ok_or_else(|| Failure::bad("VerificationCode is required."))?;
    app.services()
        .verify_account(None, id, &code, &client)
        .await
        .map_err(common)?;
    Ok(success())
}

/// Answers the same whether the user exists.
pub(super) async fn send_activation_code(
    State(app): State<AppState>,
    Client(client): Client,
    Path((user, org)): Path<(String, String)>,
) -> Result<Response, Failure> {
    if let Ok(id) = user.parse::<UserId>() {
        app.services()
            .resend_verification_to(Some(&org), id, &client)
            .await
            .map_err(common)?;
    }
    Ok(ok(json!({
        "success": true,
        "Message": "If the account has an address to verify, a code is on its way.",
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct ResetBody {
    email: Flex,
    identifier: Flex,
}

/// `auths.requestResetPasswordLink`: answers the same whether the account exists.
pub(super) async fn reset_link(
    Device {
        app, org, client, ..
    }: Device,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<ResetBody>(body)?;
    same_org(&body.identifier, &org.slug)?;
    let email = body
        .email
        .text()
        .ok_or_else(|| Failure::bad("Email is required."))?;
    app.services()
        .forgot_password(CodeRequest {
            email: Some(email),
            organization: Some(org.slug),
            client,
            ..CodeRequest::default()
        })
        .await
        .map_err(common)?;
    Ok(success())
}
