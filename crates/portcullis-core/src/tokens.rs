//! Access tokens: EdDSA (Ed25519) JWTs signed with keys that live, encrypted, in the store,
//! so that every node signs and verifies with the same set.

use chrono::{DateTime, Utc};
use ed25519_dalek::Signer as _;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::crypto::{MasterKey, MasterKeyError, Rng};
use crate::error::AuthError;

/// A signing key as stored: public half in clear, private seed sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Key id, the JWT `kid`.
    pub kid: String,
    /// Ed25519 public key, base64url (the JWK `x`).
    pub public_x: String,
    /// The 32-byte seed sealed by [`MasterKey::seal`].
    pub private_sealed: String,
    /// When it was made; the newest signs.
    pub created_at: DateTime<Utc>,
}

/// One usable key.
struct LiveKey {
    kid: String,
    created_at: DateTime<Utc>,
    public_x: String,
    /// Parsed once: jsonwebtoken's encoder re-reads a PKCS#8 key (and derives its public
    /// half) on every token, which doubles the cost of signing.
    signing: ed25519_dalek::SigningKey,
    decoding: DecodingKey,
}

/// The claims of an access token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessClaims {
    /// Issuer.
    pub iss: String,
    /// User id.
    pub sub: String,
    /// Session id.
    pub sid: String,
    /// Organization slug.
    pub org: String,
    /// Role names at issue time (authorization re-reads them from the store).
    pub roles: Vec<String>,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expiry, seconds since the epoch.
    pub exp: i64,
    /// Authentication methods (`pwd`, ...).
    #[serde(default)]
    pub amr: Vec<String>,
    /// Unique token id.
    pub jti: String,
}

/// The set of signing keys, newest first. Every key verifies; the one that signs is the
/// newest that has been published for `activation` (so that every node, and every relying
/// party that caches the JWKS, has seen it before a token signed with it arrives), else the
/// oldest.
pub struct KeyRing {
    issuer: String,
    keys: Vec<LiveKey>,
    activation: chrono::Duration,
}

/// The index, in a newest-first list of creation times, of the key that signs at `now`.
fn signing_index(
    created: impl ExactSizeIterator<Item = DateTime<Utc>>,
    now: DateTime<Utc>,
    activation: chrono::Duration,
) -> Option<usize> {
    let n = created.len();
    let mut created = created;
    created
        .position(|at| at <= now - activation)
        .or(n.checked_sub(1))
}

/// The key id that signs at `now`, among stored keys (any order).
pub fn signing_kid(
    stored: &[StoredSigningKey],
    now: DateTime<Utc>,
    activation: chrono::Duration,
) -> Option<String> {
    let mut sorted: Vec<&StoredSigningKey> = stored.iter().collect();
    sorted.sort_by(|a, b| {
        b.created_at
            .cmp(&a.created_at)
            .then_with(|| b.kid.cmp(&a.kid))
    });
    signing_index(sorted.iter().map(|k| k.created_at), now, activation)
        .map(|i| sorted[i].kid.clone())
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field(
                "kids",
                &self.keys.iter().map(|k| &k.kid).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A key's public part, as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Key id.
    pub kid: String,
    /// Ed25519 public key, base64url.
    pub x: String,
}

/// Makes a new Ed25519 key, its private seed sealed with `master`.
pub fn generate_signing_key(
    rng: &dyn Rng,
    master: &MasterKey,
    now: DateTime<Utc>,
) -> StoredSigningKey {
    let mut seed = Zeroizing::new([0u8; 32]);
    rng.fill(seed.as_mut());
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    let mut kid_bytes = [0u8; 12];
    rng.fill(&mut kid_bytes);
    StoredSigningKey {
        kid: URL_SAFE_NO_PAD.encode(kid_bytes),
        public_x: URL_SAFE_NO_PAD.encode(key.verifying_key().as_bytes()),
        private_sealed: master.seal(rng, seed.as_ref()),
        created_at: now,
    }
}

impl KeyRing {
    /// Opens the stored keys with the master key. Fails when the master key is not the
    /// one they were sealed with.
    pub fn open(
        issuer: &str,
        master: &MasterKey,
        stored: &[StoredSigningKey],
        activation: chrono::Duration,
    ) -> Result<Self, MasterKeyError> {
        let mut sorted: Vec<&StoredSigningKey> = stored.iter().collect();
        sorted.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.kid.cmp(&a.kid))
        });
        let mut keys = Vec::with_capacity(sorted.len());
        for s in sorted {
            let seed = master.open(&s.private_sealed)?;
            let seed: [u8; 32] = seed
                .as_slice()
                .try_into()
                .map_err(|_| MasterKeyError::Decrypt)?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let decoding = DecodingKey::from_ed_components(&s.public_x)
                .map_err(|_| MasterKeyError::Decrypt)?;
            keys.push(LiveKey {
                kid: s.kid.clone(),
                created_at: s.created_at,
                public_x: s.public_x.clone(),
                signing: key,
                decoding,
            });
        }
        Ok(Self {
            issuer: issuer.to_owned(),
            keys,
            activation,
        })
    }

    /// The issuer these tokens carry.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The public keys, for the JWKS.
    pub fn public_keys(&self) -> Vec<PublicKey> {
        self.keys
            .iter()
            .map(|k| PublicKey {
                kid: k.kid.clone(),
                x: k.public_x.clone(),
            })
            .collect()
    }

    /// Signs claims with the key active at their `iat`.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, AuthError> {
        let at = DateTime::from_timestamp(claims.iat, 0).unwrap_or_default();
        let key = signing_index(self.keys.iter().map(|k| k.created_at), at, self.activation)
            .and_then(|i| self.keys.get(i))
            .ok_or_else(|| AuthError::Internal("no signing key".into()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        // JWS compact serialisation (RFC 7515 section 7.1) by hand, with the key parsed at
        // load time; jsonwebtoken offers no encoder that keeps a parsed Ed25519 key.
        let part = |v: &dyn erased::Json| -> Result<String, AuthError> {
            Ok(URL_SAFE_NO_PAD.encode(v.to_json()?))
        };
        let mut token = part(&header)?;
        token.push('.');
        token.push_str(&part(claims)?);
        let signature = key.signing.sign(token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature.to_bytes()));
        Ok(token)
    }

    /// Checks signature, `kid`, issuer and expiry. Session liveness is checked by the caller.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<AccessClaims, AuthError> {
        let claims = self.verify_signature(token)?;
        if claims.exp <= now.timestamp() {
            return Err(AuthError::TokenInvalid);
        }
        Ok(claims)
    }

    /// The claims of a token signed by one of the keys, expired or not (for proving that a
    /// refresh token and an access token were issued together).
    pub fn verify_signature(&self, token: &str) -> Result<AccessClaims, AuthError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthError::TokenInvalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(AuthError::TokenInvalid);
        }
        let kid = header.kid.ok_or(AuthError::TokenInvalid)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(AuthError::TokenInvalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        // Expiry is checked against our Clock below, not the library's wall clock.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &key.decoding, &validation)
            .map_err(|_| AuthError::TokenInvalid)?;
        Ok(data.claims)
    }
}

/// Serialising either part of a token through one closure.
mod erased {
    use crate::error::AuthError;

    pub(super) trait Json {
        fn to_json(&self) -> Result<Vec<u8>, AuthError>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Result<Vec<u8>, AuthError> {
            serde_json::to_vec(self).map_err(|e| AuthError::Internal(format!("jwt: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::OsRng;
    use chrono::TimeZone;

    const ACT: chrono::Duration = chrono::Duration::seconds(40);

    fn claims(now: DateTime<Utc>) -> AccessClaims {
        AccessClaims {
            iss: "http://issuer".into(),
            sub: "u".into(),
            sid: "s".into(),
            org: "default".into(),
            roles: vec!["user".into()],
            iat: now.timestamp(),
            exp: now.timestamp() + 900,
            amr: vec!["pwd".into()],
            jti: "j".into(),
        }
    }

    #[test]
    fn signs_with_newest_and_verifies_with_any() {
        let master = MasterKey::generate(&OsRng);
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let old = generate_signing_key(&OsRng, &master, t0);
        let old_ring =
            KeyRing::open("http://issuer", &master, std::slice::from_ref(&old), ACT).unwrap();
        let old_token = old_ring.sign(&claims(t0)).unwrap();

        let t1 = t0 + chrono::Duration::hours(1);
        let new = generate_signing_key(&OsRng, &master, t1);
        let ring =
            KeyRing::open("http://issuer", &master, &[old.clone(), new.clone()], ACT).unwrap();
        let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
        // Published but not yet active: the old key still signs, the new one already verifies.
        assert_eq!(kid(&ring.sign(&claims(t1)).unwrap()), old.kid);
        assert_eq!(
            signing_kid(&[new.clone(), old.clone()], t1, ACT),
            Some(old.kid.clone())
        );
        let later = t1 + ACT;
        let token = ring.sign(&claims(later)).unwrap();
        assert_eq!(kid(&token), new.kid);
        assert_eq!(
            signing_kid(&[old.clone(), new.clone()], later, ACT),
            Some(new.kid.clone())
        );
        // The old key still verifies what it signed (while that lives).
        assert_eq!(ring.verify(&old_token, t0).unwrap().sub, "u");
        let t0 = later;
        assert_eq!(ring.verify(&token, t0).unwrap().sub, "u");
        assert!(
            ring.verify(&token, t0 + chrono::Duration::seconds(900))
                .is_err(),
            "expired"
        );
        let other_issuer = KeyRing::open("http://other", &master, &[old, new], ACT).unwrap();
        assert!(other_issuer.verify(&token, t0).is_err());
        assert!(KeyRing::open(
            "x",
            &MasterKey::generate(&OsRng),
            &[generate_signing_key(&OsRng, &master, t0)],
            ACT
        )
        .is_err());
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let master = MasterKey::generate(&OsRng);
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let ring = KeyRing::open(
            "http://issuer",
            &master,
            &[generate_signing_key(&OsRng, &master, t0)],
            ACT,
        )
        .unwrap();
        let token = ring.sign(&claims(t0)).unwrap();
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&AccessClaims {
                sub: "admin".into(),
                ..claims(t0)
            })
            .unwrap(),
        );
        parts[1] = &forged;
        assert!(ring.verify(&parts.join("."), t0).is_err());
        assert!(ring.verify("not a jwt", t0).is_err());
    }
}
