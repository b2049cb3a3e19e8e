//! Conformance of the messaging ports: the same suites run on the embedded adapters
//! (SQLite queue, in-process bus) and on the AWS ones (SQS and EventBridge on the moto
//! server of the local test stack, `bash infra/local/stack.sh`).

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use encore_domain::events::{
    self, ArtistRequested, BusEvent, EventMeta, RequestReason, SimilarityRequested,
};
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_messaging::inbound::{process_batch, BatchOutcome, BatchReport, InboundMessage};
use encore_messaging::replay::replay;
use encore_messaging::BusEnvelope;
use encore_messaging::{embedded_queue::EmbeddedQueue, QueueSettings};
use encore_messaging::{
    eventbridge::{self, EventBridgePublisher},
    MAX_ENTRY_BYTES,
};
use encore_messaging::{
    sqs::{self, SqsQueue},
    MAX_RECEIVE_BATCH,
};
use encore_messaging::{EventPublisher, OutgoingEvent, Queue, QueueMessage};
use encore_store::BackendError;
use encore_test_support::aws_config;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sqlx::SqlitePool;

/// Short enough for redelivery tests, whole seconds for SQS.
const SETTINGS: QueueSettings = QueueSettings {
    visibility_timeout: Duration::from_secs(1),
    max_receives: 2,
};
/// How long a test waits for something that should happen after a visibility timeout.
const PATIENCE: Duration = Duration::from_secs(15);

fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", uuid::Uuid::new_v4().simple())
}

// ---------------------------------------------------------------- embedded backend

/// A SQLite file in a fresh temporary directory, removed when dropped.
struct TempDb {
    dir: PathBuf,
}

impl TempDb {
    fn new() -> Self {
        let dir = std::env::temp_dir().join(unique("encore-messaging"));
        std::fs::create_dir_all(&dir).unwrap();
        Self { dir }
    }

    async fn pool(&self) -> SqlitePool {
        let options = SqliteConnectOptions::new()
            .filename(self.dir.join("encore.db"))
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal);
        SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .unwrap()
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

async fn embedded_pair(db: &TempDb) -> (EmbeddedQueue, EmbeddedQueue) {
    let queue = EmbeddedQueue::open(db.pool().await, &unique("q"), SETTINGS)
        .await
        .unwrap();
    let dead_letters = queue.dead_letters();
    (queue, dead_letters)
}

// ---------------------------------------------------------------- AWS backend (moto)

async fn sqs_pair() -> (SqsQueue, SqsQueue) {
    let client = aws_sdk_sqs::Client::new(&aws_config().await);
    sqs::create_with_dead_letters(&client, &unique("q"), SETTINGS)
        .await
        .unwrap()
}

// ---------------------------------------------------------------- helpers

/// Receives until `count` messages arrived or [`PATIENCE`] ran out.
async fn receive_n(queue: &dyn Queue, count: usize) -> Vec<QueueMessage> {
    let deadline = Instant::now() + PATIENCE;
    let mut received = Vec::new();
    while received.len() < count && Instant::now() < deadline {
        received.extend(
            queue
                .receive(count - received.len(), Duration::from_secs(1))
                .await
                .unwrap(),
        );
    }
    received
}

fn ids(messages: &[QueueMessage]) -> HashSet<String> {
    messages.iter().map(|m| m.id.clone()).collect()
}

// ---------------------------------------------------------------- queue suite

async fn queue_suite(queue: &dyn Queue, dead_letters: &dyn Queue) {
    send_receive_delete(queue).await;
    visibility_timeout_redelivers(queue).await;
    failures_end_in_dead_letters(queue, dead_letters).await;
    depth_and_batch_limit(queue).await;
    batches_settle_per_message(queue).await;
    permanent_failures_dead_letter_at_once(queue, dead_letters).await;
}

async fn send_receive_delete(queue: &dyn Queue) {
    let sent: HashSet<String> = [
        queue.send("one").await.unwrap(),
        queue.send("two").await.unwrap(),
    ]
    .into_iter()
    .collect();
    let received = receive_n(queue, 2).await;
    assert_eq!(ids(&received), sent);
    let mut bodies: Vec<&str> = received.iter().map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["one", "two"]);
    assert!(
        received.iter().all(|m| m.receive_count == 1),
        "{received:?}"
    );
    for message in &received {
        queue.delete(&message.receipt).await.unwrap();
    }
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());
    assert_eq!(queue.depth().await.unwrap(), 0);
}

async fn visibility_timeout_redelivers(queue: &dyn Queue) {
    let id = queue.send("again").await.unwrap();
    let first = receive_n(queue, 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(
        (first[0].id.as_str(), first[0].receive_count),
        (id.as_str(), 1)
    );
    assert!(
        queue.receive(10, Duration::ZERO).await.unwrap().is_empty(),
        "hidden while in flight"
    );
    assert_eq!(
        queue.depth().await.unwrap(),
        1,
        "in-flight messages count in the depth"
    );

    let second = receive_n(queue, 1).await;
    assert_eq!(second.len(), 1, "redelivered after the visibility timeout");
    assert_eq!(
        (second[0].id.as_str(), second[0].receive_count),
        (id.as_str(), 2)
    );
    assert_ne!(
        second[0].receipt, first[0].receipt,
        "each delivery has its own receipt"
    );
    queue.delete(&second[0].receipt).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 0);
}

async fn failures_end_in_dead_letters(queue: &dyn Queue, dead_letters: &dyn Queue) {
    let id = queue.send("poison").await.unwrap();
    let deadline = Instant::now() + PATIENCE;
    let mut deliveries = 0;
    let mut dead = Vec::new();
    while dead.is_empty() && Instant::now() < deadline {
        for message in queue.receive(10, Duration::from_secs(1)).await.unwrap() {
            deliveries += 1;
            assert_eq!(message.receive_count, deliveries);
            queue
                .fail(&message.receipt, "poison is not a bus event")
                .await
                .unwrap();
        }
        dead = dead_letters.receive(10, Duration::ZERO).await.unwrap();
    }
    assert_eq!(
        deliveries, SETTINGS.max_receives,
        "delivered max_receives times, then dead-lettered"
    );
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0].id.as_str(), dead[0].body.as_str()),
        (id.as_str(), "poison")
    );
    dead_letters.delete(&dead[0].receipt).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 0);
    assert_eq!(dead_letters.depth().await.unwrap(), 0);
}

async fn depth_and_batch_limit(queue: &dyn Queue) {
    for i in 0..15 {
        queue.send(&format!("m{i}")).await.unwrap();
    }
    assert_eq!(queue.depth().await.unwrap(), 15);
    let batch = queue.receive(25, Duration::from_secs(1)).await.unwrap();
    assert!(
        (1..=MAX_RECEIVE_BATCH).contains(&batch.len()),
        "got {}",
        batch.len()
    );
    assert_eq!(queue.depth().await.unwrap(), 15);
    for message in &batch {
        queue.delete(&message.receipt).await.unwrap();
    }
    let rest = receive_n(queue, 15 - batch.len()).await;
    assert_eq!(rest.len(), 15 - batch.len());
    for message in &rest {
        queue.delete(&message.receipt).await.unwrap();
    }
    assert_eq!(queue.depth().await.unwrap(), 0);
}

async fn batches_settle_per_message(queue: &dyn Queue) {
    for body in ["ok-1", "bad", "ok-2"] {
        queue.send(body).await.unwrap();
    }
    let handler = |batch: Vec<InboundMessage>| async move {
        let mut outcome = BatchOutcome::success();
        for message in batch.iter().filter(|m| m.body == "bad") {
            outcome.fail(&message.id, "bad body");
        }
        outcome
    };
    let deadline = Instant::now() + PATIENCE;
    let mut total = BatchReport::default();
    while total.received < 3 && Instant::now() < deadline {
        let report = process_batch(queue, 10, Duration::from_secs(1), handler)
            .await
            .unwrap();
        total.received += report.received;
        total.succeeded += report.succeeded;
        total.failed += report.failed;
    }
    assert_eq!(
        total,
        BatchReport {
            received: 3,
            succeeded: 2,
            failed: 1
        }
    );
    let again = receive_n(queue, 1).await;
    assert_eq!(again.len(), 1, "the failed message comes back");
    assert_eq!((again[0].body.as_str(), again[0].receive_count), ("bad", 2));
    queue.delete(&again[0].receipt).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 0);
}

/// A message the handler rejects (it can never succeed) is in the dead-letter queue after
/// its first delivery, with its body unchanged; the one it fails (worth retrying) waits.
async fn permanent_failures_dead_letter_at_once(queue: &dyn Queue, dead_letters: &dyn Queue) {
    queue.send("{not json").await.unwrap();
    queue.send("flaky").await.unwrap();
    let handler = |batch: Vec<InboundMessage>| async move {
        let mut outcome = BatchOutcome::success();
        for message in batch {
            if message.body == "flaky" {
                outcome.fail(&message.id, "catalog unavailable: 503");
            } else {
                outcome.reject(&message.id, "malformed message: not JSON");
            }
        }
        outcome
    };
    let deadline = Instant::now() + PATIENCE;
    let mut received = 0;
    while received < 2 && Instant::now() < deadline {
        received += process_batch(queue, 10, Duration::from_secs(1), handler)
            .await
            .unwrap()
            .received;
    }
    assert_eq!(received, 2);
    let dead = dead_letters.receive(10, Duration::ZERO).await.unwrap();
    assert_eq!(dead.len(), 1, "dead-lettered at its first delivery");
    assert_eq!(dead[0].body, "{not json", "the body is kept as it was");
    dead_letters.delete(&dead[0].receipt).await.unwrap();
    let again = receive_n(queue, 1).await;
    assert_eq!(again.len(), 1, "the transient failure comes back");
    assert_eq!(again[0].body, "flaky");
    queue.delete(&again[0].receipt).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 0);
}

#[tokio::test]
async fn embedded_queue_conformance() {
    let db = TempDb::new();
    let (queue, dead_letters) = embedded_pair(&db).await;
    queue_suite(&queue, &dead_letters).await;
}

#[tokio::test]
async fn sqs_queue_conformance() {
    let (queue, dead_letters) = sqs_pair().await;
    queue_suite(&queue, &dead_letters).await;
}

/// The Lambda path on SQS: a permanent failure is sent to its source queue's dead-letter
/// queue with its reason and left out of `batchItemFailures` (so the event source mapping
/// deletes it); a transient one is reported for redelivery; a permanent one from a queue
/// without a route waits for the redrive policy.
#[tokio::test]
async fn lambda_batches_move_permanent_failures_to_the_dead_letter_queue_at_once() {
    use aws_lambda_events::sqs::SqsEvent;
    use encore_messaging::inbound::settle_sqs_batch;
    use encore_messaging::sqs::{DeadLetterRoutes, DEAD_LETTER_REASON_ATTRIBUTE};

    let aws = aws_config().await;
    let (queue, dead_letters) = sqs_pair().await;
    let source_arn = queue.arn().await.unwrap();
    let routes =
        DeadLetterRoutes::parse(&aws, &format!("{source_arn}={}", dead_letters.url())).unwrap();
    let record = |id: &str, body: &str, arn: &str| {
        serde_json::json!({"messageId": id, "receiptHandle": "r", "body": body,
            "attributes": {"ApproximateReceiveCount": "1"}, "eventSourceARN": arn})
    };
    let other_arn = "arn:aws:sqs:us-east-1:123456789012:not-routed";
    let event: SqsEvent = serde_json::from_value(serde_json::json!({"Records": [
        record("poison", "{not json", &source_arn),
        record("flaky", "{}", &source_arn),
        record("elsewhere", "{not json either", other_arn),
    ]}))
    .unwrap();
    let mut outcome = BatchOutcome::success();
    outcome.reject("poison", "malformed message: not JSON");
    outcome.fail("flaky", "catalog unavailable: 503");
    outcome.reject("elsewhere", "malformed message: not JSON");

    let response = settle_sqs_batch(&event.records, &outcome, &routes).await;
    let failed: HashSet<String> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(
        failed,
        HashSet::from(["flaky".to_owned(), "elsewhere".to_owned()]),
        "the moved message is reported processed"
    );

    let client = aws_sdk_sqs::Client::new(&aws);
    let dead = client
        .receive_message()
        .queue_url(dead_letters.url())
        .message_attribute_names("All")
        .wait_time_seconds(1)
        .send()
        .await
        .unwrap();
    let dead = dead.messages();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body(), Some("{not json"));
    let reason = dead[0]
        .message_attributes()
        .and_then(|a| a.get(DEAD_LETTER_REASON_ATTRIBUTE))
        .and_then(|v| v.string_value());
    assert_eq!(reason, Some("malformed message: not JSON"));

    assert!(DeadLetterRoutes::parse(&aws, "no-equals-sign").is_err());
    assert!(DeadLetterRoutes::parse(&aws, " ")
        .unwrap()
        .for_source(&source_arn)
        .is_none());
}

// ---------------------------------------------------------------- replay suite

async fn replay_suite(queue: &dyn Queue, dead_letters: &dyn Queue) {
    let mut dead_ids = HashSet::new();
    for body in ["d1", "d2", "d3"] {
        dead_ids.insert(dead_letters.send(body).await.unwrap());
    }

    let dry = replay(dead_letters, queue, true).await.unwrap();
    assert!(dry.dry_run);
    assert_eq!(
        dry.messages
            .iter()
            .map(|m| m.id.clone())
            .collect::<HashSet<_>>(),
        dead_ids
    );
    assert!(dry.messages.iter().all(|m| m.new_id.is_none()));
    assert_eq!(
        dead_letters.depth().await.unwrap(),
        3,
        "a dry run moves nothing"
    );
    assert_eq!(queue.depth().await.unwrap(), 0);

    // Runs right after the dry run: the messages it looked at are visible again at once.
    let moved = replay(dead_letters, queue, false).await.unwrap();
    assert!(!moved.dry_run);
    assert_eq!(
        moved
            .messages
            .iter()
            .map(|m| m.id.clone())
            .collect::<HashSet<_>>(),
        dead_ids
    );
    assert_eq!(dead_letters.depth().await.unwrap(), 0);

    let replayed = receive_n(queue, 3).await;
    let new_ids: HashSet<String> = moved
        .messages
        .iter()
        .filter_map(|m| m.new_id.clone())
        .collect();
    assert_eq!(
        ids(&replayed),
        new_ids,
        "each replayed message is received from the source"
    );
    let mut bodies: Vec<&str> = replayed.iter().map(|m| m.body.as_str()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["d1", "d2", "d3"]);

    let empty = replay(dead_letters, queue, false).await.unwrap();
    assert!(empty.messages.is_empty());
}

#[tokio::test]
async fn embedded_replay_conformance() {
    let db = TempDb::new();
    let (queue, dead_letters) = embedded_pair(&db).await;
    replay_suite(&queue, &dead_letters).await;
}

#[tokio::test]
async fn sqs_replay_conformance() {
    let (queue, dead_letters) = sqs_pair().await;
    replay_suite(&queue, &dead_letters).await;
}

// ---------------------------------------------------------------- publisher suite

fn requested(query: &str) -> ArtistRequested {
    ArtistRequested {
        meta: EventMeta::new(ArtistRequested::VERSION),
        query: query.into(),
        normalized: query.to_lowercase(),
        requested_by: None,
        callback_url: None,
        request_id: unique("req"),
        reason: RequestReason::User,
    }
}

/// `routed` receives `ArtistRequested` events only; a `SimilarityRequested` matches no rule.
async fn publisher_suite(publisher: &dyn EventPublisher, routed: &dyn Queue) {
    let sent: Vec<ArtistRequested> = (0..12).map(|i| requested(&format!("Artist {i}"))).collect();
    let mut outgoing: Vec<OutgoingEvent> = sent
        .iter()
        .map(|e| OutgoingEvent::new(e, events::SOURCE_CHAT).unwrap())
        .collect();
    let unrouted = SimilarityRequested {
        meta: EventMeta::new(1),
        requested_by: Some("test".into()),
        force: false,
    };
    outgoing.push(OutgoingEvent::new(&unrouted, events::SOURCE_OPS).unwrap());
    publisher.publish(&outgoing).await.unwrap();

    let delivered = receive_n(routed, sent.len()).await;
    assert_eq!(
        delivered.len(),
        sent.len(),
        "every routed event arrives (publishing takes > 10 entries)"
    );
    let mut decoded: Vec<ArtistRequested> = delivered
        .iter()
        .map(|m| encore_messaging::decode::<ArtistRequested>(&m.body).unwrap())
        .collect();
    decoded.sort_by(|a, b| a.query.cmp(&b.query));
    let mut expected = sent.clone();
    expected.sort_by(|a, b| a.query.cmp(&b.query));
    assert_eq!(decoded, expected);
    let envelope: BusEnvelope = serde_json::from_str(&delivered[0].body).unwrap();
    assert_eq!(envelope.source, events::SOURCE_CHAT);
    for message in &delivered {
        routed.delete(&message.receipt).await.unwrap();
    }
    assert!(
        routed
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "unrouted event dropped"
    );

    let oversized = OutgoingEvent {
        source: events::SOURCE_CHAT.into(),
        detail_type: "ArtistRequested".into(),
        detail: format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_ENTRY_BYTES)),
    };
    let err = publisher
        .publish(&[outgoing[0].clone(), oversized])
        .await
        .unwrap_err();
    assert!(matches!(err, BackendError::Rejected { .. }), "{err}");
    assert!(err.to_string().contains("entry limit"), "{err}");
    assert!(
        routed
            .receive(10, Duration::from_secs(1))
            .await
            .unwrap()
            .is_empty(),
        "nothing of a rejected batch is published"
    );
}

#[tokio::test]
async fn embedded_bus_conformance() {
    let db = TempDb::new();
    let pool = db.pool().await;
    let routed = Arc::new(
        EmbeddedQueue::open(pool.clone(), &unique("ingest"), SETTINGS)
            .await
            .unwrap(),
    );
    let other = Arc::new(
        EmbeddedQueue::open(pool, &unique("lake"), SETTINGS)
            .await
            .unwrap(),
    );
    let bus = EmbeddedBus::new()
        .route("ArtistRequested", routed.clone())
        .route("ArtistIngested", other.clone());
    publisher_suite(&bus, routed.as_ref()).await;
    assert_eq!(other.depth().await.unwrap(), 0);
}

#[tokio::test]
async fn eventbridge_conformance() {
    let config = aws_config().await;
    let (routed, _) = sqs_pair().await;
    let events_client = aws_sdk_eventbridge::Client::new(&config);
    let bus_name = unique("bus");
    eventbridge::route_to_queue(&events_client, &bus_name, "ArtistRequested", &routed)
        .await
        .unwrap();
    // Idempotent: declaring the route again changes nothing (no duplicate deliveries).
    eventbridge::route_to_queue(&events_client, &bus_name, "ArtistRequested", &routed)
        .await
        .unwrap();
    let publisher = EventBridgePublisher::new(events_client, &bus_name);
    publisher_suite(&publisher, &routed).await;
}

// ---------------------------------------------------------------- embedded only

/// A message received and never settled survives a restart and is delivered again.
#[tokio::test]
async fn embedded_queue_is_durable() {
    let db = TempDb::new();
    let name = unique("durable");
    let pool = db.pool().await;
    let queue = EmbeddedQueue::open(pool.clone(), &name, SETTINGS)
        .await
        .unwrap();
    let id = queue.send("survives").await.unwrap();
    let taken = queue.receive(1, Duration::ZERO).await.unwrap();
    assert_eq!(taken.len(), 1);
    pool.close().await;

    let queue = EmbeddedQueue::open(db.pool().await, &name, SETTINGS)
        .await
        .unwrap();
    assert_eq!(queue.depth().await.unwrap(), 1);
    let again = receive_n(&queue, 1).await;
    assert_eq!(again.len(), 1);
    assert_eq!(
        (
            again[0].id.as_str(),
            again[0].body.as_str(),
            again[0].receive_count
        ),
        (id.as_str(), "survives", 2)
    );
}

/// A receipt from an earlier delivery settles nothing once the message was received again.
#[tokio::test]
async fn embedded_stale_receipt_deletes_nothing() {
    let db = TempDb::new();
    let (queue, _) = embedded_pair(&db).await;
    queue.send("kept").await.unwrap();
    let first = receive_n(&queue, 1).await;
    let second = receive_n(&queue, 1).await;
    assert_eq!(second.len(), 1);
    queue.delete(&first[0].receipt).await.unwrap();
    queue.fail(&first[0].receipt, "late").await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 1);
    queue.delete(&second[0].receipt).await.unwrap();
    assert_eq!(queue.depth().await.unwrap(), 0);
}

/// The dead-letter listing shows the last error, and a message whose consumer crashed on
/// every delivery (never calling `fail`) is dead-lettered too.
#[tokio::test]
async fn embedded_dead_letters_keep_the_reason() {
    let db = TempDb::new();
    let (queue, dead_letters) = embedded_pair(&db).await;
    let failed = queue.send("fails").await.unwrap();
    for _ in 0..SETTINGS.max_receives {
        let message = receive_n(&queue, 1).await;
        queue
            .fail(&message[0].receipt, "detail-type is unknown")
            .await
            .unwrap();
    }
    let crashed = queue.send("crashes").await.unwrap();
    for _ in 0..SETTINGS.max_receives {
        assert_eq!(receive_n(&queue, 1).await.len(), 1);
    }
    tokio::time::sleep(SETTINGS.visibility_timeout).await;
    assert!(queue.receive(10, Duration::ZERO).await.unwrap().is_empty());

    let listed = dead_letters.list(10).await.unwrap();
    let reasons: Vec<(&str, Option<&str>)> = listed
        .iter()
        .map(|m| (m.id.as_str(), m.last_error.as_deref()))
        .collect();
    assert_eq!(
        reasons,
        [
            (failed.as_str(), Some("detail-type is unknown")),
            (crashed.as_str(), Some("delivered 2 times without success"))
        ]
    );
    assert_eq!(dead_letters.depth().await.unwrap(), 2);
}
