//! Turning a batch of `ArtistIngested` events into Parquet files: one file per table per
//! partition date (`audio-features`, `releases`, `top-tracks`), named after the batch's
//! event ids and their fetch times, with deterministic content, so a redelivered batch
//! overwrites its own files byte for byte and never adds a duplicate, and an event id
//! ingested again later (a day's refresh run twice derives the same ids) is a new file:
//! an existing file is only ever replaced by the same bytes, so a query that lists the
//! lake and then reads the files never reads a file changed under it.
//!
//! The partition date is the event's `occurred_at` (when ingest fetched the data) in
//! Asia/Seoul, not the time the lake processes it: a retry hours later, or across midnight,
//! lands in the same partition and the same file.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMillisecondArray,
};
use bytes::Bytes;
use chrono::{DateTime, NaiveDate, Utc};
use encore_domain::events::ArtistIngested;
use encore_domain::release::{AlbumType, Release};
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use uuid::Uuid;

use crate::objects::Lake;
use crate::tables::{LakeTable, AUDIO_FEATURES, PARTITION_TZ, RELEASES, TIMESTAMP_TZ, TOP_TRACKS};
use crate::{LakeError, RowError};

/// The partition date of an instant: its calendar day in Asia/Seoul.
pub fn partition_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&PARTITION_TZ).date_naive()
}

/// Namespace of the ids the lake derives from content (file names).
const LAKE_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6c61_6b65_2d69_6473_8000_656e_636f_7265);

/// A stable 32-hex-digit id of `parts` (in the given order) for `purpose`.
pub(crate) fn derived_id<'a>(purpose: &str, parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut name = purpose.to_owned();
    for part in parts {
        name.push('\n');
        name.push_str(part);
    }
    Uuid::new_v5(&LAKE_ID_NAMESPACE, name.as_bytes())
        .simple()
        .to_string()
}

/// Writer settings of every lake file: snappy, and nothing that varies between runs.
pub(crate) fn writer_properties(metadata: Vec<KeyValue>) -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_key_value_metadata((!metadata.is_empty()).then_some(metadata))
        .build()
}

/// Encodes `batches` (all of `table`'s schema) as one Parquet file.
pub(crate) fn encode_parquet(
    table: &LakeTable,
    batches: &[RecordBatch],
    metadata: Vec<KeyValue>,
) -> Result<Bytes, LakeError> {
    let mut writer = ArrowWriter::try_new(
        Vec::new(),
        table.schema(),
        Some(writer_properties(metadata)),
    )?;
    for batch in batches {
        writer.write(batch)?;
    }
    Ok(Bytes::from(writer.into_inner()?))
}

/// One row of `top-tracks`.
#[derive(Debug, Clone, PartialEq)]
struct TopTrackRow {
    track_id: String,
    name: String,
    popularity: Option<i32>,
    album_name: Option<String>,
    image_url: Option<String>,
    rank: i32,
}

/// One row of `audio-features`.
#[derive(Debug, Clone, PartialEq)]
struct FeatureRow {
    track_id: String,
    danceability: f64,
    energy: f64,
    key: i32,
    loudness: f64,
    mode: i32,
    speechiness: f64,
    acousticness: f64,
    instrumentalness: f64,
    liveness: f64,
    valence: f64,
    tempo: f64,
    duration_ms: Option<i64>,
    time_signature: Option<i32>,
    source: &'static str,
}

/// One row of `releases`.
#[derive(Debug, Clone, PartialEq)]
struct ReleaseRow {
    album_id: String,
    name: String,
    album_type: &'static str,
    /// As precise as known: `2021`, `2021-03` or `2021-03-05`.
    release_date: String,
    release_date_precision: &'static str,
    /// 1 for the newest, in the event's order.
    position: i32,
    image_url: Option<String>,
    spotify_url: Option<String>,
    total_tracks: Option<i32>,
}

/// One event's rows: a snapshot of an artist's top tracks, their features and the
/// artist's latest releases.
#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    event_id: String,
    artist_id: String,
    fetched_at: DateTime<Utc>,
    tracks: Vec<TopTrackRow>,
    features: Vec<FeatureRow>,
    releases: Vec<ReleaseRow>,
}

/// Spotify's spelling of an album type, as the `releases` table stores it.
fn album_type_text(album_type: AlbumType) -> &'static str {
    match album_type {
        AlbumType::Album => "album",
        AlbumType::Single => "single",
        AlbumType::Compilation => "compilation",
    }
}

fn to_i32(event: &ArtistIngested, field: &'static str, value: u32) -> Result<i32, RowError> {
    i32::try_from(value).map_err(|_| RowError::OutOfRange {
        event_id: event.meta.id.to_string(),
        field,
        value: value.into(),
    })
}

impl ReleaseRow {
    /// The row of `release`, the `index`-th (from 0) of `event`'s releases.
    fn from_release(
        event: &ArtistIngested,
        index: usize,
        release: &Release,
    ) -> Result<Self, RowError> {
        let position = u32::try_from(index + 1).unwrap_or(u32::MAX);
        Ok(Self {
            album_id: release.id.clone(),
            name: release.name.clone(),
            album_type: album_type_text(release.album_type),
            release_date: release.release_date.to_string(),
            release_date_precision: release.release_date.precision().as_str(),
            position: to_i32(event, "position", position)?,
            image_url: release.image_url.clone(),
            spotify_url: release.spotify_url.clone(),
            total_tracks: release
                .total_tracks
                .map(|n| to_i32(event, "total_tracks", n))
                .transpose()?,
        })
    }
}

impl Snapshot {
    fn from_event(event: &ArtistIngested) -> Result<Self, RowError> {
        let tracks = event
            .tracks
            .iter()
            .map(|t| {
                Ok(TopTrackRow {
                    track_id: t.id.to_string(),
                    name: t.name.clone(),
                    popularity: t
                        .popularity
                        .map(|p| to_i32(event, "popularity", p))
                        .transpose()?,
                    album_name: t.album_name.clone(),
                    image_url: t.image_url.clone(),
                    rank: to_i32(event, "rank", t.rank)?,
                })
            })
            .collect::<Result<_, RowError>>()?;
        let features = event
            .features
            .iter()
            .map(|f| FeatureRow {
                track_id: f.track_id.to_string(),
                danceability: f.danceability,
                energy: f.energy,
                key: f.key,
                loudness: f.loudness,
                mode: f.mode,
                speechiness: f.speechiness,
                acousticness: f.acousticness,
                instrumentalness: f.instrumentalness,
                liveness: f.liveness,
                valence: f.valence,
                tempo: f.tempo,
                duration_ms: f.duration_ms.map(i64::from),
                time_signature: f.time_signature,
                source: f.source.as_str(),
            })
            .collect();
        let releases = event
            .releases
            .iter()
            .enumerate()
            .map(|(index, release)| ReleaseRow::from_release(event, index, release))
            .collect::<Result<_, RowError>>()?;
        Ok(Self {
            event_id: event.meta.id.to_string(),
            artist_id: event.artist.id.to_string(),
            fetched_at: event.meta.occurred_at,
            tracks,
            features,
            releases,
        })
    }
}

/// A Parquet file ready to put in the lake.
#[derive(Debug, Clone, PartialEq)]
pub struct LakeFile {
    pub table: LakeTable,
    pub dt: NaiveDate,
    pub key: String,
    pub bytes: Bytes,
    pub rows: usize,
}

/// The events of one queue batch on their way to the lake. Events are kept by id (a
/// message delivered twice in one batch counts once) and written in `(occurred_at, id)`
/// order, so the files depend only on the set of events, not on their delivery order.
#[derive(Debug, Clone, Default)]
pub struct LakeBatch {
    snapshots: BTreeMap<Uuid, Snapshot>,
}

impl LakeBatch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an event, or says why it cannot be stored (a value out of a column's range).
    pub fn add(&mut self, event: &ArtistIngested) -> Result<(), RowError> {
        let snapshot = Snapshot::from_event(event)?;
        self.snapshots.entry(event.meta.id).or_insert(snapshot);
        Ok(())
    }

    /// Number of distinct events.
    pub fn len(&self) -> usize {
        self.snapshots.len()
    }

    /// True when no event was added.
    pub fn is_empty(&self) -> bool {
        self.snapshots.is_empty()
    }

    /// The id in the batch's file names: derived from its sorted event ids, each with the
    /// time its data was fetched.
    pub fn part_id(&self) -> String {
        let ids: Vec<String> = self
            .snapshots
            .iter()
            .map(|(id, snapshot)| {
                format!(
                    "{}@{}",
                    id.simple(),
                    snapshot
                        .fetched_at
                        .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
                )
            })
            .collect();
        derived_id("part", ids.iter().map(String::as_str))
    }

    /// The batch's files: per partition date, one `audio-features` file (when any track
    /// has features), one `releases` file (when any event has releases), then one
    /// `top-tracks` file (when any event has tracks).
    pub fn encode(&self) -> Result<Vec<LakeFile>, LakeError> {
        let stem = format!("part-{}", self.part_id());
        let mut by_date: BTreeMap<NaiveDate, Vec<&Snapshot>> = BTreeMap::new();
        for snapshot in self.snapshots.values() {
            by_date
                .entry(partition_date(snapshot.fetched_at))
                .or_default()
                .push(snapshot);
        }
        let mut files = Vec::new();
        for (dt, mut snapshots) in by_date {
            snapshots.sort_by(|a, b| (a.fetched_at, &a.event_id).cmp(&(b.fetched_at, &b.event_id)));
            for (table, batch) in [
                (AUDIO_FEATURES, features_batch(&snapshots)?),
                (RELEASES, releases_batch(&snapshots)?),
                (TOP_TRACKS, top_tracks_batch(&snapshots)?),
            ] {
                if batch.num_rows() == 0 {
                    continue;
                }
                files.push(LakeFile {
                    table,
                    dt,
                    key: table.file_key(dt, &stem),
                    rows: batch.num_rows(),
                    bytes: encode_parquet(&table, &[batch], Vec::new())?,
                });
            }
        }
        Ok(files)
    }
}

/// Encodes `batch` and puts its files in the lake, features and releases before tracks (so
/// a reader that finds a snapshot's tracks never misses its features or releases because
/// they are still to come). Returns the files written.
pub async fn write_batch(lake: &dyn Lake, batch: &LakeBatch) -> Result<Vec<LakeFile>, LakeError> {
    let files = batch.encode()?;
    for file in &files {
        lake.put(&file.key, file.bytes.clone()).await?;
    }
    Ok(files)
}

/// Assembles named columns into a batch in the table's column order; a column the table
/// declares but the writer did not build (or built with another type) is an error.
fn assemble(
    table: &LakeTable,
    mut columns: HashMap<&'static str, ArrayRef>,
) -> Result<RecordBatch, LakeError> {
    let schema = table.schema();
    let arrays = table
        .columns
        .iter()
        .map(|c| {
            columns.remove(c.name).ok_or_else(|| {
                LakeError::Arrow(arrow::error::ArrowError::SchemaError(format!(
                    "{} has no writer for column {}",
                    table.prefix, c.name
                )))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(RecordBatch::try_new(schema, arrays)?)
}

fn timestamps(values: Vec<i64>) -> ArrayRef {
    Arc::new(TimestampMillisecondArray::from(values).with_timezone(TIMESTAMP_TZ))
}

fn top_tracks_batch(snapshots: &[&Snapshot]) -> Result<RecordBatch, LakeError> {
    let rows: Vec<(&Snapshot, &TopTrackRow)> = snapshots
        .iter()
        .flat_map(|s| s.tracks.iter().map(move |t| (*s, t)))
        .collect();
    let text = |f: for<'r> fn(&'r (&'r Snapshot, &'r TopTrackRow)) -> &'r str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let columns: HashMap<&'static str, ArrayRef> = HashMap::from([
        ("artist_id", text(|(s, _)| &s.artist_id)),
        ("track_id", text(|(_, t)| &t.track_id)),
        ("name", text(|(_, t)| &t.name)),
        (
            "popularity",
            Arc::new(
                rows.iter()
                    .map(|(_, t)| t.popularity)
                    .collect::<Int32Array>(),
            ) as ArrayRef,
        ),
        (
            "album_name",
            Arc::new(
                rows.iter()
                    .map(|(_, t)| t.album_name.as_deref())
                    .collect::<StringArray>(),
            ),
        ),
        (
            "image_url",
            Arc::new(
                rows.iter()
                    .map(|(_, t)| t.image_url.as_deref())
                    .collect::<StringArray>(),
            ),
        ),
        (
            "rank",
            Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|(_, t)| t.rank),
            )),
        ),
        (
            "fetched_at",
            timestamps(
                rows.iter()
                    .map(|(s, _)| s.fetched_at.timestamp_millis())
                    .collect(),
            ),
        ),
        ("event_id", text(|(s, _)| &s.event_id)),
    ]);
    assemble(&TOP_TRACKS, columns)
}

fn releases_batch(snapshots: &[&Snapshot]) -> Result<RecordBatch, LakeError> {
    let rows: Vec<(&Snapshot, &ReleaseRow)> = snapshots
        .iter()
        .flat_map(|s| s.releases.iter().map(move |r| (*s, r)))
        .collect();
    let text = |f: for<'r> fn(&'r (&'r Snapshot, &'r ReleaseRow)) -> &'r str| -> ArrayRef {
        Arc::new(StringArray::from_iter_values(rows.iter().map(f)))
    };
    let optional_text = |f: fn(&ReleaseRow) -> Option<&str>| -> ArrayRef {
        Arc::new(rows.iter().map(|(_, r)| f(r)).collect::<StringArray>())
    };
    let columns: HashMap<&'static str, ArrayRef> = HashMap::from([
        ("artist_id", text(|(s, _)| &s.artist_id)),
        ("album_id", text(|(_, r)| &r.album_id)),
        ("name", text(|(_, r)| &r.name)),
        ("album_type", text(|(_, r)| r.album_type)),
        ("release_date", text(|(_, r)| &r.release_date)),
        (
            "release_date_precision",
            text(|(_, r)| r.release_date_precision),
        ),
        (
            "position",
            Arc::new(Int32Array::from_iter_values(
                rows.iter().map(|(_, r)| r.position),
            )),
        ),
        ("image_url", optional_text(|r| r.image_url.as_deref())),
        ("spotify_url", optional_text(|r| r.spotify_url.as_deref())),
        (
            "total_tracks",
            Arc::new(
                rows.iter()
                    .map(|(_, r)| r.total_tracks)
                    .collect::<Int32Array>(),
            ),
        ),
        (
            "fetched_at",
            timestamps(
                rows.iter()
                    .map(|(s, _)| s.fetched_at.timestamp_millis())
                    .collect(),
            ),
        ),
        ("event_id", text(|(s, _)| &s.event_id)),
    ]);
    assemble(&RELEASES, columns)
}

fn features_batch(snapshots: &[&Snapshot]) -> Result<RecordBatch, LakeError> {
    let rows: Vec<(&Snapshot, &FeatureRow)> = snapshots
        .iter()
        .flat_map(|s| s.features.iter().map(move |f| (*s, f)))
        .collect();
    let float = |f: fn(&FeatureRow) -> f64| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(
            rows.iter().map(|(_, r)| f(r)),
        ))
    };
    let int = |f: fn(&FeatureRow) -> i32| -> ArrayRef {
        Arc::new(Int32Array::from_iter_values(rows.iter().map(|(_, r)| f(r))))
    };
    let columns: HashMap<&'static str, ArrayRef> = HashMap::from([
        (
            "track_id",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(_, r)| &r.track_id),
            )) as ArrayRef,
        ),
        ("danceability", float(|r| r.danceability)),
        ("energy", float(|r| r.energy)),
        ("key", int(|r| r.key)),
        ("loudness", float(|r| r.loudness)),
        ("mode", int(|r| r.mode)),
        ("speechiness", float(|r| r.speechiness)),
        ("acousticness", float(|r| r.acousticness)),
        ("instrumentalness", float(|r| r.instrumentalness)),
        ("liveness", float(|r| r.liveness)),
        ("valence", float(|r| r.valence)),
        ("tempo", float(|r| r.tempo)),
        (
            "duration_ms",
            Arc::new(
                rows.iter()
                    .map(|(_, r)| r.duration_ms)
                    .collect::<Int64Array>(),
            ),
        ),
        (
            "time_signature",
            Arc::new(
                rows.iter()
                    .map(|(_, r)| r.time_signature)
                    .collect::<Int32Array>(),
            ),
        ),
        (
            "fetched_at",
            timestamps(
                rows.iter()
                    .map(|(s, _)| s.fetched_at.timestamp_millis())
                    .collect(),
            ),
        ),
        (
            "source",
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|(_, r)| r.source),
            )),
        ),
    ]);
    assemble(&AUDIO_FEATURES, columns)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn seoul_date_is_nine_hours_ahead_of_utc() {
        let late_utc = Utc.with_ymd_and_hms(2026, 11, 24, 15, 0, 0).unwrap();
        assert_eq!(
            partition_date(late_utc),
            NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
        );
        let early_utc = Utc.with_ymd_and_hms(2026, 11, 24, 14, 59, 59).unwrap();
        assert_eq!(
            partition_date(early_utc),
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap()
        );
    }

    #[test]
    fn derived_ids_depend_on_every_part() {
        let a = derived_id("part", ["x", "y"]);
        assert_eq!(a.len(), 32);
        assert_eq!(a, derived_id("part", ["x", "y"]));
        assert_ne!(a, derived_id("part", ["y", "x"]));
        assert_ne!(a, derived_id("other", ["x", "y"]));
        assert_ne!(a, derived_id("part", ["xy"]));
    }
}
