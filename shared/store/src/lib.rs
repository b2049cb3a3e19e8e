//! encore's storage: the ports the handlers depend on, and one adapter module per
//! technology. AWS adapters and embedded ones pass the same conformance suites
//! (`tests/`), so a handler behaves the same on both.

pub mod error;
pub mod migrate;
pub mod ports;

pub use error::StoreError;
pub use ports::*;
