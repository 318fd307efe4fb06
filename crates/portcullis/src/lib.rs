//! Portcullis, the program: configuration, telemetry, and [`App::build`], which assembles
//! the store, the use cases and the HTTP layer into a server.

mod app;
pub mod config;
pub mod keys;
pub mod remote;
pub mod telemetry;
pub mod transfer;

pub use app::{open_database, App};
pub use config::Config;
