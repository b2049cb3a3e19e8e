//! The lake service: appends `ArtistIngested` events to the data lake as Parquet.
//!
//! [`handle`] takes one queue batch and writes one file per table per partition date for
//! all of its good events (not one per artist: many small files make every query slower
//! and dearer). Both the Lambda `main` and the embedded runner call it.

use encore_domain::events::ArtistIngested;
use encore_lake::{write_batch, Lake, LakeBatch};
use encore_messaging::decode;
use encore_messaging::inbound::{BatchOutcome, InboundMessage};
use encore_messaging::MAX_ENTRY_BYTES;
use encore_platform::config::{keys, ConfigError, Env};
use encore_platform::metrics::{names, Metrics};
use tracing::{info, info_span, warn};

/// The lake service's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The S3 bucket of the data lake.
    pub lake_bucket: String,
    /// The lake queue's dead-letter queue ([`keys::DEAD_LETTER_QUEUES`], as
    /// `encore_messaging::sqs::DeadLetterRoutes` reads it); empty when not set.
    pub dead_letter_queues: String,
}

impl Config {
    /// Reads the configuration from `env`.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        Ok(Self {
            lake_bucket: env.required(keys::LAKE_BUCKET)?,
            dead_letter_queues: env.optional(keys::DEAD_LETTER_QUEUES).unwrap_or_default(),
        })
    }
}

/// Writes a batch of EventBridge-delivered `ArtistIngested` messages to the lake.
///
/// A message that is not such an event (malformed JSON, another detail type, an unknown
/// major version, over the event size limit) or does not fit the lake's columns fails
/// alone, permanently, with its reason logged: it would fail the same way on every
/// delivery, so it is dead-lettered at once. The
/// other events are written together; if writing fails, all of them fail and come back
/// (the batch's files are named after its event ids, so a retry overwrites, never adds).
pub async fn handle(batch: &[InboundMessage], lake: &dyn Lake) -> BatchOutcome {
    let mut metrics = Metrics::new("lake");
    metrics
        .count(names::LAKE_ROWS, 0)
        .count(names::LAKE_FILES, 0);
    let outcome = write(batch, lake, &mut metrics).await;
    metrics.count(names::LAKE_FAILED, outcome.failures.len() as u64);
    metrics.emit();
    outcome
}

async fn write(batch: &[InboundMessage], lake: &dyn Lake, metrics: &mut Metrics) -> BatchOutcome {
    let mut outcome = BatchOutcome::success();
    let mut events = LakeBatch::new();
    let mut accepted = Vec::new();
    for message in batch {
        let _span =
            info_span!("message", message_id = %message.id, receive_count = message.receive_count)
                .entered();
        let added = if message.body.len() > MAX_ENTRY_BYTES {
            Err(format!(
                "oversized message: {} bytes, over the {MAX_ENTRY_BYTES}-byte event limit",
                message.body.len()
            ))
        } else {
            decode::<ArtistIngested>(&message.body)
                .map_err(|e| e.to_string())
                .and_then(|event| events.add(&event).map_err(|e| e.to_string()))
        };
        match added {
            Ok(()) => accepted.push(message.id.as_str()),
            Err(reason) => {
                warn!(?reason, "rejected message, dead-lettered at once");
                outcome.reject(&message.id, reason);
            }
        }
    }
    if events.is_empty() {
        return outcome;
    }
    match write_batch(lake, &events).await {
        Ok(files) => {
            let rows: usize = files.iter().map(|f| f.rows).sum();
            metrics
                .count(names::LAKE_ROWS, rows as u64)
                .count(names::LAKE_FILES, files.len() as u64);
            info!(
                events = events.len(),
                files = files.len(),
                rows,
                "wrote to the lake"
            );
        }
        Err(error) => {
            warn!(%error, events = events.len(), "lake write failed; the batch's events will be retried");
            let reason = format!("lake write failed: {error}");
            for id in accepted {
                outcome.fail(id, reason.clone());
            }
        }
    }
    outcome
}
