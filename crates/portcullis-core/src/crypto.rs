//! Randomness, token hashing, and encryption at rest with the master key.

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The source of secret randomness.
pub trait Rng: Send + Sync {
    /// Fills `dest` with unpredictable bytes.
    fn fill(&self, dest: &mut [u8]);
}

/// The operating system's CSPRNG.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsRng;

impl Rng for OsRng {
    fn fill(&self, dest: &mut [u8]) {
        // getrandom only fails when the OS has no entropy source at all; nothing secure
        // can be done then.
        #[expect(clippy::expect_used, reason = "no entropy means no security; stop")]
        getrandom::getrandom(dest).expect("the operating system's random source failed");
    }
}

/// A fresh 256-bit secret, base64url without padding (43 characters).
pub fn random_token(rng: &dyn Rng) -> String {
    let mut bytes = Zeroizing::new([0u8; 32]);
    rng.fill(bytes.as_mut());
    URL_SAFE_NO_PAD.encode(bytes.as_ref())
}

/// SHA-256 of a high-entropy token, hex: the only form in which tokens are stored.
/// (A fast hash is right here: the tokens are 256-bit random, so there is nothing to
/// brute-force, and look-ups must be by exact hash.)
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Errors of the master key.
#[derive(Debug, thiserror::Error)]
pub enum MasterKeyError {
    /// The key text is not 32 bytes of base64.
    #[error("the master key must be 32 bytes, base64-encoded")]
    Malformed,
    /// The ciphertext was not made with this key, or was altered.
    #[error("data could not be decrypted with this master key")]
    Decrypt,
}

/// The AES-256-GCM key that encrypts secrets at rest (signing keys, TOTP secrets).
#[derive(Clone)]
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(..)")
    }
}

impl MasterKey {
    /// A new random key.
    pub fn generate(rng: &dyn Rng) -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        rng.fill(key.as_mut());
        Self(key)
    }

    /// Reads a base64 (standard or url-safe) 32-byte key; surrounding white space is ignored.
    pub fn from_base64(text: &str) -> Result<Self, MasterKeyError> {
        let text = text.trim();
        let bytes = Zeroizing::new(
            STANDARD
                .decode(text)
                .or_else(|_| URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')))
                .map_err(|_| MasterKeyError::Malformed)?,
        );
        let arr: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| MasterKeyError::Malformed)?;
        Ok(Self(Zeroizing::new(arr)))
    }

    /// Standard base64, for writing the key file.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(STANDARD.encode(self.0.as_ref()))
    }

    /// A 32-byte key for one purpose, derived from the master key (`label` keeps purposes
    /// apart), such as the pepper of code hashes.
    pub fn derive(&self, label: &str) -> Zeroizing<[u8; 32]> {
        let mut h = Sha256::new();
        h.update(b"portcullis/derive/");
        h.update(label.as_bytes());
        h.update([0u8]);
        h.update(self.0.as_ref());
        Zeroizing::new(h.finalize().into())
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(self.0.as_ref().into())
    }

    /// Encrypts `plain`; the answer is base64 of nonce || ciphertext.
    pub fn seal(&self, rng: &dyn Rng, plain: &[u8]) -> String {
        let mut nonce = [0u8; 12];
        rng.fill(&mut nonce);
        // Encryption with a valid key and a 12-byte nonce cannot fail.
        let ct = self
            .cipher()
            .encrypt(Nonce::from_slice(&nonce), plain)
            .unwrap_or_default();
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ct);
        STANDARD.encode(out)
    }

    /// Decrypts what [`MasterKey::seal`] made.
    pub fn open(&self, sealed: &str) -> Result<Zeroizing<Vec<u8>>, MasterKeyError> {
        let raw = STANDARD
            .decode(sealed)
            .map_err(|_| MasterKeyError::Decrypt)?;
        if raw.len() < 12 + 16 {
            return Err(MasterKeyError::Decrypt);
        }
        let (nonce, ct) = raw.split_at(12);
        self.cipher()
            .decrypt(Nonce::from_slice(nonce), ct)
            .map(Zeroizing::new)
            .map_err(|_| MasterKeyError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_data_opens_only_with_its_key() {
        let key = MasterKey::generate(&OsRng);
        let sealed = key.seal(&OsRng, b"secret");
        assert_eq!(key.open(&sealed).unwrap().as_slice(), b"secret");
        let other = MasterKey::generate(&OsRng);
        assert!(other.open(&sealed).is_err());
        let round = MasterKey::from_base64(&key.to_base64()).unwrap();
        assert_eq!(round.open(&sealed).unwrap().as_slice(), b"secret");
        assert!(MasterKey::from_base64("c2hvcnQ=").is_err());
    }

    #[test]
    fn tokens_are_long_and_hash_stably() {
        let t = random_token(&OsRng);
        assert_eq!(t.len(), 43);
        assert_eq!(hash_token(&t), hash_token(&t));
        assert_ne!(hash_token(&t), hash_token(&random_token(&OsRng)));
        assert!(ct_eq(b"abc", b"abc") && !ct_eq(b"abc", b"abd") && !ct_eq(b"ab", b"abc"));
    }
}
