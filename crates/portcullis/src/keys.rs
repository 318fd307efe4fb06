//! `portcullis keys rotate|list`: signing keys, on the database directly (run it beside the
//! nodes, with their database URL and master key). A new key is published at once (every
//! node verifies with it and lists it in the JWKS after its next key reload) and signs
//! only after twice the reload interval, when every node has it; old keys keep verifying.

use chrono::{DateTime, Utc};
use portcullis_core::oauth::SigningAlg;
use portcullis_core::tokens::{generate_signing_key, signing_kids, KeyRing, StoredSigningKey};
use portcullis_core::{Clock as _, OsRng, SystemClock};
use serde::Serialize;

use crate::app::{master_key, open_database};
use crate::Config;

/// One key as `keys list` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct KeyInfo {
    /// Key id (`kid` in token headers and the JWKS).
    pub kid: String,
    /// What it signs with: `EdDSA` (first-party access tokens, and ID tokens of clients that
    /// ask for it), `RS256` or `ES256`.
    pub algorithm: &'static str,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// `signing` (the one key of its algorithm that signs now), `next` (published, signs from `signs_from`),
    /// or `verifying` (older; verifies the tokens it signed until they expire).
    pub state: &'static str,
    /// When it starts or started signing.
    pub signs_from: DateTime<Utc>,
}

fn activation(config: &Config) -> chrono::Duration {
    chrono::Duration::seconds(
        i64::try_from(config.key_reload_secs.saturating_mul(2)).unwrap_or(i64::MAX),
    )
}

fn describe(config: &Config, stored: &[StoredSigningKey], now: DateTime<Utc>) -> Vec<KeyInfo> {
    let active = activation(config);
    let signing = signing_kids(stored, now, active);
    let mut keys: Vec<KeyInfo> = stored
        .iter()
        .map(|k| {
            let signs_from = k.created_at + active;
            let state = if signing.contains(&k.kid) {
                "signing"
            } else if signs_from > now {
                "next"
            } else {
                "verifying"
            };
            KeyInfo {
                kid: k.kid.clone(),
                algorithm: k.algorithm.as_str(),
                created_at: k.created_at,
                state,
                signs_from,
            }
        })
        .collect();
    keys.sort_by_key(|k| (std::cmp::Reverse(k.created_at), k.algorithm));
    keys
}

/// Every signing key, newest first.
pub async fn list(config: &Config) -> anyhow::Result<Vec<KeyInfo>> {
    let db = open_database(config).await?;
    let stored = db.store().signing_keys().await?;
    db.close().await;
    Ok(describe(config, &stored, SystemClock.now()))
}

/// Adds a new key of each algorithm, sealed with the master key (which must open the keys already there, so
/// that a wrong key is refused rather than stored), and answers every key.
pub async fn rotate(config: &Config) -> anyhow::Result<Vec<KeyInfo>> {
    let db = open_database(config).await?;
    let master = master_key(config, db.backend())?;
    let store = db.store();
    let existing = store.signing_keys().await?;
    KeyRing::open("", &master, &existing, activation(config)).map_err(|_| {
        anyhow::anyhow!("the master key does not open the stored signing keys; set the same PORTCULLIS_MASTER_KEY as the nodes")
    })?;
    let now = SystemClock.now();
    for &alg in SigningAlg::ALL {
        store
            .insert_signing_key(&generate_signing_key(alg, &OsRng, &master, now)?)
            .await?;
    }
    let stored = store.signing_keys().await?;
    db.close().await;
    Ok(describe(config, &stored, now))
}
