//! Ingest throughput against the Spotify stand-in with a configured latency per call:
//! N artists of the songs data set go through the real handler (SQLite store, embedded bus)
//! in SQS-sized batches; prints artists/s and calls per artist, Spotify's and ReccoBeats'
//! apart. In `development` mode the stand-in refuses top tracks and audio features as a
//! Development Mode app is refused them: tracks come from search, features from the
//! stand-in's ReccoBeats (both at the same latency per call).
//!
//! `encore bench ingest [ARTISTS] [LATENCY_MS] [CONCURRENCY] [extended|development]`
//! (defaults 1000, 50, 4, extended). Needs `../shared/data/spotify_songs.csv.gz`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use encore_domain::events::{ArtistRequested, EventMeta, RequestReason, SOURCE_OPS};
use encore_domain::normalize;
use encore_ingest::spotify::SpotifyCatalog;
use encore_ingest::{handle, Callbacks, Ingest};
use encore_kakao::callback::CallbackHosts;
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_messaging::inbound::InboundMessage;
use encore_messaging::BusEnvelope;
use encore_messaging::Queue;
use encore_messaging::{embedded_queue::EmbeddedQueue, QueueSettings};
use encore_spotify::{FeatureSettings, FeaturesFallback, SpotifyClient, SpotifyMode};
use encore_standin::{Faults, StandIn};
use encore_store::sqlite::SqliteStore;

/// Messages per batch, as SQS delivers at most.
const BATCH: usize = 10;

/// `encore bench ingest`'s arguments.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Artists of the data set to ingest, in the catalog's order.
    #[arg(default_value_t = 1000)]
    pub artists: usize,
    /// The stand-in's delay per call, in milliseconds.
    #[arg(default_value_t = 50)]
    pub latency_ms: u64,
    /// Artists of one batch ingested at once.
    #[arg(default_value_t = 4)]
    pub concurrency: usize,
    /// `extended` (every endpoint) or `development` (Spotify's Development Mode).
    #[arg(default_value = "extended", value_parser = parse_mode)]
    pub mode: SpotifyMode,
}

fn parse_mode(text: &str) -> Result<SpotifyMode, String> {
    text.parse::<SpotifyMode>().map_err(|e| e.to_string())
}

/// Ingests the artists through the real handler and prints the figures.
pub async fn run(args: IngestArgs) -> anyhow::Result<()> {
    let IngestArgs {
        artists,
        latency_ms,
        concurrency,
        mode,
    } = args;
    let path = encore_standin::data_set_path();
    anyhow::ensure!(
        path.exists(),
        "the songs data set is missing at {}; this benchmark needs it",
        path.display()
    );
    let catalog = Arc::new(encore_standin::Catalog::load(&path)?);
    let faults = Faults {
        latency: Duration::from_millis(latency_ms),
        dev_mode: mode == SpotifyMode::Development,
        ..Faults::default()
    };
    let standin = StandIn::new(catalog.clone())
        .with_faults(faults)
        .serve("127.0.0.1:0".parse()?)
        .await?;
    let client = SpotifyClient::new(encore_test_support::spotify_config(&standin).with_features(
        &FeatureSettings {
            mode,
            fallback: FeaturesFallback::Reccobeats,
            reccobeats_base: Some(standin.reccobeats_base()),
        },
    ))?;

    let dir = std::env::temp_dir().join(format!("encore-ingest-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = Arc::new(SqliteStore::open(dir.join("encore.db")).await?);
    let settings = QueueSettings {
        visibility_timeout: Duration::from_secs(60),
        max_receives: 3,
    };
    let lake = Arc::new(EmbeddedQueue::open(store.pool().clone(), "lake", settings).await?);
    let ingest = Ingest {
        catalog: Arc::new(SpotifyCatalog::new(client.clone())),
        artists: store.clone(),
        related: store.clone(),
        requests: store.clone(),
        top_tracks: store.clone(),
        publisher: Arc::new(EmbeddedBus::new().route("ArtistIngested", lake.clone())),
        callbacks: Callbacks::new(CallbackHosts::default()),
        concurrency,
        releases_kept: encore_domain::release::LATEST_RELEASES_KEPT,
        max_receives: encore_ingest::DEFAULT_MAX_RECEIVES,
    };

    let names: Vec<String> = catalog
        .artists()
        .iter()
        .take(artists)
        .map(|a| a.name.clone())
        .collect();
    let messages: Vec<InboundMessage> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            let event = ArtistRequested {
                meta: EventMeta::new(1),
                query: name.clone(),
                normalized: normalize(name),
                requested_by: None,
                callback_url: None,
                request_id: format!("bench-{i}"),
                reason: RequestReason::Backfill,
            };
            let body = serde_json::to_string(&BusEnvelope::wrap(&event, SOURCE_OPS)?)?;
            Ok(InboundMessage {
                id: format!("m{i}"),
                body,
                receive_count: 1,
            })
        })
        .collect::<anyhow::Result<_>>()?;

    let started = Instant::now();
    let mut failed = 0;
    for batch in messages.chunks(BATCH) {
        failed += handle(batch.to_vec(), &ingest).await.failures.len();
    }
    let seconds = started.elapsed().as_secs_f64();
    let ingested = lake.depth().await?;
    println!(
        "artists={} ingested_events={ingested} failed={failed}",
        names.len()
    );
    println!(
        "mode={} latency_ms_per_call={latency_ms} concurrency={concurrency} batch={BATCH}",
        mode.as_str()
    );
    println!(
        "seconds={seconds:.2} artists_per_second={:.1}",
        names.len() as f64 / seconds
    );
    println!(
        "spotify_calls_per_artist={:.2} ({} HTTP calls, {} of them for tokens)",
        client.calls() as f64 / names.len() as f64,
        client.calls(),
        client.token_calls()
    );
    let reccobeats_calls = client.features_fallback().map_or(0, |r| r.calls());
    println!(
        "reccobeats_calls_per_artist={:.2} ({reccobeats_calls} HTTP calls)",
        reccobeats_calls as f64 / names.len() as f64,
    );
    standin.shutdown().await;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
