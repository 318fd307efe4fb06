//! Second factors: TOTP keys, recovery codes, trusted devices, and their look-up lists.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    ActivateMfaKeyRequest, ActivatedMfaKey, CreateMfaKeyRequest, LookupItem, MfaKeyList, NewMfaKey,
    Problem as ProblemBody, Reauthentication, RecoveryCodes, TrustedDeviceList,
};
use portcullis_core::service::Proof;
use portcullis_core::UserId;
use uuid::Uuid;

use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, Auth, Client, EnrolAuth, OptionalJson};
use crate::{AppState, Problem};

/// The kinds of second factor.
#[utoipa::path(get, path = "/v1/mfa/types", tag = "mfa", responses((status = 200, body = [LookupItem])))]
pub(crate) async fn mfa_types() -> Json<Vec<LookupItem>> {
    let item = |id, name: &str, description: &str| LookupItem {
        id,
        name: name.into(),
        description: description.into(),
    };
    Json(vec![
        item(
            1,
            "totp",
            "Time-based one-time password from an authenticator app (RFC 6238)",
        ),
        item(
            2,
            "email",
            "One-time code sent by email (POST /v1/auth/login/otp)",
        ),
        item(
            3,
            "sms",
            "One-time code sent by SMS (POST /v1/auth/login/otp)",
        ),
        item(
            4,
            "recovery_code",
            "One of the ten single-use recovery codes",
        ),
    ])
}

/// The states of a second-factor key.
#[utoipa::path(get, path = "/v1/mfa/statuses", tag = "mfa", responses((status = 200, body = [LookupItem])))]
pub(crate) async fn mfa_statuses() -> Json<Vec<LookupItem>> {
    let item = |id, name: &str, description: &str| LookupItem {
        id,
        name: name.into(),
        description: description.into(),
    };
    Json(vec![
        item(
            1,
            "activation_pending",
            "Made, waiting for a first code to prove it",
        ),
        item(2, "active", "In use: sign-in asks for it"),
    ])
}

/// Make a TOTP key (re-authenticate with the password); it is pending until activated.
#[utoipa::path(post, path = "/v1/users/me/mfa/keys", tag = "mfa", security(("bearer" = [])), request_body = CreateMfaKeyRequest,
    responses(
        (status = 201, body = NewMfaKey),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`: wrong password", body = ProblemBody),
        (status = 403, description = "`forbidden`: guest account", body = ProblemBody),
    ))]
pub(crate) async fn create_mfa_key(
    State(app): State<AppState>,
    EnrolAuth(who): EnrolAuth,
    Client(client): Client,
    ApiJson(body): ApiJson<CreateMfaKeyRequest>,
) -> Result<(StatusCode, Json<NewMfaKey>), Problem> {
    let made = app
        .services
        .create_mfa_key(
            &who,
            &body.kind,
            Proof::password(body.password.as_deref()),
            &client,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(NewMfaKey {
            key: convert::mfa_key(made.key),
            secret_base32: made.secret_base32,
            otpauth_uri: made.otpauth_uri,
            qr_code_svg: made.qr_code_svg,
            qr_code_png: made.qr_code_png,
        }),
    ))
}

/// The own second-factor keys (never their secrets).
#[utoipa::path(get, path = "/v1/users/me/mfa/keys", tag = "mfa", security(("bearer" = [])),
    responses((status = 200, body = MfaKeyList)))]
pub(crate) async fn list_mfa_keys(
    State(app): State<AppState>,
    EnrolAuth(who): EnrolAuth,
) -> Result<Json<MfaKeyList>, Problem> {
    let items = app
        .services
        .mfa_keys_of(who.user.id)
        .await?
        .into_iter()
        .map(convert::mfa_key)
        .collect();
    Ok(Json(MfaKeyList {
        items,
        next_cursor: None,
    }))
}

/// Activate a key with a current code; answers ten recovery codes, shown once.
#[utoipa::path(post, path = "/v1/users/me/mfa/keys/{id}/activate", tag = "mfa", security(("bearer" = [])),
    request_body = ActivateMfaKeyRequest, params(("id" = Uuid, Path, description = "Key id")),
    responses(
        (status = 200, body = ActivatedMfaKey),
        (status = 400, description = "`code_invalid`, or `validation_failed`: already active", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn activate_mfa_key(
    State(app): State<AppState>,
    EnrolAuth(who): EnrolAuth,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<ActivateMfaKeyRequest>,
) -> Result<Json<ActivatedMfaKey>, Problem> {
    let (key, recovery_codes) = app
        .services
        .activate_mfa_key(&who, id, &body.code, &client)
        .await?;
    Ok(Json(ActivatedMfaKey {
        key: convert::mfa_key(key),
        recovery_codes,
    }))
}

/// Delete an own key (re-authenticate with the password or a current code).
#[utoipa::path(delete, path = "/v1/users/me/mfa/keys/{id}", tag = "mfa", security(("bearer" = [])),
    request_body = Reauthentication, params(("id" = Uuid, Path, description = "Key id")),
    responses(
        (status = 204, description = "Deleted; with no active key left, two-step sign-in is off"),
        (status = 400, description = "`validation_failed`: no re-authentication", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
        (status = 403, description = "`account_locked`: too many wrong passwords; see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn delete_mfa_key(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<Reauthentication>,
) -> Result<StatusCode, Problem> {
    app.services
        .delete_my_mfa_key(
            &who,
            id,
            Proof::Secret {
                password: body.password.as_deref(),
                mfa_code: body.mfa_code.as_deref(),
            },
            &client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turn every own second factor off (re-authenticate with the password or a current code).
#[utoipa::path(delete, path = "/v1/users/me/mfa", tag = "mfa", security(("bearer" = [])), request_body = Reauthentication,
    responses(
        (status = 204, description = "Keys, recovery codes and trusted devices are gone"),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`", body = ProblemBody),
        (status = 403, description = "`account_locked`: too many wrong passwords; see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn disable_mfa(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    OptionalJson(body): OptionalJson<Reauthentication>,
) -> Result<StatusCode, Problem> {
    app.services
        .disable_my_mfa(
            &who,
            Proof::Secret {
                password: body.password.as_deref(),
                mfa_code: body.mfa_code.as_deref(),
            },
            &client,
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// New recovery codes (re-authenticate with the password); the old ones die.
#[utoipa::path(post, path = "/v1/users/me/mfa/recovery-codes", tag = "mfa", security(("bearer" = [])),
    request_body = Reauthentication,
    responses(
        (status = 200, body = RecoveryCodes),
        (status = 400, description = "`validation_failed`: MFA is off, or no password", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`", body = ProblemBody),
        (status = 403, description = "`account_locked`: too many wrong passwords; see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn regenerate_recovery_codes(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiJson(body): ApiJson<Reauthentication>,
) -> Result<Json<RecoveryCodes>, Problem> {
    let recovery_codes = app
        .services
        .regenerate_recovery_codes(&who, body.password.as_deref(), &client)
        .await?;
    Ok(Json(RecoveryCodes { recovery_codes }))
}

/// The own trusted devices.
#[utoipa::path(get, path = "/v1/users/me/trusted-devices", tag = "mfa", security(("bearer" = [])),
    responses((status = 200, body = TrustedDeviceList)))]
pub(crate) async fn list_trusted_devices(
    State(app): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<TrustedDeviceList>, Problem> {
    Ok(Json(convert::trusted_devices(
        app.services.trusted_devices_of(who.user.id).await?,
    )))
}

/// Stop trusting one of the own devices.
#[utoipa::path(delete, path = "/v1/users/me/trusted-devices/{id}", tag = "mfa", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Trusted device id")),
    responses((status = 204, description = "Removed"), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn delete_trusted_device(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    app.services
        .remove_trusted_device(&who.user, id, who.user.id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Turn every second factor of a user off (admin).
#[utoipa::path(delete, path = "/v1/users/{id}/mfa", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 204, description = "Off"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn admin_disable_mfa(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, Problem> {
    app.services
        .admin_disable_mfa(&admin, UserId(id), &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Delete one key of a user (admin).
#[utoipa::path(delete, path = "/v1/users/{id}/mfa/keys/{key_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"), ("key_id" = Uuid, Path, description = "Key id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn admin_delete_mfa_key(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((id, key_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services
        .admin_delete_mfa_key(&admin, UserId(id), key_id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A user's trusted devices (admin).
#[utoipa::path(get, path = "/v1/users/{id}/trusted-devices", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = TrustedDeviceList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn admin_list_trusted_devices(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<TrustedDeviceList>, Problem> {
    let user = app.services.managed_user(&admin, UserId(id)).await?;
    Ok(Json(convert::trusted_devices(
        app.services.trusted_devices_of(user.id).await?,
    )))
}

/// Remove a user's trusted device (admin).
#[utoipa::path(delete, path = "/v1/users/{id}/trusted-devices/{device_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"), ("device_id" = Uuid, Path, description = "Trusted device id")),
    responses((status = 204, description = "Removed"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn admin_delete_trusted_device(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((id, device_id)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, Problem> {
    let user = app.services.managed_user(&admin, UserId(id)).await?;
    app.services
        .remove_trusted_device(&user, device_id, admin.actor().user.id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
