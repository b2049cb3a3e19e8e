//! Lake SQL: one SQL text run on Athena in AWS and on DataFusion in the embedded default.
//!
//! The similarity job asks the lake one question, [`PROFILE_SQL`]: every artist's mean
//! audio profile over its latest snapshot of top tracks. [`LakeSql`] is the port; the
//! adapters are [`AthenaLakeSql`] (the Glue tables over S3) and [`DataFusionLakeSql`] (a
//! local lake directory), and both decode the result by column name into [`ProfileRow`]s.

mod athena;
#[cfg(feature = "datafusion")]
mod data_fusion;

use async_trait::async_trait;
use encore_domain::FEATURE_NAMES;

pub use athena::{
    AthenaApi, AthenaLakeSql, AthenaTarget, ExecutionState, ExecutionStatus, Polling, ResultPage,
    ATHENA_PAGE_SIZE,
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
///   absent. Rows come ordered by `artist_id`.
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
    /// Means of [`FEATURE_NAMES`], in that order.
    pub features: [f64; 9],
}

/// Why the lake query failed. `Athena` and `TimedOut` may pass on a later run; the others
/// mean the query or the data is wrong.
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
    #[error("DataFusion result could not be read: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
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

/// Where each column of [`ProfileRow`] is in a result, found by name.
#[derive(Debug, Clone, Copy)]
struct ProfileLayout {
    artist_id: usize,
    track_count: usize,
    features: [usize; 9],
}

impl ProfileLayout {
    /// Finds every needed column among `names` (matched case-insensitively; extra columns
    /// are ignored).
    fn locate<S: AsRef<str>>(names: &[S]) -> Result<Self, QueryError> {
        let find = |wanted: &'static str| {
            names
                .iter()
                .position(|name| name.as_ref().eq_ignore_ascii_case(wanted))
                .ok_or(QueryError::MissingColumn(wanted))
        };
        let mut features = [0; 9];
        for (slot, name) in features.iter_mut().zip(FEATURE_NAMES) {
            *slot = find(name)?;
        }
        Ok(Self {
            artist_id: find(ARTIST_ID_COLUMN)?,
            track_count: find(TRACK_COUNT_COLUMN)?,
            features,
        })
    }
}

/// Converts a count from the engine (a `bigint`) into [`ProfileRow::track_count`].
fn track_count_from(row: usize, count: i64) -> Result<u32, QueryError> {
    u32::try_from(count).map_err(|_| QueryError::BadValue {
        row,
        column: TRACK_COUNT_COLUMN,
        reason: format!("{count} is not a track count"),
    })
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn layout_is_found_by_name_in_any_order() {
        let mut names: Vec<String> = FEATURE_NAMES
            .iter()
            .rev()
            .map(|s| s.to_uppercase())
            .collect();
        names.push("track_count".into());
        names.insert(3, "artist_id".into());
        let layout = ProfileLayout::locate(&names).unwrap();
        assert_eq!(layout.artist_id, 3);
        assert_eq!(layout.track_count, 10);
        assert_eq!(
            layout.features[0], 9,
            "danceability is last of the reversed features"
        );
        assert_eq!(layout.features[8], 0, "tempo is first");
        names.retain(|n| n != "ENERGY");
        assert!(matches!(
            ProfileLayout::locate(&names),
            Err(QueryError::MissingColumn("energy"))
        ));
    }

    #[test]
    fn counts_must_fit() {
        assert_eq!(track_count_from(0, 7).unwrap(), 7);
        assert!(matches!(
            track_count_from(4, -1),
            Err(QueryError::BadValue { row: 4, .. })
        ));
    }
}
