//! encore's storage: the ports the handlers depend on, and one adapter module per
//! technology. AWS adapters and embedded ones pass the same conformance suites
//! (`tests/`), so a handler behaves the same on both. Each adapter is a feature
//! (`mysql`, `sqlite`, `dynamodb`), so a binary links only the databases it uses; queues
//! and the bus are in `encore-messaging`.

#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod migrate;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod ports;
#[cfg(feature = "mysql")]
mod sql_text;
#[cfg(feature = "sqlite")]
pub mod sqlite;

/// The error every store port returns, shared with `encore-messaging`.
pub use encore_backend::BackendError;
pub use ports::*;
