//! Portcullis wire types: request and response bodies of the v1 HTTP API, the problem
//! codes, and their OpenAPI schemas. Shared by the server and the client, so the two can
//! never disagree on a field name.

mod app_tokens;
mod audit;
mod auth;
mod codes;
mod devices;
mod discovery;
mod identity_providers;
mod mfa;
mod oauth_clients;
mod oidc;
mod orgs;
mod passkeys;
mod problem;
mod scim;
mod users;
mod webhooks;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

pub use app_tokens::*;
pub use audit::*;
pub use auth::*;
pub use codes::*;
pub use devices::*;
pub use discovery::*;
pub use identity_providers::*;
pub use mfa::*;
pub use oauth_clients::*;
pub use oidc::*;
pub use orgs::*;
pub use passkeys::*;
pub use problem::{FieldProblem, Problem, ProblemCode};
pub use scim::*;
pub use users::*;
pub use webhooks::*;

/// `Some(None)` for an explicit `null`, `None` for an absent field (with `#[serde(default)]`).
pub(crate) fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
