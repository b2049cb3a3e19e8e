//! What every encore process sets up once: logging and configuration.

pub mod aws;
pub mod config;
pub mod logging;
pub mod metrics;
pub mod secrets;

pub use config::{ConfigError, Env};
