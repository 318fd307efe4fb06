//! Parsed identity fields. Holding an [`Email`], [`Phone`] or [`Username`] means it is valid
//! and normalised, so the rest of the code never re-checks.

use std::fmt;

use crate::error::FieldError;

/// An email address, trimmed and lower-cased (the whole address, so that `Ann@X.com` and
/// `ann@x.com` are one account, as users expect).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

impl Email {
    /// Parses a practical subset of RFC 5322 addresses: `local@domain`, no spaces, a dot in
    /// the domain, at most 254 characters.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_lowercase();
        let bad = || FieldError::new(field, "must be an email address such as ann@example.com");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        let domain_ok = !domain.is_empty()
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        if local.is_empty() || local.len() > 64 || local.contains('@') || !domain_ok {
            return Err(bad());
        }
        Ok(Self(s))
    }

    /// The part before `@`.
    pub fn local_part(&self) -> &str {
        self.0.rsplit_once('@').map_or(self.0.as_str(), |(l, _)| l)
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in E.164 form: `+`, country code and number, valid by libphonenumber's
/// rules for that country (spaces, dashes, dots and parentheses in the input are dropped).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Phone(String);

impl Phone {
    /// Parses `+1 (415) 555-2671` style input into `+15555555555`.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let bad = || {
            FieldError::new(
                field,
                "must be a phone number in international form such as +14155552671",
            )
        };
        let trimmed = raw.trim();
        let rest = trimmed.strip_prefix('+').ok_or_else(bad)?;
        let mut digits = String::with_capacity(16);
        for c in rest.chars() {
            match c {
                '0'..='9' => digits.push(c),
                ' ' | '-' | '.' | '(' | ')' => {}
                _ => return Err(bad()),
            }
        }
        if !(8..=15).contains(&digits.len()) || digits.starts_with('0') {
            return Err(bad());
        }
        let e164 = format!("+{digits}");
        // libphonenumber's metadata knows which numbers each country actually assigns.
        match phonenumber::parse(None, &e164) {
            Ok(n) if phonenumber::is_valid(&n) => Ok(Self(e164)),
            _ => Err(bad()),
        }
    }

    /// The E.164 number.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A username: 3 to 64 characters of letters, digits, `.`, `_` and `-`, starting with a
/// letter or digit. Unique per organization regardless of case.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Parses and trims a username; case is kept for display.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        let len = s.chars().count();
        let ok = (3..=64).contains(&len)
            && s.chars().next().is_some_and(char::is_alphanumeric)
            && s.chars()
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'));
        if !ok {
            return Err(FieldError::new(
                field,
                "must be 3 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    /// As given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The case-folded form that uniqueness and look-ups use.
    pub fn key(&self) -> String {
        self.0.to_lowercase()
    }
}

/// A person's given or family name: 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Parses a trimmed, non-empty name.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty() || s.chars().count() > 100 || s.chars().any(char::is_control) {
            return Err(FieldError::new(field, "must be 1 to 100 characters"));
        }
        Ok(Self(s.to_owned()))
    }

    /// As given, trimmed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An address that codes and messages go to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// By email.
    Email(Email),
    /// By SMS.
    Phone(Phone),
}

impl Address {
    /// Exactly one of `email` or `phone` (email wins when both are given, as in API.md).
    pub fn parse(email: Option<&str>, phone: Option<&str>) -> Result<Self, FieldError> {
        fn present(s: Option<&str>) -> Option<&str> {
            s.map(str::trim).filter(|s| !s.is_empty())
        }
        match (present(email), present(phone)) {
            (Some(e), _) => Email::parse(e, "email").map(Self::Email),
            (None, Some(p)) => Phone::parse(p, "phone").map(Self::Phone),
            (None, None) => Err(FieldError::new(
                "email",
                "an email address or a phone number is required",
            )),
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Email(e) => e.as_str(),
            Self::Phone(p) => p.as_str(),
        }
    }

    /// `email` or `sms`.
    pub fn channel(&self) -> &'static str {
        match self {
            Self::Email(_) => "email",
            Self::Phone(_) => "sms",
        }
    }
}

/// What a user signs in with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identifier {
    /// By email address.
    Email(Email),
    /// By phone number.
    Phone(Phone),
    /// By username.
    Username(Username),
}

impl Identifier {
    /// `@` means an email, a leading `+` a phone number, anything else a username.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.contains('@') {
            Email::parse(s, field).map(Self::Email)
        } else if s.starts_with('+') {
            Phone::parse(s, field).map(Self::Phone)
        } else if s.is_empty() {
            Err(FieldError::new(field, "is required"))
        } else {
            Username::parse(s, field).map(Self::Username)
        }
    }
}

impl fmt::Display for Identifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never used in logs (it is personal data); for messages to the user only.
        match self {
            Self::Email(e) => f.write_str(e.as_str()),
            Self::Phone(p) => f.write_str(p.as_str()),
            Self::Username(u) => f.write_str(u.as_str()),
        }
    }
}

/// A role name: 1 to 64 of `a-z 0-9 _ - . :`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName(String);

impl RoleName {
    /// Every account has it.
    pub const USER: &'static str = "user";
    /// Administers the users of its own organization.
    pub const ORG_ADMIN: &'static str = "org_admin";
    /// Administers everything.
    pub const SYSTEM_ADMIN: &'static str = "system_admin";

    /// Parses a role name.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let ok = (1..=64).contains(&raw.len())
            && raw.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.' | ':')
            });
        if !ok {
            return Err(FieldError::new(
                field,
                "role names are 1 to 64 of a-z, 0-9, '_', '-', '.', ':'",
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Application-defined profile fields: a JSON object of at most 16 KiB.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attributes(serde_json::Map<String, serde_json::Value>);

impl Attributes {
    /// The largest serialised size accepted.
    pub const MAX_BYTES: usize = 16 * 1024;

    /// Accepts a JSON object within the size limit.
    pub fn parse(value: serde_json::Value, field: &str) -> Result<Self, FieldError> {
        match value {
            serde_json::Value::Object(map) => Self::checked(map, field),
            _ => Err(FieldError::new(field, "must be a JSON object")),
        }
    }

    fn checked(
        map: serde_json::Map<String, serde_json::Value>,
        field: &str,
    ) -> Result<Self, FieldError> {
        let size = serde_json::to_vec(&map)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > Self::MAX_BYTES {
            return Err(FieldError::new(field, "must be at most 16 KiB of JSON"));
        }
        Ok(Self(map))
    }

    /// Merges a patch: keys set to `null` are removed, other keys replaced, the rest kept.
    pub fn merged(&self, patch: &Attributes, field: &str) -> Result<Self, FieldError> {
        let mut map = self.0.clone();
        for (k, v) in &patch.0 {
            if v.is_null() {
                map.remove(k);
            } else {
                map.insert(k.clone(), v.clone());
            }
        }
        Self::checked(map, field)
    }

    /// Drops keys whose value is `null` (at creation, `null` means absent).
    pub fn without_nulls(mut self) -> Self {
        self.0.retain(|_, v| !v.is_null());
        self
    }

    /// The JSON object.
    pub fn as_map(&self) -> &serde_json::Map<String, serde_json::Value> {
        &self.0
    }

    /// Serialised form for storage.
    pub fn to_json(&self) -> String {
        serde_json::Value::Object(self.0.clone()).to_string()
    }

    /// Reads the stored form; anything but an object reads as empty.
    pub fn from_json(s: &str) -> Self {
        match serde_json::from_str(s) {
            Ok(serde_json::Value::Object(map)) => Self(map),
            _ => Self::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_lowercased_and_checked() {
        assert_eq!(
            Email::parse(" Ann@Example.COM ", "email").unwrap().as_str(),
            "ann@example.com"
        );
        for bad in [
            "",
            "ann",
            "ann@",
            "@x.com",
            "ann@x",
            "a b@x.com",
            "ann@x..com",
            "ann@.x.com",
        ] {
            assert!(Email::parse(bad, "email").is_err(), "{bad}");
        }
    }

    #[test]
    fn phone_is_normalised_to_e164() {
        assert_eq!(
            Phone::parse("+1 (415) 555-2671", "phone").unwrap().as_str(),
            "+14155552671"
        );
        assert_eq!(
            Phone::parse("+44 20 7946 0958", "phone").unwrap().as_str(),
            "+442079460958"
        );
        for bad in [
            "4155552671",
            "+1",
            "+0123456789",
            "+1415abc2671",
            "+1234567890123456",
            "+15555555555",
            "+1 415 555",
        ] {
            assert!(Phone::parse(bad, "phone").is_err(), "{bad}");
        }
    }

    #[test]
    fn identifier_picks_the_kind() {
        assert!(matches!(
            Identifier::parse("a@b.co", "i"),
            Ok(Identifier::Email(_))
        ));
        assert!(matches!(
            Identifier::parse("+14155552671", "i"),
            Ok(Identifier::Phone(_))
        ));
        assert!(matches!(
            Identifier::parse("ann_lee", "i"),
            Ok(Identifier::Username(_))
        ));
        assert!(Identifier::parse("  ", "i").is_err());
    }

    #[test]
    fn attributes_merge_replaces_and_removes() {
        let base = Attributes::parse(serde_json::json!({"a": 1, "b": 2}), "attributes").unwrap();
        let patch =
            Attributes::parse(serde_json::json!({"a": null, "c": 3}), "attributes").unwrap();
        let merged = base.merged(&patch, "attributes").unwrap();
        assert_eq!(
            serde_json::Value::Object(merged.as_map().clone()),
            serde_json::json!({"b": 2, "c": 3})
        );
        let big = serde_json::json!({"x": "y".repeat(17 * 1024)});
        assert!(Attributes::parse(big, "attributes").is_err());
    }
}
