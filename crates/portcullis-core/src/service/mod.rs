//! The use cases. [`Services`] holds the ports and settings; its methods, spread over the
//! modules below by area, are the only way the HTTP layer changes anything.
//!
//! The areas: accounts (`account`, `anonymous`, `admin`, `transfer`, `questions`), sign-in
//! (`auth`), codes and messages (`codes`), second factors (`mfa`), passkeys
//! (`passkeys`), organizations (`orgs`) and their OAuth clients (`oauth_clients`), the OpenID
//! provider (`oidc`), upstream identity providers (`identity_providers`) and signing in through
//! them (`upstream`), devices and application tokens (`devices`, `app_tokens`), webhooks (`webhooks`). No area imports another: what more than one needs lives below them, in
//! `kernel` (the ports, audit, organization policy, rate limits and locks, authorization,
//! and the shared steps: sign-in completion, second-factor checks, codes and notices).
//! `tests/architecture.rs` holds this true.

mod account;
mod admin;
mod anonymous;
mod app_tokens;
mod auth;
mod codes;
mod devices;
mod identity_providers;
mod kernel;
mod mfa;
mod oauth_clients;
mod oidc;
mod orgs;
mod passkeys;
mod questions;
mod scim;
mod transfer;
mod upstream;
mod webhooks;

pub use account::ChangePasswordInput;
pub use admin::{AdminCreateInput, AdminUpdateInput};
pub use app_tokens::{AppAccess, NewAppToken, APP_TOKEN_PREFIX};
pub use auth::LoginInput;
pub use codes::{CodeRequest, CodeSubmission};
pub use devices::{DeviceInput, DEVICE_REFRESH_PREFIX, LICENSE_PREFIX};
pub use identity_providers::ProviderSettings;
pub use kernel::accounts::{RegisterInput, UpdateProfileInput};
pub use kernel::authz::OrgAdmin;
pub use kernel::courier::Courier;
pub use kernel::device_cookies::DEVICE_COOKIE_PREFIX;
pub use kernel::input::Patch;
pub use kernel::outbound::Dispatcher;
pub use kernel::passkey_checks::PasskeyAssertion;
pub use kernel::reauth::Proof;
pub use kernel::second_factors::OtpTo;
pub use kernel::second_factors::SecondFactor;
pub use kernel::services::{Principal, Services, StartError, ENROLMENT_ONLY};
pub use kernel::session_cache::SessionCache;
pub use kernel::sign_in::Tokens;
pub use kernel::sign_in::DEVICE_PREFIX;
pub use kernel::webhooks::Deliverer;
pub use mfa::NewTotpKey;
pub use oauth_clients::OAuthClientSettings;
pub use oidc::{
    Authorization, AuthorizeNext, AuthorizeRefusal, ClientCredentials, TokenAnswer, TokenForm,
};
pub use orgs::OrgInput;
pub use passkeys::PasskeyChallenge;
pub use questions::QuestionAnswer;
pub use scim::{ScimClient, ScimListQuery, ScimPage, SCIM_TOKEN_PREFIX};
pub use transfer::{ImportError, UserRecord};
pub use upstream::{
    IdentityView, LinkTicket, UpstreamButton, UpstreamCallback, UpstreamOutcome, UpstreamStart,
    UpstreamTicket,
};
pub use webhooks::{HookSettings, WebhookSettings};
