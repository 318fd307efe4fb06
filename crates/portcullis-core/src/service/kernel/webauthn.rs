//! The WebAuthn relying party of a domain and its origins, built (and so checked) once
//! for the server at start and for each organization that has a domain of its own.

use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

use crate::error::AuthError;

/// The WebAuthn verifier of a relying party.
pub(crate) fn relying_party(
    rp_id: &str,
    origins: &[String],
    name: &str,
) -> Result<Webauthn, AuthError> {
    let bad = |e: String| AuthError::Internal(format!("WebAuthn relying party {rp_id}: {e}"));
    let urls = origins
        .iter()
        .map(|o| Url::parse(o).map_err(|e| bad(format!("origin {o}: {e}"))))
        .collect::<Result<Vec<Url>, AuthError>>()?;
    let first = urls
        .first()
        .ok_or_else(|| bad("no origin configured".to_owned()))?;
    let mut builder = WebauthnBuilder::new(rp_id, first)
        .map_err(|e| bad(e.to_string()))?
        .rp_name(name)
        // On a developer's machine the port is whatever the server got.
        .allow_any_port(rp_id == "localhost");
    for url in &urls[1..] {
        builder = builder.append_allowed_origin(url);
    }
    builder.build().map_err(|e| bad(e.to_string()))
}
