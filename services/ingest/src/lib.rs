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
pub use catalog::{ArtistTracks, Catalog, CatalogError, CatalogUsage};
pub use config::Config;
pub use handler::{
    handle, handle_until, ingest_request, Deadline, Ingest, IngestError, Ingested,
    DEFAULT_ARTIST_BUDGET, DEFAULT_CONCURRENCY, DEFAULT_MAX_RECEIVES,
};
