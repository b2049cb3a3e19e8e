//! Inbound translation of queue batches, one for both runners: the Lambda gets an SQS
//! event and answers with batch item failures; the embedded runner receives from a
//! [`Queue`] and deletes or fails each message. Handlers see only [`InboundMessage`]s and
//! answer a [`BatchOutcome`], so the same `async fn handle(batch, deps) -> BatchOutcome`
//! serves both.

use std::future::Future;
use std::time::Duration;

#[cfg(feature = "sqs")]
use aws_lambda_events::sqs::SqsMessage;
use aws_lambda_events::sqs::{SqsBatchResponse, SqsEvent};

#[cfg(feature = "sqs")]
use crate::sqs::DeadLetterRoutes;
use crate::{BackendError, Queue};

/// SQS's attribute holding how many times a message was received.
const RECEIVE_COUNT_ATTRIBUTE: &str = "ApproximateReceiveCount";

/// One message of a batch, as handlers see it.
#[derive(Debug, Clone, PartialEq)]
pub struct InboundMessage {
    /// The queue's message id: what a failure is reported by.
    pub id: String,
    pub body: String,
    /// Deliveries so far, this one included.
    pub receive_count: u32,
}

/// A message the handler could not process, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct MessageFailure {
    pub id: String,
    pub reason: String,
    /// True when no redelivery can succeed (malformed, oversized, an unknown version): the
    /// message goes to the dead-letter queue at once instead of being retried.
    pub permanent: bool,
}

/// A handler's verdict on a batch: the messages that failed; every other one succeeded.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BatchOutcome {
    pub failures: Vec<MessageFailure>,
}

impl BatchOutcome {
    /// An outcome where every message succeeded.
    pub fn success() -> Self {
        Self::default()
    }

    /// Records that message `id` failed because of `reason`, worth retrying.
    pub fn fail(&mut self, id: impl Into<String>, reason: impl Into<String>) {
        self.failures.push(MessageFailure {
            id: id.into(),
            reason: reason.into(),
            permanent: false,
        });
    }

    /// Records that message `id` can never succeed because of `reason`: it is
    /// dead-lettered at once.
    pub fn reject(&mut self, id: impl Into<String>, reason: impl Into<String>) {
        self.failures.push(MessageFailure {
            id: id.into(),
            reason: reason.into(),
            permanent: true,
        });
    }

    /// The reason message `id` failed, if it did.
    pub fn failure_of(&self, id: &str) -> Option<&str> {
        self.failure(id).map(|f| f.reason.as_str())
    }

    /// How message `id` failed, if it did.
    pub fn failure(&self, id: &str) -> Option<&MessageFailure> {
        self.failures.iter().find(|f| f.id == id)
    }
}

/// The messages of a Lambda SQS event. A record without a message id keeps an empty id: if
/// it fails, Lambda treats the unknown identifier as a failure of the whole batch and
/// retries it all, so nothing is lost.
pub fn from_sqs_event(event: SqsEvent) -> Vec<InboundMessage> {
    event
        .records
        .into_iter()
        .map(|record| {
            let receive_count = record
                .attributes
                .get(RECEIVE_COUNT_ATTRIBUTE)
                .and_then(|raw| raw.parse().ok())
                .unwrap_or(1);
            InboundMessage {
                id: record.message_id.unwrap_or_default(),
                body: record.body.unwrap_or_default(),
                receive_count,
            }
        })
        .collect()
}

/// The Lambda answer for an outcome: `batchItemFailures` naming exactly the failed
/// messages, so SQS deletes the others and redelivers (or dead-letters) these.
/// Each failure is logged with its reason, as [`process_batch`] does on the embedded path.
/// A permanent failure is reported like the others here and reaches the DLQ after the
/// redrive policy's receives; [`settle_sqs_batch`] moves it there at once.
pub fn to_sqs_response(outcome: &BatchOutcome) -> SqsBatchResponse {
    for failure in &outcome.failures {
        tracing::warn!(message_id = %failure.id, reason = ?failure.reason, permanent = failure.permanent,
            "message failed; SQS redelivers it or moves it to the dead-letter queue");
    }
    let mut response = SqsBatchResponse::default();
    response.set_failures(outcome.failures.iter().map(|f| f.id.clone()));
    response
}

#[cfg(feature = "sqs")]
/// The Lambda answer for an outcome over the SQS event's `records`, as
/// [`to_sqs_response`], except that each permanent failure whose source queue has a route
/// in `dead_letters` is moved to that dead-letter queue at once (sent there with its
/// reason) and then reported as processed, so the event source mapping deletes it from
/// its source instead of redelivering it `maxReceiveCount` times. A failure whose move
/// fails is reported as failed, and the redrive policy moves it later.
pub async fn settle_sqs_batch(
    records: &[SqsMessage],
    outcome: &BatchOutcome,
    dead_letters: &DeadLetterRoutes,
) -> SqsBatchResponse {
    let mut left = BatchOutcome::success();
    for failure in &outcome.failures {
        let record = records
            .iter()
            .find(|r| r.message_id.as_deref() == Some(failure.id.as_str()));
        let route = record.and_then(|r| {
            r.event_source_arn
                .as_deref()
                .and_then(|arn| dead_letters.for_source(arn))
        });
        let (true, Some(record), Some(queue)) = (failure.permanent, record, route) else {
            left.failures.push(failure.clone());
            continue;
        };
        let body = record.body.as_deref().unwrap_or_default();
        match queue
            .put_dead_letter(body, &failure.reason, &failure.id)
            .await
        {
            Ok(_) => {
                tracing::error!(message_id = %failure.id, reason = ?failure.reason, dead_letters = queue.name(),
                    "message can never succeed; moved to the dead-letter queue")
            }
            Err(err) => {
                tracing::warn!(message_id = %failure.id, reason = ?err.to_string(),
                    "could not move a permanent failure to the dead-letter queue; the redrive policy will");
                left.failures.push(failure.clone());
            }
        }
    }
    to_sqs_response(&left)
}

/// What one [`process_batch`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchReport {
    pub received: usize,
    pub succeeded: usize,
    pub failed: usize,
}

/// The embedded runner's step: receives up to `max` messages (waiting up to `wait`), hands
/// them to `handler`, deletes the successes, dead-letters the permanent failures at once
/// and fails the others with their reason (the queue redelivers them or moves them to its
/// dead-letter queue).
pub async fn process_batch<H, Fut>(
    queue: &dyn Queue,
    max: usize,
    wait: Duration,
    handler: H,
) -> Result<BatchReport, BackendError>
where
    H: Fn(Vec<InboundMessage>) -> Fut,
    Fut: Future<Output = BatchOutcome>,
{
    let received = queue.receive(max, wait).await?;
    if received.is_empty() {
        return Ok(BatchReport::default());
    }
    let batch = received
        .iter()
        .map(|m| InboundMessage {
            id: m.id.clone(),
            body: m.body.clone(),
            receive_count: m.receive_count,
        })
        .collect();
    let outcome = handler(batch).await;
    for failure in &outcome.failures {
        if !received.iter().any(|m| m.id == failure.id) {
            tracing::warn!(queue = queue.name(), message_id = %failure.id, "handler failed a message not in its batch");
        }
    }
    let mut report = BatchReport {
        received: received.len(),
        ..BatchReport::default()
    };
    for message in &received {
        match outcome.failure(&message.id) {
            Some(failure) if failure.permanent => {
                queue.dead_letter(&message.receipt, &failure.reason).await?;
                report.failed += 1;
            }
            Some(failure) => {
                queue.fail(&message.receipt, &failure.reason).await?;
                report.failed += 1;
            }
            None => {
                queue.delete(&message.receipt).await?;
                report.succeeded += 1;
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_sample_batch() {
        let event: SqsEvent = serde_json::from_str(include_str!(
            "../../../events/samples/sqs-batch-artist-requested.json"
        ))
        .unwrap();
        let messages = from_sqs_event(event);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].id, "0f6c5b2e-3d4a-4b5c-8d9e-000000000001");
        assert!(messages.iter().all(|m| m.receive_count == 1));
        for message in &messages {
            crate::decode::<encore_domain::events::ArtistRequested>(&message.body).unwrap();
        }
    }

    #[cfg(feature = "embedded")]
    #[tokio::test]
    async fn permanent_failures_dead_letter_at_once_and_transient_ones_wait() {
        use crate::embedded_queue::EmbeddedQueue;
        use crate::QueueSettings;
        let store = encore_store::sqlite::SqliteStore::in_memory()
            .await
            .unwrap();
        let settings = QueueSettings {
            visibility_timeout: Duration::from_secs(600),
            max_receives: 5,
        };
        let queue = EmbeddedQueue::open(store.pool().clone(), "inbound-test", settings)
            .await
            .unwrap();
        let poison = queue.send("not an event").await.unwrap();
        let flaky = queue.send("{\"later\": true}").await.unwrap();
        let report = process_batch(&queue, 10, Duration::ZERO, |batch| async move {
            let mut outcome = BatchOutcome::success();
            for message in batch {
                if message.body == "not an event" {
                    outcome.reject(message.id, "malformed message: not JSON");
                } else {
                    outcome.fail(message.id, "catalog unavailable: 503");
                }
            }
            outcome
        })
        .await
        .unwrap();
        assert_eq!(report.failed, 2);

        let dead = queue.dead_letters().list(10).await.unwrap();
        assert_eq!(dead.len(), 1, "only the permanent failure is dead-lettered");
        assert_eq!(dead[0].id, poison);
        assert_eq!(
            dead[0].last_error.as_deref(),
            Some("malformed message: not JSON")
        );
        let waiting = queue.list(10).await.unwrap();
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].id, flaky);
        assert_eq!(waiting[0].receive_count, 1);
    }

    #[test]
    fn sqs_event_round_trip() {
        let event: SqsEvent = serde_json::from_value(serde_json::json!({
            "Records": [
                {"messageId": "m1", "receiptHandle": "r1", "body": "{}", "attributes": {"ApproximateReceiveCount": "3"}},
                {"messageId": "m2", "receiptHandle": "r2", "body": "x", "attributes": {}}
            ]
        }))
        .unwrap();
        let messages = from_sqs_event(event);
        assert_eq!(
            messages,
            [
                InboundMessage {
                    id: "m1".into(),
                    body: "{}".into(),
                    receive_count: 3
                },
                InboundMessage {
                    id: "m2".into(),
                    body: "x".into(),
                    receive_count: 1
                },
            ]
        );

        let mut outcome = BatchOutcome::success();
        outcome.fail("m2", "bad body");
        let response = serde_json::to_value(to_sqs_response(&outcome)).unwrap();
        assert_eq!(
            response,
            serde_json::json!({"batchItemFailures": [{"itemIdentifier": "m2"}]})
        );
        assert_eq!(
            serde_json::to_value(to_sqs_response(&BatchOutcome::success())).unwrap(),
            serde_json::json!({"batchItemFailures": []})
        );
    }
}
