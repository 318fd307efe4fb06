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
