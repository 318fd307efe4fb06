//! SCIM 2.0 (RFC 7643, RFC 7644), the pure part: filters, PATCH operations, and the
//! mapping between a Portcullis user and a SCIM `User` resource. The use cases are in
//! `service::scim`, the HTTP binding in the server's `routes::scim`.

pub mod discovery;
pub mod filter;
pub mod group;
pub mod patch;
pub mod query;
pub mod user;

pub use filter::{AttrPath, CompareOp, Filter};

/// The core `User` schema.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The enterprise extension of `User`.
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The core `Group` schema.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// A list answer.
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// A PATCH request.
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// An error answer.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// A search request (`POST .search`).
pub const SEARCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";
/// The most resources one list answer holds.
pub const MAX_RESULTS: usize = 200;

/// A SCIM error: the HTTP status, RFC 7644's `scimType` where it names one, and a detail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScimError {
    /// The HTTP status.
    pub status: u16,
    /// `invalidFilter`, `invalidValue`, `invalidPath`, `noTarget`, `mutability`,
    /// `uniqueness`, `invalidSyntax`, `tooMany`...
    pub scim_type: Option<&'static str>,
    /// For people.
    pub detail: String,
}

impl ScimError {
    fn new(status: u16, scim_type: Option<&'static str>, detail: &str) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.to_owned(),
        }
    }

    /// A filter that cannot be parsed or applied.
    pub fn invalid_filter(detail: &str) -> Self {
        Self::new(400, Some("invalidFilter"), detail)
    }

    /// A path that cannot be parsed or names nothing this resource has.
    pub fn invalid_path(detail: &str) -> Self {
        Self::new(400, Some("invalidPath"), detail)
    }

    /// A value that is missing, of the wrong type or not allowed.
    pub fn invalid_value(detail: &str) -> Self {
        Self::new(400, Some("invalidValue"), detail)
    }

    /// A request body that is not what the operation takes.
    pub fn invalid_syntax(detail: &str) -> Self {
        Self::new(400, Some("invalidSyntax"), detail)
    }

    /// A PATCH whose filter matched nothing where something was needed.
    pub fn no_target(detail: &str) -> Self {
        Self::new(400, Some("noTarget"), detail)
    }

    /// A change to an attribute that cannot be changed.
    pub fn mutability(detail: &str) -> Self {
        Self::new(400, Some("mutability"), detail)
    }

    /// A filter that would make the server weigh more resources than it will.
    pub fn too_many(detail: &str) -> Self {
        Self::new(400, Some("tooMany"), detail)
    }

    /// A value another resource holds.
    pub fn uniqueness(detail: &str) -> Self {
        Self::new(409, Some("uniqueness"), detail)
    }

    /// No such resource (or not this organization's).
    pub fn not_found(detail: &str) -> Self {
        Self::new(404, None, detail)
    }

    /// The resource changed since the version the caller names (`If-Match`).
    pub fn precondition_failed() -> Self {
        Self::new(412, None, "the resource has changed since that version")
    }

    /// Any other status, with no `scimType`.
    pub fn status(status: u16, detail: &str) -> Self {
        Self::new(status, None, detail)
    }
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl std::error::Error for ScimError {}
