//! The catalog the stand-in serves, loaded from a CSV with the songs data set's columns.
//!
//! Only the columns a Spotify-like API may show are read: the playlist columns
//! (`playlist_name`, `playlist_id`, `playlist_genre`, `playlist_subgenre`) are evaluation
//! labels and are never deserialized, so nothing derived from them can leak.
//!
//! What the data set lacks is derived, deterministically:
//! - artist ids: [`artist_id_for`] (the data has names only);
//! - artist popularity: the **maximum** of the artist's tracks' popularity (a mean would let
//!   remixes and deep cuts drag a well-known artist down; Spotify's artist popularity
//!   follows the artist's most played tracks);
//! - followers: [`followers_for`], a monotone function of popularity (synthetic);
//! - images: none. Any URL would point at nothing, and an empty `images` array is what
//!   Spotify returns for artists without pictures, so consumers must handle it anyway;
//! - album type: `single` when the album has one track in the data, else `album`
//!   (the data set only holds the tracks that were on playlists, so this is a guess).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use encore_domain::normalize;
use serde::Deserialize;

pub use crate::search::SearchQuery;
use crate::search::{words, Candidate};
use sha2::{Digest, Sha256};

/// Korean names (and other spellings) Spotify's search resolves to an artist, for the
/// artists of the data set. Entries whose artist is not in a catalog are ignored.
pub const ALIASES: &[(&str, &str)] = &[
    ("방탄소년단", "BTS"),
    ("블랙핑크", "BLACKPINK"),
    ("트와이스", "TWICE"),
    ("레드벨벳", "Red Velvet"),
    ("마마무", "Mamamoo"),
    ("갓세븐", "GOT7"),
    ("세븐틴", "SEVENTEEN"),
    ("스트레이 키즈", "Stray Kids"),
    ("있지", "ITZY"),
    ("싸이", "PSY"),
    ("샤이니", "SHINee"),
    ("현아", "HyunA"),
    ("에이티즈", "ATEEZ"),
    ("위너", "WINNER"),
    ("아이콘", "iKON"),
    ("워너원", "Wanna One"),
    ("여자친구", "GFRIEND"),
    ("투애니원", "2NE1"),
    // The built-in demo catalog's artists the chat page offers by their Korean names.
    ("아이유", "IU"),
    ("뉴진스", "NewJeans"),
    ("에스파", "aespa"),
    ("태연", "Taeyeon"),
    ("스트레이키즈", "Stray Kids"),
    ("성시경", "Sung Si Kyung"),
    ("에픽하이", "Epik High"),
    ("더 로즈", "The Rose"),
];

const BASE62: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Length of a Spotify id.
pub const ID_LEN: usize = 22;

/// The stable Spotify-like id of the artist named `name`: the first 16 bytes of
/// SHA-256(name) as a big-endian integer, written in base62 and left-padded with `0` to
/// 22 characters (62^22 > 2^128, so it always fits). The exact name is hashed, so
/// "Mamamoo" and "MAMAMOO" are two artists, as they are two names in the data.
pub fn artist_id_for(name: &str) -> String {
    let digest = Sha256::digest(name.as_bytes());
    let mut first = [0u8; 16];
    first.copy_from_slice(&digest[..16]);
    let mut value = u128::from_be_bytes(first);
    let mut out = [b'0'; ID_LEN];
    for slot in out.iter_mut().rev() {
        *slot = BASE62[(value % 62) as usize];
        value /= 62;
    }
    out.iter().map(|b| char::from(*b)).collect()
}

/// True for a 22-character base62 string, the shape of every Spotify id.
pub fn is_spotify_id(id: &str) -> bool {
    id.len() == ID_LEN && id.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The synthetic follower count of an artist with this popularity: popularity³ × 100, so
/// the order follows popularity and a popularity of 90 gives about 73 million.
pub fn followers_for(popularity: u32) -> u64 {
    u64::from(popularity).pow(3) * 100
}

/// Why a catalog could not be loaded. Every variant names the file, and the line where a
/// line is at fault.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("cannot open catalog {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("catalog {path} is not a file")]
    NotAFile { path: PathBuf },
    #[error("catalog {path} ends in .gz but is not gzip-compressed")]
    NotGzip { path: PathBuf },
    #[error("catalog {path} is not a valid songs CSV: {source}")]
    Csv { path: PathBuf, source: csv::Error },
    #[error("catalog {path}, line {line}: {reason}")]
    Line {
        path: PathBuf,
        line: u64,
        reason: String,
    },
    #[error("catalog {path}, line {line}, track {track_id}: release date {date:?} is not YYYY, YYYY-MM or YYYY-MM-DD")]
    ReleaseDate {
        path: PathBuf,
        line: u64,
        track_id: String,
        date: String,
    },
    #[error("catalog {path} has no artists (an empty file, or a header without rows)")]
    Empty { path: PathBuf },
}

/// How precise a release date is, as Spotify's `release_date_precision` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePrecision {
    Year,
    Month,
    Day,
}

impl DatePrecision {
    /// Infers the precision from the shape of the date string, `None` when it has none of
    /// the three shapes.
    pub fn of(date: &str) -> Option<Self> {
        let b = date.as_bytes();
        let digits = |range: std::ops::Range<usize>| b[range].iter().all(u8::is_ascii_digit);
        match b.len() {
            4 if digits(0..4) => Some(Self::Year),
            7 if digits(0..4) && b[4] == b'-' && digits(5..7) => Some(Self::Month),
            10 if digits(0..4) && b[4] == b'-' && digits(5..7) && b[7] == b'-' && digits(8..10) => {
                Some(Self::Day)
            }
            _ => None,
        }
    }

    /// Spotify's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Year => "year",
            Self::Month => "month",
            Self::Day => "day",
        }
    }
}

/// The audio features the data set carries for a track (it has no time signature).
#[derive(Debug, Clone, PartialEq)]
pub struct TrackFeatures {
    pub danceability: f64,
    pub energy: f64,
    pub key: i32,
    pub loudness: f64,
    pub mode: i32,
    pub speechiness: f64,
    pub acousticness: f64,
    pub instrumentalness: f64,
    pub liveness: f64,
    pub valence: f64,
    pub tempo: f64,
}

/// An artist of the catalog.
#[derive(Debug, Clone)]
pub struct CatalogArtist {
    pub id: String,
    pub name: String,
    /// `normalize(name)`, computed once for search.
    pub normalized: String,
    /// The name's search words ([`words`]), computed once.
    pub words: Vec<String>,
    /// Maximum popularity of the artist's tracks.
    pub popularity: u32,
    pub followers: u64,
    /// Indexes of the artist's tracks, most popular first.
    tracks: Vec<usize>,
    /// Indexes of the albums the artist has tracks on, newest first.
    albums: Vec<usize>,
}

/// A track of the catalog (one per distinct `track_id`).
#[derive(Debug, Clone)]
pub struct CatalogTrack {
    pub id: String,
    pub name: String,
    /// The name's search words ([`words`]), computed once.
    pub words: Vec<String>,
    /// Index of the artist in the catalog.
    pub artist: usize,
    /// Index of the album in the catalog.
    pub album: usize,
    pub popularity: u32,
    pub duration_ms: u32,
    /// 1-based position among the album's tracks in the data.
    pub track_number: u32,
    pub features: TrackFeatures,
}

/// An album of the catalog, from the tracks' album columns.
#[derive(Debug, Clone)]
pub struct CatalogAlbum {
    pub id: String,
    pub name: String,
    /// The name's search words ([`words`]), computed once.
    pub words: Vec<String>,
    /// The release year, the first four digits of the date.
    pub year: u32,
    /// As the data has it: `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub release_date: String,
    pub precision: DatePrecision,
    /// The artist with the most tracks on the album (first seen wins a tie).
    pub primary_artist: usize,
    /// Indexes of the album's tracks, in data order.
    pub tracks: Vec<usize>,
}

impl CatalogAlbum {
    /// `single` for a one-track album, `album` otherwise.
    pub fn album_type(&self) -> &'static str {
        if self.tracks.len() == 1 {
            "single"
        } else {
            "album"
        }
    }
}

/// One CSV row: only the columns the stand-in may serve. The playlist columns are absent
/// on purpose, so the CSV reader skips them.
#[derive(Debug, Deserialize)]
struct Row {
    track_id: String,
    track_name: String,
    track_artist: String,
    track_popularity: u32,
    track_album_id: String,
    track_album_name: String,
    track_album_release_date: String,
    duration_ms: u32,
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
}

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What was wrong with a row, without the csv crate's own (record-based) position.
fn deserialize_reason(err: &csv::Error, headers: &csv::StringRecord) -> String {
    match err.kind() {
        csv::ErrorKind::Deserialize { err, .. } => match err.field() {
            Some(field) => {
                let name = usize::try_from(field)
                    .ok()
                    .and_then(|i| headers.get(i))
                    .unwrap_or("?");
                format!("column {name}: {}", err.kind())
            }
            None => err.kind().to_string(),
        },
        other => format!("{other:?}"),
    }
}

impl Row {
    /// The first audio feature that is NaN or infinite, by name.
    fn non_finite_feature(&self) -> Option<(&'static str, f64)> {
        [
            ("danceability", self.danceability),
            ("energy", self.energy),
            ("loudness", self.loudness),
            ("speechiness", self.speechiness),
            ("acousticness", self.acousticness),
            ("instrumentalness", self.instrumentalness),
            ("liveness", self.liveness),
            ("valence", self.valence),
            ("tempo", self.tempo),
        ]
        .into_iter()
        .find(|(_, value)| !value.is_finite())
    }

    fn features(&self) -> TrackFeatures {
        TrackFeatures {
            danceability: self.danceability,
            energy: self.energy,
            key: self.key,
            loudness: self.loudness,
            mode: self.mode,
            speechiness: self.speechiness,
            acousticness: self.acousticness,
            instrumentalness: self.instrumentalness,
            liveness: self.liveness,
            valence: self.valence,
            tempo: self.tempo,
        }
    }
}

/// The stand-in's catalog: artists, tracks and albums with their lookups.
#[derive(Debug, Default)]
pub struct Catalog {
    artists: Vec<CatalogArtist>,
    tracks: Vec<CatalogTrack>,
    albums: Vec<CatalogAlbum>,
    artist_by_id: HashMap<String, usize>,
    artist_by_name: HashMap<String, usize>,
    track_by_id: HashMap<String, usize>,
    /// normalized alias → artist index.
    aliases: HashMap<String, usize>,
    /// Every (word, artist index) of the artists' names, sorted, for prefix lookups.
    artist_words: Vec<(String, usize)>,
    /// Release years of each artist's albums, by artist index.
    artist_years: Vec<Vec<u32>>,
}

/// The songs data set the stand-in serves by default, relative to the project root
/// (`../shared` beside the checkout).
pub const DATA_SET: &str = "../shared/data/spotify_songs.csv.gz";

/// [`DATA_SET`] as an absolute path from this crate's sources, for tests and benchmarks
/// run by cargo from anywhere in the workspace.
pub fn data_set_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(DATA_SET)
}

impl Catalog {
    /// Loads a songs CSV, gunzipping it when the file name ends in `.gz`. Nothing but a
    /// regular file with at least one artist loads; every bad row is an error naming its
    /// line (wrong types, missing columns, non-finite audio features, a bad date).
    pub fn load(path: impl AsRef<Path>) -> Result<Self, CatalogError> {
        let path = path.as_ref();
        let open = |source| CatalogError::Open {
            path: path.to_owned(),
            source,
        };
        let file = File::open(path).map_err(open)?;
        if !file.metadata().map_err(open)?.is_file() {
            return Err(CatalogError::NotAFile {
                path: path.to_owned(),
            });
        }
        let mut buffered = BufReader::new(file);
        let reader: Box<dyn Read> = if path.extension().is_some_and(|e| e == "gz") {
            if !buffered.fill_buf().map_err(open)?.starts_with(&GZIP_MAGIC) {
                return Err(CatalogError::NotGzip {
                    path: path.to_owned(),
                });
            }
            Box::new(flate2::read::MultiGzDecoder::new(buffered))
        } else {
            Box::new(buffered)
        };
        Self::from_reader(reader, path)
    }

    /// Reads a songs CSV from `reader`; `origin` names it in errors.
    fn from_reader(reader: impl Read, origin: &Path) -> Result<Self, CatalogError> {
        let mut csv = csv::Reader::from_reader(reader);
        let csv_error = |source| CatalogError::Csv {
            path: origin.to_owned(),
            source,
        };
        let headers = csv.headers().map_err(csv_error)?.clone();
        let mut catalog = Catalog::default();
        let mut album_by_id: HashMap<String, usize> = HashMap::new();
        let mut record = csv::StringRecord::new();
        while csv.read_record(&mut record).map_err(csv_error)? {
            let line = record.position().map_or(0, csv::Position::line);
            let bad_line = |reason: String| CatalogError::Line {
                path: origin.to_owned(),
                line,
                reason,
            };
            let row: Row = record
                .deserialize(Some(&headers))
                .map_err(|e| bad_line(deserialize_reason(&e, &headers)))?;
            if let Some((name, value)) = row.non_finite_feature() {
                return Err(bad_line(format!(
                    "audio feature {name} is {value}, not a finite number"
                )));
            }
            let artist_name = row.track_artist.trim();
            if artist_name.is_empty() || catalog.track_by_id.contains_key(&row.track_id) {
                continue;
            }
            let precision = DatePrecision::of(&row.track_album_release_date).ok_or_else(|| {
                CatalogError::ReleaseDate {
                    path: origin.to_owned(),
                    line,
                    track_id: row.track_id.clone(),
                    date: row.track_album_release_date.clone(),
                }
            })?;
            let artist = catalog.artist_index(artist_name);
            let track_index = catalog.tracks.len();
            let album = *album_by_id
                .entry(row.track_album_id.clone())
                .or_insert_with(|| {
                    catalog.albums.push(CatalogAlbum {
                        id: row.track_album_id.clone(),
                        name: row.track_album_name.clone(),
                        words: words(&row.track_album_name),
                        year: row.track_album_release_date[..4].parse().unwrap_or(0),
                        release_date: row.track_album_release_date.clone(),
                        precision,
                        primary_artist: artist,
                        tracks: Vec::new(),
                    });
                    catalog.albums.len() - 1
                });
            catalog.albums[album].tracks.push(track_index);
            let track_number =
                u32::try_from(catalog.albums[album].tracks.len()).unwrap_or(u32::MAX);
            catalog
                .track_by_id
                .insert(row.track_id.clone(), track_index);
            catalog.artists[artist].tracks.push(track_index);
            let features = row.features();
            catalog.tracks.push(CatalogTrack {
                words: words(&row.track_name),
                id: row.track_id,
                name: row.track_name,
                artist,
                album,
                popularity: row.track_popularity,
                duration_ms: row.duration_ms,
                track_number,
                features,
            });
        }
        if catalog.artists.is_empty() {
            return Err(CatalogError::Empty {
                path: origin.to_owned(),
            });
        }
        catalog.finish();
        Ok(catalog)
    }

    /// The index of the artist named `name`, adding it when new.
    fn artist_index(&mut self, name: &str) -> usize {
        if let Some(&index) = self.artist_by_name.get(name) {
            return index;
        }
        let index = self.artists.len();
        let id = artist_id_for(name);
        self.artists.push(CatalogArtist {
            id: id.clone(),
            name: name.to_owned(),
            normalized: normalize(name),
            words: words(name),
            popularity: 0,
            followers: 0,
            tracks: Vec::new(),
            albums: Vec::new(),
        });
        self.artist_by_name.insert(name.to_owned(), index);
        self.artist_by_id.insert(id, index);
        index
    }

    /// Derives what depends on all rows: popularity, followers, track and album order,
    /// album primary artists, aliases.
    fn finish(&mut self) {
        let tracks = &self.tracks;
        for album in &mut self.albums {
            let mut counts: Vec<(usize, usize)> = Vec::new();
            for &t in &album.tracks {
                let artist = tracks[t].artist;
                match counts.iter_mut().find(|(a, _)| *a == artist) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((artist, 1)),
                }
            }
            let best = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
            if let Some((artist, _)) = counts.iter().find(|(_, n)| *n == best) {
                album.primary_artist = *artist;
            }
        }
        for (index, album) in self.albums.iter().enumerate() {
            for &t in &album.tracks {
                let artist = &mut self.artists[tracks[t].artist];
                if !artist.albums.contains(&index) {
                    artist.albums.push(index);
                }
            }
        }
        let albums = &self.albums;
        for artist in &mut self.artists {
            artist.tracks.sort_by(|&a, &b| {
                tracks[b]
                    .popularity
                    .cmp(&tracks[a].popularity)
                    .then_with(|| tracks[a].id.cmp(&tracks[b].id))
            });
            artist.popularity = artist.tracks.first().map_or(0, |&t| tracks[t].popularity);
            artist.followers = followers_for(artist.popularity);
            artist.albums.sort_by(|&a, &b| {
                albums[b]
                    .release_date
                    .cmp(&albums[a].release_date)
                    .then_with(|| albums[a].id.cmp(&albums[b].id))
            });
        }
        for (alias, name) in ALIASES {
            if let Some(&index) = self.artist_by_name.get(*name) {
                self.aliases.insert(words(alias).join(" "), index);
            }
        }
        self.artist_words = self
            .artists
            .iter()
            .enumerate()
            .flat_map(|(i, a)| a.words.iter().map(move |w| (w.clone(), i)))
            .collect();
        self.artist_words.sort();
        self.artist_years = self
            .artists
            .iter()
            .map(|a| {
                let mut years: Vec<u32> = a.albums.iter().map(|&i| albums[i].year).collect();
                years.dedup();
                years
            })
            .collect();
    }

    /// The artists with a name word starting with `prefix`, each once, in index order.
    fn artists_with_word(&self, prefix: &str) -> Vec<usize> {
        let start = self
            .artist_words
            .partition_point(|(w, _)| w.as_str() < prefix);
        let mut found: Vec<usize> = self.artist_words[start..]
            .iter()
            .take_while(|(w, _)| w.starts_with(prefix))
            .map(|&(_, i)| i)
            .collect();
        found.sort_unstable();
        found.dedup();
        found
    }

    /// All artists, in the order first seen in the data.
    pub fn artists(&self) -> &[CatalogArtist] {
        &self.artists
    }

    /// The number of distinct tracks.
    pub fn track_count(&self) -> usize {
        self.tracks.len()
    }

    /// The artist with this id.
    pub fn artist(&self, id: &str) -> Option<&CatalogArtist> {
        self.artist_by_id.get(id).map(|&i| &self.artists[i])
    }

    /// The artist named exactly `name`.
    pub fn artist_named(&self, name: &str) -> Option<&CatalogArtist> {
        self.artist_by_name.get(name).map(|&i| &self.artists[i])
    }

    /// The artist at `index` (as stored in tracks and albums).
    pub fn artist_at(&self, index: usize) -> &CatalogArtist {
        &self.artists[index]
    }

    /// The track with this id.
    pub fn track(&self, id: &str) -> Option<&CatalogTrack> {
        self.track_by_id.get(id).map(|&i| &self.tracks[i])
    }

    /// The album at `index` (as stored in tracks).
    pub fn album_at(&self, index: usize) -> &CatalogAlbum {
        &self.albums[index]
    }

    /// The artist's tracks, most popular first.
    pub fn tracks_of<'a>(
        &'a self,
        artist: &'a CatalogArtist,
    ) -> impl Iterator<Item = &'a CatalogTrack> + 'a {
        artist.tracks.iter().map(|&t| &self.tracks[t])
    }

    /// The albums the artist has tracks on, newest first.
    pub fn albums_of<'a>(
        &'a self,
        artist: &'a CatalogArtist,
    ) -> impl Iterator<Item = &'a CatalogAlbum> + 'a {
        artist.albums.iter().map(|&a| &self.albums[a])
    }

    /// Artists matching `query` (see [`crate::search`]), best first: the name's words
    /// equal to the query's keywords (or an alias), then names starting with them, then
    /// the rest; within a tier the most popular first.
    pub fn search_artists(&self, query: &SearchQuery) -> Vec<&CatalogArtist> {
        if query.is_empty() {
            return Vec::new();
        }
        let keywords = query.keyword_words();
        let needle = if keywords.is_empty() {
            query.artist_filter_words().unwrap_or_default().join(" ")
        } else {
            keywords.join(" ")
        };
        let alias = self.aliases.get(&needle).copied();
        let candidates: Vec<usize> = match query.required_word() {
            Some(word) => {
                let mut found = self.artists_with_word(word);
                if let Some(a) = alias.filter(|a| !found.contains(a)) {
                    found.push(a);
                }
                found
            }
            None => (0..self.artists.len()).collect(),
        };
        let mut hits: Vec<(u8, usize)> = candidates
            .into_iter()
            .filter_map(|i| {
                let artist = &self.artists[i];
                let is_alias = |text: &str| self.aliases.get(text) == Some(&i);
                let fields = [artist.words.as_slice()];
                let item = Candidate {
                    keyword_fields: &fields,
                    artist: Some((artist.words.as_slice(), &is_alias)),
                    track: None,
                    album: None,
                    years: &self.artist_years[i],
                };
                if alias == Some(i) {
                    Some((0, i))
                } else if query.matches(&item) {
                    Some((text_tier(&artist.words.join(" "), &needle), i))
                } else {
                    None
                }
            })
            .collect();
        hits.sort_by(|&(ta, a), &(tb, b)| {
            let (a, b) = (&self.artists[a], &self.artists[b]);
            ta.cmp(&tb)
                .then_with(|| b.popularity.cmp(&a.popularity))
                .then_with(|| a.name.cmp(&b.name))
        });
        hits.into_iter().map(|(_, i)| &self.artists[i]).collect()
    }

    /// Tracks matching `query` (see [`crate::search`]): keywords in the track's or its
    /// artist's name, `artist:` in the artist's name (or an alias of it), `track:` in the
    /// track's name, `album:` in the album's, `year:` on the album's release year. Best
    /// first: track name equal to the keywords, then starting with them, then the rest;
    /// within a tier the most popular first.
    pub fn search_tracks(&self, query: &SearchQuery) -> Vec<&CatalogTrack> {
        if query.is_empty() {
            return Vec::new();
        }
        let needle = query.keyword_words().join(" ");
        let mut hits: Vec<(u8, usize)> = self
            .tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                let artist = &self.artists[t.artist];
                let album = &self.albums[t.album];
                let is_alias = |text: &str| self.aliases.get(text) == Some(&t.artist);
                let fields = [t.words.as_slice(), artist.words.as_slice()];
                let item = Candidate {
                    keyword_fields: &fields,
                    artist: Some((artist.words.as_slice(), &is_alias)),
                    track: Some(t.words.as_slice()),
                    album: Some(album.words.as_slice()),
                    years: std::slice::from_ref(&album.year),
                };
                query.matches(&item)
            })
            .map(|(i, t)| {
                let tier = if needle.is_empty() {
                    2
                } else {
                    text_tier(&t.words.join(" "), &needle)
                };
                (tier, i)
            })
            .collect();
        hits.sort_by(|&(ta, a), &(tb, b)| {
            let (a, b) = (&self.tracks[a], &self.tracks[b]);
            ta.cmp(&tb)
                .then_with(|| b.popularity.cmp(&a.popularity))
                .then_with(|| a.id.cmp(&b.id))
        });
        hits.into_iter().map(|(_, i)| &self.tracks[i]).collect()
    }
}

/// 0 when `text` equals `needle`, 1 when it starts with it, 2 otherwise.
fn text_tier(text: &str, needle: &str) -> u8 {
    if text == needle {
        0
    } else if text.starts_with(needle) {
        1
    } else {
        2
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artist_ids_are_stable_base62() {
        let id = artist_id_for("BTS");
        assert_eq!(id, artist_id_for("BTS"));
        assert!(is_spotify_id(&id), "{id}");
        assert_ne!(id, artist_id_for("Mamamoo"));
        assert_ne!(artist_id_for("MAMAMOO"), artist_id_for("Mamamoo"));
    }

    #[test]
    fn infers_date_precision() {
        assert_eq!(DatePrecision::of("2019"), Some(DatePrecision::Year));
        assert_eq!(DatePrecision::of("2019-05"), Some(DatePrecision::Month));
        assert_eq!(DatePrecision::of("2019-05-31"), Some(DatePrecision::Day));
        assert_eq!(DatePrecision::of("19-05-31"), None);
        assert_eq!(DatePrecision::of(""), None);
    }
}
