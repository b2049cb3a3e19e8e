//! What can go wrong in the lake.

use arrow::error::ArrowError;
use chrono::NaiveDate;
use parquet::errors::ParquetError;

/// A failure of a lake operation. Storage variants are worth retrying (the message goes back
/// to the queue); `InvalidKey`, `UnexpectedSchema` and `NotCompactable` are the caller's.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    #[error("invalid lake key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("lake directory I/O on {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("S3 {operation} of {key:?} failed: {message}")]
    S3 {
        operation: &'static str,
        key: String,
        message: String,
    },
    #[error("Parquet encoding or decoding failed: {0}")]
    Parquet(#[from] ParquetError),
    #[error("Arrow batch could not be built: {0}")]
    Arrow(#[from] ArrowError),
    #[error("{key} does not have the {table} schema")]
    UnexpectedSchema { key: String, table: &'static str },
    #[error("partition {dt} of {table} is not compactable: {reason}")]
    NotCompactable {
        table: &'static str,
        dt: NaiveDate,
        reason: String,
    },
}

/// Why one event cannot become lake rows. Permanent: the message belongs in the DLQ.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RowError {
    #[error("event {event_id}: {field} = {value} does not fit the lake column type")]
    OutOfRange {
        event_id: String,
        field: &'static str,
        value: u64,
    },
}
