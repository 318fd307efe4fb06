//! Passkeys: registration (after re-authentication), list, rename, delete; passwordless
//! sign-in with a discoverable credential; an admin's view.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use portcullis_api::{
    Passkey, PasskeyChallenge, PasskeyList, PasskeyRegisterFinish, PasskeyRename,
    PasskeySignInFinish, PasskeySignInStart, Problem as ProblemBody, Reauthentication, TokenPair,
};
use portcullis_core::service::{PasskeyAssertion, Proof};
use portcullis_core::UserId;
use uuid::Uuid;

use crate::convert;
use crate::extract::{Admin, ApiJson, ApiPath, Auth, Client, EnrolAuth, OptionalJson};
use crate::{AppState, Problem};

/// Begin registering a passkey (re-authenticate with the password or a current code).
#[utoipa::path(post, path = "/v1/users/me/passkeys/register/start", tag = "passkeys", security(("bearer" = [])),
    request_body = Reauthentication,
    responses(
        (status = 200, description = "Options for `navigator.credentials.create()`", body = PasskeyChallenge),
        (status = 400, description = "`validation_failed`: no password", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`: wrong password or code", body = ProblemBody),
        (status = 403, description = "`forbidden`: guest account", body = ProblemBody),
    ))]
pub(crate) async fn register_start(
    State(app): State<AppState>,
    EnrolAuth(who): EnrolAuth,
    Client(client): Client,
    OptionalJson(body): OptionalJson<Reauthentication>,
) -> Result<Json<PasskeyChallenge>, Problem> {
    let proof = Proof::Secret {
        password: body.password.as_deref(),
        mfa_code: body.mfa_code.as_deref(),
    };
    let started = app
        .services
        .passkey_register_start(&who, proof, &client)
        .await?;
    Ok(Json(convert::passkey_challenge(started)))
}

/// Finish registering a passkey with the browser's result.
#[utoipa::path(post, path = "/v1/users/me/passkeys/register/finish", tag = "passkeys", security(("bearer" = [])),
    request_body = PasskeyRegisterFinish,
    responses(
        (status = 201, body = Passkey),
        (status = 400, description = "`validation_failed` (a credential that is not one, or was refused: wrong origin, ...), `code_invalid` (no such ceremony, or used), `code_expired`", body = ProblemBody),
        (status = 409, description = "`duplicate`: that credential is registered", body = ProblemBody),
    ))]
pub(crate) async fn register_finish(
    State(app): State<AppState>,
    EnrolAuth(who): EnrolAuth,
    Client(client): Client,
    ApiJson(body): ApiJson<PasskeyRegisterFinish>,
) -> Result<(StatusCode, Json<Passkey>), Problem> {
    let made = app
        .services
        .passkey_register_finish(
            &who,
            body.challenge_id,
            body.credential,
            body.name.as_deref(),
            &client,
        )
        .await?;
    Ok((StatusCode::CREATED, Json(convert::passkey(made))))
}

/// The own passkeys.
#[utoipa::path(get, path = "/v1/users/me/passkeys", tag = "passkeys", security(("bearer" = [])),
    responses((status = 200, body = PasskeyList)))]
pub(crate) async fn list(
    State(app): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<PasskeyList>, Problem> {
    Ok(Json(convert::passkeys(
        app.services.passkeys_of(who.user.id).await?,
    )))
}

/// Rename an own passkey.
#[utoipa::path(patch, path = "/v1/users/me/passkeys/{id}", tag = "passkeys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Passkey id")), request_body = PasskeyRename,
    responses(
        (status = 200, body = Passkey),
        (status = 400, description = "`validation_failed`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn rename(
    State(app): State<AppState>,
    Auth(who): Auth,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<PasskeyRename>,
) -> Result<Json<Passkey>, Problem> {
    let renamed = app.services.rename_passkey(&who, id, &body.name).await?;
    Ok(Json(convert::passkey(renamed)))
}

/// Delete an own passkey (re-authenticate with the password or a current code).
#[utoipa::path(delete, path = "/v1/users/me/passkeys/{id}", tag = "passkeys", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "Passkey id")), request_body = Reauthentication,
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "`validation_failed`: no password", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`", body = ProblemBody),
        (status = 404, description = "`not_found`", body = ProblemBody),
    ))]
pub(crate) async fn delete(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiPath(id): ApiPath<Uuid>,
    OptionalJson(body): OptionalJson<Reauthentication>,
) -> Result<StatusCode, Problem> {
    let proof = Proof::Secret {
        password: body.password.as_deref(),
        mfa_code: body.mfa_code.as_deref(),
    };
    app.services
        .delete_my_passkey(&who, id, proof, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Begin a sign-in with a passkey (or the passkey step after a password).
#[utoipa::path(post, path = "/v1/auth/passkey/start", tag = "passkeys", request_body = PasskeySignInStart,
    responses(
        (status = 200, description = "Options for `navigator.credentials.get()`", body = PasskeyChallenge),
        (status = 400, description = "`validation_failed`: no such organization", body = ProblemBody),
        (status = 429, description = "`rate_limited`", body = ProblemBody),
    ))]
pub(crate) async fn sign_in_start(
    State(app): State<AppState>,
    Client(client): Client,
    OptionalJson(body): OptionalJson<PasskeySignInStart>,
) -> Result<Json<PasskeyChallenge>, Problem> {
    let started = app
        .services
        .passkey_sign_in_start(body.organization.as_deref(), &client)
        .await?;
    Ok(Json(convert::passkey_challenge(started)))
}

/// Sign in with a passkey: a token pair.
#[utoipa::path(post, path = "/v1/auth/passkey/finish", tag = "passkeys", request_body = PasskeySignInFinish,
    responses(
        (status = 200, description = "A token pair", body = TokenPair),
        (status = 400, description = "`validation_failed`: not a credential", body = ProblemBody),
        (status = 401, description = "`invalid_credentials`: unknown, used or expired ceremony, unknown or deleted credential, wrong origin, bad signature, or a counter gone backwards", body = ProblemBody),
        (status = 403, description = "`account_inactive`", body = ProblemBody),
        (status = 429, description = "`rate_limited`", body = ProblemBody),
    ))]
pub(crate) async fn sign_in_finish(
    State(app): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<PasskeySignInFinish>,
) -> Result<Json<TokenPair>, Problem> {
    let assertion = PasskeyAssertion {
        challenge_id: body.challenge_id,
        credential: body.credential,
    };
    let tokens = app
        .services
        .passkey_sign_in_finish(body.organization.as_deref(), &assertion, &client)
        .await?;
    Ok(Json(convert::token_pair(tokens)))
}

/// A user's passkeys (admin).
#[utoipa::path(get, path = "/v1/users/{id}/passkeys", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id")),
    responses((status = 200, body = PasskeyList), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn admin_list(
    State(app): State<AppState>,
    Admin(admin): Admin,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PasskeyList>, Problem> {
    Ok(Json(convert::passkeys(
        app.services.admin_passkeys(&admin, UserId(id)).await?,
    )))
}

/// Delete a user's passkey (admin).
#[utoipa::path(delete, path = "/v1/users/{id}/passkeys/{passkey_id}", tag = "admin", security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "User id"), ("passkey_id" = Uuid, Path, description = "Passkey id")),
    responses((status = 204, description = "Deleted"), (status = 403, description = "`forbidden`", body = ProblemBody), (status = 404, description = "`not_found`", body = ProblemBody)))]
pub(crate) async fn admin_delete(
    State(app): State<AppState>,
    Admin(admin): Admin,
    Client(client): Client,
    ApiPath((id, passkey)): ApiPath<(Uuid, Uuid)>,
) -> Result<StatusCode, Problem> {
    app.services
        .admin_delete_passkey(&admin, UserId(id), passkey, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
