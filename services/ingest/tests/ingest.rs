//! The ingest path end to end over real parts: the Spotify stand-in over HTTP serving the
//! songs data set, SQLite + the embedded bus, and MariaDB + DynamoDB, SQS and EventBridge
//! on the moto server; a callback server on loopback.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::routing::post;
use axum::Json;
use chrono::Utc;
use encore_domain::events::{
    ArtistIngested, ArtistRequested, EventMeta, RequestReason, SOURCE_CHAT,
};
use encore_domain::{normalize, NormalizedName};
use encore_ingest::spotify::SpotifyCatalog;
use encore_ingest::{handle, handle_until, Callbacks, Deadline, Ingest};
use encore_kakao::callback::{CallbackHosts, STILL_LOOKING_AFTER};
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_messaging::inbound::{from_sqs_event, InboundMessage};
use encore_messaging::Queue;
use encore_messaging::{decode, BusEnvelope};
use encore_messaging::{embedded_queue::EmbeddedQueue, QueueSettings};
use encore_spotify::{RetryPolicy, SpotifyClient};
use encore_standin::{Faults, RunningStandIn, StandIn};
use encore_store::sqlite::SqliteStore;
use encore_store::{ArtistStore, RequestLog, RequestStatus, TopTracksCache};
use encore_test_support::{aws_config, catalog, spotify_config, TestDatabase};
use serde_json::Value;

/// A name's matching key.
fn key(name: &str) -> NormalizedName {
    NormalizedName::of(name)
}

async fn standin(faults: Faults) -> RunningStandIn {
    StandIn::new(catalog())
        .with_faults(faults)
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn spotify(standin: &RunningStandIn) -> SpotifyClient {
    let mut config = spotify_config(standin);
    config.retry = RetryPolicy {
        base_delay: Duration::from_millis(20),
        max_attempts: 5,
        ..RetryPolicy::default()
    };
    SpotifyClient::new(config).unwrap()
}

fn requested(query: &str, callback_url: Option<String>) -> ArtistRequested {
    ArtistRequested {
        meta: EventMeta::new(1),
        query: query.into(),
        normalized: normalize(query),
        requested_by: Some("user-1".into()),
        callback_url,
        request_id: uuid::Uuid::new_v4().to_string(),
        reason: RequestReason::User,
    }
}

fn message(id: &str, event: &ArtistRequested) -> InboundMessage {
    let body = serde_json::to_string(&BusEnvelope::wrap(event, SOURCE_CHAT).unwrap()).unwrap();
    InboundMessage {
        id: id.into(),
        body,
        receive_count: 1,
    }
}

/// A callback receiver on loopback recording every answer posted to it.
async fn callback_server() -> (String, Arc<Mutex<Vec<Value>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/callback/{token}",
        post(move |Json(body): Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                Json(serde_json::json!({"taskId": "t", "status": "SUCCESS", "message": "ok"}))
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/callback/one-time-token",
        listener.local_addr().unwrap()
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

struct Embedded {
    store: Arc<SqliteStore>,
    lake_queue: Arc<EmbeddedQueue>,
    ingest: Ingest,
}

async fn embedded(standin: &RunningStandIn) -> Embedded {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let settings = QueueSettings {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };
    let lake_queue = Arc::new(
        EmbeddedQueue::open(store.pool().clone(), "lake", settings)
            .await
            .unwrap(),
    );
    let bus = EmbeddedBus::new().route("ArtistIngested", lake_queue.clone());
    let ingest = Ingest {
        catalog: Arc::new(SpotifyCatalog::new(spotify(standin))),
        artists: store.clone(),
        related: store.clone(),
        requests: store.clone(),
        top_tracks: store.clone(),
        publisher: Arc::new(bus),
        callbacks: Callbacks::new(CallbackHosts::parse("127.0.0.1").unwrap()),
        concurrency: 4,
        releases_kept: 3,
        max_receives: encore_ingest::DEFAULT_MAX_RECEIVES,
    };
    Embedded {
        store,
        lake_queue,
        ingest,
    }
}

async fn published(queue: &dyn Queue) -> Vec<ArtistIngested> {
    let mut events = Vec::new();
    loop {
        let batch = queue.receive(10, Duration::from_millis(200)).await.unwrap();
        if batch.is_empty() {
            return events;
        }
        for m in batch {
            events.push(decode::<ArtistIngested>(&m.body).unwrap());
            queue.delete(&m.receipt).await.unwrap();
        }
    }
}

#[tokio::test]
async fn embedded_ingest_stores_publishes_learns_alias_and_calls_back() {
    let standin = standin(Faults::default()).await;
    let stack = embedded(&standin).await;
    let (callback_url, callbacks) = callback_server().await;
    let korean = requested("방탄소년단", Some(callback_url));
    let unknown = requested("zzqx no such artist qqq", None);
    let batch = vec![
        message("m1", &korean),
        message("m2", &requested("Red Velvet", None)),
        message("m3", &unknown),
    ];

    let outcome = handle(batch.clone(), &stack.ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");

    let bts = stack
        .store
        .find_artist(&key("bts"))
        .await
        .unwrap()
        .expect("BTS stored");
    let by_alias = stack
        .store
        .find_artist(&key("방탄소년단"))
        .await
        .unwrap()
        .expect("alias learned");
    assert_eq!(by_alias.id, bts.id);
    assert!(stack
        .store
        .find_artist(&key("red velvet"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        stack.store.status(&key("방탄소년단")).await.unwrap(),
        Some(RequestStatus::Done)
    );
    assert_eq!(
        stack.store.status(&key(&unknown.normalized)).await.unwrap(),
        Some(RequestStatus::NotFound)
    );

    let tracks = stack
        .store
        .top_tracks(std::slice::from_ref(&bts.id))
        .await
        .unwrap();
    let bts_tracks = &tracks[&bts.id];
    assert!(!bts_tracks.is_empty() && bts_tracks.len() <= 10);
    assert!(bts_tracks.windows(2).all(|w| w[0].rank < w[1].rank));

    let events = published(stack.lake_queue.as_ref()).await;
    assert_eq!(events.len(), 2, "one ArtistIngested per found artist");
    let bts_event = events.iter().find(|e| e.artist.id == bts.id).unwrap();
    assert_eq!(bts_event.query, "방탄소년단");
    assert_eq!(bts_event.tracks.len(), bts_tracks.len());
    assert_eq!(
        bts_event.features.len(),
        bts_event.tracks.len(),
        "the data set has features for every track"
    );
    // BTS's three newest own releases in the data set, newest first, at their precision.
    let releases: Vec<(String, String)> = bts_event
        .releases
        .iter()
        .map(|r| (r.name.clone(), r.release_date.to_string()))
        .collect();
    assert_eq!(
        releases,
        [
            (
                "Make It Right (feat. Lauv) [EDM Remix]".to_owned(),
                "2019-11-01".to_owned()
            ),
            (
                "Make It Right (feat. Lauv)".to_owned(),
                "2019-10-18".to_owned()
            ),
            (
                "All Night (BTS World Original Soundtrack) [Pt. 3]".to_owned(),
                "2019-06-21".to_owned()
            ),
        ]
    );
    let cached_releases = stack.store.latest_releases(&bts.id).await.unwrap();
    assert_eq!(
        cached_releases, bts_event.releases,
        "the cache holds what the event carries"
    );

    let answers = callbacks.lock().unwrap().clone();
    assert_eq!(
        answers.len(),
        1,
        "only the request with a callback URL is answered"
    );
    let text = answers[0].to_string();
    assert!(
        text.contains("\"version\":\"2.0\"") && text.contains("BTS"),
        "{text}"
    );
    encore_kakao::validate(&serde_json::from_value(answers[0].clone()).unwrap()).unwrap();

    // At-least-once delivery: the same batch again leaves the same rows and publishes the
    // same event ids.
    let outcome = handle(batch, &stack.ingest).await;
    assert!(outcome.failures.is_empty());
    let again = published(stack.lake_queue.as_ref()).await;
    let mut ids: Vec<_> = events.iter().map(|e| e.meta.id).collect();
    let mut ids_again: Vec<_> = again.iter().map(|e| e.meta.id).collect();
    ids.sort();
    ids_again.sort();
    assert_eq!(
        ids, ids_again,
        "a redelivered request publishes the same logical event"
    );
    assert_eq!(
        stack
            .store
            .top_tracks(std::slice::from_ref(&bts.id))
            .await
            .unwrap()[&bts.id],
        *bts_tracks
    );
    assert_eq!(
        stack.store.latest_releases(&bts.id).await.unwrap(),
        cached_releases
    );
    let again_bts = again.iter().find(|e| e.artist.id == bts.id).unwrap();
    assert_eq!(again_bts.releases, bts_event.releases);
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM latest_releases")
        .fetch_one(stack.store.pool())
        .await
        .unwrap();
    assert_eq!(rows, 2, "one releases entry per artist, never a duplicate");
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM artists")
        .fetch_one(stack.store.pool())
        .await
        .unwrap();
    assert_eq!(count, 2);

    // A name the catalog lacks, asked with a callback: "not found" with the known names
    // closest to it, as the chat suggests them.
    let (callback_url, callbacks) = callback_server().await;
    let typo = requested("Red Velvit", Some(callback_url));
    let outcome = handle(vec![message("m5", &typo)], &stack.ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    assert_eq!(
        stack.store.status(&key("red velvit")).await.unwrap(),
        Some(RequestStatus::NotFound)
    );
    assert_eq!(suggested(&callbacks), ["Red Velvet"]);
}

/// A request with a callback that cannot be finished before [`STILL_LOOKING_AFTER`] gets
/// "still looking" through its callback at that moment (at once when it arrives later),
/// and its final answer is not posted after it: the one-use URL is spent, never left
/// silent. The artist is still ingested.
#[tokio::test]
async fn the_callback_says_still_looking_before_the_window_closes() {
    let standin = standin(Faults::default()).await;
    let stack = embedded(&standin).await;
    let asked_ago = |request: &mut ArtistRequested, ago: Duration| {
        request.meta.occurred_at = Utc::now() - chrono::Duration::from_std(ago).unwrap();
    };

    // Asked 49.5 s ago; Spotify answers in 400 ms a call: the window closes first.
    standin.set_latency(Duration::from_millis(400));
    let (url, slow_callbacks) = callback_server().await;
    let mut slow = requested("TWICE", Some(url));
    asked_ago(&mut slow, STILL_LOOKING_AFTER - Duration::from_millis(500));
    let started = std::time::Instant::now();
    let outcome = handle(vec![message("slow", &slow)], &stack.ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    assert!(
        started.elapsed() > Duration::from_millis(500),
        "the work outlasted the window"
    );
    assert!(
        stack
            .store
            .find_artist(&key("twice"))
            .await
            .unwrap()
            .is_some(),
        "ingested all the same"
    );
    let answers = slow_callbacks.lock().unwrap().clone();
    assert_eq!(
        answers.len(),
        1,
        "one answer, never the card after it: {answers:?}"
    );
    let text = answers[0]["template"]["outputs"][0]["simpleText"]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("아직 찾고 있어요") && text.contains("TWICE"),
        "{text}"
    );
    assert_eq!(suggested(&slow_callbacks), ["TWICE"], "ask again");

    // Delivered 55 s after the ask (a backed-up queue): still looking, at once.
    standin.set_latency(Duration::ZERO);
    let (url, late_callbacks) = callback_server().await;
    let mut late = requested("Red Velvet", Some(url));
    asked_ago(&mut late, Duration::from_secs(55));
    let outcome = handle(vec![message("late", &late)], &stack.ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    let answers = late_callbacks.lock().unwrap().clone();
    assert_eq!(answers.len(), 1, "{answers:?}");
    assert!(
        answers[0].to_string().contains("아직 찾고 있어요"),
        "{answers:?}"
    );

    // In time: the card itself.
    let (url, quick_callbacks) = callback_server().await;
    let quick = requested("방탄소년단", Some(url));
    let outcome = handle(vec![message("quick", &quick)], &stack.ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    let answers = quick_callbacks.lock().unwrap().clone();
    assert_eq!(answers.len(), 1);
    assert!(
        answers[0]["template"]["outputs"][1].is_object(),
        "the card: {answers:?}"
    );
}

/// The quick replies' message texts of the one answer posted to a callback receiver.
fn suggested(callbacks: &Mutex<Vec<Value>>) -> Vec<String> {
    let answers = callbacks.lock().unwrap().clone();
    assert_eq!(answers.len(), 1, "{answers:?}");
    encore_kakao::validate(&serde_json::from_value(answers[0].clone()).unwrap()).unwrap();
    answers[0]["template"]["quickReplies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["messageText"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn poison_messages_fail_every_time_and_others_succeed() {
    let standin = standin(Faults::default()).await;
    let stack = embedded(&standin).await;
    let good = requested("TWICE", None);
    let mut future_version =
        serde_json::to_value(BusEnvelope::wrap(&good, SOURCE_CHAT).unwrap()).unwrap();
    future_version["detail"]["version"] = 2.into();
    let batch = vec![
        InboundMessage {
            id: "bad-json".into(),
            body: "{not json".into(),
            receive_count: 1,
        },
        InboundMessage {
            id: "v2".into(),
            body: future_version.to_string(),
            receive_count: 1,
        },
        message("ok", &good),
    ];
    let mut batch = batch;
    let envelope = serde_json::to_value(BusEnvelope::wrap(&good, SOURCE_CHAT).unwrap()).unwrap();
    let variant = |id: &str, change: &dyn Fn(&mut Value)| {
        let mut body = envelope.clone();
        change(&mut body);
        InboundMessage {
            id: id.into(),
            body: body.to_string(),
            receive_count: 1,
        }
    };
    batch.push(variant("no-query", &|b| {
        b["detail"].as_object_mut().unwrap().remove("query");
    }));
    batch.push(variant("query-number", &|b| {
        b["detail"]["query"] = 42.into()
    }));
    batch.push(variant("empty-query", &|b| {
        b["detail"]["query"] = " \u{202e}\u{0} ".into();
        b["detail"]["normalized"] = "".into();
    }));
    batch.push(variant("oversized", &|b| {
        b["detail"]["padding"] = "x".repeat(300 * 1024).into();
    }));
    for _ in 0..3 {
        let outcome = handle(batch.clone(), &stack.ingest).await;
        let mut failed: Vec<_> = outcome.failures.iter().map(|f| f.id.as_str()).collect();
        failed.sort_unstable();
        assert_eq!(
            failed,
            [
                "bad-json",
                "empty-query",
                "no-query",
                "oversized",
                "query-number",
                "v2"
            ]
        );
        assert!(
            outcome.failure_of("v2").unwrap().contains("version 2"),
            "{outcome:?}"
        );
        assert!(outcome
            .failure_of("empty-query")
            .unwrap()
            .contains("empty query"));
        assert!(outcome
            .failure_of("oversized")
            .unwrap()
            .contains("oversized"));
        assert!(
            outcome.failures.iter().all(|f| f.permanent),
            "every one of these is dead-lettered at once: {outcome:?}"
        );
    }
    assert!(stack
        .store
        .find_artist(&key("twice"))
        .await
        .unwrap()
        .is_some());
}

/// A bus that refuses every event for good, as EventBridge refuses an oversized one.
struct RefusingBus;

#[async_trait::async_trait]
impl encore_messaging::EventPublisher for RefusingBus {
    async fn publish(
        &self,
        _events: &[encore_messaging::OutgoingEvent],
    ) -> Result<(), encore_store::BackendError> {
        Err(encore_store::BackendError::rejected(
            "ArtistIngested event is 31457280 bytes, over the entry limit",
        ))
    }
}

#[tokio::test]
async fn a_refused_publish_dead_letters_at_once_and_leaves_a_request_status() {
    let standin = standin(Faults::default()).await;
    let mut stack = embedded(&standin).await;
    stack.ingest.publisher = Arc::new(RefusingBus);
    let request = requested("TWICE", None);
    let outcome = handle(vec![message("m", &request)], &stack.ingest).await;
    let failure = &outcome.failures[0];
    assert!(failure.permanent, "{outcome:?}");
    assert!(failure.reason.contains("entry limit"), "{outcome:?}");
    // The artist reached the stores before the refusal: its request is marked failed, not
    // left without a status.
    assert!(stack
        .store
        .find_artist(&key("twice"))
        .await
        .unwrap()
        .is_some());
    assert_eq!(
        stack.store.status(&key("twice")).await.unwrap(),
        Some(RequestStatus::Failed)
    );
}

/// A bus that is down for now, as EventBridge during an outage.
struct UnavailableBus;

#[async_trait::async_trait]
impl encore_messaging::EventPublisher for UnavailableBus {
    async fn publish(
        &self,
        _events: &[encore_messaging::OutgoingEvent],
    ) -> Result<(), encore_store::BackendError> {
        Err(encore_store::BackendError::unavailable(
            "the bus is not answering",
        ))
    }
}

/// A passing failure is retried; on the last delivery the queue allows (after which it
/// dead-letters the message) the request is marked failed, so the next ask says so.
#[tokio::test]
async fn a_transient_failure_on_the_last_delivery_marks_the_request_failed() {
    let standin = standin(Faults::default()).await;
    let mut stack = embedded(&standin).await;
    stack.ingest.publisher = Arc::new(UnavailableBus);
    let request = requested("TWICE", None);
    let mut delivery = message("m", &request);
    let outcome = handle(vec![delivery.clone()], &stack.ingest).await;
    assert!(!outcome.failures[0].permanent, "{outcome:?}");
    assert_ne!(
        stack.store.status(&key("twice")).await.unwrap(),
        Some(RequestStatus::Failed),
        "an early delivery is retried, not given up"
    );
    delivery.receive_count = stack.ingest.max_receives;
    let outcome = handle(vec![delivery], &stack.ingest).await;
    assert!(!outcome.failures[0].permanent, "{outcome:?}");
    assert_eq!(
        stack.store.status(&key("twice")).await.unwrap(),
        Some(RequestStatus::Failed)
    );
}

/// A writer the test reads back: every log line of a run.
#[derive(Clone, Default)]
struct CapturedLog(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for CapturedLog {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn user_text_is_logged_escaped() {
    let log = CapturedLog::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let standin = standin(Faults::default()).await;
    let stack = embedded(&standin).await;
    let forged = "Nobody\n2026-12-01T00:00:00Z ERROR forged: admin logged in\u{1b}[2J";
    let mut request = requested(forged, None);
    request.request_id = format!("user:{forged}");
    let outcome = handle(vec![message("m", &request)], &stack.ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");

    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("Nobody"), "the query is logged: {text}");
    assert!(
        !text.contains('\u{1b}'),
        "an escape sequence reached the log: {text}"
    );
    assert!(
        !text
            .lines()
            .any(|line| line.starts_with("2026-12-01T00:00:00Z ERROR forged")),
        "a newline in user text forged a log line: {text}"
    );
}

#[tokio::test]
async fn rate_limits_and_server_errors_end_in_success_without_duplicates() {
    let standin = standin(Faults::default()).await;
    let stack = embedded(&standin).await;
    standin.rate_limit_burst(3, 1);
    standin.set_server_error_every(4);
    let batch = vec![
        message("a", &requested("BLACKPINK", None)),
        message("b", &requested("Ed Sheeran", None)),
    ];
    let outcome = handle(batch, &stack.ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    let events = published(stack.lake_queue.as_ref()).await;
    assert_eq!(events.len(), 2);
    for event in &events {
        let cached = stack
            .store
            .top_tracks(std::slice::from_ref(&event.artist.id))
            .await
            .unwrap();
        assert_eq!(
            cached[&event.artist.id].len(),
            event.tracks.len(),
            "no duplicated ranks"
        );
    }
}

#[tokio::test]
async fn a_retry_after_past_the_deadline_fails_the_message_at_once() {
    let standin = standin(Faults::default()).await;
    let stack = embedded(&standin).await;
    // The next API call answers 429 with a 20 s Retry-After; 3 s are left.
    standin.rate_limit_burst(1, 20);
    let request = requested("BLACKPINK", None);
    let started = Instant::now();
    let deadline = Deadline::after(Duration::from_secs(3), Duration::from_millis(500));
    let outcome = handle_until(vec![message("a", &request)], &stack.ingest, deadline).await;
    let reason = outcome.failure_of("a").expect("failed, to be retried");
    assert!(reason.contains("deadline"), "{reason}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "slept into the deadline: {:?}",
        started.elapsed()
    );
    assert!(published(stack.lake_queue.as_ref()).await.is_empty());
    // The redelivery, with time to spare, succeeds once.
    let outcome = handle(vec![message("a", &request)], &stack.ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    assert_eq!(published(stack.lake_queue.as_ref()).await.len(), 1);
}

#[tokio::test]
async fn a_short_deadline_fails_only_the_unfinished_messages() {
    let standin = standin(Faults::default()).await;
    let mut stack = embedded(&standin).await;
    stack.ingest.concurrency = 2;
    let names = [
        "BLACKPINK",
        "Ed Sheeran",
        "TWICE",
        "Coldplay",
        "Drake",
        "Maroon 5",
        "Queen",
        "Adele",
    ];
    let requests: Vec<ArtistRequested> = names.iter().map(|n| requested(n, None)).collect();
    let batch = |ids: &[String]| -> Vec<InboundMessage> {
        requests
            .iter()
            .zip(0..)
            .map(|(r, i)| message(&format!("m{i}"), r))
            .filter(|m| ids.contains(&m.id))
            .collect()
    };
    let all: Vec<String> = (0..names.len()).map(|i| format!("m{i}")).collect();
    // Every Spotify answer takes 300 ms: an artist needs about a second.
    standin.set_latency(Duration::from_millis(300));
    let window = Duration::from_secs(4);
    let started = Instant::now();
    let outcome = handle_until(
        batch(&all),
        &stack.ingest,
        Deadline::after(window, Duration::from_millis(1500)),
    )
    .await;
    let elapsed = started.elapsed();
    assert!(
        elapsed < window + Duration::from_millis(500),
        "ran past the deadline: {elapsed:?}"
    );
    let failed: Vec<String> = outcome.failures.iter().map(|f| f.id.clone()).collect();
    assert!(failed.len() < names.len(), "nothing finished: {outcome:?}");
    assert!(
        outcome
            .failures
            .iter()
            .any(|f| f.reason.contains("not started")),
        "every artist started: {outcome:?}"
    );
    for failure in &outcome.failures {
        assert!(failure.reason.contains("out of time"), "{failure:?}");
    }
    let first = published(stack.lake_queue.as_ref()).await;
    assert_eq!(
        first.len(),
        names.len() - failed.len(),
        "exactly the finished ones published"
    );

    // Only the failed messages are delivered again; afterwards every artist is in, once.
    standin.set_latency(Duration::ZERO);
    let outcome = handle(batch(&failed), &stack.ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    let again = published(stack.lake_queue.as_ref()).await;
    let mut ids: Vec<String> = first
        .iter()
        .chain(&again)
        .map(|e| e.meta.id.to_string())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), names.len(), "one ArtistIngested per request");
}

#[tokio::test]
async fn development_mode_stores_tracks_with_features_missing() {
    let standin = standin(Faults {
        dev_mode: true,
        ..Faults::default()
    })
    .await;
    let stack = embedded(&standin).await;
    let outcome = handle(
        vec![message("a", &requested("Ed Sheeran", None))],
        &stack.ingest,
    )
    .await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    let events = published(stack.lake_queue.as_ref()).await;
    assert_eq!(events.len(), 1);
    assert!(
        !events[0].tracks.is_empty(),
        "tracks come from a track search"
    );
    assert!(
        events[0].features.is_empty(),
        "features are recorded as missing"
    );
}

/// The AWS path: events on a moto SQS queue → handler → MariaDB rows, DynamoDB items,
/// `ArtistIngested` on a moto EventBridge bus reaching its target queue, and a callback.
#[tokio::test]
async fn aws_path_on_mariadb_and_moto() {
    use encore_messaging::eventbridge::{route_to_queue, EventBridgePublisher};
    use encore_messaging::sqs::create_with_dead_letters;
    use encore_store::dynamodb::{create_table, DynamoTopTracks};

    let aws = aws_config().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let events = aws_sdk_eventbridge::Client::new(&aws);
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let settings = QueueSettings {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };
    let (ingest_queue, _) = create_with_dead_letters(&sqs, &format!("ingest-{suffix}"), settings)
        .await
        .unwrap();
    let (lake_queue, _) = create_with_dead_letters(&sqs, &format!("lake-{suffix}"), settings)
        .await
        .unwrap();
    let bus = format!("bus-{suffix}");
    route_to_queue(&events, &bus, "ArtistIngested", &lake_queue)
        .await
        .unwrap();
    let table = format!("top_tracks_{suffix}");
    create_table(&dynamo, &table).await.unwrap();

    // A database of its own on the test MariaDB.
    let database = TestDatabase::create("ingest").await;
    let store = Arc::new(database.store().await);

    let standin = standin(Faults::default()).await;
    let (callback_url, callbacks) = callback_server().await;
    let ingest = Ingest {
        catalog: Arc::new(SpotifyCatalog::new(spotify(&standin))),
        artists: store.clone(),
        related: store.clone(),
        requests: store.clone(),
        top_tracks: Arc::new(DynamoTopTracks::new(dynamo.clone(), table.clone())),
        publisher: Arc::new(EventBridgePublisher::new(events.clone(), bus.clone())),
        callbacks: Callbacks::new(CallbackHosts::parse("127.0.0.1").unwrap()),
        concurrency: 4,
        releases_kept: 3,
        max_receives: encore_ingest::DEFAULT_MAX_RECEIVES,
    };

    let request = requested("방탄소년단", Some(callback_url));
    ingest_queue
        .send(&serde_json::to_string(&BusEnvelope::wrap(&request, SOURCE_CHAT).unwrap()).unwrap())
        .await
        .unwrap();
    // Received the way Lambda's poller does, translated as the Lambda main does.
    let received = ingest_queue
        .receive(10, Duration::from_secs(2))
        .await
        .unwrap();
    assert_eq!(received.len(), 1);
    let sqs_event: aws_lambda_events::sqs::SqsEvent = serde_json::from_value(serde_json::json!({
        "Records": received.iter().map(|m| serde_json::json!({
            "messageId": m.id, "receiptHandle": m.receipt, "body": m.body,
            "attributes": {"ApproximateReceiveCount": m.receive_count.to_string()},
            "eventSource": "aws:sqs"
        })).collect::<Vec<_>>()
    }))
    .unwrap();
    let outcome = handle(from_sqs_event(sqs_event), &ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");

    let bts = store
        .find_artist(&key("방탄소년단"))
        .await
        .unwrap()
        .expect("alias resolves in MariaDB");
    assert_eq!(bts.name, "BTS");
    let cache = DynamoTopTracks::new(dynamo, table);
    let items = cache
        .top_tracks(std::slice::from_ref(&bts.id))
        .await
        .unwrap();
    assert!(!items[&bts.id].is_empty());
    let delivered = lake_queue
        .receive(10, Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(
        delivered.len(),
        1,
        "ArtistIngested reaches the lake queue through the bus rule"
    );
    let event: ArtistIngested = decode(&delivered[0].body).unwrap();
    assert_eq!(event.artist.id, bts.id);
    assert_eq!(event.tracks.len(), items[&bts.id].len());
    assert_eq!(event.releases.len(), 3);
    assert_eq!(
        cache.latest_releases(&bts.id).await.unwrap(),
        event.releases,
        "releases cached in DynamoDB"
    );
    assert_eq!(callbacks.lock().unwrap().len(), 1);
    assert!(Utc::now() - request.meta.occurred_at < chrono::Duration::seconds(60));

    // Not found, with a callback: suggestions from the names MariaDB knows.
    let (callback_url, callbacks) = callback_server().await;
    let typo = requested("방탄소녀단", Some(callback_url));
    let outcome = handle(vec![message("m2", &typo)], &ingest).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    assert_eq!(
        store.status(&key("방탄소녀단")).await.unwrap(),
        Some(RequestStatus::NotFound)
    );
    assert_eq!(suggested(&callbacks), ["BTS"]);

    database.drop_database().await;
}

/// Asserts that each of `names` was ingested exactly once whatever was delivered how
/// often: one artist per name among the published events, stored, its request done, its
/// cached top tracks those of its event (no rank twice).
async fn assert_ingested_once(
    names: &[&str],
    events: &[ArtistIngested],
    store: &(impl ArtistStore + RequestLog),
    cache: &impl TopTracksCache,
) {
    let artists: std::collections::HashSet<_> =
        events.iter().map(|e| e.artist.id.clone()).collect();
    assert_eq!(artists.len(), names.len(), "every artist published");
    let ids: Vec<_> = artists.into_iter().collect();
    assert_eq!(store.artists(&ids).await.unwrap().len(), names.len());
    for name in names {
        assert!(
            store.find_artist(&key(name)).await.unwrap().is_some(),
            "{name}"
        );
        assert_eq!(
            store.status(&key(name)).await.unwrap(),
            Some(RequestStatus::Done),
            "{name}"
        );
    }
    let tracks = cache.top_tracks(&ids).await.unwrap();
    for event in events {
        assert_eq!(
            tracks[&event.artist.id].len(),
            event.tracks.len(),
            "no duplicated ranks"
        );
    }
}

/// The bus delivering every event twice, as EventBridge and SQS may (at-least-once).
struct Twice(Arc<dyn encore_messaging::EventPublisher>);

#[async_trait::async_trait]
impl encore_messaging::EventPublisher for Twice {
    async fn publish(
        &self,
        events: &[encore_messaging::OutgoingEvent],
    ) -> Result<(), encore_messaging::BackendError> {
        self.0.publish(events).await?;
        self.0.publish(events).await
    }
}

#[tokio::test]
async fn every_message_delivered_twice_ingests_each_artist_once() {
    let standin = standin(Faults::default()).await;
    let mut stack = embedded(&standin).await;
    stack.ingest.publisher = Arc::new(Twice(stack.ingest.publisher.clone()));
    let names = ["BLACKPINK", "Ed Sheeran", "TWICE", "Coldplay"];
    let requests: Vec<ArtistRequested> = names.iter().map(|n| requested(n, None)).collect();
    // Each request twice in one batch (two deliveries in flight at once), then the whole
    // batch again (a redelivery after a lost delete).
    let batch: Vec<InboundMessage> = requests
        .iter()
        .zip(0..)
        .flat_map(|(r, i)| [message(&format!("m{i}"), r), message(&format!("d{i}"), r)])
        .collect();
    for _ in 0..2 {
        let outcome = handle(batch.clone(), &stack.ingest).await;
        assert!(outcome.failures.is_empty(), "{outcome:?}");
    }

    let events = published(stack.lake_queue.as_ref()).await;
    let ids: std::collections::HashSet<_> = events.iter().map(|e| e.meta.id).collect();
    assert_eq!(
        ids.len(),
        names.len(),
        "every delivery of one request publishes the same event id, so the lake writes \
         one set of files per artist"
    );
    assert_ingested_once(&names, &events, stack.store.as_ref(), stack.store.as_ref()).await;
}

#[tokio::test]
async fn the_database_going_away_mid_ingest_loses_and_duplicates_nothing() {
    use sqlx::Connection;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let db = TestDatabase::create("gone").await;
    let store = Arc::new(db.store().await);
    let admin = sqlx::MySqlPool::connect_with(db.server().clone())
        .await
        .unwrap();
    let database = db.name().to_owned();
    let standin = standin(Faults::default()).await;
    standin.set_latency(Duration::from_millis(40));
    let mut stack = embedded(&standin).await;
    stack.ingest.artists = store.clone();
    stack.ingest.related = store.clone();
    stack.ingest.requests = store.clone();
    let names = [
        "BLACKPINK",
        "Ed Sheeran",
        "TWICE",
        "Coldplay",
        "Drake",
        "Maroon 5",
        "Queen",
        "Adele",
    ];
    let requests: Vec<ArtistRequested> = names.iter().map(|n| requested(n, None)).collect();
    let batch: Vec<InboundMessage> = requests
        .iter()
        .zip(0..)
        .map(|(r, i)| message(&format!("m{i}"), r))
        .collect();

    // The database hangs (a write lock on `artists`, held by another session) and then
    // drops every connection of the store, as a failover does: the queries waiting on the
    // lock fail; the next ones reconnect.
    let mut locker = sqlx::MySqlConnection::connect_with(&db.options())
        .await
        .unwrap();
    let locker_id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&mut locker)
        .await
        .unwrap();
    sqlx::raw_sql("LOCK TABLES artists WRITE")
        .execute(&mut locker)
        .await
        .unwrap();
    let kills = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (kills, admin, database) = (kills.clone(), admin.clone(), database.clone());
        tokio::spawn(async move {
            for _ in 0..3 {
                tokio::time::sleep(Duration::from_millis(400)).await;
                let ids: Vec<i64> = sqlx::query_scalar(
                    "SELECT ID FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> ?",
                )
                .bind(&database)
                .bind(locker_id)
                .fetch_all(&admin)
                .await
                .unwrap();
                for id in ids {
                    if sqlx::query(&format!("KILL CONNECTION {id}"))
                        .execute(&admin)
                        .await
                        .is_ok()
                    {
                        kills.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        })
    };
    let running = {
        let (batch, ingest) = (batch.clone(), stack.ingest.clone());
        tokio::spawn(async move { handle(batch, &ingest).await })
    };
    killer.await.unwrap();
    sqlx::raw_sql("UNLOCK TABLES")
        .execute(&mut locker)
        .await
        .unwrap();
    let outcome = running.await.unwrap();
    locker.close().await.unwrap();
    assert!(
        kills.load(Ordering::Relaxed) > 0,
        "no connection was killed"
    );
    let first_failures = outcome.failures.len();
    assert!(
        first_failures > 0,
        "the kills hit no query in flight: {outcome:?}"
    );

    // The database is back: the failed messages are redelivered until none fail.
    let mut failed: Vec<String> = outcome.failures.iter().map(|f| f.id.clone()).collect();
    for receive_count in 2..=4 {
        if failed.is_empty() {
            break;
        }
        let retry: Vec<InboundMessage> = batch
            .iter()
            .filter(|m| failed.contains(&m.id))
            .map(|m| InboundMessage {
                receive_count,
                ..m.clone()
            })
            .collect();
        let outcome = handle(retry, &stack.ingest).await;
        failed = outcome.failures.iter().map(|f| f.id.clone()).collect();
    }
    assert!(
        failed.is_empty(),
        "still failing after the database came back: {failed:?}"
    );
    eprintln!(
        "{} connections killed; {first_failures} of {} messages failed the first time",
        kills.load(Ordering::Relaxed),
        batch.len()
    );

    let events = published(stack.lake_queue.as_ref()).await;
    assert_ingested_once(&names, &events, store.as_ref(), stack.store.as_ref()).await;
    store.pool().close().await;
    admin.close().await;
    db.drop_database().await;
}

/// Delivers `batch` until no message fails (each redelivery counting one more receive),
/// calling `between` before each redelivery; panics on a permanent failure or when
/// messages still fail after `rounds` deliveries.
async fn deliver_until_done(
    batch: &[InboundMessage],
    ingest: &Ingest,
    rounds: u32,
    mut between: impl FnMut(u32),
) {
    let mut pending: Vec<InboundMessage> = batch.to_vec();
    for receive_count in 1..=rounds {
        if receive_count > 1 {
            between(receive_count);
        }
        let outcome = handle(pending.clone(), ingest).await;
        assert!(
            outcome.failures.iter().all(|f| !f.permanent),
            "a transient fault was dead-lettered: {outcome:?}"
        );
        let failed: Vec<&str> = outcome.failures.iter().map(|f| f.id.as_str()).collect();
        pending = pending
            .into_iter()
            .filter(|m| failed.contains(&m.id.as_str()))
            .map(|m| InboundMessage {
                receive_count: receive_count + 1,
                ..m
            })
            .collect();
        if pending.is_empty() {
            return;
        }
    }
    panic!("still failing after {rounds} deliveries: {pending:?}");
}

#[tokio::test]
async fn every_spotify_fault_ends_in_each_artist_ingested_once() {
    let names = ["BLACKPINK", "Ed Sheeran", "TWICE", "Coldplay"];
    type Fault = fn(&RunningStandIn);
    let faults: [(&str, Fault, Fault); 4] = [
        (
            "429 bursts with Retry-After",
            |s| s.rate_limit_burst(6, 1),
            |_| {},
        ),
        (
            "a 5xx every third call",
            |s| s.set_server_error_every(3),
            |_| {},
        ),
        (
            "tokens expiring mid-batch",
            |s| s.set_token_ttl(Duration::from_millis(100)),
            |_| {},
        ),
        (
            "answers slower than the client's timeout",
            |s| s.set_latency(Duration::from_millis(800)),
            |s| s.set_latency(Duration::ZERO),
        ),
    ];
    for (fault, start, end) in faults {
        let standin = standin(Faults::default()).await;
        let mut stack = embedded(&standin).await;
        let mut config = spotify_config(&standin);
        config.request_timeout = Duration::from_millis(400);
        config.retry = RetryPolicy {
            base_delay: Duration::from_millis(20),
            max_attempts: 3,
            ..RetryPolicy::default()
        };
        stack.ingest.catalog = Arc::new(SpotifyCatalog::new(SpotifyClient::new(config).unwrap()));
        let batch: Vec<InboundMessage> = names
            .iter()
            .zip(0..)
            .map(|(n, i)| message(&format!("m{i}"), &requested(n, None)))
            .collect();
        start(&standin);
        deliver_until_done(&batch, &stack.ingest, 4, |_| end(&standin)).await;
        let events = published(stack.lake_queue.as_ref()).await;
        eprintln!(
            "{fault}: {} events for {} artists",
            events.len(),
            names.len()
        );
        assert_ingested_once(&names, &events, stack.store.as_ref(), stack.store.as_ref()).await;
    }
}

#[tokio::test]
async fn a_locked_sqlite_file_mid_ingest_loses_and_duplicates_nothing() {
    use sqlx::Connection;

    let dir = std::env::temp_dir().join(format!(
        "encore-ingest-locked-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("encore.db");
    let store = Arc::new(SqliteStore::open(&path).await.unwrap());
    let standin = standin(Faults::default()).await;
    let mut stack = embedded(&standin).await;
    stack.ingest.artists = store.clone();
    stack.ingest.related = store.clone();
    stack.ingest.requests = store.clone();
    stack.ingest.top_tracks = store.clone();
    let names = ["BLACKPINK", "Ed Sheeran", "TWICE", "Coldplay"];
    let batch: Vec<InboundMessage> = names
        .iter()
        .zip(0..)
        .map(|(n, i)| message(&format!("m{i}"), &requested(n, None)))
        .collect();

    // Another process holds the database's write lock past the store's busy timeout (a
    // stuck `encore` beside this one): every write waits, then fails.
    let mut other = sqlx::SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::raw_sql("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    let outcome = handle(batch.clone(), &stack.ingest).await;
    assert_eq!(outcome.failures.len(), names.len(), "{outcome:?}");
    assert!(
        outcome.failures.iter().all(|f| !f.permanent),
        "a locked database is transient: {outcome:?}"
    );
    sqlx::raw_sql("ROLLBACK").execute(&mut other).await.unwrap();
    other.close().await.unwrap();

    // The lock is gone: the redeliveries succeed, and nothing is there twice.
    let redelivered: Vec<InboundMessage> = batch
        .iter()
        .map(|m| InboundMessage {
            receive_count: 2,
            ..m.clone()
        })
        .collect();
    deliver_until_done(&redelivered, &stack.ingest, 3, |_| {}).await;
    let events = published(stack.lake_queue.as_ref()).await;
    assert_ingested_once(&names, &events, store.as_ref(), store.as_ref()).await;
    let _ = std::fs::remove_dir_all(&dir);
}
