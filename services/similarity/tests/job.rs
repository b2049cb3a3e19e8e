//! The similarity job end to end on both adapter sets (DataFusion over a local lake with
//! SQLite; Athena on the moto server with MariaDB), the Athena adapter against moto (its
//! UNLOAD's Parquet put in moto's S3 by a decorator, since moto runs no SQL), the
//! guarantee that a failed run leaves the datamart alone, and the Lambda's triggers with
//! the daily refresh.
//!
//! Needs the local test stack (`bash infra/local/stack.sh`): MariaDB and the moto server.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow::datatypes::{Field, Schema};
use async_trait::async_trait;
use aws_sdk_athena::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_athena::config::{ConfigBag, Intercept, RuntimeComponents};
use bytes::Bytes;
use chrono::{DateTime, Utc};
use encore_domain::events::{
    ArtistIngested, ArtistRequested, BusEvent, EventMeta, RequestReason, SimilarityRequested,
    SOURCE_OPS,
};
use encore_domain::{
    Artist, ArtistId, AudioFeatures, NormalizedName, RelatedArtist, RelatedSnapshot, Track,
    FEATURE_NAMES,
};
use encore_lake::objects::s3::s3_client;
use encore_lake::query::{
    unload_statement, AthenaApi, AthenaLakeSql, AthenaTarget, DataFusionLakeSql, ExecutionState,
    ExecutionStatus, LakeSql, Polling, ProfileRow, QueryError, QueryProgress, PROFILE_SQL,
    UNLOAD_PREFIX,
};
use encore_lake::{write_batch, Lake, LakeBatch, LocalDirLake, S3Lake};
use encore_messaging::embedded_bus::EmbeddedBus;
use encore_messaging::Queue;
use encore_messaging::{decode, BusEnvelope};
use encore_messaging::{embedded_queue::EmbeddedQueue, QueueSettings};
use encore_similarity::{relate, ArtistProfile, Profile};
use encore_similarity_service::{
    handle_event, run_similarity, snapshot_date, HandlerError, JobError, Outcome, Phase, Progress,
    Settings, Similarity, Trigger, TriggerError,
};
use encore_store::sqlite::SqliteStore;
use encore_store::{ArtistStore, DatamartWatermark, RelatedStore, RequestLog, RequestStatus};
use encore_test_support::{aws_config, TestDatabase};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

const K: usize = 10;
/// Enough artists that every one has a full list of K neighbours and some are left out.
const ARTISTS: usize = 14;

// ------------------------------------------------------------------ test data

fn artist_id(n: usize) -> String {
    format!("artist{n:02}")
}

/// [`artist_id`] as the domain's id.
fn aid(n: usize) -> ArtistId {
    artist_id(n).parse().unwrap()
}

/// A name's matching key.
fn key(name: &str) -> NormalizedName {
    NormalizedName::of(name)
}

/// Artist `n`'s two tracks' features: multiples of 1/64 whose mean is exact in binary, so
/// the profile the lake computes is known exactly. Spread irregularly so no two artists
/// are at the same distance from a third.
fn track_features(n: usize) -> [[f64; 9]; 2] {
    let base = |i: usize| ((n * 37 + i * 11 + n * n * i) % 53) as f64 / 8.0 + i as f64;
    let mean: [f64; 9] = std::array::from_fn(base);
    [
        std::array::from_fn(|i| mean[i] - 0.25),
        std::array::from_fn(|i| mean[i] + 0.25),
    ]
}

/// What the lake query should return for artist `n`.
fn expected_profile(n: usize) -> ProfileRow {
    let [a, b] = track_features(n);
    ProfileRow {
        artist_id: artist_id(n),
        track_count: 2,
        features: std::array::from_fn(|i| (a[i] + b[i]) / 2.0),
    }
}

fn features(track_id: &str, values: [f64; 9]) -> AudioFeatures {
    let [danceability, energy, loudness, speechiness, acousticness, instrumentalness, liveness, valence, tempo] =
        values;
    AudioFeatures {
        track_id: track_id.parse().unwrap(),
        danceability,
        energy,
        key: 0,
        loudness,
        mode: 1,
        speechiness,
        acousticness,
        instrumentalness,
        liveness,
        valence,
        tempo,
        duration_ms: Some(180_000),
        time_signature: Some(4),
        source: Default::default(),
    }
}

fn catalog_artist(n: usize) -> Artist {
    Artist {
        id: aid(n),
        name: format!("Artist {n}"),
        popularity: None,
        followers: None,
        genres: Vec::new(),
        image_url: None,
        spotify_url: None,
    }
}

/// Artist `n`'s ingest: two tracks with features and one without; on one of three days.
fn ingest(n: usize) -> ArtistIngested {
    let mut meta = EventMeta::new(1);
    meta.occurred_at = format!("2026-11-{:02}T01:00:00Z", 20 + n % 3)
        .parse::<DateTime<Utc>>()
        .unwrap();
    let track_ids: Vec<String> = (0..3).map(|t| format!("{}-t{t}", artist_id(n))).collect();
    let [a, b] = track_features(n);
    ArtistIngested {
        meta,
        query: artist_id(n),
        artist: catalog_artist(n),
        tracks: track_ids
            .iter()
            .zip(1..)
            .map(|(id, rank)| Track {
                id: id.parse().unwrap(),
                name: format!("song {id}"),
                artist_id: aid(n),
                rank,
                album_name: None,
                image_url: None,
                popularity: None,
                duration_ms: None,
                spotify_url: None,
                features_source: None,
            })
            .collect(),
        features: vec![features(&track_ids[0], a), features(&track_ids[1], b)],
        releases: Vec::new(),
    }
}

/// The datamart the job must leave: computed by the engine from the exact profiles.
fn expected_rows(settings: &Settings) -> Vec<(String, u32, String, f64)> {
    let profiles: Vec<ArtistProfile> = (0..ARTISTS)
        .map(expected_profile)
        .map(|p| ArtistProfile {
            artist_id: p.artist_id,
            features: p.features,
            track_count: p.track_count,
        })
        .collect();
    let relations = relate(&profiles, settings.k, settings.profile).unwrap();
    relations
        .to_snapshot("2026-11-25")
        .unwrap()
        .to_related_artists()
        .into_iter()
        .map(|r| {
            (
                r.artist_id.into_string(),
                r.rank,
                r.related_id.into_string(),
                r.distance,
            )
        })
        .collect()
}

/// Each artist's neighbour ids by an independent brute force over z-scores.
fn brute_force_order() -> Vec<Vec<String>> {
    let profiles: Vec<ProfileRow> = (0..ARTISTS).map(expected_profile).collect();
    let n = profiles.len() as f64;
    let mut z = vec![[0.0; 9]; profiles.len()];
    for i in 0..9 {
        let mean = profiles.iter().map(|p| p.features[i]).sum::<f64>() / n;
        let std = (profiles
            .iter()
            .map(|p| (p.features[i] - mean).powi(2))
            .sum::<f64>()
            / n)
            .sqrt();
        for (row, p) in z.iter_mut().zip(&profiles) {
            row[i] = (p.features[i] - mean) / std;
        }
    }
    (0..profiles.len())
        .map(|a| {
            let mut others: Vec<(f64, &str)> = (0..profiles.len())
                .filter(|&b| b != a)
                .map(|b| {
                    (
                        z[a].iter()
                            .zip(&z[b])
                            .map(|(x, y)| (x - y).powi(2))
                            .sum::<f64>(),
                        profiles[b].artist_id.as_str(),
                    )
                })
                .collect();
            others.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(y.1)));
            others
                .into_iter()
                .take(K)
                .map(|(_, id)| id.to_owned())
                .collect()
        })
        .collect()
}

/// Checks the datamart holds exactly the expected rows, and their basic shape on its own.
async fn assert_datamart(store: &(impl RelatedStore + ArtistStore), settings: &Settings) {
    let stored: Vec<(String, u32, String, f64)> = store
        .export_related()
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            (
                r.artist_id.into_string(),
                r.rank,
                r.related_id.into_string(),
                r.distance,
            )
        })
        .collect();
    assert_eq!(stored.len(), ARTISTS * K);
    for (n, rows) in stored.chunks(K).enumerate() {
        let ranks: Vec<u32> = rows.iter().map(|r| r.1).collect();
        assert_eq!(
            ranks,
            (1..=K as u32).collect::<Vec<_>>(),
            "ranks of {}",
            artist_id(n)
        );
        assert!(
            rows.iter().all(|r| r.0 == artist_id(n) && r.2 != r.0),
            "self excluded for {}",
            artist_id(n)
        );
        assert!(
            rows.windows(2).all(|w| w[0].3 <= w[1].3),
            "distances ascending for {}",
            artist_id(n)
        );
    }
    if settings.profile == Profile::Plain {
        let order: Vec<Vec<String>> = stored
            .chunks(K)
            .map(|rows| rows.iter().map(|r| r.2.clone()).collect())
            .collect();
        assert_eq!(
            order,
            brute_force_order(),
            "neighbours as an independent brute force ranks them"
        );
    }
    assert_eq!(stored, expected_rows(settings));
    let related = store.related(&aid(0), 4).await.unwrap();
    assert_eq!(related.len(), 4);
    let today = snapshot_date(Utc::now()).to_string();
    assert!(
        related.iter().all(|(r, _)| r.snapshot == today),
        "snapshot is today in Seoul"
    );
}

// ------------------------------------------------------------------ progress

#[derive(Default)]
struct Recorded(Mutex<Vec<String>>);

impl Recorded {
    fn take(&self) -> Vec<String> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

impl Progress for Recorded {
    fn started(&self, phase: Phase, total: Option<u64>) {
        self.0
            .lock()
            .unwrap()
            .push(format!("start {phase} {total:?}"));
    }
    fn message(&self, phase: Phase, message: &str) {
        self.0.lock().unwrap().push(format!("{phase}: {message}"));
    }
    fn advanced(&self, phase: Phase, done: u64) {
        self.0.lock().unwrap().push(format!("{phase} at {done}"));
    }
    fn finished(&self, phase: Phase, count: u64, _elapsed: Duration) {
        self.0.lock().unwrap().push(format!("end {phase} {count}"));
    }
}

impl QueryProgress for Recorded {
    fn state(&self, state: &str) {
        self.0.lock().unwrap().push(state.to_owned());
    }
    fn rows_read(&self, rows: usize) {
        self.0.lock().unwrap().push(format!("rows {rows}"));
    }
}

// ------------------------------------------------------------------ embedded stack

/// A lake directory of its own, removed when the test ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        Self(std::env::temp_dir().join(format!(
            "encore-similarity-{}",
            uuid::Uuid::new_v4().simple()
        )))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A local lake with every test artist ingested, in two batches over three days.
async fn filled_lake() -> TempDir {
    let dir = TempDir::new();
    let lake = LocalDirLake::new(&dir.0);
    for half in [0..ARTISTS / 2, ARTISTS / 2..ARTISTS] {
        let mut batch = LakeBatch::new();
        for n in half {
            batch.add(&ingest(n)).unwrap();
        }
        write_batch(&lake, &batch).await.unwrap();
    }
    dir
}

async fn sqlite_with_catalog() -> SqliteStore {
    let store = SqliteStore::in_memory().await.unwrap();
    for n in 0..ARTISTS {
        store.upsert_artist(&catalog_artist(n)).await.unwrap();
    }
    store
}

#[tokio::test]
async fn datafusion_lake_to_sqlite_datamart() {
    let dir = filled_lake().await;
    let lake_sql = DataFusionLakeSql::new(&dir.0);
    assert_eq!(
        lake_sql.artist_profiles(&()).await.unwrap(),
        (0..ARTISTS).map(expected_profile).collect::<Vec<_>>(),
        "the SQL averages each artist's tracks with features"
    );
    let store = sqlite_with_catalog().await;
    let settings = Settings {
        k: K,
        profile: Profile::Plain,
        ..Settings::default()
    };
    let progress = Recorded::default();

    let summary = run_similarity(&lake_sql, &store, &settings, &progress)
        .await
        .unwrap();

    assert_eq!((summary.artists, summary.rows), (ARTISTS, ARTISTS * K));
    assert_eq!(summary.snapshot, snapshot_date(Utc::now()));
    assert_datamart(&store, &settings).await;
    let (artists, rows) = (ARTISTS, ARTISTS * K);
    assert_eq!(
        progress.take(),
        [
            "start query None".to_owned(),
            "query: RUNNING".into(),
            "query: SUCCEEDED".into(),
            format!("query at {artists}"),
            format!("end query {artists}"),
            format!("start knn Some({artists})"),
            format!("end knn {artists}"),
            format!("start load Some({rows})"),
            format!("end load {rows}"),
        ]
    );
}

/// A bus routing `ArtistRequested` (the refresh requests) to an ingest queue in `store`.
async fn refresh_bus(store: &SqliteStore) -> (EmbeddedBus, Arc<EmbeddedQueue>) {
    let settings = QueueSettings {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 3,
    };
    let ingest_queue = Arc::new(
        EmbeddedQueue::open(store.pool().clone(), "ingest", settings)
            .await
            .unwrap(),
    );
    let bus = EmbeddedBus::new().route(ArtistRequested::DETAIL_TYPE, ingest_queue.clone());
    (bus, ingest_queue)
}

#[tokio::test]
async fn the_scheduled_event_runs_the_default_job() {
    let dir = filled_lake().await;
    let store = sqlite_with_catalog().await;
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/samples/eventbridge-scheduled.json"
    ))
    .unwrap();
    let event: BusEnvelope = serde_json::from_str(&sample).unwrap();
    // Users asked about two names within the refresh window and one before it; a
    // backfilled artist nobody asked about is not refreshed.
    let now = Utc::now();
    store
        .asked(&key("bts"), now - chrono::Duration::days(1))
        .await
        .unwrap();
    store
        .asked(&key("아이유"), now - chrono::Duration::days(29))
        .await
        .unwrap();
    store
        .asked(&key("forgotten"), now - chrono::Duration::days(31))
        .await
        .unwrap();
    store
        .finish(&key("backfilled"), RequestStatus::Done)
        .await
        .unwrap();
    let (bus, ingest_queue) = refresh_bus(&store).await;

    let summary = handle_event(
        event.clone(),
        &similarity(
            Arc::new(DataFusionLakeSql::new(&dir.0)),
            &store,
            &bus,
            Settings::default(),
        ),
    )
    .await
    .unwrap();
    let summary = summary.summary().expect("the schedule runs the job");
    assert_eq!((summary.artists, summary.rows), (ARTISTS, ARTISTS * K));
    assert_datamart(&store, &Settings::default()).await;

    let refresh_requests = |messages: Vec<encore_messaging::QueueMessage>| {
        let mut requests: Vec<ArtistRequested> = messages
            .iter()
            .map(|m| decode::<ArtistRequested>(&m.body).unwrap())
            .collect();
        requests.sort_by(|a, b| a.normalized.cmp(&b.normalized));
        requests
    };
    let first = refresh_requests(
        ingest_queue
            .receive(10, Duration::from_millis(200))
            .await
            .unwrap(),
    );
    let names: Vec<&str> = first.iter().map(|r| r.normalized.as_str()).collect();
    assert_eq!(names, ["bts", "아이유"]);
    assert!(first
        .iter()
        .all(|r| r.reason == RequestReason::Refresh && r.callback_url.is_none()));

    // A retried invocation the same day publishes the same event ids.
    handle_event(
        event,
        &similarity(
            Arc::new(DataFusionLakeSql::new(&dir.0)),
            &store,
            &bus,
            Settings::default(),
        ),
    )
    .await
    .unwrap();
    let again = refresh_requests(
        ingest_queue
            .receive(10, Duration::from_millis(200))
            .await
            .unwrap(),
    );
    let ids = |requests: &[ArtistRequested]| requests.iter().map(|r| r.meta.id).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&first));
}

#[tokio::test]
async fn a_requested_run_refreshes_nothing() {
    let dir = filled_lake().await;
    let store = sqlite_with_catalog().await;
    store.asked(&key("bts"), Utc::now()).await.unwrap();
    let (bus, ingest_queue) = refresh_bus(&store).await;
    let event: BusEnvelope = serde_json::from_value(requested_envelope(1)).unwrap();
    handle_event(
        event,
        &similarity(
            Arc::new(DataFusionLakeSql::new(&dir.0)),
            &store,
            &bus,
            Settings::default(),
        ),
    )
    .await
    .unwrap();
    assert_datamart(&store, &Settings::default()).await;
    assert_eq!(ingest_queue.depth().await.unwrap(), 0);
}

/// The service over the test's lake and clones of its store and bus (clones share their
/// database and routes).
fn similarity<S>(
    lake: Arc<dyn LakeSql>,
    store: &S,
    bus: &EmbeddedBus,
    settings: Settings,
) -> Similarity
where
    S: RelatedStore + RequestLog + DatamartWatermark + Clone + 'static,
{
    Similarity::new(
        lake,
        Arc::new(store.clone()),
        Arc::new(bus.clone()),
        settings,
    )
}

// ------------------------------------------------------------------ failures

/// A lake engine that answers with a fixed result and counts its calls.
struct ScriptedLake {
    answer: fn() -> Result<Vec<ProfileRow>, QueryError>,
    calls: Mutex<usize>,
}

impl ScriptedLake {
    fn new(answer: fn() -> Result<Vec<ProfileRow>, QueryError>) -> Self {
        Self {
            answer,
            calls: Mutex::new(0),
        }
    }
}

#[async_trait]
impl LakeSql for ScriptedLake {
    async fn artist_profiles(
        &self,
        _progress: &dyn QueryProgress,
    ) -> Result<Vec<ProfileRow>, QueryError> {
        *self.calls.lock().unwrap() += 1;
        (self.answer)()
    }
}

#[tokio::test]
async fn a_failed_phase_leaves_yesterdays_datamart() {
    let store = sqlite_with_catalog().await;
    let yesterday: Vec<RelatedArtist> = (1..=2)
        .map(|rank| RelatedArtist {
            artist_id: aid(0),
            rank,
            related_id: aid(rank as usize),
            distance: f64::from(rank),
            snapshot: "2026-11-24".into(),
        })
        .collect();
    store
        .replace_related(&RelatedSnapshot::from_rows(&yesterday).unwrap())
        .await
        .unwrap();
    let before = store.export_related().await.unwrap();

    let failed = ScriptedLake::new(|| {
        Err(QueryError::Failed {
            execution_id: "e".into(),
            state: ExecutionState::Failed,
            reason: "HIVE_CURSOR_ERROR".into(),
        })
    });
    let empty = ScriptedLake::new(|| Ok(Vec::new()));
    let not_finite = ScriptedLake::new(|| {
        let mut rows: Vec<ProfileRow> = (0..3).map(expected_profile).collect();
        rows[1].features[4] = f64::NAN;
        Ok(rows)
    });
    let settings = Settings::default();
    let err = run_similarity(&failed, &store, &settings, &())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, JobError::Query(_)) && err.to_string().contains("HIVE_CURSOR_ERROR"),
        "{err}"
    );
    let err = run_similarity(&empty, &store, &settings, &())
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::NoProfiles), "{err}");
    let err = run_similarity(&not_finite, &store, &settings, &())
        .await
        .unwrap_err();
    assert!(matches!(err, JobError::Knn(_)), "{err}");

    assert_eq!(
        store.export_related().await.unwrap(),
        before,
        "the datamart was not touched"
    );
}

#[tokio::test]
async fn a_run_that_shrinks_the_datamart_is_refused_unless_forced() {
    let store = sqlite_with_catalog().await;
    // Today's datamart relates every one of the ARTISTS artists.
    let today: Vec<RelatedArtist> = (0..ARTISTS)
        .map(|n| RelatedArtist {
            artist_id: aid(n),
            rank: 1,
            related_id: aid((n + 1) % ARTISTS),
            distance: 1.0,
            snapshot: "2026-11-24".into(),
        })
        .collect();
    store
        .replace_related(&RelatedSnapshot::from_rows(&today).unwrap())
        .await
        .unwrap();
    let before = store.export_related().await.unwrap();

    // The lake lost most of its data: 3 of 14 artists.
    let shrunk = ScriptedLake::new(|| Ok((0..3).map(expected_profile).collect()));
    let err = run_similarity(&shrunk, &store, &Settings::default(), &())
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            JobError::Shrunk {
                artists: 3,
                current: 14,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("90 %"), "{err}");
    assert_eq!(
        store.export_related().await.unwrap(),
        before,
        "the refused run left the datamart as it was"
    );

    // 13 of 14 is within the default 90 %.
    let most = ScriptedLake::new(|| Ok((0..13).map(expected_profile).collect()));
    let summary = run_similarity(&most, &store, &Settings::default(), &())
        .await
        .unwrap();
    assert_eq!(summary.artists, 13);

    // Forced, the small run replaces the datamart.
    let forced = Settings {
        force: true,
        ..Settings::default()
    };
    let summary = run_similarity(&shrunk, &store, &forced, &()).await.unwrap();
    assert_eq!(summary.artists, 3);
    assert_eq!(store.related_artist_count().await.unwrap(), 3);
}

#[test]
fn the_shrink_guard_fraction_comes_from_the_environment() {
    use encore_platform::config::{keys, Env};
    assert_eq!(
        Settings::from_env(&Env::from_pairs([])).unwrap(),
        Settings::default()
    );
    let half = Settings::from_env(&Env::from_pairs([(
        keys::SIMILARITY_MIN_KEPT_FRACTION,
        "0.5",
    )]))
    .unwrap();
    assert_eq!(half.min_kept_fraction, 0.5);
    assert!(Settings::from_env(&Env::from_pairs([(
        keys::SIMILARITY_MIN_KEPT_FRACTION,
        "1.5"
    )]))
    .is_err());
}

// ------------------------------------------------------------------ triggers

fn requested_envelope(version: u64) -> serde_json::Value {
    let sample = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/samples/similarity-requested.json"
    ))
    .unwrap();
    let mut detail: serde_json::Value = serde_json::from_str(&sample).unwrap();
    detail["version"] = version.into();
    serde_json::json!({
        "version": "0",
        "id": "4f1d2e3c-0000-4000-8000-000000000001",
        "detail-type": "SimilarityRequested",
        "source": SOURCE_OPS,
        "time": "2026-11-25T09:00:00Z",
        "resources": [],
        "detail": detail,
    })
}

/// The catch-up tick as Scheduler delivers the template's input.
fn catch_up_envelope() -> BusEnvelope {
    serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/samples/scheduler-catch-up.json"
        ))
        .unwrap(),
    )
    .unwrap()
}

#[test]
fn triggers_are_the_schedule_and_similarity_requested_only() {
    let scheduled: BusEnvelope = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/samples/eventbridge-scheduled.json"
        ))
        .unwrap(),
    )
    .unwrap();
    assert_eq!(Trigger::try_from(scheduled).unwrap(), Trigger::Schedule);
    assert_eq!(
        Trigger::try_from(catch_up_envelope()).unwrap(),
        Trigger::CatchUp
    );

    let requested: BusEnvelope = serde_json::from_value(requested_envelope(1)).unwrap();
    match Trigger::try_from(requested).unwrap() {
        Trigger::Requested(event) => assert_eq!(event.requested_by.as_deref(), Some("operator")),
        other => panic!("expected a request, got {other:?}"),
    }
    let wrapped = BusEnvelope::wrap(
        &SimilarityRequested {
            meta: EventMeta::new(1),
            requested_by: None,
            force: false,
        },
        SOURCE_OPS,
    )
    .unwrap();
    assert!(matches!(
        Trigger::try_from(wrapped),
        Ok(Trigger::Requested(_))
    ));

    let future: BusEnvelope = serde_json::from_value(requested_envelope(2)).unwrap();
    assert!(matches!(
        Trigger::try_from(future),
        Err(TriggerError::Malformed(_))
    ));
    let mut other = requested_envelope(1);
    other["detail-type"] = "ArtistIngested".into();
    let other: BusEnvelope = serde_json::from_value(other).unwrap();
    assert!(
        matches!(Trigger::try_from(other), Err(TriggerError::Unsupported(t)) if t == "ArtistIngested")
    );
}

#[tokio::test]
async fn other_events_run_nothing() {
    let store = sqlite_with_catalog().await;
    let lake = Arc::new(ScriptedLake::new(|| {
        Ok((0..3).map(expected_profile).collect())
    }));
    let mut event = requested_envelope(1);
    event["detail-type"] = "ArtistRequested".into();
    let event: BusEnvelope = serde_json::from_value(event).unwrap();
    let err = handle_event(
        event,
        &similarity(
            lake.clone(),
            &store,
            &EmbeddedBus::new(),
            Settings::default(),
        ),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, HandlerError::Trigger(TriggerError::Unsupported(_))),
        "{err}"
    );
    assert_eq!(*lake.calls.lock().unwrap(), 0);
    assert!(store.export_related().await.unwrap().is_empty());
}

// ------------------------------------------------------------------ AWS stack: moto + MariaDB

/// Sends every Athena call as an account of its own: moto keeps query executions per
/// account and region, so each test counts only its own queries.
#[derive(Debug)]
struct MotoAccount(String);

impl Intercept for MotoAccount {
    fn name(&self) -> &'static str {
        "MotoAccount"
    }

    fn modify_before_signing(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_athena::error::BoxError> {
        context
            .request_mut()
            .headers_mut()
            .insert("x-moto-account-id", self.0.clone());
        Ok(())
    }
}

/// The Parquet files the next UNLOADs write, one entry per query, in order.
type QueuedUnloads = Arc<Mutex<VecDeque<Vec<Bytes>>>>;

/// The SDK's Athena client on moto, plus the one thing moto cannot do: run the SQL. moto
/// records a started query and reports it SUCCEEDED; when the statement is an UNLOAD, this
/// decorator first puts the next queued Parquet files under its `TO` location in moto's
/// S3, as Athena would. Everything else (start, poll, stop, the S3 listing, reading and
/// deleting) is the real adapter code on the real SDK clients.
struct UnloadingAthena {
    client: aws_sdk_athena::Client,
    lake: S3Lake,
    unloads: QueuedUnloads,
}

/// The `s3://…/` location of an `UNLOAD (…) TO '…'` statement (the last `TO '`: the
/// query inside has none).
fn unload_location(sql: &str) -> Option<&str> {
    if !sql.starts_with("UNLOAD (") {
        return None;
    }
    let (_, rest) = sql.rsplit_once("TO '")?;
    rest.split_once('\'').map(|(location, _)| location)
}

#[async_trait]
impl AthenaApi for UnloadingAthena {
    async fn start(&self, sql: &str, target: &AthenaTarget) -> Result<String, QueryError> {
        let execution_id = self.client.start(sql, target).await?;
        if let Some(location) = unload_location(sql) {
            let prefix = location
                .strip_prefix(&format!("s3://{}/", self.lake.bucket()))
                .expect("UNLOAD writes to the lake bucket");
            let files = self.unloads.lock().unwrap().pop_front().unwrap_or_default();
            // Athena does not document the names of UNLOAD's files; these sort by key in
            // the order queued, whatever artists each holds.
            for (part, bytes) in files.into_iter().enumerate() {
                let key = format!("{prefix}{execution_id}_{part:05}");
                self.lake.put(&key, bytes).await.unwrap();
            }
        }
        Ok(execution_id)
    }

    async fn status(&self, execution_id: &str) -> Result<ExecutionStatus, QueryError> {
        self.client.status(execution_id).await
    }

    async fn stop(&self, execution_id: &str) -> Result<(), QueryError> {
        self.client.stop(execution_id).await
    }
}

/// One Arrow column of a Parquet file: a name and its values.
type Column = (&'static str, ArrayRef);

/// A Parquet file as Athena's UNLOAD writes it with `format = 'PARQUET', compression =
/// 'SNAPPY'`, of these columns.
fn parquet_file(columns: Vec<Column>) -> Bytes {
    let fields: Vec<Field> = columns
        .iter()
        .map(|(name, array)| Field::new(*name, array.data_type().clone(), true))
        .collect();
    let batch = RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns.into_iter().map(|(_, array)| array).collect(),
    )
    .unwrap();
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, batch.schema(), Some(properties)).unwrap();
    writer.write(&batch).unwrap();
    writer.close().unwrap();
    bytes.into()
}

/// The columns of PROFILE_SQL's result for `rows`, typed as Athena types them (`artist_id`
/// varchar: UTF-8 strings; `track_count` bigint: INT64; the means double) and in an order
/// unlike the SQL's, so only decoding by name reads them right.
fn profile_columns(rows: &[ProfileRow]) -> Vec<Column> {
    let mut columns: Vec<Column> = FEATURE_NAMES
        .iter()
        .enumerate()
        .rev()
        .map(|(i, name)| {
            let values: Float64Array = rows.iter().map(|p| Some(p.features[i])).collect();
            (*name, Arc::new(values) as ArrayRef)
        })
        .collect();
    let ids: StringArray = rows.iter().map(|p| Some(p.artist_id.as_str())).collect();
    columns.insert(4, ("artist_id", Arc::new(ids)));
    let counts: Int64Array = rows
        .iter()
        .map(|p| Some(i64::from(p.track_count)))
        .collect();
    columns.push(("track_count", Arc::new(counts)));
    columns
}

/// An Athena client and the lake's S3 bucket on the moto server, each test with an account
/// and a bucket of its own, and the way to queue the Parquet the next UNLOAD writes.
struct MotoAthena {
    client: aws_sdk_athena::Client,
    lake: S3Lake,
    unloads: QueuedUnloads,
}

impl MotoAthena {
    async fn new() -> Self {
        let sdk = aws_config().await;
        let account = format!("{:012}", uuid::Uuid::new_v4().as_u128() % 1_000_000_000_000);
        let config = aws_sdk_athena::config::Builder::from(&sdk)
            .interceptor(MotoAccount(account))
            .build();
        let bucket = format!("encore-lake-{}", uuid::Uuid::new_v4().simple());
        let s3 = s3_client(&sdk);
        s3.create_bucket().bucket(&bucket).send().await.unwrap();
        Self {
            client: aws_sdk_athena::Client::from_conf(config),
            lake: S3Lake::new(s3, bucket),
            unloads: QueuedUnloads::default(),
        }
    }

    /// Queues the files of the next UNLOAD.
    fn queue_unload(&self, files: Vec<Bytes>) {
        self.unloads.lock().unwrap().push_back(files);
    }

    /// Queues the profiles of every test artist, in two files of which the first holds the
    /// later artists (each file sorted, the files not: what UNLOAD promises).
    fn seed_profiles(&self) {
        let rows: Vec<ProfileRow> = (0..ARTISTS).map(expected_profile).collect();
        let (first, last) = rows.split_at(ARTISTS / 2);
        self.queue_unload(vec![
            parquet_file(profile_columns(last)),
            parquet_file(profile_columns(first)),
        ]);
    }

    /// What is left under the UNLOAD prefix of the bucket.
    async fn unloaded_objects(&self) -> Vec<String> {
        self.lake
            .list(&format!("{UNLOAD_PREFIX}/"))
            .await
            .unwrap()
            .into_iter()
            .map(|o| o.key)
            .collect()
    }

    fn adapter(&self, target: AthenaTarget) -> AthenaLakeSql<UnloadingAthena> {
        let polling = Polling {
            first_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(50),
            timeout: Duration::from_secs(10),
        };
        let api = UnloadingAthena {
            client: self.client.clone(),
            lake: self.lake.clone(),
            unloads: self.unloads.clone(),
        };
        AthenaLakeSql::new(api, target, self.lake.clone()).with_polling(polling)
    }
}

fn athena_target() -> AthenaTarget {
    AthenaTarget {
        workgroup: "primary".into(),
        database: format!("lake_{}", uuid::Uuid::new_v4().simple()),
        output_location: Some("s3://encore-athena-results/similarity/".into()),
    }
}

/// Row `n` of a large result: ids that sort as `n` does, `n % 7 + 1` tracks.
fn many_profile(n: usize) -> ProfileRow {
    ProfileRow {
        artist_id: format!("artist-{n:06}"),
        track_count: (n % 7 + 1) as u32,
        features: std::array::from_fn(|i| n as f64 / 8.0 + i as f64),
    }
}

#[tokio::test]
async fn athena_adapter_on_moto_unloads_to_parquet_reads_it_back_by_name_and_cleans_up() {
    let moto = MotoAthena::new().await;
    let all: Vec<ProfileRow> = (0..3_000).map(many_profile).collect();
    // Three files in key order holding the middle, the end and the start of the result.
    moto.queue_unload(vec![
        parquet_file(profile_columns(&all[1_200..2_000])),
        parquet_file(profile_columns(&all[2_000..])),
        parquet_file(profile_columns(&all[..1_200])),
    ]);
    let target = athena_target();
    let progress = Recorded::default();

    let rows = moto
        .adapter(target.clone())
        .artist_profiles(&progress)
        .await
        .unwrap();

    assert_eq!(rows.len(), 3_000, "every row of every file");
    assert_eq!(
        rows, all,
        "values and track counts by name, ordered by artist id"
    );
    assert_eq!(
        progress.take(),
        ["SUCCEEDED", "rows 800", "rows 1800", "rows 3000"]
    );
    assert_eq!(
        moto.unloaded_objects().await,
        Vec::<String>::new(),
        "the unloaded files are deleted"
    );
    let executions = moto
        .client
        .list_query_executions()
        .work_group("primary")
        .send()
        .await
        .unwrap();
    let ids = executions.query_execution_ids();
    assert_eq!(ids.len(), 1, "one query started");
    let execution = moto
        .client
        .get_query_execution()
        .query_execution_id(&ids[0])
        .send()
        .await
        .unwrap();
    let execution = execution.query_execution().unwrap();
    let sql = execution.query().unwrap();
    let location = unload_location(sql).unwrap();
    assert_eq!(sql, unload_statement(location));
    assert!(sql.contains(PROFILE_SQL), "{sql}");
    assert!(
        location.starts_with(&format!("s3://{}/{UNLOAD_PREFIX}/", moto.lake.bucket())),
        "{location}"
    );
    assert_eq!(
        execution
            .query_execution_context()
            .and_then(|c| c.database()),
        Some(target.database.as_str())
    );
    let output = execution
        .result_configuration()
        .and_then(|r| r.output_location())
        .unwrap();
    assert!(
        output.starts_with("s3://encore-athena-results/similarity/"),
        "{output}"
    );
}

#[tokio::test]
async fn athena_nulls_and_missing_columns_are_clear_errors() {
    let moto = MotoAthena::new().await;
    let rows: Vec<ProfileRow> = (0..3).map(many_profile).collect();
    let mut with_null = profile_columns(&rows);
    let energy = with_null.iter().position(|(n, _)| *n == "energy").unwrap();
    with_null[energy].1 = Arc::new(Float64Array::from(vec![Some(1.0), None, Some(2.0)]));
    moto.queue_unload(vec![parquet_file(with_null)]);
    let mut without_tempo = profile_columns(&rows);
    without_tempo.retain(|(n, _)| *n != "tempo");
    moto.queue_unload(vec![
        parquet_file(profile_columns(&rows)),
        parquet_file(without_tempo),
    ]);
    let adapter = moto.adapter(athena_target());

    let err = adapter.artist_profiles(&()).await.unwrap_err();
    assert!(
        matches!(
            err,
            QueryError::BadValue {
                row: 1,
                column: "energy",
                ..
            }
        ),
        "{err:?}"
    );
    let err = adapter.artist_profiles(&()).await.unwrap_err();
    assert!(matches!(err, QueryError::MissingColumn("tempo")), "{err:?}");
    assert_eq!(
        err.to_string(),
        "the profile query result has no column tempo"
    );
    assert_eq!(
        moto.unloaded_objects().await,
        Vec::<String>::new(),
        "files that do not decode are deleted too"
    );
}

#[tokio::test]
async fn athena_on_moto_to_mariadb_datamart() {
    let moto = MotoAthena::new().await;
    moto.seed_profiles();
    let database = TestDatabase::create("similarity").await;
    let store = database.store().await;
    for n in 0..ARTISTS {
        store.upsert_artist(&catalog_artist(n)).await.unwrap();
    }
    let settings = Settings {
        k: K,
        profile: Profile::Plain,
        ..Settings::default()
    };

    let summary = run_similarity(&moto.adapter(athena_target()), &store, &settings, &())
        .await
        .unwrap();

    assert_eq!((summary.artists, summary.rows), (ARTISTS, ARTISTS * K));
    assert_datamart(&store, &settings).await;
    database.drop_database().await;
}

#[tokio::test]
async fn catch_up_ticks_run_the_job_only_for_newly_ingested_artists_on_mariadb_and_athena() {
    let moto = MotoAthena::new().await;
    let database = TestDatabase::create("similarity").await;
    let store = database.store().await;
    let settings = Settings {
        k: K,
        profile: Profile::Plain,
        ..Settings::default()
    };
    let lake = moto.adapter(athena_target());
    let queries = || {
        let client = moto.client.clone();
        async move {
            client
                .list_query_executions()
                .work_group("primary")
                .send()
                .await
                .unwrap()
                .query_execution_ids()
                .len()
        }
    };
    let bus = EmbeddedBus::new();
    let service = similarity(Arc::new(lake), &store, &bus, settings);
    let tick = || handle_event(catch_up_envelope(), &service);

    // Nothing stored: nothing to relate, no query.
    let outcome = tick().await.unwrap();
    assert!(matches!(outcome, Outcome::Skipped { .. }), "{outcome:?}");
    assert_eq!(queries().await, 0);

    // Artists ingested, no datamart yet: the tick runs the job.
    for n in 0..ARTISTS {
        store.upsert_artist(&catalog_artist(n)).await.unwrap();
    }
    moto.seed_profiles();
    let outcome = tick().await.unwrap();
    let summary = outcome.summary().expect("new artists start a run");
    assert_eq!((summary.artists, summary.rows), (ARTISTS, ARTISTS * K));
    assert_datamart(&store, &settings).await;
    assert_eq!(queries().await, 1);
    let watermark = store
        .datamart_read_at()
        .await
        .unwrap()
        .expect("the run is recorded");

    // Ten minutes later, with nothing ingested since: the tick skips, Athena is not asked.
    sqlx::query("UPDATE artists SET updated_at = updated_at - INTERVAL 10 MINUTE")
        .execute(store.pool())
        .await
        .unwrap();
    let outcome = tick().await.unwrap();
    assert!(matches!(outcome, Outcome::Skipped { .. }), "{outcome:?}");
    assert_eq!(queries().await, 1);
    assert_eq!(store.datamart_read_at().await.unwrap(), Some(watermark));

    // A newly ingested artist: the next tick runs again and moves the watermark.
    store.upsert_artist(&catalog_artist(ARTISTS)).await.unwrap();
    moto.seed_profiles();
    let outcome = tick().await.unwrap();
    assert!(outcome.summary().is_some(), "{outcome:?}");
    assert_eq!(queries().await, 2);
    assert!(store.datamart_read_at().await.unwrap().unwrap() > watermark);
    database.drop_database().await;
}
