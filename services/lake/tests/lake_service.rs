//! The lake handler end to end: `ArtistIngested` events on a moto SQS queue, received,
//! handled, written as Parquet to a moto S3 bucket and read back row by row (top tracks,
//! features, releases); redelivery, malformed messages, tracks without features, DataFusion
//! over a local lake, compaction.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, TimeZone, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Float64Type, Int32Type, TimestampMillisecondType};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::prelude::SessionContext;
use encore_domain::events::{ArtistIngested, EventMeta, SOURCE_INGEST};
use encore_domain::release::{AlbumType, Release, ReleaseDate};
use encore_domain::{Artist, AudioFeatures, FeatureSource, Track};
use encore_lake::objects::s3::s3_client;
use encore_lake::{compact, Lake, LocalDirLake, S3Lake, AUDIO_FEATURES, RELEASES, TOP_TRACKS};
use encore_lake_service::handle;
use encore_messaging::inbound::InboundMessage;
use encore_messaging::sqs::SqsQueue;
use encore_messaging::BusEnvelope;
use encore_messaging::Queue;
use encore_test_support::aws_config;
use uuid::Uuid;

/// A fresh bucket and queue on the moto server.
async fn moto() -> (S3Lake, SqsQueue) {
    let config = aws_config().await;
    let suffix = Uuid::new_v4().simple().to_string();
    let s3 = s3_client(&config);
    let bucket = format!("encore-lake-{suffix}");
    s3.create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("moto creates the bucket");
    let sqs = aws_sdk_sqs::Client::new(&config);
    let name = format!("encore-lake-{suffix}");
    let created = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("moto creates the queue");
    let queue = SqsQueue::new(sqs, created.queue_url().expect("queue URL"), name);
    (S3Lake::new(s3, bucket), queue)
}

fn at(hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, hour, minute, 0).unwrap()
}

fn track(artist: &str, rank: u32) -> Track {
    Track {
        id: format!("{artist}{rank}").parse().unwrap(),
        name: format!("{artist} song {rank}"),
        artist_id: artist.parse().unwrap(),
        rank,
        album_name: Some(format!("{artist} album")),
        image_url: (rank == 1).then(|| format!("https://i.example/{artist}.jpg")),
        popularity: Some(100 - rank),
        duration_ms: Some(200_000),
        spotify_url: None,
        features_source: None,
    }
}

fn features(track_id: &str, danceability: f64) -> AudioFeatures {
    AudioFeatures {
        track_id: track_id.parse().unwrap(),
        danceability,
        energy: 0.8,
        key: 11,
        loudness: -4.5,
        mode: 0,
        speechiness: 0.09,
        acousticness: 0.09,
        instrumentalness: 0.0,
        liveness: 0.19,
        valence: 0.79,
        tempo: 119.9,
        duration_ms: Some(229_773),
        time_signature: Some(4),
        source: Default::default(),
    }
}

/// `artist`'s latest releases, newest first: a single dated to the day, an album known
/// only to the month (no cover, no track count).
fn releases(artist: &str) -> Vec<Release> {
    vec![
        Release {
            id: format!("{artist}-single"),
            name: format!("{artist} single"),
            album_type: AlbumType::Single,
            release_date: ReleaseDate::parse("2026-11-20").unwrap(),
            image_url: Some(format!("https://i.example/{artist}-single.jpg")),
            spotify_url: Some(format!("https://open.spotify.com/album/{artist}-single")),
            primary_artist: true,
            total_tracks: Some(2),
        },
        Release {
            id: format!("{artist}-album"),
            name: format!("{artist} album"),
            album_type: AlbumType::Album,
            release_date: ReleaseDate::parse("2026-10").unwrap(),
            image_url: None,
            spotify_url: Some(format!("https://open.spotify.com/album/{artist}-album")),
            primary_artist: true,
            total_tracks: None,
        },
    ]
}

/// `artist` with `tracks` top tracks, features for the tracks whose rank is in
/// `with_features`, and two releases.
fn ingested(
    artist: &str,
    tracks: u32,
    with_features: &[u32],
    occurred_at: DateTime<Utc>,
) -> ArtistIngested {
    ArtistIngested {
        meta: EventMeta {
            version: 1,
            id: Uuid::new_v4(),
            occurred_at,
        },
        query: artist.into(),
        artist: Artist {
            id: artist.parse().unwrap(),
            name: artist.into(),
            popularity: Some(50),
            followers: None,
            genres: vec![],
            image_url: None,
            spotify_url: None,
        },
        tracks: (1..=tracks).map(|r| track(artist, r)).collect(),
        features: with_features
            .iter()
            .map(|r| features(&format!("{artist}{r}"), f64::from(*r) / 10.0))
            .collect(),
        releases: releases(artist),
    }
}

fn body(event: &ArtistIngested) -> String {
    serde_json::to_string(&BusEnvelope::wrap(event, SOURCE_INGEST).unwrap()).unwrap()
}

fn message(id: &str, body: String) -> InboundMessage {
    InboundMessage {
        id: id.into(),
        body,
        receive_count: 1,
    }
}

async fn receive_all(queue: &SqsQueue, expected: usize) -> Vec<InboundMessage> {
    let mut received = Vec::new();
    for _ in 0..10 {
        for m in queue.receive(10, Duration::from_secs(1)).await.unwrap() {
            queue.delete(&m.receipt).await.unwrap();
            received.push(InboundMessage {
                id: m.id,
                body: m.body,
                receive_count: m.receive_count,
            });
        }
        if received.len() >= expected {
            break;
        }
    }
    assert_eq!(received.len(), expected, "messages received from the queue");
    received
}

async fn objects(lake: &dyn Lake) -> BTreeMap<String, Bytes> {
    let mut all = BTreeMap::new();
    for object in lake.list("").await.unwrap() {
        all.insert(
            object.key.clone(),
            lake.get(&object.key).await.unwrap().unwrap(),
        );
    }
    all
}

fn read(bytes: &Bytes) -> RecordBatch {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.clone()).unwrap();
    let schema = builder.schema().clone();
    let batches: Vec<RecordBatch> = builder.build().unwrap().collect::<Result<_, _>>().unwrap();
    datafusion::arrow::compute::concat_batches(&schema, &batches).unwrap()
}

fn strings(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = batch.column_by_name(column).unwrap().as_string::<i32>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i).to_owned()))
        .collect()
}

fn ints(batch: &RecordBatch, column: &str) -> Vec<Option<i32>> {
    let array = batch
        .column_by_name(column)
        .unwrap()
        .as_primitive::<Int32Type>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i)))
        .collect()
}

#[tokio::test]
async fn events_from_sqs_land_in_s3_row_by_row_and_redelivery_changes_nothing() {
    let (lake, queue) = moto().await;
    // 01:00 and 02:00 UTC on 2026-11-25 are 10:00 and 11:00 in Seoul, the same day.
    let mut bts = ingested("bts", 3, &[1, 2], at(2, 0));
    // bts2's features came from ReccoBeats (Spotify refused or lacked them).
    bts.features[1].source = FeatureSource::Reccobeats;
    let iu = ingested("iu", 2, &[1, 2], at(1, 0));
    let mut wrong_version = serde_json::to_value(
        BusEnvelope::wrap(&ingested("x", 1, &[], at(1, 0)), SOURCE_INGEST).unwrap(),
    )
    .unwrap();
    wrong_version["detail"]["version"] = 2.into();
    for text in [
        body(&bts),
        body(&iu),
        "{not json".to_owned(),
        wrong_version.to_string(),
    ] {
        queue.send(&text).await.unwrap();
    }
    let batch = receive_all(&queue, 4).await;

    let outcome = handle(&batch, &lake).await;
    let find = |needle: &str| {
        batch
            .iter()
            .find(|m| m.body.contains(needle))
            .map(|m| m.id.clone())
            .unwrap()
    };
    assert_eq!(outcome.failures.len(), 2, "{outcome:?}");
    let malformed = outcome
        .failure_of(&find("{not json"))
        .expect("malformed message fails");
    assert!(malformed.contains("not a bus event"), "{malformed}");
    let versioned = outcome
        .failure_of(&find("\"version\":2"))
        .expect("unknown version fails");
    assert!(
        versioned.contains("version 2 is not supported"),
        "{versioned}"
    );
    assert!(outcome.failure_of(&find("\"bts\"")).is_none());

    let written = objects(&lake).await;
    let keys: Vec<&str> = written.keys().map(String::as_str).collect();
    assert_eq!(keys.len(), 3, "{keys:?}");
    assert!(
        keys[0].starts_with("audio-features/dt=2026-11-25/part-") && keys[0].ends_with(".parquet"),
        "{keys:?}"
    );
    assert!(
        keys[1].starts_with("releases/dt=2026-11-25/part-"),
        "{keys:?}"
    );
    assert!(
        keys[2].starts_with("top-tracks/dt=2026-11-25/part-"),
        "{keys:?}"
    );

    // Rows in (occurred_at, event id) order: iu's snapshot first, then bts's, by rank.
    let tracks = read(&written[keys[2]]);
    assert_eq!(*tracks.schema(), *TOP_TRACKS.schema());
    assert_eq!(
        strings(&tracks, "artist_id"),
        ["iu", "iu", "bts", "bts", "bts"].map(|s| Some(s.to_owned()))
    );
    assert_eq!(
        strings(&tracks, "track_id"),
        ["iu1", "iu2", "bts1", "bts2", "bts3"].map(|s| Some(s.to_owned()))
    );
    assert_eq!(strings(&tracks, "name")[2].as_deref(), Some("bts song 1"));
    assert_eq!(ints(&tracks, "rank"), [1, 2, 1, 2, 3].map(Some));
    assert_eq!(ints(&tracks, "popularity"), [99, 98, 99, 98, 97].map(Some));
    assert_eq!(
        strings(&tracks, "album_name")[4].as_deref(),
        Some("bts album")
    );
    assert_eq!(
        strings(&tracks, "image_url"),
        [
            Some("https://i.example/iu.jpg".to_owned()),
            None,
            Some("https://i.example/bts.jpg".to_owned()),
            None,
            None
        ]
    );
    let fetched = tracks
        .column_by_name("fetched_at")
        .unwrap()
        .as_primitive::<TimestampMillisecondType>();
    assert_eq!(
        fetched.values().to_vec(),
        [at(1, 0), at(1, 0), at(2, 0), at(2, 0), at(2, 0)].map(|t| t.timestamp_millis())
    );
    let event_ids = strings(&tracks, "event_id");
    assert_eq!(event_ids[0], Some(iu.meta.id.to_string()));
    assert_eq!(event_ids[4], Some(bts.meta.id.to_string()));

    // bts3 has no features: it is in top-tracks above and absent here.
    let features = read(&written[keys[0]]);
    assert_eq!(*features.schema(), *AUDIO_FEATURES.schema());
    assert_eq!(
        strings(&features, "track_id"),
        ["iu1", "iu2", "bts1", "bts2"].map(|s| Some(s.to_owned()))
    );
    let dance = features
        .column_by_name("danceability")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(dance.values().to_vec(), [0.1, 0.2, 0.1, 0.2]);
    assert_eq!(ints(&features, "key"), [Some(11); 4]);
    assert_eq!(ints(&features, "time_signature"), [Some(4); 4]);
    assert_eq!(
        strings(&features, "source"),
        ["spotify", "spotify", "spotify", "reccobeats"].map(|s| Some(s.to_owned())),
        "each row records who measured it"
    );
    let tempo = features
        .column_by_name("tempo")
        .unwrap()
        .as_primitive::<Float64Type>();
    assert_eq!(tempo.value(3), 119.9);

    // Each event's releases, in its order, dates exactly as precise as known.
    let releases = read(&written[keys[1]]);
    assert_eq!(*releases.schema(), *RELEASES.schema());
    assert_eq!(
        strings(&releases, "album_id"),
        ["iu-single", "iu-album", "bts-single", "bts-album"].map(|s| Some(s.to_owned()))
    );
    assert_eq!(
        strings(&releases, "album_type"),
        ["single", "album", "single", "album"].map(|s| Some(s.to_owned()))
    );
    assert_eq!(
        strings(&releases, "release_date"),
        ["2026-11-20", "2026-10", "2026-11-20", "2026-10"].map(|s| Some(s.to_owned()))
    );
    assert_eq!(
        strings(&releases, "release_date_precision"),
        ["day", "month", "day", "month"].map(|s| Some(s.to_owned()))
    );
    assert_eq!(ints(&releases, "position"), [1, 2, 1, 2].map(Some));
    assert_eq!(
        ints(&releases, "total_tracks"),
        [Some(2), None, Some(2), None]
    );
    assert_eq!(
        strings(&releases, "image_url")[2].as_deref(),
        Some("https://i.example/bts-single.jpg")
    );
    assert_eq!(strings(&releases, "image_url")[3], None);
    assert_eq!(
        strings(&releases, "event_id"),
        [iu.meta.id, iu.meta.id, bts.meta.id, bts.meta.id].map(|id| Some(id.to_string()))
    );

    // The same batch delivered again (in another order) leaves exactly the same objects.
    queue.send(&body(&iu)).await.unwrap();
    queue.send(&body(&bts)).await.unwrap();
    let again = receive_all(&queue, 2).await;
    assert!(handle(&again, &lake).await.failures.is_empty());
    assert_eq!(objects(&lake).await, written);
}

#[tokio::test]
async fn a_failing_lake_fails_every_good_message_for_a_retry() {
    let s3 = s3_client(&aws_config().await);
    let missing_bucket = S3Lake::new(
        s3,
        format!("encore-lake-missing-{}", Uuid::new_v4().simple()),
    );
    let batch = [
        message("m1", body(&ingested("a", 1, &[1], at(1, 0)))),
        message("m2", "[]".into()),
    ];
    let outcome = handle(&batch, &missing_bucket).await;
    assert_eq!(outcome.failures.len(), 2);
    assert!(
        outcome
            .failure_of("m1")
            .unwrap()
            .starts_with("lake write failed"),
        "{outcome:?}"
    );
    assert!(
        outcome
            .failure_of("m2")
            .unwrap()
            .contains("not a bus event"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_lake_that_comes_back_takes_the_retries_once() {
    let s3 = s3_client(&aws_config().await);
    let bucket = format!("encore-lake-back-{}", Uuid::new_v4().simple());
    let lake = S3Lake::new(s3.clone(), bucket.clone());
    let batch = [
        message("m1", body(&ingested("a", 2, &[1, 2], at(1, 0)))),
        message("m2", body(&ingested("b", 2, &[1], at(1, 5)))),
    ];
    // The bucket is not there (S3 unreachable, a wrong policy): every message fails.
    assert_eq!(handle(&batch, &lake).await.failures.len(), 2);

    s3.create_bucket().bucket(&bucket).send().await.unwrap();
    assert!(objects(&lake).await.is_empty(), "nothing half-written");
    // The redelivery succeeds; one more (a delete lost after it) changes nothing.
    let outcome = handle(&batch, &lake).await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    let first = objects(&lake).await;
    assert!(!first.is_empty());
    assert!(handle(&batch, &lake).await.failures.is_empty());
    assert_eq!(
        objects(&lake).await,
        first,
        "the same files, the same bytes"
    );

    let (fresh, _) = moto().await;
    assert!(handle(&batch, &fresh).await.failures.is_empty());
    assert_eq!(
        objects(&fresh).await,
        first,
        "a lake that failed first holds what a lake that never failed holds"
    );
}

#[tokio::test]
async fn datafusion_reads_the_local_lake_with_the_declared_schema() {
    let dir = std::env::temp_dir().join(format!(
        "encore-lake-service-test-{}",
        Uuid::new_v4().simple()
    ));
    let lake = LocalDirLake::new(&dir);
    // 16:00 UTC on 2026-11-24 is already 2026-11-25 01:00 in Seoul.
    let early = ingested(
        "bts",
        2,
        &[1],
        Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).unwrap(),
    );
    let late = ingested(
        "iu",
        1,
        &[],
        Utc.with_ymd_and_hms(2026, 11, 24, 16, 0, 0).unwrap(),
    );
    let outcome = handle(
        &[message("1", body(&early)), message("2", body(&late))],
        &lake,
    )
    .await;
    assert!(outcome.failures.is_empty(), "{outcome:?}");
    for _ in 0..3 {
        let more = ingested(
            "twice",
            2,
            &[1, 2],
            Utc.with_ymd_and_hms(2026, 11, 24, 3, 0, 0).unwrap(),
        );
        assert!(handle(&[message("3", body(&more))], &lake)
            .await
            .failures
            .is_empty());
    }

    let ctx = SessionContext::new();
    let root = format!("file://{}", dir.display());
    TOP_TRACKS.register(&ctx, &root).await.unwrap();
    AUDIO_FEATURES.register(&ctx, &root).await.unwrap();
    RELEASES.register(&ctx, &root).await.unwrap();
    let rows = ctx
        .sql("SELECT dt, artist_id, track_id, rank, f.danceability IS NOT NULL AS has_features \
              FROM top_tracks LEFT JOIN (SELECT DISTINCT track_id, danceability FROM audio_features) AS f USING (track_id) \
              WHERE artist_id <> 'twice' ORDER BY dt, artist_id, rank")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&rows)
        .unwrap()
        .to_string();
    let expected = "\
+------------+-----------+----------+------+--------------+
| dt         | artist_id | track_id | rank | has_features |
+------------+-----------+----------+------+--------------+
| 2026-11-24 | bts       | bts1     | 1    | true         |
| 2026-11-24 | bts       | bts2     | 2    | false        |
| 2026-11-25 | iu        | iu1      | 1    | false        |
+------------+-----------+----------+------+--------------+";
    assert_eq!(text, expected);

    let counts = ctx
        .sql("SELECT count(*) AS n, count(DISTINCT event_id) AS snapshots FROM top_tracks WHERE artist_id = 'twice' AND dt = '2026-11-24'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&counts)
        .unwrap()
        .to_string();
    assert!(text.contains("| 6 | 3         |"), "{text}");

    let sources = ctx
        .sql("SELECT DISTINCT source FROM audio_features")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&sources)
        .unwrap()
        .to_string();
    assert!(text.contains("| spotify |"), "{text}");

    let latest = ctx
        .sql(
            "SELECT dt, artist_id, album_id, release_date, release_date_precision FROM releases \
              WHERE position = 1 AND artist_id <> 'twice' ORDER BY dt, artist_id",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&latest)
        .unwrap()
        .to_string();
    let expected = "\
+------------+-----------+------------+--------------+------------------------+
| dt         | artist_id | album_id   | release_date | release_date_precision |
+------------+-----------+------------+--------------+------------------------+
| 2026-11-24 | bts       | bts-single | 2026-11-20   | day                    |
| 2026-11-25 | iu        | iu-single  | 2026-11-20   | day                    |
+------------+-----------+------------+--------------+------------------------+";
    assert_eq!(text, expected);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn compaction_after_the_handler_leaves_the_same_rows() {
    let dir = std::env::temp_dir().join(format!(
        "encore-lake-service-test-{}",
        Uuid::new_v4().simple()
    ));
    let lake = LocalDirLake::new(&dir);
    for i in 0..5 {
        let event = ingested(&format!("artist{i}"), 10, &[1, 2, 3], at(3, i));
        assert!(handle(&[message(&i.to_string(), body(&event))], &lake)
            .await
            .failures
            .is_empty());
    }
    let ctx = SessionContext::new();
    let root = format!("file://{}", dir.display());
    TOP_TRACKS.register(&ctx, &root).await.unwrap();
    let query = "SELECT artist_id, track_id, rank, fetched_at, event_id, dt FROM top_tracks ORDER BY artist_id, rank";
    let before = ctx.sql(query).await.unwrap().collect().await.unwrap();
    let dt = encore_lake::partition_date(at(3, 0));
    let report = compact(
        &lake,
        &TOP_TRACKS,
        dt,
        encore_lake::DEFAULT_TARGET_BYTES,
        at(3, 0) + chrono::Duration::days(2),
    )
    .await
    .unwrap();
    assert_eq!(
        (report.inputs.len(), report.outputs.len(), report.rows),
        (5, 1, 50)
    );

    let ctx = SessionContext::new();
    TOP_TRACKS.register(&ctx, &root).await.unwrap();
    let after = ctx.sql(query).await.unwrap().collect().await.unwrap();
    let pretty = |b: &[RecordBatch]| {
        datafusion::arrow::util::pretty::pretty_format_batches(b)
            .unwrap()
            .to_string()
    };
    assert_eq!(pretty(&after), pretty(&before));
    assert_eq!(
        lake.list(&TOP_TRACKS.partition_prefix(dt))
            .await
            .unwrap()
            .len(),
        1
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
