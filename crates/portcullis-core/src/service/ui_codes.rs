//! The hosted pages' hand-off to an application: after a sign-in on `/ui/`, the browser goes
//! back to the application with a single-use code, which the application's back end
//! exchanges, with its PKCE verifier (RFC 7636, S256), for a token pair of its own. Tokens
//! never travel in a URL.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use tracing::instrument;

use super::kernel::sign_in::Tokens;
use super::{Principal, Services};
use crate::audit::{AuditKind, ClientInfo};
use crate::crypto::{ct_eq, hash_token, random_token};
use crate::error::AuthError;
use crate::store::UiCode;

/// How long a hand-off code lives.
const UI_CODE_SECS: i64 = 60;

/// Whether `s` is a PKCE value of RFC 7636's shape: 43 to 128 unreserved characters.
fn pkce_shaped(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Checks a PKCE challenge before a sign-in page is shown: S256 only.
pub fn check_code_challenge(challenge: &str, method: &str) -> Result<(), AuthError> {
    if method != "S256" {
        return Err(AuthError::invalid("code_challenge_method", "must be S256"));
    }
    if challenge.len() != 43 || !pkce_shaped(challenge) {
        return Err(AuthError::invalid(
            "code_challenge",
            "must be the base64url SHA-256 of the verifier (43 characters)",
        ));
    }
    Ok(())
}

impl Services {
    /// A hand-off code for the caller's sign-in, for the application that sent `challenge`.
    #[instrument(skip_all, fields(user.id = %who.user.id))]
    pub async fn issue_ui_code(
        &self,
        who: &Principal,
        challenge: &str,
        method: &str,
    ) -> Result<String, AuthError> {
        check_code_challenge(challenge, method)?;
        let code = random_token(self.rng.as_ref());
        let now = self.now();
        self.store
            .insert_ui_code(
                &UiCode {
                    code_hash: hash_token(&code),
                    user_id: who.user.id,
                    challenge: challenge.to_owned(),
                    amr: who.claims.amr.clone(),
                    expires_at: now + chrono::Duration::seconds(UI_CODE_SECS),
                },
                now,
            )
            .await?;
        Ok(code)
    }

    /// `POST /v1/auth/ui-code/exchange`: the code (once, within a minute) and the verifier
    /// whose SHA-256 is its challenge give a new session's token pair.
    #[instrument(skip_all)]
    pub async fn exchange_ui_code(
        &self,
        code: &str,
        verifier: &str,
        client: &ClientInfo,
    ) -> Result<Tokens, AuthError> {
        self.rate_limit(client, super::kernel::limits::Limit::Client)
            .await?;
        if code.is_empty() || code.len() > 128 {
            return Err(AuthError::CodeInvalid);
        }
        if !pkce_shaped(verifier) {
            return Err(AuthError::invalid(
                "code_verifier",
                "must be 43 to 128 unreserved characters (RFC 7636)",
            ));
        }
        // Taken out first: a code serves once, whatever comes next.
        let stored = self
            .store
            .take_ui_code(&hash_token(code))
            .await?
            .ok_or(AuthError::CodeInvalid)?;
        if stored.expires_at <= self.now() {
            return Err(AuthError::CodeExpired);
        }
        let computed = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        if !ct_eq(computed.as_bytes(), stored.challenge.as_bytes()) {
            return Err(AuthError::CodeInvalid);
        }
        let user = self
            .store
            .user_by_id(stored.user_id)
            .await?
            .ok_or(AuthError::CodeInvalid)?;
        if !user.active {
            return Err(AuthError::Inactive);
        }
        let org = self
            .store
            .org_by_id(user.org_id)
            .await?
            .ok_or(AuthError::CodeInvalid)?;
        self.audit(
            self.event(AuditKind::LoginSucceeded, org.id, client)
                .user(user.id)
                .actor(user.id)
                .detail("method", "ui_code"),
        )
        .await;
        self.start_session(&org, user, stored.amr, client, None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_s256_challenges_of_the_right_shape() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        // RFC 7636, appendix B.
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(check_code_challenge(&challenge, "S256").is_ok());
        assert!(check_code_challenge(&challenge, "plain").is_err());
        assert!(check_code_challenge("short", "S256").is_err());
        assert!(check_code_challenge(&format!("{}!", &challenge[1..]), "S256").is_err());
        assert!(pkce_shaped(verifier));
        assert!(!pkce_shaped("x"));
    }
}
