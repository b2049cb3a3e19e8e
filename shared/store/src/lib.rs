//! encore's storage: the ports the handlers depend on, and one adapter module per
//! technology. AWS adapters and embedded ones pass the same conformance suites
//! (`tests/`), so a handler behaves the same on both.

mod context;
pub mod dynamodb;
pub mod embedded_bus;
pub mod embedded_queue;
pub mod error;
pub mod eventbridge;
pub mod inbound;
pub mod migrate;
pub mod mysql;
pub mod ports;
pub mod replay;
mod sql_text;
pub mod sqlite;
pub mod sqs;

pub use error::StoreError;
pub use ports::*;
