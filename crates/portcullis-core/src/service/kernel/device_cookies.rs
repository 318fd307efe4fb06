//! Device cookies (OWASP's scheme against lockout abuse): a client that has signed in to an
//! account before holds a value the server made for that account, and keeps signing in
//! while the account is locked for everyone else; its own wrong passwords lock only that
//! device. Stateless: the value is the account, a random nonce and a MAC of both under a
//! key derived from the master key, so any node recognises it and nothing is stored.

use super::services::Services;
use crate::crypto::{ct_eq, hash_token, random_token};
use crate::ids::UserId;

/// What device cookies start with.
pub const DEVICE_COOKIE_PREFIX: &str = "pcd_";

pub(crate) const PURPOSE: &str = "device-cookie";

/// A device cookie the server made for an account, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct KnownDevice {
    /// The lock counter of this device alone.
    pub(crate) lock: crate::store::LockKey,
}

impl Services {
    /// A new device cookie for `user`, handed out at each successful password sign-in.
    pub(crate) fn issue_device_cookie(&self, user: UserId) -> String {
        let nonce = random_token(self.rng.as_ref());
        let mac = self.mac(PURPOSE, format!("{user}.{nonce}").as_bytes());
        format!("{DEVICE_COOKIE_PREFIX}{user}.{nonce}.{mac}")
    }

    /// The device behind `raw`, when it is a device cookie this server made for `user`.
    pub(crate) fn known_device(&self, raw: Option<&str>, user: UserId) -> Option<KnownDevice> {
        let rest = raw?.strip_prefix(DEVICE_COOKIE_PREFIX)?;
        let mut parts = rest.splitn(3, '.');
        let (id, nonce, mac) = (parts.next()?, parts.next()?, parts.next()?);
        if id != user.to_string() {
            return None;
        }
        let expected = self.mac(PURPOSE, format!("{id}.{nonce}").as_bytes());
        ct_eq(expected.as_bytes(), mac.as_bytes()).then(|| KnownDevice {
            lock: crate::store::LockKey::device(&hash_token(nonce)),
        })
    }
}
