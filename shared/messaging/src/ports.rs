//! The messaging ports: the event bus and durable queues, with the facts every adapter
//! shares (batch and size limits, queue settings, dead-letter naming), defined once here
//! so the SQS and embedded queues agree without importing each other.

use std::time::Duration;

use crate::BackendError;
use async_trait::async_trait;
use encore_domain::events::BusEvent;

/// Most messages one receive returns (SQS's `MaxNumberOfMessages` limit); the embedded
/// queue keeps the same limit so batches look alike on both.
pub const MAX_RECEIVE_BATCH: usize = 10;
/// Longest long-polling wait SQS allows (`WaitTimeSeconds`).
pub const MAX_WAIT: Duration = Duration::from_secs(20);
/// Largest entry EventBridge accepts, and the largest `PutEvents` request (256 KB).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// An entry's size as EventBridge counts it: the UTF-8 bytes of source, detail type and
/// detail (encore sets no `Time` or `Resources`).
pub fn entry_size(event: &OutgoingEvent) -> usize {
    event.source.len() + event.detail_type.len() + event.detail.len()
}

/// Rejects an event EventBridge would refuse for its size, before anything is sent. The
/// embedded bus applies the same check, so an oversized event fails locally too.
pub fn check_entry_size(event: &OutgoingEvent) -> Result<(), BackendError> {
    let size = entry_size(event);
    if size > MAX_ENTRY_BYTES {
        return Err(BackendError::rejected(format!(
            "{} event from {} is {size} bytes, over EventBridge's {MAX_ENTRY_BYTES}-byte entry limit",
            event.detail_type, event.source
        )));
    }
    Ok(())
}

/// How a queue treats its deliveries; the same settings configure an SQS queue's
/// visibility timeout and redrive policy (`sqs::create_with_dead_letters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// How long a received message stays hidden from other consumers.
    pub visibility_timeout: Duration,
    /// Deliveries after which a failing message moves to the dead-letter queue
    /// (SQS's `maxReceiveCount`).
    pub max_receives: u32,
}

/// The name of `queue`'s dead-letter queue, on SQLite and on SQS alike.
pub fn dead_letter_name(queue: &str) -> String {
    format!("{queue}-dlq")
}

/// An event ready to publish: what EventBridge's `PutEvents` entry carries.
#[derive(Debug, Clone, PartialEq)]
pub struct OutgoingEvent {
    pub source: String,
    pub detail_type: String,
    /// The event as JSON.
    pub detail: String,
}

impl OutgoingEvent {
    /// Serializes `event` for publishing from `source`.
    pub fn new<E: BusEvent>(event: &E, source: &str) -> Result<Self, BackendError> {
        Ok(Self {
            source: source.to_owned(),
            detail_type: E::DETAIL_TYPE.to_owned(),
            detail: serde_json::to_string(event)
                .map_err(|e| BackendError::rejected(e.to_string()))?,
        })
    }
}

/// The event bus: EventBridge on AWS, rules routing each detail type to its queues.
#[async_trait]
pub trait EventPublisher: Send + Sync {
    /// Publishes every event or fails; a partial failure of the batch is an error naming
    /// the failed entries (nothing is silently dropped).
    async fn publish(&self, events: &[OutgoingEvent]) -> Result<(), BackendError>;
}

/// A message taken from a queue, invisible to other consumers until deleted, failed or its
/// visibility timeout passes.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueMessage {
    /// Stable id of the message across deliveries.
    pub id: String,
    /// Handle of this delivery, used to delete or fail it.
    pub receipt: String,
    pub body: String,
    /// How many times the message has been received, this delivery included.
    pub receive_count: u32,
}

/// A durable queue with a visibility timeout (SQS on AWS). Dead-letter queues are queues
/// too: replay receives from one, sends to its source and deletes.
#[async_trait]
pub trait Queue: Send + Sync {
    /// A name for logs and CLI output.
    fn name(&self) -> &str;
    /// Enqueues a message body; returns its id.
    async fn send(&self, body: &str) -> Result<String, BackendError>;
    /// Up to `max` visible messages, waiting up to `wait` for the first one.
    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<QueueMessage>, BackendError>;
    /// Removes a processed message.
    async fn delete(&self, receipt: &str) -> Result<(), BackendError>;
    /// Reports a failed delivery with its reason. The message becomes visible again after
    /// the visibility timeout, or moves to the dead-letter queue once it has been received
    /// the configured number of times (on SQS the redrive policy does both).
    async fn fail(&self, receipt: &str, reason: &str) -> Result<(), BackendError>;
    /// Reports a delivery that can never succeed (a malformed or oversized message, an
    /// unknown version): moved to the dead-letter queue at once with its reason where the
    /// queue can do so, otherwise (this default, and SQS, which has no such call) failed
    /// like any other, so the redrive policy moves it after the configured receives.
    async fn dead_letter(&self, receipt: &str, reason: &str) -> Result<(), BackendError> {
        self.fail(receipt, reason).await
    }
    /// Gives a received message back without counting a failure (a dry-run replay looks at
    /// messages this way): visible again at once where the queue supports it, otherwise
    /// (this default) after the visibility timeout.
    async fn release(&self, _receipt: &str) -> Result<(), BackendError> {
        Ok(())
    }
    /// Approximate number of messages waiting or in flight.
    async fn depth(&self) -> Result<u64, BackendError>;
}
