//! Passwords: normalisation, the organization's rules, and argon2id hashing on dedicated
//! threads (see the `hashing` module) behind a bounded queue.

use std::collections::HashSet;
use std::io::Read;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock};

use argon2::password_hash::{PasswordHash, PasswordVerifier as _};
use argon2::{Algorithm, Params, Version};
use tokio::sync::Semaphore;
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

use crate::config::Argon2Params;
use crate::crypto::Rng;
use crate::error::{AuthError, FieldError};
use crate::hashing::{HashThreads, Scratch};
use crate::identity::{Email, Username};
use crate::model::OrgPolicy;

/// A password as the user meant it: NFKC-normalised, never truncated, wiped on drop. It may
/// have come as the hex of its SHA-1 (emnify's clients send that), and may be meant to be
/// stored in that form (see [`SHA1_MARK`]).
#[derive(Clone)]
pub struct Password {
    text: Zeroizing<String>,
    /// `text` is the lower-case hex SHA-1 of the password, not the password.
    given_as_sha1: bool,
    /// A hash made of it is of its SHA-1 hex form, marked.
    store_as_sha1: bool,
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(..)")
    }
}

/// The start of a stored hash made of the password's SHA-1 hex form rather than of the
/// password (`sha1hex$` + a hash of any other format): for organizations whose clients
/// send that form (emnify's), which Portcullis then computes itself for every other API.
pub const SHA1_MARK: &str = "sha1hex$";

impl Password {
    /// Normalises (NFKC) so that the same password typed on different keyboards matches.
    pub fn new(raw: &str) -> Self {
        Self {
            text: Zeroizing::new(raw.nfkc().collect()),
            given_as_sha1: false,
            store_as_sha1: false,
        }
    }

    /// A password that arrived as the hex of its SHA-1 (40 hex digits), or `None`.
    pub fn sha1_hex(hex: &str) -> Option<Self> {
        (hex.len() == 40 && hex.bytes().all(|b| b.is_ascii_hexdigit())).then(|| Self {
            text: Zeroizing::new(hex.to_ascii_lowercase()),
            given_as_sha1: true,
            store_as_sha1: true,
        })
    }

    /// Whether hashes made of it are of its SHA-1 hex form (always, for one that came in
    /// that form: the password itself is unknown).
    pub fn stored_as_sha1(mut self, yes: bool) -> Self {
        self.store_as_sha1 = yes || self.given_as_sha1;
        self
    }

    /// Length in Unicode code points.
    pub fn len(&self) -> usize {
        self.text.chars().count()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// The bytes a stored hash of this kind (marked or not) was made from.
    fn bytes_for(&self, marked: bool) -> Zeroizing<Vec<u8>> {
        if marked && !self.given_as_sha1 {
            use sha1::Digest as _;
            Zeroizing::new(hex::encode(sha1::Sha1::digest(self.text.as_bytes())).into_bytes())
        } else {
            Zeroizing::new(self.text.as_bytes().to_vec())
        }
    }
}

/// The shipped list of common passwords (see `data/README.md`), lower-case.
static COMMON_PASSWORDS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    const GZ: &[u8] = include_bytes!("../data/common-passwords.txt.gz");
    let mut text = String::new();
    // The list is compiled in; a failure here is a build defect caught by the unit test.
    let _ = flate2::read::GzDecoder::new(GZ).read_to_string(&mut text);
    text.lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
});

/// Checks a new password against the organization's rules (NIST SP 800-63B: length, a
/// blocklist, no composition rules) and against the account's own identifiers.
pub fn check_new_password(
    password: &Password,
    policy: &OrgPolicy,
    email: Option<&Email>,
    username: Option<&Username>,
    field: &str,
) -> Result<(), AuthError> {
    let weak = |message: String| {
        Err(AuthError::WeakPassword(vec![FieldError::new(
            field, message,
        )]))
    };
    let len = password.len();
    if len < policy.password_min_length {
        return weak(format!(
            "must be at least {} characters",
            policy.password_min_length
        ));
    }
    if len > policy.password_max_length {
        return weak(format!(
            "must be at most {} characters",
            policy.password_max_length
        ));
    }
    let lower = password.text.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower) {
        return weak("is one of the most commonly used passwords; choose another".to_owned());
    }
    let own: [Option<String>; 2] = [
        email.map(|e| e.local_part().to_owned()),
        username.map(Username::key),
    ];
    if own
        .iter()
        .flatten()
        .any(|id| id.chars().count() >= 3 && lower.contains(id.as_str()))
    {
        return weak("must not contain your email name or username".to_owned());
    }
    Ok(())
}

/// What a verification found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verified {
    /// The password does not match.
    No,
    /// It matches, and the hash uses the configured parameters.
    Yes,
    /// It matches; here is a fresh hash with the configured parameters to store.
    YesRehashed(String),
}

/// argon2id on `concurrency` hashing threads, with at most `queue` callers waiting; past
/// that, callers get [`AuthError::Overloaded`] at once, so memory stays bounded.
pub struct PasswordHasher {
    params: Argon2Params,
    threads: HashThreads,
    slots: Arc<Semaphore>,
    waiting: Arc<AtomicUsize>,
    queue: usize,
    dummy_hash: String,
    rng: Arc<dyn Rng>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

struct WaitingGuard(Arc<AtomicUsize>);
impl Drop for WaitingGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn argon2_params(params: Argon2Params) -> Result<Params, AuthError> {
    Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        None,
    )
    .map_err(|e| AuthError::Internal(format!("argon2 parameters: {e}")))
}

fn hash_with(
    scratch: &mut Scratch,
    params: Argon2Params,
    salt: &[u8; 16],
    password: &[u8],
) -> Result<String, AuthError> {
    scratch
        .hash(&argon2_params(params)?, salt, password)
        .map_err(|e| AuthError::Internal(format!("argon2: {e}")))
}

/// The password hash formats accepted from other systems (import), beside argon2.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashFormat {
    /// argon2id, argon2i or argon2d PHC string (`$argon2id$v=19$m=...`).
    Argon2,
    /// bcrypt (`$2a$`, `$2b$`, `$2y$`).
    Bcrypt,
    /// Django's PBKDF2-SHA256 (`pbkdf2_sha256$<iterations>$<salt>$<base64 hash>`).
    DjangoPbkdf2Sha256,
    /// scrypt PHC string (`$scrypt$ln=..,r=..,p=..$salt$hash`).
    Scrypt,
}

impl HashFormat {
    /// Recognises a stored hash's format, or `None` for anything else, including hashes
    /// whose cost is beyond what any real system uses (a single check must not be able to
    /// hold a hashing thread for minutes, or allocate gigabytes).
    pub fn of(hash: &str) -> Option<Self> {
        if let Some(inner) = hash.strip_prefix(SHA1_MARK) {
            return Self::of(inner).filter(|_| !inner.starts_with(SHA1_MARK));
        }
        if ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p)) {
            return hash
                .parse::<bcrypt::HashParts>()
                .ok()
                .filter(|h| h.get_cost() <= 16)
                .map(|_| Self::Bcrypt);
        }
        if let Some(rest) = hash.strip_prefix("pbkdf2_sha256$") {
            return django_parts(rest)
                .filter(|(iterations, _, out)| {
                    *iterations <= 10_000_000 && (16..=64).contains(&out.len())
                })
                .map(|_| Self::DjangoPbkdf2Sha256);
        }
        let parsed = PasswordHash::new(hash).ok()?;
        match parsed.algorithm.as_str() {
            "argon2id" | "argon2i" | "argon2d" => Params::try_from(&parsed)
                .ok()
                .filter(|p| p.m_cost() <= 1024 * 1024 && p.t_cost() <= 64 && p.p_cost() <= 16)
                .map(|_| Self::Argon2),
            "scrypt" => scrypt::Params::try_from(&parsed)
                .ok()
                .filter(|p| p.log_n() <= 20 && p.r() <= 16 && p.p() <= 16)
                .map(|_| Self::Scrypt),
            _ => None,
        }
    }
}

/// Django's `<iterations>$<salt>$<base64 hash>`, after the algorithm name.
fn django_parts(rest: &str) -> Option<(u32, &str, Vec<u8>)> {
    use base64::Engine as _;
    let mut parts = rest.splitn(3, '$');
    let iterations = parts.next()?.parse().ok().filter(|n| *n > 0)?;
    let salt = parts.next()?;
    let expected = base64::engine::general_purpose::STANDARD
        .decode(parts.next()?)
        .ok()?;
    Some((iterations, salt, expected))
}

/// Checks a password against a stored hash of any accepted format, in constant time where
/// the format's own library does not already.
fn verify_any(scratch: &mut Scratch, hash: &str, password: &[u8]) -> bool {
    match HashFormat::of(hash) {
        Some(HashFormat::Bcrypt) => bcrypt::verify(password, hash).unwrap_or(false),
        Some(HashFormat::DjangoPbkdf2Sha256) => {
            let Some((iterations, salt, expected)) =
                hash.strip_prefix("pbkdf2_sha256$").and_then(django_parts)
            else {
                return false;
            };
            let mut derived = vec![0u8; expected.len()];
            pbkdf2::pbkdf2_hmac::<sha2::Sha256>(
                password,
                salt.as_bytes(),
                iterations,
                &mut derived,
            );
            crate::crypto::ct_eq(&derived, &expected)
        }
        Some(HashFormat::Scrypt) => PasswordHash::new(hash)
            .is_ok_and(|p| scrypt::Scrypt.verify_password(password, &p).is_ok()),
        Some(HashFormat::Argon2) => {
            PasswordHash::new(hash).is_ok_and(|p| scratch.matches(&p, password))
        }
        None => false,
    }
}

/// Whether a stored PHC hash was made with exactly these parameters.
fn has_params(hash: &PasswordHash<'_>, params: Argon2Params) -> bool {
    hash.algorithm == Algorithm::Argon2id.ident()
        && hash.version == Some(Version::V0x13.into())
        && Params::try_from(hash).is_ok_and(|p| {
            p.m_cost() == params.memory_kib
                && p.t_cost() == params.iterations
                && p.p_cost() == params.parallelism
        })
}

impl PasswordHasher {
    /// A hasher with the given cost; computes the dummy hash used for unknown users.
    pub fn new(
        params: Argon2Params,
        concurrency: usize,
        queue: usize,
        rng: Arc<dyn Rng>,
    ) -> Result<Self, AuthError> {
        let mut salt = [0u8; 16];
        rng.fill(&mut salt);
        let keep = argon2_params(params)?.block_count();
        let dummy_hash = hash_with(
            &mut Scratch::new(0),
            params,
            &salt,
            crate::crypto::random_token(rng.as_ref()).as_bytes(),
        )?;
        let threads = HashThreads::start(concurrency.max(1), keep)
            .map_err(|e| AuthError::Internal(format!("hashing threads: {e}")))?;
        Ok(Self {
            params,
            threads,
            slots: Arc::new(Semaphore::new(concurrency.max(1))),
            waiting: Arc::new(AtomicUsize::new(0)),
            queue,
            dummy_hash,
            rng,
        })
    }

    /// The configured cost.
    pub fn params(&self) -> Argon2Params {
        self.params
    }

    async fn run<T: Send + 'static>(
        &self,
        op: &'static str,
        job: impl FnOnce(&mut Scratch) -> Result<T, AuthError> + Send + 'static,
    ) -> Result<T, AuthError> {
        let permit = match Arc::clone(&self.slots).try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.queue {
                    self.waiting.fetch_sub(1, Ordering::SeqCst);
                    metrics::counter!("portcullis_password_hash_overloaded_total").increment(1);
                    return Err(AuthError::Overloaded {
                        retry_after_secs: 1,
                    });
                }
                let _guard = WaitingGuard(Arc::clone(&self.waiting));
                Arc::clone(&self.slots)
                    .acquire_owned()
                    .await
                    .map_err(|_| AuthError::Internal("hashing semaphore closed".into()))?
            }
        };
        // Counted per operation: with the dummy verify, unknown and known accounts show the
        // same count, which is how the tests see that they cost the same.
        metrics::counter!("portcullis_password_hashes_total", "op" => op).increment(1);
        self.threads
            .run(move |scratch| {
                let _permit = permit;
                job(scratch)
            })
            .await
            .ok_or_else(|| AuthError::Internal("hashing task failed".into()))?
    }

    /// Hashes a new password (argon2id, random salt, PHC string; marked with [`SHA1_MARK`]
    /// when it is to be stored in that form).
    pub async fn hash(&self, password: &Password) -> Result<String, AuthError> {
        let mut salt = [0u8; 16];
        self.rng.fill(&mut salt);
        let params = self.params;
        let marked = password.store_as_sha1;
        let pw = password.bytes_for(marked);
        self.run("hash", move |scratch| {
            hash_with(scratch, params, &salt, &pw).map(|h| mark(h, marked))
        })
        .await
    }

    /// Verifies against a stored hash, or against the dummy hash when there is none, so that
    /// unknown accounts take as long as known ones. A match with outdated parameters, or
    /// stored in the other form than the password asks for, comes back with a new hash to
    /// store.
    pub async fn verify(
        &self,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verified, AuthError> {
        let real = stored.is_some();
        let hash = stored.unwrap_or(&self.dummy_hash).to_owned();
        let params = self.params;
        let (inner, marked) = match hash.strip_prefix(SHA1_MARK) {
            Some(inner) => (inner.to_owned(), true),
            None => (hash, false),
        };
        // Only a marked hash can be checked with the SHA-1 form: checked against an
        // unmarked one, it is still worked through (the same time) but never matches.
        let comparable = marked || !password.given_as_sha1;
        let pw = password.bytes_for(marked);
        let target = password.store_as_sha1;
        let fresh = password.bytes_for(target);
        let mut salt = [0u8; 16];
        self.rng.fill(&mut salt);
        self.run("verify", move |scratch| {
            let ok = verify_any(scratch, &inner, &pw) && comparable;
            if !ok || !real {
                return Ok(Verified::No);
            }
            if marked == target
                && PasswordHash::new(&inner).is_ok_and(|parsed| has_params(&parsed, params))
            {
                Ok(Verified::Yes)
            } else {
                // Older parameters, a hash imported from another system, or the other form:
                // replace it.
                hash_with(scratch, params, &salt, &fresh)
                    .map(|h| Verified::YesRehashed(mark(h, target)))
            }
        })
        .await
    }
}

/// A hash, marked as made of the SHA-1 form when it is.
fn mark(hash: String, marked: bool) -> String {
    if marked {
        format!("{SHA1_MARK}{hash}")
    } else {
        hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::OsRng;

    const FAST: Argon2Params = Argon2Params {
        memory_kib: 256,
        iterations: 1,
        parallelism: 1,
    };

    #[test]
    fn common_list_is_shipped() {
        assert!(COMMON_PASSWORDS.len() >= 10_000);
        assert!(COMMON_PASSWORDS.contains("password"));
    }

    #[test]
    fn policy_counts_code_points_and_refuses_common_and_own_names() {
        let policy = OrgPolicy::default();
        let email = Email::parse("annlee@example.com", "email").unwrap();
        let check = |pw: &str| {
            check_new_password(&Password::new(pw), &policy, Some(&email), None, "password")
        };
        assert!(check("short").is_err());
        assert!(check("ñandúñandú").is_ok(), "10 code points, more bytes");
        assert_eq!(
            Password::new("ﬀﬀﬀﬀ").len(),
            8,
            "NFKC turns 4 ligatures into 8 letters"
        );
        assert!(
            check("ﬀﬀﬀﬀ").is_err(),
            "and 'ffffffff' is a common password"
        );
        assert!(check("ﬁﬂﬁxﬂ").is_ok());
        assert!(check(&"x".repeat(129)).is_err());
        assert!(check("password1").is_err());
        assert!(check("my-AnnLee-pass").is_err());
        assert!(check("correct horse battery").is_ok());
    }

    #[tokio::test]
    async fn verify_matches_and_upgrades_old_parameters() {
        let old = PasswordHasher::new(FAST, 2, 4, Arc::new(OsRng)).unwrap();
        let pw = Password::new("correct horse battery");
        let hash = old.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        assert_eq!(old.verify(&pw, Some(&hash)).await.unwrap(), Verified::Yes);
        assert_eq!(
            old.verify(&Password::new("wrong"), Some(&hash))
                .await
                .unwrap(),
            Verified::No
        );
        assert_eq!(old.verify(&pw, None).await.unwrap(), Verified::No);

        let newer = Argon2Params {
            memory_kib: 512,
            ..FAST
        };
        let new = PasswordHasher::new(newer, 2, 4, Arc::new(OsRng)).unwrap();
        match new.verify(&pw, Some(&hash)).await.unwrap() {
            Verified::YesRehashed(h) => {
                assert!(h.starts_with("$argon2id$v=19$m=512,t=1,p=1$"));
                assert_eq!(new.verify(&pw, Some(&h)).await.unwrap(), Verified::Yes);
            }
            other => panic!("expected a rehash, got {other:?}"),
        }
    }

    /// The SHA-1 form: stored marked, checked with the password or with its SHA-1 hex (as
    /// emnify's clients send it), and moved between the forms when the password is known.
    #[tokio::test]
    async fn sha1_hex_form_is_stored_marked_and_checked_either_way() {
        let hasher = PasswordHasher::new(FAST, 2, 4, Arc::new(OsRng)).unwrap();
        // hex(SHA-1("correct horse battery")), computed apart from the code under test.
        let hex = "4f5f0c3d5d8a0d2e2a3a8d0e1b8c6a3b8d2d9f1e";
        let plain = || Password::new("correct horse battery");
        let real_hex = {
            use sha1::Digest as _;
            hex::encode(sha1::Sha1::digest(b"correct horse battery"))
        };
        assert_ne!(real_hex, hex, "a made-up digest must not match");
        let marked = hasher.hash(&plain().stored_as_sha1(true)).await.unwrap();
        assert!(marked.starts_with(SHA1_MARK));
        assert_eq!(HashFormat::of(&marked), Some(HashFormat::Argon2));
        // Either form of the right password; neither form of a wrong one.
        let given = |h: &str| Password::sha1_hex(h).unwrap();
        assert_eq!(
            hasher
                .verify(&plain().stored_as_sha1(true), Some(&marked))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            hasher
                .verify(&given(&real_hex.to_uppercase()), Some(&marked))
                .await
                .unwrap(),
            Verified::Yes
        );
        assert_eq!(
            hasher.verify(&given(hex), Some(&marked)).await.unwrap(),
            Verified::No
        );
        assert_eq!(
            hasher
                .verify(&Password::new("wrong"), Some(&marked))
                .await
                .unwrap(),
            Verified::No
        );
        // An unmarked hash cannot be checked with the SHA-1 form, even of the right password.
        let unmarked = hasher.hash(&plain()).await.unwrap();
        assert_eq!(
            hasher
                .verify(&given(&real_hex), Some(&unmarked))
                .await
                .unwrap(),
            Verified::No
        );
        // Knowing the password, a hash moves to the form asked for, and back.
        let Verified::YesRehashed(moved) = hasher
            .verify(&plain().stored_as_sha1(true), Some(&unmarked))
            .await
            .unwrap()
        else {
            panic!("expected the hash to move to the SHA-1 form")
        };
        assert!(moved.starts_with(SHA1_MARK));
        assert_eq!(
            hasher
                .verify(&given(&real_hex), Some(&moved))
                .await
                .unwrap(),
            Verified::Yes
        );
        let Verified::YesRehashed(back) = hasher.verify(&plain(), Some(&moved)).await.unwrap()
        else {
            panic!("expected the hash to move back")
        };
        assert!(!back.starts_with(SHA1_MARK));
        // Only 40 hex digits are a SHA-1 form; a doubly marked hash is no hash.
        assert!(Password::sha1_hex("abc").is_none());
        assert!(Password::sha1_hex(&"g".repeat(40)).is_none());
        assert_eq!(HashFormat::of(&format!("{SHA1_MARK}{marked}")), None);
    }

    /// Hashes from other systems verify and come back as argon2id with our parameters.
    #[tokio::test]
    async fn foreign_hashes_verify_and_are_upgraded() {
        use scrypt::password_hash::{PasswordHasher as _, SaltString};
        let pw = Password::new("correct horse battery");
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let scrypt_hash = scrypt::Scrypt
            .hash_password_customized(
                b"correct horse battery",
                None,
                None,
                scrypt::Params::new(10, 8, 1, 32).unwrap(),
                &salt,
            )
            .unwrap()
            .to_string();
        let hashes = [
            (
                bcrypt::hash("correct horse battery", 4).unwrap(),
                HashFormat::Bcrypt,
            ),
            (
                // Django 5, made with Python's hashlib.pbkdf2_hmac.
                "pbkdf2_sha256$1000$Ks9wBzZq1f1x$OovJpVOl9b8seOWyPNoDHE0imrL/Ho2ZoceS0u/Dr2s="
                    .to_owned(),
                HashFormat::DjangoPbkdf2Sha256,
            ),
            (scrypt_hash, HashFormat::Scrypt),
            (
                PasswordHasher::new(FAST, 1, 1, Arc::new(OsRng))
                    .unwrap()
                    .hash(&pw)
                    .await
                    .unwrap(),
                HashFormat::Argon2,
            ),
        ];
        let ours = Argon2Params {
            memory_kib: 512,
            ..FAST
        };
        let hasher = PasswordHasher::new(ours, 2, 4, Arc::new(OsRng)).unwrap();
        for (hash, format) in hashes {
            assert_eq!(HashFormat::of(&hash), Some(format), "{hash}");
            assert_eq!(
                hasher
                    .verify(&Password::new("wrong horse"), Some(&hash))
                    .await
                    .unwrap(),
                Verified::No,
                "{format:?}"
            );
            match hasher.verify(&pw, Some(&hash)).await.unwrap() {
                Verified::YesRehashed(h) => assert!(h.starts_with("$argon2id$v=19$m=512,t=1,p=1$")),
                other => panic!("{format:?}: expected a rehash, got {other:?}"),
            }
        }
        for junk in [
            "",
            "plain",
            "$5$rounds=1000$salt$hash",
            "pbkdf2_sha256$x$salt$hash",
            "$2b$xx",
        ] {
            assert_eq!(HashFormat::of(junk), None, "{junk}");
            assert_eq!(hasher.verify(&pw, Some(junk)).await.unwrap(), Verified::No);
        }
    }

    /// The hand-written parsing of stored hashes (format detection, Django's fields) takes
    /// any string without panicking: random strings, and mutations of valid hashes.
    /// (cargo-fuzz needs a nightly toolchain, which this project's machines do not have.)
    #[test]
    fn hash_parsing_survives_random_input() {
        let seeds = [
            "pbkdf2_sha256$1000$Ks9wBzZq1f1x$OovJpVOl9b8seOWyPNoDHE0imrL/Ho2ZoceS0u/Dr2s=",
            "$2b$04$xnsWlTRAtMp86.MGI88tBOtXbyJSfsW1RFj/v3EzGYFSDvCACmnG6",
            "$scrypt$ln=10,r=8,p=1$MDEyMzQ1Njc4OWFiY2RlZg$YLlJkG+EBkDF4grZyHWKZfsfZeSGSLK+1iyxyBAtOUA",
            "$argon2id$v=19$m=256,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA",
        ];
        let alphabet: Vec<char> = "$2abyx019,=+/.-_pbkdf2sha256scryptargon2idvmtpln\u{e9}\0 "
            .chars()
            .collect();
        let mut bytes = [0u8; 8];
        for i in 0..20_000 {
            OsRng.fill(&mut bytes);
            let r = u64::from_le_bytes(bytes);
            let mut s: Vec<char> = seeds[i % seeds.len()].chars().collect();
            match r % 4 {
                0 => s.truncate((r >> 8) as usize % (s.len() + 1)),
                1 => {
                    let at = (r >> 8) as usize % s.len();
                    s[at] = alphabet[(r >> 24) as usize % alphabet.len()];
                }
                2 => {
                    s = (0..(r >> 8) % 40)
                        .map(|k| alphabet[((r >> (k % 56)) as usize + k as usize) % alphabet.len()])
                        .collect()
                }
                _ => s.insert((r >> 8) as usize % s.len(), '$'),
            }
            let text: String = s.into_iter().collect();
            if HashFormat::of(&text).is_none() {
                // Refused without running any KDF (recognised ones are verified above).
                assert!(!verify_any(&mut Scratch::new(0), &text, b"x"), "{text}");
            }
        }
    }

    #[tokio::test]
    async fn a_full_queue_answers_overloaded_instead_of_waiting() {
        let hasher = Arc::new(PasswordHasher::new(FAST, 1, 0, Arc::new(OsRng)).unwrap());
        // Hold the only slot, so the next caller would have to queue, and the queue is 0 long.
        let held = Arc::clone(&hasher.slots).try_acquire_owned().unwrap();
        let err = hasher
            .hash(&Password::new("whatever pass"))
            .await
            .unwrap_err();
        assert!(matches!(err, AuthError::Overloaded { .. }));
        drop(held);
        assert!(hasher.hash(&Password::new("whatever pass")).await.is_ok());
    }
}
