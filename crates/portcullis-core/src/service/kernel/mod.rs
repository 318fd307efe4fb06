//! What every area shares, below them: the steps more than one use case takes (completing a
//! sign-in, checking a second factor, re-authenticating, issuing and checking codes,
//! sending notices, making an account), authorization, rate limits and locks, and the
//! session cache. Nothing here imports an area; areas import only from here.

pub(crate) mod accounts;
pub(crate) mod authz;
pub(crate) mod codes;
pub(crate) mod courier;
pub(crate) mod device_cookies;
pub(crate) mod hooks;
pub(crate) mod identifiers;
pub(crate) mod input;
pub(crate) mod limits;
pub(crate) mod messages;
pub(crate) mod outbound;
pub(crate) mod passkey_checks;
pub(crate) mod queue;
pub(crate) mod reauth;
pub(crate) mod second_factors;
pub(crate) mod services;
pub(crate) mod session_cache;
pub(crate) mod sign_in;
pub(crate) mod upstream_meta;
pub(crate) mod webauthn;
pub(crate) mod webhooks;
