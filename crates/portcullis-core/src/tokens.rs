//! Signed tokens: the first-party access tokens (EdDSA JWTs) and everything the OpenID
//! provider signs (ID tokens, RFC 9068 access tokens, logout tokens) with RS256, ES256 or
//! EdDSA. The keys live, encrypted, in the store, so that every node signs and verifies with
//! the same set; one key of each algorithm signs at a time.

use chrono::{DateTime, Utc};
use ed25519_dalek::Signer as _;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::crypto::{MasterKey, MasterKeyError, Rng};
use crate::error::AuthError;
use crate::oauth::SigningAlg;

/// The size of generated RSA keys, in bits.
const RSA_BITS: usize = 2048;

/// A signing key as stored: public half in clear, private half sealed with the master key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSigningKey {
    /// Key id, the JWT `kid`.
    pub kid: String,
    /// What it signs with.
    pub algorithm: SigningAlg,
    /// The public key, base64url: Ed25519's 32 bytes (the JWK `x`), P-256's uncompressed
    /// point, or RSA's DER `RSAPublicKey`.
    pub public_x: String,
    /// Sealed by [`MasterKey::seal`]: Ed25519's 32-byte seed, or the PKCS#8 document of an
    /// RSA or P-256 key.
    pub private_sealed: String,
    /// When it was made; the newest of its algorithm signs.
    pub created_at: DateTime<Utc>,
}

/// The private half of a usable key, parsed once.
enum Signer {
    /// Parsed at load time (an encoder that re-reads a PKCS#8 key, and derives its public
    /// half, on every token doubles the cost of signing).
    Ed25519(ed25519_dalek::SigningKey),
    /// ring signs RSA in constant time (the `rsa` crate carries RUSTSEC-2023-0071).
    Rsa(ring::rsa::KeyPair),
    /// ring's P-256 with fixed-length (JOSE) signatures.
    Ecdsa(ring::signature::EcdsaKeyPair),
}

/// One usable key.
struct LiveKey {
    kid: String,
    alg: SigningAlg,
    created_at: DateTime<Utc>,
    jwk: PublicKey,
    signer: Signer,
    /// The public key, as ring verifies with it.
    verifier: Verifier,
}

/// The public half of a usable key, for ring.
enum Verifier {
    /// Ed25519 or P-256: the key's bytes, with the algorithm.
    Bytes(ring::signature::UnparsedPublicKey<Vec<u8>>),
    /// RSA: modulus and exponent.
    Rsa(ring::signature::RsaPublicKeyComponents<Vec<u8>>),
}

impl Verifier {
    fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            Self::Bytes(key) => key.verify(message, signature).is_ok(),
            Self::Rsa(key) => key
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    message,
                    signature,
                )
                .is_ok(),
        }
    }
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

/// The set of signing keys, newest first. Every key verifies; the one that signs, for each
/// algorithm, is the newest of that algorithm that has been published for `activation` (so
/// that every node, and every relying party that caches the JWKS, has seen it before a token
/// signed with it arrives), else the oldest.
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

/// The key ids that sign at `now`, one per algorithm, among stored keys (any order).
pub fn signing_kids(
    stored: &[StoredSigningKey],
    now: DateTime<Utc>,
    activation: chrono::Duration,
) -> Vec<String> {
    SigningAlg::ALL
        .iter()
        .filter_map(|&alg| {
            let mut sorted: Vec<&StoredSigningKey> =
                stored.iter().filter(|k| k.algorithm == alg).collect();
            sorted.sort_by(|a, b| {
                b.created_at
                    .cmp(&a.created_at)
                    .then_with(|| b.kid.cmp(&a.kid))
            });
            signing_index(sorted.iter().map(|k| k.created_at), now, activation)
                .map(|i| sorted[i].kid.clone())
        })
        .collect()
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

/// A key's public part, as published in the JWKS (RFC 7517, 7518 section 6, 8037).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// Key id.
    pub kid: String,
    /// What it verifies.
    pub alg: SigningAlg,
    /// The key's parameters, base64url.
    pub params: PublicParams,
}

/// The parameters of a public key, by key type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicParams {
    /// `kty: OKP`, `crv: Ed25519`.
    Okp {
        /// The public key.
        x: String,
    },
    /// `kty: EC`, `crv: P-256`.
    Ec {
        /// The point's x coordinate.
        x: String,
        /// The point's y coordinate.
        y: String,
    },
    /// `kty: RSA`.
    Rsa {
        /// The modulus.
        n: String,
        /// The public exponent.
        e: String,
    },
}

/// `rand_core`'s view of our [`Rng`], for the one generator that takes it.
struct RandCore<'a>(&'a dyn Rng);

impl rand_core::RngCore for RandCore<'_> {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.0.fill(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.0.fill(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill(dest);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.0.fill(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for RandCore<'_> {}

/// Makes a new key of `alg`, its private half sealed with `master`.
///
/// ring cannot make RSA keys, so the `rsa` crate makes them. RUSTSEC-2023-0071 (Marvin) is a
/// timing side channel of its private-key *operations*; making a key exposes nothing to an
/// attacker, and every signature is made by ring.
pub fn generate_signing_key(
    alg: SigningAlg,
    rng: &dyn Rng,
    master: &MasterKey,
    now: DateTime<Utc>,
) -> Result<StoredSigningKey, AuthError> {
    let failed = |e: &dyn std::fmt::Display| AuthError::Internal(format!("key generation: {e}"));
    let (public, private): (Vec<u8>, Zeroizing<Vec<u8>>) = match alg {
        SigningAlg::EdDsa => {
            let mut seed = Zeroizing::new([0u8; 32]);
            rng.fill(seed.as_mut());
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            (
                key.verifying_key().as_bytes().to_vec(),
                Zeroizing::new(seed.to_vec()),
            )
        }
        SigningAlg::Rs256 => {
            use rsa::pkcs8::EncodePrivateKey as _;
            let key =
                rsa::RsaPrivateKey::new(&mut RandCore(rng), RSA_BITS).map_err(|e| failed(&e))?;
            let der = key.to_pkcs8_der().map_err(|e| failed(&e))?;
            let pkcs8 = Zeroizing::new(der.as_bytes().to_vec());
            let pair = ring::rsa::KeyPair::from_pkcs8(&pkcs8).map_err(|e| failed(&e))?;
            (pair.public().as_ref().to_vec(), pkcs8)
        }
        SigningAlg::Es256 => {
            use ring::signature::KeyPair as _;
            let random = ring::rand::SystemRandom::new();
            let doc = ring::signature::EcdsaKeyPair::generate_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &random,
            )
            .map_err(|e| failed(&e))?;
            let pkcs8 = Zeroizing::new(doc.as_ref().to_vec());
            let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &pkcs8,
                &random,
            )
            .map_err(|e| failed(&e))?;
            (pair.public_key().as_ref().to_vec(), pkcs8)
        }
    };
    let mut kid_bytes = [0u8; 12];
    rng.fill(&mut kid_bytes);
    Ok(StoredSigningKey {
        kid: URL_SAFE_NO_PAD.encode(kid_bytes),
        algorithm: alg,
        public_x: URL_SAFE_NO_PAD.encode(public),
        private_sealed: master.seal(rng, &private),
        created_at: now,
    })
}

/// Parses a stored key's private half into a signer, its public parameters and its
/// verifying key.
fn live_key(s: &StoredSigningKey, master: &MasterKey) -> Result<LiveKey, MasterKeyError> {
    use ring::signature::KeyPair as _;
    fn bad<E>(_: E) -> MasterKeyError {
        MasterKeyError::Decrypt
    }
    let private = master.open(&s.private_sealed)?;
    let b64 = |b: &[u8]| URL_SAFE_NO_PAD.encode(b);
    let (signer, params, verifier) = match s.algorithm {
        SigningAlg::EdDsa => {
            let seed: [u8; 32] = private
                .as_slice()
                .try_into()
                .map_err(|_| MasterKeyError::Decrypt)?;
            let key = ed25519_dalek::SigningKey::from_bytes(&seed);
            let x = b64(key.verifying_key().as_bytes());
            let verifier = Verifier::Bytes(ring::signature::UnparsedPublicKey::new(
                &ring::signature::ED25519,
                key.verifying_key().as_bytes().to_vec(),
            ));
            (Signer::Ed25519(key), PublicParams::Okp { x }, verifier)
        }
        SigningAlg::Rs256 => {
            let pair = ring::rsa::KeyPair::from_pkcs8(&private).map_err(bad)?;
            let parts = ring::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public());
            let (n, e) = (b64(&parts.n), b64(&parts.e));
            let verifier = Verifier::Rsa(parts);
            (Signer::Rsa(pair), PublicParams::Rsa { n, e }, verifier)
        }
        SigningAlg::Es256 => {
            let pair = ring::signature::EcdsaKeyPair::from_pkcs8(
                &ring::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &private,
                &ring::rand::SystemRandom::new(),
            )
            .map_err(bad)?;
            // An uncompressed point: 0x04, then x and y of 32 bytes each.
            let point = pair.public_key().as_ref();
            if point.len() != 65 {
                return Err(MasterKeyError::Decrypt);
            }
            let (x, y) = (b64(&point[1..33]), b64(&point[33..]));
            let verifier = Verifier::Bytes(ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                point.to_vec(),
            ));
            (Signer::Ecdsa(pair), PublicParams::Ec { x, y }, verifier)
        }
    };
    Ok(LiveKey {
        kid: s.kid.clone(),
        alg: s.algorithm,
        created_at: s.created_at,
        jwk: PublicKey {
            kid: s.kid.clone(),
            alg: s.algorithm,
            params,
        },
        signer,
        verifier,
    })
}

/// A JWS header (RFC 7515 section 4).
#[derive(Serialize)]
struct JwsHeader<'a> {
    alg: &'a str,
    typ: &'a str,
    kid: &'a str,
}

/// A JWS header, as read back.
#[derive(Deserialize)]
struct ReadHeader {
    alg: String,
    #[serde(default)]
    typ: Option<String>,
    #[serde(default)]
    kid: Option<String>,
}

/// The registered claims every token of ours carries.
#[derive(Deserialize)]
struct Registered {
    iss: String,
    #[allow(dead_code)] // required to be present
    sub: String,
    #[allow(dead_code)] // required to be present; callers check it against their clock
    exp: i64,
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
        let keys = sorted
            .into_iter()
            .map(|s| live_key(s, master))
            .collect::<Result<Vec<_>, _>>()?;
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
        self.keys.iter().map(|k| k.jwk.clone()).collect()
    }

    /// Signs a first-party access token (EdDSA) with the key active at its `iat`.
    pub fn sign(&self, claims: &AccessClaims) -> Result<String, AuthError> {
        self.sign_jwt(SigningAlg::EdDsa, "JWT", claims.iat, claims)
    }

    /// Signs a first-party access token with `extra` claims beside its own (a hook's; the
    /// caller has dropped any that `claims` holds).
    pub fn sign_with(
        &self,
        claims: &AccessClaims,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, AuthError> {
        self.sign_jwt_with(SigningAlg::EdDsa, "JWT", claims.iat, claims, extra)
    }

    /// [`KeyRing::sign_jwt`] with `extra` claims beside those of `claims`.
    pub fn sign_jwt_with<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        iat: i64,
        claims: &T,
        extra: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<String, AuthError> {
        #[derive(Serialize)]
        struct WithExtra<'a, T> {
            #[serde(flatten)]
            claims: &'a T,
            #[serde(flatten)]
            extra: &'a serde_json::Map<String, serde_json::Value>,
        }
        if extra.is_empty() {
            return self.sign_jwt(alg, typ, iat, claims);
        }
        self.sign_jwt(alg, typ, iat, &WithExtra { claims, extra })
    }

    /// Signs `claims` as a JWT of type `typ` with the key of `alg` active at `iat`.
    pub fn sign_jwt<T: Serialize>(
        &self,
        alg: SigningAlg,
        typ: &str,
        iat: i64,
        claims: &T,
    ) -> Result<String, AuthError> {
        let at = DateTime::from_timestamp(iat, 0).unwrap_or_default();
        // Newest first: the first key of `alg` published for `activation` signs, else the
        // oldest of `alg` (as `signing_index` decides, without collecting the keys).
        let mut of_alg = self.keys.iter().filter(|k| k.alg == alg);
        let cutoff = at - self.activation;
        let key = of_alg
            .clone()
            .find(|k| k.created_at <= cutoff)
            .or_else(|| of_alg.next_back())
            .ok_or_else(|| AuthError::Internal(format!("no {} signing key", alg.as_str())))?;
        let header = JwsHeader {
            alg: alg.as_str(),
            typ,
            kid: &key.kid,
        };
        // JWS compact serialisation (RFC 7515 section 7.1) by hand, with the key parsed at
        // load time; jsonwebtoken offers no encoder that keeps a parsed key, nor one on ring.
        let part = |v: &dyn erased::Json| -> Result<String, AuthError> {
            Ok(URL_SAFE_NO_PAD.encode(v.to_json()?))
        };
        let mut token = part(&header)?;
        token.push('.');
        token.push_str(&part(claims)?);
        let failed = || AuthError::Internal("signing failed".into());
        let signature = match &key.signer {
            Signer::Ed25519(k) => k.sign(token.as_bytes()).to_bytes().to_vec(),
            Signer::Rsa(k) => {
                let mut sig = vec![0u8; k.public().modulus_len()];
                k.sign(
                    &ring::signature::RSA_PKCS1_SHA256,
                    &ring::rand::SystemRandom::new(),
                    token.as_bytes(),
                    &mut sig,
                )
                .map_err(|_| failed())?;
                sig
            }
            Signer::Ecdsa(k) => k
                .sign(&ring::rand::SystemRandom::new(), token.as_bytes())
                .map_err(|_| failed())?
                .as_ref()
                .to_vec(),
        };
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(signature));
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

    /// The claims of a first-party token signed by one of the keys, expired or not (for
    /// proving that a refresh token and an access token were issued together).
    pub fn verify_signature(&self, token: &str) -> Result<AccessClaims, AuthError> {
        self.verify_jwt(token, SigningAlg::EdDsa, "JWT")
    }

    /// The claims of a JWT of type `typ` that a key of `alg` signed, with this issuer, expired
    /// or not (callers check `exp` against their clock).
    ///
    /// JWS compact verification (RFC 7515 section 5.2) by hand, with ring and the keys parsed
    /// at load time: jsonwebtoken verifies RSA with the `rsa` crate, several times slower than
    /// ring, which made introspection a third of the speed of `GET /v1/users/me`.
    pub fn verify_jwt<T: DeserializeOwned>(
        &self,
        token: &str,
        alg: SigningAlg,
        typ: &str,
    ) -> Result<T, AuthError> {
        fn bad<E>(_: E) -> AuthError {
            AuthError::TokenInvalid
        }
        let (input, signature) = token.rsplit_once('.').ok_or(AuthError::TokenInvalid)?;
        let (header, payload) = input.split_once('.').ok_or(AuthError::TokenInvalid)?;
        let header: ReadHeader =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(bad)?).map_err(bad)?;
        if header.alg != alg.as_str()
            || !header
                .typ
                .as_deref()
                .unwrap_or("JWT")
                .eq_ignore_ascii_case(typ)
        {
            return Err(AuthError::TokenInvalid);
        }
        let kid = header.kid.ok_or(AuthError::TokenInvalid)?;
        let key = self
            .keys
            .iter()
            .find(|k| k.kid == kid && k.alg == alg)
            .ok_or(AuthError::TokenInvalid)?;
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(bad)?;
        if !key.verifier.verify(input.as_bytes(), &signature) {
            return Err(AuthError::TokenInvalid);
        }
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(bad)?;
        let registered: Registered = serde_json::from_slice(&payload).map_err(bad)?;
        if registered.iss != self.issuer {
            return Err(AuthError::TokenInvalid);
        }
        serde_json::from_slice(&payload).map_err(bad)
    }
}

/// The keys of another issuer (an upstream identity provider's JWKS), for verifying the
/// tokens it signs with the same ring code as our own. Only asymmetric algorithms: `RS256`,
/// `ES256` and `EdDSA`; a key of any other kind is left out.
#[derive(Default)]
pub struct ForeignKeys {
    keys: Vec<(Option<String>, &'static str, Verifier)>,
}

impl std::fmt::Debug for ForeignKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.keys.iter().map(|(kid, alg, _)| (kid, alg)))
            .finish()
    }
}

/// Why a foreign token did not verify.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyProblem {
    /// Not a JWS in compact form.
    Malformed,
    /// `none`, a symmetric algorithm, or one we do not take.
    Algorithm,
    /// No key of the set has its `kid` (and algorithm).
    UnknownKey,
    /// The signature is wrong.
    Signature,
}

impl ForeignKeys {
    /// The usable keys of a JWKS document (RFC 7517).
    pub fn from_jwks(doc: &serde_json::Value) -> Self {
        let b64 = |v: &serde_json::Value| v.as_str().and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        let mut keys = Vec::new();
        for k in doc
            .get("keys")
            .and_then(|k| k.as_array())
            .into_iter()
            .flatten()
        {
            if k.get("use")
                .and_then(|u| u.as_str())
                .is_some_and(|u| u != "sig")
            {
                continue;
            }
            let kid = k.get("kid").and_then(|v| v.as_str()).map(str::to_owned);
            let kty = k.get("kty").and_then(|v| v.as_str()).unwrap_or("");
            let alg = k.get("alg").and_then(|v| v.as_str());
            let key = match kty {
                "RSA" if alg.is_none_or(|a| a == "RS256") => {
                    match (k.get("n").and_then(b64), k.get("e").and_then(b64)) {
                        (Some(n), Some(e)) => Some((
                            "RS256",
                            Verifier::Rsa(ring::signature::RsaPublicKeyComponents { n, e }),
                        )),
                        _ => None,
                    }
                }
                "EC" if k.get("crv").and_then(|v| v.as_str()) == Some("P-256")
                    && alg.is_none_or(|a| a == "ES256") =>
                {
                    match (k.get("x").and_then(b64), k.get("y").and_then(b64)) {
                        (Some(x), Some(y)) => Some((
                            "ES256",
                            Verifier::Bytes(ring::signature::UnparsedPublicKey::new(
                                &ring::signature::ECDSA_P256_SHA256_FIXED,
                                [vec![4u8], x, y].concat(),
                            )),
                        )),
                        _ => None,
                    }
                }
                "OKP" if k.get("crv").and_then(|v| v.as_str()) == Some("Ed25519") => {
                    k.get("x").and_then(b64).map(|x| {
                        (
                            "EdDSA",
                            Verifier::Bytes(ring::signature::UnparsedPublicKey::new(
                                &ring::signature::ED25519,
                                x,
                            )),
                        )
                    })
                }
                _ => None,
            };
            if let Some((alg, verifier)) = key {
                keys.push((kid, alg, verifier));
            }
        }
        Self { keys }
    }

    /// How many usable keys there are.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The payload of `token` when one of the keys signed it: the key named by its `kid`
    /// with the header's algorithm (or, without a `kid`, the one key of that algorithm).
    pub fn verify(&self, token: &str) -> Result<Vec<u8>, KeyProblem> {
        let bad = |_| KeyProblem::Malformed;
        let (input, signature) = token.rsplit_once('.').ok_or(KeyProblem::Malformed)?;
        let (header, payload) = input.split_once('.').ok_or(KeyProblem::Malformed)?;
        let header: ReadHeader =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(bad)?)
                .map_err(|_| KeyProblem::Malformed)?;
        if !matches!(header.alg.as_str(), "RS256" | "ES256" | "EdDSA") {
            return Err(KeyProblem::Algorithm);
        }
        let candidates: Vec<&Verifier> = self
            .keys
            .iter()
            .filter(|(kid, alg, _)| {
                *alg == header.alg
                    && match &header.kid {
                        Some(want) => kid.as_deref() == Some(want.as_str()),
                        None => true,
                    }
            })
            .map(|(_, _, v)| v)
            .collect();
        let key = match candidates.as_slice() {
            [one] => *one,
            _ => return Err(KeyProblem::UnknownKey),
        };
        let signature = URL_SAFE_NO_PAD.decode(signature).map_err(bad)?;
        if !key.verify(input.as_bytes(), &signature) {
            return Err(KeyProblem::Signature);
        }
        URL_SAFE_NO_PAD.decode(payload).map_err(bad)
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
        let old = generate_signing_key(SigningAlg::EdDsa, &OsRng, &master, t0).unwrap();
        let old_ring =
            KeyRing::open("http://issuer", &master, std::slice::from_ref(&old), ACT).unwrap();
        let old_token = old_ring.sign(&claims(t0)).unwrap();

        let t1 = t0 + chrono::Duration::hours(1);
        let new = generate_signing_key(SigningAlg::EdDsa, &OsRng, &master, t1).unwrap();
        let ring =
            KeyRing::open("http://issuer", &master, &[old.clone(), new.clone()], ACT).unwrap();
        let kid = |token: &str| {
            let header = URL_SAFE_NO_PAD
                .decode(token.split('.').next().unwrap())
                .unwrap();
            serde_json::from_slice::<serde_json::Value>(&header).unwrap()["kid"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        // Published but not yet active: the old key still signs, the new one already verifies.
        assert_eq!(kid(&ring.sign(&claims(t1)).unwrap()), old.kid);
        assert_eq!(
            signing_kids(&[new.clone(), old.clone()], t1, ACT),
            vec![old.kid.clone()]
        );
        let later = t1 + ACT;
        let token = ring.sign(&claims(later)).unwrap();
        assert_eq!(kid(&token), new.kid);
        assert_eq!(
            signing_kids(&[old.clone(), new.clone()], later, ACT),
            vec![new.kid.clone()]
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
            &[generate_signing_key(SigningAlg::EdDsa, &OsRng, &master, t0).unwrap()],
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
            &[generate_signing_key(SigningAlg::EdDsa, &OsRng, &master, t0).unwrap()],
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
        // `alg: none`, with or without the signature; a fourth segment.
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let real: Vec<&str> = token.split('.').collect();
        assert!(ring.verify(&format!("{none}.{}.", real[1]), t0).is_err());
        assert!(ring
            .verify(&format!("{none}.{}.{}", real[1], real[2]), t0)
            .is_err());
        assert!(ring.verify(&format!("{token}.x"), t0).is_err());
        assert!(ring.verify(&token, t0).is_ok());
    }

    #[test]
    fn each_algorithm_signs_what_its_published_key_verifies() {
        use ring::signature::{self, UnparsedPublicKey};
        let master = MasterKey::generate(&OsRng);
        let t0 = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let stored: Vec<StoredSigningKey> = SigningAlg::ALL
            .iter()
            .map(|&alg| generate_signing_key(alg, &OsRng, &master, t0).unwrap())
            .collect();
        let ring = KeyRing::open("http://issuer", &master, &stored, ACT).unwrap();
        let b64 = |s: &str| URL_SAFE_NO_PAD.decode(s).unwrap();
        for key in ring.public_keys() {
            let token = ring
                .sign_jwt(key.alg, "at+jwt", t0.timestamp(), &claims(t0))
                .unwrap();
            // The published key verifies it, checked by ring on its own (not the signer's
            // code path).
            let (input, sig) = token.rsplit_once('.').unwrap();
            let ok = match &key.params {
                PublicParams::Rsa { n, e } => signature::RsaPublicKeyComponents {
                    n: b64(n),
                    e: b64(e),
                }
                .verify(
                    &signature::RSA_PKCS1_2048_8192_SHA256,
                    input.as_bytes(),
                    &b64(sig),
                )
                .is_ok(),
                PublicParams::Ec { x, y } => {
                    let point = [vec![4u8], b64(x), b64(y)].concat();
                    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                        .verify(input.as_bytes(), &b64(sig))
                        .is_ok()
                }
                PublicParams::Okp { x } => UnparsedPublicKey::new(&signature::ED25519, b64(x))
                    .verify(input.as_bytes(), &b64(sig))
                    .is_ok(),
            };
            assert!(ok, "{:?}", key.alg);
            let header: serde_json::Value =
                serde_json::from_slice(&b64(token.split('.').next().unwrap())).unwrap();
            assert_eq!(header["alg"], key.alg.as_str());
            assert_eq!(header["kid"], key.kid.as_str());
            assert_eq!(header["typ"], "at+jwt");
            let back: AccessClaims = ring.verify_jwt(&token, key.alg, "at+jwt").unwrap();
            assert_eq!(back.sub, "u");
            // Another type or algorithm is refused.
            assert!(ring
                .verify_jwt::<AccessClaims>(&token, key.alg, "JWT")
                .is_err());
            let other = SigningAlg::ALL.iter().find(|&&a| a != key.alg).unwrap();
            assert!(ring
                .verify_jwt::<AccessClaims>(&token, *other, "at+jwt")
                .is_err());
        }
    }
}
