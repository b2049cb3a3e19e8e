//! The lake library: the object-store conformance suite (local directory and S3 on the
//! moto server), the Parquet files' schema, content and determinism, and compaction.

use std::collections::BTreeMap;

use bytes::Bytes;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Int32Type, TimestampMillisecondType};
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use encore_domain::events::{ArtistIngested, EventMeta};
use encore_domain::release::{AlbumType, Release, ReleaseDate};
use encore_domain::{Artist, AudioFeatures, Track};
use encore_lake::objects::s3::{s3_client, MULTIPART_THRESHOLD};
use encore_lake::{
    compact, partition_date, write_batch, Lake, LakeBatch, LakeError, LocalDirLake, S3Lake,
    ALL_TABLES, AUDIO_FEATURES, RELEASES, TOP_TRACKS,
};
use encore_test_support::aws_config;
use uuid::Uuid;

fn temp_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("encore-lake-test-{}", Uuid::new_v4().simple()))
}

async fn moto_lake() -> S3Lake {
    let client = s3_client(&aws_config().await);
    let bucket = format!("encore-lake-{}", Uuid::new_v4().simple());
    client
        .create_bucket()
        .bucket(&bucket)
        .send()
        .await
        .expect("moto creates the bucket");
    S3Lake::new(client, bucket)
}

fn track(artist: &str, n: u32) -> Track {
    Track {
        id: format!("{artist}-t{n}").parse().unwrap(),
        name: format!("Song {n} of {artist}"),
        artist_id: artist.parse().unwrap(),
        rank: n,
        album_name: (n % 2 == 1).then(|| format!("Album {n}")),
        image_url: None,
        popularity: Some(90 - n),
        duration_ms: Some(180_000 + n),
        spotify_url: None,
        features_source: None,
    }
}

fn features(track_id: &str, x: f64) -> AudioFeatures {
    AudioFeatures {
        track_id: track_id.parse().unwrap(),
        danceability: x,
        energy: x / 2.0,
        key: 5,
        loudness: -6.5,
        mode: 1,
        speechiness: 0.05,
        acousticness: 0.1,
        instrumentalness: 0.0,
        liveness: 0.2,
        valence: 0.7,
        tempo: 120.0 + x,
        duration_ms: Some(200_000),
        time_signature: Some(4),
        source: Default::default(),
    }
}

/// `artist`'s release `id` out on `date` (any precision).
fn release(artist: &str, id: &str, date: &str, album_type: AlbumType) -> Release {
    Release {
        id: format!("{artist}-{id}"),
        name: format!("Release {id} of {artist}"),
        album_type,
        release_date: ReleaseDate::parse(date).unwrap(),
        image_url: Some(format!("https://i.example/{artist}-{id}.jpg")),
        spotify_url: Some(format!("https://open.spotify.com/album/{artist}-{id}")),
        primary_artist: true,
        total_tracks: Some(12),
    }
}

/// An event for `artist` with `tracks` top tracks, all but the last with features, and
/// two releases (a single dated to the day, an album dated to the month).
fn event(artist: &str, tracks: u32, at: DateTime<Utc>) -> ArtistIngested {
    let tracks: Vec<Track> = (1..=tracks).map(|n| track(artist, n)).collect();
    let features = tracks
        .iter()
        .take(tracks.len().saturating_sub(1))
        .enumerate()
        .map(|(i, t)| features(t.id.as_str(), i as f64 / 10.0))
        .collect();
    ArtistIngested {
        meta: EventMeta {
            version: 1,
            id: Uuid::new_v4(),
            occurred_at: at,
        },
        query: artist.into(),
        artist: Artist {
            id: artist.parse().unwrap(),
            name: artist.to_uppercase(),
            popularity: None,
            followers: None,
            genres: vec![],
            image_url: None,
            spotify_url: None,
        },
        tracks,
        features,
        releases: vec![
            release(artist, "r1", "2026-11-20", AlbumType::Single),
            release(artist, "r2", "2026-10", AlbumType::Album),
        ],
    }
}

fn read(bytes: Bytes) -> (datafusion::arrow::datatypes::SchemaRef, Vec<RecordBatch>) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).unwrap();
    let schema = builder.schema().clone();
    (
        schema,
        builder.build().unwrap().collect::<Result<_, _>>().unwrap(),
    )
}

// ---- the object-store conformance suite -------------------------------------------------

async fn conformance(lake: &dyn Lake) {
    assert_eq!(lake.get("a/missing.parquet").await.unwrap(), None);
    assert!(lake.list("").await.unwrap().is_empty());

    lake.put("t/dt=2026-11-24/part-1.parquet", Bytes::from_static(b"one"))
        .await
        .unwrap();
    lake.put(
        "t/dt=2026-11-25/part-2.parquet",
        Bytes::from_static(b"two!"),
    )
    .await
    .unwrap();
    lake.put("u/dt=2026-11-25/part-3.parquet", Bytes::from_static(b"3"))
        .await
        .unwrap();
    assert_eq!(
        lake.get("t/dt=2026-11-24/part-1.parquet")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"one"[..])
    );

    lake.put(
        "t/dt=2026-11-24/part-1.parquet",
        Bytes::from_static(b"replaced"),
    )
    .await
    .unwrap();
    assert_eq!(
        lake.get("t/dt=2026-11-24/part-1.parquet")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"replaced"[..])
    );

    let listed: Vec<(String, u64)> = lake
        .list("t/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| (o.key, o.size))
        .collect();
    assert_eq!(
        listed,
        [
            ("t/dt=2026-11-24/part-1.parquet".to_owned(), 8),
            ("t/dt=2026-11-25/part-2.parquet".to_owned(), 4)
        ]
    );
    let day: Vec<String> = lake
        .list("t/dt=2026-11-25/")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(day, ["t/dt=2026-11-25/part-2.parquet"]);
    let partial: Vec<String> = lake
        .list("t/dt=2026-11-2")
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(partial.len(), 2);
    assert_eq!(lake.list("").await.unwrap().len(), 3);
    assert!(lake.list("v/").await.unwrap().is_empty());

    lake.delete("t/dt=2026-11-25/part-2.parquet").await.unwrap();
    lake.delete("t/dt=2026-11-25/part-2.parquet").await.unwrap();
    assert_eq!(
        lake.get("t/dt=2026-11-25/part-2.parquet").await.unwrap(),
        None
    );
    assert_eq!(lake.list("t/").await.unwrap().len(), 1);

    for bad in ["", "/abs", "a/../b", "a//b", "a/.hidden"] {
        assert!(
            matches!(
                lake.put(bad, Bytes::new()).await,
                Err(LakeError::InvalidKey { .. })
            ),
            "{bad:?}"
        );
        assert!(
            matches!(lake.get(bad).await, Err(LakeError::InvalidKey { .. })),
            "{bad:?}"
        );
    }

    // Above the multipart threshold, with a short last part and content that shows order.
    let big: Vec<u8> = (0..MULTIPART_THRESHOLD * 2 + 1234)
        .map(|i| (i % 251) as u8)
        .collect();
    lake.put("big/object.bin", Bytes::from(big.clone()))
        .await
        .unwrap();
    let back = lake.get("big/object.bin").await.unwrap().unwrap();
    assert_eq!(back.len(), big.len());
    assert!(back == big, "the large object came back different");
    assert_eq!(lake.list("big/").await.unwrap()[0].size, big.len() as u64);
}

#[tokio::test]
async fn local_dir_passes_the_conformance_suite() {
    let dir = temp_dir();
    conformance(&LocalDirLake::new(&dir)).await;
    let leftovers: Vec<_> = walk(&dir)
        .into_iter()
        .filter(|p| p.contains("/."))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn s3_on_moto_passes_the_conformance_suite() {
    conformance(&moto_lake().await).await;
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

// ---- the Parquet files ---------------------------------------------------------------------

#[test]
fn files_have_exactly_the_declared_schema_and_snappy() {
    let mut batch = LakeBatch::new();
    batch
        .add(&event(
            "a1",
            3,
            Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap(),
        ))
        .unwrap();
    let files = batch.encode().unwrap();
    assert_eq!(
        files.iter().map(|f| f.table).collect::<Vec<_>>(),
        [AUDIO_FEATURES, RELEASES, TOP_TRACKS]
    );
    for file in files {
        let builder = ParquetRecordBatchReaderBuilder::try_new(file.bytes.clone()).unwrap();
        assert_eq!(**builder.schema(), *file.table.schema(), "{}", file.key);
        for row_group in builder.metadata().row_groups() {
            for column in row_group.columns() {
                assert_eq!(
                    column.compression(),
                    datafusion::parquet::basic::Compression::SNAPPY
                );
            }
        }
    }
    for table in ALL_TABLES {
        assert_eq!(table.glue_columns().len(), table.schema().fields().len());
    }
}

#[test]
fn same_events_in_any_order_give_the_same_bytes() {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap();
    let events: Vec<_> = (0..5)
        .map(|i| event(&format!("artist{i}"), 4, at + Duration::seconds(i)))
        .collect();
    let mut forward = LakeBatch::new();
    let mut backward = LakeBatch::new();
    for e in &events {
        forward.add(e).unwrap();
    }
    for e in events.iter().rev() {
        backward.add(e).unwrap();
        backward.add(e).unwrap();
    }
    assert_eq!(backward.len(), 5);
    assert_eq!(forward.encode().unwrap(), backward.encode().unwrap());
    let mut fewer = LakeBatch::new();
    for e in &events[1..] {
        fewer.add(e).unwrap();
    }
    assert_ne!(fewer.part_id(), forward.part_id());
}

/// An event id ingested again with newer data (a day's refresh run twice derives the same
/// ids) writes new files rather than replacing the first ones under a running query; the
/// same event delivered again still gives the same files.
#[test]
fn an_event_id_fetched_again_names_new_files() {
    let at = Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap();
    let first = event("artist", 4, at);
    let mut again = first.clone();
    again.meta.occurred_at = at + Duration::minutes(30);
    let (mut a, mut redelivered, mut b) = (LakeBatch::new(), LakeBatch::new(), LakeBatch::new());
    a.add(&first).unwrap();
    redelivered.add(&first).unwrap();
    b.add(&again).unwrap();
    assert_eq!(a.part_id(), redelivered.part_id());
    let keys = |batch: &LakeBatch| -> Vec<String> {
        batch.encode().unwrap().into_iter().map(|f| f.key).collect()
    };
    assert!(
        keys(&a).iter().all(|key| !keys(&b).contains(key)),
        "the newer fetch would replace the first one's files: {:?}",
        keys(&a)
    );
}

#[test]
fn a_batch_across_midnight_in_seoul_writes_one_file_per_table_per_date() {
    let before = Utc.with_ymd_and_hms(2026, 11, 24, 14, 59, 0).unwrap();
    let after = Utc.with_ymd_and_hms(2026, 11, 24, 15, 1, 0).unwrap();
    let mut batch = LakeBatch::new();
    batch.add(&event("early", 2, before)).unwrap();
    batch.add(&event("late", 2, after)).unwrap();
    let keys: Vec<String> = batch.encode().unwrap().into_iter().map(|f| f.key).collect();
    let id = batch.part_id();
    assert_eq!(
        keys,
        [
            format!("audio-features/dt=2026-11-24/part-{id}.parquet"),
            format!("releases/dt=2026-11-24/part-{id}.parquet"),
            format!("top-tracks/dt=2026-11-24/part-{id}.parquet"),
            format!("audio-features/dt=2026-11-25/part-{id}.parquet"),
            format!("releases/dt=2026-11-25/part-{id}.parquet"),
            format!("top-tracks/dt=2026-11-25/part-{id}.parquet"),
        ]
    );
}

#[test]
fn out_of_range_values_reject_the_event() {
    let mut bad = event("a", 1, Utc::now());
    bad.tracks[0].rank = u32::MAX;
    let mut batch = LakeBatch::new();
    let err = batch.add(&bad).unwrap_err();
    assert!(err.to_string().contains("rank"), "{err}");
    assert!(batch.is_empty());
}

// ---- compaction ----------------------------------------------------------------------------

/// Every row of a table's partition, as comparable text, sorted.
async fn partition_rows(lake: &dyn Lake, prefix: &str) -> Vec<String> {
    let mut rows = Vec::new();
    for object in lake.list(prefix).await.unwrap() {
        let (_, batches) = read(lake.get(&object.key).await.unwrap().unwrap());
        for batch in batches {
            for row in 0..batch.num_rows() {
                let cells: Vec<String> = batch
                    .columns()
                    .iter()
                    .map(|c| {
                        datafusion::arrow::util::display::array_value_to_string(c, row).unwrap()
                    })
                    .collect();
                rows.push(cells.join("|"));
            }
        }
    }
    rows.sort();
    rows
}

async fn snapshot(lake: &dyn Lake) -> BTreeMap<String, Bytes> {
    let mut all = BTreeMap::new();
    for object in lake.list("").await.unwrap() {
        all.insert(
            object.key.clone(),
            lake.get(&object.key).await.unwrap().unwrap(),
        );
    }
    all
}

/// A lake with four batches of events on 2026-11-24 (Seoul).
async fn lake_with_a_day(dir: &std::path::Path) -> (LocalDirLake, NaiveDate) {
    let lake = LocalDirLake::new(dir);
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 5, 0, 0).unwrap();
    for b in 0..4 {
        let mut batch = LakeBatch::new();
        for i in 0..3 {
            batch
                .add(&event(
                    &format!("artist-{b}-{i}"),
                    10,
                    at + Duration::minutes(b * 10 + i),
                ))
                .unwrap();
        }
        encore_lake::write_batch(&lake, &batch).await.unwrap();
    }
    (lake, partition_date(at))
}

#[tokio::test]
async fn compaction_merges_a_day_and_keeps_every_row_once() {
    let dir = temp_dir();
    let (lake, dt) = lake_with_a_day(&dir).await;
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 18, 0, 0).unwrap();
    let prefix = TOP_TRACKS.partition_prefix(dt);
    let before = partition_rows(&lake, &prefix).await;
    assert_eq!(before.len(), 120);
    let features_before = partition_rows(&lake, &AUDIO_FEATURES.partition_prefix(dt)).await;

    let report = compact(&lake, &TOP_TRACKS, dt, 1 << 20, now).await.unwrap();
    assert_eq!(
        (report.inputs.len(), report.outputs.len(), report.rows),
        (4, 1, 120)
    );
    assert_eq!(lake.list(&prefix).await.unwrap().len(), 1);
    assert_eq!(partition_rows(&lake, &prefix).await, before);
    let (schema, _) = read(lake.get(&report.outputs[0]).await.unwrap().unwrap());
    assert_eq!(schema.fields(), TOP_TRACKS.schema().fields());
    // The other table is untouched; a second run has nothing to do.
    assert_eq!(
        partition_rows(&lake, &AUDIO_FEATURES.partition_prefix(dt)).await,
        features_before
    );
    let again = compact(&lake, &TOP_TRACKS, dt, 1 << 20, now).await.unwrap();
    assert!(
        again.inputs.is_empty() && again.outputs.is_empty() && again.recovered.is_empty(),
        "{again:?}"
    );

    // A small target splits the day into several files, rows still all there once.
    let sizes: Vec<u64> = lake
        .list(&AUDIO_FEATURES.partition_prefix(dt))
        .await
        .unwrap()
        .iter()
        .map(|o| o.size)
        .collect();
    let target = sizes.iter().max().unwrap() + 1;
    let report = compact(&lake, &AUDIO_FEATURES, dt, target, now)
        .await
        .unwrap();
    assert_eq!(report.inputs.len(), 4);
    let expected_outputs = sizes.iter().sum::<u64>().div_ceil(target) as usize;
    assert!(expected_outputs > 1);
    assert_eq!(
        report.outputs.len(),
        expected_outputs,
        "one output per target's worth of input bytes"
    );
    assert_eq!(
        partition_rows(&lake, &AUDIO_FEATURES.partition_prefix(dt)).await,
        features_before
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn compaction_refuses_today_and_later_in_seoul() {
    let lake = LocalDirLake::new(temp_dir());
    // 2026-11-24 16:00 UTC is already 2026-11-25 in Seoul.
    let now = Utc.with_ymd_and_hms(2026, 11, 24, 16, 0, 0).unwrap();
    for day in [25, 26] {
        let dt = NaiveDate::from_ymd_opt(2026, 11, day).unwrap();
        let err = compact(&lake, &TOP_TRACKS, dt, 1 << 20, now)
            .await
            .unwrap_err();
        assert!(matches!(err, LakeError::NotCompactable { .. }), "{err}");
    }
    let yesterday = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
    assert!(compact(&lake, &TOP_TRACKS, yesterday, 1 << 20, now)
        .await
        .is_ok());
}

#[tokio::test]
async fn an_interrupted_compaction_converges_on_the_next_run() {
    let now = Utc.with_ymd_and_hms(2026, 11, 26, 18, 0, 0).unwrap();
    // The reference: an uninterrupted compaction into two files.
    let reference_dir = temp_dir();
    let (reference, dt) = lake_with_a_day(&reference_dir).await;
    let originals = snapshot(&reference).await;
    let prefix = TOP_TRACKS.partition_prefix(dt);
    let rows = partition_rows(&reference, &prefix).await;
    let total: u64 = reference
        .list(&prefix)
        .await
        .unwrap()
        .iter()
        .map(|o| o.size)
        .sum();
    let report = compact(&reference, &TOP_TRACKS, dt, total / 2 + 1, now)
        .await
        .unwrap();
    assert_eq!(report.outputs.len(), 2);
    let expected = snapshot(&reference).await;
    let outputs: Vec<(String, Bytes)> = report
        .outputs
        .iter()
        .map(|k| (k.clone(), expected[k].clone()))
        .collect();

    // Crash after writing every output, before deleting the inputs: both are present.
    // Crash while writing outputs: only the first one is present.
    for written in [2, 1] {
        let dir = temp_dir();
        let lake = LocalDirLake::new(&dir);
        for (key, bytes) in &originals {
            lake.put(key, bytes.clone()).await.unwrap();
        }
        for (key, bytes) in &outputs[..written] {
            lake.put(key, bytes.clone()).await.unwrap();
        }
        let report = compact(&lake, &TOP_TRACKS, dt, total / 2 + 1, now)
            .await
            .unwrap();
        assert!(!report.recovered.is_empty());
        assert_eq!(
            snapshot(&lake).await,
            expected,
            "after a crash with {written} outputs written"
        );
        assert_eq!(partition_rows(&lake, &prefix).await, rows);
        std::fs::remove_dir_all(&dir).unwrap();
    }
    std::fs::remove_dir_all(&reference_dir).unwrap();
}

#[tokio::test]
async fn compaction_rejects_a_file_of_another_schema() {
    let dir = temp_dir();
    let (lake, dt) = lake_with_a_day(&dir).await;
    let features = lake
        .list(&AUDIO_FEATURES.partition_prefix(dt))
        .await
        .unwrap();
    let foreign = lake.get(&features[0].key).await.unwrap().unwrap();
    lake.put(&TOP_TRACKS.file_key(dt, "part-foreign"), foreign)
        .await
        .unwrap();
    let now = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
    let err = compact(&lake, &TOP_TRACKS, dt, 1 << 20, now)
        .await
        .unwrap_err();
    assert!(matches!(err, LakeError::UnexpectedSchema { .. }), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn rank_column_reads_back_as_written() {
    let mut batch = LakeBatch::new();
    batch
        .add(&event(
            "a",
            3,
            Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap(),
        ))
        .unwrap();
    let file = batch
        .encode()
        .unwrap()
        .into_iter()
        .find(|f| f.table == TOP_TRACKS)
        .unwrap();
    let (_, batches) = read(file.bytes);
    let ranks = batches[0]
        .column_by_name("rank")
        .unwrap()
        .as_primitive::<Int32Type>();
    assert_eq!(ranks.values().to_vec(), [1, 2, 3]);
    assert_eq!(
        batches[0]
            .column_by_name("album_name")
            .unwrap()
            .null_count(),
        1
    );
}

// ---- the releases table --------------------------------------------------------------------

fn texts(batch: &RecordBatch, column: &str) -> Vec<Option<String>> {
    let array = batch.column_by_name(column).unwrap().as_string::<i32>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i).to_owned()))
        .collect()
}

fn int32s(batch: &RecordBatch, column: &str) -> Vec<Option<i32>> {
    let array = batch
        .column_by_name(column)
        .unwrap()
        .as_primitive::<Int32Type>();
    (0..array.len())
        .map(|i| array.is_valid(i).then(|| array.value(i)))
        .collect()
}

fn some(values: &[&str]) -> Vec<Option<String>> {
    values.iter().map(|v| Some((*v).to_owned())).collect()
}

/// The one file of `table` a batch encodes to, read back as one record batch.
fn encoded_table(batch: &LakeBatch, table: encore_lake::LakeTable) -> RecordBatch {
    let files: Vec<_> = batch
        .encode()
        .unwrap()
        .into_iter()
        .filter(|f| f.table == table)
        .collect();
    assert_eq!(files.len(), 1, "{} files", table.prefix);
    let (schema, batches) = read(files[0].bytes.clone());
    assert_eq!(*schema, *table.schema());
    datafusion::arrow::compute::concat_batches(&schema, &batches).unwrap()
}

#[test]
fn release_rows_read_back_as_written_at_their_precision() {
    let first_at = Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap();
    let second_at = first_at + Duration::minutes(5);
    let mut bts = event("bts", 2, second_at);
    let mut bare = release("bts", "r3", "2019", AlbumType::Album);
    bare.image_url = None;
    bare.spotify_url = None;
    bare.total_tracks = None;
    bts.releases.push(bare);
    let mut iu = event("iu", 1, first_at);
    iu.releases = vec![release("iu", "c1", "2024-02-29", AlbumType::Compilation)];
    let mut batch = LakeBatch::new();
    batch.add(&bts).unwrap();
    batch.add(&iu).unwrap();

    // Rows in (occurred_at, event id) order: iu's first, then bts's in the event's order.
    let rows = encoded_table(&batch, RELEASES);
    assert_eq!(
        texts(&rows, "artist_id"),
        some(&["iu", "bts", "bts", "bts"])
    );
    assert_eq!(
        texts(&rows, "album_id"),
        some(&["iu-c1", "bts-r1", "bts-r2", "bts-r3"])
    );
    assert_eq!(
        texts(&rows, "name")[1].as_deref(),
        Some("Release r1 of bts")
    );
    assert_eq!(
        texts(&rows, "album_type"),
        some(&["compilation", "single", "album", "album"])
    );
    assert_eq!(
        texts(&rows, "release_date"),
        some(&["2024-02-29", "2026-11-20", "2026-10", "2019"])
    );
    assert_eq!(
        texts(&rows, "release_date_precision"),
        some(&["day", "day", "month", "year"])
    );
    assert_eq!(int32s(&rows, "position"), [1, 1, 2, 3].map(Some));
    assert_eq!(
        texts(&rows, "image_url"),
        [
            Some("https://i.example/iu-c1.jpg".to_owned()),
            Some("https://i.example/bts-r1.jpg".to_owned()),
            Some("https://i.example/bts-r2.jpg".to_owned()),
            None
        ]
    );
    assert_eq!(
        texts(&rows, "spotify_url")[3],
        None,
        "a missing URL stays null"
    );
    assert_eq!(
        texts(&rows, "spotify_url")[2].as_deref(),
        Some("https://open.spotify.com/album/bts-r2")
    );
    assert_eq!(
        int32s(&rows, "total_tracks"),
        [Some(12), Some(12), Some(12), None]
    );
    let fetched = rows
        .column_by_name("fetched_at")
        .unwrap()
        .as_primitive::<TimestampMillisecondType>();
    assert_eq!(
        fetched.values().to_vec(),
        [first_at, second_at, second_at, second_at].map(|t| t.timestamp_millis())
    );
    assert_eq!(
        texts(&rows, "event_id"),
        [iu.meta.id, bts.meta.id, bts.meta.id, bts.meta.id].map(|id| Some(id.to_string()))
    );
}

#[test]
fn events_without_releases_write_no_releases_file() {
    let mut quiet = event(
        "quiet",
        2,
        Utc.with_ymd_and_hms(2026, 11, 25, 1, 0, 0).unwrap(),
    );
    quiet.releases.clear();
    let mut batch = LakeBatch::new();
    batch.add(&quiet).unwrap();
    let tables: Vec<_> = batch
        .encode()
        .unwrap()
        .into_iter()
        .map(|f| f.table.prefix)
        .collect();
    assert_eq!(tables, ["audio-features", "top-tracks"]);

    // Releases but no tracks: the releases file alone.
    let mut only_releases = event(
        "new",
        0,
        Utc.with_ymd_and_hms(2026, 11, 25, 2, 0, 0).unwrap(),
    );
    only_releases.releases.truncate(1);
    let mut batch = LakeBatch::new();
    batch.add(&only_releases).unwrap();
    let files = batch.encode().unwrap();
    assert_eq!(
        files
            .iter()
            .map(|f| (f.table.prefix, f.rows))
            .collect::<Vec<_>>(),
        [("releases", 1)]
    );
}

#[tokio::test]
async fn a_redelivered_batch_leaves_identical_objects() {
    let dir = temp_dir();
    let lake = LocalDirLake::new(&dir);
    let at = Utc.with_ymd_and_hms(2026, 11, 24, 14, 0, 0).unwrap();
    // Across Seoul's midnight, so the batch writes two partitions of each table.
    let events: Vec<_> = (0..4)
        .map(|i| event(&format!("artist{i}"), 3, at + Duration::minutes(40 * i)))
        .collect();
    let mut first = LakeBatch::new();
    for e in &events {
        first.add(e).unwrap();
    }
    let written = write_batch(&lake, &first).await.unwrap();
    let before = snapshot(&lake).await;
    assert_eq!(before.len(), 6, "{:?}", before.keys());
    assert!(before
        .keys()
        .any(|k| k.starts_with("releases/dt=2026-11-25/part-")));

    // Delivered again: another order, one event twice.
    let mut again = LakeBatch::new();
    for e in events.iter().rev() {
        again.add(e).unwrap();
    }
    again.add(&events[2]).unwrap();
    let rewritten = write_batch(&lake, &again).await.unwrap();
    assert_eq!(rewritten, written);
    assert_eq!(snapshot(&lake).await, before);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn out_of_range_release_values_reject_the_event() {
    let mut bad = event("a", 1, Utc::now());
    bad.releases[1].total_tracks = Some(u32::MAX);
    let mut batch = LakeBatch::new();
    let err = batch.add(&bad).unwrap_err();
    assert!(err.to_string().contains("total_tracks"), "{err}");
    assert!(batch.is_empty());
}
