//! The handler: one replay request in, the messages moved (or listed) out.

use std::fmt;

use encore_messaging::replay::{replay, ReplayReport};
use encore_messaging::BackendError;
use encore_messaging::BusEnvelope;
use serde::{Deserialize, Serialize};

use crate::queues::{QueueName, QueuePairs};

/// What the operator asks for: `{"queue":"ingest","dry_run":true}`. `dry_run` defaults to
/// false; unknown fields are refused, so a misspelt `dry_run` cannot turn a listing into a
/// move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayRequest {
    /// Whose dead letters to move back.
    pub queue: QueueName,
    /// Only list the messages; leave them in the dead-letter queue.
    #[serde(default)]
    pub dry_run: bool,
}

/// One message replay moved (or would move), described without its body: bodies carry
/// user keys and callback URLs, which are never printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplayedEvent {
    /// Its message id in the dead-letter queue.
    pub id: String,
    /// Its message id in the source queue; absent in a dry run.
    pub new_id: Option<String>,
    /// The event's `detail-type`, when the body is a bus event.
    pub event: Option<String>,
    /// The artist query the event is about, when it has one.
    pub query: Option<String>,
}

impl ReplayedEvent {
    fn describe(id: String, body: &str, new_id: Option<String>) -> Self {
        let envelope = serde_json::from_str::<BusEnvelope>(body).ok();
        let query = envelope
            .as_ref()
            .and_then(|envelope| envelope.detail.get("query"))
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        Self {
            id,
            new_id,
            event: envelope.map(|envelope| envelope.detail_type),
            query,
        }
    }
}

/// What a replay did: the Lambda's answer and what `encore replay` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplaySummary {
    /// The queue whose dead letters were replayed.
    pub queue: QueueName,
    /// True when nothing moved.
    pub dry_run: bool,
    /// How many messages moved (or would move).
    pub count: usize,
    /// Each of them, in the order received.
    pub messages: Vec<ReplayedEvent>,
}

impl ReplaySummary {
    fn from_report(queue: QueueName, report: ReplayReport) -> Self {
        let messages: Vec<ReplayedEvent> = report
            .messages
            .into_iter()
            .map(|message| ReplayedEvent::describe(message.id, &message.body, message.new_id))
            .collect();
        Self {
            queue,
            dry_run: report.dry_run,
            count: messages.len(),
            messages,
        }
    }
}

impl fmt::Display for ReplaySummary {
    /// A headline, then one line per message: `id → new id  event "query"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verb = if self.dry_run { "would move" } else { "moved" };
        let plural = if self.count == 1 { "" } else { "s" };
        write!(
            f,
            "{}: {verb} {} dead-lettered message{plural} back to the queue",
            self.queue, self.count
        )?;
        for message in &self.messages {
            write!(f, "\n  {}", message.id)?;
            if let Some(new_id) = &message.new_id {
                write!(f, " → {new_id}")?;
            }
            write!(
                f,
                "  {}",
                message.event.as_deref().unwrap_or("(not a bus event)")
            )?;
            if let Some(query) = &message.query {
                write!(f, " {query:?}")?;
            }
        }
        Ok(())
    }
}

/// Why a replay stopped. Messages moved before the failure stay moved; the rest stay in the
/// dead-letter queue, so the request can simply be repeated.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("replaying the {queue} dead letters failed: {source}")]
    Store {
        /// The queue being replayed.
        queue: QueueName,
        /// What the queue reported.
        #[source]
        source: BackendError,
    },
}

/// Moves every dead-lettered message of `request.queue` back to that queue (or, in a dry
/// run, lists them and leaves them where they are).
pub async fn handle(
    request: ReplayRequest,
    queues: &QueuePairs,
) -> Result<ReplaySummary, ReplayError> {
    let pair = queues.get(request.queue);
    tracing::info!(queue = %request.queue, dry_run = request.dry_run, "replay requested");
    let report = replay(
        pair.dead_letters.as_ref(),
        pair.source.as_ref(),
        request.dry_run,
    )
    .await
    .map_err(|source| ReplayError::Store {
        queue: request.queue,
        source,
    })?;
    let summary = ReplaySummary::from_report(request.queue, report);
    tracing::info!(queue = %summary.queue, dry_run = summary.dry_run, count = summary.count, "replay done");
    Ok(summary)
}

impl From<ReplayError> for lambda_runtime::Diagnostic {
    /// What a failed invocation reports: the failure's kind and its message (queue names
    /// and the store's error; no message bodies).
    fn from(err: ReplayError) -> Self {
        Self {
            error_type: "ReplayFailed".into(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_defaults_to_moving_and_refuses_unknown_fields() {
        let request: ReplayRequest = serde_json::from_str(r#"{"queue":"lake"}"#).unwrap();
        assert_eq!(
            request,
            ReplayRequest {
                queue: QueueName::Lake,
                dry_run: false
            }
        );
        let err =
            serde_json::from_str::<ReplayRequest>(r#"{"queue":"lake","dryrun":true}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `dryrun`"), "{err}");
    }

    #[test]
    fn summary_prints_events_without_bodies() {
        let body = r#"{"detail-type":"ArtistRequested","source":"encore.chat","detail":{"query":"BTS","callback_url":"https://cb"}}"#;
        let summary = ReplaySummary {
            queue: QueueName::Ingest,
            dry_run: true,
            count: 2,
            messages: vec![
                ReplayedEvent::describe("m1".into(), body, None),
                ReplayedEvent::describe("m2".into(), "x", None),
            ],
        };
        let printed = summary.to_string();
        assert_eq!(
            printed,
            "ingest: would move 2 dead-lettered messages back to the queue\n  m1  ArtistRequested \"BTS\"\n  m2  (not a bus event)"
        );
    }
}
