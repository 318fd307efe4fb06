//! Identifiers, in one place: what a person types to name an account (an email address, a
//! phone number or a username) parsed the one way, into the key the store finds the account
//! by, the key an unknown one's lock is charged to, and the key its rate limit counts.

use crate::crypto::hash_token;
use crate::error::AuthError;
use crate::identity::{Address, Identifier};
use crate::ids::OrgId;
use crate::store::{LockKey, LookupKey};

/// The lookup key of a typed identifier; a validation error on the field `identifier` when
/// it is none of the three.
pub(crate) fn sign_in_key(raw: &str) -> Result<LookupKey, AuthError> {
    let identifier =
        Identifier::parse(raw, "identifier").map_err(|e| AuthError::Validation(vec![e]))?;
    Ok(match identifier {
        Identifier::Email(e) => LookupKey::Email(e.as_str().to_owned()),
        Identifier::Phone(p) => LookupKey::Phone(p.as_str().to_owned()),
        Identifier::Username(u) => LookupKey::Username(u.key()),
    })
}

/// The lookup key of a parsed address.
pub(crate) fn lookup_key(address: &Address) -> LookupKey {
    match address {
        Address::Email(e) => LookupKey::Email(e.as_str().to_owned()),
        Address::Phone(p) => LookupKey::Phone(p.as_str().to_owned()),
    }
}

/// The text a lookup key is stored under in lock and rate-limit counters. Written out, not
/// taken from `Debug` (renaming a variant must not reset stored counters), and equal byte
/// for byte to what earlier versions hashed, so that locks in force survive an upgrade.
fn counter_text(key: &LookupKey) -> String {
    match key {
        LookupKey::Email(v) => format!("Email({v:?})"),
        LookupKey::Phone(v) => format!("Phone({v:?})"),
        LookupKey::Username(v) => format!("Username({v:?})"),
    }
}

/// The lock of an identifier that names no account in `org` (hashed: it may be an email
/// address).
pub(crate) fn unknown_identifier_lock(org: OrgId, key: &LookupKey) -> LockKey {
    LockKey::unknown_identifier(&hash_token(&format!("{org}:{}", counter_text(key))))
}

/// The digest a typed identifier's rate limit counts by: of its lookup key when it parses
/// (so that `Ann@Example.com` and `ann@example.com`, or two spellings of one phone number,
/// share one budget), else of the trimmed, lower-cased text (a malformed one is counted too).
pub(crate) fn rate_digest(raw: &str) -> String {
    let text = match sign_in_key(raw) {
        Ok(key) => counter_text(&key),
        Err(_) => raw.trim().to_lowercase(),
    };
    hash_token(&text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_account_one_key_however_it_is_typed() {
        assert_eq!(
            sign_in_key(" Ann@Example.COM ").unwrap(),
            LookupKey::Email("ann@example.com".into())
        );
        assert_eq!(
            rate_digest("Ann@Example.com"),
            rate_digest(" ann@example.com")
        );
        assert_eq!(rate_digest("+1 202 555 0143"), rate_digest("+12025550143"));
        assert_eq!(rate_digest("Ann_1"), rate_digest("ann_1"));
        assert_ne!(rate_digest("ann_1"), rate_digest("ann_2"));
        assert!(sign_in_key("").is_err());
    }

    /// The counters of unknown identifiers keep the text earlier versions hashed (the
    /// `Debug` form of the key), so an upgrade neither lifts nor resets a lock in force.
    #[test]
    fn lock_counters_keep_their_stored_text() {
        let org = OrgId::new();
        for key in [
            LookupKey::Email("ann@example.com".into()),
            LookupKey::Phone("+12025550143".into()),
            LookupKey::Username("ann".into()),
        ] {
            assert_eq!(
                unknown_identifier_lock(org, &key).as_str(),
                format!("identifier:{}", hash_token(&format!("{org}:{key:?}")))
            );
        }
    }
}
