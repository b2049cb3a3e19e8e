//! The queue port on Amazon SQS. On AWS the Lambda event source mapping receives and
//! deletes for the services; this adapter serves replay, the local tools and the tests,
//! and creates queues with their dead-letter queue the way the SAM template declares them.
//!
//! SQS has no call that moves one message to its dead-letter queue (the redrive policy
//! moves it only after `maxReceiveCount` deliveries), so a message that can never succeed
//! is moved by hand: sent to the dead-letter queue with its reason in the
//! [`DEAD_LETTER_REASON_ATTRIBUTE`] message attribute, then deleted from its source (on
//! Lambda: reported as processed, so the event source mapping deletes it). A crash between
//! the two leaves it in both queues; redelivered, it is dead-lettered again (replay is
//! idempotent, so a duplicate dead letter costs nothing).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName};
use aws_sdk_sqs::Client;

use crate::{
    dead_letter_name, BackendError, Queue, QueueMessage, QueueSettings, MAX_RECEIVE_BATCH, MAX_WAIT,
};
use encore_backend::aws_call;

/// How long a dead-letter queue keeps messages: SQS's maximum, 14 days, so an operator
/// has time to replay them.
const DEAD_LETTER_RETENTION_SECS: u64 = 14 * 24 * 3600;
/// The message attribute holding why a message was dead-lettered at once.
pub const DEAD_LETTER_REASON_ATTRIBUTE: &str = "encore-dead-letter-reason";
/// The message attribute holding the message id the dead letter had in its source queue.
pub const DEAD_LETTER_SOURCE_ID_ATTRIBUTE: &str = "encore-source-message-id";
/// Longest reason kept in [`DEAD_LETTER_REASON_ATTRIBUTE`] (characters): attributes count
/// toward the message's size limit.
const MAX_REASON_CHARS: usize = 1000;

/// A message handed out by [`SqsQueue::receive`] and not yet settled.
#[derive(Debug)]
struct InFlight {
    id: String,
    body: String,
}

/// One SQS queue, addressed by URL.
#[derive(Debug)]
pub struct SqsQueue {
    client: Client,
    url: String,
    name: String,
    /// Each receipt handed out and not yet settled, so a failure can be logged with its
    /// message id and a permanent one moved to the dead-letter queue with its body.
    in_flight: Mutex<HashMap<String, InFlight>>,
    /// Where [`Queue::dead_letter`] moves a message at once (URL, name); without one, a
    /// permanent failure waits for the redrive policy like any other.
    dead_letters: Option<(String, String)>,
}

impl SqsQueue {
    /// The queue at `queue_url`, called `name` in logs.
    pub fn new(client: Client, queue_url: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            client,
            url: queue_url.into(),
            name: name.into(),
            in_flight: Mutex::new(HashMap::new()),
            dead_letters: None,
        }
    }

    /// This queue, moving permanent failures to `dead_letters` at once.
    pub fn with_dead_letters(mut self, dead_letters: &SqsQueue) -> Self {
        self.dead_letters = Some((dead_letters.url.clone(), dead_letters.name.clone()));
        self
    }

    /// Sends `body` to this queue as a dead letter: the message `source_id` of another
    /// queue, which can never succeed because of `reason` (kept as a message attribute, so
    /// the body replays unchanged).
    pub async fn put_dead_letter(
        &self,
        body: &str,
        reason: &str,
        source_id: &str,
    ) -> Result<String, BackendError> {
        put_dead_letter(&self.client, &self.url, &self.name, body, reason, source_id).await
    }

    /// The existing queue called `name` (its URL looked up).
    pub async fn lookup(client: Client, name: &str) -> Result<Self, BackendError> {
        let found = client
            .get_queue_url()
            .queue_name(name)
            .send()
            .await
            .map_err(|e| aws_call(&format!("GetQueueUrl {name}"), e))?;
        let url = found.queue_url().ok_or_else(|| {
            BackendError::corrupt(format!("GetQueueUrl {name}: no URL in the answer"))
        })?;
        Ok(Self::new(client, url, name))
    }

    /// The queue URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The queue ARN (EventBridge targets and redrive policies name queues by ARN).
    pub async fn arn(&self) -> Result<String, BackendError> {
        self.attribute(QueueAttributeName::QueueArn).await
    }

    async fn attribute(&self, attribute: QueueAttributeName) -> Result<String, BackendError> {
        let answer = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(attribute.clone())
            .send()
            .await
            .map_err(|e| aws_call(&format!("GetQueueAttributes {}", self.name), e))?;
        answer
            .attributes()
            .and_then(|attributes| attributes.get(&attribute))
            .cloned()
            .ok_or_else(|| {
                BackendError::corrupt(format!("queue {}: no {attribute} attribute", self.name))
            })
    }

    /// Forgets a settled receipt, returning the message id it belonged to.
    fn settle(&self, receipt: &str) -> Option<String> {
        self.in_flight
            .lock()
            .map_or(None, |mut in_flight| in_flight.remove(receipt))
            .map(|message| message.id)
    }

    /// The id and body of an unsettled receipt.
    fn in_flight(&self, receipt: &str) -> Option<(String, String)> {
        self.in_flight.lock().ok().and_then(|in_flight| {
            in_flight
                .get(receipt)
                .map(|message| (message.id.clone(), message.body.clone()))
        })
    }
}

/// `reason` cut to [`MAX_REASON_CHARS`] (SQS refuses an empty string attribute).
fn reason_attribute(reason: &str) -> String {
    let reason: String = reason.chars().take(MAX_REASON_CHARS).collect();
    if reason.is_empty() {
        "unknown".to_owned()
    } else {
        reason
    }
}

async fn put_dead_letter(
    client: &Client,
    url: &str,
    name: &str,
    body: &str,
    reason: &str,
    source_id: &str,
) -> Result<String, BackendError> {
    let attribute = |value: String| {
        MessageAttributeValue::builder()
            .data_type("String")
            .string_value(value)
            .build()
            .map_err(|e| BackendError::corrupt(format!("dead-letter attribute: {e}")))
    };
    let sent = client
        .send_message()
        .queue_url(url)
        .message_body(body)
        .message_attributes(
            DEAD_LETTER_REASON_ATTRIBUTE,
            attribute(reason_attribute(reason))?,
        )
        .message_attributes(
            DEAD_LETTER_SOURCE_ID_ATTRIBUTE,
            attribute(reason_attribute(source_id))?,
        )
        .send()
        .await
        .map_err(|e| aws_call(&format!("SendMessage {name}"), e))?;
    sent.message_id.ok_or_else(|| {
        BackendError::corrupt(format!("SendMessage {name}: no message id in the answer"))
    })
}

#[async_trait]
impl Queue for SqsQueue {
    fn name(&self) -> &str {
        &self.name
    }

    async fn send(&self, body: &str) -> Result<String, BackendError> {
        let sent = self
            .client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| aws_call(&format!("SendMessage {}", self.name), e))?;
        sent.message_id.ok_or_else(|| {
            BackendError::corrupt(format!(
                "SendMessage {}: no message id in the answer",
                self.name
            ))
        })
    }

    async fn receive(&self, max: usize, wait: Duration) -> Result<Vec<QueueMessage>, BackendError> {
        let max = max.min(MAX_RECEIVE_BATCH);
        if max == 0 {
            return Ok(Vec::new());
        }
        // SQS waits whole seconds: round a sub-second wait up rather than not wait at all.
        let wait_secs = wait.min(MAX_WAIT).as_millis().div_ceil(1000);
        let answer = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(i32::try_from(max).unwrap_or(1))
            .wait_time_seconds(i32::try_from(wait_secs).unwrap_or(0))
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| aws_call(&format!("ReceiveMessage {}", self.name), e))?;
        let mut received = Vec::new();
        for message in answer.messages.unwrap_or_default() {
            let (Some(id), Some(receipt)) =
                (message.message_id.clone(), message.receipt_handle.clone())
            else {
                return Err(BackendError::corrupt(format!(
                    "queue {}: a message without id or receipt",
                    self.name
                )));
            };
            // Requested above; a message without it counts as a first delivery.
            let receive_count = match message.attributes().and_then(|attributes| {
                attributes.get(&MessageSystemAttributeName::ApproximateReceiveCount)
            }) {
                Some(raw) => raw.parse().map_err(|_| {
                    BackendError::corrupt(format!(
                        "queue {}: receive count {raw:?} of message {id}",
                        self.name
                    ))
                })?,
                None => 1,
            };
            let body = message.body.unwrap_or_default();
            if let Ok(mut in_flight) = self.in_flight.lock() {
                in_flight.insert(
                    receipt.clone(),
                    InFlight {
                        id: id.clone(),
                        body: body.clone(),
                    },
                );
            }
            received.push(QueueMessage {
                id,
                receipt,
                body,
                receive_count,
            });
        }
        Ok(received)
    }

    async fn delete(&self, receipt: &str) -> Result<(), BackendError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(|e| aws_call(&format!("DeleteMessage {}", self.name), e))?;
        self.settle(receipt);
        Ok(())
    }

    /// Logs the failure and leaves the message: SQS shows it again when its visibility
    /// timeout passes, and the redrive policy moves it to the dead-letter queue after
    /// `maxReceiveCount` deliveries.
    async fn fail(&self, receipt: &str, reason: &str) -> Result<(), BackendError> {
        let id = self.settle(receipt).unwrap_or_else(|| "unknown".to_owned());
        tracing::warn!(queue = %self.name, message_id = %id, ?reason,
            "message failed; redelivered after its visibility timeout");
        Ok(())
    }

    /// Moves the message to the dead-letter queue at once (sent there with its reason,
    /// then deleted here) when this queue knows it ([`SqsQueue::with_dead_letters`]);
    /// otherwise fails it, and the redrive policy moves it after `maxReceiveCount`
    /// deliveries.
    async fn dead_letter(&self, receipt: &str, reason: &str) -> Result<(), BackendError> {
        let (Some((url, name)), Some((id, body))) = (&self.dead_letters, self.in_flight(receipt))
        else {
            return self.fail(receipt, reason).await;
        };
        put_dead_letter(&self.client, url, name, &body, reason, &id).await?;
        tracing::error!(queue = %self.name, message_id = %id, ?reason, dead_letters = %name,
            "message can never succeed; moved to the dead-letter queue");
        self.delete(receipt).await
    }

    async fn release(&self, receipt: &str) -> Result<(), BackendError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await
            .map_err(|e| aws_call(&format!("ChangeMessageVisibility {}", self.name), e))?;
        self.settle(receipt);
        Ok(())
    }

    async fn depth(&self) -> Result<u64, BackendError> {
        let answer = self
            .client
            .get_queue_attributes()
            .queue_url(&self.url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| aws_call(&format!("GetQueueAttributes {}", self.name), e))?;
        let attributes = answer.attributes();
        let read = |attribute: QueueAttributeName| -> Result<u64, BackendError> {
            let raw = attributes
                .and_then(|all| all.get(&attribute))
                .map_or("0", String::as_str);
            raw.parse().map_err(|_| {
                BackendError::corrupt(format!("queue {}: {attribute} is {raw:?}", self.name))
            })
        };
        Ok(read(QueueAttributeName::ApproximateNumberOfMessages)?
            + read(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?)
    }
}

/// Creates (or finds, when they exist with the same settings) the queue `name` and its
/// dead-letter queue `<name>-dlq`, with the visibility timeout (whole seconds, rounded up)
/// and a redrive policy of `max_receives` deliveries. Returns `(queue, dead_letters)`.
pub async fn create_with_dead_letters(
    client: &Client,
    name: &str,
    settings: QueueSettings,
) -> Result<(SqsQueue, SqsQueue), BackendError> {
    let dead_name = dead_letter_name(name);
    let dead_letters = create(
        client,
        &dead_name,
        &[(
            QueueAttributeName::MessageRetentionPeriod,
            DEAD_LETTER_RETENTION_SECS.to_string(),
        )],
    )
    .await?;
    let redrive = serde_json::json!({
        "deadLetterTargetArn": dead_letters.arn().await?,
        "maxReceiveCount": settings.max_receives,
    });
    let visibility_secs = settings.visibility_timeout.as_millis().div_ceil(1000);
    let queue = create(
        client,
        name,
        &[
            (
                QueueAttributeName::VisibilityTimeout,
                visibility_secs.to_string(),
            ),
            (QueueAttributeName::RedrivePolicy, redrive.to_string()),
        ],
    )
    .await?;
    Ok((queue.with_dead_letters(&dead_letters), dead_letters))
}

/// Each source queue's dead-letter queue, by the source queue's ARN: where a Lambda
/// consumer moves a message that can never succeed, at once (SQS event records name
/// their source queue by ARN). Written `<source ARN>=<dead-letter queue URL>`, comma
/// separated.
#[derive(Debug, Default)]
pub struct DeadLetterRoutes {
    routes: Vec<(String, SqsQueue)>,
}

/// A dead-letter route that is not `<source ARN>=<dead-letter queue URL>`.
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not <source queue ARN>=<dead-letter queue URL>")]
pub struct InvalidRoute(String);

impl DeadLetterRoutes {
    /// No routes: every failure is left to the redrive policy.
    pub fn none() -> Self {
        Self::default()
    }

    /// Parses `spec` (`<source ARN>=<dead-letter queue URL>`, comma separated; blank for
    /// none), the queues reached with `aws`.
    pub fn parse(aws: &aws_config::SdkConfig, spec: &str) -> Result<Self, InvalidRoute> {
        let client = Client::new(aws);
        let mut routes = Vec::new();
        for entry in spec.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let Some((source, url)) = entry.split_once('=') else {
                return Err(InvalidRoute(entry.to_owned()));
            };
            let (source, url) = (source.trim(), url.trim());
            if !source.starts_with("arn:") || url.is_empty() {
                return Err(InvalidRoute(entry.to_owned()));
            }
            let name = url.rsplit('/').next().unwrap_or(url).to_owned();
            routes.push((source.to_owned(), SqsQueue::new(client.clone(), url, name)));
        }
        Ok(Self { routes })
    }

    /// The dead-letter queue of the source queue `source_arn`, if routed.
    pub fn for_source(&self, source_arn: &str) -> Option<&SqsQueue> {
        self.routes
            .iter()
            .find(|(source, _)| source == source_arn)
            .map(|(_, queue)| queue)
    }
}

async fn create(
    client: &Client,
    name: &str,
    attributes: &[(QueueAttributeName, String)],
) -> Result<SqsQueue, BackendError> {
    let request = attributes.iter().fold(
        client.create_queue().queue_name(name),
        |request, (key, value)| request.attributes(key.clone(), value),
    );
    let created = request
        .send()
        .await
        .map_err(|e| aws_call(&format!("CreateQueue {name}"), e))?;
    let url = created.queue_url().ok_or_else(|| {
        BackendError::corrupt(format!("CreateQueue {name}: no URL in the answer"))
    })?;
    Ok(SqsQueue::new(client.clone(), url, name))
}
