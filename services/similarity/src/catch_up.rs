//! The catch-up schedule on AWS: every few minutes the similarity function is invoked with
//! a catch-up event, and runs the job only when an artist was written to MySQL after the
//! lake read that computed the datamart in place (less [`LAKE_LAG`]). A quiet stack pays
//! for one indexed `MAX(updated_at)` a tick; a newly ingested artist has its neighbours
//! within one interval plus the run. The run itself is the daily job: the same atomic swap,
//! single-flight through the function's reserved concurrency of one.

use chrono::{DateTime, Utc};
use encore_store::{BackendError, DatamartWatermark};

/// How far the lake may lag MySQL: ingest writes the artist first, then the lake queue
/// batches its `ArtistIngested` for up to a minute before the lake function writes the
/// Parquet. An artist written this shortly before a run's lake read may be missing from
/// it, so it counts as not yet covered and gets one more run.
pub const LAKE_LAG: chrono::Duration = chrono::Duration::minutes(5);

/// What a catch-up tick does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CatchUpDecision {
    /// Run the job: why.
    Run(String),
    /// Leave the datamart as it is: why.
    Skip(String),
}

/// The decision for the latest artist write `last_ingested_at` and the lake read
/// `read_at` of the datamart in place.
pub fn catch_up_decision(
    last_ingested_at: Option<DateTime<Utc>>,
    read_at: Option<DateTime<Utc>>,
) -> CatchUpDecision {
    match (last_ingested_at, read_at) {
        (None, _) => CatchUpDecision::Skip("no artist is stored".into()),
        (Some(last), None) => CatchUpDecision::Run(format!(
            "artists written up to {last}, and no datamart run is recorded"
        )),
        (Some(last), Some(read)) if last > read - LAKE_LAG => CatchUpDecision::Run(format!(
            "an artist was written at {last}, after the datamart's lake read at {read} less the lake's lag"
        )),
        (Some(last), Some(read)) => CatchUpDecision::Skip(format!(
            "no artist written since {last}; the datamart read the lake at {read}"
        )),
    }
}

/// [`catch_up_decision`] on `store`'s watermark.
pub async fn decide(store: &dyn DatamartWatermark) -> Result<CatchUpDecision, BackendError> {
    Ok(catch_up_decision(
        store.last_ingested_at().await?,
        store.datamart_read_at().await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn runs_for_artists_written_after_the_lake_read_less_its_lag() {
        let read = at("2026-12-02T07:00:00Z");
        let run = |last: &str| {
            matches!(
                catch_up_decision(Some(at(last)), Some(read)),
                CatchUpDecision::Run(_)
            )
        };
        assert!(run("2026-12-02T07:10:00Z"), "written after the read");
        assert!(
            run("2026-12-02T06:56:00Z"),
            "maybe not in the lake yet at the read"
        );
        assert!(!run("2026-12-02T06:54:59Z"), "in the lake when it was read");
        assert!(matches!(
            catch_up_decision(Some(read), None),
            CatchUpDecision::Run(_)
        ));
        assert!(matches!(
            catch_up_decision(None, None),
            CatchUpDecision::Skip(_)
        ));
    }
}
