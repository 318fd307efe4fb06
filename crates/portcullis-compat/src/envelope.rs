//! What the dialects share: reading a JSON body whatever its declared type (the reference
//! clients are not all careful with `Content-Type`), and what went wrong with it, for each
//! dialect to put in its own envelope.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

/// Why a body could not be read.
#[derive(Debug)]
pub(crate) enum BodyError {
    /// Over the server's body limit.
    TooLarge,
    /// Not JSON, or not the expected shape; the text says where.
    Malformed(String),
}

/// The body as `T`; an empty body reads as `T::default()` (all fields absent), so that
/// missing fields are reported by the dialect's own validation.
pub(crate) fn json<T: DeserializeOwned + Default>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, BodyError> {
    let bytes = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            BodyError::TooLarge
        } else {
            BodyError::Malformed("the body could not be read".to_owned())
        }
    })?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(&bytes).map_err(|e| BodyError::Malformed(e.to_string()))
}

/// A JSON answer with this status, and `Retry-After` when a wait is known.
pub(crate) fn answer(
    status: StatusCode,
    body: serde_json::Value,
    retry_after: Option<u64>,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    let mut res = (status, axum::Json(body)).into_response();
    if let Some(v) =
        retry_after.and_then(|s| axum::http::HeaderValue::from_str(&s.to_string()).ok())
    {
        res.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
    }
    res
}

/// A string field: trimmed, and absent when empty.
pub(crate) fn given(v: Option<&str>) -> Option<&str> {
    v.map(str::trim).filter(|s| !s.is_empty())
}

/// RFC 3339 with milliseconds and `Z`, as JavaScript's `Date.toISOString()` writes it.
pub(crate) fn js_time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The token of `Authorization: Bearer <token>`. `Bearer` alone, and the placeholders the
/// reference clients send for a missing token (`None` from Python, `null`/`undefined` from
/// JavaScript), are none.
pub(crate) fn bearer(headers: &axum::http::HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .trim();
    let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer")
        && !token.is_empty()
        && !matches!(token, "None" | "null" | "undefined"))
    .then_some(token)
}

#[cfg(test)]
mod tests {
    use axum::http::{header, HeaderMap, HeaderValue};

    #[test]
    fn empty_and_placeholder_bearers_are_no_token() {
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            super::bearer(&h).map(str::to_owned)
        };
        for none in [
            "Bearer",
            "Bearer ",
            "Bearer None",
            "Bearer null",
            "Basic abc",
        ] {
            assert_eq!(with(none), None, "{none}");
        }
        assert_eq!(with("bearer abc").as_deref(), Some("abc"));
        assert_eq!(super::bearer(&HeaderMap::new()), None);
    }
}
