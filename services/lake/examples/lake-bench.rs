//! Benchmark of the lake handler: N artists' `ArtistIngested` events, built from the songs
//! data set through the Spotify stand-in's catalog, go through [`handle`] in SQS-sized
//! batches into a local lake directory. Each event carries what real ingest puts in it: the
//! artist's top tracks with their audio features and the artist's latest releases, so all
//! three lake tables are written.
//!
//! `cargo run --release -p encore-lake-service --example lake-bench -- [--artists N] [--batch B] [--dir PATH]`
//! (all artists in name order, batches of 10, a fresh temporary directory by default).
//! Needs `../shared/data/spotify_songs.csv.gz`.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};
use encore_domain::events::{ArtistIngested, EventMeta, SOURCE_INGEST};
use encore_domain::release::{latest_releases, AlbumType, LATEST_RELEASES_KEPT};
use encore_domain::{
    Artist, ArtistId, AudioFeatures, IdError, Release, ReleaseDate, Track, TrackId,
    TOP_TRACKS_PER_ARTIST,
};
use encore_lake::{Lake, LocalDirLake, ObjectInfo, AUDIO_FEATURES, RELEASES, TOP_TRACKS};
use encore_lake_service::handle;
use encore_messaging::inbound::InboundMessage;
use encore_messaging::BusEnvelope;
use encore_standin::catalog::{CatalogAlbum, CatalogArtist, CatalogTrack};
use encore_standin::Catalog;

/// The command line.
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

/// The events, and how many albums the chosen artists have in the catalog (every album
/// they have a track on, before [`latest_releases`] keeps their own newest ones).
struct Events {
    events: Vec<ArtistIngested>,
    albums: usize,
}

/// One event per artist of the catalog, in name order (so `--artists N` always takes the
/// same N), stamped with a fixed time and ids derived from the artist id: two runs build
/// the same events.
fn load_events(catalog: &Catalog, limit: Option<usize>) -> Result<Events, String> {
    let occurred_at = Utc
        .with_ymd_and_hms(2026, 11, 25, 3, 0, 0)
        .single()
        .ok_or("bad benchmark time")?;
    let mut artists: Vec<&CatalogArtist> = catalog.artists().iter().collect();
    artists.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
    artists.truncate(limit.unwrap_or(usize::MAX));
    let mut albums = 0;
    let events = artists
        .into_iter()
        .map(|artist| {
            let of_artist: Vec<&CatalogAlbum> = catalog.albums_of(artist).collect();
            albums += of_artist.len();
            let all: Vec<Release> = of_artist
                .into_iter()
                .filter_map(|album| release(catalog, artist, album))
                .collect();
            ingested(catalog, artist, &all, occurred_at)
        })
        .collect::<Result<_, IdError>>()
        .map_err(|e| format!("the data set has {e}"))?;
    Ok(Events { events, albums })
}

/// The event ingest publishes for `artist`: its top tracks (ranks from 1) with their
/// features, and its latest releases among `all`.
fn ingested(
    catalog: &Catalog,
    artist: &CatalogArtist,
    all: &[Release],
    occurred_at: DateTime<Utc>,
) -> Result<ArtistIngested, IdError> {
    let top: Vec<&CatalogTrack> = catalog
        .tracks_of(artist)
        .take(TOP_TRACKS_PER_ARTIST as usize)
        .collect();
    let artist_id = ArtistId::try_from(artist.id.as_str())?;
    let tracks = top
        .iter()
        .zip(1..)
        .map(|(track, rank)| {
            Ok(Track {
                id: TrackId::try_from(track.id.as_str())?,
                name: track.name.clone(),
                artist_id: artist_id.clone(),
                rank,
                album_name: Some(catalog.album_at(track.album).name.clone()),
                image_url: None,
                popularity: Some(track.popularity),
                duration_ms: Some(track.duration_ms),
                spotify_url: Some(format!("https://open.spotify.com/track/{}", track.id)),
                features_source: None,
            })
        })
        .collect::<Result<_, IdError>>()?;
    let features = top
        .iter()
        .map(|track| audio_features(track))
        .collect::<Result<_, IdError>>()?;
    let meta = EventMeta {
        version: 1,
        id: uuid::Uuid::new_v5(
            &uuid::Uuid::NAMESPACE_URL,
            format!("encore:bench:{}", artist.id).as_bytes(),
        ),
        occurred_at,
    };
    Ok(ArtistIngested {
        meta,
        query: artist.name.clone(),
        artist: Artist {
            id: artist_id,
            name: artist.name.clone(),
            popularity: Some(artist.popularity),
            followers: Some(artist.followers),
            genres: Vec::new(),
            image_url: None,
            spotify_url: Some(format!("https://open.spotify.com/artist/{}", artist.id)),
        },
        tracks,
        features,
        releases: latest_releases(all, LATEST_RELEASES_KEPT),
    })
}

/// The track's audio features as Spotify's audio-features endpoint gives them (the data
/// set has no time signature).
fn audio_features(track: &CatalogTrack) -> Result<AudioFeatures, IdError> {
    let f = &track.features;
    Ok(AudioFeatures {
        track_id: TrackId::try_from(track.id.as_str())?,
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
        duration_ms: Some(track.duration_ms),
        time_signature: None,
        source: Default::default(),
    })
}

/// `album` as `artist`'s release, as the Spotify client reads the stand-in's albums
/// endpoint: the stand-in's album type and date precision, the album's primary artist as
/// its first artist, its Spotify URL, no cover (the data set has none). `None` when the
/// date names a day that does not exist, which the client skips too.
fn release(catalog: &Catalog, artist: &CatalogArtist, album: &CatalogAlbum) -> Option<Release> {
    Some(Release {
        id: album.id.clone(),
        name: album.name.clone(),
        album_type: AlbumType::parse(album.album_type())?,
        release_date: ReleaseDate::from_spotify(
            &album.release_date,
            Some(album.precision.as_str()),
        )
        .ok()?,
        image_url: None,
        spotify_url: Some(format!("https://open.spotify.com/album/{}", album.id)),
        primary_artist: catalog.artist_at(album.primary_artist).id == artist.id,
        total_tracks: u32::try_from(album.tracks.len()).ok(),
    })
}

/// Total size of the objects of the lake table whose keys start with `prefix`.
fn table_bytes(objects: &[ObjectInfo], prefix: &str) -> u64 {
    objects
        .iter()
        .filter(|o| o.key.starts_with(&format!("{prefix}/")))
        .map(|o| o.size)
        .sum()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let data_set = encore_test_support::data_set_path();
    if !data_set.exists() {
        return Err(format!(
            "the songs data set is missing at {}; it lives in ../shared/data beside the project",
            data_set.display()
        )
        .into());
    }
    let catalog = Catalog::load(&data_set)?;
    let Events { events, albums } = load_events(&catalog, args.artists)?;
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
    let releases: usize = events.iter().map(|e| e.releases.len()).sum();
    let with_releases = events.iter().filter(|e| !e.releases.is_empty()).count();

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
    let track_bytes =
        table_bytes(&objects, TOP_TRACKS.prefix) + table_bytes(&objects, AUDIO_FEATURES.prefix);
    let release_bytes = table_bytes(&objects, RELEASES.prefix);
    let rows = tracks + features + releases;
    println!(
        "artists {}  batches of {}  top-tracks rows {tracks}  audio-features rows {features}  releases rows {releases}",
        events.len(),
        args.batch
    );
    println!(
        "releases: {with_releases} artists with at least one; the latest {LATEST_RELEASES_KEPT} own albums and singles kept of {albums} albums the artists have tracks on"
    );
    println!("files {}  bytes {bytes}  in {elapsed:.3} s", objects.len());
    println!(
        "rows/s {:.0}  events/s {:.0}",
        rows as f64 / elapsed,
        events.len() as f64 / elapsed
    );
    println!(
        "bytes per track (top-tracks + audio-features) {:.1}  bytes per release {:.1}",
        track_bytes as f64 / tracks.max(1) as f64,
        release_bytes as f64 / releases.max(1) as f64
    );
    println!("lake directory {}", dir.display());
    Ok(())
}
