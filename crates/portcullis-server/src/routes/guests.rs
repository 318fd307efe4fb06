//! Guest accounts: made without credentials, upgraded in place.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{AnonymousRequest, Problem as ProblemBody, RegisterRequest, TokenPair, User};
use portcullis_core::service::RegisterInput;

use crate::convert;
use crate::extract::{ApiJson, Auth, Client, OptionalJson};
use crate::{AppState, Problem};

/// Make a guest account (where the organization allows it) and sign it in.
#[utoipa::path(post, path = "/v1/auth/register/anonymous", tag = "auth", request_body = AnonymousRequest,
    responses(
        (status = 201, description = "A token pair for the new guest", body = TokenPair),
        (status = 400, description = "`validation_failed`: no such organization", body = ProblemBody),
        (status = 403, description = "`forbidden`: the organization does not allow guests", body = ProblemBody),
    ))]
pub(crate) async fn register_anonymous(
    State(app): State<AppState>,
    Client(client): Client,
    OptionalJson(body): OptionalJson<AnonymousRequest>,
) -> Result<(StatusCode, Json<TokenPair>), Problem> {
    let tokens = app
        .services
        .register_anonymous(body.organization.as_deref(), &client)
        .await?;
    Ok((StatusCode::CREATED, Json(convert::token_pair(tokens))))
}

/// Turn the signed-in guest account into a full one (email and password, or phone), keeping its id and data.
#[utoipa::path(post, path = "/v1/users/me/upgrade", tag = "me", security(("bearer" = [])), request_body = RegisterRequest,
    responses(
        (status = 200, body = User),
        (status = 400, description = "`validation_failed` (also: not a guest) or `weak_password`", body = ProblemBody),
        (status = 409, description = "`duplicate`", body = ProblemBody),
    ))]
pub(crate) async fn upgrade_me(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<Json<User>, Problem> {
    let input = RegisterInput {
        email: body.email,
        password: body.password,
        phone: body.phone,
        username: body.username,
        first_name: body.first_name,
        last_name: body.last_name,
        attributes: None,
        organization: None,
        client,
    };
    Ok(Json(convert::user(
        app.services.upgrade_me(&who, input).await?,
    )))
}
