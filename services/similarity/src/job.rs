//! The daily job: the lake's artist profiles → exact nearest artists → the datamart,
//! replaced atomically. Every phase must succeed before the datamart is touched, so a
//! failed run leaves yesterday's related artists in place.

use std::fmt;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use encore_domain::RelatedSnapshot;
use encore_lake::query::{LakeSql, ProfileRow, QueryError, QueryProgress};
use encore_lake::tables::PARTITION_TZ;
use encore_similarity::{relate, ArtistProfile, Profile, SimilarityError, DEFAULT_K};
use encore_store::{BackendError, RelatedStore};
use serde::Serialize;

/// The job's long phases, in the order they run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The lake SQL: every artist's mean audio profile.
    Query,
    /// Standardization and the exact k-nearest-neighbour search.
    Knn,
    /// Loading the datamart and swapping it in.
    Load,
}

impl Phase {
    /// A short name for logs and progress bars.
    pub fn name(self) -> &'static str {
        match self {
            Self::Query => "query",
            Self::Knn => "knn",
            Self::Load => "load",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the job reports while it runs, so a front end (the CLI's progress bars) can show
/// it. Counts are rows read (query), artists related (k-NN) and rows loaded (load). Every
/// method defaults to doing nothing; `()` is the silent observer.
pub trait Progress: Send + Sync {
    /// `phase` began; `total` is its count when known in advance.
    fn started(&self, _phase: Phase, _total: Option<u64>) {}
    /// A state worth showing (the lake engine's `QUEUED`, `RUNNING`, …).
    fn message(&self, _phase: Phase, _message: &str) {}
    /// `done` of the phase's count is done so far.
    fn advanced(&self, _phase: Phase, _done: u64) {}
    /// `phase` ended successfully with `count` done, after `elapsed`.
    fn finished(&self, _phase: Phase, _count: u64, _elapsed: Duration) {}
}

impl Progress for () {}

/// Forwards the lake engine's reports to the job's [`Progress`] as the query phase.
struct QueryPhase<'a>(&'a dyn Progress);

impl QueryProgress for QueryPhase<'_> {
    fn state(&self, state: &str) {
        self.0.message(Phase::Query, state);
    }

    fn rows_read(&self, rows: usize) {
        self.0.advanced(Phase::Query, count(rows));
    }
}

/// The default of [`Settings::min_kept_fraction`]: a run must relate at least 90 % of the
/// artists the current datamart holds.
pub const DEFAULT_MIN_KEPT_FRACTION: f64 = 0.9;

/// How the job relates artists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Neighbours stored per artist.
    pub k: usize,
    /// How profiles become points before the search (the engine's default unless a
    /// benchmark or test asks for the plain z-score).
    pub profile: Profile,
    /// The shrink guard: a run with fewer artists than this fraction of the current
    /// datamart's is refused ([`JobError::Shrunk`]), since a lake that lost data far more
    /// likely explains it than artists vanishing (`ENCORE_SIMILARITY_MIN_KEPT_FRACTION`).
    pub min_kept_fraction: f64,
    /// Replace the datamart even when the guard refuses (an operator's decision).
    pub force: bool,
}

impl Default for Settings {
    /// K = 10, the engine's default profile, the shrink guard at
    /// [`DEFAULT_MIN_KEPT_FRACTION`], not forced.
    fn default() -> Self {
        Self {
            k: DEFAULT_K,
            profile: Profile::default(),
            min_kept_fraction: DEFAULT_MIN_KEPT_FRACTION,
            force: false,
        }
    }
}

impl Settings {
    /// These settings with the shrink guard's fraction from
    /// `ENCORE_SIMILARITY_MIN_KEPT_FRACTION` when set (a number from 0 to 1).
    pub fn from_env(
        env: &encore_platform::config::Env,
    ) -> Result<Self, encore_platform::ConfigError> {
        let key = encore_platform::config::keys::SIMILARITY_MIN_KEPT_FRACTION;
        let fraction: f64 = env.parse_or(key, DEFAULT_MIN_KEPT_FRACTION)?;
        if !(0.0..=1.0).contains(&fraction) {
            return Err(encore_platform::ConfigError::Invalid {
                key,
                reason: format!("{fraction} is not a fraction from 0 to 1"),
            });
        }
        Ok(Self {
            min_kept_fraction: fraction,
            ..Self::default()
        })
    }
}

/// What a finished run did, for logs, the Lambda's response and the CLI summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobSummary {
    /// The datamart snapshot written (the run's date in Asia/Seoul).
    pub snapshot: NaiveDate,
    /// Artists with a profile in the lake.
    pub artists: usize,
    /// Datamart rows written.
    pub rows: usize,
    pub query_seconds: f64,
    pub knn_seconds: f64,
    pub load_seconds: f64,
}

impl JobSummary {
    /// Seconds spent in `phase`.
    pub fn seconds(&self, phase: Phase) -> f64 {
        match phase {
            Phase::Query => self.query_seconds,
            Phase::Knn => self.knn_seconds,
            Phase::Load => self.load_seconds,
        }
    }
}

impl fmt::Display for JobSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "snapshot {}: {} artists, {} rows; query {:.2} s, knn {:.2} s, load {:.2} s",
            self.snapshot,
            self.artists,
            self.rows,
            self.query_seconds,
            self.knn_seconds,
            self.load_seconds
        )
    }
}

/// Why a run failed. In every case the datamart was not replaced.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("lake query failed: {0}")]
    Query(#[from] QueryError),
    /// Refusing to replace the datamart with nothing: an empty result far more likely
    /// means a misconfigured lake or catalog than a lake without artists.
    #[error("the lake returned no artist profiles; the datamart was left as it is")]
    NoProfiles,
    /// The shrink guard: the run would replace a larger datamart with a much smaller one.
    #[error(
        "the lake has profiles for {artists} artists, fewer than {:.0} % of the {current} in the \
         current datamart; the datamart was left as it is (check the lake, or force the run)",
        .min_kept_fraction * 100.0
    )]
    Shrunk {
        artists: usize,
        current: u64,
        min_kept_fraction: f64,
    },
    #[error("nearest-neighbour search failed: {0}")]
    Knn(#[from] SimilarityError),
    #[error("nearest-neighbour search was interrupted: {0}")]
    KnnInterrupted(String),
    #[error("datamart load failed: {0}")]
    Load(#[from] BackendError),
}

/// The datamart snapshot date of a run at `now`: its calendar day in Asia/Seoul, the same
/// calendar the lake's partitions follow (encore serves Korean users; the schedule fires
/// at 03:00 there).
pub fn snapshot_date(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&PARTITION_TZ).date_naive()
}

/// Runs the job once: query the lake's profiles, relate every artist to its `k` nearest
/// (exact, self excluded, ties by id), and replace the datamart with the result in one
/// atomic swap. Nothing is written unless the query and the search both succeed.
#[tracing::instrument(name = "similarity_job", skip_all, fields(k = settings.k))]
pub async fn run_similarity(
    lake_sql: &dyn LakeSql,
    store: &dyn RelatedStore,
    settings: &Settings,
    progress: &dyn Progress,
) -> Result<JobSummary, JobError> {
    let snapshot = snapshot_date(Utc::now());

    progress.started(Phase::Query, None);
    let started = Instant::now();
    let profiles = lake_sql.artist_profiles(&QueryPhase(progress)).await?;
    let query = finish(progress, Phase::Query, profiles.len(), started);
    if profiles.is_empty() {
        return Err(JobError::NoProfiles);
    }
    let artists = profiles.len();
    check_shrink(store, artists, settings).await?;

    progress.started(Phase::Knn, Some(count(artists)));
    let started = Instant::now();
    let rows = related_rows(profiles, *settings, snapshot).await?;
    let knn = finish(progress, Phase::Knn, artists, started);

    progress.started(Phase::Load, Some(count(rows.len())));
    let started = Instant::now();
    store.replace_related(&rows).await?;
    let load = finish(progress, Phase::Load, rows.len(), started);

    let summary = JobSummary {
        snapshot,
        artists,
        rows: rows.len(),
        query_seconds: query.as_secs_f64(),
        knn_seconds: knn.as_secs_f64(),
        load_seconds: load.as_secs_f64(),
    };
    tracing::info!(%summary, "similarity job done");
    Ok(summary)
}

/// The shrink guard: refuses a run relating fewer than `settings.min_kept_fraction` of the
/// artists the datamart holds now (unless forced), with an error line operators alarm on.
async fn check_shrink(
    store: &dyn RelatedStore,
    artists: usize,
    settings: &Settings,
) -> Result<(), JobError> {
    let current = store.related_artist_count().await?;
    let floor = (current as f64) * settings.min_kept_fraction;
    if (artists as f64) >= floor {
        return Ok(());
    }
    if settings.force {
        tracing::warn!(
            artists,
            current,
            "similarity run forced past the shrink guard"
        );
        return Ok(());
    }
    tracing::error!(
        metric = encore_platform::metrics::names::SHRINK_REFUSED,
        artists,
        current,
        min_kept_fraction = settings.min_kept_fraction,
        "similarity run refused by the shrink guard; the datamart was left as it is"
    );
    Err(JobError::Shrunk {
        artists,
        current,
        min_kept_fraction: settings.min_kept_fraction,
    })
}

/// The datamart rows of `profiles`. The search is CPU-bound on every core, so it runs on
/// the blocking pool rather than on the async workers.
async fn related_rows(
    profiles: Vec<ProfileRow>,
    settings: Settings,
    snapshot: NaiveDate,
) -> Result<RelatedSnapshot, JobError> {
    let profiles: Vec<ArtistProfile> = profiles
        .into_iter()
        .map(|row| ArtistProfile {
            artist_id: row.artist_id,
            features: row.features,
            track_count: row.track_count,
        })
        .collect();
    let snapshot = snapshot.to_string();
    let search = tokio::task::spawn_blocking(move || {
        relate(&profiles, settings.k, settings.profile)
            .and_then(|relations| relations.to_snapshot(&snapshot))
    });
    match search.await {
        Ok(rows) => Ok(rows?),
        Err(join) => Err(JobError::KnnInterrupted(join.to_string())),
    }
}

/// Reports and logs the end of a phase; returns its duration.
fn finish(progress: &dyn Progress, phase: Phase, done: usize, started: Instant) -> Duration {
    let elapsed = started.elapsed();
    progress.finished(phase, count(done), elapsed);
    tracing::info!(%phase, count = done, seconds = elapsed.as_secs_f64(), "phase finished");
    elapsed
}

/// A length as a progress count.
fn count(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_is_the_day_in_seoul() {
        let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
        // The schedule fires at 18:00 UTC: already the next day in Seoul.
        assert_eq!(
            snapshot_date(at("2026-11-25T18:00:00Z")).to_string(),
            "2026-11-26"
        );
        assert_eq!(
            snapshot_date(at("2026-11-25T14:59:59Z")).to_string(),
            "2026-11-25"
        );
        assert_eq!(
            snapshot_date(at("2026-11-25T15:00:00Z")).to_string(),
            "2026-11-26"
        );
    }

    #[test]
    fn summary_names_every_phase() {
        let summary = JobSummary {
            snapshot: NaiveDate::from_ymd_opt(2026, 11, 26).unwrap(),
            artists: 3,
            rows: 6,
            query_seconds: 1.5,
            knn_seconds: 0.25,
            load_seconds: 0.5,
        };
        assert_eq!(summary.seconds(Phase::Knn), 0.25);
        assert_eq!(
            summary.to_string(),
            "snapshot 2026-11-26: 3 artists, 6 rows; query 1.50 s, knn 0.25 s, load 0.50 s"
        );
    }
}
