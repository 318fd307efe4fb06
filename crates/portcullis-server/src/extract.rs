//! Request extractors whose failures are problem+json answers: a strict JSON body, the
//! bearer token and the admin proof, path ids, query strings, and the client's address.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::StatusCode;
use portcullis_core::service::OrgAdmin;
use portcullis_core::{ClientInfo, Principal};
use serde::de::DeserializeOwned;

use crate::problem::Problem;
use crate::AppState;

/// A JSON body: `Content-Type: application/json` (415 otherwise), at most 64 KiB (413),
/// well-formed and of the right shape (400 `validation_failed` otherwise).
#[derive(Debug)]
pub(crate) struct ApiJson<T>(pub(crate) T);

fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    serde_json::from_slice(bytes).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            Category::Data => {
                Problem::bad_json(format!("The body does not have the expected fields: {e}."))
            }
            Category::Syntax | Category::Eof | Category::Io => {
                Problem::bad_json(format!("The body is not valid JSON: {e}."))
            }
        }
    })
}

async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, Problem> {
    Bytes::from_request(req, state).await.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Problem::payload_too_large()
        } else {
            Problem::bad_json("The body could not be read.")
        }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        if !is_json(ct.as_deref()) {
            // Still enforce the size limit first, so a huge body is 413 whatever its type.
            body_bytes(req, state).await?;
            return Err(Problem::unsupported_media_type());
        }
        let bytes = body_bytes(req, state).await?;
        parse_json(&bytes).map(ApiJson)
    }
}

/// Like [`ApiJson`], but an empty body reads as `T::default()` (for bodies that are optional).
#[derive(Debug)]
pub(crate) struct OptionalJson<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJson<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let ct = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        if !is_json(ct.as_deref()) {
            return Err(Problem::unsupported_media_type());
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// The signed-in caller: a valid access token whose session is live.
#[derive(Debug, Clone)]
pub(crate) struct Auth(pub(crate) Principal);

fn bearer(parts: &Parts) -> Result<&str, Problem> {
    let value = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
        Problem::unauthorized("Send an access token as Authorization: Bearer <token>.")
    })?;
    let value = value
        .to_str()
        .map_err(|_| Problem::unauthorized("The Authorization header is malformed."))?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(Problem::unauthorized(
            "Send an access token as Authorization: Bearer <token>.",
        ));
    }
    Ok(token)
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let EnrolAuth(principal) = EnrolAuth::from_request_parts(parts, state).await?;
        if principal.enrolment_only() {
            return Err(portcullis_core::AuthError::Forbidden(
                "the organization requires a second factor: enrol one (POST /v1/users/me/mfa/keys), then sign in again",
            )
            .into());
        }
        Ok(Self(principal))
    }
}

/// The signed-in caller, also when the session may only enrol a second factor: for the
/// few endpoints such a session reaches (profile, enrolment, sign-out).
#[derive(Debug, Clone)]
pub(crate) struct EnrolAuth(pub(crate) Principal);

impl FromRequestParts<AppState> for EnrolAuth {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)?;
        Ok(Self(state.services.authenticate(token).await?))
    }
}

/// A device token in `Authorization: Bearer pcd_...`, for sign-in; any other credential in
/// the header is not a device token and is ignored here.
#[derive(Debug, Clone)]
pub(crate) struct DeviceToken(pub(crate) Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for DeviceToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let token = bearer(parts)
            .ok()
            .filter(|t| t.starts_with(portcullis_core::service::DEVICE_PREFIX))
            .map(str::to_owned);
        Ok(Self(token))
    }
}

/// An administrator (`org_admin` or `system_admin`); 403 `forbidden` for anyone else.
#[derive(Debug, Clone)]
pub(crate) struct Admin(pub(crate) OrgAdmin);

impl FromRequestParts<AppState> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let Auth(principal) = Auth::from_request_parts(parts, state).await?;
        Ok(Self(state.services.admin(principal)?))
    }
}

/// A path parameter; one that does not parse names nothing, so it is 404 `not_found`.
#[derive(Debug)]
pub(crate) struct ApiPath<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(t)| Self(t))
            .map_err(|_| Problem::not_found())
    }
}

/// A query string; one that does not parse is 400 `validation_failed`.
#[derive(Debug)]
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(t)| Self(t))
            .map_err(|e| {
                Problem::bad_json(format!("The query string is invalid: {}.", e.body_text()))
            })
    }
}

/// Where the request came from: the socket peer, or, when the peer is a trusted proxy, the
/// nearest address in `X-Forwarded-For` that is not one; and the user agent.
#[derive(Debug, Clone)]
pub struct Client(pub ClientInfo);

/// The client address: `X-Forwarded-For` is read right to left, skipping trusted proxies,
/// and only when the socket peer is one of them.
fn client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded: Option<&str>,
    trusted: &[std::net::IpAddr],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    if !trusted.contains(&peer) {
        return Some(peer);
    }
    let hops = forwarded.map(|f| {
        f.split(',')
            .rev()
            .filter_map(|h| h.trim().parse::<std::net::IpAddr>().ok())
            .collect::<Vec<_>>()
    });
    hops.unwrap_or_default()
        .into_iter()
        .find(|ip| !trusted.contains(ip))
        .or(Some(peer))
}

impl FromRequestParts<AppState> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip());
        let forwarded = parts
            .headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok());
        let ip =
            client_ip(peer, forwarded, &state.settings.trusted_proxies).map(|ip| ip.to_string());
        let user_agent = parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|ua| ua.chars().take(256).collect::<String>());
        Ok(Self(ClientInfo { ip, user_agent }))
    }
}

#[cfg(test)]
mod tests {
    use super::client_ip;

    #[test]
    fn forwarded_addresses_count_only_from_trusted_proxies() {
        let ip = |s: &str| s.parse::<std::net::IpAddr>().unwrap();
        let proxy = [ip("10.0.0.1")];
        assert_eq!(
            client_ip(Some(ip("1.2.3.4")), Some("9.9.9.9"), &proxy),
            Some(ip("1.2.3.4")),
            "spoofed header ignored"
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("5.5.5.5, 9.9.9.9"), &proxy),
            Some(ip("9.9.9.9")),
            "nearest hop"
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("9.9.9.9, 10.0.0.1"), &proxy),
            Some(ip("9.9.9.9")),
            "proxies skipped"
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), None, &proxy),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), Some("garbage"), &proxy),
            Some(ip("10.0.0.1"))
        );
    }
}
