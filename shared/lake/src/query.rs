//! Lake SQL: one SQL text run on Athena in AWS and on DataFusion in the embedded default.
//!
//! The similarity job asks the lake one question, [`PROFILE_SQL`]: every artist's mean
//! audio profile over its latest snapshot of top tracks. [`LakeSql`] is the port; the
//! adapters are [`AthenaLakeSql`] (the Glue tables over S3, the result unloaded to
//! Parquet) and [`DataFusionLakeSql`] (a local lake directory), and both hand their result
//! as Arrow record batches to one decoder, which reads them by column name into
//! [`ProfileRow`]s.

mod athena;
#[cfg(feature = "datafusion")]
mod data_fusion;
mod decode;

use async_trait::async_trait;

pub use athena::{
    unload_statement, AthenaApi, AthenaLakeSql, AthenaTarget, ExecutionState, ExecutionStatus,
    Polling, UNLOAD_PREFIX,
};
#[cfg(feature = "datafusion")]
pub use data_fusion::DataFusionLakeSql;

/// Each artist's mean audio profile over its latest snapshot of top tracks.
///
/// Written once for both engines, in the subset that Trino (Athena engine v3) and
/// DataFusion share: `WITH` common table expressions, `SELECT DISTINCT`, inner `JOIN … ON`,
/// `GROUP BY`, `ORDER BY`, the aggregates `count(*)` and `avg(double)`, and the window
/// function `row_number() OVER (PARTITION BY … ORDER BY …)`. No engine-specific function
/// (no `max_by`, `arbitrary`, `first_value(… ORDER BY …)`, `QUALIFY` or `DISTINCT ON`), no
/// quoted identifiers, and every output column is aliased in lower case, which is how
/// Athena reports names.
///
/// - `snapshots`: an ingest writes one snapshot per artist, named by its `event_id` and
///   stamped with `fetched_at`. The latest per artist wins (ties on `fetched_at` broken by
///   `event_id`, so the choice is deterministic), whatever day's partition it is in: an
///   artist last ingested a month ago counts as much as one ingested today.
/// - `latest_tracks`: the tracks of that snapshot, `DISTINCT` because a redelivered event
///   can land in two files.
/// - `features`: one row per track. A track ingested several times (or by two artists)
///   has several feature rows; averaging them would count the track twice and could shift
///   its values by rounding, so `row_number` keeps the most recently fetched row. Rows
///   tied on `fetched_at` are ordered by the nine values themselves, so the row kept is
///   determined by the data: tied rows that survive the ordering have identical values.
/// - The final `SELECT` averages the nine features per artist over the tracks that have
///   features (`track_count` of them); an artist none of whose tracks has features is
///   absent. Rows come ordered by `artist_id` (Athena's UNLOAD keeps that order only within
///   each file it writes, so its adapter sorts what it reads).
pub const PROFILE_SQL: &str = "\
WITH snapshots AS (
    SELECT artist_id, event_id,
           row_number() OVER (PARTITION BY artist_id ORDER BY fetched_at DESC, event_id DESC) AS recency
    FROM (SELECT DISTINCT artist_id, event_id, fetched_at FROM top_tracks) AS ingests
),
latest_tracks AS (
    SELECT DISTINCT t.artist_id, t.track_id
    FROM top_tracks AS t
    JOIN snapshots AS s ON s.artist_id = t.artist_id AND s.event_id = t.event_id
    WHERE s.recency = 1
),
features AS (
    SELECT track_id, danceability, energy, loudness, speechiness, acousticness,
           instrumentalness, liveness, valence, tempo,
           row_number() OVER (
               PARTITION BY track_id
               ORDER BY fetched_at DESC, danceability, energy, loudness, speechiness,
                        acousticness, instrumentalness, liveness, valence, tempo
           ) AS recency
    FROM audio_features
)
SELECT l.artist_id AS artist_id,
       count(*) AS track_count,
       avg(f.danceability) AS danceability,
       avg(f.energy) AS energy,
       avg(f.loudness) AS loudness,
       avg(f.speechiness) AS speechiness,
       avg(f.acousticness) AS acousticness,
       avg(f.instrumentalness) AS instrumentalness,
       avg(f.liveness) AS liveness,
       avg(f.valence) AS valence,
       avg(f.tempo) AS tempo
FROM latest_tracks AS l
JOIN features AS f ON f.track_id = l.track_id
WHERE f.recency = 1
GROUP BY l.artist_id
ORDER BY l.artist_id";

/// Output column of [`PROFILE_SQL`] holding the artist id.
pub const ARTIST_ID_COLUMN: &str = "artist_id";
/// Output column of [`PROFILE_SQL`] holding the number of tracks averaged.
pub const TRACK_COUNT_COLUMN: &str = "track_count";

/// One result row of [`PROFILE_SQL`]: an artist's mean audio profile.
#[derive(Debug, Clone, PartialEq)]
pub struct ProfileRow {
    pub artist_id: String,
    /// How many tracks of the latest snapshot had features (at least 1).
    pub track_count: u32,
    /// Means of [`FEATURE_NAMES`](encore_domain::FEATURE_NAMES), in that order.
    pub features: [f64; 9],
}

/// Why the lake query failed. `Athena`, `TimedOut` and `Objects` may pass on a later run;
/// the others mean the query or the data is wrong.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// An Athena API call failed (network, permissions, throttling past the SDK's retries).
    #[error("Athena {operation} failed: {message}")]
    Athena {
        operation: &'static str,
        message: String,
    },
    /// Athena ran the query and it ended FAILED or CANCELLED.
    #[error("Athena query {execution_id} ended {state}: {reason}")]
    Failed {
        execution_id: String,
        state: ExecutionState,
        reason: String,
    },
    /// The query did not finish within the polling budget (it was asked to stop).
    #[error("Athena query {execution_id} still {state} after {waited_secs} s")]
    TimedOut {
        execution_id: String,
        state: ExecutionState,
        waited_secs: u64,
    },
    /// DataFusion could not plan or run the query.
    #[error("DataFusion query failed: {0}")]
    #[cfg(feature = "datafusion")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// A result batch could not be converted.
    #[error("the query result could not be read: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// Listing, reading or writing the objects Athena unloaded the result to failed.
    #[error("the unloaded query result could not be read: {0}")]
    Objects(#[from] crate::LakeError),
    /// An object Athena unloaded the result to is not a Parquet file this code can read.
    #[error("unloaded result object {key} is not readable Parquet: {source}")]
    Parquet {
        key: String,
        source: parquet::errors::ParquetError,
    },
    /// The result has no column of that name.
    #[error("the profile query result has no column {0}")]
    MissingColumn(&'static str),
    /// A value could not be decoded into its column's type.
    #[error("result row {row}, column {column}: {reason}")]
    BadValue {
        row: usize,
        column: &'static str,
        reason: String,
    },
}

/// What a long lake query reports while it runs, for a progress display. Both methods
/// default to doing nothing; `()` is the silent observer.
pub trait QueryProgress: Send + Sync {
    /// The engine's state changed (Athena: `QUEUED`, `RUNNING`, `SUCCEEDED`).
    fn state(&self, _state: &str) {}
    /// `rows` result rows have been read so far.
    fn rows_read(&self, _rows: usize) {}
}

impl QueryProgress for () {}

/// The lake's SQL engine, as the similarity job needs it.
#[async_trait]
pub trait LakeSql: Send + Sync {
    /// Runs [`PROFILE_SQL`] and returns every result row, ordered by artist id. An empty
    /// lake gives no rows.
    async fn artist_profiles(
        &self,
        progress: &dyn QueryProgress,
    ) -> Result<Vec<ProfileRow>, QueryError>;
}

#[cfg(test)]
mod tests {
    use encore_domain::FEATURE_NAMES;

    use super::*;

    #[test]
    fn sql_names_every_output_column_in_lower_case() {
        for column in [ARTIST_ID_COLUMN, TRACK_COUNT_COLUMN]
            .into_iter()
            .chain(FEATURE_NAMES)
        {
            assert!(PROFILE_SQL.contains(&format!(" AS {column}")), "{column}");
        }
        assert!(
            !PROFILE_SQL.contains('"') && !PROFILE_SQL.contains('`'),
            "no quoted identifiers"
        );
    }
}
