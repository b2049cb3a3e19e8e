//! Feature provenance through ingest, on both adapter sets (SQLite + the embedded bus;
//! DynamoDB + EventBridge on moto with MariaDB): each track's features record their
//! source in the top-tracks cache and in `ArtistIngested`; a ReccoBeats outage stores the
//! artist with features missing, and the next ingest fills them in.

use std::sync::Arc;
use std::time::Duration;

use encore_domain::events::{
    ArtistIngested, ArtistRequested, EventMeta, RequestReason, SOURCE_OPS,
};
use encore_domain::{normalize, FeatureSource};
use encore_ingest::spotify::SpotifyCatalog;
use encore_ingest::{handle, Callbacks, Ingest};
use encore_kakao::callback::CallbackHosts;
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_messaging::inbound::InboundMessage;
use encore_messaging::{decode, BusEnvelope};
use encore_messaging::{embedded_queue::EmbeddedQueue, QueueSettings};
use encore_messaging::{EventPublisher, Queue};
use encore_spotify::{FeatureSettings, FeaturesFallback, RetryPolicy, SpotifyClient, SpotifyMode};
use encore_standin::{Faults, RunningStandIn, StandIn};
use encore_store::sqlite::SqliteStore;
use encore_store::{ArtistStore, RelatedStore, RequestLog, TopTracksCache};
use encore_test_support::{aws_config, catalog, spotify_config, TestDatabase};

async fn standin(dev_mode: bool) -> RunningStandIn {
    StandIn::new(catalog())
        .with_faults(Faults {
            dev_mode,
            ..Faults::default()
        })
        .serve("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(40),
        ..RetryPolicy::default()
    }
}

/// A client in `mode`, features falling back to the stand-in's ReccoBeats.
fn spotify(standin: &RunningStandIn, mode: SpotifyMode) -> SpotifyClient {
    let mut config = spotify_config(standin).with_features(&FeatureSettings {
        mode,
        fallback: FeaturesFallback::Reccobeats,
        reccobeats_base: Some(standin.reccobeats_base()),
    });
    config.retry = quick();
    if let Some(fallback) = config.features_fallback.as_mut() {
        fallback.retry = quick();
    }
    SpotifyClient::new(config).unwrap()
}

fn message(id: &str, query: &str) -> InboundMessage {
    let event = ArtistRequested {
        meta: EventMeta::new(1),
        query: query.into(),
        normalized: normalize(query),
        requested_by: None,
        callback_url: None,
        request_id: format!("provenance-{id}"),
        reason: RequestReason::Refresh,
    };
    InboundMessage {
        id: id.into(),
        body: serde_json::to_string(&BusEnvelope::wrap(&event, SOURCE_OPS).unwrap()).unwrap(),
        receive_count: 1,
    }
}

/// The stores one adapter set gives the handler, and the queue its events reach.
struct Adapters {
    artists: Arc<dyn ArtistStore>,
    related: Arc<dyn RelatedStore>,
    requests: Arc<dyn RequestLog>,
    top_tracks: Arc<dyn TopTracksCache>,
    publisher: Arc<dyn EventPublisher>,
    events: Arc<dyn Queue>,
}

fn ingest(adapters: &Adapters, client: SpotifyClient) -> Ingest {
    Ingest {
        catalog: Arc::new(SpotifyCatalog::new(client)),
        artists: adapters.artists.clone(),
        related: adapters.related.clone(),
        requests: adapters.requests.clone(),
        top_tracks: adapters.top_tracks.clone(),
        publisher: adapters.publisher.clone(),
        callbacks: Callbacks::new(CallbackHosts::parse("127.0.0.1").unwrap()),
        concurrency: 2,
        releases_kept: 3,
        max_receives: encore_ingest::DEFAULT_MAX_RECEIVES,
    }
}

async fn published(queue: &dyn Queue) -> Vec<ArtistIngested> {
    let mut events = Vec::new();
    for _ in 0..20 {
        let batch = queue.receive(10, Duration::from_millis(500)).await.unwrap();
        if batch.is_empty() && !events.is_empty() {
            break;
        }
        for m in batch {
            events.push(decode::<ArtistIngested>(&m.body).unwrap());
            queue.delete(&m.receipt).await.unwrap();
        }
    }
    events
}

/// The whole scenario on one adapter set.
async fn provenance_is_recorded(adapters: Adapters) {
    // Extended mode: Spotify measures every track.
    let extended = standin(false).await;
    let outcome = handle(
        vec![message("e", "Ed Sheeran")],
        &ingest(&adapters, spotify(&extended, SpotifyMode::Extended)),
    )
    .await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    let event = published(adapters.events.as_ref()).await.remove(0);
    assert!(!event.features.is_empty());
    assert!(event
        .features
        .iter()
        .all(|f| f.source == FeatureSource::Spotify));
    let ed = event.artist.id.clone();
    let cached = &adapters
        .top_tracks
        .top_tracks(std::slice::from_ref(&ed))
        .await
        .unwrap()[&ed];
    assert_eq!(cached, &event.tracks, "the cache keeps each track's source");
    assert!(cached
        .iter()
        .all(|t| t.features_source == Some(FeatureSource::Spotify)));

    // Development Mode with ReccoBeats down: stored, features missing, nothing failed.
    let development = standin(true).await;
    let dev = ingest(&adapters, spotify(&development, SpotifyMode::Development));
    development.set_reccobeats_outage(true);
    let outcome = handle(vec![message("d1", "Ed Sheeran")], &dev).await;
    assert!(
        outcome.failures.is_empty(),
        "an outage never fails the ingest: {outcome:?}"
    );
    let event = published(adapters.events.as_ref()).await.remove(0);
    assert!(!event.tracks.is_empty() && event.features.is_empty());
    assert!(event.tracks.iter().all(|t| t.features_source.is_none()));
    let cached = &adapters
        .top_tracks
        .top_tracks(std::slice::from_ref(&ed))
        .await
        .unwrap()[&ed];
    assert!(
        cached.iter().all(|t| t.features_source.is_none()),
        "cached as missing"
    );

    // The next ingest (the refresh) asks again and gets them from ReccoBeats.
    development.set_reccobeats_outage(false);
    let outcome = handle(vec![message("d2", "Ed Sheeran")], &dev).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    let event = published(adapters.events.as_ref()).await.remove(0);
    assert_eq!(event.features.len(), event.tracks.len());
    assert!(event
        .features
        .iter()
        .all(|f| f.source == FeatureSource::Reccobeats));
    let cached = &adapters
        .top_tracks
        .top_tracks(std::slice::from_ref(&ed))
        .await
        .unwrap()[&ed];
    assert!(cached
        .iter()
        .all(|t| t.features_source == Some(FeatureSource::Reccobeats)));
    assert_eq!(
        development.calls(encore_standin::Endpoint::AudioFeatures),
        0
    );
}

#[tokio::test]
async fn provenance_on_sqlite_and_the_embedded_bus() {
    let store = Arc::new(SqliteStore::in_memory().await.unwrap());
    let settings = QueueSettings {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };
    let events = Arc::new(
        EmbeddedQueue::open(store.pool().clone(), "lake", settings)
            .await
            .unwrap(),
    );
    let bus = Arc::new(EmbeddedBus::new().route("ArtistIngested", events.clone()));
    provenance_is_recorded(Adapters {
        artists: store.clone(),
        related: store.clone(),
        requests: store.clone(),
        top_tracks: store,
        publisher: bus,
        events,
    })
    .await;
}

#[tokio::test]
async fn provenance_on_mariadb_dynamodb_and_eventbridge() {
    use encore_messaging::eventbridge::{route_to_queue, EventBridgePublisher};
    use encore_messaging::sqs::create_with_dead_letters;
    use encore_store::dynamodb::{create_table, DynamoTopTracks};

    let aws = aws_config().await;
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let sqs = aws_sdk_sqs::Client::new(&aws);
    let eventbridge = aws_sdk_eventbridge::Client::new(&aws);
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let settings = QueueSettings {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };
    let (lake_queue, _) = create_with_dead_letters(&sqs, &format!("lake-{suffix}"), settings)
        .await
        .unwrap();
    let bus = format!("bus-{suffix}");
    route_to_queue(&eventbridge, &bus, "ArtistIngested", &lake_queue)
        .await
        .unwrap();
    let table = format!("top_tracks_{suffix}");
    create_table(&dynamo, &table).await.unwrap();
    let database = TestDatabase::create("provenance").await;
    let store = Arc::new(database.store().await);
    provenance_is_recorded(Adapters {
        artists: store.clone(),
        related: store.clone(),
        requests: store,
        top_tracks: Arc::new(DynamoTopTracks::new(dynamo, table)),
        publisher: Arc::new(EventBridgePublisher::new(eventbridge, bus)),
        events: Arc::new(lake_queue),
    })
    .await;
    database.drop_database().await;
}
