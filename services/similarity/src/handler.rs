//! The Lambda's handler: one EventBridge event in, the day's refresh and one run of the
//! job (or, for a catch-up tick with nothing new, none), the outcome out.

use std::sync::Arc;

use chrono::Utc;
use encore_lake::query::LakeSql;
use encore_messaging::BusEnvelope;
use encore_messaging::EventPublisher;
use encore_platform::metrics::{names, Metrics};
use encore_store::{BackendError, DatamartWatermark, RelatedStore, RequestLog};
use serde::Serialize;

use crate::catch_up::{decide, CatchUpDecision};
use crate::job::{run_similarity, JobError, JobSummary, Settings};
use crate::refresh::{request_refresh, RefreshError, REFRESH_WINDOW_DAYS};
use crate::trigger::{Trigger, TriggerError};

/// Why an invocation failed; the Lambda reports it and the failure alarm fires.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(transparent)]
    Job(#[from] JobError),
    #[error(transparent)]
    Refresh(#[from] RefreshError),
    #[error("cannot read the datamart's watermark: {0}")]
    Watermark(#[from] BackendError),
}

/// The similarity service's ports and settings, one shared adapter each (the wiring every
/// service uses: a struct of `Arc<dyn Port>`).
pub struct Similarity {
    /// The lake's profile query (Athena, or DataFusion over local Parquet).
    pub lake_sql: Arc<dyn LakeSql>,
    /// The datamart the job replaces.
    pub related: Arc<dyn RelatedStore>,
    /// Who asked about which name, for the daily refresh.
    pub requests: Arc<dyn RequestLog>,
    /// When artists were last written and the datamart last read the lake (catch-up).
    pub watermark: Arc<dyn DatamartWatermark>,
    /// The bus the daily refresh publishes to.
    pub publisher: Arc<dyn EventPublisher>,
    /// The job's settings.
    pub settings: Settings,
}

impl Similarity {
    /// The service over one database serving the datamart, the request log and the
    /// watermark (MySQL on AWS, SQLite embedded).
    pub fn new<S>(
        lake_sql: Arc<dyn LakeSql>,
        store: Arc<S>,
        publisher: Arc<dyn EventPublisher>,
        settings: Settings,
    ) -> Self
    where
        S: RelatedStore + RequestLog + DatamartWatermark + 'static,
    {
        Self {
            lake_sql,
            related: store.clone(),
            requests: store.clone(),
            watermark: store,
            publisher,
            settings,
        }
    }
}

/// What one invocation did (the Lambda's response).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The job ran and swapped the datamart in.
    Ran(JobSummary),
    /// A catch-up tick found no artist the datamart does not cover: nothing ran.
    Skipped { reason: String },
}

impl Outcome {
    /// The run's summary, when the job ran.
    pub fn summary(&self) -> Option<&JobSummary> {
        match self {
            Self::Ran(summary) => Some(summary),
            Self::Skipped { .. } => None,
        }
    }
}

/// Runs the day's work for a schedule tick (first the refresh of the artists users asked
/// about in the last [`REFRESH_WINDOW_DAYS`] days, then the job), the job alone for a
/// `SimilarityRequested` event, or for a catch-up tick the job only when an artist was
/// written since the datamart's lake read ([`crate::catch_up`]); any other event is
/// refused without touching the lake, the bus or the datamart. A failed refresh does not
/// stop the job; the invocation still fails afterwards, so the alarm fires (a retry
/// publishes the same refresh event ids). Every successful run records its lake read as
/// the datamart's watermark.
pub async fn handle_event(
    event: BusEnvelope,
    similarity: &Similarity,
) -> Result<Outcome, HandlerError> {
    let Similarity {
        lake_sql,
        related,
        requests,
        watermark,
        publisher,
        settings,
    } = similarity;
    let trigger = Trigger::try_from(event)?;
    tracing::info!(origin = trigger.origin(), "similarity job triggered");
    if trigger == Trigger::CatchUp {
        match decide(watermark.as_ref()).await? {
            CatchUpDecision::Run(reason) => tracing::info!(%reason, "catch-up run"),
            CatchUpDecision::Skip(reason) => {
                tracing::info!(%reason, "catch-up tick: nothing to do");
                return Ok(Outcome::Skipped { reason });
            }
        }
    }
    let read_at = Utc::now();
    let settings = &Settings {
        force: matches!(&trigger, Trigger::Requested(request) if request.force),
        ..*settings
    };
    let refreshed = match trigger {
        Trigger::Schedule => request_refresh(
            requests.as_ref(),
            publisher.as_ref(),
            Utc::now(),
            REFRESH_WINDOW_DAYS,
        )
        .await
        .map(|summary| tracing::info!(%summary, "daily refresh requested")),
        Trigger::Requested(_) | Trigger::CatchUp => Ok(()),
    };
    let result = run_similarity(lake_sql.as_ref(), related.as_ref(), settings, &()).await;
    job_metrics(&result).emit();
    let summary = result?;
    if let Err(err) = watermark.record_datamart_read_at(read_at).await {
        tracing::warn!(reason = %err, "could not record the datamart's watermark; the next catch-up tick runs the job again");
    }
    refreshed?;
    Ok(Outcome::Ran(summary))
}

/// The metrics of one run: each stage's seconds, artists and rows, or the failure.
fn job_metrics(result: &Result<JobSummary, JobError>) -> Metrics {
    let mut metrics = Metrics::new("similarity");
    match result {
        Ok(summary) => {
            metrics
                .count(names::JOB_FAILED, 0)
                .count(names::SHRINK_REFUSED, 0)
                .seconds(names::QUERY_SECONDS, summary.query_seconds)
                .seconds(names::KNN_SECONDS, summary.knn_seconds)
                .seconds(names::LOAD_SECONDS, summary.load_seconds)
                .count(names::ARTISTS, summary.artists as u64)
                .count(names::RELATED_ROWS, summary.rows as u64);
        }
        Err(err) => {
            let shrunk = matches!(err, JobError::Shrunk { .. });
            metrics
                .count(names::JOB_FAILED, 1)
                .count(names::SHRINK_REFUSED, u64::from(shrunk));
        }
    }
    metrics
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    /// What the invocation reports: the kind of failure and its message (which names the
    /// failed phase and, for Athena, its reason; no secrets reach it).
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::Trigger(_) => "UnsupportedTrigger",
            HandlerError::Job(_) => "SimilarityJobFailed",
            HandlerError::Refresh(_) => "RefreshFailed",
            HandlerError::Watermark(_) => "WatermarkUnavailable",
        };
        Self {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_shrink_has_its_own_metric() {
        let refused = job_metrics(&Err(JobError::Shrunk {
            artists: 30,
            current: 106_700,
            min_kept_fraction: 0.9,
        }));
        assert_eq!(refused.value(names::JOB_FAILED), Some(1.0));
        assert_eq!(refused.value(names::SHRINK_REFUSED), Some(1.0));
        let other = job_metrics(&Err(JobError::NoProfiles));
        assert_eq!(other.value(names::SHRINK_REFUSED), Some(0.0));
    }
}
