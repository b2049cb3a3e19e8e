//! `encore bench job --artists N [--tracks-per-artist 10]`: the daily job end to end at
//! catalog scale on the embedded path (DataFusion over a Parquet lake, the exact k-NN,
//! the SQLite datamart), with the seconds of each stage and the peak memory.
//!
//! The lake is synthesised in a temporary data directory exactly as the lake handler
//! writes it ([`LakeBatch`]: one `top-tracks` and one `audio-features` file per batch of
//! events, partitioned by day). Artists are clustered with varied spread
//! ([`Spread::Varied`], as real audio features are); each track is its artist's profile
//! plus per-track noise of the size real tracks of one artist differ by. So the lake
//! query has real work to do: one artist in ten was ingested twice (an older snapshot
//! a month earlier, which the query must skip), and one track in twenty is shared with
//! the previous artist (a collaboration: two feature rows for one track, which the query
//! must count once).
//!
//! `--mysql URL` loads the datamart into MySQL (MariaDB here) instead, through the
//! adapter the similarity Lambda uses, so the load stage is the AWS path's.
//!
//! The peak RSS is reset after the lake is written (`/proc/self/clear_refs`), so
//! `peak_rss_mb=` is the job's own; it is reset again as each stage starts, so
//! `query_peak_rss_mb=` and its siblings say which stage the peak belongs to.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, TimeZone, Utc};
use clap::Args;
use encore_domain::events::{ArtistIngested, EventMeta};
use encore_domain::{Artist, ArtistId, AudioFeatures, Track, TrackId, TOP_TRACKS_PER_ARTIST};
use encore_lake::query::DataFusionLakeSql;
use encore_lake::{write_batch, LakeBatch, LocalDirLake};
use encore_similarity::FeatureMatrix;
use encore_similarity_service::{run_similarity, Phase, Progress, Settings};
use encore_store::mysql::MySqlStore;
use encore_store::ports::RelatedStore;
use encore_store::sqlite::SqliteStore;

use crate::synthetic::{generate, SplitMix64, Spread, SyntheticSpec};

/// `encore bench job`'s flags.
#[derive(Debug, Args)]
pub struct JobArgs {
    /// Artists in the synthesised lake.
    #[arg(long)]
    pub artists: usize,
    /// Top tracks per artist (Spotify returns at most 10).
    #[arg(long, default_value_t = TOP_TRACKS_PER_ARTIST,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(TOP_TRACKS_PER_ARTIST)))]
    pub tracks_per_artist: u32,
    /// Seed of the synthetic data: same seed, same lake.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Load the datamart into this MySQL database (`mysql://user@host:port/db`, migrated
    /// first) instead of the data directory's SQLite file: the AWS path's load stage.
    #[arg(long)]
    pub mysql: Option<String>,
    /// The data directory (default: a fresh temporary one, removed afterwards); emptied
    /// first, kept after the run.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Artists per [`LakeBatch`]: about half a million track rows per file, the size the
/// lake's compaction produces.
const ARTISTS_PER_FILE: usize = 50_000;

/// One artist in this many also has an older snapshot.
const REINGESTED_EVERY: u64 = 10;
/// One track in this many is shared with the previous artist.
const SHARED_EVERY: u64 = 20;

/// How much one artist's tracks differ from one another, per feature in
/// [`encore_domain::FEATURE_NAMES`] order: standard deviations of the size measured
/// within artists of the songs data set (rounded).
const TRACK_SPREAD: [f64; 9] = [0.10, 0.15, 2.5, 0.07, 0.15, 0.10, 0.12, 0.18, 25.0];

/// Synthesises the lake, runs the job and prints one `name=value` line per figure.
pub async fn run(args: JobArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.artists >= 2, "--artists must be at least 2");
    let (dir, temporary) = match args.dir.clone() {
        Some(dir) => (dir, false),
        None => (
            std::env::temp_dir().join(format!("encore-job-bench-{}", std::process::id())),
            true,
        ),
    };
    if dir.exists() {
        std::fs::remove_dir_all(&dir).with_context(|| format!("emptying {}", dir.display()))?;
    }
    let outcome = bench(&args, &dir).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    outcome
}

async fn bench(args: &JobArgs, dir: &Path) -> anyhow::Result<()> {
    let started = Instant::now();
    let lake_dir = dir.join("lake");
    let written = synthesise(args, &lake_dir).await?;
    println!(
        "lake: artists={} snapshots={} track_rows={} feature_rows={} files={} bytes={} in {:.1} s ({})",
        args.artists,
        written.snapshots,
        written.track_rows,
        written.feature_rows,
        written.files,
        written.bytes,
        started.elapsed().as_secs_f64(),
        lake_dir.display()
    );

    let store: Box<dyn RelatedStore> = match &args.mysql {
        Some(url) => Box::new(MySqlStore::migrate_and_connect(url).await?),
        None => Box::new(SqliteStore::open(dir.join("encore.db")).await?),
    };
    let lake_sql = DataFusionLakeSql::new(&lake_dir);
    reset_peak_rss();
    let started = Instant::now();
    let stages = StagePeaks::default();
    // A MySQL database may hold a larger earlier run: the shrink guard is not measured.
    let settings = Settings {
        force: true,
        ..Settings::default()
    };
    let summary = run_similarity(&lake_sql, store.as_ref(), &settings, &stages).await?;
    let total = started.elapsed().as_secs_f64();
    let peaks = stages.into_peaks();
    let peak = peaks.iter().filter_map(|&(_, mb)| mb).reduce(f64::max);

    let stored = store.related_artist_count().await?;
    anyhow::ensure!(
        stored == summary.artists as u64 && summary.artists == args.artists,
        "the datamart relates {stored} artists and the job {}, of {} in the lake",
        summary.artists,
        args.artists
    );
    for phase in [Phase::Query, Phase::Knn, Phase::Load] {
        println!("{}_seconds={:.2}", phase.name(), summary.seconds(phase));
    }
    println!("artists={} rows={}", summary.artists, summary.rows);
    println!("total_seconds={total:.2}");
    for (phase, mb) in &peaks {
        if let Some(mb) = mb {
            println!("{}_peak_rss_mb={mb:.0}", phase.name());
        }
    }
    match peak {
        Some(mb) => println!("peak_rss_mb={mb:.0}"),
        None => println!("peak_rss_mb=unknown (no /proc/self/status)"),
    }
    Ok(())
}

/// What [`synthesise`] wrote.
#[derive(Debug, Default)]
struct Written {
    snapshots: usize,
    track_rows: usize,
    feature_rows: usize,
    files: usize,
    bytes: u64,
}

/// Writes the lake: every artist's latest snapshot, and the older ones, in batches.
async fn synthesise(args: &JobArgs, lake_dir: &Path) -> anyhow::Result<Written> {
    let profiles =
        generate(SyntheticSpec::new(args.artists, args.seed).with_spread(Spread::Varied));
    let lake = LocalDirLake::new(lake_dir);
    let latest = Utc
        .with_ymd_and_hms(2026, 11, 25, 3, 0, 0)
        .single()
        .context("bad benchmark time")?;
    let synth = Synth {
        profiles: &profiles,
        tracks: args.tracks_per_artist as usize,
        seed: args.seed,
    };
    let mut written = Written::default();
    for first in (0..args.artists).step_by(ARTISTS_PER_FILE) {
        let mut batch = LakeBatch::new();
        for artist in first..(first + ARTISTS_PER_FILE).min(args.artists) {
            for event in synth.events(artist, latest)? {
                written.track_rows += event.tracks.len();
                written.feature_rows += event.features.len();
                batch.add(&event)?;
            }
        }
        written.snapshots += batch.len();
        for file in write_batch(&lake, &batch).await? {
            written.files += 1;
            written.bytes += file.bytes.len() as u64;
        }
    }
    Ok(written)
}

/// The synthetic catalog: artist `i`'s profile is row `i` of `profiles`.
struct Synth<'a> {
    profiles: &'a FeatureMatrix,
    tracks: usize,
    seed: u64,
}

impl Synth<'_> {
    /// Artist `artist`'s ingests: its latest snapshot at `latest` and, for one artist in
    /// [`REINGESTED_EVERY`], an older one thirty days before with two other tracks.
    fn events(&self, artist: usize, latest: DateTime<Utc>) -> anyhow::Result<Vec<ArtistIngested>> {
        let n = self.profiles.len();
        let own = |rank: usize| artist * self.tracks + rank;
        let latest_tracks: Vec<(usize, usize)> = (0..self.tracks)
            .map(|rank| {
                let shared =
                    artist > 0 && self.draw(own(rank) as u64, 1).is_multiple_of(SHARED_EVERY);
                if shared {
                    (artist - 1, (artist - 1) * self.tracks + rank)
                } else {
                    (artist, own(rank))
                }
            })
            .collect();
        let mut events = vec![self.event(artist, &latest_tracks, latest, 0)?];
        if self.draw(artist as u64, 2).is_multiple_of(REINGESTED_EVERY) {
            // Tracks past every latest one's index: 2 per re-ingested artist.
            let older: Vec<(usize, usize)> = latest_tracks
                .iter()
                .copied()
                .skip(2)
                .chain((0..2).map(|k| (artist, n * self.tracks + artist * 2 + k)))
                .collect();
            events.push(self.event(artist, &older, latest - Duration::days(30), 1)?);
        }
        Ok(events)
    }

    /// One ingest of `artist` with `tracks` as `(owner artist, track index)`, ranks in order.
    fn event(
        &self,
        artist: usize,
        tracks: &[(usize, usize)],
        at: DateTime<Utc>,
        generation: u64,
    ) -> anyhow::Result<ArtistIngested> {
        let artist_id = ArtistId::try_from(spotify_id(artist as u64, 0xA))?;
        let mut top = Vec::with_capacity(tracks.len());
        let mut features = Vec::with_capacity(tracks.len());
        for (&(owner, index), rank) in tracks.iter().zip(1..) {
            let track_id = TrackId::try_from(spotify_id(index as u64, 0x7))?;
            features.push(self.features(owner, index, track_id.clone()));
            top.push(Track {
                id: track_id,
                name: format!("Track {index}"),
                artist_id: artist_id.clone(),
                rank,
                album_name: Some(format!("Album {}", index / 4)),
                image_url: None,
                popularity: Some((self.draw(index as u64, 3) % 100) as u32),
                duration_ms: Some(150_000 + (self.draw(index as u64, 4) % 120_000) as u32),
                spotify_url: None,
                features_source: None,
            });
        }
        Ok(ArtistIngested {
            meta: EventMeta {
                version: 1,
                id: uuid::Uuid::from_u64_pair(artist as u64, generation),
                occurred_at: at,
            },
            query: format!("Artist {artist}"),
            artist: Artist {
                id: artist_id,
                name: format!("Artist {artist}"),
                popularity: None,
                followers: None,
                genres: Vec::new(),
                image_url: None,
                spotify_url: None,
            },
            tracks: top,
            features,
            releases: Vec::new(),
        })
    }

    /// Track `index`'s features: its owner's profile plus noise drawn from the track's own
    /// seed, so a shared track has the same features in both artists' ingests.
    fn features(&self, owner: usize, index: usize, track_id: TrackId) -> AudioFeatures {
        let mut rng = SplitMix64(self.draw(index as u64, 5));
        let centre = self.profiles.row(owner);
        let mut value = |feature: usize| {
            let v = centre[feature] + TRACK_SPREAD[feature] * rng.normal();
            (v * 1e4).round() / 1e4
        };
        AudioFeatures {
            track_id,
            danceability: value(0),
            energy: value(1),
            key: (index % 12) as i32,
            loudness: value(2),
            mode: (index % 2) as i32,
            speechiness: value(3),
            acousticness: value(4),
            instrumentalness: value(5),
            liveness: value(6),
            valence: value(7),
            tempo: value(8),
            duration_ms: None,
            time_signature: Some(4),
            source: Default::default(),
        }
    }

    /// A reproducible pseudo-random number for `(what, stream)`.
    fn draw(&self, what: u64, stream: u64) -> u64 {
        SplitMix64(self.seed ^ what.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (stream << 56)).next()
    }
}

/// A Spotify-shaped id (22 base62 characters) for `(index, kind)`: distinct indexes give
/// distinct ids, whose order is not the index order (as real ids are random).
fn spotify_id(index: u64, kind: u64) -> String {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    // An odd multiplier is a bijection on u64: the first 11 digits alone are unique.
    let mixed = index.wrapping_mul(0xD6E8_FEB8_6659_FD93) ^ (kind << 60);
    let tail = SplitMix64(mixed).next();
    let mut id = String::with_capacity(22);
    for mut v in [mixed, tail] {
        for _ in 0..11 {
            id.push(char::from(DIGITS[(v % 62) as usize]));
            v /= 62;
        }
    }
    id
}

/// The peak RSS of each stage: the kernel's peak is reset as a stage starts and read as
/// it ends.
#[derive(Default)]
struct StagePeaks(std::sync::Mutex<Vec<(Phase, Option<f64>)>>);

impl StagePeaks {
    fn into_peaks(self) -> Vec<(Phase, Option<f64>)> {
        self.0
            .into_inner()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Progress for StagePeaks {
    fn started(&self, _phase: Phase, _total: Option<u64>) {
        reset_peak_rss();
    }

    fn finished(&self, phase: Phase, _count: u64, _elapsed: std::time::Duration) {
        let mut peaks = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        peaks.push((phase, peak_rss_mb()));
    }
}

/// Resets the peak resident set size the kernel tracks for this process (Linux); a
/// no-op elsewhere.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

/// The peak resident set size since the last reset, in MiB (Linux `VmHWM`).
fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_spotify_shaped_and_distinct() {
        let ids: std::collections::HashSet<String> =
            (0..10_000).map(|i| spotify_id(i, 0xA)).collect();
        assert_eq!(ids.len(), 10_000);
        for id in ids.iter().take(50) {
            ArtistId::try_from(id.as_str()).unwrap();
        }
        assert_ne!(spotify_id(1, 0xA), spotify_id(1, 0x7), "kinds differ");
    }
}
