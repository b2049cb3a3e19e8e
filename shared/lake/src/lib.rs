//! The data lake: table schemas, Parquet writing, object stores (S3, local directory) and
//! lake SQL (Athena, DataFusion).
//!
//! Layout: `<table prefix>/dt=YYYY-MM-DD/part-<id>.parquet`, `dt` the Asia/Seoul date of the
//! event; see [`tables`] for the tables and [`write`] for how files are named.

pub mod compact;
pub mod error;
pub mod objects;
pub mod query;
pub mod tables;
pub mod write;

pub use compact::{compact, CompactionReport, DEFAULT_TARGET_BYTES};
pub use error::{LakeError, RowError};
pub use objects::{Lake, LocalDirLake, ObjectInfo, S3Lake};
pub use tables::{LakeTable, ALL_TABLES, AUDIO_FEATURES, RELEASES, TOP_TRACKS};
pub use write::{partition_date, write_batch, LakeBatch, LakeFile};
