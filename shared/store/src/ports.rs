//! The storage ports: one narrow async trait per capability the handlers need. Every port
//! has an AWS adapter and an embedded one, and both pass the same conformance suite. The
//! messaging ports (queues, the bus) are in `encore-messaging`.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use encore_domain::suggest::KnownName;
use encore_domain::{
    Artist, ArtistId, NormalizedName, RelatedArtist, RelatedSnapshot, Release, Track, TrackId,
    TOP_TRACKS_PER_ARTIST,
};

use crate::BackendError;

/// Known artists and the names users called them by.
#[async_trait]
pub trait ArtistStore: Send + Sync {
    /// Inserts or updates an artist by id, with its normalized name and the current time.
    async fn upsert_artist(&self, artist: &Artist) -> Result<(), BackendError>;
    /// Records that users' `alias` (already normalized) means `artist_id`. Recording the same
    /// pair again changes nothing; a new artist id for an alias replaces the old one.
    async fn put_alias(
        &self,
        alias: &NormalizedName,
        artist_id: &ArtistId,
    ) -> Result<(), BackendError>;
    /// The artist whose normalized name, or else learned alias, equals `normalized`.
    async fn find_artist(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<Artist>, BackendError>;
    /// The artists with these ids, in any order; unknown ids are skipped.
    async fn artists(&self, ids: &[ArtistId]) -> Result<Vec<Artist>, BackendError>;
    /// Every name the chat can answer: each artist's normalized name and each learned
    /// alias, with the artist's name (what "did you mean" suggests), in one query.
    async fn known_names(&self) -> Result<Vec<KnownName>, BackendError>;
}

/// One datamart row with both artists' names, as exported.
#[derive(Debug, Clone, PartialEq)]
pub struct RelatedRow {
    pub artist_id: ArtistId,
    pub artist_name: String,
    pub rank: u32,
    pub related_id: ArtistId,
    pub related_name: String,
    pub distance: f64,
}

/// The related-artists datamart that the similarity job writes and the chat reads.
#[async_trait]
pub trait RelatedStore: Send + Sync {
    /// The first `limit` related artists of `artist_id` by rank, each with its catalog
    /// data, in one query. Related ids missing from the catalog are skipped.
    async fn related(
        &self,
        artist_id: &ArtistId,
        limit: u32,
    ) -> Result<Vec<(RelatedArtist, Artist)>, BackendError>;
    /// Replaces the whole datamart with `related`, atomically: a reader sees the old
    /// snapshot or the new one, never a mix, and a failure leaves the old one in place.
    /// Rows go in large multi-row batches (ten million at catalog scale).
    async fn replace_related(&self, related: &RelatedSnapshot) -> Result<(), BackendError>;
    /// Every datamart row with names, ordered by artist id then rank.
    async fn export_related(&self) -> Result<Vec<RelatedRow>, BackendError>;
    /// How many artists the datamart relates now (the similarity job's shrink guard).
    async fn related_artist_count(&self) -> Result<u64, BackendError>;
}

/// What the catch-up schedule compares: when ingest last wrote an artist, and from which
/// read of the lake the datamart in place was computed.
#[async_trait]
pub trait DatamartWatermark: Send + Sync {
    /// The latest time any artist was written (`None`: no artist stored).
    async fn last_ingested_at(&self) -> Result<Option<DateTime<Utc>>, BackendError>;
    /// When the run that computed the datamart in place began reading the lake (`None`:
    /// no run recorded).
    async fn datamart_read_at(&self) -> Result<Option<DateTime<Utc>>, BackendError>;
    /// Records that the datamart in place was computed from the lake as read at `at`; an
    /// earlier `at` than the recorded one changes nothing.
    async fn record_datamart_read_at(&self, at: DateTime<Utc>) -> Result<(), BackendError>;
}

/// Where a request for an artist stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestStatus {
    /// Published, not yet ingested.
    Pending,
    /// Ingested.
    Done,
    /// The catalog has no such artist.
    NotFound,
    /// Ingest gave up on it.
    Failed,
}

impl RequestStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Done => "done",
            Self::NotFound => "not_found",
            Self::Failed => "failed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(raw: &str) -> Option<Self> {
        Some(match raw {
            "pending" => Self::Pending,
            "done" => Self::Done,
            "not_found" => Self::NotFound,
            "failed" => Self::Failed,
            _ => return None,
        })
    }
}

/// The request for a name as the log holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestRecord {
    pub status: RequestStatus,
    /// When it was last claimed (or first recorded).
    pub requested_at: DateTime<Utc>,
    /// When its current status was recorded by [`RequestLog::finish`]; `None` while it is
    /// pending since a claim, and for rows written before this was recorded.
    pub finished_at: Option<DateTime<Utc>>,
}

/// Pending requests, so a user repeating a name does not start a second ingest.
#[async_trait]
pub trait RequestLog: Send + Sync {
    /// Claims the request for `normalized` at `now`: true (and recorded as pending) unless a
    /// request for it is already pending since less than `window` ago, then false.
    async fn claim(
        &self,
        normalized: &NormalizedName,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Result<bool, BackendError>;
    /// Records how the request for `normalized` ended, and when, and counts the attempt.
    async fn finish(
        &self,
        normalized: &NormalizedName,
        status: RequestStatus,
    ) -> Result<(), BackendError>;
    /// The status of the request for `normalized`, if there is one.
    async fn status(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestStatus>, BackendError>;
    /// The whole record of the request for `normalized`, if there is one.
    async fn record(
        &self,
        normalized: &NormalizedName,
    ) -> Result<Option<RequestRecord>, BackendError>;
    /// Records that a user asked about `normalized` at `at`: the chat calls it for artists
    /// it already knows (a claim records unknown ones), at most once per answer-cache
    /// lifetime. Only users' asking counts: backfills and refreshes finish requests
    /// without touching this.
    async fn asked(
        &self,
        normalized: &NormalizedName,
        at: DateTime<Utc>,
    ) -> Result<(), BackendError>;
    /// Normalized names users asked about at or after `since`, in name order, except names
    /// the catalog was found not to have: what the daily refresh re-ingests (a not-found
    /// name is requested again by the next ask once its result is a day old).
    async fn asked_since(&self, since: DateTime<Utc>) -> Result<Vec<NormalizedName>, BackendError>;
}

/// Parses a datamart snapshot's label, a `YYYY-MM-DD` date, for
/// [`RelatedStore::replace_related`]: any other text is `Rejected` on every adapter.
#[cfg_attr(not(any(feature = "sqlite", feature = "mysql")), allow(dead_code))]
pub(crate) fn snapshot_date(related: &RelatedSnapshot) -> Result<chrono::NaiveDate, BackendError> {
    chrono::NaiveDate::parse_from_str(related.label(), "%Y-%m-%d").map_err(|e| {
        BackendError::rejected(format!(
            "snapshot label {:?} is not a YYYY-MM-DD date: {e}",
            related.label()
        ))
    })
}

/// Checks a list for [`TopTracksCache::put_top_tracks`]: every track belongs to
/// `artist_id`, has a rank in `1..=TOP_TRACKS_PER_ARTIST`, and no rank repeats.
#[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
pub(crate) fn check_top_tracks(artist_id: &ArtistId, tracks: &[Track]) -> Result<(), BackendError> {
    let mut seen = [false; TOP_TRACKS_PER_ARTIST as usize];
    for track in tracks {
        if track.artist_id != *artist_id {
            return Err(BackendError::rejected(format!(
                "track {} belongs to artist {}, not {artist_id}",
                track.id, track.artist_id
            )));
        }
        let slot = track
            .rank
            .checked_sub(1)
            .and_then(|i| seen.get_mut(i as usize))
            .ok_or_else(|| {
                BackendError::rejected(format!(
                    "track {} has rank {}, outside 1..={TOP_TRACKS_PER_ARTIST}",
                    track.id, track.rank
                ))
            })?;
        if std::mem::replace(slot, true) {
            return Err(BackendError::rejected(format!(
                "rank {} appears twice for {artist_id}",
                track.rank
            )));
        }
    }
    Ok(())
}

/// An artist id read back from a store: a stored id the id rule rejects is `Corrupt`.
#[cfg_attr(
    not(any(feature = "mysql", feature = "sqlite", feature = "dynamodb")),
    allow(dead_code)
)]
pub(crate) fn stored_artist_id(raw: String) -> Result<ArtistId, BackendError> {
    ArtistId::try_from(raw).map_err(|e| BackendError::corrupt(format!("stored {e}")))
}

/// A track id read back from a store: a stored id the id rule rejects is `Corrupt`.
/// Only the stores keeping tracks (SQLite, DynamoDB) read them back.
#[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
pub(crate) fn stored_track_id(raw: String) -> Result<TrackId, BackendError> {
    TrackId::try_from(raw).map_err(|e| BackendError::corrupt(format!("stored {e}")))
}

/// Decodes a cached releases list (stored as a JSON array by both adapters).
#[cfg_attr(not(any(feature = "sqlite", feature = "dynamodb")), allow(dead_code))]
pub(crate) fn releases_from_json(
    artist_id: &ArtistId,
    json: &str,
) -> Result<Vec<Release>, BackendError> {
    serde_json::from_str(json).map_err(|e| {
        BackendError::corrupt(format!("cached releases of {artist_id} do not decode: {e}"))
    })
}

/// Every name an artist is known by (its normalized name and each alias) with the name
/// to show, as columns `name_key` and `name`: one text for both SQL adapters.
#[cfg_attr(not(any(feature = "mysql", feature = "sqlite")), allow(dead_code))]
pub(crate) fn known_names_sql() -> String {
    use crate::migrate::tables::{ARTISTS, ARTIST_ALIASES};
    format!(
        "SELECT normalized_name AS name_key, name FROM {ARTISTS} \
         UNION ALL \
         SELECT al.alias AS name_key, a.name FROM {ARTIST_ALIASES} al JOIN {ARTISTS} a ON a.id = al.artist_id"
    )
}

/// `items` without repeats, in first-seen order: adapters batch reads by key, and a key
/// asked twice must be read (and returned) once.
#[cfg_attr(
    not(any(feature = "mysql", feature = "sqlite", feature = "dynamodb")),
    allow(dead_code)
)]
pub(crate) fn distinct<T: Eq + std::hash::Hash>(items: &[T]) -> Vec<&T> {
    let mut seen = std::collections::HashSet::with_capacity(items.len());
    items.iter().filter(|item| seen.insert(*item)).collect()
}

/// The cache of what the chat shows about an artist besides its name: its top tracks and
/// its latest releases (DynamoDB `top_tracks` on AWS, the releases as one item of the
/// artist's partition).
#[async_trait]
pub trait TopTracksCache: Send + Sync {
    /// Replaces the artist's cached top tracks with `tracks` (ranks the new list lacks are
    /// removed). Writing the same list twice leaves the same items. Each track must belong
    /// to `artist_id` with a distinct rank in `1..=TOP_TRACKS_PER_ARTIST`, else `Rejected`.
    async fn put_top_tracks(
        &self,
        artist_id: &ArtistId,
        tracks: &[Track],
        fetched_at: DateTime<Utc>,
    ) -> Result<(), BackendError>;
    /// Each artist's top tracks ordered by rank, for all `artist_ids` in as few round trips
    /// as the store allows; artists without cached tracks are absent from the map.
    async fn top_tracks(
        &self,
        artist_ids: &[ArtistId],
    ) -> Result<HashMap<ArtistId, Vec<Track>>, BackendError>;
    /// Replaces the artist's cached latest releases (newest first) with `releases`, in one
    /// write: a reader sees the old list or the new one. Writing the same list twice
    /// leaves the same item.
    async fn put_latest_releases(
        &self,
        artist_id: &ArtistId,
        releases: &[Release],
        fetched_at: DateTime<Utc>,
    ) -> Result<(), BackendError>;
    /// The artist's cached latest releases, newest first; empty when none are cached.
    async fn latest_releases(&self, artist_id: &ArtistId) -> Result<Vec<Release>, BackendError>;
}
