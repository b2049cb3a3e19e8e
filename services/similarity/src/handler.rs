//! The Lambda's handler: one EventBridge event in, the day's refresh and one run of the
//! job, the job's summary out.

use chrono::Utc;
use encore_domain::events::BusEnvelope;
use encore_lake::query::LakeSql;
use encore_platform::metrics::{names, Metrics};
use encore_store::{EventPublisher, RelatedStore, RequestLog};

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
}

/// Runs the day's work for a schedule tick (first the refresh of the artists users asked
/// about in the last [`REFRESH_WINDOW_DAYS`] days, then the job) or the job alone for a
/// `SimilarityRequested` event; any other event is refused without touching the lake, the
/// bus or the datamart. A failed refresh does not stop the job; the invocation still
/// fails afterwards, so the alarm fires (a retry publishes the same refresh event ids).
pub async fn handle_event<L, S, P>(
    event: BusEnvelope,
    lake_sql: &L,
    store: &S,
    publisher: &P,
    settings: &Settings,
) -> Result<JobSummary, HandlerError>
where
    L: LakeSql + ?Sized,
    S: RelatedStore + RequestLog + ?Sized,
    P: EventPublisher + ?Sized,
{
    let trigger = Trigger::try_from(event)?;
    tracing::info!(origin = trigger.origin(), "similarity job triggered");
    let settings = &Settings {
        force: matches!(&trigger, Trigger::Requested(request) if request.force),
        ..*settings
    };
    let refreshed = match trigger {
        Trigger::Schedule => request_refresh(store, publisher, Utc::now(), REFRESH_WINDOW_DAYS)
            .await
            .map(|summary| tracing::info!(%summary, "daily refresh requested")),
        Trigger::Requested(_) => Ok(()),
    };
    let result = run_similarity(lake_sql, store, settings, &()).await;
    job_metrics(&result).emit();
    let summary = result?;
    refreshed?;
    Ok(summary)
}

/// The metrics of one run: each stage's seconds, artists and rows, or the failure.
fn job_metrics(result: &Result<JobSummary, JobError>) -> Metrics {
    let mut metrics = Metrics::new("similarity");
    match result {
        Ok(summary) => {
            metrics
                .count(names::JOB_FAILED, 0)
                .seconds(names::QUERY_SECONDS, summary.query_seconds)
                .seconds(names::KNN_SECONDS, summary.knn_seconds)
                .seconds(names::LOAD_SECONDS, summary.load_seconds)
                .count(names::ARTISTS, summary.artists as u64)
                .count(names::RELATED_ROWS, summary.rows as u64);
        }
        Err(_) => {
            metrics.count(names::JOB_FAILED, 1);
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
        };
        Self {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}
