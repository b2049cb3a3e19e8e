//! The Spotify stand-in: a real HTTP server serving a Spotify-like catalog from the songs
//! data set (or any CSV with its columns), with the same endpoints, JSON shapes, status
//! codes and error bodies as Spotify, and fault injection for tests.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use encore_standin::{Catalog, Faults, StandIn};
//! let catalog = Arc::new(Catalog::load("../shared/data/spotify_songs.csv.gz")?);
//! let server = StandIn::new(catalog)
//!     .with_faults(Faults { dev_mode: true, ..Faults::default() })
//!     .serve("127.0.0.1:0".parse()?)
//!     .await?;
//! println!("{}", server.base_url());
//! # Ok(()) }
//! ```

pub mod catalog;
pub mod faults;
pub mod search;
pub mod server;
mod wire;

pub use catalog::{artist_id_for, data_set_path, Catalog, CatalogError, ALIASES, DATA_SET};
pub use faults::{Endpoint, Faults};
pub use server::{Credentials, RunningStandIn, StandIn, StandInError};
