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
    /// the domain, at most 254 characters. The domain is normalised by UTS 46 (the form
    /// every resolver uses, so `EXAMPLE.com`, fullwidth letters and their canonical form are
    /// one address); invisible and direction-changing characters and labels that mix
    /// scripts (a Cyrillic `е` among Latin letters, UTS 39) are refused, so that no two
    /// accounts look alike.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_lowercase();
        let bad = || FieldError::new(field, "must be an email address such as ann@example.com");
        if s.len() > 254
            || s.chars()
                .any(|c| c.is_whitespace() || c.is_control() || invisible_or_bidi(c))
        {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        if local.is_empty() || local.len() > 64 || local.contains('@') || !single_script(local) {
            return Err(bad());
        }
        let ascii = idna::domain_to_ascii(domain).map_err(|_| bad())?;
        let domain_ok = ascii.contains('.')
            && !ascii.starts_with('.')
            && !ascii.ends_with('.')
            && !ascii.contains("..")
            && ascii
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
        let (unicode, mapped) = idna::domain_to_unicode(&ascii);
        if !domain_ok || mapped.is_err() || !unicode.split('.').all(single_script) {
            return Err(bad());
        }
        Ok(Self(format!("{local}@{unicode}")))
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
        // Possible for its country by libphonenumber's metadata (a known country code and a
        // length its numbers have), as libphonenumber's `isPossibleNumber`: not only the
        // ranges assigned today, so fictional numbers such as +15555555555 (used by API
        // examples) and newly assigned ranges are accepted.
        let possible = phonenumber::parse(None, &e164).ok().is_some_and(|n| {
            let length = u16::try_from(n.national().to_string().len()).unwrap_or(u16::MAX);
            phonenumber::metadata::DATABASE
                .by_code(&n.country().code())
                .is_some_and(|metas| {
                    // The general description's lengths are the union of the types'
                    // (left empty in this crate's metadata), so each type is asked.
                    metas.iter().any(|m| {
                        let d = m.descriptors();
                        [
                            Some(d.general()),
                            d.fixed_line(),
                            d.mobile(),
                            d.toll_free(),
                            d.premium_rate(),
                            d.shared_cost(),
                            d.personal_number(),
                            d.voip(),
                            d.pager(),
                            d.uan(),
                            d.voicemail(),
                        ]
                        .into_iter()
                        .flatten()
                        .any(|desc| desc.possible_length().contains(&length))
                    })
                })
        });
        if possible {
            Ok(Self(e164))
        } else {
            Err(bad())
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
                .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-'))
            && single_script(s);
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
        Self::key_of(&self.0)
    }

    /// The case-folded form of a stored username: the one case rule, which the store's
    /// unique key follows too.
    pub fn key_of(username: &str) -> String {
        username.to_lowercase()
    }
}

/// Whether all of `s` is written in one script (UTS 39's single-script test: digits and
/// punctuation go with any script), so that `pаypal` with a Cyrillic `а` is refused.
fn single_script(s: &str) -> bool {
    use unicode_security::MixedScript as _;
    s.is_single_script()
}

/// Characters that show nothing or reorder what follows: Unicode's Default_Ignorable_Code_Point
/// (zero-width spaces and joiners, soft hyphens, variation selectors, tags) and the bidi
/// controls. Written out because no small crate exposes the property; the ranges are stable
/// across Unicode versions (the property is frozen for unassigned code points too).
fn invisible_or_bidi(c: char) -> bool {
    matches!(
        u32::from(c),
        0x00AD
            | 0x034F
            | 0x061C
            | 0x115F..=0x1160
            | 0x17B4..=0x17B5
            | 0x180B..=0x180F
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x206F
            | 0x3164
            | 0xFE00..=0xFE0F
            | 0xFEFF
            | 0xFFA0
            | 0xFFF0..=0xFFF8
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0000..=0xE0FFF
    )
}

/// A person's given or family name: 1 to 100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    /// Parses a trimmed, non-empty name.
    pub fn parse(raw: &str, field: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        if s.is_empty()
            || s.chars().count() > 100
            || s.chars().any(|c| c.is_control() || invisible_or_bidi(c))
        {
            return Err(FieldError::new(
                field,
                "must be 1 to 100 characters, none invisible or changing the text's direction",
            ));
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
    /// The address a code was sent to, as stored: an email, else a phone number.
    pub fn of_destination(destination: &str) -> Option<Self> {
        Self::parse(Some(destination), None)
            .or_else(|_| Self::parse(None, Some(destination)))
            .ok()
    }

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
            "+1 415 555",
            "+999123456789",
        ] {
            assert!(Phone::parse(bad, "phone").is_err(), "{bad}");
        }
        // Possible for its country, though not an assigned range: API examples use it.
        assert_eq!(
            Phone::parse("+15555555555", "phone").unwrap().as_str(),
            "+15555555555"
        );
    }

    #[test]
    fn look_alike_and_invisible_characters_are_refused() {
        for bad in [
            "ann@ex\u{0430}mple.com",    // Cyrillic a among Latin letters in the domain
            "ann@\u{0435}xample.com",    // Cyrillic e
            "a\u{200B}nn@example.com",   // zero-width space
            "ann\u{202E}@example.com",   // right-to-left override
            "p\u{0430}ypal@example.com", // mixed-script local part
        ] {
            assert!(Email::parse(bad, "email").is_err(), "{bad:?}");
        }
        // A wholly Cyrillic domain is one script, and UTS 46 folds its case and width.
        assert_eq!(
            Email::parse(
                "ann@\u{041F}\u{0420}\u{0418}\u{041C}\u{0415}\u{0420}.\u{0440}\u{0444}",
                "email"
            )
            .unwrap()
            .as_str(),
            "ann@\u{043F}\u{0440}\u{0438}\u{043C}\u{0435}\u{0440}.\u{0440}\u{0444}"
        );
        assert_eq!(
            Email::parse("ann@\u{FF25}XAMPLE.com", "email")
                .unwrap()
                .as_str(),
            "ann@example.com",
            "fullwidth letters are the ASCII ones"
        );
        for bad in ["Ann\u{202E}", "\u{2066}Lee", "Ann\u{200D}"] {
            assert!(PersonName::parse(bad, "first_name").is_err(), "{bad:?}");
        }
        assert!(PersonName::parse("Zo\u{00EB} O'Brien-M\u{00FC}ller", "first_name").is_ok());
        assert!(Username::parse("j\u{043E}hn", "username").is_err());
        assert!(Username::parse("\u{0438}\u{0432}\u{0430}\u{043D}", "username").is_ok());
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
