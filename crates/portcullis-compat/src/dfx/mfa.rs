//! Two-factor authentication: the secret, enabling and disabling it, and an admin's reset.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::Path;
use axum::response::Response;
use portcullis_core::service::Proof;
use serde::Deserialize;
use serde_json::json;

use crate::envelope::{self};

use super::{common, ok, path_user, success, Enrolling, Failure, Flex, Signed};

/// `users.createTwoFactorAuthSecret` (GET, and POST from the Python client): a pending key
/// changes nothing until a code from it enables it, so no re-authentication is asked.
pub(super) async fn mfa_secret(
    Enrolling(Signed { app, who, client }): Enrolling,
) -> Result<Response, Failure> {
    let key = app
        .services()
        .create_mfa_key(&who, "totp", Proof::Nothing, &client)
        .await
        .map_err(common)?;
    Ok(ok(json!({
        "secretBase32Encoded": key.secret_base32,
        "url": key.otpauth_uri,
        "qrcode": key.qr_code_png,
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct MfaBody {
    #[serde(rename = "MFASecret")]
    mfa_secret: Flex,
    #[serde(rename = "MFAToken")]
    mfa_token: Flex,
    password: Flex,
}

/// `users.enableTwoFactorAuthForLoggedInUser`; the answer adds the recovery codes, shown
/// this once (the clients ignore fields they do not know).
pub(super) async fn mfa_enable(
    Enrolling(Signed { app, who, client }): Enrolling,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<MfaBody>(body)?;
    let secret = body
        .mfa_secret
        .text()
        .ok_or_else(|| Failure::bad("MFASecret is required."))?;
    let code = body
        .mfa_token
        .code()
        .ok_or_else(|| Failure::bad("MFAToken is required."))?;
    let services = app.services();
    let id = services
        .pending_mfa_key_with_secret(&who, &secret)
        .await
        .map_err(common)?;
    let (_, recovery_codes) = services
        .activate_mfa_key(&who, id, &code, &client)
        .await
        .map_err(common)?;
    Ok(ok(
        json!({ "success": true, "RecoveryCodes": recovery_codes }),
    ))
}

/// `users.disableTwoFactorAuthForLoggedInUser`: a `Password` or current `MFAToken` in the
/// body is checked when sent; without one, the sign-in must be recent.
pub(super) async fn mfa_disable(
    Signed { app, who, client }: Signed,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Failure> {
    let body = envelope::json::<MfaBody>(body)?;
    let (password, code) = (body.password.text(), body.mfa_token.code());
    let proof = if password.is_some() || code.is_some() {
        Proof::Secret {
            password: password.as_deref(),
            mfa_code: code.as_deref(),
        }
    } else {
        Proof::RecentSignIn
    };
    app.services()
        .disable_my_mfa(&who, proof, &client)
        .await
        .map_err(common)?;
    Ok(success())
}

pub(super) async fn admin_mfa_disable(
    Signed { app, who, client }: Signed,
    Path(user): Path<String>,
) -> Result<Response, Failure> {
    let id = path_user(&user)?;
    let services = app.services();
    let admin = services.admin(who).map_err(common)?;
    services
        .admin_disable_mfa(&admin, id, &client)
        .await
        .map_err(common)?;
    Ok(success())
}
