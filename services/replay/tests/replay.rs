//! Replay on the moto server: dead letters go back to their source queue, a dry run moves
//! nothing, and only the requested queue's dead letters move.

use std::time::Duration;

use encore_messaging::sqs::{create_with_dead_letters, SqsQueue};
use encore_messaging::Queue;
use encore_messaging::QueueSettings;
use encore_replay::{handle, QueueName, QueuePair, QueuePairs, ReplayRequest};
use encore_test_support::aws_config;

const SETTINGS: QueueSettings = QueueSettings {
    visibility_timeout: Duration::from_secs(30),
    max_receives: 3,
};

/// Fresh `ingest-<uuid>` and `lake-<uuid>` queues with their DLQs on moto.
async fn moto_queues() -> (QueuePairs, [SqsQueue; 4]) {
    let sqs = aws_sdk_sqs::Client::new(&aws_config().await);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (ingest, ingest_dlq) =
        create_with_dead_letters(&sqs, &format!("ingest-{suffix}"), SETTINGS)
            .await
            .unwrap();
    let (lake, lake_dlq) = create_with_dead_letters(&sqs, &format!("lake-{suffix}"), SETTINGS)
        .await
        .unwrap();
    let pair = |source: &SqsQueue, dead: &SqsQueue| QueuePair {
        source: std::sync::Arc::new(SqsQueue::new(sqs.clone(), source.url(), "source")),
        dead_letters: std::sync::Arc::new(SqsQueue::new(sqs.clone(), dead.url(), "dead letters")),
    };
    let pairs = QueuePairs {
        ingest: pair(&ingest, &ingest_dlq),
        lake: pair(&lake, &lake_dlq),
    };
    (pairs, [ingest, ingest_dlq, lake, lake_dlq])
}

fn requested(query: &str) -> String {
    serde_json::json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": "ArtistRequested",
        "source": "encore.chat", "detail": {"version": 1, "query": query, "callback_url": "https://cb.example/1"}
    })
    .to_string()
}

/// Every body waiting in `queue` (received and deleted), sorted.
async fn drain(queue: &SqsQueue) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let batch = queue.receive(10, Duration::from_secs(1)).await.unwrap();
        if batch.is_empty() {
            bodies.sort();
            return bodies;
        }
        for message in batch {
            queue.delete(&message.receipt).await.unwrap();
            bodies.push(message.body);
        }
    }
}

#[tokio::test]
async fn dry_run_lists_then_replay_moves_back_to_the_source() {
    let (pairs, [ingest, ingest_dlq, lake, lake_dlq]) = moto_queues().await;
    let mut sent: Vec<String> = ["BTS", "IU", "NewJeans"].map(requested).into();
    for body in &sent {
        ingest_dlq.send(body).await.unwrap();
    }
    lake_dlq.send(&requested("untouched")).await.unwrap();

    let listing = handle(
        ReplayRequest {
            queue: QueueName::Ingest,
            dry_run: true,
        },
        &pairs,
    )
    .await
    .unwrap();
    assert!(listing.dry_run);
    assert_eq!(listing.count, 3);
    let mut queries: Vec<_> = listing
        .messages
        .iter()
        .map(|m| m.query.clone().unwrap())
        .collect();
    queries.sort();
    assert_eq!(queries, ["BTS", "IU", "NewJeans"]);
    assert!(listing
        .messages
        .iter()
        .all(|m| m.new_id.is_none() && m.event.as_deref() == Some("ArtistRequested")));
    assert_eq!(ingest.depth().await.unwrap(), 0, "a dry run sends nothing");
    assert_eq!(
        ingest_dlq.depth().await.unwrap(),
        3,
        "a dry run leaves the dead letters"
    );

    let moved = handle(
        ReplayRequest {
            queue: QueueName::Ingest,
            dry_run: false,
        },
        &pairs,
    )
    .await
    .unwrap();
    assert!(!moved.dry_run);
    assert_eq!(moved.count, 3);
    assert!(moved.messages.iter().all(|m| m.new_id.is_some()));
    assert!(
        moved
            .to_string()
            .starts_with("ingest: moved 3 dead-lettered messages"),
        "{moved}"
    );
    sent.sort();
    assert_eq!(
        drain(&ingest).await,
        sent,
        "the same bodies are back on the source queue"
    );
    assert_eq!(ingest_dlq.depth().await.unwrap(), 0);

    assert_eq!(
        lake.depth().await.unwrap(),
        0,
        "the other queue is not touched"
    );
    assert_eq!(lake_dlq.depth().await.unwrap(), 1);
    let empty = handle(
        ReplayRequest {
            queue: QueueName::Ingest,
            dry_run: false,
        },
        &pairs,
    )
    .await
    .unwrap();
    assert_eq!(empty.count, 0);
}

#[test]
fn unknown_queue_is_rejected_with_a_clear_error() {
    let err =
        serde_json::from_str::<ReplayRequest>(r#"{"queue":"ingets","dry_run":true}"#).unwrap_err();
    assert!(
        err.to_string()
            .contains("unknown variant `ingets`, expected `ingest` or `lake`"),
        "{err}"
    );
    let err = serde_json::from_str::<ReplayRequest>(r#"{"dry_run":true}"#).unwrap_err();
    assert!(err.to_string().contains("missing field `queue`"), "{err}");
}

#[test]
fn the_sample_payload_is_a_request() {
    let path = format!(
        "{}/../../events/samples/replay-request.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let raw = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let request: ReplayRequest = serde_json::from_str(&raw).unwrap();
    assert_eq!(
        request,
        ReplayRequest {
            queue: QueueName::Ingest,
            dry_run: true
        }
    );
}
