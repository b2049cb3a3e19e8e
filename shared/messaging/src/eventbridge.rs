//! The event publisher on Amazon EventBridge, coded to AWS's limits: at most 10 entries
//! and 256 KB per `PutEvents` call, partial failures checked entry by entry, throttled or
//! internally failed entries retried a bounded number of times.

use std::time::Duration;

use async_trait::async_trait;
#[cfg(feature = "sqs")]
use aws_sdk_eventbridge::error::ProvideErrorMetadata;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
#[cfg(feature = "sqs")]
use aws_sdk_eventbridge::types::Target;
use aws_sdk_eventbridge::Client;
#[cfg(feature = "sqs")]
use uuid::Uuid;

use crate::ports::{check_entry_size, entry_size, MAX_ENTRY_BYTES};
#[cfg(feature = "sqs")]
use crate::sqs::SqsQueue;
use crate::{BackendError, EventPublisher, OutgoingEvent};
use encore_backend::aws_call;

/// Most entries one `PutEvents` call takes.
pub const MAX_ENTRIES_PER_CALL: usize = 10;
/// Further attempts for entries that failed with a transient code.
const RETRY_ATTEMPTS: u32 = 3;
/// Backoff before the first retry; doubled before each next one.
const RETRY_BASE_DELAY: Duration = Duration::from_millis(100);
/// Entry error codes worth retrying: the entry itself is fine, EventBridge was not.
const TRANSIENT_CODES: [&str; 3] = [
    "ThrottlingException",
    "InternalFailure",
    "InternalException",
];

/// Publishes to one EventBridge bus.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus_name: String,
}

/// An entry EventBridge refused, with its position in the published slice.
struct FailedEntry {
    index: usize,
    code: String,
    message: String,
}

impl EventBridgePublisher {
    /// A publisher to the bus `bus_name`.
    pub fn new(client: Client, bus_name: impl Into<String>) -> Self {
        Self {
            client,
            bus_name: bus_name.into(),
        }
    }

    /// Sends the entries at `indexes` in one call; returns those that failed.
    async fn put(
        &self,
        events: &[OutgoingEvent],
        indexes: &[usize],
    ) -> Result<Vec<FailedEntry>, BackendError> {
        let entries = indexes.iter().map(|&i| {
            let event = &events[i];
            PutEventsRequestEntry::builder()
                .event_bus_name(&self.bus_name)
                .source(&event.source)
                .detail_type(&event.detail_type)
                .detail(&event.detail)
                .build()
        });
        let answer = self
            .client
            .put_events()
            .set_entries(Some(entries.collect()))
            .send()
            .await
            .map_err(|e| aws_call(&format!("PutEvents to bus {}", self.bus_name), e))?;
        if answer.failed_entry_count() == 0 {
            return Ok(Vec::new());
        }
        if answer.entries().len() != indexes.len() {
            return Err(BackendError::corrupt(format!(
                "PutEvents to bus {}: {} result entries for {} sent",
                self.bus_name,
                answer.entries().len(),
                indexes.len()
            )));
        }
        Ok(indexes
            .iter()
            .zip(answer.entries())
            .filter_map(|(&index, result)| {
                result.error_code().map(|code| FailedEntry {
                    index,
                    code: code.to_owned(),
                    message: result.error_message().unwrap_or_default().to_owned(),
                })
            })
            .collect())
    }

    /// Sends one chunk, retrying transiently failed entries with backoff.
    async fn put_chunk(
        &self,
        events: &[OutgoingEvent],
        chunk: Vec<usize>,
    ) -> Result<(), BackendError> {
        let mut pending = chunk;
        let mut delay = RETRY_BASE_DELAY;
        for attempt in 0..=RETRY_ATTEMPTS {
            let failed = self.put(events, &pending).await?;
            if failed.is_empty() {
                return Ok(());
            }
            let transient = failed
                .iter()
                .all(|f| TRANSIENT_CODES.contains(&f.code.as_str()));
            if !transient || attempt == RETRY_ATTEMPTS {
                let listed: Vec<String> = failed
                    .iter()
                    .map(|f| {
                        let event = &events[f.index];
                        format!(
                            "#{} {} from {} ({}: {})",
                            f.index, event.detail_type, event.source, f.code, f.message
                        )
                    })
                    .collect();
                let text = format!(
                    "PutEvents to bus {}: {} entries failed after {} attempts: {}",
                    self.bus_name,
                    failed.len(),
                    attempt + 1,
                    listed.join("; ")
                );
                return Err(if transient {
                    BackendError::unavailable(text)
                } else {
                    BackendError::rejected(text)
                });
            }
            tracing::warn!(bus = %self.bus_name, failed = failed.len(), attempt = attempt + 1,
                code = %failed[0].code, "PutEvents entries failed transiently; retrying");
            tokio::time::sleep(delay).await;
            delay *= 2;
            pending = failed.into_iter().map(|f| f.index).collect();
        }
        Ok(())
    }
}

/// Splits the events into `PutEvents` calls: at most [`MAX_ENTRIES_PER_CALL`] entries and
/// [`MAX_ENTRY_BYTES`] in total each, in publishing order.
fn chunks(events: &[OutgoingEvent]) -> Vec<Vec<usize>> {
    let mut chunks: Vec<Vec<usize>> = Vec::new();
    let mut current = Vec::new();
    let mut current_bytes = 0;
    for (index, event) in events.iter().enumerate() {
        let size = entry_size(event);
        if !current.is_empty()
            && (current.len() == MAX_ENTRIES_PER_CALL || current_bytes + size > MAX_ENTRY_BYTES)
        {
            chunks.push(std::mem::take(&mut current));
            current_bytes = 0;
        }
        current.push(index);
        current_bytes += size;
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    chunks
}

#[async_trait]
impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[OutgoingEvent]) -> Result<(), BackendError> {
        for event in events {
            check_entry_size(event)?;
        }
        for chunk in chunks(events) {
            self.put_chunk(events, chunk).await?;
        }
        Ok(())
    }
}

#[cfg(feature = "sqs")]
/// Creates (if needed) the bus `bus_name` and a rule sending its `detail_type` events to
/// `queue`: what the SAM template declares on AWS (with the queue policy that lets
/// EventBridge send), for the local tools and tests against the emulator. Idempotent.
pub async fn route_to_queue(
    client: &Client,
    bus_name: &str,
    detail_type: &str,
    queue: &SqsQueue,
) -> Result<(), BackendError> {
    if bus_name != "default" {
        if let Err(err) = client.create_event_bus().name(bus_name).send().await {
            if err.code() != Some("ResourceAlreadyExistsException") {
                return Err(aws_call(&format!("CreateEventBus {bus_name}"), err));
            }
        }
    }
    let queue_arn = queue.arn().await?;
    let key = format!("{bus_name}\n{detail_type}\n{queue_arn}");
    let rule = format!(
        "encore-{}",
        Uuid::new_v5(&Uuid::NAMESPACE_URL, key.as_bytes()).simple()
    );
    let pattern = serde_json::json!({ "detail-type": [detail_type] });
    client
        .put_rule()
        .name(&rule)
        .event_bus_name(bus_name)
        .event_pattern(pattern.to_string())
        .send()
        .await
        .map_err(|e| aws_call(&format!("PutRule {rule} on bus {bus_name}"), e))?;
    let target = Target::builder()
        .id("queue")
        .arn(queue_arn)
        .build()
        .map_err(|e| BackendError::rejected(format!("rule {rule} target: {e}")))?;
    let answer = client
        .put_targets()
        .rule(&rule)
        .event_bus_name(bus_name)
        .targets(target)
        .send()
        .await
        .map_err(|e| aws_call(&format!("PutTargets {rule} on bus {bus_name}"), e))?;
    if answer.failed_entry_count() > 0 {
        return Err(BackendError::rejected(format!(
            "PutTargets {rule} on bus {bus_name}: the queue target was refused"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(detail_bytes: usize) -> OutgoingEvent {
        OutgoingEvent {
            source: "encore.test".into(),
            detail_type: "T".into(),
            detail: "x".repeat(detail_bytes),
        }
    }

    #[test]
    fn chunks_by_count_and_by_size() {
        let small: Vec<_> = (0..23).map(|_| event(10)).collect();
        let sizes: Vec<usize> = chunks(&small).iter().map(Vec::len).collect();
        assert_eq!(sizes, [10, 10, 3]);

        let large: Vec<_> = (0..3).map(|_| event(100 * 1024)).collect();
        let split = chunks(&large);
        assert_eq!(split, [vec![0, 1], vec![2]]);
    }

    #[test]
    fn oversized_entry_is_rejected_by_name() {
        let fits = event(MAX_ENTRY_BYTES - "encore.test".len() - 1);
        assert!(check_entry_size(&fits).is_ok());
        let err = check_entry_size(&event(MAX_ENTRY_BYTES)).unwrap_err();
        assert!(matches!(err, BackendError::Rejected { .. }));
        assert!(
            err.to_string().contains("T event from encore.test"),
            "{err}"
        );
    }
}
