//! Portcullis domain core: identities, passwords, tokens, policies and the use cases that
//! combine them. It knows nothing of HTTP or SQL; it reaches the world through the traits
//! [`Store`], [`Clock`] and [`Rng`].

pub mod audit;
pub mod clock;
pub mod config;
pub mod crypto;
pub mod error;
mod hashing;
pub mod identity;
pub mod ids;
pub mod model;
pub mod notify;
pub mod oauth;
pub mod oidc;
pub mod password;
pub mod scim;
pub mod service;
pub mod store;
pub mod tokens;
pub mod upstream;
pub mod webhooks;

pub use audit::{AuditEvent, AuditKind, ClientInfo};
pub use clock::{Clock, FixedClock, OffsetClock, SystemClock};
pub use config::CoreConfig;
pub use crypto::{MasterKey, OsRng, Rng};
pub use error::{AuthError, FieldError};
pub use ids::{OrgId, SessionId, UserId};
pub use model::{OrgPolicy, Organization, Role, Session, User};
pub use service::{Principal, Services};
pub use store::{Store, StoreError};
