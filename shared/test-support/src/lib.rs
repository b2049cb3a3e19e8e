//! The set-up encore's tests share, in one place: where the test stack's MariaDB and moto
//! server are (`ENCORE_TEST_MYSQL_URL`, `ENCORE_TEST_AWS_ENDPOINT`, started by
//! `bash infra/local/stack.sh`), a fresh MariaDB database per test, the AWS SDK
//! configuration for moto, the songs data set, the stand-in's catalog loaded once per test
//! binary, and a Spotify client configuration pointed at a running stand-in.
//!
//! Only for tests and benchmarks (never published, linked by no Lambda). Each part
//! with heavy dependencies is behind a feature, so a test crate builds only what it uses:
//! `mysql` (`TestDatabase`, `mysql_url`), `store` (`TestDatabase::store`), `aws`
//! (`aws_config`, `aws_endpoint`), `standin` (`data_set`, `catalog`) and `spotify`
//! (`spotify_config`).
//!
//! Everything here panics when the stack or the data set is missing, with a message that
//! names the variable, the address and how to start the stack: in a test that is the
//! clearest failure.

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "standin")]
mod standin;

#[cfg(feature = "aws")]
pub use aws::{aws_config, aws_endpoint, DEFAULT_AWS_ENDPOINT};
#[cfg(feature = "mysql")]
pub use mysql::{mysql_url, TestDatabase, DEFAULT_MYSQL_URL};
#[cfg(feature = "standin")]
pub use standin::catalog;
#[cfg(feature = "spotify")]
pub use standin::spotify_config;

/// What to do when the test stack does not answer, said by every panic about it.
#[cfg(any(feature = "aws", feature = "mysql"))]
const START_THE_STACK: &str = "start the test stack with `bash infra/local/stack.sh`";

/// The songs data set's path (the stand-in's default catalog,
/// [`encore_standin::DATA_SET`] beside the project root).
///
/// # Panics
/// When the file is missing, naming the path it was looked for at.
#[cfg(feature = "standin")]
pub fn data_set() -> std::path::PathBuf {
    let path = encore_standin::data_set_path();
    assert!(
        path.exists(),
        "the songs data set is missing at {} (see ../shared/data/README.md); \
         it is part of ../shared, beside the project root",
        path.display()
    );
    path
}
