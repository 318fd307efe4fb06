//! The OpenID provider's JSON endpoints: token, userinfo, introspection and revocation,
//! answering in RFC 6749's error shape; and the authorizations a user gave. (The browser
//! endpoints, authorization and logout, are the hosted pages'.)

use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, PRAGMA, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use portcullis_api::{
    AuthorizationList, Introspection, OAuthError, Problem as ProblemBody, TokenQuery, TokenRequest,
    TokenResponse, UserInfo, UserInfoForm,
};
use portcullis_core::oidc::OidcError;
use portcullis_core::service::{ClientCredentials, TokenForm};
use serde::de::DeserializeOwned;

use crate::extract::{ApiPath, Auth, Client};
use crate::{AppState, Problem, Unexpected};

/// An error of these endpoints, answered as RFC 6749 section 5.2 (and RFC 6750 section 3
/// for bearer tokens) says.
pub(crate) struct OAuthFailure(OidcError);

impl From<OidcError> for OAuthFailure {
    fn from(e: OidcError) -> Self {
        Self(e)
    }
}

impl IntoResponse for OAuthFailure {
    fn into_response(self) -> Response {
        let e = self.0;
        let body = OAuthError {
            error: e.code().to_owned(),
            error_description: match &e {
                // The cause of a failure goes to the log, not to the client.
                OidcError::Failed(_) => None,
                other => Some(other.to_string()),
            },
        };
        let (status, challenge) = match &e {
            OidcError::InvalidClient => (
                StatusCode::UNAUTHORIZED,
                Some(r#"Basic realm="portcullis""#.to_owned()),
            ),
            OidcError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                Some(r#"Bearer error="invalid_token""#.to_owned()),
            ),
            OidcError::InsufficientScope(_) => (
                StatusCode::FORBIDDEN,
                Some(r#"Bearer error="insufficient_scope", scope="openid""#.to_owned()),
            ),
            _ => (StatusCode::BAD_REQUEST, None),
        };
        let mut res = (status, Json(body)).into_response();
        if let Some(c) = challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            res.headers_mut().insert(WWW_AUTHENTICATE, c);
        }
        if let OidcError::Failed(failure) = e {
            return Unexpected::of(failure).apply(res);
        }
        res
    }
}

/// A form body's fields, each at most once (RFC 6749 section 3.2): a repeated or unreadable
/// form is `invalid_request`.
fn form<T: DeserializeOwned>(headers: &HeaderMap, body: &[u8]) -> Result<T, OidcError> {
    let form_typed = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !form_typed && !body.is_empty() {
        return Err(OidcError::request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body)
        .map_err(|_| OidcError::request("the form could not be read"))?;
    let mut map = serde_json::Map::new();
    for (name, value) in pairs {
        if map.contains_key(&name) {
            return Err(OidcError::request(format!(
                "{name} was sent more than once"
            )));
        }
        map.insert(name, serde_json::Value::String(value));
    }
    serde_json::from_value(serde_json::Value::Object(map))
        .map_err(|_| OidcError::request("the form could not be read"))
}

/// One value of `application/x-www-form-urlencoded` decoded: RFC 6749 section 2.3.1 has the
/// client id and secret form-encoded before they are put in a Basic header.
fn form_decoded(raw: &str) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(&format!("v={raw}")).ok()?;
    pairs.into_iter().next().map(|(_, v)| v)
}

/// The client's credentials from `Authorization: Basic` and the form.
fn credentials(
    headers: &HeaderMap,
    client_id: Option<String>,
    client_secret: Option<String>,
) -> Result<ClientCredentials, OidcError> {
    let basic = match headers.get(AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value.to_str().map_err(|_| OidcError::InvalidClient)?;
            let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OidcError::InvalidClient);
            }
            let decoded = STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(OidcError::InvalidClient)?;
            let (id, secret) = decoded.split_once(':').ok_or(OidcError::InvalidClient)?;
            Some((
                form_decoded(id).ok_or(OidcError::InvalidClient)?,
                form_decoded(secret).ok_or(OidcError::InvalidClient)?,
            ))
        }
    };
    Ok(ClientCredentials {
        basic,
        client_id: client_id.filter(|s| !s.is_empty()),
        client_secret: client_secret.filter(|s| !s.is_empty()),
    })
}

/// An answer that no cache may keep (RFC 6749 section 5.1).
fn no_store<T: serde::Serialize>(body: T) -> Response {
    let mut res = Json(body).into_response();
    res.headers_mut()
        .insert(PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// The token endpoint: authorization code (with PKCE), refresh token, client credentials.
#[utoipa::path(post, path = "/oauth2/token", tag = "oauth",
    request_body(content = TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Tokens", body = TokenResponse),
        (status = 400, description = "`invalid_request`, `invalid_grant`, `unauthorized_client`, `unsupported_grant_type` or `invalid_scope`", body = OAuthError),
        (status = 401, description = "`invalid_client`", body = OAuthError),
    ))]
pub(crate) async fn token(
    State(app): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthFailure> {
    let f: TokenForm = form(&headers, &body)?;
    let creds = credentials(&headers, f.client_id.clone(), f.client_secret.clone())?;
    let answer = app.services.token(&f, &creds, &client).await?;
    Ok(no_store(TokenResponse {
        access_token: answer.access_token,
        token_type: answer.token_type.to_owned(),
        expires_in: answer.expires_in,
        scope: answer.scope,
        id_token: answer.id_token,
        refresh_token: answer.refresh_token,
    }))
}

/// The bearer token of a userinfo request: the header, or (POST) the form's `access_token`.
fn userinfo_token(method: &Method, headers: &HeaderMap, body: &[u8]) -> Result<String, OidcError> {
    let from_header = match headers.get(AUTHORIZATION) {
        Some(v) => {
            let v = v.to_str().map_err(|_| OidcError::InvalidToken)?;
            let (scheme, token) = v.trim().split_once(' ').unwrap_or((v, ""));
            if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
                return Err(OidcError::InvalidToken);
            }
            Some(token.trim().to_owned())
        }
        None => None,
    };
    let from_body = if method == Method::POST && !body.is_empty() {
        form::<UserInfoForm>(headers, body)?.access_token
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(OidcError::request("send the token one way, not two")),
        (Some(t), None) | (None, Some(t)) => Ok(t),
        (None, None) => Err(OidcError::InvalidToken),
    }
}

async fn userinfo(
    app: &AppState,
    method: &Method,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, OAuthFailure> {
    let token = userinfo_token(method, headers, body)?;
    let claims = app.services.userinfo(&token).await?;
    Ok(no_store(serde_json::Value::Object(claims)))
}

/// The signed-in user's claims, by the access token's scopes.
#[utoipa::path(get, path = "/oauth2/userinfo", tag = "oauth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Claims", body = UserInfo),
        (status = 401, description = "`invalid_token`", body = OAuthError),
        (status = 403, description = "`insufficient_scope`: the token lacks `openid`", body = OAuthError),
    ))]
pub(crate) async fn userinfo_get(
    State(app): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, OAuthFailure> {
    userinfo(&app, &Method::GET, &headers, &[]).await
}

/// The same, with the token in the header or the form body.
#[utoipa::path(post, path = "/oauth2/userinfo", tag = "oauth",
    request_body(content = UserInfoForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Claims", body = UserInfo),
        (status = 400, description = "`invalid_request`", body = OAuthError),
        (status = 401, description = "`invalid_token`", body = OAuthError),
        (status = 403, description = "`insufficient_scope`", body = OAuthError),
    ))]
pub(crate) async fn userinfo_post(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthFailure> {
    userinfo(&app, &Method::POST, &headers, &body).await
}

/// Token introspection (RFC 7662), for the client the token was issued to.
#[utoipa::path(post, path = "/oauth2/introspect", tag = "oauth",
    request_body(content = TokenQuery, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "What the token is; `{\"active\": false}` for anything not a live token of the caller", body = Introspection),
        (status = 400, description = "`invalid_request`", body = OAuthError),
        (status = 401, description = "`invalid_client`", body = OAuthError),
    ))]
pub(crate) async fn introspect(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthFailure> {
    let q: TokenQuery = form(&headers, &body)?;
    let creds = credentials(&headers, q.client_id.clone(), q.client_secret.clone())?;
    let answer = app.services.introspect(&creds, &q.token).await?;
    Ok(no_store(answer))
}

/// Token revocation (RFC 7009): ends the session behind a token of the calling client.
#[utoipa::path(post, path = "/oauth2/revoke", tag = "oauth",
    request_body(content = TokenQuery, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Revoked, or not a token of the caller (the same answer)"),
        (status = 400, description = "`invalid_request`", body = OAuthError),
        (status = 401, description = "`invalid_client`", body = OAuthError),
    ))]
pub(crate) async fn revoke(
    State(app): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, OAuthFailure> {
    let q: TokenQuery = form(&headers, &body)?;
    let creds = credentials(&headers, q.client_id.clone(), q.client_secret.clone())?;
    app.services.revoke_token(&creds, &q.token, &client).await?;
    Ok(StatusCode::OK.into_response())
}

/// The applications the caller authorized.
#[utoipa::path(get, path = "/v1/users/me/authorizations", tag = "users",
    security(("bearer" = [])),
    responses((status = 200, body = AuthorizationList)))]
pub(crate) async fn list_authorizations(
    State(app): State<AppState>,
    Auth(who): Auth,
) -> Result<Json<AuthorizationList>, Problem> {
    let items = app
        .services
        .authorizations(&who)
        .await?
        .into_iter()
        .map(|a| portcullis_api::Authorization {
            client_id: a.client_id,
            client_name: a.client_name,
            scope: a.scope,
            granted_at: a.granted_at,
        })
        .collect();
    Ok(Json(AuthorizationList { items }))
}

/// Withdraws an authorization: the application's sessions for the caller end, and it must
/// ask again.
#[utoipa::path(delete, path = "/v1/users/me/authorizations/{client_id}", tag = "users",
    security(("bearer" = [])),
    params(("client_id" = uuid::Uuid, Path)),
    responses(
        (status = 204, description = "Withdrawn"),
        (status = 404, description = "`not_found`: no such authorization", body = ProblemBody),
    ))]
pub(crate) async fn revoke_authorization(
    State(app): State<AppState>,
    Auth(who): Auth,
    Client(client): Client,
    ApiPath(client_id): ApiPath<uuid::Uuid>,
) -> Result<StatusCode, Problem> {
    app.services
        .revoke_authorization(&who, client_id, &client)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
