//! A software WebAuthn authenticator for tests, written apart from the server's verifier
//! (webauthn-rs): P-256 keys, "none" attestation, discoverable credentials with a user
//! handle, user verification, and a signature counter a test can wind back (a cloned
//! authenticator). It answers what a browser's `navigator.credentials.create()` and
//! `.get()` give, as JSON with base64url binaries. Hand-written because the crate's own soft
//! passkey keeps no user handle (so it cannot sign in without a name) and no counter.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// One credential the authenticator holds.
#[derive(Clone)]
pub struct SoftCredential {
    /// Its id.
    pub id: Vec<u8>,
    rp_id: String,
    user_handle: Vec<u8>,
    key: SigningKey,
    /// The signature counter (incremented before each assertion).
    pub counter: u32,
}

/// The authenticator: its credentials.
#[derive(Clone, Default)]
pub struct SoftAuthenticator {
    /// Everything it holds.
    pub credentials: Vec<SoftCredential>,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(s.trim_end_matches('='))
        .expect("base64url from the server")
}

/// A minimal CBOR writer: what an attestation object and a COSE key need.
enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Map(Vec<(Cbor, Cbor)>),
}

impl Cbor {
    fn head(out: &mut Vec<u8>, major: u8, n: u64) {
        let m = major << 5;
        match n {
            0..=23 => out.push(m | n as u8),
            24..=0xff => out.extend([m | 24, n as u8]),
            0x100..=0xffff => {
                out.push(m | 25);
                out.extend((n as u16).to_be_bytes());
            }
            _ => {
                out.push(m | 26);
                out.extend((n as u32).to_be_bytes());
            }
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(i) if *i >= 0 => Self::head(out, 0, *i as u64),
            Cbor::Int(i) => Self::head(out, 1, (-1 - *i) as u64),
            Cbor::Bytes(b) => {
                Self::head(out, 2, b.len() as u64);
                out.extend(b);
            }
            Cbor::Text(t) => {
                Self::head(out, 3, t.len() as u64);
                out.extend(t.as_bytes());
            }
            Cbor::Map(entries) => {
                Self::head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    k.write(out);
                    v.write(out);
                }
            }
        }
    }
}

const UP: u8 = 0x01;
const UV: u8 = 0x04;
const AT: u8 = 0x40;

impl SoftAuthenticator {
    /// `navigator.credentials.create(options)` at `origin`: a new discoverable credential.
    pub fn create(&mut self, options: &Value, origin: &str) -> Value {
        let pk = &options["publicKey"];
        let rp_id = pk["rp"]["id"].as_str().expect("rp.id").to_owned();
        let user_handle = unb64(pk["user"]["id"].as_str().expect("user.id"));
        let challenge = pk["challenge"].as_str().expect("challenge");
        let key = SigningKey::random(&mut rand_core::OsRng);
        let id: Vec<u8> = (0..16)
            .map(|_| rand_core::RngCore::next_u32(&mut rand_core::OsRng) as u8)
            .collect();
        let point = key.verifying_key().to_encoded_point(false);
        let cose = Cbor::Map(vec![
            (Cbor::Int(1), Cbor::Int(2)),
            (Cbor::Int(3), Cbor::Int(-7)),
            (Cbor::Int(-1), Cbor::Int(1)),
            (Cbor::Int(-2), Cbor::Bytes(point.x().expect("x").to_vec())),
            (Cbor::Int(-3), Cbor::Bytes(point.y().expect("y").to_vec())),
        ]);
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | UV | AT);
        auth_data.extend(0u32.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend((id.len() as u16).to_be_bytes());
        auth_data.extend(&id);
        cose.write(&mut auth_data);
        let mut attestation = Vec::new();
        Cbor::Map(vec![
            (Cbor::Text("fmt".into()), Cbor::Text("none".into())),
            (Cbor::Text("attStmt".into()), Cbor::Map(vec![])),
            (Cbor::Text("authData".into()), Cbor::Bytes(auth_data)),
        ])
        .write(&mut attestation);
        let client_data = json!({
            "type": "webauthn.create",
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        self.credentials.push(SoftCredential {
            id: id.clone(),
            rp_id,
            user_handle,
            key,
            counter: 0,
        });
        json!({
            "id": b64(&id),
            "rawId": b64(&id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(client_data.as_bytes()),
            },
            "extensions": {},
        })
    }

    /// `navigator.credentials.get(options)` at `origin`, with the first credential of the
    /// relying party (none named: discoverable); the counter goes up by one.
    pub fn get(&mut self, options: &Value, origin: &str) -> Value {
        let pk = &options["publicKey"];
        let rp_id = pk["rpId"].as_str().expect("rpId").to_owned();
        let challenge = pk["challenge"].as_str().expect("challenge").to_owned();
        let cred = self
            .credentials
            .iter_mut()
            .find(|c| c.rp_id == rp_id)
            .expect("a credential for this relying party");
        cred.counter += 1;
        let mut auth_data = Sha256::digest(rp_id.as_bytes()).to_vec();
        auth_data.push(UP | UV);
        auth_data.extend(cred.counter.to_be_bytes());
        let client_data = json!({
            "type": "webauthn.get",
            "challenge": challenge,
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        let mut signed = auth_data.clone();
        signed.extend(Sha256::digest(client_data.as_bytes()));
        let signature: Signature = cred.key.sign(&signed);
        json!({
            "id": b64(&cred.id),
            "rawId": b64(&cred.id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(client_data.as_bytes()),
                "signature": b64(signature.to_der().as_bytes()),
                "userHandle": b64(&cred.user_handle),
            },
            "extensions": {},
        })
    }
}
