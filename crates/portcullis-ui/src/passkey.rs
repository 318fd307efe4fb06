//! The JSON end of the passkey script: ceremonies for enrolling a passkey on the account
//! page and signing in with one. CSRF-checked like every form; errors as `{"error": ...}`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_extra::extract::cookie::CookieJar;
use portcullis_core::service::{PasskeyAssertion, PasskeyChallenge, Proof};
use portcullis_core::AuthError;
use portcullis_server::{AppState, Client};
use serde::Deserialize;
use serde_json::json;

use crate::public::complete;
use crate::web::{answer, say, Flow, Posted, Signed};

fn failed(e: &AuthError) -> Response {
    let status = match e {
        AuthError::InvalidCredentials | AuthError::Unauthorized | AuthError::TokenInvalid => {
            StatusCode::UNAUTHORIZED
        }
        AuthError::Forbidden(_) | AuthError::Inactive | AuthError::Locked { .. } => {
            StatusCode::FORBIDDEN
        }
        AuthError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::BAD_REQUEST,
    };
    answer(
        e,
        (status, Json(json!({ "error": say(e) }))).into_response(),
    )
}

fn challenge(c: PasskeyChallenge) -> Response {
    let PasskeyChallenge {
        challenge_id,
        options,
    } = c;
    Json(json!({ "challenge_id": challenge_id, "options": options })).into_response()
}

#[derive(Deserialize)]
pub(crate) struct PasswordForm {
    #[serde(default)]
    password: String,
}

pub(crate) async fn register_start(s: Signed, Posted(f): Posted<PasswordForm>) -> Response {
    match s
        .services
        .passkey_register_start(&s.who, Proof::password(Some(&f.password)), &s.client)
        .await
    {
        Ok(c) => challenge(c),
        Err(e) => failed(&e),
    }
}

#[derive(Deserialize)]
pub(crate) struct RegisterForm {
    challenge_id: uuid::Uuid,
    credential: serde_json::Value,
    #[serde(default)]
    name: String,
}

pub(crate) async fn register_finish(s: Signed, Posted(f): Posted<RegisterForm>) -> Response {
    match s
        .services
        .passkey_register_finish(
            &s.who,
            f.challenge_id,
            f.credential,
            Some(&f.name),
            &s.client,
        )
        .await
    {
        Ok(p) => Json(json!({ "id": p.id, "name": p.name })).into_response(),
        Err(e) => failed(&e),
    }
}

#[derive(Deserialize)]
pub(crate) struct StartForm {
    #[serde(default)]
    org: Option<String>,
}

/// A sign-in ceremony (passwordless, or the second step after a password).
pub(crate) async fn sign_in_start(
    State(app): State<AppState>,
    Client(client): Client,
    Posted(f): Posted<StartForm>,
) -> Response {
    let org = f.org.filter(|o| !o.trim().is_empty());
    match app
        .services()
        .passkey_sign_in_start(org.as_deref(), &client)
        .await
    {
        Ok(c) => challenge(c),
        Err(e) => failed(&e),
    }
}

#[derive(Deserialize)]
pub(crate) struct FinishForm {
    challenge_id: uuid::Uuid,
    credential: serde_json::Value,
    #[serde(flatten)]
    flow: Flow,
}

/// Signs in with a passkey: the page session starts; answers where to go next.
pub(crate) async fn sign_in_finish(
    State(app): State<AppState>,
    Client(client): Client,
    jar: CookieJar,
    Posted(f): Posted<FinishForm>,
) -> Response {
    let services = Arc::clone(app.services());
    let org = match services.organization(Some(f.flow.org())).await {
        Ok(o) => o,
        Err(e) => return failed(&e),
    };
    if let Some(problem) = f.flow.problem(&services, &org) {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": problem }))).into_response();
    }
    let assertion = PasskeyAssertion {
        challenge_id: f.challenge_id,
        credential: f.credential,
    };
    let tokens = match services
        .passkey_sign_in_finish(Some(&org.slug), &assertion, &client)
        .await
    {
        Ok(t) => t,
        Err(e) => return failed(&e),
    };
    let (jar, location) = complete(&services, jar, &f.flow, &tokens, &client).await;
    (jar, Json(json!({ "location": location }))).into_response()
}
