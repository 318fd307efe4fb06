//! What a SCIM filter asks of the store: conditions on the columns of an account.

use chrono::{DateTime, Utc};

use super::CompareOp;

/// A user column a SCIM filter or sort can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimColumn {
    /// `id`.
    Id,
    /// `userName`: SCIM's, else the username, email, phone or id.
    UserName,
    /// `externalId`.
    ExternalId,
    /// `name.givenName`.
    GivenName,
    /// `name.familyName`.
    FamilyName,
    /// The account's email (`emails.value`).
    Email,
    /// The account's phone (`phoneNumbers.value`).
    Phone,
    /// `active`.
    Active,
    /// `meta.created`.
    Created,
    /// `meta.lastModified`.
    LastModified,
}

/// A value a column is compared with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimValue {
    /// Text.
    Text(String),
    /// A boolean.
    Bool(bool),
    /// A time.
    Time(DateTime<Utc>),
}

/// A condition on users, translated from a SCIM filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimCond {
    /// Every user.
    True,
    /// A column compared with a value.
    Compare {
        /// The column.
        column: ScimColumn,
        /// The operator.
        op: CompareOp,
        /// The value.
        value: ScimValue,
        /// Whether text compares exactly (else ignoring case).
        case_exact: bool,
    },
    /// The column has a value.
    Present(ScimColumn),
    /// Both.
    And(Box<ScimCond>, Box<ScimCond>),
    /// Either.
    Or(Box<ScimCond>, Box<ScimCond>),
    /// Not.
    Not(Box<ScimCond>),
}
