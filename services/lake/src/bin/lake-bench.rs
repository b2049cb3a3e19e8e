//! Benchmark of the lake handler: N artists' `ArtistIngested` events, built from the songs
//! data set, go through [`handle`] in SQS-sized batches into a local lake directory.
//!
//! `cargo run --release -p encore-lake-service --bin lake-bench -- [--artists N] [--batch B] [--dir PATH]`
//! (all artists, batches of 10, a fresh temporary directory by default).

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::time::Instant;

use chrono::{TimeZone, Utc};
use encore_domain::events::{ArtistIngested, BusEnvelope, EventMeta, SOURCE_INGEST};
use encore_domain::{Artist, AudioFeatures, Track};
use encore_lake::{Lake, LocalDirLake};
use encore_lake_service::handle;
use encore_store::inbound::InboundMessage;
use serde::Deserialize;

/// Where the data set lives, relative to this crate.
const DATA_SET: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/data/spotify_songs.csv.gz"
);
/// Top tracks kept per artist, as Spotify's top-tracks endpoint returns.
const TOP_TRACKS: usize = 10;

/// The columns this benchmark reads; the genre labels are deliberately not among them.
#[derive(Debug, Deserialize)]
struct SongRow {
    track_id: String,
    track_name: String,
    track_artist: String,
    track_popularity: u32,
    track_album_name: String,
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
    duration_ms: u32,
}

struct Args {
    artists: Option<usize>,
    batch: usize,
    dir: Option<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        artists: None,
        batch: 10,
        dir: None,
    };
    let mut raw = std::env::args().skip(1);
    while let Some(flag) = raw.next() {
        let value = raw.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--artists" => {
                args.artists = Some(value.parse().map_err(|e| format!("--artists: {e}"))?)
            }
            "--batch" => args.batch = value.parse().map_err(|e| format!("--batch: {e}"))?,
            "--dir" => args.dir = Some(PathBuf::from(value)),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    Ok(args)
}

/// A stable 22-character base62 id for an artist name (the data set has no artist ids).
fn artist_id(name: &str) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut n = uuid::Uuid::new_v5(
        &uuid::Uuid::NAMESPACE_URL,
        format!("encore:artist:{name}").as_bytes(),
    )
    .as_u128();
    let mut id = [b'0'; 22];
    for slot in id.iter_mut().rev() {
        *slot = ALPHABET[(n % 62) as usize];
        n /= 62;
    }
    id.iter().map(|&b| char::from(b)).collect()
}

fn load_events(limit: Option<usize>) -> Result<Vec<ArtistIngested>, Box<dyn std::error::Error>> {
    let file = std::fs::File::open(DATA_SET)
        .map_err(|e| format!("cannot open the data set {DATA_SET} ({e}); it lives in ../shared/data beside the project"))?;
    let mut reader = csv::Reader::from_reader(flate2::read::GzDecoder::new(file));
    let mut seen = HashSet::new();
    let mut by_artist: BTreeMap<String, Vec<SongRow>> = BTreeMap::new();
    for row in reader.deserialize::<SongRow>() {
        let Ok(row) = row else { continue };
        if seen.insert(row.track_id.clone()) {
            by_artist
                .entry(row.track_artist.clone())
                .or_default()
                .push(row);
        }
    }
    let occurred_at = Utc
        .with_ymd_and_hms(2026, 11, 25, 3, 0, 0)
        .single()
        .ok_or("bad benchmark time")?;
    let events = by_artist
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|(name, mut rows)| {
            rows.sort_by(|a, b| {
                b.track_popularity
                    .cmp(&a.track_popularity)
                    .then_with(|| a.track_id.cmp(&b.track_id))
            });
            rows.truncate(TOP_TRACKS);
            let id = artist_id(&name);
            let tracks = rows
                .iter()
                .zip(1..)
                .map(|(row, rank)| Track {
                    id: row.track_id.clone(),
                    name: row.track_name.clone(),
                    artist_id: id.clone(),
                    rank,
                    album_name: Some(row.track_album_name.clone()),
                    image_url: None,
                    popularity: Some(row.track_popularity),
                    duration_ms: Some(row.duration_ms),
                    spotify_url: Some(format!("https://open.spotify.com/track/{}", row.track_id)),
                })
                .collect();
            let features = rows
                .iter()
                .map(|row| AudioFeatures {
                    track_id: row.track_id.clone(),
                    danceability: row.danceability,
                    energy: row.energy,
                    key: row.key,
                    loudness: row.loudness,
                    mode: row.mode,
                    speechiness: row.speechiness,
                    acousticness: row.acousticness,
                    instrumentalness: row.instrumentalness,
                    liveness: row.liveness,
                    valence: row.valence,
                    tempo: row.tempo,
                    duration_ms: Some(row.duration_ms),
                    time_signature: None,
                })
                .collect();
            let meta = EventMeta {
                version: 1,
                id: uuid::Uuid::new_v5(
                    &uuid::Uuid::NAMESPACE_URL,
                    format!("encore:bench:{id}").as_bytes(),
                ),
                occurred_at,
            };
            ArtistIngested {
                meta,
                query: name.clone(),
                artist: Artist {
                    id,
                    name,
                    popularity: None,
                    followers: None,
                    genres: Vec::new(),
                    image_url: None,
                    spotify_url: None,
                },
                tracks,
                features,
                releases: Vec::new(),
            }
        })
        .collect();
    Ok(events)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let events = load_events(args.artists)?;
    let dir = args.dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("encore-lake-bench-{}", std::process::id()))
    });
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    let lake = LocalDirLake::new(&dir);
    let messages: Vec<InboundMessage> = events
        .iter()
        .map(|event| {
            Ok(InboundMessage {
                id: event.meta.id.to_string(),
                body: serde_json::to_string(&BusEnvelope::wrap(event, SOURCE_INGEST)?)?,
                receive_count: 1,
            })
        })
        .collect::<Result<_, Box<dyn std::error::Error>>>()?;
    let tracks: usize = events.iter().map(|e| e.tracks.len()).sum();
    let features: usize = events.iter().map(|e| e.features.len()).sum();

    let started = Instant::now();
    for batch in messages.chunks(args.batch) {
        let outcome = handle(batch, &lake).await;
        if let Some(failure) = outcome.failures.first() {
            return Err(format!("message {} failed: {}", failure.id, failure.reason).into());
        }
    }
    let elapsed = started.elapsed().as_secs_f64();

    let objects = lake.list("").await?;
    let bytes: u64 = objects.iter().map(|o| o.size).sum();
    let rows = tracks + features;
    println!(
        "artists {}  batches of {}  top-tracks rows {tracks}  audio-features rows {features}",
        events.len(),
        args.batch
    );
    println!("files {}  bytes {bytes}  in {elapsed:.3} s", objects.len());
    println!(
        "rows/s {:.0}  events/s {:.0}",
        rows as f64 / elapsed,
        events.len() as f64 / elapsed
    );
    println!(
        "bytes per track (both tables) {:.1}",
        bytes as f64 / tracks.max(1) as f64
    );
    println!("lake directory {}", dir.display());
    Ok(())
}
