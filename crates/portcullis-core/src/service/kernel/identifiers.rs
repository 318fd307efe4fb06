//! Identifiers to lookup keys, in one place: the sign-in identifier a person types, and a parsed
//! address.

use crate::identity::Address;
use crate::store::LookupKey;

pub(crate) fn lookup_key(address: &Address) -> LookupKey {
    match address {
        Address::Email(e) => LookupKey::Email(e.as_str().to_owned()),
        Address::Phone(p) => LookupKey::Phone(p.as_str().to_owned()),
    }
}
