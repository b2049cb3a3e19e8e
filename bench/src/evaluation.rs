//! The quality evaluation: genre and subgenre agreement@4 of the engine against the
//! reference method on the public Spotify songs data set, over two pools.
//!
//! This module is the only code in the crate that reads the `playlist_genre` and
//! `playlist_subgenre` labels. They are used solely to score neighbour lists after the
//! fact: the profiles handed to [`relate`] are built from audio features and track counts
//! only ([`ArtistProfile`] has no field that could carry a label).
//!
//! Every artist's profile is the mean of its [`TOP_TRACKS_PER_ARTIST`] most popular tracks
//! (an artist's top tracks, as encore keeps them).
//! The query artists are those with at least [`MIN_TRACKS`] tracks (their labels are
//! reliable enough to score). The **whole** pool relates them among every artist of the
//! data set, as the job does (any ingested artist may be a neighbour, one-track artists
//! included); the **rich** pool among the query artists only.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use encore_domain::{FEATURE_NAMES, TOP_TRACKS_PER_ARTIST};
use flate2::read::GzDecoder;
use thiserror::Error;

use encore_similarity::{exact_knn, relate, ArtistProfile, Points, Profile, SimilarityError};

/// Artists with fewer tracks than this are not scored as queries.
pub const MIN_TRACKS: usize = 3;

/// Neighbours scored per artist.
pub const AGREEMENT_AT: usize = 4;

/// The six features of the reference method, min-max scaled over all tracks.
pub const REFERENCE_FEATURES: [&str; 6] = [
    "danceability",
    "energy",
    "loudness",
    "speechiness",
    "acousticness",
    "instrumentalness",
];

/// Agreement@4 of one method on one pool, over the query artists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Agreement {
    /// Artists that may be neighbours.
    pub pool: usize,
    /// Share of the query artists' 4 nearest that share their majority genre.
    pub genre: f64,
    /// The same for the majority subgenre.
    pub subgenre: f64,
}

/// Both methods on both pools, over the same query artists.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QualityReport {
    /// Query artists (at least [`MIN_TRACKS`] distinct tracks).
    pub artists: usize,
    /// The engine with the evaluated profile, whole pool.
    pub engine: Agreement,
    /// The engine, rich pool.
    pub engine_rich: Agreement,
    /// The reference method, whole pool.
    pub reference: Agreement,
    /// The reference method, rich pool.
    pub reference_rich: Agreement,
}

/// Why the evaluation could not run.
#[derive(Debug, Error)]
pub enum EvaluationError {
    /// The data set is not where it should be.
    #[error(
        "{0} not found: the quality evaluation needs the Spotify songs data set at \
         ../shared/data/spotify_songs.csv.gz relative to the project root"
    )]
    Missing(PathBuf),
    /// The file could not be opened.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The CSV was malformed.
    #[error("{path}: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    /// A column the evaluation needs is absent.
    #[error("{path}: no column {column}")]
    MissingColumn { path: PathBuf, column: String },
    /// A numeric cell did not parse.
    #[error("{path}: line {line}: column {column}: {value:?} is not a number")]
    NotANumber {
        path: PathBuf,
        line: u64,
        column: String,
        value: String,
    },
    /// The engine rejected the profiles.
    #[error(transparent)]
    Similarity(#[from] SimilarityError),
}

/// One distinct track: its artist, popularity, features and the genres and subgenres of
/// the playlists it appears in (one vote per playlist row).
struct SongTrack {
    artist: String,
    popularity: f64,
    features: [f64; FEATURE_NAMES.len()],
    genres: Vec<String>,
    subgenres: Vec<String>,
}

/// An artist's majority labels (for scoring only) and whether it is a query artist.
struct Labels<'a> {
    genre: &'a str,
    subgenre: &'a str,
    query: bool,
}

/// An artist and its selected tracks.
type ArtistTracks<'a> = (&'a str, Vec<&'a SongTrack>);

/// Scores the engine (with `profile`) and the reference method on the data set at `path`.
pub fn evaluate(path: &Path, profile: Profile) -> Result<QualityReport, EvaluationError> {
    let tracks = read_tracks(path)?;
    let mut by_artist: HashMap<&str, Vec<(&str, &SongTrack)>> = HashMap::new();
    for (id, track) in &tracks {
        by_artist
            .entry(track.artist.as_str())
            .or_default()
            .push((id.as_str(), track));
    }
    let mut artists: Vec<ArtistTracks> = by_artist
        .into_iter()
        .map(|(artist, mut list)| {
            list.sort_by(|a, b| b.1.popularity.total_cmp(&a.1.popularity).then(a.0.cmp(b.0)));
            list.truncate(TOP_TRACKS_PER_ARTIST as usize);
            (artist, list.into_iter().map(|(_, t)| t).collect())
        })
        .collect();
    artists.sort_by(|a, b| a.0.cmp(b.0));

    let labels: HashMap<&str, Labels> = artists
        .iter()
        .map(|(artist, list)| {
            let labels = Labels {
                genre: majority(list.iter().flat_map(|t| &t.genres)),
                subgenre: majority(list.iter().flat_map(|t| &t.subgenres)),
                query: list.len() >= MIN_TRACKS,
            };
            (*artist, labels)
        })
        .collect();
    let rich: Vec<ArtistTracks> = artists
        .iter()
        .filter(|(_, list)| list.len() >= MIN_TRACKS)
        .cloned()
        .collect();

    let engine_on = |pool: &[ArtistTracks]| -> Result<Agreement, EvaluationError> {
        let profiles: Vec<ArtistProfile> = pool
            .iter()
            .map(|(artist, list)| ArtistProfile {
                artist_id: (*artist).to_owned(),
                features: mean(list.iter().map(|t| t.features)),
                track_count: list.len() as u32,
            })
            .collect();
        let relations = relate(&profiles, AGREEMENT_AT, profile)?;
        Ok(agreement(
            pool.len(),
            relations
                .rows()
                .map(|(artist, _, related, _)| (artist, related)),
            &labels,
        ))
    };
    let reference_on = |pool: &[ArtistTracks]| -> Result<Agreement, EvaluationError> {
        let points = reference_points(&tracks, pool)?;
        let neighbours = exact_knn(&points, AGREEMENT_AT);
        let points = &points;
        Ok(agreement(
            pool.len(),
            (0..neighbours.len()).flat_map(|i| {
                neighbours
                    .of(i)
                    .map(move |(j, _)| (points.id(i), points.id(j)))
            }),
            &labels,
        ))
    };
    Ok(QualityReport {
        artists: rich.len(),
        engine: engine_on(&artists)?,
        engine_rich: engine_on(&rich)?,
        reference: reference_on(&artists)?,
        reference_rich: reference_on(&rich)?,
    })
}

/// The reference method's points: per artist, the mean of the six features min-max
/// scaled over every distinct track of the data set; no standardization.
fn reference_points(
    tracks: &HashMap<String, SongTrack>,
    artists: &[(&str, Vec<&SongTrack>)],
) -> Result<Points, SimilarityError> {
    let columns: Vec<usize> = REFERENCE_FEATURES
        .iter()
        .filter_map(|name| FEATURE_NAMES.iter().position(|f| f == name))
        .collect();
    let range: Vec<(f64, f64)> = columns
        .iter()
        .map(|&c| {
            tracks
                .values()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
                    (lo.min(t.features[c]), hi.max(t.features[c]))
                })
        })
        .collect();
    let mut ids = Vec::with_capacity(artists.len());
    let mut values = Vec::with_capacity(artists.len() * columns.len());
    for (artist, list) in artists {
        ids.push((*artist).to_owned());
        for (&c, &(lo, hi)) in columns.iter().zip(&range) {
            let scaled = list.iter().map(|t| (t.features[c] - lo) / (hi - lo));
            values.push(scaled.sum::<f64>() / list.len() as f64);
        }
    }
    Points::new(ids, columns.len(), values)
}

/// The label most of the votes carry; ties go to the alphabetically first.
fn majority<'a>(votes: impl Iterator<Item = &'a String>) -> &'a str {
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for label in votes {
        *counts.entry(label.as_str()).or_default() += 1;
    }
    counts
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(a.0)))
        .map_or("", |(label, _)| label)
}

/// Over the pairs whose artist is a query artist: the shares whose majority genres, and
/// subgenres, are equal.
fn agreement<'a>(
    pool: usize,
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
    labels: &HashMap<&str, Labels>,
) -> Agreement {
    let (mut genre, mut subgenre, mut total) = (0usize, 0usize, 0usize);
    for (artist, neighbour) in pairs {
        let (Some(a), Some(b)) = (labels.get(artist), labels.get(neighbour)) else {
            continue;
        };
        if !a.query {
            continue;
        }
        total += 1;
        genre += usize::from(a.genre == b.genre);
        subgenre += usize::from(a.subgenre == b.subgenre);
    }
    let share = |n: usize| {
        if total == 0 {
            0.0
        } else {
            n as f64 / total as f64
        }
    };
    Agreement {
        pool,
        genre: share(genre),
        subgenre: share(subgenre),
    }
}

fn mean(rows: impl Iterator<Item = [f64; FEATURE_NAMES.len()]>) -> [f64; FEATURE_NAMES.len()] {
    let mut sum = [0.0; FEATURE_NAMES.len()];
    let mut count = 0usize;
    for row in rows {
        count += 1;
        for (s, v) in sum.iter_mut().zip(row) {
            *s += v;
        }
    }
    sum.map(|s| s / count.max(1) as f64)
}

/// Reads the gzipped CSV into distinct tracks keyed by `track_id`.
fn read_tracks(path: &Path) -> Result<HashMap<String, SongTrack>, EvaluationError> {
    if !path.exists() {
        return Err(EvaluationError::Missing(path.to_path_buf()));
    }
    let file = File::open(path).map_err(|source| EvaluationError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let csv_error = |source| EvaluationError::Csv {
        path: path.to_path_buf(),
        source,
    };
    let mut reader = csv::Reader::from_reader(GzDecoder::new(BufReader::new(file)));
    let headers = reader.headers().map_err(csv_error)?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .ok_or_else(|| EvaluationError::MissingColumn {
                path: path.to_path_buf(),
                column: name.to_owned(),
            })
    };
    let track_id = column("track_id")?;
    let artist = column("track_artist")?;
    let popularity = column("track_popularity")?;
    let genre = column("playlist_genre")?;
    let subgenre = column("playlist_subgenre")?;
    let features = FEATURE_NAMES
        .iter()
        .map(|name| column(name))
        .collect::<Result<Vec<_>, _>>()?;

    let mut tracks: HashMap<String, SongTrack> = HashMap::new();
    for record in reader.records() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(0, |p| p.line());
        let number = |c: usize| {
            let value = record.get(c).unwrap_or_default();
            value
                .parse::<f64>()
                .map_err(|_| EvaluationError::NotANumber {
                    path: path.to_path_buf(),
                    line,
                    column: headers.get(c).unwrap_or_default().to_owned(),
                    value: value.to_owned(),
                })
        };
        let id = record.get(track_id).unwrap_or_default();
        let playlist_genre = record.get(genre).unwrap_or_default().to_owned();
        let playlist_subgenre = record.get(subgenre).unwrap_or_default().to_owned();
        if let Some(track) = tracks.get_mut(id) {
            track.genres.push(playlist_genre);
            track.subgenres.push(playlist_subgenre);
            continue;
        }
        let mut values = [0.0; FEATURE_NAMES.len()];
        for (v, &c) in values.iter_mut().zip(&features) {
            *v = number(c)?;
        }
        tracks.insert(
            id.to_owned(),
            SongTrack {
                artist: record.get(artist).unwrap_or_default().to_owned(),
                popularity: number(popularity)?,
                features: values,
                genres: vec![playlist_genre],
                subgenres: vec![playlist_subgenre],
            },
        );
    }
    Ok(tracks)
}
