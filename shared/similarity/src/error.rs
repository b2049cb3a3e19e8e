//! What can go wrong when building profiles and neighbours.

use thiserror::Error;

/// Why a feature matrix could not be accepted or neighbours not computed.
#[derive(Debug, Error, PartialEq)]
pub enum SimilarityError {
    /// The flat value buffer does not hold `ids × width` values.
    #[error("feature matrix has {values} values, expected {ids} ids × {width} features")]
    Shape {
        ids: usize,
        width: usize,
        values: usize,
    },
    /// A row's length differs from the first row's.
    #[error("row {row} (artist {id}) has {found} features, expected {expected}")]
    RowWidth {
        row: usize,
        id: String,
        found: usize,
        expected: usize,
    },
    /// NaN or ±infinity: distances would be meaningless.
    #[error("artist {id} has a non-finite value in feature column {column}")]
    NonFinite { id: String, column: usize },
    /// The same artist id twice: the tie-break by id would not be a total order.
    #[error("artist id {0} appears more than once")]
    DuplicateId(String),
    /// More rows than the engine's 32-bit point indices can address.
    #[error("{0} artists exceed the engine's limit of {max}", max = u32::MAX)]
    TooMany(usize),
    /// A profile's id is not a Spotify artist id, so its rows cannot enter the datamart.
    #[error("related artists: {0}")]
    Id(#[from] encore_domain::IdError),
    /// The rows could not form one datamart snapshot.
    #[error("related artists: {0}")]
    Snapshot(#[from] encore_domain::SnapshotError),
}
