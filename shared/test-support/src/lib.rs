//! The set-up encore's tests share, in one place: where the test stack's MariaDB and moto
//! server are (`ENCORE_TEST_MYSQL_URL`, `ENCORE_TEST_AWS_ENDPOINT`, started by
//! `bash infra/local/stack.sh`), a fresh MariaDB database per test, the AWS SDK
//! configuration for moto, the songs data set, the stand-in's catalog loaded once per test
//! binary, and a Spotify client configuration pointed at a running stand-in.
//!
//! Only for tests, benchmarks and examples (a dev-dependency; never published). Each part
//! with heavy dependencies is behind a feature, so a test crate builds only what it uses:
//! `mysql` (`TestDatabase`, `mysql_url`), `store` (`TestDatabase::store`), `aws`
//! (`aws_config`, `aws_endpoint`), `standin` (`catalog`) and `spotify`
//! (`spotify_config`). The data set's path ([`data_set`]) needs none.
//!
//! Everything here panics when the stack or the data set is missing, with a message that
//! names the variable, the address and how to start the stack: in a test that is the
//! clearest failure.

use std::path::PathBuf;

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

/// Where the songs data set is: `../shared/data/spotify_songs.csv.gz` beside the project
/// root, whether or not it is there (see [`data_set`] for a test that needs it).
pub fn data_set_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data/spotify_songs.csv.gz")
}

/// The songs data set's path.
///
/// # Panics
/// When the file is missing, naming the path it was looked for at.
pub fn data_set() -> PathBuf {
    let path = data_set_path();
    assert!(
        path.exists(),
        "the songs data set is missing at {} (see ../shared/data/README.md); \
         it is part of ../shared, beside the project root",
        path.display()
    );
    path
}
