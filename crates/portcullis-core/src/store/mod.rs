//! The storage port, by area: each trait owns the storage of one area of the core, each
//! method fits one use case and is atomic on its own. The SQLite and PostgreSQL
//! implementations in `portcullis-store` behave identically (their shared conformance suite
//! proves it). [`Store`] is all of them, for the use cases to hold as one object.

mod audit;
mod codes;
mod devices;
mod limits;
mod messages;
mod meta;
mod oauth_clients;
mod oidc;
mod orgs;
mod outbound;
mod passkeys;
mod scim;
mod second_factors;
mod sessions;
mod upstream;
mod users;
mod webhooks;

pub use crate::error::StoreError;
pub use audit::*;
pub use codes::*;
pub use devices::*;
pub use limits::*;
pub use messages::*;
pub use meta::*;
pub use oauth_clients::*;
pub use oidc::*;
pub use orgs::*;
pub use outbound::*;
pub use passkeys::*;
pub use scim::*;
pub use second_factors::*;
pub use sessions::*;
pub use upstream::*;
pub use users::*;
pub use webhooks::*;

/// The whole storage port: every area's store.
pub trait Store:
    MetaStore
    + OrgStore
    + UserStore
    + SessionStore
    + DeviceStore
    + SecondFactorStore
    + PasskeyStore
    + CodeStore
    + MessageStore
    + LimitStore
    + AuditStore
    + OAuthClientStore
    + OidcStore
    + OutboundStore
    + WebhookStore
    + UpstreamStore
    + ScimStore
{
}

impl<T> Store for T where
    T: MetaStore
        + OrgStore
        + UserStore
        + SessionStore
        + DeviceStore
        + SecondFactorStore
        + PasskeyStore
        + CodeStore
        + MessageStore
        + LimitStore
        + AuditStore
        + OAuthClientStore
        + OidcStore
        + OutboundStore
        + WebhookStore
        + UpstreamStore
        + ScimStore
{
}
