//! Codes by email and SMS: verification, passwordless sign-in, password recovery.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    CodeRequest, CodeSubmission, Problem as ProblemBody, ResetPasswordRequest, Sent, TokenPair,
    Validity, VerificationCodeRequest,
};
use portcullis_core::service::{
    CodeRequest as CoreRequest, CodeSubmission as CoreSubmission, SecondFactor,
};
use portcullis_core::{ClientInfo, UserId};
use uuid::Uuid;

use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, Client, DeviceToken, OptionalJson};
use crate::{AppState, Problem};

fn request(body: CodeRequest, client: ClientInfo) -> CoreRequest {
    CoreRequest {
        email: body.email,
        phone: body.phone,
        organization: body.organization,
        client,
    }
}

fn submission(body: CodeSubmission, client: ClientInfo) -> CoreSubmission {
    CoreSubmission {
        email: body.email,
        phone: body.phone,
        code: body.code,
        token: body.token,
        organization: body.organization,
        device_token: None,
        second_factor: SecondFactor::default(),
        client,
    }
}

fn sent() -> (StatusCode, Json<Sent>) {
    (
        StatusCode::ACCEPTED,
        Json(Sent {
            status: "sent".to_owned(),
        }),
    )
}

/// Prove an address with the code sent to it.
#[utoipa::path(post, path = "/v1/auth/verify", tag = "codes", request_body = CodeSubmission,
    responses(
        (status = 204, description = "The address is verified"),
        (status = 400, description = "`validation_failed`, `code_invalid` or `code_expired`", body = ProblemBody),
    ))]
pub(crate) async fn verify_address(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeSubmission>,
) -> Result<StatusCode, Problem> {
    app.services
        .verify_address(submission(body, client))
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Send a new verification code to an address not yet verified: 202 whether or not there is
/// one, or 429 when the address had one this minute (the same for every address).
#[utoipa::path(post, path = "/v1/auth/verify/resend", tag = "codes", request_body = CodeRequest,
    responses(
        (status = 202, description = "Sent if there is such an unverified address", body = Sent),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 429, description = "`rate_limited`: this address had one this minute (any address alike); see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn resend_verification(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<(StatusCode, Json<Sent>), Problem> {
    app.services
        .resend_verification(request(body, client))
        .await?;
    Ok(sent())
}

/// Send a sign-in code by email or SMS: 202 whether or not there is such an account, or 429
/// when the address had one this minute (the same for every address).
#[utoipa::path(post, path = "/v1/auth/code/request", tag = "codes", request_body = CodeRequest,
    responses(
        (status = 202, description = "Sent if there is such an account", body = Sent),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 429, description = "`rate_limited`: this address had one this minute (any address alike); see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn request_login_code(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<(StatusCode, Json<Sent>), Problem> {
    app.services
        .request_login_code(request(body, client))
        .await?;
    Ok(sent())
}

/// Sign in with a code sent by `code/request`.
#[utoipa::path(post, path = "/v1/auth/code/login", tag = "codes", request_body = CodeSubmission,
    responses(
        (status = 200, description = "A token pair", body = TokenPair),
        (status = 400, description = "`validation_failed`, `code_invalid` or `code_expired`", body = ProblemBody),
        (status = 403, description = "`account_inactive`", body = ProblemBody),
    ))]
pub(crate) async fn login_with_code(
    State(app): State<AppState>,
    Client(client): Client,
    DeviceToken(device_token): DeviceToken,
    ApiJson(body): ApiJson<CodeSubmission>,
) -> Result<Json<TokenPair>, Problem> {
    let second_factor = SecondFactor {
        mfa_code: body.mfa_code.clone(),
        recovery_code: body.recovery_code.clone(),
        trusted_device_token: body.trusted_device_token.clone(),
        remember_device: false,
        passkey: body.passkey.clone().map(convert::passkey_assertion),
    };
    let submission = CoreSubmission {
        device_token,
        second_factor,
        ..submission(body, client)
    };
    let tokens = app.services.login_with_code(submission).await?;
    Ok(Json(convert::token_pair(tokens)))
}

/// Send a password-reset code and link: 202 whether or not there is such an account, or 429
/// when the address had one this minute (the same for every address).
#[utoipa::path(post, path = "/v1/auth/password/forgot", tag = "codes", request_body = CodeRequest,
    responses(
        (status = 202, description = "Sent if there is such an account", body = Sent),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 429, description = "`rate_limited`: this address had one this minute (any address alike); see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn forgot_password(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeRequest>,
) -> Result<(StatusCode, Json<Sent>), Problem> {
    app.services.forgot_password(request(body, client)).await?;
    Ok(sent())
}

/// Check a reset code (with its address) or link token without using it.
#[utoipa::path(post, path = "/v1/auth/password/verify", tag = "codes", request_body = CodeSubmission,
    responses(
        (status = 200, body = Validity),
        (status = 400, description = "`validation_failed`, `code_invalid` or `code_expired`", body = ProblemBody),
    ))]
pub(crate) async fn check_reset(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<CodeSubmission>,
) -> Result<Json<Validity>, Problem> {
    app.services.check_reset(submission(body, client)).await?;
    Ok(Json(Validity { valid: true }))
}

/// Set a new password with a reset code or link token, or (where the organization allows
/// it) `identifier` and `security_answers`; every session of the user ends.
#[utoipa::path(post, path = "/v1/auth/password/reset", tag = "codes", request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is set"),
        (status = 400, description = "`validation_failed`, `weak_password`, `code_invalid` or `code_expired`", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`: wrong security answers", body = ProblemBody),
        (status = 403, description = "`forbidden`: recovery by questions is off", body = ProblemBody),
    ))]
pub(crate) async fn reset_password(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<ResetPasswordRequest>,
) -> Result<StatusCode, Problem> {
    match (body.identifier, body.security_answers) {
        (Some(identifier), Some(answers)) => {
            let answers = super::questions::answers(answers);
            let org = body.proof.organization.as_deref();
            app.services
                .reset_password_by_questions(
                    &identifier,
                    org,
                    &answers,
                    &body.new_password,
                    &client,
                )
                .await?;
        }
        _ => {
            app.services
                .reset_password(submission(body.proof, client), &body.new_password)
                .await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// Send a verification code to one of a user's addresses.
#[utoipa::path(post, path = "/v1/users/{id}/verification-code", tag = "admin", security(("bearer" = [])),
    request_body = VerificationCodeRequest,
    params(("id" = Uuid, Path, description = "User id")),
    responses(
        (status = 202, description = "Queued", body = Sent),
        (status = 400, description = "`validation_failed`: no such channel", body = ProblemBody),
        (status = 403, description = "`forbidden`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
        (status = 429, description = "`rate_limited`: this address had one this minute (any address alike); see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn send_verification_code(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<VerificationCodeRequest>,
) -> Result<(StatusCode, Json<Sent>), Problem> {
    app.services
        .admin_send_verification(&admin, UserId(id), body.channel.as_deref(), &client)
        .await?;
    Ok(sent())
}
