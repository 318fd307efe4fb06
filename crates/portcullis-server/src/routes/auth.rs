//! Registration, sign-in, refresh and sign-out.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    LoginOtpRequest, LoginRequest, Problem as ProblemBody, RefreshRequest, RegisterRequest, Sent,
    TokenPair, User,
};
use portcullis_core::service::{LoginInput, RegisterInput, SecondFactor};

use crate::convert;
use crate::extract::{ApiJson, Auth, Client, DeviceToken, EnrolAuth};
use crate::{AppState, Problem};

/// Register with email and password, or with a phone number.
#[utoipa::path(post, path = "/v1/auth/register", tag = "auth", request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new account", body = User),
        (status = 400, description = "`validation_failed` or `weak_password`", body = ProblemBody),
        (status = 403, description = "`forbidden`: self-registration is off", body = ProblemBody),
        (status = 409, description = "`duplicate`: email, phone or username taken", body = ProblemBody),
    ))]
pub(crate) async fn register(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<User>), Problem> {
    let input = RegisterInput {
        email: body.email,
        password: body.password,
        phone: body.phone,
        username: body.username,
        first_name: body.first_name,
        last_name: body.last_name,
        attributes: body.attributes,
        organization: body.organization,
        client,
    };
    let user = app.services.register(input).await?;
    Ok((StatusCode::CREATED, Json(convert::user(user))))
}

/// Sign in with an identifier (email, username or phone) and a password. A device token in
/// `Authorization: Bearer pcd_...` names the organization and binds the session to the device.
#[utoipa::path(post, path = "/v1/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, description = "A token pair", body = TokenPair),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`", body = ProblemBody),
        (status = 403, description = "`account_inactive`, or `forbidden`: the organization requires a device token", body = ProblemBody),
        (status = 503, description = "`overloaded`", body = ProblemBody),
    ))]
pub(crate) async fn login(
    State(app): State<AppState>,
    Client(client): Client,
    DeviceToken(device_token): DeviceToken,
    ApiJson(body): ApiJson<LoginRequest>,
) -> Result<Json<TokenPair>, Problem> {
    let input = LoginInput {
        identifier: body.identifier,
        password: body.password,
        organization: body.organization,
        device_token,
        second_factor: SecondFactor {
            mfa_code: body.mfa_code,
            recovery_code: body.recovery_code,
            trusted_device_token: body.trusted_device_token,
            remember_device: body.remember_device,
            passkey: body.passkey.map(convert::passkey_assertion),
        },
        password_is_sha1_hex: false,
        device_cookie: body.device_cookie,
        client,
    };
    let tokens = app.services.login(input).await?;
    Ok(Json(convert::token_pair(tokens)))
}

/// Exchange a refresh token for a new pair. The old token dies; presenting it again ends the session.
#[utoipa::path(post, path = "/v1/auth/token/refresh", tag = "auth", request_body = RefreshRequest,
    responses(
        (status = 200, description = "A new token pair", body = TokenPair),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 401, description = "`token_invalid` or `token_reused`", body = ProblemBody),
    ))]
pub(crate) async fn refresh_token(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, Problem> {
    let tokens = app.services.refresh(&body.refresh_token, &client).await?;
    Ok(Json(convert::token_pair(tokens)))
}

/// End this session.
#[utoipa::path(post, path = "/v1/auth/logout", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out"),
        (status = 401, description = "`unauthorized` or `token_invalid`", body = ProblemBody),
    ))]
pub(crate) async fn logout(
    State(app): State<AppState>,
    EnrolAuth(who): EnrolAuth,
    Client(client): Client,
) -> Result<StatusCode, Problem> {
    app.services.logout(&who, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// End every session of the signed-in user.
#[utoipa::path(post, path = "/v1/auth/logout/all", tag = "auth", security(("bearer" = [])),
    responses(
        (status = 204, description = "Signed out everywhere"),
        (status = 401, description = "`unauthorized` or `token_invalid`", body = ProblemBody),
    ))]
pub(crate) async fn logout_all(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
) -> Result<StatusCode, Problem> {
    app.services.logout_all(&who, &client).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Check the password, then send a one-time code by email or SMS as the second factor;
/// finish with `POST /v1/auth/login` and `mfa_code`.
#[utoipa::path(post, path = "/v1/auth/login/otp", tag = "auth", request_body = LoginOtpRequest,
    responses(
        (status = 202, description = "The code is on its way", body = Sent),
        (status = 400, description = "`validation_failed`: no verified address for the channel", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`", body = ProblemBody),
        (status = 403, description = "`account_inactive` or `forbidden`", body = ProblemBody),
        (status = 429, description = "`rate_limited`: a code went to this address this minute; see `Retry-After`", body = ProblemBody),
    ))]
pub(crate) async fn login_otp(
    State(app): State<AppState>,
    Client(client): Client,
    DeviceToken(device_token): DeviceToken,
    ApiJson(body): ApiJson<LoginOtpRequest>,
) -> Result<(StatusCode, Json<Sent>), Problem> {
    let input = LoginInput {
        identifier: body.identifier,
        password: body.password,
        organization: body.organization,
        device_token,
        second_factor: SecondFactor::default(),
        password_is_sha1_hex: false,
        device_cookie: None,
        client,
    };
    app.services
        .request_login_otp(
            input,
            body.channel.as_deref(),
            portcullis_core::service::OtpTo::Proven,
        )
        .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(Sent {
            status: "sent".to_owned(),
        }),
    ))
}
