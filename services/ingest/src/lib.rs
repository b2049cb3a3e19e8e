//! The ingest service: turns `ArtistRequested` events into stored artists, top tracks and
//! `ArtistIngested` events, and completes Kakao answers through their callback URL.
//!
//! The same [`handle`] serves the Lambda (an SQS batch) and the embedded runner (a batch
//! from the durable SQLite queue).

pub mod callback;
pub mod catalog;
pub mod config;
mod handler;
pub mod spotify;

pub use callback::Callbacks;
pub use catalog::{ArtistTracks, Catalog, CatalogError};
pub use config::Config;
pub use handler::{handle, ingest_request, Ingest, IngestError, Ingested, DEFAULT_CONCURRENCY};
