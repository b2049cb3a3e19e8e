//! The Lambda's handler: one EventBridge event in, one run of the job, its summary out.

use encore_domain::events::BusEnvelope;
use encore_lake::query::LakeSql;
use encore_store::RelatedStore;

use crate::job::{run_similarity, JobError, JobSummary, Settings};
use crate::trigger::{Trigger, TriggerError};

/// Why an invocation failed; the Lambda reports it and the failure alarm fires.
#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    #[error(transparent)]
    Trigger(#[from] TriggerError),
    #[error(transparent)]
    Job(#[from] JobError),
}

/// Runs the job for a schedule tick or a `SimilarityRequested` event; any other event is
/// refused without touching the lake or the datamart.
pub async fn handle_event<L, R>(
    event: BusEnvelope,
    lake_sql: &L,
    store: &R,
    settings: &Settings,
) -> Result<JobSummary, HandlerError>
where
    L: LakeSql + ?Sized,
    R: RelatedStore + ?Sized,
{
    let trigger = Trigger::try_from(event)?;
    tracing::info!(origin = trigger.origin(), "similarity job triggered");
    Ok(run_similarity(lake_sql, store, settings, &()).await?)
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    /// What the invocation reports: the kind of failure and its message (which names the
    /// failed phase and, for Athena, its reason; no secrets reach it).
    fn from(err: HandlerError) -> Self {
        let error_type = match &err {
            HandlerError::Trigger(_) => "UnsupportedTrigger",
            HandlerError::Job(_) => "SimilarityJobFailed",
        };
        Self {
            error_type: error_type.into(),
            error_message: err.to_string(),
        }
    }
}
